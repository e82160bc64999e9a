"""The sandbox's certificate authority: what AFIP's portal does when it signs a taxpayer's CSR.

``SandboxCA.create()`` makes a fresh CA (RSA 2048, ten years); ``SandboxCA.load_or_create(dir)`` keeps
it in ``dir/ca.key`` + ``dir/ca.crt`` so certificates issued in ``campotech dev`` survive a restart.
Certificates carry the subject ``serialNumber = "CUIT nnnnnnnnnnn"`` exactly like AFIP's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_CUIT_SERIAL = re.compile(r"^CUIT (\d{11})$")


def cuit_of(cert: x509.Certificate) -> str | None:
    """The CUIT in a certificate's subject ``serialNumber`` ("CUIT 20267565393"), if any."""
    for attribute in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
        match = _CUIT_SERIAL.match(value.strip())
        if match:
            return match.group(1)
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class SandboxCA:
    """A test CA able to sign CSRs (``sign_csr``) and to issue key + certificate pairs (``issue``)."""

    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, common_name: str = "Computadores Sandbox CampoTech") -> SandboxCA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AFIP"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "AR"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> SandboxCA:
        key_path, cert_path = directory / "ca.key", directory / "ca.crt"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} is not an RSA key")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca = cls.create()
        directory.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(ca.key_pem())
        key_path.chmod(0o600)
        cert_path.write_bytes(ca.cert_pem())
        return ca

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def sign_csr(self, csr_pem: bytes, days: int = 730, *, not_before: datetime | None = None) -> bytes:
        """A certificate for the CSR's key and subject (which must name ``serialNumber = "CUIT n"``)."""
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature is not valid")
        cuit = None
        for attribute in csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            match = _CUIT_SERIAL.match(value.strip())
            if match:
                cuit = match.group(1)
        if cuit is None:
            raise ValueError('the CSR subject must include serialNumber "CUIT <11 digits>"')
        start = not_before or (_now() - timedelta(minutes=5))
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        cuit: str,
        *,
        alias: str = "campotech",
        days: int = 730,
        not_before: datetime | None = None,
    ) -> tuple[bytes, bytes]:
        """``(key_pem, cert_pem)`` for a taxpayer: a new key, a CSR as the app makes one, signed here."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "AR"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, alias),
                        x509.NameAttribute(NameOID.COMMON_NAME, alias),
                        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"CUIT {cuit}"),
                    ]
                )
            )
            .sign(key, hashes.SHA256())
        )
        cert_pem = self.sign_csr(csr.public_bytes(serialization.Encoding.PEM), days, not_before=not_before)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key_pem, cert_pem
