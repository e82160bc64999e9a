"""AFIP padrón A5 lookups: CUIT → name, kind, fiscal address, IVA condition, activities.

``lookup`` answers the registry data of a CUIT for customer creation; ``refresh_organization`` fills the
organisation's own razón social, address and IVA condition from it (audited).

Order of the checks, each with its own answer:

1. the CUIT's check digit (422 ``cuit_invalid`` naming the problem), before anything is asked;
2. the AFIP capability (503 ``capability_disabled`` with Retry-After when switched off);
3. the Redis cache: padrón data is public and not org-specific, so one answer serves every
   organisation for ``CACHE_SECONDS`` (only found CUITs are kept; failures never are);
4. the organisation's AFIP certificate (409 ``padron_not_configured``): the padrón is queried with the
   organisation's own WSAA ticket for ``ws_sr_constancia_inscripcion``;
5. AFIP itself: unknown CUIT → 404 ``padron_cuit_not_found``; down, slow or failing → 503
   ``padron_unavailable`` with Retry-After. A ticket AFIP no longer accepts is renewed once.

Logs carry CUITs masked (``20-********-3``), never a token or sign.
"""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.audit.services import record as audit
from server.domain.invoices.afip_gateway import PADRON_SERVICE, AfipNotConfigured, gateway_for
from server.domain.organizations.services import current_organization, to_settings
from server.integrations.afip.errors import AfipPermanentError, AfipTicketAlreadyIssued, AfipTransientError
from server.integrations.afip.padron import Persona
from server.lib.capabilities import Db
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.redaction import redact_text
from shared.capabilities import Capability
from shared.errors import ErrorCode
from shared.fiscal.cuit import InvalidCuit, format_cuit, normalize_cuit
from shared.schemas.organization import OrganizationSettings
from shared.schemas.padron import (
    PadronActivity,
    PadronAddress,
    PadronPerson,
    PadronPersonKind,
    customer_draft,
    kind_label,
)

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.afip.padron")

CACHE_PREFIX = "campotech:afip:padron:v1:"
CACHE_SECONDS = 24 * 60 * 60
RETRY_AFTER_SECONDS = 60  # AFIP down or slow: a minute is AFIP's usual hiccup
DISABLED_RETRY_AFTER_SECONDS = 300  # switched off by an operator: ask again in a few minutes
TICKET_BUSY_RETRY_AFTER_SECONDS = 600
ORG_NAME_MAX, ORG_ADDRESS_MAX = 200, 500  # the organizations columns (shared/schemas/organization.py)
_BAD_TICKET_MARKERS = ("token", "firma")  # AFIP: "El token o la firma son inválidos o están vencidos"


def cache_key(cuit: str) -> str:
    return CACHE_PREFIX + cuit


def parse_cuit(raw: str) -> str:
    """The CUIT as 11 digits, or 422 ``cuit_invalid`` naming what is wrong (check digit, length, …)."""
    try:
        return normalize_cuit(raw)
    except InvalidCuit as exc:
        raise AppError(
            ErrorCode.CUIT_INVALID, str(exc), details=[{"key": "cuit", "problem": exc.problem.value}]
        ) from None


def to_wire(persona: Persona, checked_at: datetime.datetime) -> PadronPerson:
    kind = PadronPersonKind(persona.kind.value)
    address = None
    if persona.address is not None and persona.address.street.strip():
        address = PadronAddress(
            street=persona.address.street.strip(),
            city=persona.address.locality,
            province=persona.address.province,
            postal_code=persona.address.postal_code or None,
            one_line=persona.address.one_line,
        )
    return PadronPerson(
        cuit=persona.cuit,
        name=persona.name,
        kind=kind,
        kind_label=kind_label(kind),
        address=address,
        iva_condition=persona.iva_condition,
        activities=[PadronActivity(id=ident, description=desc) for ident, desc in persona.activities],
        active=persona.active,
        checked_at=checked_at,
        customer_draft=customer_draft(persona.cuit, persona.name, persona.iva_condition, address),
    )


# -- errors ---------------------------------------------------------------------------------------


