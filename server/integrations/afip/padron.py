"""Padrón A5 client (``ws_sr_constancia_inscripcion``): CUIT → name, kind, fiscal address, IVA condition.

Through zeep's ``AsyncClient`` on the packaged ``wsdl/padron_a5.wsdl``; the address is configuration
(``HOMOLOGATION_URL`` / ``PRODUCTION_URL``). ``get_persona`` answers None for a CUIT AFIP does not know
(the fault "No existe persona con ese Id"); transport failures and other faults raise the types of
``errors.py`` (see ``zeep_transport.soap_call``).

IVA condition from the answer (spec): impuesto 30 (IVA) → responsable inscripto; 32 (IVA exento) →
exento; an active monotributo (impuesto 20/21 or a category) → monotributista; otherwise consumidor final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from server.integrations.afip.errors import AfipPermanentError, AfipTransientError
from server.integrations.afip.wsfe import Auth, mask_cuit
from server.integrations.afip.zeep_transport import (
    AfipSoapClient,
    soap_call,
    value,
)
from server.lib.logging import get_logger
from shared.fiscal.cuit import InvalidCuit, normalize_cuit
from shared.fiscal.iva import IvaCondition

log = get_logger("campotech.afip.padron")

HOMOLOGATION_URL = "https://awshomo.afip.gov.ar/sr-padron/webservices/personaServiceA5"
PRODUCTION_URL = "https://aws.afip.gov.ar/sr-padron/webservices/personaServiceA5"
WSDL_NAME = "padron_a5.wsdl"
SERVICE = "ws_sr_constancia_inscripcion"  # the WSAA service name of padrón A5 tickets

IVA_RI = 30
IVA_EXENTO = 32
MONOTRIBUTO_TAXES = frozenset({20, 21})
_NOT_FOUND_MARKERS = ("no existe persona", "no se encuentra", "inexistente")


class PersonKind(StrEnum):
    PERSON = "person"  # FISICA
    COMPANY = "company"  # JURIDICA


@dataclass(frozen=True)
class FiscalAddress:
    street: str
    locality: str | None
    postal_code: str | None
    province_id: int | None
    province: str | None

    @property
    def one_line(self) -> str:
        parts = [self.street, self.locality, self.province]
        text = ", ".join(p for p in parts if p)
        return f"{text} ({self.postal_code})" if self.postal_code else text


@dataclass(frozen=True)
class Persona:
    cuit: str
    name: str  # razón social, or "APELLIDO NOMBRE" for a person
    kind: PersonKind
    address: FiscalAddress | None
    iva_condition: IvaCondition
    activities: tuple[tuple[int, str], ...] = field(default=())  # (idActividad, description)
    active: bool = True  # estadoClave ACTIVO


class PadronClient(AfipSoapClient):
    """One padrón A5 endpoint; ``aclose()`` (or ``async with``) ends it."""

    wsdl_name = WSDL_NAME
    default_url = HOMOLOGATION_URL

    async def dummy(self) -> bool:
        res = await soap_call(SERVICE, "dummy", lambda: self._service.dummy())
        return all(value(res, k) == "OK" for k in ("appserver", "authserver", "dbserver"))

    async def get_persona(self, auth: Auth, cuit: str) -> Persona | None:
        """The padrón's record of ``cuit`` (``auth`` is a ticket for ``ws_sr_constancia_inscripcion``)."""
        try:
            wanted = normalize_cuit(cuit)
        except InvalidCuit as exc:
            raise AfipPermanentError(str(exc)) from None
        try:
            res = await soap_call(
                SERVICE,
                "getPersona",
                lambda: self._service.getPersona(
                    token=auth.token, sign=auth.sign, cuitRepresentada=int(auth.cuit), idPersona=int(wanted)
                ),
            )
        except (AfipTransientError, AfipPermanentError) as exc:
            if any(marker in str(exc).lower() for marker in _NOT_FOUND_MARKERS):
                log.info("afip padron lookup", cuit=mask_cuit(wanted), found=False)
                return None
            raise
        persona = value(res, "personaReturn") if not hasattr(res, "datosGenerales") else res
        generales = value(persona, "datosGenerales")
        if generales is None:
            log.info("afip padron lookup", cuit=mask_cuit(wanted), found=False)
            return None
        found = _persona(wanted, persona, generales)
        log.info("afip padron lookup", cuit=mask_cuit(wanted), found=True, iva=found.iva_condition.value)
        return found


def _persona(cuit: str, persona: Any, generales: Any) -> Persona:
    kind = PersonKind.COMPANY if value(generales, "tipoPersona", "") == "JURIDICA" else PersonKind.PERSON
    name = value(generales, "razonSocial") or " ".join(
        p for p in (value(generales, "apellido"), value(generales, "nombre")) if p
    )
    dom = value(generales, "domicilioFiscal")
    address = None
    if dom is not None:
        address = FiscalAddress(
            street=value(dom, "direccion", ""),
            locality=value(dom, "localidad"),
            postal_code=value(dom, "codPostal"),
            province_id=value(dom, "idProvincia"),
            province=value(dom, "descripcionProvincia"),
        )
    general = value(persona, "datosRegimenGeneral")
    mono = value(persona, "datosMonotributo")
    taxes = {int(value(t, "idImpuesto", 0)) for t in _list(value(general, "impuesto"))}
    mono_taxes = {int(value(t, "idImpuesto", 0)) for t in _list(value(mono, "impuesto"))}
    category = value(mono, "categoriaMonotributo")
    if IVA_RI in taxes:
        condition = IvaCondition.RESPONSABLE_INSCRIPTO
    elif IVA_EXENTO in taxes:
        condition = IvaCondition.EXENTO
    elif mono_taxes & MONOTRIBUTO_TAXES or category is not None:
        condition = IvaCondition.MONOTRIBUTISTA
    else:
        condition = IvaCondition.CONSUMIDOR_FINAL
    activities: list[tuple[int, str]] = []
    for source in (_list(value(general, "actividad")), _list(value(mono, "actividad"))):
        for act in source:
            activities.append((int(value(act, "idActividad", 0)), value(act, "descripcionActividad", "")))
    mono_act = value(mono, "actividadMonotributista")
    if mono_act is not None:
        activities.append((int(value(mono_act, "idActividad", 0)), value(mono_act, "descripcionActividad", "")))
    seen: dict[int, str] = {}
    for ident, desc in activities:
        seen.setdefault(ident, desc)
    return Persona(
        cuit=cuit,
        name=name.strip(),
        kind=kind,
        address=address,
        iva_condition=condition,
        activities=tuple(seen.items()),
        active=value(generales, "estadoClave", "ACTIVO") == "ACTIVO",
    )


def _list(raw: Any) -> list[Any]:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]
