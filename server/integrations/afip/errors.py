"""AFIP failures, typed so callers know whether to retry.

- ``AfipTransientError``: network errors, timeouts, HTTP 5xx, AFIP's own "try again" codes.
- ``AfipTimeoutAfterSend``: the request left and no answer came; AFIP may have acted on it, so the
  caller asks (FECompConsultar) before sending again.
- ``AfipPermanentError``: the request itself is refused; sending it again will not help
  (configuration: certificate expired or untrusted, CUIT not in the ticket, …).
- ``AfipTicketAlreadyIssued``: WSAA already handed out a ticket for this certificate and service that
  we do not hold; nothing to do but wait for it to expire (at most 12 h) — permanent for now.

Every error carries ``code`` (AFIP's code: an ``int`` for WSFEv1/padrón, a ``str`` such as
``"cms.cert.expired"`` for WSAA; ``None`` for network failures), ``afip_message`` (AFIP's own text)
and ``hint`` (Spanish, for a person). ``CODES`` is the one table of known codes; WSFEv1 codes and WSAA
fault codes live side by side in it.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["transient", "permanent"]


class AfipError(Exception):
    """A call to AFIP that did not succeed; ``code`` is AFIP's error code when it answered one."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int | str | None = None,
        status: int | None = None,
        afip_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.afip_message = afip_message
        self.hint = hint

    @property
    def kind(self) -> Kind:
        return "transient" if self.transient else "permanent"


class AfipTransientError(AfipError):
    """Worth retrying later (network, timeouts, 5xx, ticket to renew)."""

    transient = True


class AfipTimeoutAfterSend(AfipTransientError):
    """The request was sent and the answer never came: ask before sending again (never resend blindly)."""


class AfipPermanentError(AfipError):
    """Refused as sent (configuration, data): do not retry as is."""


class AfipTicketAlreadyIssued(AfipPermanentError):
    """WSAA holds a live ticket for this certificate+service that we lost: wait until it expires."""


# code -> (kind, meaning in Spanish); kind: "transient", "renew_ticket", "permanent", "no_data",
# "resync", "observation", "already_authenticated"
CODES: dict[int | str, tuple[str, str]] = {
    # WSFEv1
    500: ("transient", "Error interno de AFIP"),
    501: ("transient", "Error interno de base de datos de AFIP"),
    502: ("transient", "Error interno de AFIP al procesar"),
    600: ("renew_ticket", "Token o firma inválidos o vencidos: pedir un ticket nuevo"),
    601: ("permanent", "La CUIT representada no está incluida en el ticket"),
    602: ("no_data", "Sin resultados para la consulta"),
    10016: ("resync", "El número o la fecha no son los próximos a autorizar"),
    10217: ("observation", "Observación: el CAE se otorga igual"),
    10242: ("permanent", "La condición frente al IVA del receptor no corresponde a la clase del comprobante"),
    10246: ("permanent", "Falta la condición frente al IVA del receptor"),
    # WSAA (SOAP faultcode, without the "ns1:" prefix)
    "coe.alreadyAuthenticated": (
        "already_authenticated",
        "AFIP ya entregó un ticket de acceso vigente para este certificado y servicio. "
        "Hay que esperar a que venza (hasta 12 horas) o usar otro certificado.",
    ),
    "coe.notAuthorized": (
        "permanent",
        "El certificado no está autorizado para este servicio. Asocialo al servicio en el portal de AFIP "
        "(Administrador de Relaciones de Clave Fiscal).",
    ),
    "cms.bad": ("permanent", "AFIP no pudo leer la firma (CMS) enviada."),
    "cms.bad.base64": ("permanent", "AFIP no pudo decodificar la firma enviada (base64)."),
    "cms.cert.notFound": ("permanent", "La firma no incluye el certificado."),
    "cms.sign.invalid": ("permanent", "La firma no es válida: revisá que la clave corresponda al certificado."),
    "cms.cert.expired": (
        "permanent",
        "El certificado de AFIP venció. Generá uno nuevo en el portal de AFIP y cargalo.",
    ),
    "cms.cert.invalid": ("permanent", "El certificado todavía no es válido (su fecha de inicio es posterior a hoy)."),
    "cms.cert.revoked": ("permanent", "El certificado fue revocado. Generá uno nuevo en el portal de AFIP y cargalo."),
    "cms.cert.untrusted": (
        "permanent",
        "El certificado no fue emitido por AFIP para este entorno (homologación o producción). "
        "Cargá el certificado que te dio AFIP.",
    ),
    "xml.bad": ("permanent", "AFIP no pudo interpretar el pedido de acceso (TRA)."),
    "xml.source.invalid": ("permanent", "El origen del pedido de acceso no es válido."),
    "xml.destination.invalid": ("permanent", "El destino del pedido de acceso no es válido."),
    "xml.version.notSupported": ("permanent", "La versión del pedido de acceso no es soportada."),
    "xml.generationTime.invalid": (
        "permanent",
        "La hora del pedido de acceso no es válida: revisá el reloj del servidor.",
    ),
    "xml.expirationTime.expired": ("permanent", "El pedido de acceso ya venció: revisá el reloj del servidor."),
    "xml.expirationTime.invalid": ("permanent", "El vencimiento del pedido de acceso supera las 24 horas."),
    "wsn.notFound": ("permanent", "El servicio de AFIP pedido no existe."),
    "wsn.unavailable": ("transient", "El servicio de AFIP está momentáneamente fuera de servicio."),
    "wsaa.unavailable": ("transient", "El servicio de autenticación de AFIP no está disponible."),
    "wsaa.internalError": ("transient", "AFIP no pudo procesar el pedido de acceso (error interno)."),
}

TRANSIENT_KINDS = frozenset({"transient", "renew_ticket"})


def kind_of(code: int | str) -> Kind:
    """``"transient"`` (retry later) or ``"permanent"`` for an AFIP code; unknown codes are permanent."""
    kind = CODES.get(code, ("permanent", ""))[0]
    return "transient" if kind in TRANSIENT_KINDS else "permanent"


def classify(code: int | str, message: str = "") -> AfipError:
    """The exception for an AFIP error code: transient for AFIP's internal errors and an expired ticket."""
    kind, meaning = CODES.get(code, ("permanent", "Error de AFIP"))
    text = f"AFIP {code}: {message or meaning}"
    if kind == "already_authenticated":
        return AfipTicketAlreadyIssued(text, code=code, afip_message=message or None, hint=meaning)
    if kind in TRANSIENT_KINDS:
        return AfipTransientError(text, code=code, afip_message=message or None, hint=meaning)
    return AfipPermanentError(text, code=code, afip_message=message or None, hint=meaning)
