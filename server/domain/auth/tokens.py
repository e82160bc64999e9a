"""Access tokens (JWT via Litestar's JWT support) and opaque refresh tokens.

Access: 15 minutes, ``sub`` = user id, extras ``org``, ``role``, ``sid`` (session). Refresh: 7 days,
``<org id hex>.<random>``; only its SHA-256 is stored; it is spent on use and replaced.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.ratelimit import check_session_and_hit
from shared.errors import ErrorCode

ACCESS_TTL = datetime.timedelta(minutes=15)
REFRESH_TTL = datetime.timedelta(days=7)
ALGORITHM = "HS256"
ISSUER = "campotech"
REVOKED_SESSION_PREFIX = "auth:revoked-session:"


def issue_access_token(secret: str, *, user_id: uuid.UUID, org_id: uuid.UUID, role: str, session_id: uuid.UUID) -> str:
    now = datetime.datetime.now(datetime.UTC)
    token = Token(
        sub=str(user_id),
        exp=now + ACCESS_TTL,
        iat=now,
        iss=ISSUER,
        jti=uuid.uuid4().hex,
        extras={"org": str(org_id), "role": role, "sid": str(session_id)},
    )
    return token.encode(secret=secret, algorithm=ALGORITHM)


def new_refresh_token(org_id: uuid.UUID) -> str:
    return f"{org_id.hex}.{secrets.token_urlsafe(32)}"


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def org_of_refresh_token(token: str) -> uuid.UUID | None:
    prefix, sep, rest = token.partition(".")
    if not sep or not rest:
        return None
    try:
        return uuid.UUID(hex=prefix)
    except ValueError:
        return None


def context_from_token(token: Token) -> RequestContext:
    try:
        return RequestContext(
            org_id=uuid.UUID(token.extras["org"]),
            user_id=uuid.UUID(token.sub),
            role=str(token.extras["role"]),
            session_id=uuid.UUID(token.extras["sid"]),
        )
    except (KeyError, ValueError, TypeError):
        raise AppError(ErrorCode.TOKEN_INVALID) from None


async def retrieve_context(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    """The request's identity, straight from the verified token (no database round trip)."""
    return context_from_token(token)


async def refuse_revoked_session(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Logout, session revocation and deactivation take effect at once, not when the token expires.

    On an API path the check and the API rate-limit hit are one Redis round trip
    (``server.lib.ratelimit.check_session_and_hit``); elsewhere, or if that cannot answer, one EXISTS.
    """
    sid = token.extras.get("sid")
    if not sid:
        return False
    key = REVOKED_SESSION_PREFIX + str(sid)
    revoked = await check_session_and_hit(connection.scope, key)
    if revoked is None:
        revoked = bool(await connection.app.state.resources.redis.exists(key))
    if revoked:
        raise AppError(ErrorCode.SESSION_REVOKED)
    return False


class CampoTechJWTMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware with our error codes: missing, invalid and expired are told apart."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise AppError(ErrorCode.AUTH_REQUIRED)
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "bearer" or not encoded.strip():
            raise AppError(ErrorCode.TOKEN_INVALID)
        try:
            return await self.authenticate_token(encoded_token=encoded.strip(), connection=connection)
        except NotAuthorizedException as exc:
            if isinstance(exc.__cause__, jwt.ExpiredSignatureError):
                raise AppError(ErrorCode.TOKEN_EXPIRED) from None
            raise AppError(ErrorCode.TOKEN_INVALID) from None


def build_jwt_auth(secret: str) -> JWTAuth[RequestContext, Token]:
    return JWTAuth[RequestContext, Token](
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=retrieve_context,
        revoked_token_handler=refuse_revoked_session,
        authentication_middleware_class=CampoTechJWTMiddleware,
        accepted_issuers=[ISSUER],
        require_claims=["exp", "sub", "iat"],
        default_token_expiration=ACCESS_TTL,
        openapi_security_scheme_name="BearerToken",
        description="Access token from POST /api/v1/auth/otp/verify (or /refresh).",
        exclude=["^/health", "^/metrics", "^/schema", "^/static", "^/api/v1/admin/"],
        exclude_opt_key="public",
    )
