"""/api/v1/admin/dead-letters: list, retry and discard queued tasks that exhausted their attempts.

Every route needs the ``X-Admin-Token`` header equal to ``CAMPOTECH_ADMIN_TOKEN`` (refused when the
setting is empty).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from server.db.models.dead_letter import DeadLetterStatus
from server.domain.admin import services
from server.domain.admin.schemas import DeadLetterOut, DeadLetterPage, DeadLetterRetried
from server.lib.errors import AppError
from server.runtime import Resources
from shared.errors import ErrorCode

ADMIN_TOKEN_HEADER = "X-Admin-Token"


def require_admin_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    settings = connection.app.state.settings
    if not services.admin_token_matches(settings.admin_token, connection.headers.get(ADMIN_TOKEN_HEADER)):
        raise AppError(ErrorCode.ADMIN_TOKEN_INVALID)


class DeadLetterController(Controller):
    path = "/admin/dead-letters"
    tags = ["admin"]
    guards = [require_admin_token]
    security = [{"AdminToken": []}]

    @get("/", operation_id="ListDeadLetters", summary="Queued tasks that exhausted their attempts")
    async def list_dead_letters(
        self,
        resources: NamedDependency[Resources],
        status: FromQuery[DeadLetterStatus | None] = None,
        queue: Annotated[str | None, QueryParameter(max_length=40)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=services.MAX_PAGE_SIZE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> DeadLetterPage:
        rows, total = await services.list_dead_letters(
            resources, status=status, queue=queue, limit=limit, offset=offset
        )
        return DeadLetterPage(items=[DeadLetterOut.of(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/{dead_letter_id:uuid}", operation_id="GetDeadLetter", summary="One dead letter")
    async def get_dead_letter(
        self, resources: NamedDependency[Resources], dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterOut:
        return DeadLetterOut.of(await services.get_dead_letter(resources, dead_letter_id))

    @post(
        "/{dead_letter_id:uuid}/retry",
        operation_id="RetryDeadLetter",
        summary="Enqueue the task again with the same kwargs",
        status_code=200,
    )
    async def retry_dead_letter(
        self, resources: NamedDependency[Resources], dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterRetried:
        row, job = await services.retry_dead_letter(resources, dead_letter_id)
        return DeadLetterRetried(dead_letter=DeadLetterOut.of(row), job_key=job.key)

    @post(
        "/{dead_letter_id:uuid}/discard",
        operation_id="DiscardDeadLetter",
        summary="Mark the task as not to be retried",
        status_code=200,
    )
    async def discard_dead_letter(
        self, resources: NamedDependency[Resources], dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterOut:
        return DeadLetterOut.of(await services.discard_dead_letter(resources, dead_letter_id))


ROUTES = [DeadLetterController]
