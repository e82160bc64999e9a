"""WSAA stand-in: ``loginCms`` as AFIP answers it, checking the CMS signature against the sandbox CA.

``WsaaSandbox(ca).handle(body) -> (status, response bytes)`` takes a LoginCms SOAP request (the
sandbox app routes ``POST /ws/services/LoginCms`` here and ``GET …?wsdl`` to ``wsdl(base_url)``):

1. the CMS (base64 in ``in0``) is parsed with a small DER reader (no ASN.1 library is installed),
   the signature over the signed attributes is verified with the embedded signer certificate, and
   the content digest is compared with the ``messageDigest`` attribute (``cms.bad*``, ``cms.sign.invalid``);
2. the signer certificate must be issued by the sandbox CA (``cms.cert.untrusted``) and be within
   its validity (``cms.cert.expired`` / ``cms.cert.invalid``);
3. the TRA: version 1.0, uniqueId, generationTime ≤ now and younger than 24 h, expirationTime in
   the future and within 24 h (``xml.*``), a known service (``wsn.notFound``);
4. one live ticket per certificate + service (``coe.alreadyAuthenticated`` while it lives);
5. the ticket: token (base64 of an ``sso`` document like AFIP's) and sign (random), valid 12 h.

Faults are Axis 1.4 SOAP faults, HTTP 500, ``faultcode`` ``ns1:<code>`` like the real service.
``ticket_cuit(token, sign, service)`` lets the WSFEv1 / padrón sandboxes check ``Auth``.
Fault injection: ``fail_next(code)`` (SOAP fault), ``fail_next_http(status)`` (a proxy error page),
``delay_next(seconds)`` (the app awaits ``take_delay()`` before answering), ``expire_tickets()``.
Thread-safe: uvicorn may serve it from another thread.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from server.integrations.afip.wsaa import AR_TZ, WSDL_PATH, parse_afip_time
from server.sandbox.afip.ca import SandboxCA, cuit_of

LOGIN_PATH = "/ws/services/LoginCms"
_HOMO_ADDRESS = "https://wsaahomo.afip.gov.ar/ws/services/LoginCms"
_RESPONSE_NS = "https://wsaahomo.afip.gov.ar/ws/services/LoginCms"
TICKET_LIFETIME = timedelta(hours=12)
AFIP_SOURCE = "CN=wsaahomo, O=AFIP, C=AR, SERIALNUMBER=CUIT 33693450239"
SERVICES = frozenset({"wsfe", "ws_sr_constancia_inscripcion", "ws_sr_padron_a5", "ws_sr_padron_a13"})

# AFIP's own fault texts (as the service writes them)
FAULTS: dict[str, str] = {
    "coe.alreadyAuthenticated": "El CEE ya posee un TA valido para el acceso al WSN solicitado",
    "coe.notAuthorized": "Computador no autorizado a acceder al servicio",
    "cms.bad": "El CMS no es valido",
    "cms.bad.base64": "No se puede decodificar el BASE64",
    "cms.cert.notFound": "No se ha encontrado certificado de firma en el CMS",
    "cms.sign.invalid": "Firma inválida o algoritmo no soportado",
    "cms.cert.expired": "Certificado expirado",
    "cms.cert.invalid": "Certificado con fecha de inicio posterior a la actual",
    "cms.cert.revoked": "Certificado revocado",
    "cms.cert.untrusted": "Certificado no emitido por AC de confianza",
    "xml.bad": "No se ha podido interpretar el XML contra el SCHEMA",
    "xml.version.notSupported": "Version del documento no soportada",
    "xml.generationTime.invalid": (
        "El tiempo de generacion es posterior a la hora actual o posee mas de 24 horas de antiguedad"
    ),
    "xml.expirationTime.expired": "El tiempo de expiracion es inferior a la hora actual",
    "xml.expirationTime.invalid": "El tiempo de expiracion del documento es superior a 24 horas",
    "wsn.notFound": "Servicio informado inexistente",
    "wsn.unavailable": "El servicio al que se desea acceder se encuentra momentaneamente fuera de servicio",
    "wsaa.unavailable": "El servicio de autenticacion no se encuentra disponible",
    "wsaa.internalError": "No se ha podido procesar el requerimiento",
}

_OID_DATA = "1.2.840.113549.1.7.1"
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
    "2.16.840.1.101.3.4.2.4": hashes.SHA224,
}
_RSA_SIGNATURES = {
    "1.2.840.113549.1.1.1",  # rsaEncryption (the digest comes from digestAlgorithm)
    "1.2.840.113549.1.1.5",
    "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.12",
    "1.2.840.113549.1.1.13",
    "1.2.840.113549.1.1.14",
}
_ECDSA_SIGNATURES = {"1.2.840.10045.4.1", "1.2.840.10045.4.3.1", "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3"}


class WsaaFault(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or FAULTS.get(code, "No se ha podido procesar el requerimiento")


# ---------------------------------------------------------------------------------------------- DER


@dataclass(frozen=True)
class _Tlv:
    tag: int
    start: int  # first byte of the tag
    content: int  # first byte of the content
    content_end: int
    end: int  # first byte after the element (after 00 00 for indefinite lengths)

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


def _read(data: bytes, pos: int, limit: int) -> _Tlv:
    start = pos
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number form
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    first = data[pos]
    pos += 1
    if first == 0x80:  # BER indefinite length: children up to 00 00
        if not tag & 0x20:
            raise ValueError("indefinite length on a primitive")
        content = pos
        while data[pos : pos + 2] != b"\x00\x00":
            pos = _read(data, pos, limit).end
            if pos >= limit:
                raise ValueError("unterminated indefinite length")
        return _Tlv(tag, start, content, pos, pos + 2)
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > limit:
        raise ValueError("element overruns its parent")
    return _Tlv(tag, start, pos, pos + length, pos + length)


def _children(data: bytes, tlv: _Tlv) -> list[_Tlv]:
    out: list[_Tlv] = []
    pos = tlv.content
    while pos < tlv.content_end:
        child = _read(data, pos, tlv.content_end)
        out.append(child)
        pos = child.end
    return out


def _oid(data: bytes, tlv: _Tlv) -> str:
    if tlv.tag != 0x06:
        raise ValueError("OID expected")
    raw = data[tlv.content : tlv.content_end]
    parts: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(p) for p in head + parts[1:])


def _octets(data: bytes, tlv: _Tlv) -> bytes:
    if tlv.tag == 0x04:
        return data[tlv.content : tlv.content_end]
    if tlv.tag == 0x24:  # constructed OCTET STRING (BER)
        return b"".join(_octets(data, child) for child in _children(data, tlv))
    raise ValueError("OCTET STRING expected")


@dataclass(frozen=True)
class SignedContent:
    content: bytes
    signer: x509.Certificate
    certificates: list[x509.Certificate]


def verify_cms(der: bytes) -> SignedContent:
    """The content of a CMS SignedData after checking its (first) signer's signature; ``WsaaFault`` else."""
    try:
        top = _read(der, 0, len(der))
        content_info = _children(der, top)
        if _oid(der, content_info[0]) != _OID_SIGNED_DATA:
            raise ValueError("not SignedData")
        signed_data = _children(der, _children(der, content_info[1])[0])
        encap = _children(der, signed_data[2])
        if _oid(der, encap[0]) != _OID_DATA or len(encap) < 2:
            raise ValueError("no embedded data")
        content = _octets(der, _children(der, encap[1])[0])
        certificates: list[x509.Certificate] = []
        rest = signed_data[3:]
        signer_infos: _Tlv | None = None
        for item in rest:
            if item.tag == 0xA0:
                certificates = [
                    x509.load_der_x509_certificate(der[cert.start : cert.end]) for cert in _children(der, item)
                ]
            elif item.tag == 0x31:
                signer_infos = item
        if signer_infos is None:
            raise ValueError("no signerInfos")
        infos = _children(der, signer_infos)
        if not infos:
            raise ValueError("no signer")
        info = _children(der, infos[0])
    except (ValueError, IndexError) as exc:
        raise WsaaFault("cms.bad") from exc
    if not certificates:
        raise WsaaFault("cms.cert.notFound")
    try:
        sid = info[1]
        signer = _find_signer(der, sid, certificates)
        digest_oid = _oid(der, _children(der, info[2])[0])
        position = 3
        signed_attrs: _Tlv | None = None
        if info[position].tag == 0xA0:
            signed_attrs = info[position]
            position += 1
        signature_oid = _oid(der, _children(der, info[position])[0])
        signature = _octets(der, info[position + 1])
    except (ValueError, IndexError) as exc:
        raise WsaaFault("cms.bad") from exc
    if signer is None:
        raise WsaaFault("cms.cert.notFound")
    hash_factory = _DIGESTS.get(digest_oid)
    if hash_factory is None:
        raise WsaaFault("cms.sign.invalid")
    if signed_attrs is not None:
        attributes = _attributes(der, signed_attrs)
        digest = hashes.Hash(hash_factory())
        digest.update(content)
        if not hmac.compare_digest(attributes.get(_OID_MESSAGE_DIGEST, b""), digest.finalize()):
            raise WsaaFault("cms.sign.invalid")
        if attributes.get(_OID_CONTENT_TYPE) != _OID_DATA.encode():
            raise WsaaFault("cms.bad")
        # the signature covers the attributes DER-encoded as a SET (tag 0x31, not the [0] IMPLICIT 0xA0)
        to_verify = b"\x31" + der[signed_attrs.start + 1 : signed_attrs.end]
    else:
        to_verify = content
    public_key = signer.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and signature_oid in _RSA_SIGNATURES:
            public_key.verify(signature, to_verify, padding.PKCS1v15(), hash_factory())
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and signature_oid in _ECDSA_SIGNATURES:
            public_key.verify(signature, to_verify, ec.ECDSA(hash_factory()))
        else:
            raise WsaaFault("cms.sign.invalid")
    except InvalidSignature as exc:
        raise WsaaFault("cms.sign.invalid") from exc
    return SignedContent(content, signer, certificates)


