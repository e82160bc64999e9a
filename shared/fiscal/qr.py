"""The QR of RG 4291 (AFIP/ARCA): every electronic receipt printed carries it.

The QR holds a URL, ``https://www.afip.gob.ar/fe/qr/?p=`` followed by the base64 (standard alphabet,
with padding, not URL-encoded: exactly as AFIP prints it) of a JSON object::

    {"ver":1,"fecha":"2020-10-13","cuit":30000000007,"ptoVta":10,"tipoCmp":1,"nroCmp":94,
     "importe":12100,"moneda":"PES","ctz":1.000,"tipoDocRec":80,"nroDocRec":20000000001,
     "tipoCodAut":"E","codAut":70417054367476}

Every field is a JSON number except ``fecha`` (ISO date), ``moneda`` and ``tipoCodAut`` (strings);
``importe`` (2 decimals) and ``ctz`` (up to 6) are decimal numbers, the rest integers. ``tipoCodAut``
is ``"E"`` for a CAE (``"A"`` for a CAEA). A consumidor final without document is ``tipoDocRec`` 99,
``nroDocRec`` 0.

``qr_payload`` returns the object with ``Decimal`` amounts; ``decode_qr_url`` reads a URL back the same
way (amounts as ``Decimal``), so ``decode_qr_url(qr_url(...)) == qr_payload(...)``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.fiscal.cuit import InvalidCuit, normalize_cuit

QR_BASE_URL = "https://www.afip.gob.ar/fe/qr/?p="
QR_VERSION = 1
CAE = "E"
CAEA = "A"

_KEYS = (
    "ver",
    "fecha",
    "cuit",
    "ptoVta",
    "tipoCmp",
    "nroCmp",
    "importe",
    "moneda",
    "ctz",
    "tipoDocRec",
    "nroDocRec",
    "tipoCodAut",
    "codAut",
)
_CENT = Decimal("0.01")
_MAX_IMPORTE = Decimal("9999999999999.99")  # 13 integer digits, 2 decimals
_MAX_CTZ = Decimal("9999999999999.999999")  # 13 integer digits, 6 decimals


class InvalidQrData(ValueError):
    """The data cannot make a valid RG 4291 QR, or a URL is not one; the message says which field."""


def _integer(name: str, value: int | str, *, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidQrData(f"{name}: se esperaba un número entero, llegó {value!r}.") from None
    if not low <= number <= high:
        raise InvalidQrData(f"{name}: {number} está fuera del rango permitido ({low} a {high}).")
    return number


def _decimal(name: str, value: Decimal | int | str, *, places: Decimal, high: Decimal, fixed: bool) -> Decimal:
    """``value`` as a Decimal within range: rounded to ``places`` (always when ``fixed``, else only if longer)."""
    if isinstance(value, float):
        raise InvalidQrData(f"{name}: los importes van como Decimal, nunca como float.")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidQrData(f"{name}: se esperaba un importe, llegó {value!r}.") from None
    if not number.is_finite() or number < 0 or number > high:
        raise InvalidQrData(f"{name}: {value} está fuera del rango permitido.")
    exponent = number.as_tuple().exponent
    if fixed or (isinstance(exponent, int) and exponent < places.as_tuple().exponent):  # type: ignore[operator]
        number = number.quantize(places, rounding=ROUND_HALF_UP)
    return number


def qr_payload(
    *,
    issue_date: datetime.date,
    issuer_cuit: str | int,
    point_of_sale: int,
    receipt_type: int,
    number: int,
    total: Decimal,
    doc_type: int,
    doc_number: str | int,
    cae: str | int,
    currency: str = "PES",
    exchange_rate: Decimal = Decimal("1"),
    authorization_type: str = CAE,
) -> dict[str, Any]:
    """The RG 4291 object of one authorised receipt, keys in AFIP's order.

    ``total`` is ImpTotal; ``doc_type``/``doc_number`` the receiver's DocTipo/DocNro as sent to AFIP
    (99 and 0 for a consumidor final without document); ``cae`` the 14-digit CAE.
    Raises ``InvalidQrData`` when a value cannot be printed in the QR.
    """
    if not isinstance(issue_date, datetime.date) or isinstance(issue_date, datetime.datetime):
        raise InvalidQrData("fecha: se esperaba una fecha (datetime.date).")
    try:
        cuit = int(normalize_cuit(str(issuer_cuit)))
    except InvalidCuit as exc:
        raise InvalidQrData(f"cuit: {exc}") from None
    moneda = (currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{3}", moneda):
        raise InvalidQrData(
            f"moneda: el código de moneda de AFIP tiene 3 caracteres (PES, DOL, 060), llegó {currency!r}."
        )
    if authorization_type not in (CAE, CAEA):
        raise InvalidQrData('tipoCodAut: debe ser "E" (CAE) o "A" (CAEA).')
    cod_aut = str(cae).strip()
    if not re.fullmatch(r"\d{14}", cod_aut):
        raise InvalidQrData("codAut: el CAE tiene 14 dígitos.")
    ctz = _decimal("ctz", exchange_rate, places=Decimal("0.000001"), high=_MAX_CTZ, fixed=False)
    if ctz == 0:
        raise InvalidQrData("ctz: la cotización no puede ser 0.")
    return {
        "ver": QR_VERSION,
        "fecha": issue_date.isoformat(),
        "cuit": cuit,
        "ptoVta": _integer("ptoVta", point_of_sale, low=1, high=99999),
        "tipoCmp": _integer("tipoCmp", receipt_type, low=1, high=999),
        "nroCmp": _integer("nroCmp", number, low=1, high=99999999),
        "importe": _decimal("importe", total, places=_CENT, high=_MAX_IMPORTE, fixed=True),
        "moneda": moneda,
        "ctz": ctz,
        "tipoDocRec": _integer("tipoDocRec", doc_type, low=0, high=99),
        "nroDocRec": _integer("nroDocRec", doc_number or 0, low=0, high=10**20 - 1),
        "tipoCodAut": authorization_type,
        "codAut": int(cod_aut),
    }


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # a JSON number, never in exponent form
    return json.dumps(value, ensure_ascii=True)


def payload_json(payload: dict[str, Any]) -> str:
    """The compact JSON AFIP reads (no spaces, keys in order, decimals as plain numbers)."""
    return "{" + ",".join(f"{json.dumps(key)}:{_json_value(value)}" for key, value in payload.items()) + "}"


def payload_url(payload: dict[str, Any]) -> str:
    """The URL of an object made by ``qr_payload``."""
    return QR_BASE_URL + base64.b64encode(payload_json(payload).encode("ascii")).decode("ascii")


def qr_url(**fields: Any) -> str:
    """The URL to print as the QR; takes the same keyword arguments as ``qr_payload``."""
    return payload_url(qr_payload(**fields))


def decode_qr_url(url: str) -> dict[str, Any]:
    """The object inside a RG 4291 URL (amounts as ``Decimal``), for tests and support.

    Accepts the URL as printed or percent-encoded (``+`` turned into a space by a form decoder is
    repaired). Raises ``InvalidQrData`` when it is not AFIP's QR URL or its content is not the JSON.
    """
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme != "https" or parts.netloc.lower() != "www.afip.gob.ar" or parts.path.rstrip("/") != "/fe/qr":
        raise InvalidQrData("No es la dirección del QR de AFIP (https://www.afip.gob.ar/fe/qr/?p=…).")
    raw = parts.query[2:] if parts.query.startswith("p=") else (parse_qs(parts.query).get("p") or [""])[0]
    encoded = unquote(raw).replace(" ", "+")
    if not encoded:
        raise InvalidQrData("El QR no trae datos (falta ?p=).")
    try:
        data = json.loads(base64.b64decode(encoded, validate=True), parse_float=Decimal)
    except (binascii.Error, ValueError):
        raise InvalidQrData("Los datos del QR no son base64 de un JSON válido.") from None
    if not isinstance(data, dict):
        raise InvalidQrData("Los datos del QR no son un objeto JSON.")
    missing = [key for key in _KEYS if key not in data and key not in ("tipoDocRec", "nroDocRec")]
    if missing:
        raise InvalidQrData(f"Al QR le faltan campos: {', '.join(missing)}.")
    return data
