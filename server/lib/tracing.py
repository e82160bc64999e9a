"""Trace id per request: accept a sane ``X-Request-ID`` or make one; echo it on every response."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

TRACE_HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATE_KEY = "trace_id"


def trace_id_of(scope: Scope | dict[str, Any]) -> str:
    """The request's trace id, made (from the header or anew) the first time it is asked for."""
    state = scope.setdefault("state", {})  # type: ignore[union-attr]
    trace = state.get(_STATE_KEY)
    if trace:
        return str(trace)
    trace = None
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _VALID.match(candidate):
                trace = candidate
            break
    trace = trace or uuid.uuid4().hex
    state[_STATE_KEY] = trace
    state.setdefault("started", time.perf_counter())
    return trace


async def echo_trace_header(message: Message, scope: Scope) -> None:
    """App-level ``before_send`` hook: every HTTP response carries ``X-Request-ID``."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        headers[TRACE_HEADER] = trace_id_of(scope)


def bind_trace(scope: Scope) -> str:
    trace = trace_id_of(scope)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(trace_id=trace)
    return trace


__all__ = ["ASGIApp", "Receive", "Send", "bind_trace", "echo_trace_header", "trace_id_of"]
