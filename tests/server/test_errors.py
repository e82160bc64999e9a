from __future__ import annotations

from typing import Annotated

import httpx
import msgspec
from litestar import Litestar, get, post
from litestar.params import Body

from server.lib.errors import EXCEPTION_HANDLERS, AppError
from server.lib.tracing import echo_trace_header
from shared.errors import ErrorCode
from shared.schemas.base import CamelStruct


class Thing(CamelStruct):
    display_name: str
    quantity: int = msgspec.field(default=1)


@post("/things")
async def create_thing(data: Annotated[Thing, Body()]) -> Thing:
    return data


@get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@get("/refused")
async def refused() -> None:
    raise AppError(ErrorCode.CAPABILITY_DISABLED, details={"capability": "afip"})


def _client() -> httpx.AsyncClient:
    app = Litestar(
        [create_thing, boom, refused], exception_handlers=EXCEPTION_HANDLERS, before_send=[echo_trace_header]
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_camel_case_on_the_wire() -> None:
    async with _client() as client:
        response = await client.post("/things", json={"displayName": "Caño", "quantity": 2})
    assert response.status_code == 201
    assert response.json() == {"displayName": "Caño", "quantity": 2}


async def test_invalid_input_is_422_naming_the_field() -> None:
    async with _client() as client:
        response = await client.post("/things", json={"displayName": "x", "quantity": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert "quantity" in body["message"]
    assert set(body) == {"code", "message", "details", "traceId"}
    assert body["traceId"] == response.headers["x-request-id"]


async def test_malformed_json_is_400() -> None:
    async with _client() as client:
        response = await client.post("/things", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


async def test_unexpected_error_is_500_without_internals() -> None:
    async with _client() as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_app_error_uses_catalogue_status_and_details() -> None:
    async with _client() as client:
        response = await client.get("/refused")
    assert response.status_code == 503
    assert response.json()["details"] == {"capability": "afip"}


async def test_wrong_method_is_405_in_error_shape() -> None:
    async with _client() as client:
        response = await client.delete("/things")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
