"""WSFEv1: the real zeep client against the AFIP sandbox on a real 127.0.0.1 port.

Auth goes through a fixed-token ``ticket_check`` here; the WSAA chain has its own test at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from server.embedded import free_port
from server.integrations.afip.errors import (
    AfipPermanentError,
    AfipTimeoutAfterSend,
    AfipTransientError,
)
from server.integrations.afip.wsfe import AlicIva, Auth, CaeRequest, CbteAsoc, WsfeClient
from server.sandbox.afip.app import RunningAfipSandbox, start_afip_sandbox
from server.sandbox.afip.wsfe import today_in_argentina

ISSUER = "30712345671"  # responsable inscripto
MONO_ISSUER = "20287654325"  # monotributista
CUSTOMER_RI = 30709998885
TOKENS = {("tok-ri", "sig-ri"): ISSUER, ("tok-mono", "sig-mono"): MONO_ISSUER}
AUTH = Auth("tok-ri", "sig-ri", ISSUER)
MONO_AUTH = Auth("tok-mono", "sig-mono", MONO_ISSUER)
D = Decimal


def ticket_check(token: str, sign: str, service: str) -> str | None:
    return TOKENS.get((token, sign)) if service == "wsfe" else None


@pytest.fixture(name="afip", scope="module")
def fixture_afip() -> Iterator[RunningAfipSandbox]:
    with start_afip_sandbox("127.0.0.1", free_port(), ticket_check=ticket_check) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(afip: RunningAfipSandbox) -> None:
    afip.sandbox.wsfe.reset()


@pytest.fixture(name="wsfe")
async def fixture_wsfe(afip: RunningAfipSandbox):
    async with WsfeClient(afip.wsfe_url, timeout=5.0) as client:
        yield client


def today() -> date:
    return today_in_argentina()


def invoice_a(number: int, **changes) -> CaeRequest:
    """Factura A for services, 100 + 21% IVA to a responsable inscripto."""
    base = CaeRequest(
        pto_vta=1,
        cbte_tipo=1,
        concepto=2,
        doc_tipo=80,
        doc_nro=CUSTOMER_RI,
        number=number,
        cbte_fch=today(),
        imp_total=D("121.00"),
        imp_tot_conc=D("0"),
        imp_neto=D("100.00"),
        imp_op_ex=D("0"),
        imp_trib=D("0"),
        imp_iva=D("21.00"),
        fch_serv_desde=today() - timedelta(days=3),
        fch_serv_hasta=today(),
        fch_vto_pago=today() + timedelta(days=10),
        condicion_iva_receptor_id=1,
        iva=(AlicIva(5, D("100.00"), D("21.00")),),
    )
    return replace(base, **changes)


def invoice_b_consumidor_final(number: int) -> CaeRequest:
    """Factura B of products to an unidentified consumidor final: 1000 at 21% and 200 at 10.5%."""
    return CaeRequest(
        pto_vta=2,
        cbte_tipo=6,
        concepto=1,
        doc_tipo=99,
        doc_nro=0,
        number=number,
        cbte_fch=today(),
        imp_total=D("1431.00"),
        imp_tot_conc=D("0"),
        imp_neto=D("1200.00"),
        imp_op_ex=D("0"),
        imp_trib=D("0"),
        imp_iva=D("231.00"),
        condicion_iva_receptor_id=5,
        iva=(AlicIva(5, D("1000.00"), D("210.00")), AlicIva(4, D("200.00"), D("21.00"))),
    )


def invoice_c(number: int) -> CaeRequest:
    """Factura C by a monotributista to a consumidor final with DNI: no IVA array, ImpIVA 0."""
    return CaeRequest(
        pto_vta=1,
        cbte_tipo=11,
        concepto=2,
        doc_tipo=96,
        doc_nro=28765432,
        number=number,
        cbte_fch=today(),
        imp_total=D("45000.00"),
        imp_tot_conc=D("0"),
        imp_neto=D("45000.00"),
        imp_op_ex=D("0"),
        imp_trib=D("0"),
        imp_iva=D("0"),
        fch_serv_desde=today(),
        fch_serv_hasta=today(),
        fch_vto_pago=today(),
        condicion_iva_receptor_id=5,
    )


async def test_dummy_reports_every_server_ok(wsfe: WsfeClient) -> None:
    status = await wsfe.dummy()
    assert status.ok
    assert (status.app_server, status.db_server, status.auth_server) == ("OK", "OK", "OK")


async def test_last_number_starts_at_zero_and_follows_issuance(wsfe: WsfeClient) -> None:
    assert await wsfe.last_authorized(AUTH, 1, 1) == 0
    first = await wsfe.request_cae(AUTH, invoice_a(1))
    assert first.approved
    assert await wsfe.last_authorized(AUTH, 1, 1) == 1
    # numbering is per point of sale and receipt type
    assert await wsfe.last_authorized(AUTH, 2, 1) == 0
    assert await wsfe.last_authorized(AUTH, 1, 6) == 0


async def test_invoice_a_gets_a_cae_and_query_returns_afips_record(afip: RunningAfipSandbox, wsfe: WsfeClient) -> None:
    result = await wsfe.request_cae(AUTH, invoice_a(1))

    assert result.resultado == "A"
    assert result.approved
    assert result.number == 1
    assert result.cae is not None and len(result.cae) == 14 and result.cae.isdigit()
    assert result.cae_due == today() + timedelta(days=10)
    assert result.errors == () and result.observations == ()

    stored = await wsfe.query(AUTH, 1, 1, 1)
    assert stored is not None
    assert stored.cae == result.cae
    assert stored.cae_due == result.cae_due
    assert (stored.imp_total, stored.imp_neto, stored.imp_iva) == (D("121.00"), D("100.00"), D("21.00"))
    assert stored.iva == (AlicIva(5, D("100.00"), D("21.00")),)
    assert stored.condicion_iva_receptor_id == 1  # the RG 5616 field travels and comes back
    assert stored.doc_nro == CUSTOMER_RI
    assert stored.cbte_fch == today()

    # the sandbox lists what it issued, over HTTP
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{afip.url}/_sandbox/receipts", params={"cuit": ISSUER, "ptoVta": 1})
    listed = answer.json()["receipts"]
    assert [(r["cbteTipo"], r["number"], r["cae"]) for r in listed] == [(1, 1, result.cae)]


async def test_query_of_a_number_never_authorised_is_none(wsfe: WsfeClient) -> None:
    assert await wsfe.query(AUTH, 1, 1, 7) is None


async def test_invoice_b_to_consumidor_final_with_two_rates(wsfe: WsfeClient) -> None:
    result = await wsfe.request_cae(AUTH, invoice_b_consumidor_final(1))
    assert result.approved, result
    stored = await wsfe.query(AUTH, 2, 6, 1)
    assert stored is not None and stored.doc_tipo == 99 and stored.doc_nro == 0
    assert {a.id for a in stored.iva} == {4, 5}


async def test_invoice_c_by_a_monotributista(wsfe: WsfeClient) -> None:
    result = await wsfe.request_cae(MONO_AUTH, invoice_c(1))
    assert result.approved, result
    # the monotributista's numbering is its own
    assert await wsfe.last_authorized(MONO_AUTH, 1, 11) == 1
    assert await wsfe.last_authorized(AUTH, 1, 11) == 0


async def test_credit_note_a_names_the_invoice_it_corrects(wsfe: WsfeClient) -> None:
    invoice = await wsfe.request_cae(AUTH, invoice_a(1))
    assert invoice.approved
    note = invoice_a(1, cbte_tipo=3, cbtes_asoc=(CbteAsoc(tipo=1, pto_vta=1, number=1, cuit=ISSUER, cbte_fch=today()),))
    result = await wsfe.request_cae(AUTH, note)
    assert result.approved, result
    assert result.cae != invoice.cae
    stored = await wsfe.query(AUTH, 1, 3, 1)
    assert stored is not None
    assert stored.cbtes_asoc == (CbteAsoc(tipo=1, pto_vta=1, number=1, cuit=ISSUER, cbte_fch=today()),)


async def test_credit_note_without_or_with_an_unknown_invoice_is_rejected(wsfe: WsfeClient) -> None:
    missing = await wsfe.request_cae(AUTH, invoice_a(1, cbte_tipo=3))
    assert missing.resultado == "R" and 10040 in missing.codes and missing.cae is None
    unknown = await wsfe.request_cae(
        AUTH, invoice_a(1, cbte_tipo=3, cbtes_asoc=(CbteAsoc(tipo=1, pto_vta=1, number=99, cuit=ISSUER),))
    )
    assert unknown.resultado == "R" and 10041 in unknown.codes
    assert await wsfe.last_authorized(AUTH, 1, 3) == 0


def _bad(number: int = 1) -> dict[str, CaeRequest]:
    t = today()
    return {
        "number_not_next": invoice_a(number + 1),
        "products_date_too_old": invoice_a(
            number,
            concepto=1,
            cbte_fch=t - timedelta(days=6),
            fch_serv_desde=None,
            fch_serv_hasta=None,
            fch_vto_pago=None,
        ),
        "services_date_too_far": invoice_a(number, cbte_fch=t + timedelta(days=11)),
    }


@pytest.mark.parametrize("case", ["number_not_next", "products_date_too_old", "services_date_too_far"])
async def test_number_or_date_out_of_sequence_is_10016(wsfe: WsfeClient, case: str) -> None:
    result = await wsfe.request_cae(AUTH, _bad()[case])
    assert result.resultado == "R"
    assert [code for code, _ in result.errors] == [10016]
    assert "FECompUltimoAutorizado" in result.errors[0][1]
    assert result.cae is None
    assert await wsfe.last_authorized(AUTH, 1, 1) == 0


async def test_a_date_before_the_last_receipts_is_10016(wsfe: WsfeClient) -> None:
    assert (await wsfe.request_cae(AUTH, invoice_a(1))).approved
    earlier = await wsfe.request_cae(AUTH, invoice_a(2, cbte_fch=today() - timedelta(days=1)))
    assert [code for code, _ in earlier.errors] == [10016]


VALIDATIONS: dict[str, tuple[dict, int]] = {
    "total_is_not_the_sum": ({"imp_total": D("120.00")}, 10048),
    "iva_amounts_do_not_add_up": ({"iva": (AlicIva(5, D("100.00"), D("20.00")),)}, 10051),
    "iva_bases_do_not_add_up": ({"iva": (AlicIva(5, D("90.00"), D("21.00")),)}, 10061),
    "iva_amount_is_not_base_times_rate": (
        {"iva": (AlicIva(4, D("100.00"), D("21.00")),)},
        10062,
    ),
    "class_a_without_iva": ({"iva": ()}, 10070),
    "class_a_to_consumidor_final": ({"condicion_iva_receptor_id": 5}, 10242),
    "receptor_condition_missing": ({"condicion_iva_receptor_id": None}, 10246),
    "services_without_dates": ({"fch_serv_desde": None, "fch_serv_hasta": None}, 10035),
    "products_with_service_dates": ({"concepto": 1}, 10036),
    "class_a_with_dni": ({"doc_tipo": 96, "doc_nro": 28765432}, 10013),
    "cuit_with_bad_check_digit": ({"doc_nro": 20267565392}, 10015),
    "unknown_point_of_sale": ({"pto_vta": 77}, 10004),
}


@pytest.mark.parametrize("case", sorted(VALIDATIONS))
async def test_each_validation_rejects_with_its_code_and_keeps_the_number_free(wsfe: WsfeClient, case: str) -> None:
    changes, code = VALIDATIONS[case]
    request = invoice_a(1, **changes)
    result = await wsfe.request_cae(AUTH, request)
    assert result.resultado == "R", result
    assert code in [c for c, _ in result.observations], result
    assert result.cae is None and not result.approved
    assert all(msg for _, msg in result.observations)
    # the number is still free: the corrected invoice takes it
    assert await wsfe.last_authorized(AUTH, request.pto_vta, 1) == 0
    if request.pto_vta == 1:
        assert (await wsfe.request_cae(AUTH, invoice_a(1))).approved


B_AND_C_VALIDATIONS: dict[str, tuple[CaeRequest, Auth, int]] = {
    "class_b_to_responsable_inscripto": (
        replace(invoice_b_consumidor_final(1), condicion_iva_receptor_id=1),
        AUTH,
        10242,
    ),
    "consumidor_final_with_a_number_under_doc_99": (
        replace(invoice_b_consumidor_final(1), doc_nro=28765432),
        AUTH,
        10015,
    ),
    "class_c_with_iva": (
        replace(
            invoice_c(1), imp_total=D("45210.00"), imp_iva=D("210.00"), iva=(AlicIva(5, D("1000.00"), D("210.00")),)
        ),
        MONO_AUTH,
        10071,
    ),
}


@pytest.mark.parametrize("case", sorted(B_AND_C_VALIDATIONS))
async def test_b_and_c_validations(wsfe: WsfeClient, case: str) -> None:
    request, auth, code = B_AND_C_VALIDATIONS[case]
    result = await wsfe.request_cae(auth, request)
    assert result.resultado == "R"
    assert code in result.codes


async def test_two_hundred_concurrent_requests_get_two_hundred_consecutive_numbers(
    afip: RunningAfipSandbox, wsfe: WsfeClient
) -> None:
    lock = asyncio.Lock()
    cb_fch = today()

    async def issue() -> tuple[int, str]:
        async with lock:  # what the issuing worker does per (org, point of sale, type)
            number = await wsfe.last_authorized(AUTH, 3, 1) + 1
            result = await wsfe.request_cae(AUTH, invoice_a(number, pto_vta=3, cbte_fch=cb_fch))
        assert result.approved, result
        return result.number, result.cae or ""

    results = await asyncio.gather(*(issue() for _ in range(200)))

    numbers = sorted(n for n, _ in results)
    assert numbers == list(range(1, 201))
    assert len({cae for _, cae in results}) == 200
    assert await wsfe.last_authorized(AUTH, 3, 1) == 200
    assert [r.number for r in afip.sandbox.wsfe.receipts(ISSUER, 3, 1)] == list(range(1, 201))


async def test_without_serialisation_the_loser_gets_10016_not_a_duplicate(wsfe: WsfeClient) -> None:
    results = await asyncio.gather(*(wsfe.request_cae(AUTH, invoice_a(1)) for _ in range(5)))
    approved = [r for r in results if r.approved]
    assert len(approved) == 1
    assert all([c for c, _ in r.errors] == [10016] for r in results if not r.approved)


@pytest.mark.parametrize("mode", ["hang", "close"])
async def test_answer_lost_after_afip_issued_then_query_finds_the_cae(afip: RunningAfipSandbox, mode: str) -> None:
    afip.sandbox.wsfe.faults.timeout_next(1, "FECAESolicitar", mode=mode, seconds=3.0)
    async with WsfeClient(afip.wsfe_url, timeout=0.5) as impatient:
        with pytest.raises(AfipTimeoutAfterSend) as caught:
            await impatient.request_cae(AUTH, invoice_a(1))
        assert isinstance(caught.value, AfipTransientError)  # retryable, but ask first
        recovered = await impatient.query(AUTH, 1, 1, 1)
        assert recovered is not None and recovered.cae is not None
        # AFIP issued exactly once; the next number is 2, not 1 again
        assert [r.cae for r in afip.sandbox.wsfe.receipts(ISSUER, 1, 1)] == [recovered.cae]
        assert await impatient.last_authorized(AUTH, 1, 1) == 1


async def test_http_500_is_transient_and_issues_nothing(afip: RunningAfipSandbox, wsfe: WsfeClient) -> None:
    # the switch over HTTP, as a person driving `campotech dev` would use it
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{afip.url}/_sandbox/faults", json={"service": "wsfe", "kind": "http_error", "status": 500, "count": 1}
        )
    assert answer.status_code == 200
    with pytest.raises(AfipTransientError) as caught:
        await wsfe.request_cae(AUTH, invoice_a(1))
    assert not isinstance(caught.value, AfipTimeoutAfterSend)  # AFIP answered: nothing to recover
    assert await wsfe.last_authorized(AUTH, 1, 1) == 0
    assert (await wsfe.request_cae(AUTH, invoice_a(1))).approved


async def test_injected_afip_error_codes_are_classified(afip: RunningAfipSandbox, wsfe: WsfeClient) -> None:
    afip.sandbox.wsfe.faults.afip_error_next(1, code=501, operation="FECompUltimoAutorizado")
    with pytest.raises(AfipTransientError) as transient:
        await wsfe.last_authorized(AUTH, 1, 1)
    assert transient.value.code == 501
    afip.sandbox.wsfe.faults.afip_error_next(1, code=10016, operation="FECAESolicitar")
    rejected = await wsfe.request_cae(AUTH, invoice_a(1))
    assert rejected.resultado == "R" and [c for c, _ in rejected.errors] == [10016]


async def test_bad_ticket_is_600_transient_and_foreign_cuit_is_601_permanent(wsfe: WsfeClient) -> None:
    with pytest.raises(AfipTransientError) as expired:
        await wsfe.request_cae(Auth("stale", "stale", ISSUER), invoice_a(1))
    assert expired.value.code == 600
    with pytest.raises(AfipPermanentError) as foreign:
        await wsfe.last_authorized(Auth("tok-ri", "sig-ri", MONO_ISSUER), 1, 1)
    assert foreign.value.code == 601


async def test_latency_beyond_the_timeout_is_transient(afip: RunningAfipSandbox) -> None:
    afip.sandbox.wsfe.faults.set_latency(0.4, "FEDummy")
    async with WsfeClient(afip.wsfe_url, timeout=5.0) as patient:
        started = time.monotonic()
        assert (await patient.dummy()).ok
        assert time.monotonic() - started >= 0.4
    async with WsfeClient(afip.wsfe_url, timeout=0.1) as impatient:
        with pytest.raises(AfipTransientError):
            await impatient.dummy()


async def test_nothing_listening_is_transient_not_after_send() -> None:
    async with WsfeClient(f"http://127.0.0.1:{free_port()}/wsfev1/service.asmx", timeout=1.0) as client:
        with pytest.raises(AfipTransientError) as caught:
            await client.dummy()
    assert not isinstance(caught.value, AfipTimeoutAfterSend)


async def test_parameter_tables(wsfe: WsfeClient) -> None:
    types = {t.id for t in await wsfe.param_receipt_types(AUTH)}
    assert {1, 3, 6, 8, 11, 13} <= types
    docs = {t.id for t in await wsfe.param_doc_types(AUTH)}
    assert {80, 86, 96, 99} <= docs
    rates = {t.id: t.desc for t in await wsfe.param_iva_rates(AUTH)}
    assert rates[5] == "21%" and rates[4] == "10.5%"
    for_a = {c.id for c in await wsfe.param_receptor_conditions(AUTH, "A")}
    assert for_a == {1, 6, 13, 16}
    everything = await wsfe.param_receptor_conditions(AUTH)
    assert len(everything) == 11
    points = await wsfe.param_points_of_sale(AUTH)
    assert 1 in {p.number for p in points} and not any(p.blocked for p in points)


def test_sandbox_serves_the_rg5616_wsdl_pointing_at_itself(afip: RunningAfipSandbox) -> None:
    wsdl = httpx.get(f"{afip.wsfe_url}?WSDL").text
    assert "CondicionIVAReceptorId" in wsdl and "FEParamGetCondicionIvaReceptor" in wsdl
    assert f'location="{afip.wsfe_url}"' in wsdl
    assert "wswhomo.afip.gov.ar" not in wsdl.split("-->", 1)[1]


def test_fault_switch_refuses_a_bad_spec(afip: RunningAfipSandbox) -> None:
    answer = httpx.post(f"{afip.url}/_sandbox/faults", json={"kind": "explode"})
    assert answer.status_code == 400
    assert httpx.get(f"{afip.url}/_sandbox/faults").json() == {"wsfe": [], "padron": []}


async def test_full_chain_wsaa_ticket_then_cae(tmp_path) -> None:
    """A certificate from the sandbox CA → loginCms → the ticket opens WSFEv1 (no stand-in ticket check)."""
    from server.integrations.afip.wsaa import WsaaClient

    with start_afip_sandbox("127.0.0.1", free_port(), tmp_path) as running:
        key_pem, cert_pem = running.sandbox.wsaa.ca.issue(ISSUER)
        async with WsaaClient(running.wsaa_url, timeout=10.0) as wsaa:
            ticket = await wsaa.login(cert_pem, key_pem, "wsfe")
        auth = Auth(ticket.token, ticket.sign, ISSUER)
        async with WsfeClient(running.wsfe_url, timeout=5.0) as wsfe:
            assert await wsfe.last_authorized(auth, 1, 1) == 0
            assert (await wsfe.request_cae(auth, invoice_a(1))).approved
            with pytest.raises(AfipPermanentError) as foreign:  # the ticket is the issuer's, not another CUIT's
                await wsfe.last_authorized(Auth(ticket.token, ticket.sign, MONO_ISSUER), 1, 1)
            assert foreign.value.code == 601
        assert (tmp_path / "ca.crt").exists()  # the CA is kept for the next run


def _raw_fecae(detail_xml: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<FECAESolicitar xmlns="http://ar.gov.afip.dif.FEV1/">'
        f"<Auth><Token>tok-ri</Token><Sign>sig-ri</Sign><Cuit>{ISSUER}</Cuit></Auth>"
        "<FeCAEReq><FeCabReq><CantReg>1</CantReg><PtoVta>1</PtoVta><CbteTipo>1</CbteTipo></FeCabReq>"
        f"<FeDetReq><FECAEDetRequest>{detail_xml}</FECAEDetRequest></FeDetReq></FeCAEReq>"
        "</FECAESolicitar></soap:Body></soap:Envelope>"
    )


async def test_fields_out_of_the_2025_order_are_refused(afip: RunningAfipSandbox, wsfe: WsfeClient) -> None:
    ymd = today().strftime("%Y%m%d")
    head = (
        f"<Concepto>1</Concepto><DocTipo>80</DocTipo><DocNro>{CUSTOMER_RI}</DocNro><CbteDesde>1</CbteDesde>"
        f"<CbteHasta>1</CbteHasta><CbteFch>{ymd}</CbteFch><ImpTotal>121</ImpTotal><ImpTotConc>0</ImpTotConc>"
        "<ImpNeto>100</ImpNeto><ImpOpEx>0</ImpOpEx>"
    )
    iva = "<Iva><AlicIva><Id>5</Id><BaseImp>100</BaseImp><Importe>21</Importe></AlicIva></Iva>"
    tail = "<MonId>PES</MonId><MonCotiz>1</MonCotiz>"
    good = (
        head
        + "<ImpTrib>0</ImpTrib><ImpIVA>21</ImpIVA>"
        + tail
        + "<CondicionIVAReceptorId>1</CondicionIVAReceptorId>"
        + iva
    )
    iva_first = (
        head
        + "<ImpIVA>21</ImpIVA><ImpTrib>0</ImpTrib>"
        + tail
        + "<CondicionIVAReceptorId>1</CondicionIVAReceptorId>"
        + iva
    )
    condition_last = (
        head
        + "<ImpTrib>0</ImpTrib><ImpIVA>21</ImpIVA>"
        + tail
        + iva
        + "<CondicionIVAReceptorId>1</CondicionIVAReceptorId>"
    )
    headers = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '"http://ar.gov.afip.dif.FEV1/FECAESolicitar"'}
    async with httpx.AsyncClient() as http:
        for wrong in (iva_first, condition_last):
            refused = await http.post(afip.wsfe_url, content=_raw_fecae(wrong), headers=headers)
            assert refused.status_code == 500 and "soap:Client" in refused.text
        assert await wsfe.last_authorized(AUTH, 1, 1) == 0
        accepted = await http.post(afip.wsfe_url, content=_raw_fecae(good), headers=headers)
    assert accepted.status_code == 200 and "<CAE>" in accepted.text and "<Resultado>A</Resultado>" in accepted.text


async def test_an_observation_comes_with_the_cae(afip: RunningAfipSandbox, wsfe: WsfeClient) -> None:
    afip.sandbox.wsfe.faults.observe_next(1)
    result = await wsfe.request_cae(AUTH, invoice_a(1))
    assert result.approved and result.resultado == "A"
    assert [code for code, _ in result.observations] == [10217]
    stored = await wsfe.query(AUTH, 1, 1, 1)
    assert stored is not None and [code for code, _ in stored.observations] == [10217]
    # only the next one
    assert (await wsfe.request_cae(AUTH, invoice_a(2))).observations == ()
