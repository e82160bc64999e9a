"""What one request costs in our middleware chain, counted rather than timed (the machine is shared and noisy).

GET /health is the floor of every request: whatever the chain does for it, it does for every request. These
tests count the Python function calls of one (warm) request through ``create_app`` against a bare Litestar
app, name calls that must not come back on that path, and check that the API-only middleware (rate limit,
idempotency keys, and with them Redis) stay off the other routes. If a budget fails after a deliberate
change, measure the new cost (``_calls`` below prints per function) and raise the budget knowingly.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.config.compression import CompressionConfig
from litestar.middleware.compression import CompressionMiddleware
from litestar.response import Stream

from server.asgi import API_PREFIX, create_app
from server.lib.compression import LazyCompressionMiddleware
from server.lib.idempotency import IdempotencyMiddleware
from server.lib.metrics import ObservabilityMiddleware
from server.lib.ratelimit import ApiRateLimitMiddleware
from server.settings import Settings

# Python function calls of one warm GET /health beyond those of a bare Litestar app serving the same route.
# Measured after the overhead work: 37 without Accept-Encoding, 42 with gzip (before it: 64 and 81).
CALL_BUDGET = {"plain": 40, "gzip": 45}

# (file suffix, function) pairs that a warm GET /health must never reach.
FORBIDDEN_ON_HEALTH = {
    ("prometheus_client/metrics.py", "labels"),  # children are cached per (method, route, status)
    ("gzip.py", "__init__"),  # no compressor for a body too small to compress
    ("uuid.py", "uuid4"),  # trace ids come from os.urandom directly
    ("structlog/contextvars.py", "bind_contextvars"),  # the trace id's context variable is set directly
    ("litestar/datastructures/headers.py", "from_scope"),  # no Headers object built from the request
    ("server/lib/ratelimit.py", "*"),  # API-only middleware: not on this route at all
    ("server/lib/idempotency.py", "*"),
}


@get("/health")
async def bare_health() -> dict[str, str]:
    return {"status": "ok"}


def _scope(path: str, headers: Iterable[tuple[bytes, bytes]] = (), method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"user-agent", b"overhead-test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


async def _request(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    received = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # as a server does: the disconnect comes once the response is complete
            await finished.wait()
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(scope, receive, send)
    return sent


async def _calls(app: Any, path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Counter[tuple[str, str]]:
    """Python function calls (file, function) of one request, after warm-up requests (caches filled)."""
    headers = list(headers)
    for _ in range(3):
        await _request(app, _scope(path, headers))
    calls: Counter[tuple[str, str]] = Counter()
    here = __file__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename != here:
            calls[(frame.f_code.co_filename, frame.f_code.co_name)] += 1

    scope = _scope(path, headers)
    sys.setprofile(profile)
    try:
        sent = await _request(app, scope)
    finally:
        sys.setprofile(None)
    assert sent[0]["status"] == 200, sent
    return calls


def _body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _headers(sent: list[dict[str, Any]]) -> dict[bytes, bytes]:
    return {bytes(k).lower(): bytes(v) for k, v in sent[0]["headers"]}


@pytest.fixture(name="bare_app")
def fixture_bare_app() -> Litestar:
    return Litestar([bare_health], logging_config=None)


@pytest.mark.parametrize("encoding", ["plain", "gzip"])
async def test_health_stays_within_its_call_budget(settings: Settings, bare_app: Litestar, encoding: str) -> None:
    headers = [(b"accept-encoding", b"gzip, deflate")] if encoding == "gzip" else []
    ours = await _calls(create_app(settings), "/health", headers)
    bare = await _calls(bare_app, "/health", headers)
    extra = sum(ours.values()) - sum(bare.values())
    detail = "\n".join(f"{n:3} {f}:{fn}" for (f, fn), n in sorted((ours - bare).items()))
    assert extra <= CALL_BUDGET[encoding], f"GET /health makes {extra} more calls than bare Litestar:\n{detail}"


@pytest.mark.parametrize("encoding", ["plain", "gzip"])
async def test_health_skips_per_request_work_that_was_removed(settings: Settings, encoding: str) -> None:
    headers = [(b"accept-encoding", b"gzip")] if encoding == "gzip" else []
    calls = await _calls(create_app(settings), "/health", headers)
    reached = sorted(
        f"{file}:{fn}"
        for file, fn in calls
        for suffix, name in FORBIDDEN_ON_HEALTH
        if file.endswith(suffix) and name in {"*", fn}
    )
    assert not reached, f"GET /health reached {reached}"


def test_api_only_middleware_is_on_the_api_routes_only(settings: Settings) -> None:
    """Rate limit and idempotency keys wrap every /api/v1 handler (after auth) and nothing else."""
    app = create_app(settings)
    api_only = {ApiRateLimitMiddleware, IdempotencyMiddleware}
    seen_api = seen_other = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", [getattr(route, "route_handler", None)]):
            if handler is None:
                continue
            stack = [getattr(m, "middleware", m) for m in reversed(handler.resolve_middleware())]  # outermost first
            names = [getattr(m, "__name__", type(m).__name__) for m in stack]
            assert stack[0] is ObservabilityMiddleware, (route.path, names)
            if route.path == API_PREFIX or route.path.startswith(API_PREFIX + "/"):
                seen_api += 1
                assert stack[-2:] == [ApiRateLimitMiddleware, IdempotencyMiddleware], (route.path, names)
                assert names[1] == "CampoTechJWTMiddleware", (route.path, names)
            else:
                seen_other += 1
                assert not api_only & set(stack), (route.path, names)
    assert seen_api and seen_other


class _Tripwire:
    """Stands in for the app's resources: any use (Redis included) is recorded and fails the request."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"resources.{name} used")


