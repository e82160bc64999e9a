"""Certificate onboarding through the API: key + CSR made here, AFIP's certificate uploaded and checked."""

from __future__ import annotations

import base64
import datetime
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from server.db.engine import tenant_transaction
from server.domain.afip_credentials.services import SigningMaterialUnavailable, load_signing_material
from server.lib.keys import DecryptionFailed, KeyRing
from server.runtime import Resources
from tests.server.afip_credentials.conftest import NOW, TestCa
from tests.server.auth.conftest import Session, add_member, sign_up

BASE = "/api/v1/afip/credentials"
PEM_TYPE = "application/x-pem-file"


async def _request(client: httpx.AsyncClient, owner: Session, alias: str = "campotech") -> dict[str, Any]:
    response = await client.post(BASE, headers=owner.headers, json={"alias": alias})
    assert response.status_code == 201, response.text
    return response.json()


async def _csr(client: httpx.AsyncClient, owner: Session, credential_id: str) -> str:
    response = await client.get(f"{BASE}/{credential_id}/csr", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.text


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


async def _upload(
    client: httpx.AsyncClient,
    owner: Session,
    credential_id: str,
    body: bytes,
    content_type: str = "application/x-pem-file",
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{credential_id}/certificate",
        headers={**owner.headers, "Content-Type": content_type},
        content=body,
    )


async def _audit(admin_conn: asyncpg.Connection, org_id: str, entity_id: str) -> list[asyncpg.Record]:
    return await admin_conn.fetch(
        "SELECT action, before, after FROM audit_log WHERE org_id = $1 AND entity_id = $2 ORDER BY seq",
        uuid.UUID(org_id),
        uuid.UUID(entity_id),
    )


def _subject(cuit: str, serial: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "AR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Otra"),
        x509.NameAttribute(NameOID.COMMON_NAME, "campotech"),
    ]
    if serial is not None or cuit:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial or f"CUIT {cuit}"))
    return x509.Name(attributes)


# ---------------------------------------------------------------------------------------------- the happy path