def _unavailable(message: str | None = None, seconds: int = RETRY_AFTER_SECONDS) -> AppError:
    return AppError(
        ErrorCode.PADRON_UNAVAILABLE,
        message,
        details={"retryAfterSeconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


async def require_afip(resources: Resources, db: Db, org_id: uuid.UUID) -> None:
    """503 ``capability_disabled`` (with Retry-After) when AFIP is switched off for the organisation."""
    effective = await resources.capabilities.effective(db, Capability.AFIP, org_id)
    if effective.enabled:
        return
    because = f" ({effective.reason})" if effective.reason else ""
    raise AppError(
        ErrorCode.CAPABILITY_DISABLED,
        f"La consulta al padrón de AFIP está desactivada por ahora{because}. "
        "Cargá los datos a mano o probá de nuevo más tarde.",
        details={
            "capability": Capability.AFIP.value,
            "source": effective.source,
            "retryAfterSeconds": DISABLED_RETRY_AFTER_SECONDS,
        },
        headers={"Retry-After": str(DISABLED_RETRY_AFTER_SECONDS)},
    )


# -- cache ----------------------------------------------------------------------------------------


async def cached(resources: Resources, cuit: str) -> PadronPerson | None:
    raw = await resources.redis.get(cache_key(cuit))
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=PadronPerson)
    except (msgspec.ValidationError, msgspec.DecodeError):
        await resources.redis.delete(cache_key(cuit))  # written by an older shape: ask AFIP again
        return None


async def remember(resources: Resources, person: PadronPerson) -> None:
    await resources.redis.set(cache_key(person.cuit), msgspec.json.encode(person), ex=CACHE_SECONDS)


# -- AFIP -----------------------------------------------------------------------------------------


async def ask_afip(resources: Resources, org_id: uuid.UUID, cuit: str) -> Persona | None:
    """The padrón's record of ``cuit`` through the organisation's own ticket (None: AFIP does not know it)."""
    gateway = gateway_for(resources)
    for attempt in (1, 2):
        try:
            auth = await gateway.auth(org_id, PADRON_SERVICE)
            return await gateway.padron.get_persona(auth, cuit)
        except AfipNotConfigured as exc:
            raise AppError(ErrorCode.PADRON_NOT_CONFIGURED, details={"reason": exc.code}) from None
        except AfipTicketAlreadyIssued as exc:
            log.warning("afip padron ticket busy", cuit=_masked(cuit), afip_code=exc.code)
            raise _unavailable(exc.hint, TICKET_BUSY_RETRY_AFTER_SECONDS) from None
        except AfipTransientError as exc:
            if attempt == 1 and all(marker in str(exc).lower() for marker in _BAD_TICKET_MARKERS):
                await gateway.renew_ticket(org_id, PADRON_SERVICE)  # AFIP refused our ticket: log in again
                continue
            log.warning(
                "afip padron unavailable",
                cuit=_masked(cuit),
                error=type(exc).__name__,
                status=exc.status,
                detail=redact_text(str(exc)),
            )
            raise _unavailable() from None
        except AfipPermanentError as exc:
            if exc.hint:  # WSAA refused the certificate (not authorised for the padrón, expired, revoked…)
                log.warning("afip padron refused the certificate", cuit=_masked(cuit), afip_code=exc.code)
                raise AppError(
                    ErrorCode.PADRON_NOT_CONFIGURED,
                    f"AFIP no aceptó el certificado de la organización para consultar el padrón: {exc.hint}",
                    details={"reason": "afip.certificate_refused", "afipCode": exc.code},
                ) from None
            log.error("afip padron refused the query", cuit=_masked(cuit), detail=redact_text(str(exc)))
            raise _unavailable("AFIP no pudo responder la consulta al padrón. Probá de nuevo más tarde.") from None
    raise _unavailable()  # pragma: no cover  # the loop returns or raises


def _masked(cuit: str) -> str:
    return f"{cuit[:2]}-********-{cuit[-1:]}"


# -- use cases ------------------------------------------------------------------------------------


async def lookup(
    resources: Resources, org_id: uuid.UUID, raw_cuit: str, *, db: Db | None = None, fresh: bool = False
) -> PadronPerson:
    """The padrón's data of ``raw_cuit`` for ``org_id`` (``fresh``: skip the cache, still refresh it)."""
    cuit = parse_cuit(raw_cuit)
    await require_afip(resources, db if db is not None else resources.sessionmaker, org_id)
    if not fresh:
        hit = await cached(resources, cuit)
        if hit is not None:
            log.info("afip padron lookup", cuit=_masked(cuit), cache="hit")
            return hit
    persona = await ask_afip(resources, org_id, cuit)
    if persona is None:
        raise AppError(
            ErrorCode.PADRON_CUIT_NOT_FOUND,
            f"AFIP no tiene el CUIT {format_cuit(cuit)} en su padrón. Revisá el número o cargá los datos a mano.",
            details={"cuit": cuit},
        )
    person = to_wire(persona, datetime.datetime.now(datetime.UTC))
    await remember(resources, person)
    return person


async def refresh_organization(
    session: AsyncSession, resources: Resources, ctx: RequestContext, trace_id: str | None
) -> OrganizationSettings:
    """Fill the organisation's razón social, fiscal address and IVA condition from the padrón (audited)."""
    org = await current_organization(session, ctx)
    try:
        person = await lookup(resources, org.id, org.cuit, db=session, fresh=True)
    except AppError as exc:
        if exc.code is ErrorCode.PADRON_CUIT_NOT_FOUND:
            raise AppError(
                ErrorCode.PADRON_CUIT_NOT_FOUND,
                f"AFIP no tiene el CUIT de la organización ({format_cuit(org.cuit)}) en su padrón. "
                "Revisá que sea el CUIT correcto o completá los datos a mano.",
                details={"cuit": org.cuit},
            ) from None
        raise
    before = msgspec.to_builtins(to_settings(org))
    name = person.name.strip()[:ORG_NAME_MAX]
    if len(name) >= 2:
        org.name = name
    if person.address is not None:
        org.address = person.address.one_line[:ORG_ADDRESS_MAX]
    org.iva_condition = person.iva_condition
    await session.flush()
    after = msgspec.to_builtins(to_settings(org))
    changed = {k: after[k] for k in after if after[k] != before[k]}
    await audit(
        session,
        org_id=org.id,
        actor_id=ctx.user_id,
        action="organization.padron_refreshed",
        entity_type="organization",
        entity_id=org.id,
        before={k: before[k] for k in changed},
        after={**changed, "source": "afip_padron", "checkedAt": person.checked_at.isoformat()},
        trace_id=trace_id,
    )
    log.info("organization refreshed from afip padron", cuit=_masked(org.cuit), changed=sorted(changed))
    return to_settings(org)