def _find_signer(der: bytes, sid: _Tlv, certificates: list[x509.Certificate]) -> x509.Certificate | None:
    if sid.tag == 0x30:  # IssuerAndSerialNumber
        issuer, serial = _children(der, sid)
        issuer_der = der[issuer.start : issuer.end]
        serial_number = int.from_bytes(der[serial.content : serial.content_end], "big", signed=True)
        for cert in certificates:
            if cert.serial_number == serial_number and cert.issuer.public_bytes() == issuer_der:
                return cert
        return None
    if sid.tag == 0x80:  # [0] SubjectKeyIdentifier
        ski = der[sid.content : sid.content_end]
        for cert in certificates:
            try:
                ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ext.value.digest == ski:
                return cert
        return None
    raise ValueError("unknown signer identifier")


def _attributes(der: bytes, signed_attrs: _Tlv) -> dict[str, bytes]:
    """contentType (as the dotted OID, encoded) and messageDigest out of the signed attributes."""
    out: dict[str, bytes] = {}
    try:
        for attribute in _children(der, signed_attrs):
            oid_tlv, values = _children(der, attribute)
            oid = _oid(der, oid_tlv)
            first = _children(der, values)[0]
            if oid == _OID_MESSAGE_DIGEST:
                out[oid] = _octets(der, first)
            elif oid == _OID_CONTENT_TYPE:
                out[oid] = _oid(der, first).encode()
    except (ValueError, IndexError) as exc:
        raise WsaaFault("cms.bad") from exc
    return out


