"""AFIP credentials: make a key + CSR, take AFIP's certificate, hand the signing material to the WSAA client.

The private key is generated here and sealed at once with the AFIP data key (``server.lib.keys``), the
ciphertext bound to its organisation and row; it is never returned by the API nor logged. An uploaded
certificate is accepted only if it is X.509 (PEM or DER), carries this request's public key and the
organisation's CUIT, and has not expired; it then becomes the organisation's one ``active`` certificate
(the previous one is ``replaced``). Every request and upload is written to the audit chain (no secrets).
Reads run in the caller's tenant: another organisation's id is a 404, exactly like a missing one.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import AfipCredential, AfipCredentialStatus, Organization
from server.db.models.keys import KeyPurpose
from server.domain.afip_credentials import schemas as wire
from server.domain.afip_credentials.certificates import (
    CertificateRejected,
    check_certificate,
    days_until,
    generate_key_and_csr,
    public_key_der,
    valid_alias,
)
from server.domain.afip_credentials.errors import CATALOGUE, AfipCredentialError, afip_error
from server.domain.audit.services import record_by
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.keys import KeyRing, aad_for
from shared.errors import ErrorCode
from shared.ids import new_id

ENTITY = "afip_credential"


class SigningMaterial(NamedTuple):
    """What the WSAA client signs a TRA with (unpacks as ``cuit, cert_pem, key_pem``)."""

    cuit: str
    certificate_pem: bytes
    key_pem: bytes


class SigningMaterialUnavailable(AppError):
    """The organisation has no usable certificate (none active, or it expired): a configuration error."""

    def __init__(self, code: AfipCredentialError, details: Any = None) -> None:
        error = afip_error(code, details)
        super().__init__(error.code, error.message, details, status_code=error.status_code)


def key_aad(org_id: uuid.UUID, credential_id: uuid.UUID) -> bytes:
    return aad_for("afip_credentials.key_encrypted", org_id, credential_id)


def effective_status(credential: AfipCredential, now: datetime.datetime | None = None) -> AfipCredentialStatus:
    now = now or utcnow()
    status = AfipCredentialStatus(credential.status)
    if status is AfipCredentialStatus.ACTIVE and credential.not_after is not None and credential.not_after <= now:
        return AfipCredentialStatus.EXPIRED
    return status


def to_wire(credential: AfipCredential) -> wire.AfipCredential:
    return wire.AfipCredential(
        id=credential.id,
        cuit=credential.cuit,
        alias=credential.alias,
        status=effective_status(credential).value,
        csr_pem=credential.csr_pem,
        certificate_serial=credential.certificate_serial,
        certificate_subject=credential.certificate_subject,
        certificate_issuer=credential.certificate_issuer,
        not_before=credential.not_before,
        not_after=credential.not_after,
        days_to_expiry=days_until(credential.not_after),
        created_at=credential.created_at,
        updated_at=credential.updated_at,
    )


def _snapshot(credential: AfipCredential) -> dict[str, Any]:
    """For the audit chain: what a person checks later; never the key, the CSR or the CUIT."""
    return {
        "alias": credential.alias,
        "status": str(credential.status),
        "certificateSerial": credential.certificate_serial,
        "certificateSubject": credential.certificate_subject,
        "notAfter": credential.not_after.isoformat() if credential.not_after else None,
    }


# ---------------------------------------------------------------------------------------------- reads


async def get_credential(session: AsyncSession, credential_id: uuid.UUID) -> AfipCredential:
    credential = await session.get(AfipCredential, credential_id)
    if credential is None:  # another organisation's id looks exactly like a missing one
        raise AppError(ErrorCode.NOT_FOUND)
    return credential


async def list_credentials(session: AsyncSession) -> list[wire.AfipCredential]:
    rows = await session.scalars(select(AfipCredential).order_by(AfipCredential.created_at.desc()))
    return [to_wire(row) for row in rows]


async def read_credential(session: AsyncSession, credential_id: uuid.UUID) -> wire.AfipCredential:
    return to_wire(await get_credential(session, credential_id))


async def csr_of(session: AsyncSession, credential_id: uuid.UUID) -> tuple[str, str]:
    """``(file name, CSR PEM)`` to download and upload to AFIP's portal."""
    credential = await get_credential(session, credential_id)
    return f"campotech-{credential.alias}-{credential.cuit}.csr", credential.csr_pem


# ---------------------------------------------------------------------------------------------- writes


