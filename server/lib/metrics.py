"""Prometheus metrics: one registry per app (tests build many apps), exposed at ``/metrics``."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from server.lib.logging import get_logger
from server.lib.tracing import bind_trace

log = get_logger("campotech.http")

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        # (method, route, status) -> the request counter's and the latency histogram's children: ``labels()``
        # validates and hashes its arguments on every call, far more work than the ``inc``/``observe`` it precedes.
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "campotech_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "campotech_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "campotech_queue_depth", "Jobs waiting per queue", ["queue", "state"], registry=self.registry
        )
        self.job_outcomes = Counter(
            "campotech_queue_jobs_total",
            "Queued task outcomes",
            ["queue", "task", "outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "campotech_queue_job_duration_seconds",
            "Queued task duration",
            ["queue", "task"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one HTTP request and its latency (``route`` is the path template)."""
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(elapsed)


_UNLOGGED_ROUTES = frozenset({"/health", "/metrics"})


class ObservabilityMiddleware:
    """Trace id into the log context, one access-log line and request metrics per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bind_trace(scope)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # raised by a middleware inside this one (e.g. authentication): the app's exception
            # handler outside answers with the exception's own status, not this wrapper's default
            status = int(getattr(exc, "status_code", 500) or 500)
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method: str = scope.get("method", "GET")  # type: ignore[assignment]
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.observe_request(method, route, status, elapsed)
            if route not in _UNLOGGED_ROUTES:
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