# ---------------------------------------------------------------------------------------------- SOAP

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def soap_fault(code: str, message: str, *, axis: bool = True) -> bytes:
    """An Axis 1.4 fault: ``<faultcode>ns1:cms.cert.expired</faultcode>`` plus AFIP's text."""
    faultcode = (
        f'<faultcode xmlns:ns1="http://xml.apache.org/axis/">ns1:{escape(code)}</faultcode>'
        if axis
        else f"<faultcode>soapenv:{escape(code)}</faultcode>"
    )
    return _envelope(
        "<soapenv:Fault>"
        f"{faultcode}<faultstring>{escape(message)}</faultstring>"
        '<detail><ns2:exceptionName xmlns:ns2="http://xml.apache.org/axis/">'
        "gov.afip.desein.dvadac.sua.view.wsaa.LoginFault</ns2:exceptionName>"
        '<ns3:hostname xmlns:ns3="http://xml.apache.org/axis/">wsaahomo-sandbox</ns3:hostname></detail>'
        "</soapenv:Fault>"
    )


def _afip_time(moment: datetime) -> str:
    local = moment.astimezone(AR_TZ)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}-03:00"


@dataclass
class LiveTicket:
    token: str
    sign: str
    service: str
    cuit: str
    fingerprint: str
    generated_at: datetime
    expires_at: datetime


@dataclass
class _Failure:
    code: str | None  # SOAP fault code; None → an HTTP error page
    message: str | None
    status: int


def _default_clock() -> datetime:
    return datetime.now(UTC)


