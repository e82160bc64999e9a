"""The request context (who is asking, for which organisation) and the one-transaction DB session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import msgspec
from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.engine import tenant_session
from server.lib.events import dispatch_pending
from server.runtime import Resources

CONTEXT_KEY = "request_context"


class RequestContext(msgspec.Struct, frozen=True):
    """Set by authentication; absent for anonymous requests (which then see nothing org-owned)."""

    org_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    role: str | None = None
    session_id: uuid.UUID | None = None


ANONYMOUS = RequestContext()


def context_of(request: Request[Any, Any, Any]) -> RequestContext:
    """The caller: set by the JWT middleware as ``scope["user"]`` (or explicitly by ``set_context``)."""
    user = request.scope.get("user")
    if isinstance(user, RequestContext):
        return user
    ctx = request.scope.get("state", {}).get(CONTEXT_KEY)
    return ctx if isinstance(ctx, RequestContext) else ANONYMOUS


def set_context(scope: Any, ctx: RequestContext) -> None:
    scope.setdefault("state", {})[CONTEXT_KEY] = ctx


def resources_of(request: Request[Any, Any, Any]) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


async def provide_resources(request: Request[Any, Any, Any]) -> Resources:
    return resources_of(request)


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request, inside the caller's tenant context.

    Committed after the handler returns (before the response is sent, so a failed commit is an
    error response, not a lie); rolled back on any error.
    """
    ctx = context_of(request)
    resources = resources_of(request)
    session = tenant_session(resources.sessionmaker, ctx.org_id, ctx.user_id)
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
    # domain events of a committed transaction only (handlers queue work; they never raise)
    await dispatch_pending(resources.events, session)
