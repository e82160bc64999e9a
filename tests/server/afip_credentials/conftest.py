"""AFIP credential tests: the app with the /afip/credentials routes, a key ring, and a throwaway CA.

The CA here stands in for AFIP's (made with ``cryptography``; the AFIP sandbox's own CA is another
module's business): it signs the CSR the app produced, as AFIP's portal would.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from litestar import Litestar

import server.domain as domain
from server.asgi import create_app
from server.domain.afip_credentials.controllers import ROUTES as AFIP_CREDENTIAL_ROUTES
from server.lib.keys import KeyRing, keyring_for
from server.runtime import Resources
from server.settings import Settings
from tests.server.auth.conftest import fixture_owner

__all__ = ["fixture_owner"]

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(name="keys")
def fixture_keys(resources: Resources) -> KeyRing:
    """The app's key ring, from the session's settings: their master key is random per test session (see
    tests/conftest.py), so no dev key file is written and every test of the session unwraps the same data
    keys (a second master key would leave the shared data_keys table unreadable for the others)."""
    assert resources.settings.master_key, "tests/conftest.py sets a master key"
    return keyring_for(resources)


@pytest.fixture(name="app")
def fixture_app(settings: Settings, resources: Resources, keys: KeyRing, monkeypatch: pytest.MonkeyPatch) -> Litestar:
    # until server/domain/__init__.py lists the domain (then this changes nothing)
    if not any(AFIP_CREDENTIAL_ROUTES[0] in group for group in domain.API_ROUTES_BY_DOMAIN.values()):
        monkeypatch.setitem(domain.API_ROUTES_BY_DOMAIN, "afip_credentials", AFIP_CREDENTIAL_ROUTES)
    return create_app(settings, resources)


@dataclass(frozen=True)
class TestCa:
    __test__ = False
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def issue(
        self,
        public_key: rsa.RSAPublicKey,
        subject: x509.Name,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - datetime.timedelta(minutes=5))
            .not_valid_after(not_after or NOW + datetime.timedelta(days=730))
            .sign(self.key, hashes.SHA256())
        )

    def sign_csr(self, csr_pem: str, **kwargs: datetime.datetime) -> x509.Certificate:
        """What AFIP's portal does: a certificate for the CSR's key, with the CSR's subject."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        assert csr.is_signature_valid
        return self.issue(csr.public_key(), csr.subject, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(name="ca", scope="session")
def fixture_ca() -> TestCa:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AC de prueba"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Computadores Test"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return TestCa(key=key, certificate=certificate)
