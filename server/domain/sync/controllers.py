"""/sync: pull, bootstrap and push for the offline client; conflicts for the office."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.sync import services
from server.lib.errors import AppError
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode
from shared.permissions import Permission
from shared.schemas.sync import (
    BOOTSTRAP_LIMIT_DEFAULT,
    BOOTSTRAP_LIMIT_MAX,
    PULL_LIMIT_DEFAULT,
    PULL_LIMIT_MAX,
    SyncBootstrapPage,
    SyncConflict,
    SyncConflictPage,
    SyncPullPage,
    SyncPushRequest,
    SyncPushResult,
)

SYNC = [requires(Permission.SYNC)]
OFFICE = [requires(Permission.JOBS_DISPATCH)]


def _secret(request: Request[Any, Any, Any]) -> str:
    return str(request.app.state.settings.secret_key or "")


def _after(value: str | None) -> uuid.UUID | None:
    """The keyset position: an id, or nothing (empty, as some HTTP clients send a missing parameter)."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "El parámetro 'after' tiene que ser el id que devolvió la página anterior (nextAfter).",
            details=[{"key": "after", "problem": "not_an_id"}],
        ) from None


class SyncController(Controller):
    path = "/sync"
    tags = ["sync"]

    @get("/pull", guards=SYNC, operation_id="SyncPull", summary="Changes since the cursor, in the caller's scope")
    async def pull(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=PULL_LIMIT_MAX)] = PULL_LIMIT_DEFAULT,
    ) -> SyncPullPage:
        return await services.pull(db_session, caller(request), _secret(request), cursor, limit)

    @get(
        "/bootstrap",
        guards=SYNC,
        operation_id="SyncBootstrap",
        summary="First sync: one table's rows in the caller's scope, keyset pages by id, and the cursor to pull from",
    )
    async def bootstrap(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        table: Annotated[str, QueryParameter(max_length=60)],
        after: Annotated[str | None, QueryParameter(max_length=60)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=BOOTSTRAP_LIMIT_MAX)] = BOOTSTRAP_LIMIT_DEFAULT,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> SyncBootstrapPage:
        return await services.bootstrap(
            db_session, caller(request), _secret(request), table, _after(after), limit, cursor
        )

    @post(
        "/push",
        guards=SYNC,
        operation_id="SyncPush",
        summary="Queued operations (at most 50): one answer each, applied / merged / rejected / duplicate",
        status_code=200,
    )
    async def push(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SyncPushRequest, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> SyncPushResult:
        return await services.push(db_session, caller(request), data, trace_id_of(request.scope))

    @get("/conflicts", guards=OFFICE, operation_id="ListSyncConflicts", summary="Sync conflicts the office must see")
    async def list_conflicts(
        self,
        db_session: NamedDependency[AsyncSession],
        include_acknowledged: Annotated[bool, QueryParameter(name="includeAcknowledged")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> SyncConflictPage:
        return await services.list_conflicts(db_session, include_acknowledged, limit)

    @post(
        "/conflicts/{conflict_id:uuid}/acknowledge",
        guards=OFFICE,
        operation_id="AcknowledgeSyncConflict",
        summary="Mark a sync conflict as seen by the office",
        status_code=200,
    )
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        conflict_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> SyncConflict:
        return await services.acknowledge_conflict(db_session, caller(request), conflict_id, trace_id_of(request.scope))


ROUTES = [SyncController]
