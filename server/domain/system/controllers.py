"""GET /health, /health/ready, /health/live, /metrics."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.domain.system import services
from server.runtime import Resources
from shared.schemas.base import CamelStruct


class HealthStatus(CamelStruct):
    status: str
    checks: dict[str, dict[str, Any]] | None = None


class HealthController(Controller):
    path = "/health"
    tags = ["system"]
    include_in_schema = True

    @get("/", operation_id="Health", summary="Process is up")
    async def health(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get("/ready", operation_id="HealthReady", summary="PostgreSQL and Redis reachable")
    async def ready(self, resources: NamedDependency[Resources]) -> Response[HealthStatus]:
        checks = await services.readiness(resources)
        return _answer(checks, "ready")

    @get("/live", operation_id="HealthLive", summary="Every dependency, queues included, with details")
    async def live(self, resources: NamedDependency[Resources]) -> Response[HealthStatus]:
        checks = await services.liveness(resources)
        return _answer(checks, "live")


def _answer(checks: dict[str, dict[str, Any]], ok_word: str) -> Response[HealthStatus]:
    ok = all(c.get("ok") for c in checks.values())
    return Response(
        HealthStatus(status=ok_word if ok else "unavailable", checks=checks),
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )


@get("/metrics", operation_id="Metrics", summary="Prometheus metrics", tags=["system"], include_in_schema=True)
async def metrics_endpoint(resources: NamedDependency[Resources]) -> Response[bytes]:
    if resources.queues is not None:
        await resources.queues.update_depth_gauges(resources.metrics)
    return Response(generate_latest(resources.metrics.registry), media_type=CONTENT_TYPE_LATEST)


ROUTES = [HealthController, metrics_endpoint]
