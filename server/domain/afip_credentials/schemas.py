"""Wire contracts of /afip/credentials (camelCase). Candidates for ``shared/schemas/afip_credentials.py``."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from shared.schemas.base import CamelStruct

DEFAULT_ALIAS = "campotech"


class AfipCredentialCreate(CamelStruct):
    # the CSR's CN: AFIP's "nombre simbólico del DN" (letters and digits)
    alias: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] = DEFAULT_ALIAS


class CertificateUpload(CamelStruct):
    """The certificate AFIP returned: PEM text, or base64 of the DER file."""

    certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]


class AfipCredential(CamelStruct):
    id: uuid.UUID
    cuit: str
    alias: str
    # pending_certificate | active | expired | replaced ("expired" once an active certificate's notAfter passed)
    status: str
    csr_pem: str
    certificate_serial: str | None = None
    certificate_subject: str | None = None
    certificate_issuer: str | None = None
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    days_to_expiry: int | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
