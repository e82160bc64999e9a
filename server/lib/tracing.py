"""Trace id per request: accept a sane ``X-Request-ID`` or make one; echo it on every response.

This runs on every request, so it works on the raw ASGI scope and message (no ``Headers`` objects).
"""

from __future__ import annotations

import contextvars
import os
import re
import time
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

TRACE_HEADER = "x-request-id"
_TRACE_HEADER_BYTES = b"x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATE_KEY = "trace_id"


def new_trace_id() -> str:
    """A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` but without building a ``UUID``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def trace_id_of(scope: Scope | dict[str, Any]) -> str:
    """The request's trace id, made (from the header or anew) the first time it is asked for."""
    state = scope.setdefault("state", {})  # type: ignore[union-attr]
    trace = state.get(_STATE_KEY)
    if trace:
        return str(trace)
    trace = None
    for name, value in scope.get("headers", ()):
        if name == _TRACE_HEADER_BYTES:
            candidate = value.decode("latin-1").strip()
            if _VALID.match(candidate):
                trace = candidate
            break
    trace = trace or new_trace_id()
    state[_STATE_KEY] = trace
    if "started" not in state:
        state["started"] = time.perf_counter()
    return trace


def set_response_header(message: Message, name: bytes, value: bytes) -> None:
    """Set ``name`` (lower-case) on an ``http.response.start`` message, replacing any earlier value."""
    start: dict[str, Any] = message  # type: ignore[assignment]
    headers = start.get("headers")
    if headers is None:
        headers = start["headers"] = []
    elif not isinstance(headers, list):
        headers = start["headers"] = list(headers)
    found = -1
    for index in range(len(headers) - 1, -1, -1):  # from the end, so deleting keeps earlier indices valid
        if headers[index][0].lower() == name:
            if found != -1:
                del headers[found]
            found = index
    if found == -1:
        headers.append((name, value))
    else:
        headers[found] = (name, value)


async def echo_trace_header(message: Message, scope: Scope) -> None:
    """App-level ``before_send`` hook: every HTTP response carries ``X-Request-ID``."""
    if message["type"] == "http.response.start":
        set_response_header(message, _TRACE_HEADER_BYTES, trace_id_of(scope).encode("latin-1"))


def _structlog_var(key: str) -> contextvars.ContextVar[Any]:
    """The context variable behind ``structlog.contextvars.bind_contextvars(key=...)`` (one, made once)."""
    token = structlog.contextvars.bind_contextvars(**{key: None})[key]
    token.var.reset(token)
    return token.var


_TRACE_VAR = _structlog_var(_STATE_KEY)


def bind_trace(scope: Scope) -> str:
    """Start the request's log context: only its trace id (as ``clear_contextvars`` + ``bind_contextvars``)."""
    trace = trace_id_of(scope)
    structlog.contextvars.clear_contextvars()
    _TRACE_VAR.set(trace)
    return trace


__all__ = [
    "ASGIApp",
    "Receive",
    "Send",
    "bind_trace",
    "echo_trace_header",
    "new_trace_id",
    "set_response_header",
    "trace_id_of",
]
