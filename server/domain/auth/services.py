"""Sign-up, OTP login, token refresh with rotation and reuse detection, sessions.

Rules: a code is sent only to a phone that belongs to an active user (the answer is the same
either way); an organisation is created only once its owner proves the phone; a refresh token is
spent on use, and presenting a spent one revokes its whole session (stolen-token detection).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.db.models import AuthSession, Organization, RefreshToken, User
from server.domain.audit.services import record as audit
from server.domain.auth.otp import OtpPurpose, OtpStore, normalize_login_phone
from server.domain.auth.senders import OtpSender
from server.domain.auth.tokens import (
    ACCESS_TTL,
    REFRESH_TTL,
    REVOKED_SESSION_PREFIX,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    org_of_refresh_token,
)
from server.domain.organizations.services import create_organization_with_owner
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.ratelimit import RateLimiter
from server.runtime import Resources
from shared.errors import ErrorCode
from shared.fiscal.cuit import InvalidCuit, normalize_cuit
from shared.ids import new_id
from shared.schemas.auth import OrganizationSummary, SessionInfo, TokenPair, UserSummary

log = get_logger("campotech.auth")

# Sliding-window limits on code requests (per phone and per client address) and on verifications.
OTP_REQUESTS_PER_PHONE = (5, 15 * 60)
OTP_REQUESTS_PER_IP = (20, 15 * 60)
OTP_VERIFY_PER_IP = (30, 15 * 60)


@dataclass
class AuthService:
    resources: Resources
    otp: OtpStore
    sender: OtpSender
    limiter: RateLimiter

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.sessionmaker

    @property
    def secret(self) -> str:
        secret = self.resources.settings.secret_key
        if not secret:
            raise RuntimeError("CAMPOTECH_SECRET_KEY is not set")
        return secret

    # -- limits -----------------------------------------------------------------------------
    async def _limit(self, key: str, rule: tuple[int, int]) -> None:
        decision = await self.limiter.hit(key, rule[0], rule[1])
        if not decision.allowed:
            raise AppError(
                ErrorCode.RATE_LIMITED,
                headers=decision.headers(),
                details={"retryAfterSeconds": decision.retry_after_seconds},
            )

    # -- lookups before any organisation is known -------------------------------------------
    async def find_user_by_phone(self, phone: str) -> User | None:
        async with tenant_transaction(self.sessionmaker, None) as session:
            await session.execute(text("SELECT set_config('app.login_phone', :p, true)"), {"p": phone})
            return (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()

    async def _cuit_taken(self, cuit: str) -> bool:
        async with tenant_transaction(self.sessionmaker, None) as session:
            await session.execute(text("SELECT set_config('app.signup_cuit', :c, true)"), {"c": cuit})
            found = await session.scalar(select(Organization.id).where(Organization.cuit == cuit))
            return found is not None

    # -- sign-up and codes --------------------------------------------------------------------
    async def signup(self, *, cuit: str, business_name: str, phone: str, full_name: str | None, ip: str) -> None:
        try:
            cuit = normalize_cuit(cuit)
        except InvalidCuit as exc:
            raise AppError(
                ErrorCode.CUIT_INVALID, str(exc), details=[{"key": "cuit", "problem": exc.problem.value}]
            ) from None
        phone = normalize_login_phone(phone)
        await self._limit(f"otp:ip:{ip}", OTP_REQUESTS_PER_IP)
        await self._limit(f"otp:phone:{phone}", OTP_REQUESTS_PER_PHONE)
        if await self._cuit_taken(cuit):
            raise AppError(ErrorCode.ORG_ALREADY_EXISTS, details=[{"key": "cuit"}])
        if await self.find_user_by_phone(phone) is not None:
            raise AppError(ErrorCode.PHONE_ALREADY_REGISTERED, details=[{"key": "phone"}])
        payload = {"cuit": cuit, "businessName": business_name.strip(), "fullName": (full_name or "").strip()}
        code = await self.otp.issue(phone, OtpPurpose.SIGNUP, payload)
        await self.sender.send(phone, code, OtpPurpose.SIGNUP.value)
        log.info("signup code sent", phone=phone)

    async def request_login_code(self, *, phone: str, ip: str) -> None:
        phone = normalize_login_phone(phone)
        await self._limit(f"otp:ip:{ip}", OTP_REQUESTS_PER_IP)
        await self._limit(f"otp:phone:{phone}", OTP_REQUESTS_PER_PHONE)
        user = await self.find_user_by_phone(phone)
        code = await self.otp.issue(phone, OtpPurpose.LOGIN)  # cooldown applies to every phone alike
        if user is not None and user.is_active:
            await self.sender.send(phone, code, OtpPurpose.LOGIN.value)
            log.info("login code sent", phone=phone, user_id=str(user.id))
        else:
            log.info("login code requested for a phone without an active user", phone=phone)

    async def verify_code(
        self, *, phone: str, code: str, ip: str, device_name: str | None, user_agent: str | None, trace_id: str
    ) -> TokenPair:
        phone = normalize_login_phone(phone)
        await self._limit(f"otp-verify:ip:{ip}", OTP_VERIFY_PER_IP)
        user = await self.find_user_by_phone(phone)
        try:
            record = await self.otp.verify(phone, code)
        except AppError as exc:
            if user is not None and exc.code in (ErrorCode.OTP_INVALID, ErrorCode.OTP_TOO_MANY_ATTEMPTS):
                async with tenant_transaction(self.sessionmaker, user.org_id, user.id) as session:
                    await audit(
                        session,
                        org_id=user.org_id,
                        actor_id=None,
                        action="auth.otp_failed",
                        entity_type="user",
                        entity_id=user.id,
                        before=None,
                        after={"reason": exc.code.value},
                        trace_id=trace_id,
                    )
            raise
        if record.purpose is OtpPurpose.SIGNUP:
            return await self._complete_signup(phone, record.payload, device_name, user_agent, trace_id)
        if user is None:
            raise AppError(ErrorCode.OTP_INVALID)
        if not user.is_active:
            raise AppError(ErrorCode.USER_INACTIVE)
        return await self._open_session(user, device_name, user_agent, trace_id, action="auth.login")

    async def _complete_signup(
        self, phone: str, payload: dict[str, Any], device_name: str | None, user_agent: str | None, trace_id: str
    ) -> TokenPair:
        if await self._cuit_taken(payload["cuit"]):
            raise AppError(ErrorCode.ORG_ALREADY_EXISTS)
        if await self.find_user_by_phone(phone) is not None:
            raise AppError(ErrorCode.PHONE_ALREADY_REGISTERED)
        org_id, user_id = new_id(), new_id()
        async with tenant_transaction(self.sessionmaker, org_id, user_id) as session:
            _, user = await create_organization_with_owner(
                session,
                org_id=org_id,
                owner_id=user_id,
                name=payload["businessName"],
                cuit=payload["cuit"],
                owner_phone=phone,
                owner_name=payload.get("fullName") or "",
                trace_id=trace_id,
                joined=True,
            )
        return await self._open_session(user, device_name, user_agent, trace_id, action="auth.signup")

    # -- sessions and tokens ------------------------------------------------------------------
    async def _open_session(
        self, user: User, device_name: str | None, user_agent: str | None, trace_id: str, *, action: str
    ) -> TokenPair:
        now = utcnow()
        refresh = new_refresh_token(user.org_id)
        async with tenant_transaction(self.sessionmaker, user.org_id, user.id) as session:
            auth_session = AuthSession(
                id=new_id(),
                org_id=user.org_id,
                user_id=user.id,
                device_name=device_name,
                user_agent=(user_agent or "")[:300] or None,
                last_used_at=now,
                expires_at=now + REFRESH_TTL,
            )
            session.add(auth_session)
            await session.flush()
            session.add(
                RefreshToken(
                    org_id=user.org_id,
                    session_id=auth_session.id,
                    token_hash=hash_refresh_token(refresh),
                    expires_at=now + REFRESH_TTL,
                )
            )
            await session.execute(
                update(User).where(User.id == user.id).values(last_login_at=now, joined_at=user.joined_at or now)
            )
            org = await session.get_one(Organization, user.org_id)
            await audit(
                session,
                org_id=user.org_id,
                actor_id=user.id,
                action=action,
                entity_type="session",
                entity_id=auth_session.id,
                before=None,
                after={"device": device_name, "sessionId": str(auth_session.id)},
                trace_id=trace_id,
            )
        return TokenPair(
            access_token=issue_access_token(
                self.secret, user_id=user.id, org_id=user.org_id, role=user.role.value, session_id=auth_session.id
            ),
            refresh_token=refresh,
            expires_in=int(ACCESS_TTL.total_seconds()),
            session_id=auth_session.id,
            user=user_summary(user),
            organization=OrganizationSummary(id=org.id, name=org.name, cuit=org.cuit),
        )

    async def refresh(self, refresh_token: str, trace_id: str) -> TokenPair:
        org_id = org_of_refresh_token(refresh_token)
        if org_id is None:
            raise AppError(ErrorCode.REFRESH_TOKEN_INVALID)
        now = utcnow()
        token_hash = hash_refresh_token(refresh_token)
        reused_session: uuid.UUID | None = None
        async with tenant_transaction(self.sessionmaker, org_id) as session:
            row = (
                await session.execute(
                    select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                raise AppError(ErrorCode.REFRESH_TOKEN_INVALID)
            auth_session = await session.get_one(AuthSession, row.session_id, with_for_update=True)
            if auth_session.revoked_at is not None or auth_session.expires_at <= now:
                raise AppError(ErrorCode.REFRESH_TOKEN_INVALID)
            if row.used_at is not None:
                reused_session = auth_session.id  # revoked below, in a transaction that commits
            elif row.expires_at <= now:
                raise AppError(ErrorCode.REFRESH_TOKEN_INVALID)
            else:
                user = await session.get_one(User, auth_session.user_id)
                if not user.is_active:
                    raise AppError(ErrorCode.USER_INACTIVE)
                new_token = new_refresh_token(org_id)
                replacement = RefreshToken(
                    id=new_id(),
                    org_id=org_id,
                    session_id=auth_session.id,
                    token_hash=hash_refresh_token(new_token),
                    expires_at=now + REFRESH_TTL,
                )
                session.add(replacement)
                row.used_at = now
                row.replaced_by_id = replacement.id
                auth_session.last_used_at = now
                auth_session.expires_at = now + REFRESH_TTL
                org = await session.get_one(Organization, org_id)
        if reused_session is not None:
            await self.revoke_sessions(
                org_id, [reused_session], reason="refresh_token_reused", actor_id=None, trace_id=trace_id
            )
            log.warning("refresh token reused: session revoked", session_id=str(reused_session))
            raise AppError(ErrorCode.REFRESH_TOKEN_REUSED)
        return TokenPair(
            access_token=issue_access_token(
                self.secret, user_id=user.id, org_id=org_id, role=user.role.value, session_id=auth_session.id
            ),
            refresh_token=new_token,
            expires_in=int(ACCESS_TTL.total_seconds()),
            session_id=auth_session.id,
            user=user_summary(user),
            organization=OrganizationSummary(id=org.id, name=org.name, cuit=org.cuit),
        )

    async def revoke_sessions(
        self,
        org_id: uuid.UUID,
        session_ids: list[uuid.UUID],
        *,
        reason: str,
        actor_id: uuid.UUID | None,
        trace_id: str | None,
    ) -> int:
        """Revoke sessions now: refresh refused from here on, access tokens refused at once (Redis)."""
        if not session_ids:
            return 0
        async with tenant_transaction(self.sessionmaker, org_id, actor_id) as session:
            revoked = await revoke_where(
                session,
                AuthSession.id.in_(session_ids),
                org_id=org_id,
                reason=reason,
                actor_id=actor_id,
                trace_id=trace_id,
            )
        await self.mark_revoked(session_ids)
        return len(revoked)

    async def revoke_user_sessions(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        reason: str,
        actor_id: uuid.UUID | None,
        trace_id: str | None,
    ) -> list[uuid.UUID]:
        """Within the caller's transaction: every live session of a user (deactivation)."""
        return await revoke_where(
            session,
            AuthSession.user_id == user_id,
            org_id=org_id,
            reason=reason,
            actor_id=actor_id,
            trace_id=trace_id,
        )

    async def mark_revoked(self, session_ids: list[uuid.UUID]) -> None:
        """Access tokens of these sessions are refused from now on (until they would have expired)."""
        ttl = int(ACCESS_TTL.total_seconds()) + 60
        for session_id in session_ids:
            await self.resources.redis.set(REVOKED_SESSION_PREFIX + str(session_id), b"1", ex=ttl)


