"""Stable error codes of AFIP certificate onboarding.

They belong in ``shared.errors`` (``ErrorCode`` + ``ERROR_CATALOGUE``); until they are moved there they are
defined here with the same shape, so the wire contract (``code``, ``message``, status) is already final.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

from server.lib.errors import AppError
from shared.errors import ErrorCode


class AfipCredentialError(StrEnum):
    CERTIFICATE_INVALID = "afip.certificate_invalid"
    CERTIFICATE_KEY_MISMATCH = "afip.certificate_key_mismatch"
    CERTIFICATE_CUIT_MISMATCH = "afip.certificate_cuit_mismatch"
    CERTIFICATE_EXPIRED = "afip.certificate_expired"
    CREDENTIAL_REPLACED = "afip.credential_replaced"
    CREDENTIALS_MISSING = "afip.credentials_missing"
    ALIAS_INVALID = "afip.alias_invalid"


CATALOGUE: dict[AfipCredentialError, tuple[int, str]] = {
    AfipCredentialError.CERTIFICATE_INVALID: (
        422,
        "El archivo no es un certificado X.509 válido. Subí el .crt que te dio AFIP (PEM o DER), sin modificarlo.",
    ),
    AfipCredentialError.CERTIFICATE_KEY_MISMATCH: (
        422,
        "El certificado no corresponde a la clave de esta solicitud. Subí el certificado que AFIP generó con el "
        "CSR descargado de esta solicitud.",
    ),
    AfipCredentialError.CERTIFICATE_CUIT_MISMATCH: (
        422,
        "El certificado es de otro CUIT. Generalo en AFIP con la clave fiscal del CUIT de tu organización.",
    ),
    AfipCredentialError.CERTIFICATE_EXPIRED: (
        422,
        "El certificado está vencido. Generá uno nuevo en AFIP con el mismo CSR y subilo.",
    ),
    AfipCredentialError.CREDENTIAL_REPLACED: (
        409,
        "Esta solicitud fue reemplazada por un certificado más nuevo. Usá la solicitud vigente o creá una nueva.",
    ),
    AfipCredentialError.CREDENTIALS_MISSING: (
        409,
        "La organización no tiene un certificado de AFIP vigente. Cargalo en Configuración > AFIP.",
    ),
    AfipCredentialError.ALIAS_INVALID: (
        422,
        "El alias sólo puede tener letras y números (sin espacios ni acentos), hasta 50 caracteres.",
    ),
}


def afip_error(code: AfipCredentialError, details: Any = None) -> AppError:
    status, message = CATALOGUE[code]
    # the wire only reads ``.value`` of the code: these values are final (see the module docstring)
    return AppError(cast(ErrorCode, code), message, details, status_code=status)
