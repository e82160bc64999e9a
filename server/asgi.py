"""The application factory: ``create_app(settings) -> Litestar``. Settings are injected; no globals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from server.domain import API_ROUTES_BY_DOMAIN, ROUTES_BY_DOMAIN, register_event_handlers
from server.domain.auth.tokens import build_jwt_auth
from server.lib.compression import LazyCompressionMiddleware
from server.lib.context import provide_db_session, provide_resources
from server.lib.errors import EXCEPTION_HANDLERS
from server.lib.idempotency import IdempotencyMiddleware
from server.lib.logging import configure_logging, get_logger
from server.lib.metrics import Metrics, ObservabilityMiddleware
from server.lib.ratelimit import ApiRateLimitMiddleware
from server.lib.tracing import echo_trace_header
from server.runtime import Resources
from server.settings import PROJECT_ROOT, Settings

log = get_logger("campotech.app")

API_PREFIX = "/api/v1"


def create_app(settings: Settings, resources: Resources | None = None) -> Litestar:
    """Build the API. With ``resources`` given (tests), they are used and left open at shutdown."""
    configure_logging(settings.log_level, settings.log_json)
    metrics = resources.metrics if resources else Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = resources is None
        res = resources or await Resources.open(settings, metrics)
        app.state.resources = res
        app.state.metrics = res.metrics
        from server.lib.queue import QueueRegistry

        previous = res.queues
        if previous is None or (settings.worker_in_process and previous.settings.queue_prefix != settings.queue_prefix):
            # an app running the workers runs them on its own queues, even where another app (tests) installed
            # other ones on the same resources; it gives those back when it stops
            res.queues = QueueRegistry(settings, res)
        register_event_handlers(res)
        if settings.worker_in_process:
            await res.queues.start_workers()
        try:
            yield
        finally:
            if settings.worker_in_process:
                await res.queues.stop_workers()
            if previous is not None and res.queues is not previous:
                await res.queues.close()
                res.queues = previous
            gateway = res.extras.pop("afip_gateway", None)  # AFIP clients opened on first use
            if gateway is not None:
                await gateway.aclose()
            if owned:
                await res.close()

    if not settings.secret_key:
        settings = msgspec.structs.replace(settings, secret_key=_ephemeral_secret_key(settings))
    jwt_auth = build_jwt_auth(settings.secret_key or "")
    # Rate limits and idempotency keys concern the API only: on its router they add nothing to /health, /metrics,
    # the docs or static files. Router middleware runs inside the app's (Observability, then JWT auth).
    api = Router(
        path=API_PREFIX,
        route_handlers=_flatten(API_ROUTES_BY_DOMAIN.values()),
        middleware=[ApiRateLimitMiddleware, IdempotencyMiddleware],
    )
    swagger_assets = PROJECT_ROOT / "assets" / "swagger-ui"
    openapi = OpenAPIConfig(
        title="CampoTech API",
        version="1",
        description=(
            "Field-service management for trades businesses in Argentina. JSON is camelCase; errors are "
            '`{"code", "message", "details", "traceId"}`; ids are UUIDv7 strings.'
        ),
        path="/schema",
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url="/static/swagger-ui/swagger-ui-bundle.js",
                css_url="/static/swagger-ui/swagger-ui.css",
                standalone_preset_js_url="/static/swagger-ui/swagger-ui-standalone-preset.js",
                favicon="<link rel='icon' type='image/png' href='/static/swagger-ui/favicon-32x32.png'>",
            )
        ],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                "AdminToken": SecurityScheme(type="apiKey", name="X-Admin-Token", security_scheme_in="header"),
            }
        ),
    )
    app = Litestar(
        route_handlers=[
            *_flatten(ROUTES_BY_DOMAIN.values()),
            api,
            create_static_files_router(
                path="/static/swagger-ui", directories=[swagger_assets], include_in_schema=False
            ),
        ],
        dependencies={"resources": Provide(provide_resources), "db_session": Provide(provide_db_session)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[ObservabilityMiddleware],
        before_send=[echo_trace_header],
        lifespan=[lifespan],
        on_app_init=[jwt_auth.on_app_init, _observability_first],
        openapi_config=openapi,
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=2048,
            # level 1: a page of job records shrinks 5.6x (6.4x at 9); level 9 (Litestar's default) spent ~60%
            # of a first sync's server CPU for those 12% fewer bytes (tests/benchmarks/sync_first.py)
            gzip_compress_level=1,
            middleware_class=LazyCompressionMiddleware,
        ),
        request_max_body_size=10 * 1024 * 1024,
        debug=False,
        logging_config=None,  # ours (configure_logging: JSON, redaction), not Litestar's default
        state=_initial_state(settings, metrics),
    )
    return app


def _observability_first(app_config: AppConfig) -> AppConfig:
    """Trace ids, access logs and metrics cover everything, authentication failures included."""
    app_config.middleware = [ObservabilityMiddleware] + [
        m for m in app_config.middleware if m is not ObservabilityMiddleware
    ]
    return app_config


def _ephemeral_secret_key(settings: Settings) -> str:
    """Outside production a missing token-signing key is replaced by a per-process key."""
    if settings.is_production:
        raise RuntimeError("CAMPOTECH_SECRET_KEY is required in production")
    log.warning("CAMPOTECH_SECRET_KEY not set: using a random key; tokens will not survive a restart")
    import secrets

    return secrets.token_urlsafe(48)


def _initial_state(settings: Settings, metrics: Metrics) -> Any:
    from litestar.datastructures import State

    return State({"settings": settings, "metrics": metrics})


def _flatten(groups: Any) -> list[Any]:
    out: list[Any] = []
    for group in groups:
        out.extend(group if isinstance(group, Sequence) else [group])
    return out
