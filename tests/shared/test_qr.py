"""The RG 4291 QR: the spec's example, types, base64 and the URL, and refusals that name the field."""

from __future__ import annotations

import base64
import datetime
import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from shared.fiscal.qr import QR_BASE_URL, InvalidQrData, decode_qr_url, payload_json, qr_payload, qr_url

# the example of ../shared/specs/afip.md, "QR (RG 4291)"
SPEC_EXAMPLE = (
    '{"ver":1,"fecha":"2020-10-13","cuit":30000000007,"ptoVta":10,"tipoCmp":1,"nroCmp":94,"importe":12100,'
    '"moneda":"PES","ctz":1.000,"tipoDocRec":80,"nroDocRec":20000000001,"tipoCodAut":"E","codAut":70417054367476}'
)
SPEC_FIELDS: dict[str, Any] = {
    "issue_date": datetime.date(2020, 10, 13),
    "issuer_cuit": "30-00000000-7",
    "point_of_sale": 10,
    "receipt_type": 1,
    "number": 94,
    "total": Decimal("12100"),
    "currency": "PES",
    "exchange_rate": Decimal("1.000"),
    "doc_type": 80,
    "doc_number": "20000000001",
    "cae": "70417054367476",
}


def test_payload_equals_the_spec_example_with_its_types_and_order() -> None:
    expected = json.loads(SPEC_EXAMPLE, parse_float=Decimal)
    payload = qr_payload(**SPEC_FIELDS)
    assert payload == expected
    assert list(payload) == list(expected)  # AFIP's key order
    parsed = json.loads(payload_json(payload))  # what a reader gets from the QR
    for key in ("ver", "cuit", "ptoVta", "tipoCmp", "nroCmp", "tipoDocRec", "nroDocRec", "codAut"):
        assert type(parsed[key]) is int, key
    assert isinstance(parsed["importe"], float) and parsed["importe"] == 12100
    assert isinstance(parsed["ctz"], float | int) and parsed["ctz"] == 1
    assert parsed["fecha"] == "2020-10-13" and parsed["moneda"] == "PES" and parsed["tipoCodAut"] == "E"


def test_json_is_compact_and_amounts_are_numbers_with_cents() -> None:
    text = payload_json(qr_payload(**{**SPEC_FIELDS, "total": Decimal("1234.5")}))
    assert " " not in text
    assert '"importe":1234.50,' in text
    assert '"cuit":30000000007,' in text  # a number, not a string
    assert '"codAut":70417054367476}' in text


def test_url_is_the_base_plus_standard_base64_of_the_json() -> None:
    url = qr_url(**SPEC_FIELDS)
    assert url.startswith("https://www.afip.gob.ar/fe/qr/?p=")
    encoded = url.removeprefix(QR_BASE_URL)
    assert base64.b64decode(encoded, validate=True).decode() == payload_json(qr_payload(**SPEC_FIELDS))
    assert "-" not in encoded and "_" not in encoded  # not the URL-safe alphabet


def test_decode_accepts_plus_and_slash_even_when_mangled_by_a_form_decoder() -> None:
    # AFIP's fields are ASCII digits and letters, whose base64 never has "+" or "/"; a reader must still
    # accept them: "?" and ">" in a free field make both appear
    text = payload_json(qr_payload(**SPEC_FIELDS))[:-1] + ',"x":"?>?>?>"}'
    encoded = base64.b64encode(text.encode()).decode()
    assert "+" in encoded and "/" in encoded
    url = QR_BASE_URL + encoded
    assert decode_qr_url(url)["x"] == "?>?>?>"
    assert decode_qr_url(url.replace("+", " "))["x"] == "?>?>?>"  # a form decoder turned + into a space
    assert decode_qr_url(QR_BASE_URL + quote(encoded, safe=""))["x"] == "?>?>?>"  # percent-encoded


def test_decode_round_trips_exactly() -> None:
    fields = {**SPEC_FIELDS, "total": Decimal("98765.43"), "currency": "DOL", "exchange_rate": Decimal("1050.25")}
    data = decode_qr_url(qr_url(**fields))
    assert data == qr_payload(**fields)
    assert data["importe"] == Decimal("98765.43") and data["ctz"] == Decimal("1050.25") and data["moneda"] == "DOL"


def test_consumidor_final_without_document() -> None:
    data = decode_qr_url(qr_url(**{**SPEC_FIELDS, "doc_type": 99, "doc_number": "0"}))
    assert (data["tipoDocRec"], data["nroDocRec"]) == (99, 0)


def test_amount_rounds_half_up_to_cents() -> None:
    assert qr_payload(**{**SPEC_FIELDS, "total": Decimal("10.005")})["importe"] == Decimal("10.01")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"issuer_cuit": "20267565392"}, "cuit"),  # wrong check digit
        ({"cae": "7041705436747"}, "codAut"),  # 13 digits
        ({"cae": "7041705436747A"}, "codAut"),
        ({"point_of_sale": 0}, "ptoVta"),
        ({"point_of_sale": 100000}, "ptoVta"),
        ({"number": 100000000}, "nroCmp"),
        ({"total": Decimal("-1")}, "importe"),
        ({"total": 12100.0}, "importe"),  # a float never passes for money
        ({"currency": "PESOS"}, "moneda"),
        ({"exchange_rate": Decimal("0")}, "ctz"),
        ({"authorization_type": "X"}, "tipoCodAut"),
        ({"issue_date": datetime.datetime(2020, 10, 13, 10, 0)}, "fecha"),
    ],
)
def test_refuses_data_a_qr_cannot_carry(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidQrData) as caught:
        qr_payload(**{**SPEC_FIELDS, **change})  # type: ignore[arg-type]
    assert str(caught.value).startswith(field)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/fe/qr/?p=e30=",
        "http://www.afip.gob.ar/fe/qr/?p=e30=",
        "https://www.afip.gob.ar/fe/qr/",
        "https://www.afip.gob.ar/fe/qr/?p=%%%%",
        QR_BASE_URL + base64.b64encode(b"[1,2]").decode(),
        QR_BASE_URL + base64.b64encode(b'{"ver":1}').decode(),
    ],
)
def test_decode_refuses_what_is_not_an_afip_qr(url: str) -> None:
    with pytest.raises(InvalidQrData):
        decode_qr_url(url)
