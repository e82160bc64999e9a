"""The team: invite by phone and role, change roles, deactivate; an org always keeps an active owner."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import User
from server.domain.audit.services import record as audit
from server.domain.auth.otp import normalize_login_phone
from server.domain.auth.services import AuthService
from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.permissions import can_grant
from shared.roles import Role
from shared.schemas.team import Member, MemberInvite, MemberUpdate


def to_member(user: User) -> Member:
    return Member(
        id=user.id,
        full_name=user.full_name,
        phone=user.phone,
        role=user.role,
        is_active=user.is_active,
        joined_at=user.joined_at,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


async def list_members(session: AsyncSession) -> list[Member]:
    users = (await session.scalars(select(User).order_by(User.role, User.full_name))).all()
    return [to_member(u) for u in users]


async def get_member(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:  # another org's id looks exactly like a missing one
        raise AppError(ErrorCode.NOT_FOUND)
    return user


async def invite_member(
    session: AsyncSession, auth: AuthService, ctx: RequestContext, data: MemberInvite, trace_id: str
) -> Member:
    assert ctx.org_id is not None and ctx.role is not None
    if not can_grant(ctx.role, data.role):
        raise AppError(ErrorCode.ROLE_NOT_GRANTABLE, details={"role": data.role.value})
    phone = normalize_login_phone(data.phone)
    if await auth.find_user_by_phone(phone) is not None:
        raise AppError(ErrorCode.PHONE_ALREADY_REGISTERED, details=[{"key": "phone"}])
    user = User(
        org_id=ctx.org_id,
        phone=phone,
        full_name=data.full_name.strip(),
        role=data.role,
        is_active=True,
        invited_by_id=ctx.user_id,
    )
    session.add(user)
    await session.flush()
    await audit(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action="user.invited",
        entity_type="user",
        entity_id=user.id,
        before=None,
        after={"role": data.role.value, "fullName": user.full_name},
        trace_id=trace_id,
    )
    return to_member(user)


async def _other_active_owners(session: AsyncSession, user_id: uuid.UUID) -> int:
    # lock the owners so two concurrent demotions cannot both pass this check
    owners = (
        await session.scalars(
            select(User.id).where(User.role == Role.OWNER, User.is_active.is_(True)).with_for_update()
        )
    ).all()
    return sum(1 for owner in owners if owner != user_id)


async def update_member(
    session: AsyncSession,
    auth: AuthService,
    ctx: RequestContext,
    user_id: uuid.UUID,
    data: MemberUpdate,
    trace_id: str,
) -> tuple[Member, list[uuid.UUID]]:
    """Apply the change; returns the member and the sessions revoked (to refuse their tokens at once)."""
    assert ctx.org_id is not None and ctx.role is not None
    user = await get_member(session, user_id)
    before = {"role": user.role.value, "isActive": user.is_active, "fullName": user.full_name}
    new_role = data.role if data.role is not msgspec.UNSET else user.role
    new_active = data.is_active if data.is_active is not msgspec.UNSET else user.is_active
    touches_privilege = new_role != user.role or new_active != user.is_active
    if touches_privilege and not (can_grant(ctx.role, user.role) and can_grant(ctx.role, new_role)):
        raise AppError(ErrorCode.ROLE_NOT_GRANTABLE, details={"role": new_role.value})
    loses_owner = user.role == Role.OWNER and user.is_active and (new_role != Role.OWNER or not new_active)
    if loses_owner and await _other_active_owners(session, user.id) == 0:
        raise AppError(ErrorCode.LAST_OWNER)
    if data.full_name is not msgspec.UNSET:
        user.full_name = data.full_name.strip()
    user.role = new_role
    user.is_active = new_active
    await session.flush()
    after = {"role": user.role.value, "isActive": user.is_active, "fullName": user.full_name}
    revoked: list[uuid.UUID] = []

    async def audit_change(action: str, was: dict[str, Any] | None = None, now: dict[str, Any] | None = None) -> None:
        await audit(
            session,
            org_id=ctx.org_id,
            actor_id=ctx.user_id,
            action=action,
            entity_type="user",
            entity_id=user.id,
            before=was,
            after=now,
            trace_id=trace_id,
        )

    if before["role"] != after["role"]:
        await audit_change("user.role_changed", {"role": before["role"]}, {"role": after["role"]})
    if before["isActive"] and not user.is_active:
        await audit_change("user.deactivated")
        revoked = await auth.revoke_user_sessions(
            session, ctx.org_id, user.id, reason="user_deactivated", actor_id=ctx.user_id, trace_id=trace_id
        )
    elif not before["isActive"] and user.is_active:
        await audit_change("user.reactivated")
    if before["fullName"] != after["fullName"]:
        await audit_change("user.updated", {"fullName": before["fullName"]}, {"fullName": after["fullName"]})
    return to_member(user), revoked


async def count_members(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
