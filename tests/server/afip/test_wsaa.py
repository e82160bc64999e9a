"""WSAA: the real zeep client against the sandbox over real HTTP on 127.0.0.1.

The sandbox runs under uvicorn in a thread behind a tiny ASGI wrapper (the sandbox app of the
project routes the same way): ``POST /ws/services/LoginCms`` → ``WsaaSandbox.handle``, ``GET ?wsdl``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from cryptography import x509
from lxml import etree

from server.embedded import free_port
from server.integrations.afip.errors import (
    AfipPermanentError,
    AfipTicketAlreadyIssued,
    AfipTransientError,
    classify,
    kind_of,
)
from server.integrations.afip.wsaa import (
    MemoryTicketStore,
    Ticket,
    WsaaClient,
    build_tra,
    format_afip_time,
    get_ticket,
    sign_tra,
)
from server.sandbox.afip.ca import SandboxCA, cuit_of
from server.sandbox.afip.wsaa import LOGIN_PATH, WsaaSandbox

CUIT = "20267565393"
OTHER_CUIT = "30712345671"
# real homologation traffic (from reingart/pyafipws' VCR cassettes, LGPL-3.0-or-later; see its first line)
SAMPLE = Path(__file__).parent / "wsaa_data" / "sample_wsaa_loginCms_homo.xml.txt"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


class _SandboxApp:
    """The smallest ASGI app serving a WsaaSandbox (its delay hook included)."""

    def __init__(self, sandbox: WsaaSandbox) -> None:
        self.sandbox = sandbox
        self.base_url = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        content_type = b"text/xml; charset=utf-8"
        if scope["path"] != LOGIN_PATH:
            status, payload, content_type = 404, b"not found", b"text/plain"
        elif scope["method"] == "GET" and scope["query_string"].lower() == b"wsdl":
            status, payload = 200, self.sandbox.wsdl(self.base_url)
        elif scope["method"] == "POST":
            delay = self.sandbox.take_delay()
            if delay:
                await asyncio.sleep(delay)
            status, payload = self.sandbox.handle(body)
            if not payload.startswith(b"<?xml"):
                content_type = b"text/html"
        else:
            status, payload, content_type = 405, b"", b"text/plain"
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> SandboxCA:
    return SandboxCA.create()


@pytest.fixture(name="credentials", scope="module")
def fixture_credentials(ca: SandboxCA) -> tuple[bytes, bytes]:
    return ca.issue(CUIT)


@pytest.fixture(name="served", scope="module")
def fixture_served(ca: SandboxCA) -> Iterator[tuple[WsaaSandbox, str]]:
    import uvicorn

    sandbox = WsaaSandbox(ca)
    app = _SandboxApp(sandbox)
    port = free_port()
    app.base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="wsaa-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the WSAA sandbox did not start"
        time.sleep(0.02)
    try:
        yield sandbox, app.base_url + LOGIN_PATH
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(name="sandbox")
def fixture_sandbox(served: tuple[WsaaSandbox, str]) -> WsaaSandbox:
    served[0].reset()
    return served[0]


@pytest.fixture(name="url")
def fixture_url(served: tuple[WsaaSandbox, str]) -> str:
    return served[1]


@pytest.fixture(name="wsaa")
async def fixture_client(url: str) -> AsyncIterator[WsaaClient]:
    client = WsaaClient(url, timeout=5.0)
    try:
        yield client
    finally:
        await client.aclose()


def _login_envelope(in0: str) -> str:
    """A loginCms request as pyafipws writes it (operation in the LoginCms namespace, in0 unqualified)."""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:ser="https://wsaahomo.afip.gov.ar/ws/services/LoginCms">'
        f"<soapenv:Header/><soapenv:Body><ser:loginCms><in0>{in0}</in0></ser:loginCms></soapenv:Body>"
        "</soapenv:Envelope>"
    )


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


async def _post_cms(url: str, cms: bytes | str) -> tuple[int, str | None, str]:
    """loginCms by hand (for requests our client would never build): (status, faultcode, faultstring)."""
    in0 = cms if isinstance(cms, str) else base64.b64encode(cms).decode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            url, content=_login_envelope(in0), headers={"Content-Type": "text/xml", "SOAPAction": '""'}
        )
    root = etree.fromstring(answer.content)
    return answer.status_code, root.findtext(".//faultcode"), root.findtext(".//faultstring") or ""


# ------------------------------------------------------------------------------------------ login


async def test_login_gives_a_12_hour_ticket_that_the_other_services_accept(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    before = datetime.now(UTC)
    ticket = await wsaa.login(cert_pem, key_pem, "wsfe")

    assert ticket.expires_at - ticket.generated_at == timedelta(hours=12)
    assert before - timedelta(seconds=2) <= ticket.generated_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert sandbox.ticket_cuit(ticket.token, ticket.sign, "wsfe") == CUIT
    # the ticket is for wsfe only, and both halves must match
    assert sandbox.ticket_cuit(ticket.token, ticket.sign, "ws_sr_constancia_inscripcion") is None
    assert sandbox.ticket_cuit(ticket.token, ticket.sign[:-4] + "AAA=", "wsfe") is None
    # the token is AFIP's sso document, naming the CUIT
    assert f'relation key="{CUIT}"' in base64.b64decode(ticket.token).decode()
    assert ticket.token not in repr(ticket) and ticket.sign not in repr(ticket)


async def test_sandbox_answers_in_the_shape_of_real_afip_traffic(
    url: str, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    """Same elements and namespaces as the recorded homologation answer (loginCmsResponse in the
    LoginCms namespace, not the one AFIP's WSDL declares: the client must parse it anyway)."""
    key_pem, cert_pem = credentials
    sample_answer = SAMPLE.read_text().split("<!-- ===== response (HTTP 200) -->")[1].strip().encode()
    in0 = base64.b64encode(sign_tra(build_tra("wsfe"), cert_pem, key_pem)).decode()
    async with httpx.AsyncClient() as http:
        ours = (await http.post(url, content=_login_envelope(in0), headers={"Content-Type": "text/xml"})).content

    def shape(document: bytes) -> tuple[list[str], list[str]]:
        root = etree.fromstring(document)
        inner = etree.fromstring(root.findtext(".//{*}loginCmsReturn").encode())
        return [el.tag for el in root.iter()], [el.tag for el in inner.iter()]

    assert shape(ours) == shape(sample_answer)
    inner = etree.fromstring(etree.fromstring(ours).findtext(".//{*}loginCmsReturn").encode())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-03:00", inner.findtext("header/expirationTime"))
    assert f"CUIT {CUIT}" in inner.findtext("header/destination")


async def test_a_request_made_by_other_software_is_read_and_judged_on_its_certificate(
    url: str, sandbox: WsaaSandbox
) -> None:
    """The recorded request (CMS made by openssl for pyafipws) parses and its signature verifies;
    it is refused only because AFIP's own test CA is not the sandbox's."""
    request = SAMPLE.read_text().split("-->", 2)[2].split("<!-- =====")[0].strip()
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=request, headers={"Content-Type": "text/xml"})
    assert answer.status_code == 500
    assert etree.fromstring(answer.content).findtext(".//faultcode") == "ns1:cms.cert.untrusted"
    assert sandbox.logins == 0