class WsaaSandbox:
    """loginCms with AFIP's checks and answers; state lives in memory."""

    def __init__(self, ca: SandboxCA, *, clock: Callable[[], datetime] = _default_clock) -> None:
        self.ca = ca
        self.clock = clock
        self._lock = threading.Lock()
        self._tickets: dict[str, LiveTicket] = {}  # token → ticket
        self._live: dict[tuple[str, str], str] = {}  # (certificate fingerprint, service) → token
        self._failures: deque[_Failure] = deque()
        self._delays: deque[float] = deque()
        self.requests = 0  # loginCms calls received
        self.logins = 0  # tickets issued

    # ------------------------------------------------------------------ controls

    def fail_next(self, code: str, message: str | None = None, count: int = 1) -> None:
        """The next ``count`` logins answer this SOAP fault (e.g. ``wsaa.unavailable``)."""
        with self._lock:
            self._failures.extend(_Failure(code, message, 500) for _ in range(count))

    def fail_next_http(self, status: int = 502, count: int = 1) -> None:
        """The next ``count`` requests answer an HTML error page with this status (a proxy in the way)."""
        with self._lock:
            self._failures.extend(_Failure(None, None, status) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.extend(seconds for _ in range(count))

    def take_delay(self) -> float:
        """Seconds the serving app should wait before answering this request (0 when none is queued)."""
        with self._lock:
            return self._delays.popleft() if self._delays else 0.0

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def expire_tickets(self, cuit: str | None = None) -> int:
        """End every live ticket (of ``cuit``), as if 12 h had passed; returns how many."""
        moment = self.clock() - timedelta(seconds=1)
        count = 0
        with self._lock:
            for ticket in self._tickets.values():
                if (cuit is None or ticket.cuit == cuit) and ticket.expires_at > moment:
                    ticket.expires_at = moment
                    count += 1
        return count

    def reset(self) -> None:
        with self._lock:
            self._tickets.clear()
            self._live.clear()
            self._failures.clear()
            self._delays.clear()
            self.requests = 0
            self.logins = 0

    # ------------------------------------------------------------------ queries

    def ticket_cuit(self, token: str, sign: str, service: str) -> str | None:
        """The CUIT a live ticket was issued to, if ``token`` + ``sign`` are one for ``service``."""
        with self._lock:
            ticket = self._tickets.get(token)
        if ticket is None or not hmac.compare_digest(ticket.sign.encode(), sign.encode()):
            return None
        if ticket.service != service or ticket.expires_at <= self.clock():
            return None
        return ticket.cuit

    def wsdl(self, base_url: str) -> bytes:
        """AFIP's WSDL with the service address pointing here (``base_url`` = root or full LoginCms URL)."""
        address = base_url.rstrip("/")
        if not address.endswith(LOGIN_PATH):
            address += LOGIN_PATH
        text = WSDL_PATH.read_text(encoding="utf-8")
        return text.replace(f'location="{_HOMO_ADDRESS}"', f"location={quoteattr(address)}").encode()

    # ------------------------------------------------------------------ loginCms

    def handle(self, body: bytes) -> tuple[int, bytes]:
        """A LoginCms SOAP request → (HTTP status, SOAP response) as AFIP answers it."""
        with self._lock:
            self.requests += 1
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            if failure.code is None:
                page = f"<html><body><h1>{failure.status} Bad Gateway</h1></body></html>"
                return failure.status, page.encode()
            return failure.status, soap_fault(failure.code, failure.message or FAULTS.get(failure.code, failure.code))
        try:
            in0 = self._in0(body)
        except WsaaFault as fault:
            return 500, soap_fault(fault.code, fault.message, axis=False)
        try:
            return 200, self._login(in0)
        except WsaaFault as fault:
            return 500, soap_fault(fault.code, fault.message)

    @staticmethod
    def _in0(body: bytes) -> str:
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise WsaaFault("Client", "Could not parse the SOAP request") from exc
        for element in root.iter("{*}loginCms"):
            for child in element:
                if etree.QName(child).localname == "in0":
                    return child.text or ""
        raise WsaaFault("Client", "No such operation: expected loginCms(in0)")

    def _login(self, in0: str) -> bytes:
        try:
            der = base64.b64decode("".join(in0.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WsaaFault("cms.bad.base64") from exc
        signed = verify_cms(der)
        cert = signed.signer
        try:
            cert.verify_directly_issued_by(self.ca.cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise WsaaFault("cms.cert.untrusted") from exc
        now = self.clock()
        if now > cert.not_valid_after_utc:
            raise WsaaFault("cms.cert.expired")
        if now < cert.not_valid_before_utc:
            raise WsaaFault("cms.cert.invalid")
        cuit = cuit_of(cert)
        if cuit is None:
            raise WsaaFault("cms.cert.untrusted")
        service = self._check_tra(signed.content, now)
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
        with self._lock:
            live_token = self._live.get((fingerprint, service))
            live = self._tickets.get(live_token) if live_token else None
            if live is not None and live.expires_at > now:
                raise WsaaFault("coe.alreadyAuthenticated")
            for token in [t for t, old in self._tickets.items() if old.expires_at <= now]:
                del self._tickets[token]
            ticket = self._issue(cert, cuit, service, fingerprint, now)
            self._tickets[ticket.token] = ticket
            self._live[(fingerprint, service)] = ticket.token
            self.logins += 1
        return self._response(cert, ticket)

    @staticmethod
    def _check_tra(content: bytes, now: datetime) -> str:
        try:
            tra = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise WsaaFault("xml.bad") from exc
        if tra.tag != "loginTicketRequest":
            raise WsaaFault("xml.bad")
        if tra.get("version", "1.0") != "1.0":
            raise WsaaFault("xml.version.notSupported")
        unique_id = (tra.findtext("header/uniqueId") or "").strip()
        service = (tra.findtext("service") or "").strip()
        if not unique_id.isdigit() or int(unique_id) >= 2**32 or not service:
            raise WsaaFault("xml.bad")
        try:
            generated = parse_afip_time(tra.findtext("header/generationTime") or "")
            expires = parse_afip_time(tra.findtext("header/expirationTime") or "")
        except ValueError as exc:
            raise WsaaFault("xml.bad") from exc
        if generated > now or generated < now - timedelta(hours=24):
            raise WsaaFault("xml.generationTime.invalid")
        if expires <= now:
            raise WsaaFault("xml.expirationTime.expired")
        if expires > now + timedelta(hours=24) or expires <= generated:
            raise WsaaFault("xml.expirationTime.invalid")
        if service not in SERVICES:
            raise WsaaFault("wsn.notFound")
        return service

    @staticmethod
    def _issue(cert: x509.Certificate, cuit: str, service: str, fingerprint: str, now: datetime) -> LiveTicket:
        expires = now + TICKET_LIFETIME
        uid = cert.subject.rfc4514_string()
        sso = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sso version="2.0">\n'
            f"    <id src={quoteattr(AFIP_SOURCE)} dst={quoteattr(f'CN={service}, O=AFIP, C=AR')} "
            f'unique_id="{secrets.randbelow(2**32)}" gen_time="{int(now.timestamp())}" '
            f'exp_time="{int(expires.timestamp())}"/>\n'
            '    <operation type="login" value="granted">\n'
            f'        <login entity="33693450239" service={quoteattr(service)} uid={quoteattr(uid)} '
            'authmethod="cms" regmethod="22">\n'
            f'            <relations>\n                <relation key="{cuit}" reltype="4"/>\n'
            "            </relations>\n        </login>\n    </operation>\n"
            "</sso>\n"
        )
        token = base64.b64encode(sso.encode()).decode()
        sign = base64.b64encode(secrets.token_bytes(128)).decode()
        return LiveTicket(token, sign, service, cuit, fingerprint, now, expires)

    @staticmethod
    def _response(cert: x509.Certificate, ticket: LiveTicket) -> bytes:
        destination = cert.subject.rfc4514_string()
        inner = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<loginTicketResponse version="1.0">\n    <header>\n'
            f"        <source>{escape(AFIP_SOURCE)}</source>\n"
            f"        <destination>{escape(destination)}</destination>\n"
            f"        <uniqueId>{secrets.randbelow(2**32)}</uniqueId>\n"
            f"        <generationTime>{_afip_time(ticket.generated_at)}</generationTime>\n"
            f"        <expirationTime>{_afip_time(ticket.expires_at)}</expirationTime>\n"
            "    </header>\n    <credentials>\n"
            f"        <token>{ticket.token}</token>\n"
            f"        <sign>{ticket.sign}</sign>\n"
            "    </credentials>\n</loginTicketResponse>\n"
        )
        return _envelope(
            f'<loginCmsResponse xmlns="{_RESPONSE_NS}"><loginCmsReturn>{escape(inner, {chr(34): "&quot;"})}'
            "</loginCmsReturn></loginCmsResponse>"
        )
