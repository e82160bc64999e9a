"""Certificate rules without the database: formats read, the CUIT found in the subject, the checks' order."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from server.domain.afip_credentials.certificates import (
    CertificateRejected,
    check_certificate,
    cuit_of,
    days_until,
    generate_key_and_csr,
    load_certificates,
    public_key_der,
    valid_alias,
)
from tests.server.afip_credentials.conftest import NOW, TestCa

CUIT = "20267565393"


def _name(serial: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "campotech")]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


@pytest.fixture(name="key", scope="module")
def fixture_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("CUIT 20267565393", CUIT),
        ("CUIT20267565393", CUIT),
        ("cuit 20-26756539-3", CUIT),
        ("CUIT: 20267565393", CUIT),
        ("20267565393", None),  # AFIP always writes "CUIT "
        ("CUIL 20267565393", None),
        ("CUIT 2026756539", None),
        (None, None),
    ],
)
def test_cuit_of_the_subject(ca: TestCa, key: rsa.RSAPrivateKey, serial: str | None, expected: str | None) -> None:
    assert cuit_of(ca.issue(key.public_key(), _name(serial))) == expected


def test_pem_der_base64_and_chains_are_read(ca: TestCa, key: rsa.RSAPrivateKey) -> None:
    certificate = ca.issue(key.public_key(), _name(f"CUIT {CUIT}"))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert load_certificates(pem) == [certificate]
    assert load_certificates(b"\r\n" + pem.replace(b"\n", b"\r\n")) == [certificate]  # Windows line ends
    assert load_certificates(der) == [certificate]
    assert load_certificates(base64.b64encode(der)) == [certificate]
    # a chain (the CA first): the certificate with our key is the one checked
    chain = ca.certificate.public_bytes(serialization.Encoding.PEM) + pem
    info = check_certificate(chain, public_key_der(key.public_key()), CUIT)
    assert info.serial_hex == format(certificate.serial_number, "x")


def test_a_der_certificate_ending_in_a_whitespace_byte_is_read_as_sent(ca: TestCa, key: rsa.RSAPrivateKey) -> None:
    """DER is binary: a signature may end in 0x20 or 0x0a, which is not whitespace to strip (about 1 in 40
    certificates was refused as "not an X.509 certificate")."""
    for serial in range(2000):
        certificate = ca.issue(key.public_key(), _name(f"CUIT {CUIT} {serial}"))
        der = certificate.public_bytes(serialization.Encoding.DER)
        if der[-1:].isspace():
            break
    else:
        pytest.fail("no certificate ending in a whitespace byte among 2,000")
    assert load_certificates(der) == [certificate]


@pytest.mark.parametrize(
    "data", [b"", b"hola", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", b"\x30\x03abc"]
)
def test_what_is_not_a_certificate(data: bytes) -> None:
    with pytest.raises(CertificateRejected) as rejected:
        load_certificates(data)
    assert rejected.value.code == "afip.certificate_invalid"


def test_checks_report_the_first_problem_to_fix(ca: TestCa, key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ours = public_key_der(key.public_key())
    expired_elsewhere = ca.issue(
        other.public_key(),
        _name("CUIT 27000000006"),
        NOW - datetime.timedelta(days=9),
        NOW - datetime.timedelta(days=1),
    )
    expired_other_cuit = ca.issue(
        key.public_key(), _name("CUIT 27000000006"), NOW - datetime.timedelta(days=9), NOW - datetime.timedelta(days=1)
    )
    expired = ca.issue(key.public_key(), _name(f"CUIT {CUIT}"), NOW - datetime.timedelta(days=9), NOW)
    for certificate, code in [
        (expired_elsewhere, "afip.certificate_key_mismatch"),
        (expired_other_cuit, "afip.certificate_cuit_mismatch"),
        (expired, "afip.certificate_expired"),
    ]:
        with pytest.raises(CertificateRejected) as rejected:
            check_certificate(certificate.public_bytes(serialization.Encoding.PEM), ours, CUIT, now=NOW)
        assert rejected.value.code == code


def test_generated_csr_and_key_belong_together() -> None:
    made = generate_key_and_csr("Plomería Núñez y Asociados " * 4, CUIT, "campotech")
    key = serialization.load_pem_private_key(made.key_pem, password=None)
    csr = x509.load_pem_x509_csr(made.csr_pem.encode())
    assert public_key_der(key.public_key()) == public_key_der(csr)  # type: ignore[arg-type]
    organization = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organization.startswith("Plomería Núñez") and len(organization) <= 64  # X.520 limit


@pytest.mark.parametrize(
    ("alias", "ok"), [("campotech", True), ("Facturador2", True), ("mi alias", False), ("", False), ("ñandú", False)]
)
def test_alias_rule(alias: str, ok: bool) -> None:
    assert valid_alias(alias) is ok


def test_days_until() -> None:
    assert days_until(None) is None
    assert days_until(NOW + datetime.timedelta(days=30, hours=1), now=NOW) == 30
    assert days_until(NOW - datetime.timedelta(hours=1), now=NOW) == -1
