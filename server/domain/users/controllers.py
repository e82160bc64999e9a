"""GET|POST /users, GET|PATCH /users/{id}: the team."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.deps import provide_auth_service
from server.domain.auth.guards import caller, requires
from server.domain.auth.services import AuthService
from server.domain.users import services
from server.lib.tracing import trace_id_of
from shared.permissions import Permission
from shared.schemas.team import Member, MemberInvite, MemberUpdate


class UserController(Controller):
    path = "/users"
    tags = ["team"]
    dependencies = {"auth": Provide(provide_auth_service)}

    @get("/", guards=[requires(Permission.TEAM_READ)], operation_id="ListUsers", summary="Members of my organisation")
    async def list_users(self, db_session: NamedDependency[AsyncSession]) -> list[Member]:
        return await services.list_members(db_session)

    @post(
        "/",
        guards=[requires(Permission.TEAM_MANAGE)],
        operation_id="InviteUser",
        summary="Invite a member by phone and role (they accept by signing in with a code)",
    )
    async def invite(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[MemberInvite, Body()],
        db_session: NamedDependency[AsyncSession],
        auth: NamedDependency[AuthService],
    ) -> Member:
        return await services.invite_member(db_session, auth, caller(request), data, trace_id_of(request.scope))

    @get("/{user_id:uuid}", guards=[requires(Permission.TEAM_READ)], operation_id="GetUser")
    async def get_user(self, user_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]) -> Member:
        return services.to_member(await services.get_member(db_session, user_id))

    @patch(
        "/{user_id:uuid}",
        guards=[requires(Permission.TEAM_MANAGE)],
        operation_id="UpdateUser",
        summary="Rename, change role, deactivate (closes all their sessions) or reactivate",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[uuid.UUID],
        data: Annotated[MemberUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
        auth: NamedDependency[AuthService],
    ) -> Member:
        member, revoked = await services.update_member(
            db_session, auth, caller(request), user_id, data, trace_id_of(request.scope)
        )
        await db_session.commit()  # the change is durable before its tokens are refused
        await auth.mark_revoked(revoked)
        return member


ROUTES = [UserController]