async def request_certificate(
    session: AsyncSession,
    ctx: RequestContext,
    keys: KeyRing,
    data: wire.AfipCredentialCreate,
    trace_id: str | None = None,
) -> wire.AfipCredential:
    """A new private key (sealed at once) and its CSR for the caller's organisation."""
    assert ctx.org_id is not None
    alias = data.alias.strip()
    if not valid_alias(alias):
        raise afip_error(AfipCredentialError.ALIAS_INVALID, details=[{"key": "alias"}])
    org = await session.get(Organization, ctx.org_id)
    if org is None:
        raise AppError(ErrorCode.NOT_FOUND)
    material = await asyncio.to_thread(generate_key_and_csr, org.name, org.cuit, alias)
    credential_id = new_id()
    sealed = await keys.encrypt_text(KeyPurpose.AFIP, material.key_pem, key_aad(ctx.org_id, credential_id))
    credential = AfipCredential(
        id=credential_id,
        org_id=ctx.org_id,
        cuit=org.cuit,
        alias=alias,
        key_encrypted=sealed,
        csr_pem=material.csr_pem,
        status=AfipCredentialStatus.PENDING_CERTIFICATE,
        created_by_id=ctx.user_id,
    )
    session.add(credential)
    await session.flush()
    await session.refresh(credential)
    await record_by(
        session,
        ctx,
        "afip.certificate_requested",
        ENTITY,
        credential.id,
        after=_snapshot(credential),
        trace_id=trace_id,
    )
    return to_wire(credential)


async def _private_key_pem(keys: KeyRing, credential: AfipCredential) -> bytes:
    return await keys.decrypt_text(KeyPurpose.AFIP, credential.key_encrypted, key_aad(credential.org_id, credential.id))


async def upload_certificate(
    session: AsyncSession,
    ctx: RequestContext,
    keys: KeyRing,
    credential_id: uuid.UUID,
    certificate: bytes,
    trace_id: str | None = None,
) -> wire.AfipCredential:
    """Check AFIP's certificate against this request's key and the organisation's CUIT; make it active."""
    credential = await get_credential(session, credential_id)
    if credential.status == AfipCredentialStatus.REPLACED:
        raise afip_error(AfipCredentialError.CREDENTIAL_REPLACED)
    key = serialization.load_pem_private_key(await _private_key_pem(keys, credential), password=None)
    try:
        info = check_certificate(certificate, public_key_der(key.public_key()), credential.cuit)  # type: ignore[arg-type]
    except CertificateRejected as exc:
        raise afip_error(exc.code, details={"reason": exc.detail}) from None
    before = _snapshot(credential)
    replaced = (
        (
            await session.execute(
                update(AfipCredential)
                .where(AfipCredential.status == AfipCredentialStatus.ACTIVE, AfipCredential.id != credential.id)
                .values(status=AfipCredentialStatus.REPLACED)
                .returning(AfipCredential.id)
            )
        )
        .scalars()
        .all()
    )
    credential.certificate_pem = info.pem
    credential.certificate_serial = info.serial_hex
    credential.certificate_subject = info.subject[:500]
    credential.certificate_issuer = info.issuer[:500]
    credential.not_before = info.not_before
    credential.not_after = info.not_after
    credential.status = AfipCredentialStatus.ACTIVE
    await session.flush()
    await session.refresh(credential)
    after = {**_snapshot(credential), "replaced": [str(i) for i in replaced]}
    await record_by(
        session, ctx, "afip.certificate_uploaded", ENTITY, credential.id, before=before, after=after, trace_id=trace_id
    )
    return to_wire(credential)


# ---------------------------------------------------------------------------------------------- for the WSAA client


async def load_signing_material(session: AsyncSession, org_id: uuid.UUID, keys: KeyRing) -> SigningMaterial:
    """The organisation's active certificate and its private key (PEM), for signing TRAs.

    ``session`` must run in ``org_id``'s tenant (``tenant_transaction(sessionmaker, org_id)``). Raises
    ``SigningMaterialUnavailable`` (afip.credentials_missing / afip.certificate_expired): a permanent
    configuration error a person fixes by uploading a certificate.
    """
    credential = (
        await session.execute(
            select(AfipCredential).where(
                AfipCredential.org_id == org_id, AfipCredential.status == AfipCredentialStatus.ACTIVE
            )
        )
    ).scalar_one_or_none()
    if credential is None or credential.certificate_pem is None:
        raise SigningMaterialUnavailable(AfipCredentialError.CREDENTIALS_MISSING)
    if effective_status(credential) is AfipCredentialStatus.EXPIRED:
        raise SigningMaterialUnavailable(
            AfipCredentialError.CERTIFICATE_EXPIRED,
            details={"notAfter": credential.not_after.isoformat() if credential.not_after else None},
        )
    key_pem = await _private_key_pem(keys, credential)
    return SigningMaterial(cuit=credential.cuit, certificate_pem=credential.certificate_pem.encode(), key_pem=key_pem)


__all__ = [
    "CATALOGUE",
    "SigningMaterial",
    "SigningMaterialUnavailable",
    "effective_status",
    "list_credentials",
    "load_signing_material",
    "read_credential",
    "request_certificate",
    "upload_certificate",
]