async def test_request_download_upload_and_sign_with_it(
    client: httpx.AsyncClient,
    resources: Resources,
    owner: Session,
    ca: TestCa,
    keys: KeyRing,
    admin_conn: asyncpg.Connection,
) -> None:
    org = owner.body["organization"]
    created = await _request(client, owner, alias="facturador1")
    assert created["status"] == "pending_certificate"
    assert created["cuit"] == org["cuit"] and created["alias"] == "facturador1"
    assert created["notAfter"] is None and created["daysToExpiry"] is None
    assert "PRIVATE KEY" not in str(created)

    # the CSR AFIP's portal receives: RSA 2048, SHA-256, the subject AFIP asks for
    response = await client.get(f"{BASE}/{created['id']}/csr", headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/pkcs10")
    assert "attachment" in response.headers["content-disposition"]
    assert "facturador1" in response.headers["content-disposition"]
    csr = x509.load_pem_x509_csr(response.content)
    assert csr.is_signature_valid
    assert isinstance(csr.public_key(), rsa.RSAPublicKey) and csr.public_key().key_size == 2048
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
    subject = {attribute.oid: attribute.value for attribute in csr.subject}
    assert subject == {
        NameOID.COUNTRY_NAME: "AR",
        NameOID.ORGANIZATION_NAME: org["name"],
        NameOID.COMMON_NAME: "facturador1",
        NameOID.SERIAL_NUMBER: f"CUIT {org['cuit']}",
    }

    # the key is stored sealed: nothing of it in the row, in any encoding
    row = await admin_conn.fetchrow("SELECT * FROM afip_credentials WHERE id = $1", uuid.UUID(created["id"]))
    assert row is not None
    assert "PRIVATE KEY" not in str(dict(row)) and "MII" not in row["key_encrypted"]

    certificate = ca.sign_csr(response.text)
    uploaded = await _upload(client, owner, created["id"], _pem(certificate))
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert body["status"] == "active"
    assert body["certificateSerial"] == format(certificate.serial_number, "x")
    assert f"serialNumber=CUIT {org['cuit']}" in body["certificateSubject"]
    assert "AC de prueba" in body["certificateIssuer"]
    assert datetime.datetime.fromisoformat(body["notAfter"]) == certificate.not_valid_after_utc
    assert body["daysToExpiry"] in (728, 729, 730)

    listed = await client.get(BASE, headers=owner.headers)
    assert [c["id"] for c in listed.json()] == [created["id"]]
    assert "PRIVATE KEY" not in listed.text

    # what the WSAA client gets: the CUIT, the certificate and a key that signs for it
    async with tenant_transaction(resources.sessionmaker, uuid.UUID(org["id"])) as session:
        cuit, cert_pem, key_pem = await load_signing_material(session, uuid.UUID(org["id"]), keys)
    assert cuit == org["cuit"]
    assert x509.load_pem_x509_certificate(cert_pem) == certificate
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(b"<loginTicketRequest/>", padding.PKCS1v15(), hashes.SHA256())
    certificate.public_key().verify(signature, b"<loginTicketRequest/>", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg, union-attr]

    actions = [r["action"] for r in await _audit(admin_conn, org["id"], created["id"])]
    assert actions == ["afip.certificate_requested", "afip.certificate_uploaded"]
    entries = await _audit(admin_conn, org["id"], created["id"])
    assert "PRIVATE KEY" not in str([dict(e) for e in entries])
    assert "BEGIN CERTIFICATE REQUEST" not in str([dict(e) for e in entries])


async def test_der_upload_as_json_and_as_a_multipart_file(
    client: httpx.AsyncClient, owner: Session, ca: TestCa
) -> None:
    first = await _request(client, owner)
    der = ca.sign_csr(await _csr(client, owner, first["id"])).public_bytes(serialization.Encoding.DER)
    response = await client.post(
        f"{BASE}/{first['id']}/certificate",
        headers=owner.headers,
        json={"certificate": base64.b64encode(der).decode()},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"

    second = await _request(client, owner, alias="renovado")
    der2 = ca.sign_csr(await _csr(client, owner, second["id"])).public_bytes(serialization.Encoding.DER)
    response = await client.post(
        f"{BASE}/{second['id']}/certificate",
        headers=owner.headers,
        files={"file": ("campotech.crt", der2, "application/x-x509-ca-cert")},
    )
    assert response.status_code == 200, response.text
    # the newer certificate is the active one; the earlier one is replaced, and cannot take uploads any more
    states = {c["id"]: c["status"] for c in (await client.get(BASE, headers=owner.headers)).json()}
    assert states == {first["id"]: "replaced", second["id"]: "active"}
    again = await _upload(client, owner, first["id"], der, "application/pkix-cert")
    assert again.status_code == 409 and again.json()["code"] == "afip.credential_replaced"


# ---------------------------------------------------------------------------------------------- bad uploads


async def test_each_bad_upload_is_a_422_with_its_own_code(
    client: httpx.AsyncClient, owner: Session, ca: TestCa, admin_conn: asyncpg.Connection
) -> None:
    org = owner.body["organization"]
    created = await _request(client, owner)
    csr = x509.load_pem_x509_csr((await _csr(client, owner, created["id"])).encode())
    public_key: rsa.RSAPublicKey = csr.public_key()  # type: ignore[assignment]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other_cuit = "20267565393" if org["cuit"] != "20267565393" else "27000000006"

    cases: list[tuple[bytes, str]] = [
        (b"esto no es un certificado", "afip.certificate_invalid"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "afip.certificate_invalid"),
        (b"", "afip.certificate_invalid"),
        (_pem(ca.issue(other_key, csr.subject)), "afip.certificate_key_mismatch"),
        (_pem(ca.issue(public_key, _subject(other_cuit))), "afip.certificate_cuit_mismatch"),
        (_pem(ca.issue(public_key, _subject("", serial=None))), "afip.certificate_cuit_mismatch"),
        (
            _pem(
                ca.issue(
                    public_key,
                    csr.subject,
                    not_before=NOW - datetime.timedelta(days=800),
                    not_after=NOW - datetime.timedelta(days=1),
                )
            ),
            "afip.certificate_expired",
        ),
    ]
    for body, code in cases:
        response = await _upload(client, owner, created["id"], body)
        assert response.status_code == 422, (code, response.text)
        error = response.json()
        assert error["code"] == code
        assert error["message"] and error["message"][0].isupper()  # a sentence a person can act on
    # nothing changed: still waiting for a good certificate, nothing recorded but the request
    state = await client.get(f"{BASE}/{created['id']}", headers=owner.headers)
    assert state.json()["status"] == "pending_certificate" and state.json()["certificateSerial"] is None
    actions = [r["action"] for r in await _audit(admin_conn, org["id"], created["id"])]
    assert actions == ["afip.certificate_requested"]


async def test_bad_requests_are_refused_in_spanish(client: httpx.AsyncClient, owner: Session) -> None:
    response = await client.post(BASE, headers=owner.headers, json={"alias": "mi alias con espacios"})
    assert response.status_code == 422
    assert response.json()["code"] == "afip.alias_invalid"
    assert "letras y números" in response.json()["message"]

    created = await _request(client, owner)
    too_big = await _upload(client, owner, created["id"], b"A" * (70 * 1024))
    assert too_big.status_code == 413
    no_field = await client.post(f"{BASE}/{created['id']}/certificate", headers=owner.headers, json={"cert": "x"})
    assert no_field.status_code == 422 and "certificate" in no_field.json()["message"]


# ---------------------------------------------------------------------------------------------- who may


async def test_another_organisation_sees_a_404(
    client: httpx.AsyncClient, resources: Resources, owner: Session, ca: TestCa
) -> None:
    created = await _request(client, owner)
    csr_pem = await _csr(client, owner, created["id"])
    intruder = await sign_up(client, resources, name="Otra Empresa SA")
    for response in (
        await client.get(f"{BASE}/{created['id']}", headers=intruder.headers),
        await client.get(f"{BASE}/{created['id']}/csr", headers=intruder.headers),
        await _upload(client, intruder, created["id"], _pem(ca.sign_csr(csr_pem))),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert (await client.get(BASE, headers=intruder.headers)).json() == []
    # and the owner's request is untouched
    assert (await client.get(f"{BASE}/{created['id']}", headers=owner.headers)).json()["status"] == (
        "pending_certificate"
    )


@pytest.mark.parametrize("role", ["dispatcher", "technician", "accountant"])
async def test_only_owners_and_admins_manage_certificates(
    client: httpx.AsyncClient, resources: Resources, owner: Session, role: str
) -> None:
    member = await add_member(client, resources, owner, role)
    assert (await client.post(BASE, headers=member.headers, json={})).status_code == 403
    assert (await client.get(BASE, headers=member.headers)).status_code == 403
    admin = await add_member(client, resources, owner, "admin")
    response = await client.post(BASE, headers=admin.headers, json={})
    assert response.status_code == 201 and response.json()["alias"] == "campotech"


# ---------------------------------------------------------------------------------------------- signing material


async def test_signing_material_needs_a_live_certificate(
    client: httpx.AsyncClient,
    resources: Resources,
    owner: Session,
    ca: TestCa,
    keys: KeyRing,
    admin_conn: asyncpg.Connection,
) -> None:
    org_id = uuid.UUID(owner.body["organization"]["id"])
    created = await _request(client, owner)

    async def material() -> Any:
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            return await load_signing_material(session, org_id, keys)

    with pytest.raises(SigningMaterialUnavailable) as missing:  # a CSR alone signs nothing
        await material()
    assert missing.value.code == "afip.credentials_missing"

    await _upload(client, owner, created["id"], _pem(ca.sign_csr(await _csr(client, owner, created["id"]))))
    assert (await material()).cuit == owner.body["organization"]["cuit"]

    # the certificate runs out: shown as expired, and no longer handed to the WSAA client
    await admin_conn.execute(
        "UPDATE afip_credentials SET not_after = now() - interval '1 hour' WHERE id = $1", uuid.UUID(created["id"])
    )
    shown = (await client.get(f"{BASE}/{created['id']}", headers=owner.headers)).json()
    assert shown["status"] == "expired" and shown["daysToExpiry"] < 0
    with pytest.raises(SigningMaterialUnavailable) as expired:
        await material()
    assert expired.value.code == "afip.certificate_expired"


async def test_a_key_copied_to_another_organisation_does_not_open(
    client: httpx.AsyncClient,
    resources: Resources,
    owner: Session,
    ca: TestCa,
    keys: KeyRing,
    admin_conn: asyncpg.Connection,
) -> None:
    """Even with direct database access, swapping sealed keys between organisations yields nothing."""
    mine = await _request(client, owner)
    await _upload(client, owner, mine["id"], _pem(ca.sign_csr(await _csr(client, owner, mine["id"]))))
    other = await sign_up(client, resources, name="Vecino SRL")
    theirs = await _request(client, other)
    await _upload(client, other, theirs["id"], _pem(ca.sign_csr(await _csr(client, other, theirs["id"]))))

    await admin_conn.execute(
        "UPDATE afip_credentials SET key_encrypted = (SELECT key_encrypted FROM afip_credentials WHERE id = $1) "
        "WHERE id = $2",
        uuid.UUID(mine["id"]),
        uuid.UUID(theirs["id"]),
    )
    other_org = uuid.UUID(other.org_id)
    with pytest.raises(DecryptionFailed):
        async with tenant_transaction(resources.sessionmaker, other_org) as session:
            await load_signing_material(session, other_org, keys)


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    upload = spec["paths"]["/api/v1/afip/credentials/{credential_id}/certificate"]["post"]
    assert upload["operationId"] == "UploadAfipCertificate"
    assert "afip.certificate_key_mismatch" in upload["description"]
    assert "/api/v1/afip/credentials/{credential_id}/csr" in spec["paths"]
