"""WSAA: AFIP's authentication service — TRA, CMS signature, loginCms through zeep, ticket cache.

One ticket (token + sign) per CUIT and service lives 12 h, set by AFIP. AFIP refuses a second
``loginCms`` for the same certificate and service while one is live (``coe.alreadyAuthenticated``),
so ``get_ticket`` keeps the ticket in a ``TicketStore`` and never asks again while it is valid for
longer than ``margin``; concurrent callers for the same CUIT+service in this process wait on one
asyncio lock (pass ``lock=`` for a cross-process one).

The WSDL is AFIP's homologation WSDL shipped in ``wsdl/wsaa.wsdl`` (never fetched); the service
address comes from configuration (``HOMOLOGATION_URL`` / ``PRODUCTION_URL`` / the sandbox).
Tokens, signs and keys are never logged (zeep's transport logs every body at DEBUG: ours does not).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

import httpx
import zeep
import zeep.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from lxml import etree
from zeep.proxy import AsyncServiceProxy
from zeep.settings import Settings as ZeepSettings
from zeep.transports import AsyncTransport

from server.integrations.afip.errors import (
    AfipError,
    AfipPermanentError,
    AfipTicketAlreadyIssued,
    AfipTransientError,
    classify,
)
from server.lib.logging import get_logger
from shared.fiscal.invoicing import ARGENTINA as AR_TZ

log = get_logger("campotech.afip.wsaa")

WSDL_PATH = Path(__file__).parent / "wsdl" / "wsaa.wsdl"
HOMOLOGATION_URL = "https://wsaahomo.afip.gov.ar/ws/services/LoginCms"
PRODUCTION_URL = "https://wsaa.afip.gov.ar/ws/services/LoginCms"
_BINDING = "{https://wsaahomo.afip.gov.ar/ws/services/LoginCms}LoginCmsSoapBinding"

SERVICE_WSFE = "wsfe"
SERVICE_PADRON_A5 = "ws_sr_constancia_inscripcion"

TRA_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Ticket:
    token: str
    sign: str
    generated_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:  # never print the credentials
        return f"Ticket(generated_at={self.generated_at.isoformat()}, expires_at={self.expires_at.isoformat()})"


class TicketStore(Protocol):
    async def load(self, cuit: str, service: str) -> Ticket | None: ...

    async def save(self, cuit: str, service: str, ticket: Ticket) -> None: ...


class MemoryTicketStore:
    """Tickets in a dict: for the sandbox CLI and tests (a process restart forgets them)."""

    def __init__(self) -> None:
        self._tickets: dict[tuple[str, str], Ticket] = {}
        self.saves = 0

    async def load(self, cuit: str, service: str) -> Ticket | None:
        return self._tickets.get((cuit, service))

    async def save(self, cuit: str, service: str, ticket: Ticket) -> None:
        self._tickets[(cuit, service)] = ticket
        self.saves += 1


# ---------------------------------------------------------------------------------------------- TRA


def format_afip_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS-03:00``: xsd:dateTime in Argentine time, no microseconds (AFIP refuses them)."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(AR_TZ).strftime("%Y-%m-%dT%H:%M:%S") + "-03:00"


def build_tra(service: str, *, now: datetime | None = None, unique_id: int | None = None) -> bytes:
    """The loginTicketRequest to sign: uniqueId random in 0..2^31-1, valid from now-10 min to now+10 min."""
    now = now or datetime.now(UTC)
    uid = secrets.randbelow(2**31) if unique_id is None else unique_id
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<loginTicketRequest version="1.0"><header>'
        f"<uniqueId>{uid}</uniqueId>"
        f"<generationTime>{format_afip_time(now - TRA_WINDOW)}</generationTime>"
        f"<expirationTime>{format_afip_time(now + TRA_WINDOW)}</expirationTime>"
        f"</header><service>{escape(service)}</service></loginTicketRequest>"
    ).encode()


def load_credentials(cert_pem: bytes, key_pem: bytes) -> tuple[x509.Certificate, Any]:
    """The certificate and its private key, checked to belong together (else a permanent error)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise AfipPermanentError(
            "AFIP: certificado ilegible",
            code="config.certificate",
            hint="El certificado no se puede leer. Cargá el archivo .crt/.pem que entregó AFIP.",
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise AfipPermanentError(
            "AFIP: clave privada ilegible",
            code="config.key",
            hint="La clave privada no se puede leer. Generá una clave y un pedido de certificado nuevos.",
        ) from exc
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise AfipPermanentError(
            "AFIP: la clave no corresponde al certificado",
            code="config.key_mismatch",
            hint="La clave privada no corresponde al certificado. Cargá el certificado emitido para esta clave.",
        )
    return cert, key


def sign_tra(tra: bytes, cert_pem: bytes, key_pem: bytes) -> bytes:
    """CMS SignedData (DER, content embedded, signer certificate embedded, SHA-256)."""
    cert, key = load_credentials(cert_pem, key_pem)
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(tra)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_afip_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:  # AFIP's clock is Argentine time
        moment = moment.replace(tzinfo=AR_TZ)
    return moment.astimezone(UTC)


def parse_login_ticket_response(xml: str | bytes) -> Ticket:
    """token, sign and times out of ``loginCmsReturn`` (a loginTicketResponse document)."""
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _safe_parser())
        token = (root.findtext("credentials/token") or "").strip()
        sign = (root.findtext("credentials/sign") or "").strip()
        generated = parse_afip_time(root.findtext("header/generationTime") or "")
        expires = parse_afip_time(root.findtext("header/expirationTime") or "")
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise AfipTransientError("AFIP: respuesta de WSAA ilegible", code="wsaa.response") from exc
    if not token or not sign:
        raise AfipTransientError("AFIP: respuesta de WSAA sin credenciales", code="wsaa.response")
    return Ticket(token=token, sign=sign, generated_at=generated, expires_at=expires)


