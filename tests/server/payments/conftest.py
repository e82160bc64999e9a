"""Payments tests: the app served over real HTTP on 127.0.0.1 (Mercado Pago's sandbox calls it back with
signed webhooks), the queue workers in-process, the Mercado Pago sandbox as the API and OAuth server.

``pay`` is an ``httpx.AsyncClient`` against the served app; ``issued_invoice`` makes an invoice with a CAE
(a draft through the API, then the CAE fields written as the issuing worker would: AFIP itself is
tested in tests/server/invoices).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn

from server.asgi import create_app
from server.runtime import Resources
from server.sandbox.mercadopago import RunningMercadoPagoSandbox
from server.settings import Settings
from tests.server.auth.conftest import Session, add_member, random_phone, sign_up
from tests.server.mercadopago.conftest import (  # noqa: F401  (fixtures)
    MP_CLIENT_ID,
    MP_CLIENT_SECRET,
    MP_WEBHOOK_SECRET,
    mp,
    mp_sandbox,
)

API = "/api/v1"


@pytest.fixture(name="listener")
def fixture_listener() -> Iterator[socket.socket]:
    """The app's listening socket, bound before the app starts (its port goes into the settings)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture(name="pay_settings")
def fixture_pay_settings(
    settings: Settings,
    mp: RunningMercadoPagoSandbox,  # noqa: F811  (the fixture imported above)
    listener: socket.socket,
) -> Settings:
    port = listener.getsockname()[1]
    return msgspec.structs.replace(
        settings,
        host="127.0.0.1",
        port=port,
        worker_in_process=True,
        queue_prefix=f"t{secrets.token_hex(6)}",  # queues of its own: no job of another test is swept here
        mercadopago_client_id=MP_CLIENT_ID,
        mercadopago_client_secret=MP_CLIENT_SECRET,
        mercadopago_webhook_secret=MP_WEBHOOK_SECRET,
        mercadopago_api_base=mp.url,
        mercadopago_auth_base=mp.url,
        mercadopago_timeout_seconds=5,
        public_base_url=f"http://127.0.0.1:{port}",
    )


@pytest.fixture(name="pay")
async def fixture_pay(
    pay_settings: Settings, resources: Resources, listener: socket.socket
) -> AsyncIterator[httpx.AsyncClient]:
    """The app served by uvicorn in this event loop (its lifespan starts the workers)."""
    previous = resources.settings
    resources.settings = pay_settings  # the workers read Mercado Pago's settings from here
    app = create_app(pay_settings, resources)
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the app did not start"
        await asyncio.sleep(0.02)
    try:
        # each test from its own loopback address (127.x.y.z), so per-IP sign-up limits of one never hit another
        source = f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{pay_settings.port}", timeout=30, transport=transport
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        resources.settings = previous


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "the queued work never finished"
        await asyncio.sleep(0.05)
    return result


@dataclass
class Org:
    owner: Session
    resources: Resources

    @property
    def headers(self) -> dict[str, str]:
        return self.owner.headers

    async def member(self, client: httpx.AsyncClient, role: str) -> Session:
        return await add_member(client, self.resources, self.owner, role)


async def make_org(client: httpx.AsyncClient, resources: Resources, name: str = "Refrigeración Sur SRL") -> Org:
    return Org(owner=await sign_up(client, resources, name=name), resources=resources)


async def issued_invoice(
    client: httpx.AsyncClient,
    org: Org,
    admin_conn: asyncpg.Connection,
    *,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An invoice with a CAE: a draft through the API, then the fields the AFIP worker writes on issuing."""
    customer = await ok(
        await client.post(f"{API}/customers", headers=org.headers, json={"name": "Ana Gómez", "phone": random_phone()}),
        201,
    )
    body = {
        "customerId": customer["id"],
        "lines": lines
        or [
            {"description": "Instalación de split 3000 frigorías", "quantity": "1", "unitPrice": "85000.00"},
            {"description": "Caño de cobre 1/4 (metro)", "quantity": "2", "unitPrice": "4000.00"},
        ],
    }
    draft = await ok(await client.post(f"{API}/invoices", headers=org.headers, json=body), 201)
    number = secrets.randbelow(10**6) + 1
    await admin_conn.execute(
        "UPDATE invoices SET status = 'issued', letter = 'B', receipt_type = 6, point_of_sale = 1, number = $2, "
        "issue_date = current_date, cae = '76123456789012', cae_due_date = current_date + 10, afip_result = 'A', "
        "issued_at = now() WHERE id = $1",
        draft["id"],
        number,
    )
    return await ok(await client.get(f"{API}/invoices/{draft['id']}", headers=org.headers))


async def connect_mercadopago(client: httpx.AsyncClient, org: Org) -> dict[str, Any]:
    """What the owner does: ask for the authorisation URL, accept in Mercado Pago, come back with the code."""
    start = await ok(await client.get(f"{API}/payments/mercadopago/connect", headers=org.headers))
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(start["authorizationUrl"], follow_redirects=False)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    return await ok(await client.get(f"{back.path}?{back.query}"))


async def audit_actions(admin_conn: asyncpg.Connection, entity_id: str) -> list[str]:
    rows = await admin_conn.fetch(
        "SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY seq", uuid.UUID(entity_id)
    )
    return [r["action"] for r in rows]
