"""Invoice tests: the app pointed at a real AFIP sandbox on 127.0.0.1, with the queue workers in-process.

``afip_org`` is an organisation as a new user sets it up: owner signs up, fills in the IVA condition and
point of sale, generates key + CSR in the app, has the CSR signed (the sandbox CA plays AFIP's portal) and
uploads the certificate. Everything after that goes through the real WSAA/WSFEv1 clients over HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from server.asgi import create_app
from server.runtime import Resources
from server.sandbox.afip.app import RunningAfipSandbox, start_afip_sandbox
from server.settings import Settings
from tests.conftest import running
from tests.server.auth.conftest import Session, random_phone, sign_up

API = "/api/v1"


@pytest.fixture(name="afip_sandbox", scope="session")
def fixture_afip_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAfipSandbox]:
    sandbox = start_afip_sandbox("127.0.0.1", data_dir=tmp_path_factory.mktemp("afip-sandbox"))
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(name="afip")
def fixture_afip(afip_sandbox: RunningAfipSandbox) -> Iterator[RunningAfipSandbox]:
    """The session's sandbox with no faults left over from another test."""
    afip_sandbox.sandbox.wsfe.faults.clear()
    yield afip_sandbox
    afip_sandbox.sandbox.wsfe.faults.clear()


@pytest.fixture(name="afip_settings")
def fixture_afip_settings(settings: Settings, afip: RunningAfipSandbox, tmp_path: Path) -> Settings:
    return msgspec.structs.replace(
        settings,
        worker_in_process=True,
        queue_prefix=f"t{secrets.token_hex(6)}",  # queues of its own: no job of another test is swept here
        storage_dir=tmp_path / "files",
        afip_wsaa_url=afip.wsaa_url,
        afip_wsfe_url=afip.wsfe_url,
        afip_padron_url=afip.padron_url,
        afip_timeout_seconds=2,
    )


@pytest.fixture(name="afip_client")
async def fixture_afip_client(afip_settings: Settings, resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    resources.settings = afip_settings  # the workers read the AFIP addresses from here
    app: Litestar = create_app(afip_settings, resources)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    gateway = resources.extras.pop("afip_gateway", None)
    if gateway is not None:
        await gateway.aclose()


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
class AfipOrg:
    owner: Session
    cuit: str

    @property
    def headers(self) -> dict[str, str]:
        return self.owner.headers


async def make_afip_org(
    client: httpx.AsyncClient,
    resources: Resources,
    afip: RunningAfipSandbox,
    *,
    iva_condition: str = "responsable_inscripto",
    point_of_sale: int = 1,
) -> AfipOrg:
    owner = await sign_up(client, resources, name="Climatización Norte SRL")
    org = await ok(
        await client.patch(
            f"{API}/organization",
            headers=owner.headers,
            json={
                "ivaCondition": iva_condition,
                "defaultPointOfSale": point_of_sale,
                "address": "Av. Cabildo 2040, CABA",
                "grossIncomeNumber": "901-123456-7",
                "activityStartDate": "2019-03-01",
            },
        )
    )
    credential = await ok(
        await client.post(f"{API}/afip/credentials", headers=owner.headers, json={"alias": "ct"}), 201
    )
    csr = await client.get(f"{API}/afip/credentials/{credential['id']}/csr", headers=owner.headers)
    assert csr.status_code == 200, csr.text
    ca = afip.sandbox.wsaa.ca
    certificate = ca.sign_csr(csr.content)
    await ok(
        await client.post(
            f"{API}/afip/credentials/{credential['id']}/certificate",
            headers={**owner.headers, "Content-Type": "application/x-pem-file"},
            content=certificate,
        )
    )
    return AfipOrg(owner=owner, cuit=org["cuit"])


async def make_customer(client: httpx.AsyncClient, org: AfipOrg, **fields: Any) -> dict[str, Any]:
    body = {"name": "Ana Gómez", "phone": random_phone(), **fields}
    return await ok(await client.post(f"{API}/customers", headers=org.headers, json=body), 201)


async def make_draft(client: httpx.AsyncClient, org: AfipOrg, customer_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "customerId": customer_id,
        "lines": [
            {"description": "Instalación de split 3000 frigorías", "quantity": "1", "unitPrice": "85000.00"},
            {"description": "Caño de cobre 1/4 (metro)", "quantity": "3.5", "unitPrice": "4200.50", "ivaRate": "10.5"},
        ],
        **fields,
    }
    return await ok(await client.post(f"{API}/invoices", headers=org.headers, json=body), 201)


async def issued(client: httpx.AsyncClient, org: AfipOrg, invoice_id: str, seconds: float = 20.0) -> dict[str, Any]:
    """Poll the invoice until the afip queue settled it (issued, or back to draft)."""

    async def settled() -> dict[str, Any] | None:
        body = await ok(await client.get(f"{API}/invoices/{invoice_id}", headers=org.headers))
        return body if body["status"] != "pending_cae" else None

    return await until(settled, seconds)  # type: ignore[no-any-return]