# ---------------------------------------------------------------------------------------------- client


class _QuietAsyncTransport(AsyncTransport):
    """zeep's httpx transport without its DEBUG logging of bodies (they carry tokens)."""

    async def post(self, address: str, message: Any, headers: dict[str, str]) -> httpx.Response:
        response = await self.client.post(address, content=message, headers=headers)
        if response.status_code >= 400 and "xml" not in response.headers.get("content-type", ""):
            # a proxy's or load balancer's error page, not a SOAP fault
            raise zeep.exceptions.TransportError(status_code=response.status_code)
        return response


def afip_ssl_context() -> ssl.SSLContext:
    """Certificate checks as usual, plus the old AES128-SHA suite AFIP's hosts still negotiate."""
    context = ssl.create_default_context()
    context.set_ciphers("DEFAULT:AES128-SHA@SECLEVEL=1")
    return context


def fault_code(fault: zeep.exceptions.Fault) -> str:
    """``ns1:cms.cert.expired`` → ``cms.cert.expired``."""
    return (fault.code or "").rpartition(":")[2].strip()


# strict=False: AFIP answers loginCmsReturn in the LoginCms namespace, not the one its WSDL declares
_ZEEP_SETTINGS = ZeepSettings(strict=False, forbid_dtd=True, forbid_entities=True, xml_huge_tree=False)


