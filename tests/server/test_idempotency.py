"""Idempotency keys, end to end: a minimal app with the real middleware, error handlers and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, Response, patch, post
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.types import ASGIApp, Receive, Scope, Send

from server.lib.context import RequestContext
from server.lib.errors import EXCEPTION_HANDLERS
from server.lib.idempotency import IdempotencyMiddleware
from server.lib.tracing import echo_trace_header
from server.runtime import Resources
from server.settings import Settings


class Recorder:
    """Side effects of the handlers, and switches to steer them."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[dict[str, Any]] = []
        self.failures_left = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


class FakeAuthMiddleware:
    """Stands in for the JWT middleware: ``X-Test-User: <uuid>`` becomes the request's identity."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-user":
                scope["user"] = RequestContext(org_id=uuid.UUID(int=1), user_id=uuid.UUID(value.decode()))
        await self.app(scope, receive, send)


def build_app(settings: Settings, resources: Resources, recorder: Recorder) -> Litestar:
    @post("/things")
    async def create_thing(data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        recorder.created.append(data)
        return Response({"number": len(recorder.created), "id": str(uuid.uuid4()), "echo": data}, status_code=201)

    @patch("/things/{thing_id:str}")
    async def update_thing(thing_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        recorder.patched.append(data)
        return {"id": thing_id, "version": len(recorder.patched)}

    @post("/slow")
    async def slow(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        recorder.created.append(data)
        recorder.entered.set()
        await recorder.release.wait()
        return {"done": True}

    @post("/flaky")
    async def flaky(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        recorder.created.append(data)
        if recorder.failures_left > 0:
            recorder.failures_left -= 1
            raise RuntimeError("the payment provider timed out")
        return {"ok": True, "attempt": len(recorder.created)}

    @post("/big")
    async def big(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        recorder.created.append(data)
        return {"rows": [{"index": i, "text": "una fila bastante larga para comprimir"} for i in range(300)]}

    return Litestar(
        route_handlers=[create_thing, update_thing, slow, flaky, big],
        middleware=[FakeAuthMiddleware, IdempotencyMiddleware],
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[echo_trace_header],
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048),
        state=State({"settings": settings, "resources": resources}),
        debug=False,
    )


@pytest.fixture(name="recorder")
def fixture_recorder() -> Recorder:
    return Recorder()


@pytest.fixture(name="idem_client")
async def fixture_idem_client(
    settings: Settings, resources: Resources, recorder: Recorder
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, resources, recorder)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


async def test_same_key_and_body_replays_the_stored_response(
    idem_client: httpx.AsyncClient, recorder: Recorder
) -> None:
    key = new_key()
    first = await idem_client.post("/things", json={"title": "Cambio de canilla"}, headers={"Idempotency-Key": key})
    second = await idem_client.post("/things", json={"title": "Cambio de canilla"}, headers={"Idempotency-Key": key})

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.content == first.content  # byte for byte (the id is random: a re-run would differ)
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(recorder.created) == 1


async def test_replay_gets_its_own_trace_id(idem_client: httpx.AsyncClient) -> None:
    key = new_key()
    await idem_client.post("/things", json={"a": 1}, headers={"Idempotency-Key": key, "X-Request-ID": "first"})
    replay = await idem_client.post("/things", json={"a": 1}, headers={"Idempotency-Key": key, "X-Request-ID": "2nd"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["x-request-id"] == "2nd"


async def test_same_key_with_another_body_is_a_conflict(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    key = new_key()
    ok = await idem_client.post("/things", json={"amount": "100.00"}, headers={"Idempotency-Key": key})
    reused = await idem_client.post("/things", json={"amount": "999.00"}, headers={"Idempotency-Key": key})

    assert ok.status_code == 201
    assert reused.status_code == 409
    body = reused.json()
    assert body["code"] == "idempotency_key_reused"
    assert body["message"]
    assert "traceId" in body
    assert len(recorder.created) == 1


async def test_retry_while_the_first_runs_is_in_progress(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    key = new_key()
    first = asyncio.create_task(idem_client.post("/slow", json={"n": 1}, headers={"Idempotency-Key": key}))
    await asyncio.wait_for(recorder.entered.wait(), timeout=5)

    during = await idem_client.post("/slow", json={"n": 1}, headers={"Idempotency-Key": key})
    assert during.status_code == 409
    assert during.json()["code"] == "idempotency_in_progress"
    assert int(during.headers["retry-after"]) >= 1

    recorder.release.set()
    done = await asyncio.wait_for(first, timeout=5)
    assert done.status_code == 201
    after = await idem_client.post("/slow", json={"n": 1}, headers={"Idempotency-Key": key})
    assert after.status_code == 201
    assert after.headers["idempotent-replayed"] == "true"
    assert len(recorder.created) == 1


@pytest.mark.parametrize("bad_key", ["short", "x" * 129, "has spaces in it", "semi;colon-key", "ñandú-12345"])
async def test_malformed_key_is_refused(idem_client: httpx.AsyncClient, recorder: Recorder, bad_key: str) -> None:
    response = await idem_client.post("/things", json={"a": 1}, headers={"Idempotency-Key": bad_key.encode("utf-8")})
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert recorder.created == []


async def test_server_errors_are_not_stored(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    key = new_key()
    recorder.failures_left = 1
    failed = await idem_client.post("/flaky", json={"charge": 1}, headers={"Idempotency-Key": key})
    assert failed.status_code == 500
    assert failed.json()["code"] == "internal_error"

    retried = await idem_client.post("/flaky", json={"charge": 1}, headers={"Idempotency-Key": key})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    replayed = await idem_client.post("/flaky", json={"charge": 1}, headers={"Idempotency-Key": key})
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == retried.content
    assert len(recorder.created) == 2


async def test_client_errors_are_stored_and_replayed(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    key = new_key()
    first = await idem_client.post(
        "/things", content=b"{not json", headers={"Idempotency-Key": key, "Content-Type": "application/json"}
    )
    second = await idem_client.post(
        "/things", content=b"{not json", headers={"Idempotency-Key": key, "Content-Type": "application/json"}
    )
    assert first.status_code == 400
    assert second.status_code == 400
    assert second.headers["idempotent-replayed"] == "true"
    assert recorder.created == []


async def test_without_a_key_every_request_runs(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    await idem_client.post("/things", json={"a": 1})
    await idem_client.post("/things", json={"a": 1})
    assert len(recorder.created) == 2


async def test_keys_belong_to_their_caller(idem_client: httpx.AsyncClient, recorder: Recorder) -> None:
    key = new_key()
    alice = await idem_client.post(
        "/things", json={"a": 1}, headers={"Idempotency-Key": key, "Authorization": "Bearer alice-token"}
    )
    bob = await idem_client.post(
        "/things", json={"a": 2}, headers={"Idempotency-Key": key, "Authorization": "Bearer bob-token"}
    )
    assert alice.status_code == bob.status_code == 201
    assert "idempotent-replayed" not in bob.headers
    assert len(recorder.created) == 2


async def test_an_authenticated_user_keeps_the_key_across_token_refresh(
    idem_client: httpx.AsyncClient, recorder: Recorder
) -> None:
    key, user = new_key(), str(uuid.uuid4())
    before = await idem_client.post(
        "/things", json={"a": 1}, headers={"Idempotency-Key": key, "Authorization": "Bearer old", "X-Test-User": user}
    )
    after = await idem_client.post(
        "/things", json={"a": 1}, headers={"Idempotency-Key": key, "Authorization": "Bearer new", "X-Test-User": user}
    )
    someone_else = await idem_client.post(
        "/things", json={"a": 1}, headers={"Idempotency-Key": key, "X-Test-User": str(uuid.uuid4())}
    )
    assert after.headers["idempotent-replayed"] == "true"
    assert after.content == before.content
    assert "idempotent-replayed" not in someone_else.headers
    assert len(recorder.created) == 2


async def test_patch_is_idempotent_too_and_paths_are_separate(
    idem_client: httpx.AsyncClient, recorder: Recorder
) -> None:
    key = new_key()
    one = await idem_client.patch("/things/a", json={"title": "x"}, headers={"Idempotency-Key": key})
    again = await idem_client.patch("/things/a", json={"title": "x"}, headers={"Idempotency-Key": key})
    other_path = await idem_client.patch("/things/b", json={"title": "x"}, headers={"Idempotency-Key": key})
    assert one.json() == again.json() == {"id": "a", "version": 1}
    assert again.headers["idempotent-replayed"] == "true"
    assert other_path.json() == {"id": "b", "version": 2}
    assert len(recorder.patched) == 2


async def test_gzip_response_is_replayed_readable_to_a_client_without_gzip(
    idem_client: httpx.AsyncClient, recorder: Recorder
) -> None:
    key = new_key()
    first = await idem_client.post("/big", json={"q": 1}, headers={"Idempotency-Key": key, "Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    plain = await idem_client.post(
        "/big", json={"q": 1}, headers={"Idempotency-Key": key, "Accept-Encoding": "identity"}
    )
    assert plain.headers["idempotent-replayed"] == "true"
    assert "content-encoding" not in plain.headers
    assert plain.json() == first.json()
    assert len(recorder.created) == 1


async def test_stored_response_expires_with_the_ttl(
    settings: Settings, resources: Resources, recorder: Recorder
) -> None:
    import msgspec

    short = msgspec.structs.replace(settings, idempotency_ttl_seconds=1)
    app = build_app(short, resources, recorder)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        key = new_key()
        await client.post("/things", json={"a": 1}, headers={"Idempotency-Key": key})
        await asyncio.sleep(1.2)
        again = await client.post("/things", json={"a": 1}, headers={"Idempotency-Key": key})
    assert "idempotent-replayed" not in again.headers
    assert len(recorder.created) == 2