async def test_wsdl_is_served_with_the_sandbox_address_and_the_client_never_fetches_it(
    url: str, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    async with httpx.AsyncClient() as http:
        wsdl = await http.get(url + "?wsdl")
    assert wsdl.status_code == 200
    ports = etree.fromstring(wsdl.content).findall(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert [p.get("location") for p in ports] == [url]
    # the packaged WSDL names AFIP's host; the client is pointed here by configuration alone
    key_pem, cert_pem = credentials
    async with WsaaClient(url, timeout=5.0) as client:
        await client.login(cert_pem, key_pem, "wsfe")
    assert sandbox.requests == 1


def test_tra_times_are_afip_datetimes_ten_minutes_either_side() -> None:
    now = datetime(2026, 11, 25, 18, 0, 0, 123456, tzinfo=UTC)
    tra = etree.fromstring(build_tra("wsfe", now=now))
    assert tra.get("version") == "1.0"
    assert tra.findtext("header/generationTime") == "2026-11-25T14:50:00-03:00"
    assert tra.findtext("header/expirationTime") == "2026-11-25T15:10:00-03:00"
    assert tra.findtext("service") == "wsfe"
    ids = {int(etree.fromstring(build_tra("wsfe")).findtext("header/uniqueId")) for _ in range(200)}
    assert len(ids) > 190 and all(0 <= i < 2**31 for i in ids)
    assert format_afip_time(datetime(2026, 1, 1, 2, 30, tzinfo=UTC)) == "2025-12-31T23:30:00-03:00"
    with pytest.raises(ValueError):
        format_afip_time(datetime(2026, 1, 1))


async def test_tra_outside_its_time_window_is_refused(
    url: str, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    stale = sign_tra(build_tra("wsfe", now=datetime.now(UTC) - timedelta(days=2)), cert_pem, key_pem)
    assert (await _post_cms(url, stale))[1] == "ns1:xml.generationTime.invalid"
    ended = sign_tra(build_tra("wsfe", now=datetime.now(UTC) - timedelta(minutes=30)), cert_pem, key_pem)
    assert (await _post_cms(url, ended))[1] == "ns1:xml.expirationTime.expired"
    unknown = sign_tra(build_tra("wsfacturas"), cert_pem, key_pem)
    assert (await _post_cms(url, unknown))[1] == "ns1:wsn.notFound"
    assert sandbox.logins == 0


# ------------------------------------------------------------------------------------------ cache


async def test_concurrent_callers_share_one_login_and_later_calls_reuse_the_ticket(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    store = MemoryTicketStore()

    async def ask() -> Ticket:
        return await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)

    tickets = await asyncio.gather(*(ask() for _ in range(25)))
    assert len({t.token for t in tickets}) == 1
    assert sandbox.requests == 1 and sandbox.logins == 1
    assert await store.load(CUIT, "wsfe") == tickets[0]  # saved before it was handed out
    # hours later, still valid: no call to AFIP
    later = datetime.now(UTC) + timedelta(hours=11)
    again = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem, now=later)
    assert again == tickets[0] and sandbox.requests == 1
    # another service is another ticket
    padron = await get_ticket(
        wsaa, store, cuit=CUIT, service="ws_sr_constancia_inscripcion", cert_pem=cert_pem, key_pem=key_pem
    )
    assert padron.token != tickets[0].token and sandbox.logins == 2


async def test_expired_ticket_is_renewed(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    store = MemoryTicketStore()
    first = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    assert sandbox.expire_tickets() == 1  # 12 h go by at AFIP…
    after = first.expires_at + timedelta(minutes=1)  # …and here
    second = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem, now=after)
    assert second.token != first.token and sandbox.logins == 2
    assert await store.load(CUIT, "wsfe") == second
    assert sandbox.ticket_cuit(first.token, first.sign, "wsfe") is None
    assert sandbox.ticket_cuit(second.token, second.sign, "wsfe") == CUIT


async def test_a_ticket_afip_refused_is_replaced_once_for_all_callers(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    """WSFEv1 answered 600 (ticket invalid) although it looks valid here: ``invalid=`` renews it."""
    key_pem, cert_pem = credentials
    store = MemoryTicketStore()
    first = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    sandbox.expire_tickets()  # AFIP forgot it; our clock still says 12 h
    assert sandbox.ticket_cuit(first.token, first.sign, "wsfe") is None

    async def renew() -> Ticket:
        return await get_ticket(
            wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem, invalid=first
        )

    renewed = await asyncio.gather(*(renew() for _ in range(5)))
    assert len({t.token for t in renewed}) == 1 and renewed[0].token != first.token
    assert sandbox.logins == 2
    assert sandbox.ticket_cuit(renewed[0].token, renewed[0].sign, "wsfe") == CUIT
    assert await store.load(CUIT, "wsfe") == renewed[0]


async def test_near_expiry_afip_refuses_a_new_ticket_and_the_stored_one_is_used_until_it_ends(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    store = MemoryTicketStore()
    first = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    near = first.expires_at - timedelta(minutes=5)  # inside the 10-minute margin: try to renew
    kept = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem, now=near)
    assert kept == first
    assert sandbox.requests == 2 and sandbox.logins == 1  # AFIP said coe.alreadyAuthenticated
    # not asked again while that ticket lives
    await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem, now=near)
    assert sandbox.requests == 2


async def test_a_lost_ticket_means_waiting_for_it_to_expire(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    await wsaa.login(cert_pem, key_pem, "wsfe")  # a ticket nobody stored
    store = MemoryTicketStore()
    with pytest.raises(AfipTicketAlreadyIssued) as caught:
        await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    error = caught.value
    assert isinstance(error, AfipPermanentError) and not error.transient
    assert error.code == "coe.alreadyAuthenticated"
    assert error.afip_message == "El CEE ya posee un TA valido para el acceso al WSN solicitado"
    assert "esperar" in (error.hint or "") and "12 horas" in (error.hint or "")
    assert await store.load(CUIT, "wsfe") is None
    # once AFIP's ticket ends, a new one comes
    sandbox.expire_tickets(CUIT)
    ticket = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    assert sandbox.ticket_cuit(ticket.token, ticket.sign, "wsfe") == CUIT


async def test_a_ticket_another_process_is_saving_is_picked_up(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    store = MemoryTicketStore()
    theirs = await wsaa.login(cert_pem, key_pem, "wsfe")  # another worker won the race…

    async def save_a_moment_later() -> None:  # …and stores its ticket while we are refused
        await asyncio.sleep(0.3)
        await store.save(CUIT, "wsfe", theirs)

    saving = asyncio.create_task(save_a_moment_later())
    ours = await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    await saving
    assert ours == theirs and sandbox.logins == 1


# ------------------------------------------------------------------------------------------ refusals


async def test_certificate_from_another_ca_is_refused_as_permanent(wsaa: WsaaClient, sandbox: WsaaSandbox) -> None:
    key_pem, cert_pem = SandboxCA.create("AC impostora").issue(CUIT)
    store = MemoryTicketStore()
    with pytest.raises(AfipPermanentError) as caught:
        await get_ticket(wsaa, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    assert caught.value.code == "cms.cert.untrusted" and not caught.value.transient
    assert caught.value.afip_message == "Certificado no emitido por AC de confianza"
    assert await store.load(CUIT, "wsfe") is None and sandbox.logins == 0


async def test_expired_and_not_yet_valid_certificates_are_refused(
    wsaa: WsaaClient, sandbox: WsaaSandbox, ca: SandboxCA
) -> None:
    now = datetime.now(UTC)
    key_pem, cert_pem = ca.issue(OTHER_CUIT, days=730, not_before=now - timedelta(days=731))
    with pytest.raises(AfipPermanentError) as caught:
        await wsaa.login(cert_pem, key_pem, "wsfe")
    assert caught.value.code == "cms.cert.expired"
    assert "venció" in (caught.value.hint or "")

    key_pem, cert_pem = ca.issue(OTHER_CUIT, not_before=now + timedelta(days=1))
    with pytest.raises(AfipPermanentError) as caught:
        await wsaa.login(cert_pem, key_pem, "wsfe")
    assert caught.value.code == "cms.cert.invalid"
    assert sandbox.logins == 0


async def test_tampered_or_malformed_cms_is_refused(
    url: str, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    cms = sign_tra(build_tra("wsfe"), cert_pem, key_pem)
    assert cms.count(b"<service>wsfe</service>") == 1
    other_service = cms.replace(b"<service>wsfe</service>", b"<service>wsfx</service>")
    status, code, _ = await _post_cms(url, other_service)
    assert (status, code) == (500, "ns1:cms.sign.invalid")
    bad_signature = cms[:-1] + bytes([cms[-1] ^ 0x01])  # the signature is the last field
    assert (await _post_cms(url, bad_signature))[1] == "ns1:cms.sign.invalid"
    assert (await _post_cms(url, "esto no es base64!"))[1] == "ns1:cms.bad.base64"
    assert (await _post_cms(url, cms[: len(cms) // 2]))[1] == "ns1:cms.bad"
    assert (await _post_cms(url, b"\x30\x03\x02\x01\x01"))[1] == "ns1:cms.bad"
    assert sandbox.logins == 0


async def test_key_that_does_not_match_the_certificate_is_refused_before_calling_afip(
    wsaa: WsaaClient, sandbox: WsaaSandbox, ca: SandboxCA, credentials: tuple[bytes, bytes]
) -> None:
    other_key, _ = ca.issue(OTHER_CUIT)
    with pytest.raises(AfipPermanentError) as caught:
        await wsaa.login(credentials[1], other_key, "wsfe")
    assert caught.value.code == "config.key_mismatch"
    with pytest.raises(AfipPermanentError):
        await wsaa.login(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", other_key, "wsfe")
    assert sandbox.requests == 0


# ------------------------------------------------------------------------------------------ transient


async def test_afip_outages_are_transient_and_pass(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    sandbox.fail_next("wsaa.unavailable")
    with pytest.raises(AfipTransientError) as caught:
        await wsaa.login(cert_pem, key_pem, "wsfe")
    assert caught.value.code == "wsaa.unavailable"
    sandbox.fail_next_http(502)
    with pytest.raises(AfipTransientError) as caught:
        await wsaa.login(cert_pem, key_pem, "wsfe")
    assert caught.value.status == 502
    ticket = await wsaa.login(cert_pem, key_pem, "wsfe")
    assert sandbox.ticket_cuit(ticket.token, ticket.sign, "wsfe") == CUIT


async def test_unreachable_wsaa_is_transient(credentials: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = credentials
    async with WsaaClient(f"http://127.0.0.1:{free_port()}{LOGIN_PATH}", timeout=2.0) as client:
        with pytest.raises(AfipTransientError):
            await client.login(cert_pem, key_pem, "wsfe")


async def test_timeout_is_transient_and_afip_may_have_issued_the_ticket_meanwhile(
    url: str, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = credentials
    sandbox.delay_next(1.0)
    store = MemoryTicketStore()
    async with WsaaClient(url, timeout=0.3) as client:
        with pytest.raises(AfipTransientError):
            await get_ticket(client, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)
    assert await asyncio.to_thread(_wait_for, lambda: sandbox.logins > 0)
    assert sandbox.logins == 1  # AFIP finished the login we gave up on
    async with WsaaClient(url, timeout=5.0) as client:
        with pytest.raises(AfipTicketAlreadyIssued):
            await get_ticket(client, store, cuit=CUIT, service="wsfe", cert_pem=cert_pem, key_pem=key_pem)


def test_code_table_classifies_wsaa_and_wsfe_codes() -> None:
    assert kind_of("wsaa.unavailable") == "transient" and kind_of("wsn.unavailable") == "transient"
    assert kind_of("cms.cert.expired") == "permanent" and kind_of("coe.alreadyAuthenticated") == "permanent"
    assert kind_of(600) == "transient" and kind_of(601) == "permanent"
    assert kind_of("something.new") == "permanent"
    assert isinstance(classify("coe.alreadyAuthenticated"), AfipTicketAlreadyIssued)
    assert isinstance(classify(500, "Error interno"), AfipTransientError)


async def test_logs_never_carry_the_ticket(
    wsaa: WsaaClient, sandbox: WsaaSandbox, credentials: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.integrations.afip.wsaa as wsaa_module

    key_pem, cert_pem = credentials
    with structlog.testing.capture_logs() as logs:
        # a fresh logger: one cached by an app configured earlier in the session would bypass the capture
        monkeypatch.setattr(wsaa_module, "log", structlog.get_logger("campotech.afip.wsaa"))
        ticket = await wsaa.login(cert_pem, key_pem, "wsfe")
        sandbox.fail_next("cms.cert.expired")
        with pytest.raises(AfipPermanentError):
            await wsaa.login(cert_pem, key_pem, "wsfe")
    assert logs, "the login is logged"
    text = repr(logs)
    assert ticket.token not in text and ticket.sign not in text and CUIT not in text


# ------------------------------------------------------------------------------------------ CA


def test_ca_signs_csrs_like_afip_and_persists(tmp_path: Path, ca: SandboxCA) -> None:
    key_pem, cert_pem = ca.issue(CUIT, alias="taller-sur")
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cuit_of(cert) == CUIT
    cert.verify_directly_issued_by(ca.cert)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=730)
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    no_cuit = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sin cuit")]))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(ValueError, match="CUIT"):
        ca.sign_csr(no_cuit.public_bytes(serialization.Encoding.PEM))

    first = SandboxCA.load_or_create(tmp_path / "ca")
    again = SandboxCA.load_or_create(tmp_path / "ca")
    assert again.cert == first.cert
    _, issued = first.issue(CUIT)
    x509.load_pem_x509_certificate(issued).verify_directly_issued_by(again.cert)