class WsaaClient:
    """``loginCms`` through zeep (AsyncClient on httpx); faults become typed ``AfipError``s."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        verify: ssl.SSLContext | bool = afip_ssl_context() if url.startswith("https:") else True
        self._http = httpx.AsyncClient(timeout=timeout, verify=verify)
        self._wsdl_http = httpx.Client(timeout=timeout)  # zeep wants one; the WSDL is a local file
        transport = _QuietAsyncTransport(client=self._http, wsdl_client=self._wsdl_http)
        self._zeep = zeep.AsyncClient(str(WSDL_PATH), transport=transport, settings=_ZEEP_SETTINGS)
        self._service = AsyncServiceProxy(self._zeep, self._zeep.wsdl.bindings[_BINDING], address=url)

    async def login(self, cert_pem: bytes, key_pem: bytes, service: str) -> Ticket:
        cms = sign_tra(build_tra(service), cert_pem, key_pem)
        try:
            answer = await self._service.loginCms(in0=base64.b64encode(cms).decode("ascii"))
        except zeep.exceptions.Fault as fault:
            code = fault_code(fault)
            log.warning("afip.wsaa.fault", service=service, code=code)
            if not code:
                raise AfipTransientError("AFIP: WSAA respondió un error sin código", code="wsaa.response") from None
            raise classify(code, (fault.message or "").strip()) from None
        except httpx.TimeoutException as exc:
            log.warning("afip.wsaa.timeout", service=service)
            raise AfipTransientError("AFIP: WSAA no respondió a tiempo", code=None) from exc
        except httpx.TransportError as exc:
            log.warning("afip.wsaa.network", service=service, error=type(exc).__name__)
            raise AfipTransientError(f"AFIP: no se pudo conectar con WSAA ({type(exc).__name__})") from exc
        except zeep.exceptions.TransportError as exc:
            status = exc.status_code or 0
            log.warning("afip.wsaa.http_error", service=service, status=status)
            error_class = AfipTransientError if status >= 500 or status in (0, 200, 408, 429) else AfipPermanentError
            raise error_class(f"AFIP: WSAA respondió HTTP {status}", status=status) from None
        except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
            raise AfipTransientError("AFIP: respuesta de WSAA ilegible", code="wsaa.response") from exc
        ticket = parse_login_ticket_response(answer if isinstance(answer, str) else str(answer))
        log.info("afip.wsaa.login", service=service, expires_at=ticket.expires_at.isoformat())
        return ticket

    async def aclose(self) -> None:
        await self._http.aclose()
        self._wsdl_http.close()

    async def __aenter__(self) -> WsaaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ---------------------------------------------------------------------------------------------- cache

_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
# after coe.alreadyAuthenticated while our stored ticket is still usable: don't ask again before this
_refused_until: dict[tuple[str, str], datetime] = {}
# seconds to wait before each re-read of the store after coe.alreadyAuthenticated with no usable ticket
_STORE_RECHECKS = (0.0, 0.25, 0.5, 1.0)


def _lock_for(key: tuple[str, str]) -> asyncio.Lock:
    lock = _locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _locks[key] = lock
    return lock


async def get_ticket(
    client: WsaaClient,
    store: TicketStore,
    *,
    cuit: str,
    service: str,
    cert_pem: bytes,
    key_pem: bytes,
    margin: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    lock: Callable[[str, str], AbstractAsyncContextManager[Any]] | None = None,
    invalid: Ticket | None = None,
) -> Ticket:
    """A valid ticket for ``cuit`` + ``service``: the stored one while it has more than ``margin`` left,
    else a new one from ``loginCms`` (saved before it is returned).

    Concurrent callers in this process share one asyncio lock per CUIT+service; ``lock(cuit, service)``
    adds a cross-process one (e.g. a Redis lock) taken inside it. When AFIP answers
    ``coe.alreadyAuthenticated`` the stored ticket is used while it has not expired; with none,
    ``AfipTicketAlreadyIssued`` (permanent until AFIP's ticket expires, at most 12 h).

    ``invalid=ticket``: AFIP refused that ticket (WSFEv1 600): ask for a new one even though it looks
    valid here, unless another caller already replaced it in the store.
    """

    def clock() -> datetime:
        return now if now is not None else datetime.now(UTC)

    def refused(ticket: Ticket) -> bool:
        return invalid is not None and ticket.token == invalid.token

    def fresh(ticket: Ticket, moment: datetime) -> bool:
        return not refused(ticket) and ticket.expires_at - moment > margin

    key = (cuit, service)
    stored = await store.load(cuit, service)
    if stored is not None and fresh(stored, clock()):
        return stored
    in_process = _lock_for(key)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(in_process)
        if lock is not None:
            await stack.enter_async_context(lock(cuit, service))
        stored = await store.load(cuit, service)  # someone may have renewed it while we waited
        moment = clock()
        if stored is not None and fresh(stored, moment):
            return stored
        usable = stored is not None and stored.expires_at > moment and not refused(stored)
        refused_until = _refused_until.get(key)
        if stored is not None and usable and refused_until is not None and refused_until >= stored.expires_at:
            return stored
        try:
            ticket = await client.login(cert_pem, key_pem, service)
        except AfipTicketAlreadyIssued:
            if stored is not None and usable:
                _refused_until[key] = stored.expires_at
                return stored
            # another process may have logged in a moment ago and be saving its ticket right now
            for pause in _STORE_RECHECKS:
                await asyncio.sleep(pause)
                again = await store.load(cuit, service)
                if again is not None and again.expires_at > moment and not refused(again):
                    return again
            raise
        await store.save(cuit, service, ticket)
        _refused_until.pop(key, None)
        return ticket


__all__ = [
    "HOMOLOGATION_URL",
    "PRODUCTION_URL",
    "SERVICE_PADRON_A5",
    "SERVICE_WSFE",
    "AfipError",
    "MemoryTicketStore",
    "Ticket",
    "TicketStore",
    "WsaaClient",
    "build_tra",
    "format_afip_time",
    "get_ticket",
    "parse_login_ticket_response",
    "sign_tra",
]
