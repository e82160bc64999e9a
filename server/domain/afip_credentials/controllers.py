"""/afip/credentials: request a key + CSR, download the CSR, upload AFIP's certificate, see its expiry."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.afip_credentials import services
from server.domain.afip_credentials.schemas import AfipCredential, AfipCredentialCreate, CertificateUpload
from server.domain.auth.guards import caller, requires
from server.lib.context import resources_of
from server.lib.errors import AppError
from server.lib.keys import KeyRing, keyring_for
from server.lib.tracing import trace_id_of
from server.lib.uploads import content_type_of, multipart_boundary, multipart_parts, read_body
from shared.errors import ErrorCode
from shared.permissions import Permission

MANAGE = [requires(Permission.SETTINGS_INTEGRATIONS)]
CERTIFICATE_MAX_BYTES = 64 * 1024  # an AFIP certificate is ~1.5 KB; a chain a few
MULTIPART_OVERHEAD = 16 * 1024
FILE_FIELDS = ("file", "certificate")


def _keys(request: Request[Any, Any, Any]) -> KeyRing:
    return keyring_for(resources_of(request))


def _file_of_multipart(body: bytes, boundary: str) -> bytes:
    found = multipart_parts(body, boundary, max_parts=10, max_part_bytes=CERTIFICATE_MAX_BYTES)
    for name in FILE_FIELDS:
        if name in found:
            return found[name]
    raise AppError(
        ErrorCode.VALIDATION_FAILED,
        "Falta el certificado: envialo en el campo 'file'.",
        details=[{"key": "file", "problem": "required"}],
    )


async def read_certificate(request: Request[Any, Any, Any]) -> bytes:
    """The certificate: JSON ``{"certificate": "<PEM or base64 DER>"}``, a multipart file, or the raw body."""
    media_type, options = content_type_of(request)
    if media_type == "multipart/form-data":
        boundary = multipart_boundary(options)
        body = await read_body(request, CERTIFICATE_MAX_BYTES + MULTIPART_OVERHEAD, max_bytes=CERTIFICATE_MAX_BYTES)
        return _file_of_multipart(body, boundary)
    body = await read_body(request, CERTIFICATE_MAX_BYTES)
    if media_type == "application/json":
        try:
            upload = msgspec.json.decode(body, type=CertificateUpload)
        except msgspec.ValidationError as exc:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                "Falta el certificado: envialo en el campo 'certificate' (PEM o DER en base64).",
                details=[{"key": "certificate", "problem": str(exc)}],
            ) from None
        except msgspec.DecodeError:
            raise AppError(ErrorCode.MALFORMED_REQUEST) from None
        return upload.certificate.encode()
    return body


class AfipCredentialController(Controller):
    path = "/afip/credentials"
    tags = ["afip"]

    @get("/", guards=MANAGE, operation_id="ListAfipCredentials", summary="Key requests and certificates, newest first")
    async def list_credentials(self, db_session: NamedDependency[AsyncSession]) -> list[AfipCredential]:
        return await services.list_credentials(db_session)

    @post(
        "/",
        guards=MANAGE,
        operation_id="RequestAfipCertificate",
        summary="Make a private key (kept encrypted, never shown) and a CSR to upload to AFIP's portal",
        description=(
            "The CSR's subject is C=AR, O=<the organisation's name>, CN=<alias>, serialNumber=CUIT <the "
            "organisation's CUIT>. Download it from /afip/credentials/{id}/csr, upload it in AFIP's "
            "'Administración de Certificados Digitales', and upload the certificate AFIP returns to "
            "/afip/credentials/{id}/certificate."
        ),
        status_code=201,
    )
    async def request_certificate(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[AfipCredentialCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> AfipCredential:
        return await services.request_certificate(
            db_session, caller(request), _keys(request), data, trace_id_of(request.scope)
        )

    @get("/{credential_id:uuid}", guards=MANAGE, operation_id="GetAfipCredential")
    async def get_credential(
        self, credential_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> AfipCredential:
        return await services.read_credential(db_session, credential_id)

    @get(
        "/{credential_id:uuid}/csr",
        guards=MANAGE,
        operation_id="DownloadAfipCsr",
        summary="The CSR (PEM) to upload to AFIP",
        media_type="application/pkcs10",
    )
    async def download_csr(
        self, credential_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        filename, pem = await services.csr_of(db_session, credential_id)
        return Response(
            pem,
            media_type="application/pkcs10",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post(
        "/{credential_id:uuid}/certificate",
        guards=MANAGE,
        operation_id="UploadAfipCertificate",
        summary="The certificate AFIP returned: the .crt as the body, multipart field 'file', or JSON",
        description=(
            'JSON is {"certificate": "<PEM, or base64 of DER>"}. Refused with 422 afip.certificate_invalid (not '
            "X.509), afip.certificate_key_mismatch (made from another CSR), afip.certificate_cuit_mismatch (another "
            "CUIT) or afip.certificate_expired. Accepted, it becomes the organisation's active certificate."
        ),
        request_max_body_size=CERTIFICATE_MAX_BYTES + MULTIPART_OVERHEAD,
        status_code=200,
    )
    async def upload_certificate(
        self,
        request: Request[Any, Any, Any],
        credential_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> AfipCredential:
        ctx = caller(request)
        await services.get_credential(db_session, credential_id)  # another org's id: 404 whatever the body
        certificate = await read_certificate(request)
        return await services.upload_certificate(
            db_session, ctx, _keys(request), credential_id, certificate, trace_id_of(request.scope)
        )


ROUTES = [AfipCredentialController]
