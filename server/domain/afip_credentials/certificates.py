"""Key, CSR and certificate rules for AFIP (pure functions over ``cryptography``; no storage).

AFIP's portal ("Administración de Certificados Digitales" / WSASS) signs a CSR whose subject is
``C=AR, O=<razón social>, CN=<alias>, serialNumber=CUIT <11 digits>`` and returns an X.509 certificate
(PEM, sometimes DER) with the same public key and the same ``serialNumber``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from server.domain.afip_credentials.errors import AfipCredentialError

RSA_BITS = 2048
ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9]{1,50}$")
ORGANIZATION_NAME_MAX = 64  # X.520 upper bound of organizationName
_ATTRIBUTE_NAMES = {NameOID.SERIAL_NUMBER: "serialNumber"}
_CUIT_IN_SERIAL = re.compile(r"^\s*CUIT\s*:?\s*(\d{2})-?(\d{8})-?(\d)\s*$", re.IGNORECASE)


class CertificateRejected(ValueError):
    """The uploaded certificate cannot be used; ``code`` says why (a stable API error code)."""

    def __init__(self, code: AfipCredentialError, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class KeyAndCsr:
    key_pem: bytes  # PKCS#8, unencrypted: seal it at once, never return it
    csr_pem: str


@dataclass(frozen=True)
class CertificateInfo:
    pem: str
    serial_hex: str
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    cuit: str


def valid_alias(alias: str) -> bool:
    return bool(ALIAS_PATTERN.match(alias))


def csr_subject(org_name: str, cuit: str, alias: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name.strip()[:ORGANIZATION_NAME_MAX] or alias),
            x509.NameAttribute(NameOID.COMMON_NAME, alias),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"CUIT {cuit}"),
        ]
    )


def generate_key_and_csr(org_name: str, cuit: str, alias: str) -> KeyAndCsr:
    """A new RSA-2048 key and a SHA-256 CSR with the subject AFIP expects (CPU-bound: run off the loop)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(csr_subject(org_name, cuit, alias))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyAndCsr(key_pem=key_pem, csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode())


def public_key_der(key: rsa.RSAPublicKey | x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    public = key.public_key() if isinstance(key, x509.Certificate | x509.CertificateSigningRequest) else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: PEM (one or a chain), DER, or base64 of DER; ``CertificateRejected`` else."""
    text = data.strip()
    invalid = CertificateRejected(AfipCredentialError.CERTIFICATE_INVALID, "not an X.509 certificate")
    if not text:
        raise invalid
    if b"-----BEGIN" in text:
        try:
            return x509.load_pem_x509_certificates(text)
        except ValueError:
            raise invalid from None
    # DER as sent first: stripping "whitespace" would cut a binary certificate whose last bytes are 0x20 or 0x0a
    candidates = [data, text]
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(b"".join(text.split()), validate=True))
    for candidate in candidates:
        try:
            return [x509.load_der_x509_certificate(candidate)]
        except ValueError:
            continue
    raise invalid


def cuit_of(certificate: x509.Certificate) -> str | None:
    """The CUIT in the subject's ``serialNumber`` ("CUIT 20267565393"), or None."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        match = _CUIT_IN_SERIAL.match(str(attribute.value))
        if match:
            return "".join(match.groups())
    return None


def check_certificate(
    data: bytes, key_public_der: bytes, cuit: str, now: datetime.datetime | None = None
) -> CertificateInfo:
    """The uploaded certificate, if it is X.509, carries our public key and our CUIT, and is not expired.

    Checked in that order, so the first problem a person has to fix is the one reported.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    certificates = load_certificates(data)
    matching = [c for c in certificates if public_key_der(c) == key_public_der]
    if not matching:
        raise CertificateRejected(
            AfipCredentialError.CERTIFICATE_KEY_MISMATCH, "the certificate's public key is not this request's key"
        )
    certificate = matching[0]
    found = cuit_of(certificate)
    if found != cuit:
        raise CertificateRejected(
            AfipCredentialError.CERTIFICATE_CUIT_MISMATCH,
            "the certificate names no CUIT" if found is None else "the certificate is for another CUIT",
        )
    not_after = certificate.not_valid_after_utc
    if not_after <= now:
        raise CertificateRejected(AfipCredentialError.CERTIFICATE_EXPIRED, f"expired on {not_after.isoformat()}")
    return CertificateInfo(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        serial_hex=format(certificate.serial_number, "x"),
        subject=certificate.subject.rfc4514_string(_ATTRIBUTE_NAMES),
        issuer=certificate.issuer.rfc4514_string(_ATTRIBUTE_NAMES),
        not_before=certificate.not_valid_before_utc,
        not_after=not_after,
        cuit=found,
    )


def days_until(moment: datetime.datetime | None, now: datetime.datetime | None = None) -> int | None:
    """Whole days from ``now`` until ``moment`` (negative once past); None without a moment."""
    if moment is None:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    return (moment - now).days