async def revoke_where(
    session: AsyncSession,
    condition: ColumnElement[bool],
    *,
    org_id: uuid.UUID,
    reason: str,
    actor_id: uuid.UUID | None,
    trace_id: str | None,
) -> list[uuid.UUID]:
    """Mark the live sessions matching ``condition`` revoked and audit each; returns their ids."""
    rows = (
        await session.execute(
            update(AuthSession)
            .where(condition, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .returning(AuthSession.id, AuthSession.user_id)
        )
    ).all()
    for session_id, user_id in rows:
        await audit(
            session,
            org_id=org_id,
            actor_id=actor_id,
            action="auth.session_revoked",
            entity_type="session",
            entity_id=session_id,
            before=None,
            after={"reason": reason, "userId": str(user_id)},
            trace_id=trace_id,
        )
    return [session_id for session_id, _ in rows]


def user_summary(user: User) -> UserSummary:
    return UserSummary(
        id=user.id, full_name=user.full_name, phone=user.phone, role=user.role.value, is_active=user.is_active
    )


async def list_sessions(session: AsyncSession, user_id: uuid.UUID, current: uuid.UUID | None) -> list[SessionInfo]:
    now = utcnow()
    rows = (
        await session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
            .order_by(AuthSession.created_at.desc())
        )
    ).all()
    return [
        SessionInfo(
            id=r.id,
            device_name=r.device_name,
            user_agent=r.user_agent,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            expires_at=r.expires_at,
            current=r.id == current,
        )
        for r in rows
    ]
