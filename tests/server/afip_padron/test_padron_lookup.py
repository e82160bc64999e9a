"""GET /afip/padron/{cuit}: the real app, the real padrón client, the AFIP sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import uuid
from typing import Any

import httpx
import pytest

from server.domain.afip_padron.services import CACHE_SECONDS, cache_key
from server.runtime import Resources
from server.sandbox.afip import padron as known
from server.sandbox.afip.app import RunningAfipSandbox
from shared.capabilities import Capability
from shared.fiscal.cuit import make_cuit
from tests.server.afip_padron.conftest import CallCounter
from tests.server.auth.conftest import add_member, random_phone, sign_up
from tests.server.invoices.conftest import AfipOrg, make_afip_org

API = "/api/v1"
PADRON = f"{API}/afip/padron"
UNKNOWN_CUIT = make_cuit("20", "11222334")  # valid check digit, not in the sandbox's padrón


async def lookup(client: httpx.AsyncClient, org: AfipOrg, cuit: str) -> httpx.Response:
    return await client.get(f"{PADRON}/{cuit}", headers=org.headers)


def body_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(name="org")
async def fixture_org(afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox) -> AfipOrg:
    return await make_afip_org(afip_client, resources, afip)


EXPECTED: dict[str, dict[str, Any]] = {
    known.RI_COMPANY: {
        "name": "CLIMATIZACION DEL SUR S.A.",
        "kind": "company",
        "kindLabel": "Persona jurídica",
        "ivaCondition": "responsable_inscripto",
        "street": "AV. SAN JUAN 2450 PISO 3",
        "city": "CIUDAD AUTONOMA BUENOS AIRES",
        "postalCode": "1232",
        "activity": 432200,
    },
    known.MONOTRIBUTISTA: {
        "name": "GÓMEZ JUAN CARLOS",
        "kind": "person",
        "kindLabel": "Persona física",
        "ivaCondition": "monotributista",
        "street": "CALLE 12 1345",
        "city": "LA PLATA",
        "postalCode": "1900",
        "activity": 432110,
    },
    known.EXENTO: {
        "name": "FUNDACION MANOS UNIDAS",
        "kind": "company",
        "kindLabel": "Persona jurídica",
        "ivaCondition": "exento",
        "street": "BV. SAN JUAN 880",
        "city": "CORDOBA",
        "postalCode": "5000",
        "activity": 949990,
    },
    known.CONSUMIDOR_FINAL: {
        "name": "FERNÁNDEZ MARÍA LAURA",
        "kind": "person",
        "kindLabel": "Persona física",
        "ivaCondition": "consumidor_final",
        "street": "ITUZAINGO 455",
        "city": "ROSARIO",
        "postalCode": "2000",
        "activity": None,
    },
}


@pytest.mark.parametrize("cuit", list(EXPECTED))
async def test_each_known_cuit_gives_a_customer_ready_to_create(
    afip_client: httpx.AsyncClient, org: AfipOrg, cuit: str
) -> None:
    want = EXPECTED[cuit]
    person = body_of(await lookup(afip_client, org, f"{cuit[:2]}-{cuit[2:10]}-{cuit[10]}"))  # as people type it
    assert person["cuit"] == cuit
    assert person["name"] == want["name"]
    assert person["kind"] == want["kind"] and person["kindLabel"] == want["kindLabel"]
    assert person["ivaCondition"] == want["ivaCondition"]
    assert person["active"] is True
    assert person["address"]["street"] == want["street"]
    assert person["address"]["city"] == want["city"]
    assert person["address"]["postalCode"] == want["postalCode"]
    assert person["address"]["province"]
    ids = [a["id"] for a in person["activities"]]
    assert ids == ([want["activity"]] if want["activity"] else [])

    draft = person["customerDraft"]
    assert draft["docType"] == "cuit" and draft["docNumber"] == cuit
    created = body_of(
        await afip_client.post(f"{API}/customers", headers=org.headers, json={**draft, "phone": random_phone()}),
        201,
    )
    assert created["name"] == want["name"]
    assert created["docType"] == "cuit" and created["docNumber"] == cuit
    assert created["ivaCondition"] == want["ivaCondition"]  # AFIP's, not the guess from the CUIT prefix
    [address] = created["addresses"]
    assert address["street"] == want["street"] and address["postalCode"] == want["postalCode"]
    assert address["label"] == "Domicilio fiscal" and address["isDefault"] is True


async def test_unknown_cuit_is_404_in_spanish_and_not_cached(
    afip_client: httpx.AsyncClient, org: AfipOrg, resources: Resources, padron_calls: CallCounter
) -> None:
    error = body_of(await lookup(afip_client, org, UNKNOWN_CUIT), 404)
    assert error["code"] == "padron_cuit_not_found"
    assert "AFIP no tiene el CUIT 20-11222334-" in error["message"]
    assert await resources.redis.get(cache_key(UNKNOWN_CUIT)) is None
    # not remembered: asking again reaches AFIP again (it may have been registered meanwhile)
    before = padron_calls.count
    body_of(await lookup(afip_client, org, UNKNOWN_CUIT), 404)
    assert padron_calls.count == before + 1


@pytest.mark.parametrize(
    ("raw", "problem", "words"),
    [
        ("30712345672", "check_digit", "dígito verificador"),
        ("3071234567", "length", "11 dígitos"),
        ("99712345671", "prefix", "debe empezar con"),
    ],
)
async def test_invalid_cuit_is_422_naming_the_problem_without_asking_afip(
    afip_client: httpx.AsyncClient, org: AfipOrg, padron_calls: CallCounter, raw: str, problem: str, words: str
) -> None:
    error = body_of(await lookup(afip_client, org, raw), 422)
    assert error["code"] == "cuit_invalid"
    assert words in error["message"]
    assert error["details"] == [{"key": "cuit", "problem": problem}]
    assert padron_calls.count == 0


async def test_org_without_certificate_is_told_to_set_it_up(
    afip_client: httpx.AsyncClient, resources: Resources, padron_calls: CallCounter
) -> None:
    owner = await sign_up(afip_client, resources, name="Sin Certificado SRL")
    response = await afip_client.get(f"{PADRON}/{known.RI_COMPANY}", headers=owner.headers)
    error = body_of(response, 409)
    assert error["code"] == "padron_not_configured"
    assert "certificado de AFIP" in error["message"] and "Configuración > AFIP" in error["message"]
    assert error["details"] == {"reason": "afip.credentials_missing"}
    assert padron_calls.count == 0


async def test_afip_failing_is_503_with_retry_after_and_nothing_cached(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox, resources: Resources
) -> None:
    afip.sandbox.padron.faults.http_error_next(1, status=503)
    response = await lookup(afip_client, org, known.EXENTO)
    error = body_of(response, 503)
    assert error["code"] == "padron_unavailable"
    assert "AFIP no responde" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert await resources.redis.get(cache_key(known.EXENTO)) is None
    # AFIP is back: the same question is answered (and only now remembered)
    assert body_of(await lookup(afip_client, org, known.EXENTO))["ivaCondition"] == "exento"
    assert await resources.redis.get(cache_key(known.EXENTO)) is not None


async def test_afip_not_answering_in_time_is_503(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox, resources: Resources
) -> None:
    afip.sandbox.padron.faults.timeout_next(1, "getPersona", seconds=4.0)
    response = await lookup(afip_client, org, known.MONOTRIBUTISTA)
    assert body_of(response, 503)["code"] == "padron_unavailable"
    assert response.headers["Retry-After"]
    assert await resources.redis.get(cache_key(known.MONOTRIBUTISTA)) is None


async def test_an_afip_error_fault_is_503_too(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox
) -> None:
    afip.sandbox.padron.faults.afip_error_next(1, code=500, message="Error interno de la base de datos")
    response = await lookup(afip_client, org, known.RI_COMPANY)
    assert body_of(response, 503)["code"] == "padron_unavailable"


async def test_a_cached_answer_does_not_ask_afip_again_for_any_organisation(
    afip_client: httpx.AsyncClient,
    org: AfipOrg,
    afip: RunningAfipSandbox,
    resources: Resources,
    padron_calls: CallCounter,
) -> None:
    first = body_of(await lookup(afip_client, org, known.RI_COMPANY))
    assert padron_calls.count == 1
    ttl = await resources.redis.ttl(cache_key(known.RI_COMPANY))
    assert CACHE_SECONDS - 60 < ttl <= CACHE_SECONDS
    again = body_of(await lookup(afip_client, org, known.RI_COMPANY))
    assert again == first
    # public registry data: another organisation gets the same answer without a new question to AFIP
    other = await make_afip_org(afip_client, resources, afip)
    assert body_of(await lookup(afip_client, other, known.RI_COMPANY)) == first
    assert padron_calls.count == 1


async def test_afip_switched_off_is_503_with_retry_after(
    afip_client: httpx.AsyncClient, org: AfipOrg, resources: Resources, padron_calls: CallCounter
) -> None:
    org_id = org.owner.org_id
    await resources.capabilities.set_org_override(
        resources.sessionmaker, uuid.UUID(org_id), Capability.AFIP, False, reason="mantenimiento"
    )
    try:
        response = await lookup(afip_client, org, known.RI_COMPANY)
        error = body_of(response, 503)
        assert error["code"] == "capability_disabled"
        assert "padrón de AFIP está desactivada" in error["message"] and "mantenimiento" in error["message"]
        assert int(response.headers["Retry-After"]) > 0
        assert padron_calls.count == 0
    finally:
        await resources.capabilities.clear_org_override(resources.sessionmaker, uuid.UUID(org_id), Capability.AFIP)
    assert body_of(await lookup(afip_client, org, known.RI_COMPANY))["cuit"] == known.RI_COMPANY


@pytest.mark.parametrize(("role", "status"), [("technician", 403), ("accountant", 403), ("dispatcher", 200)])
async def test_who_may_look_up(
    afip_client: httpx.AsyncClient, org: AfipOrg, resources: Resources, role: str, status: int
) -> None:
    member = await add_member(afip_client, resources, org.owner, role)
    response = await afip_client.get(f"{PADRON}/{known.MONOTRIBUTISTA}", headers=member.headers)
    body = body_of(response, status)
    if status == 403:
        assert body["code"] == "permission_denied"
    else:
        assert body["ivaCondition"] == "monotributista"


async def test_lookup_needs_a_session(afip_client: httpx.AsyncClient) -> None:
    response = await afip_client.get(f"{PADRON}/{known.RI_COMPANY}")
    assert response.status_code == 401


async def test_logs_never_carry_the_full_cuit(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox
) -> None:
    root = logging.getLogger()
    handler = next(h for h in root.handlers if getattr(h, "_campotech", False))
    stream, level = io.StringIO(), root.level
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    root.setLevel(logging.INFO)
    try:
        afip.sandbox.padron.faults.http_error_next(1, status=500)
        assert (await lookup(afip_client, org, known.EXENTO)).status_code == 503
        assert (await lookup(afip_client, org, known.EXENTO)).status_code == 200
        assert (await lookup(afip_client, org, UNKNOWN_CUIT)).status_code == 404
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        root.setLevel(level)
    logged = stream.getvalue()
    assert "afip padron unavailable" in logged  # the failure is logged …
    assert "30-********-5" in logged  # … with the CUIT masked
    assert known.EXENTO not in logged and UNKNOWN_CUIT not in logged


async def test_openapi_documents_the_lookup(afip_client: httpx.AsyncClient) -> None:
    spec = (await afip_client.get("/schema/openapi.json")).json()
    operation = spec["paths"]["/api/v1/afip/padron/{cuit}"]["get"]
    assert operation["operationId"] == "LookupAfipPadron"
    assert {"200", "404", "409", "422", "503"} <= set(operation["responses"])
    assert "padron_not_configured" in operation["responses"]["409"]["description"]
    schema = spec["components"]["schemas"]["PadronPerson"]
    assert {"customerDraft", "ivaCondition", "address", "activities", "kind"} <= set(schema["properties"])
    refresh = spec["paths"]["/api/v1/organization/padron-refresh"]["post"]
    assert refresh["operationId"] == "RefreshOrganizationFromPadron"


async def test_a_ticket_afip_stopped_accepting_is_renewed_once(
    afip_client: httpx.AsyncClient, org: AfipOrg, afip: RunningAfipSandbox, padron_calls: CallCounter
) -> None:
    body_of(await lookup(afip_client, org, known.EXENTO))  # a ticket is obtained and stored
    # AFIP ends the ticket early: it still looks valid here, the padrón refuses it
    wsaa = afip.sandbox.wsaa
    assert wsaa is not None and wsaa.expire_tickets(org.cuit) >= 1
    person = body_of(await lookup(afip_client, org, known.MONOTRIBUTISTA))
    assert person["ivaCondition"] == "monotributista"
    assert padron_calls.count == 3  # the refused question and the one with the new ticket
    # still refused with a ticket AFIP says is live: the person is told to retry later, not shown a 500
    afip.sandbox.padron.faults.afip_error_next(2, message=known.BAD_TICKET, operation="getPersona")
    response = await lookup(afip_client, org, known.CONSUMIDOR_FINAL)
    assert body_of(response, 503)["code"] == "padron_unavailable"
    assert response.headers["Retry-After"]
