"""Route guards: a permission from the matrix in ``shared.permissions``, checked on every endpoint."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.permissions import Permission, has_permission


def caller(connection: ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    user = connection.scope.get("user")
    if not isinstance(user, RequestContext) or user.org_id is None:
        raise AppError(ErrorCode.AUTH_REQUIRED)
    return user


def requires(*permissions: Permission, any_of: bool = False):
    """A guard allowing the request when the caller's role has the permission(s).

    ``async`` on purpose: it only reads the token's role, and Litestar runs a plain-function guard in a
    worker thread (a thread hop on every request)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        ctx = caller(connection)
        granted = [has_permission(ctx.role, p) for p in permissions]
        if not (any(granted) if any_of else all(granted)):
            raise AppError(
                ErrorCode.PERMISSION_DENIED,
                details={"required": [p.value for p in permissions], "role": ctx.role},
            )

    guard.__name__ = "requires_" + "_".join(p.name.lower() for p in permissions)
    return guard
