"""POST /organization/padron-refresh: the organisation's own data from AFIP's padrón, audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.domain.afip_padron.services import cache_key
from server.runtime import Resources
from server.sandbox.afip.app import RunningAfipSandbox
from server.sandbox.afip.padron import SandboxPersona
from tests.server.afip_padron.conftest import CallCounter
from tests.server.auth.conftest import add_member, sign_up
from tests.server.invoices.conftest import AfipOrg, make_afip_org

API = "/api/v1"
REFRESH = f"{API}/organization/padron-refresh"


def body_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def registered_as_monotributista(cuit: str, **fields: Any) -> SandboxPersona:
    values: dict[str, Any] = {
        "cuit": cuit,
        "kind": "FISICA",
        "apellido": "PEREYRA",
        "nombre": "LUCÍA",
        "direccion": "MITRE 1550",
        "localidad": "MAR DEL PLATA",
        "cod_postal": "7600",
        "id_provincia": 1,
        "provincia": "BUENOS AIRES",
        "monotributo": ("C", 20),
        "actividades": [(432110, "INSTALACIONES ELÉCTRICAS")],
    }
    return SandboxPersona(**{**values, **fields})


@pytest.fixture(name="org")
async def fixture_org(afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox) -> AfipOrg:
    # signed up as "Climatización Norte SRL", responsable inscripto, "Av. Cabildo 2040, CABA"
    return await make_afip_org(afip_client, resources, afip)


async def test_refresh_fills_name_address_and_iva_condition_and_audits_it(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox
) -> None:
    afip.sandbox.padron.add_persona(registered_as_monotributista(org.cuit))
    settings = body_of(await afip_client.post(REFRESH, headers=org.headers))
    assert settings["name"] == "PEREYRA LUCÍA"
    assert settings["ivaCondition"] == "monotributista"
    assert settings["address"] == "MITRE 1550, MAR DEL PLATA, BUENOS AIRES (7600)"
    assert settings["cuit"] == org.cuit
    assert settings["defaultPointOfSale"] == 1 and settings["grossIncomeNumber"] == "901-123456-7"  # untouched

    stored = body_of(await afip_client.get(f"{API}/organization", headers=org.headers))
    assert stored == settings

    audit = body_of(
        await afip_client.get(
            f"{API}/audit", headers=org.headers, params={"entityType": "organization", "entityId": org.owner.org_id}
        )
    )
    entry = audit["items"][0]
    assert entry["action"] == "organization.padron_refreshed"
    assert entry["actorId"] == org.owner.user_id
    assert entry["before"] == {
        "name": "Climatización Norte SRL",
        "ivaCondition": "responsable_inscripto",
        "address": "Av. Cabildo 2040, CABA",
    }
    assert entry["after"]["name"] == "PEREYRA LUCÍA"
    assert entry["after"]["ivaCondition"] == "monotributista"
    assert entry["after"]["source"] == "afip_padron"
    assert body_of(await afip_client.get(f"{API}/audit/verify", headers=org.headers))["ok"] is True


async def test_refresh_asks_afip_now_even_with_a_cached_answer(
    afip_client: httpx.AsyncClient,
    org: AfipOrg,
    afip: RunningAfipSandbox,
    resources: Resources,
    padron_calls: CallCounter,
) -> None:
    afip.sandbox.padron.add_persona(registered_as_monotributista(org.cuit))
    looked_up = body_of(await afip_client.get(f"{API}/afip/padron/{org.cuit}", headers=org.headers))
    assert looked_up["ivaCondition"] == "monotributista"
    # the owner registered in IVA at AFIP this morning: the refresh must not serve yesterday's answer
    afip.sandbox.padron.add_persona(
        registered_as_monotributista(org.cuit, monotributo=None, impuestos=[(30, "IVA"), (11, "GANANCIAS")])
    )
    calls = padron_calls.count
    settings = body_of(await afip_client.post(REFRESH, headers=org.headers))
    assert padron_calls.count == calls + 1
    assert settings["ivaCondition"] == "responsable_inscripto"
    # and the fresh answer replaces the cached one for everyone's lookups
    again = body_of(await afip_client.get(f"{API}/afip/padron/{org.cuit}", headers=org.headers))
    assert again["ivaCondition"] == "responsable_inscripto"
    assert padron_calls.count == calls + 1
    assert await resources.redis.get(cache_key(org.cuit)) is not None


async def test_refresh_of_a_cuit_afip_does_not_know_changes_nothing(
    afip_client: httpx.AsyncClient, org: AfipOrg
) -> None:
    before = body_of(await afip_client.get(f"{API}/organization", headers=org.headers))
    error = body_of(await afip_client.post(REFRESH, headers=org.headers), 404)
    assert error["code"] == "padron_cuit_not_found"
    assert "CUIT de la organización" in error["message"]
    assert body_of(await afip_client.get(f"{API}/organization", headers=org.headers)) == before


async def test_refresh_while_afip_is_down_is_503_and_changes_nothing(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox
) -> None:
    afip.sandbox.padron.add_persona(registered_as_monotributista(org.cuit))
    afip.sandbox.padron.faults.http_error_next(1, status=502)
    before = body_of(await afip_client.get(f"{API}/organization", headers=org.headers))
    response = await afip_client.post(REFRESH, headers=org.headers)
    assert body_of(response, 503)["code"] == "padron_unavailable"
    assert response.headers["Retry-After"]
    assert body_of(await afip_client.get(f"{API}/organization", headers=org.headers)) == before


async def test_refresh_without_certificate_is_409(afip_client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(afip_client, resources, name="Recién Llegado SRL")
    error = body_of(await afip_client.post(REFRESH, headers=owner.headers), 409)
    assert error["code"] == "padron_not_configured"
    assert "Configuración > AFIP" in error["message"]


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("dispatcher", 403), ("technician", 403)])
async def test_only_owner_and_admin_refresh(
    afip_client: httpx.AsyncClient,
    org: AfipOrg,
    afip: RunningAfipSandbox,
    resources: Resources,
    role: str,
    status: int,
) -> None:
    afip.sandbox.padron.add_persona(registered_as_monotributista(org.cuit))
    member = await add_member(afip_client, resources, org.owner, role)
    body = body_of(await afip_client.post(REFRESH, headers=member.headers), status)
    if status == 403:
        assert body["code"] == "permission_denied"
        settings = body_of(await afip_client.get(f"{API}/organization", headers=org.headers))
        assert settings["name"] == "Climatización Norte SRL"
    else:
        assert body["name"] == "PEREYRA LUCÍA"