async def test_non_api_paths_never_touch_redis(settings: Settings) -> None:
    app = create_app(settings)
    tripwire = _Tripwire()
    app.state.resources = tripwire
    idempotent = [(b"idempotency-key", b"overhead-test-key-1")]
    for method, path, headers in [
        ("GET", "/health", []),
        ("GET", "/health", [(b"x-request-id", b"abc-123"), (b"accept-encoding", b"gzip")]),
        ("GET", "/schema/openapi.json", []),
        ("POST", "/health", idempotent),  # 405 from the router: no route middleware at all
        ("GET", "/nowhere", []),
    ]:
        sent = await _request(app, _scope(path, headers, method))
        assert sent[0]["status"] in {200, 404, 405}, (path, sent[0])
        assert _headers(sent)[b"x-request-id"], path
    assert tripwire.touched == []


async def test_trace_id_is_echoed_or_made_on_every_response(settings: Settings) -> None:
    app = create_app(settings)
    sent = await _request(app, _scope("/health", [(b"x-request-id", b"trace-1")]))
    assert _headers(sent)[b"x-request-id"] == b"trace-1"
    made = _headers(await _request(app, _scope("/health", [(b"x-request-id", b"not valid!")])))[b"x-request-id"]
    assert len(made) == 32 and made[12:13] == b"4" and made[16:17] in b"89ab"  # a version-4 UUID's hex
    missing = await _request(app, _scope("/nowhere", [(b"x-request-id", b"trace-404")]))
    assert missing[0]["status"] == 404 and _headers(missing)[b"x-request-id"] == b"trace-404"


async def test_large_responses_are_still_gzipped(settings: Settings) -> None:
    app = create_app(settings)
    plain = await _request(app, _scope("/schema/openapi.json"))
    zipped = await _request(app, _scope("/schema/openapi.json", [(b"accept-encoding", b"gzip")]))
    assert len(_body(plain)) >= 2048 and b"content-encoding" not in _headers(plain)
    headers = _headers(zipped)
    assert headers[b"content-encoding"] == b"gzip" and headers[b"vary"] == b"Accept-Encoding"
    assert int(headers[b"content-length"]) == len(_body(zipped))
    assert gzip.decompress(_body(zipped)) == _body(plain)
    small = await _request(app, _scope("/health", [(b"accept-encoding", b"gzip")]))
    assert b"content-encoding" not in _headers(small) and _body(small) == b'{"status":"ok","checks":null}'


@get("/small", sync_to_thread=False)
def small() -> dict[str, str]:
    return {"a": "b"}


@get("/large", sync_to_thread=False)
def large() -> dict[str, str]:
    return {str(i): "x" * 20 for i in range(200)}


@get("/stream", sync_to_thread=False)
def stream() -> Stream:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"chunk {i} ".encode() * 50

    return Stream(chunks(), media_type="text/plain")


@pytest.mark.parametrize("path", ["/small", "/large", "/stream"])
@pytest.mark.parametrize("accept", [b"", b"gzip", b"br, gzip;q=0.5", b"identity"])
async def test_lazy_compression_sends_what_litestar_sends(path: str, accept: bytes) -> None:
    """Message for message as Litestar's CompressionMiddleware (gzip output compared decompressed: it has a mtime)."""

    def app(middleware_class: type[CompressionMiddleware]) -> Litestar:
        config = CompressionConfig(backend="gzip", minimum_size=2048, middleware_class=middleware_class)
        return Litestar([small, large, stream], compression_config=config, logging_config=None)

    headers = [(b"accept-encoding", accept)] if accept else []
    theirs = await _request(app(CompressionMiddleware), _scope(path, headers))
    ours = await _request(app(LazyCompressionMiddleware), _scope(path, headers))
    assert [m["type"] for m in ours] == [m["type"] for m in theirs]
    assert [m.get("more_body", False) for m in ours] == [m.get("more_body", False) for m in theirs]
    assert ours[0]["status"] == theirs[0]["status"]
    our_headers, their_headers = _headers(ours), _headers(theirs)
    if their_headers.get(b"content-encoding") == b"gzip":
        assert path != "/small"
        our_headers.pop(b"content-length", None), their_headers.pop(b"content-length", None)
        assert our_headers == their_headers
        assert gzip.decompress(_body(ours)) == gzip.decompress(_body(theirs))
    else:
        assert path == "/small" or not accept or accept == b"identity"
        assert our_headers == their_headers and _body(ours) == _body(theirs)
