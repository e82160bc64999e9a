"""Padrón A5: the real zeep client against the AFIP sandbox on a real 127.0.0.1 port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server.embedded import free_port
from server.integrations.afip.errors import AfipPermanentError, AfipTimeoutAfterSend, AfipTransientError
from server.integrations.afip.padron import PadronClient, PersonKind
from server.integrations.afip.wsfe import Auth
from server.sandbox.afip import padron as known
from server.sandbox.afip.app import RunningAfipSandbox, start_afip_sandbox
from shared.fiscal.cuit import is_valid_cuit, make_cuit
from shared.fiscal.iva import IvaCondition

ORG_CUIT = "20267565393"
AUTH = Auth("tok-padron", "sig-padron", ORG_CUIT)


def ticket_check(token: str, sign: str, service: str) -> str | None:
    ok = (token, sign, service) == ("tok-padron", "sig-padron", "ws_sr_constancia_inscripcion")
    return ORG_CUIT if ok else None


@pytest.fixture(name="afip", scope="module")
def fixture_afip() -> Iterator[RunningAfipSandbox]:
    with start_afip_sandbox("127.0.0.1", free_port(), ticket_check=ticket_check) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(afip: RunningAfipSandbox) -> None:
    afip.sandbox.padron.reset()


@pytest.fixture(name="padron")
async def fixture_padron(afip: RunningAfipSandbox):
    async with PadronClient(afip.padron_url, timeout=5.0) as client:
        yield client


def test_the_known_cuits_have_valid_check_digits() -> None:
    for cuit in (known.RI_COMPANY, known.MONOTRIBUTISTA, known.EXENTO, known.CONSUMIDOR_FINAL):
        assert is_valid_cuit(cuit), cuit


async def test_dummy(padron: PadronClient) -> None:
    assert await padron.dummy()


async def test_responsable_inscripto_company(padron: PadronClient) -> None:
    persona = await padron.get_persona(AUTH, "30-71234567-1")  # formatted input is fine
    assert persona is not None
    assert persona.cuit == known.RI_COMPANY
    assert persona.name == "CLIMATIZACION DEL SUR S.A."
    assert persona.kind is PersonKind.COMPANY
    assert persona.iva_condition is IvaCondition.RESPONSABLE_INSCRIPTO
    assert persona.address is not None
    assert persona.address.street == "AV. SAN JUAN 2450 PISO 3"
    assert persona.address.postal_code == "1232"
    assert "CIUDAD AUTONOMA BUENOS AIRES" in persona.address.one_line
    assert persona.activities == ((432200, "INSTALACIONES DE GAS, AGUA, SANITARIOS Y DE CLIMATIZACIÓN"),)
    assert persona.active


async def test_monotributista_person(padron: PadronClient) -> None:
    persona = await padron.get_persona(AUTH, known.MONOTRIBUTISTA)
    assert persona is not None
    assert persona.kind is PersonKind.PERSON
    assert persona.name == "GÓMEZ JUAN CARLOS"
    assert persona.iva_condition is IvaCondition.MONOTRIBUTISTA
    assert persona.address is not None and persona.address.locality == "LA PLATA"
    assert (432110, "INSTALACIONES ELÉCTRICAS") in persona.activities


async def test_exento(padron: PadronClient) -> None:
    persona = await padron.get_persona(AUTH, known.EXENTO)
    assert persona is not None
    assert persona.iva_condition is IvaCondition.EXENTO
    assert persona.name == "FUNDACION MANOS UNIDAS"


async def test_person_without_iva_is_consumidor_final(padron: PadronClient) -> None:
    persona = await padron.get_persona(AUTH, known.CONSUMIDOR_FINAL)
    assert persona is not None
    assert persona.iva_condition is IvaCondition.CONSUMIDOR_FINAL
    assert persona.name == "FERNÁNDEZ MARÍA LAURA"


async def test_unknown_cuit_is_none(padron: PadronClient) -> None:
    unknown = make_cuit("20", "11222334")
    assert is_valid_cuit(unknown)
    assert await padron.get_persona(AUTH, unknown) is None


async def test_cuit_with_a_wrong_check_digit_is_refused_before_asking(padron: PadronClient) -> None:
    with pytest.raises(AfipPermanentError) as caught:
        await padron.get_persona(AUTH, "20267565392")
    assert "dígito verificador" in str(caught.value)


async def test_bad_ticket_is_transient(padron: PadronClient) -> None:
    with pytest.raises(AfipTransientError):
        await padron.get_persona(Auth("old", "old", ORG_CUIT), known.RI_COMPANY)


async def test_server_errors_and_lost_answers(afip: RunningAfipSandbox, padron: PadronClient) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{afip.url}/_sandbox/faults", json={"service": "padron", "kind": "http_error", "status": 503}
        )
    assert answer.status_code == 200
    with pytest.raises(AfipTransientError) as unavailable:
        await padron.get_persona(AUTH, known.RI_COMPANY)
    assert not isinstance(unavailable.value, AfipTimeoutAfterSend)
    afip.sandbox.padron.faults.timeout_next(1, "getPersona", seconds=2.0)
    async with PadronClient(afip.padron_url, timeout=0.3) as impatient:
        with pytest.raises(AfipTransientError):
            await impatient.get_persona(AUTH, known.RI_COMPANY)
    # and then it answers again
    persona = await padron.get_persona(AUTH, known.RI_COMPANY)
    assert persona is not None and persona.iva_condition is IvaCondition.RESPONSABLE_INSCRIPTO
