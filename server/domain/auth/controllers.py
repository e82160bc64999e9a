"""POST /auth/signup, /otp/request, /otp/verify, /refresh, /logout; GET/DELETE /auth/sessions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.deps import provide_auth_service
from server.domain.auth.guards import caller
from server.domain.auth.services import AuthService, list_sessions
from server.lib.errors import AppError
from server.lib.ratelimit import client_ip
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode
from shared.schemas.auth import (
    OtpRequest,
    OtpSent,
    OtpVerifyRequest,
    RefreshRequest,
    SessionInfo,
    SignupRequest,
    TokenPair,
)

PUBLIC = {"public": True}


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service)}

    @post(
        "/signup",
        status_code=HTTP_202_ACCEPTED,
        opt=PUBLIC,
        operation_id="Signup",
        summary="Create an organisation: CUIT + business name + the owner's phone; a code is sent",
    )
    async def signup(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SignupRequest, Body()],
        auth: NamedDependency[AuthService],
    ) -> OtpSent:
        await auth.signup(
            cuit=data.cuit,
            business_name=data.business_name,
            phone=data.phone,
            full_name=data.full_name,
            ip=client_ip(request.scope),
        )
        return OtpSent()

    @post(
        "/otp/request",
        status_code=HTTP_202_ACCEPTED,
        opt=PUBLIC,
        operation_id="RequestOtp",
        summary="Send a login code to a phone (same answer whether or not it has an account)",
    )
    async def request_code(
        self, request: Request[Any, Any, Any], data: Annotated[OtpRequest, Body()], auth: NamedDependency[AuthService]
    ) -> OtpSent:
        await auth.request_login_code(phone=data.phone, ip=client_ip(request.scope))
        return OtpSent()

    @post(
        "/otp/verify",
        status_code=HTTP_200_OK,
        opt=PUBLIC,
        operation_id="VerifyOtp",
        summary="Exchange phone + code for an access token and a refresh token",
    )
    async def verify_code(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[OtpVerifyRequest, Body()],
        auth: NamedDependency[AuthService],
    ) -> TokenPair:
        return await auth.verify_code(
            phone=data.phone,
            code=data.code,
            ip=client_ip(request.scope),
            device_name=data.device_name,
            user_agent=request.headers.get("user-agent"),
            trace_id=trace_id_of(request.scope),
        )

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        opt=PUBLIC,
        operation_id="RefreshTokens",
        summary="A new token pair; the refresh token sent is spent (reusing it closes the session)",
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[RefreshRequest, Body()],
        auth: NamedDependency[AuthService],
    ) -> TokenPair:
        return await auth.refresh(data.refresh_token, trace_id_of(request.scope))

    @post("/logout", status_code=HTTP_204_NO_CONTENT, operation_id="Logout", summary="Close this session")
    async def logout(self, request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> None:
        ctx = caller(request)
        assert ctx.org_id is not None and ctx.session_id is not None
        await auth.revoke_sessions(
            ctx.org_id, [ctx.session_id], reason="logout", actor_id=ctx.user_id, trace_id=trace_id_of(request.scope)
        )

    @get("/sessions", operation_id="ListSessions", summary="My open sessions (phone, desktop…)")
    async def sessions(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[SessionInfo]:
        ctx = caller(request)
        assert ctx.user_id is not None
        return await list_sessions(db_session, ctx.user_id, ctx.session_id)

    @delete(
        "/sessions/{session_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="RevokeSession",
        summary="Close one of my sessions",
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        auth: NamedDependency[AuthService],
    ) -> None:
        ctx = caller(request)
        assert ctx.org_id is not None and ctx.user_id is not None
        mine = {s.id for s in await list_sessions(db_session, ctx.user_id, ctx.session_id)}
        if session_id not in mine:
            raise AppError(ErrorCode.NOT_FOUND)
        await auth.revoke_sessions(
            ctx.org_id,
            [session_id],
            reason="revoked_by_user",
            actor_id=ctx.user_id,
            trace_id=trace_id_of(request.scope),
        )


ROUTES = [AuthController]
