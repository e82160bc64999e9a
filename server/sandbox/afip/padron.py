"""Padrón A5 stand-in (``personaServiceA5``): ``getPersona`` for a few known CUITs, ``dummy``.

Answers are shaped like AFIP's (``../shared/specs/afip/sample_ws_sr_padron_a5_getPersona_homo.xml.txt``);
an unknown CUIT answers the SOAP fault "No existe persona con ese Id", a bad ticket the fault
"token o firma inválidos" (what AFIP's SRValidationException says in substance). Auth is checked
through ``ticket_check(token, sign, "ws_sr_constancia_inscripcion") -> cuit | None``.

Known CUITs (valid check digits): ``RI_COMPANY`` (responsable inscripto, S.A.), ``MONOTRIBUTISTA``
(a person in monotributo), ``EXENTO`` (an exempt foundation), ``CONSUMIDOR_FINAL`` (a person with
a CUIT and no IVA registration). ``add_persona`` adds more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from server.sandbox.afip.soap import (
    FaultPlan,
    SoapReply,
    SoapRequestError,
    envelope,
    local,
    parse_operation,
    soap_fault,
    text,
    xml,
)
from shared.fiscal.invoicing import ARGENTINA as AR_TZ

NS = "http://a5.soap.ws.server.puc.sr/"
SERVICE = "ws_sr_constancia_inscripcion"
WSDL_PATH = Path(__file__).resolve().parents[2] / "integrations" / "afip" / "wsdl" / "padron_a5.wsdl"
HOMO_ADDRESS = "https://awshomo.afip.gov.ar/sr-padron/webservices/personaServiceA5"

RI_COMPANY = "30712345671"
MONOTRIBUTISTA = "20287654325"
EXENTO = "30709998885"
CONSUMIDOR_FINAL = "27334445556"

NOT_FOUND = "No existe persona con ese Id"
BAD_TICKET = "El token o la firma son inválidos o están vencidos"

TicketCheck = Callable[[str, str, str], "str | None"]


@dataclass
class SandboxPersona:
    cuit: str
    kind: str  # "FISICA" / "JURIDICA"
    razon_social: str | None = None
    apellido: str | None = None
    nombre: str | None = None
    direccion: str = ""
    localidad: str | None = None
    cod_postal: str = ""
    id_provincia: int = 0
    provincia: str = "CIUDAD AUTONOMA BUENOS AIRES"
    impuestos: list[tuple[int, str]] = field(default_factory=list)  # régimen general
    actividades: list[tuple[int, str]] = field(default_factory=list)
    monotributo: tuple[str, int] | None = None  # (category letter, idImpuesto 20/21)
    estado: str = "ACTIVO"

    def persona_return(self) -> dict[str, Any]:
        generales: dict[str, Any] = {
            "apellido": self.apellido,
            "domicilioFiscal": {
                "codPostal": self.cod_postal,
                "descripcionProvincia": self.provincia,
                "direccion": self.direccion,
                "idProvincia": self.id_provincia,
                "localidad": self.localidad,
                "tipoDomicilio": "FISCAL",
            },
            "estadoClave": self.estado,
            "idPersona": self.cuit,
            "mesCierre": 12,
            "nombre": self.nombre,
            "razonSocial": self.razon_social,
            "tipoClave": "CUIT",
            "tipoPersona": self.kind,
        }
        activities = [
            {"descripcionActividad": desc, "idActividad": ident, "nomenclador": 883, "orden": i + 1, "periodo": 201311}
            for i, (ident, desc) in enumerate(self.actividades)
        ]
        out: dict[str, Any] = {"datosGenerales": generales}
        if self.monotributo is not None:
            category, impuesto = self.monotributo
            out["datosMonotributo"] = {
                "actividadMonotributista": activities[0] if activities else None,
                "categoriaMonotributo": {
                    "descripcionCategoria": f"{category} LOCACIONES DE SERVICIO",
                    "idCategoria": 20,
                    "idImpuesto": impuesto,
                    "periodo": 202401,
                },
                "impuesto": [{"descripcionImpuesto": "MONOTRIBUTO", "idImpuesto": impuesto, "periodo": 202401}],
            }
        else:
            out["errorMonotributo"] = {
                "error": ["Datos de monotributo incompletos- no posee categoría"],
                "mensaje": "No cumple con las condiciones para enviar datos monotributo",
            }
        if self.impuestos or (activities and self.monotributo is None):
            out["datosRegimenGeneral"] = {
                "actividad": activities,
                "impuesto": [
                    {"descripcionImpuesto": desc, "idImpuesto": ident, "periodo": 201101}
                    for ident, desc in self.impuestos
                ],
            }
        elif self.monotributo is None:
            out["errorRegimenGeneral"] = {
                "error": ["No se encontraron impuestos activos en el regimen general"],
                "mensaje": "No cumple con las condiciones para enviar datos del regimen general",
            }
        order = ("datosGenerales", "datosMonotributo", "datosRegimenGeneral", "errorMonotributo", "errorRegimenGeneral")
        out = {k: out[k] for k in order if k in out}
        out["metadata"] = {"fechaHora": datetime.now(AR_TZ).isoformat(timespec="milliseconds"), "servidor": "sandbox"}
        return out


def known_personas() -> list[SandboxPersona]:
    return [
        SandboxPersona(
            cuit=RI_COMPANY,
            kind="JURIDICA",
            razon_social="CLIMATIZACION DEL SUR S.A.",
            direccion="AV. SAN JUAN 2450 PISO 3",
            localidad="CIUDAD AUTONOMA BUENOS AIRES",
            cod_postal="1232",
            impuestos=[(10, "GANANCIAS SOCIEDADES"), (30, "IVA"), (301, "EMPLEADOR-APORTES SEG. SOCIAL")],
            actividades=[(432200, "INSTALACIONES DE GAS, AGUA, SANITARIOS Y DE CLIMATIZACIÓN")],
        ),
        SandboxPersona(
            cuit=MONOTRIBUTISTA,
            kind="FISICA",
            apellido="GÓMEZ",
            nombre="JUAN CARLOS",
            direccion="CALLE 12 1345",
            localidad="LA PLATA",
            cod_postal="1900",
            id_provincia=1,
            provincia="BUENOS AIRES",
            monotributo=("D", 20),
            actividades=[(432110, "INSTALACIONES ELÉCTRICAS")],
        ),
        SandboxPersona(
            cuit=EXENTO,
            kind="JURIDICA",
            razon_social="FUNDACION MANOS UNIDAS",
            direccion="BV. SAN JUAN 880",
            localidad="CORDOBA",
            cod_postal="5000",
            id_provincia=3,
            provincia="CORDOBA",
            impuestos=[(32, "IVA EXENTO"), (10, "GANANCIAS SOCIEDADES")],
            actividades=[(949990, "SERVICIOS DE ASOCIACIONES N.C.P.")],
        ),
        SandboxPersona(
            cuit=CONSUMIDOR_FINAL,
            kind="FISICA",
            apellido="FERNÁNDEZ",
            nombre="MARÍA LAURA",
            direccion="ITUZAINGO 455",
            localidad="ROSARIO",
            cod_postal="2000",
            id_provincia=12,
            provincia="SANTA FE",
            impuestos=[(11, "GANANCIAS PERSONAS FISICAS")],
        ),
    ]


class PadronSandbox:
    """State and SOAP handling of the padrón A5 stand-in (thread-safe)."""

    def __init__(self, ticket_check: TicketCheck) -> None:
        self.ticket_check = ticket_check
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self._personas: dict[str, SandboxPersona] = {p.cuit: p for p in known_personas()}

    def add_persona(self, persona: SandboxPersona) -> None:
        with self._lock:
            self._personas[persona.cuit] = persona

    def reset(self) -> None:
        with self._lock:
            self._personas = {p.cuit: p for p in known_personas()}
        self.faults.clear()

    def wsdl(self, base_url: str) -> bytes:
        raw = WSDL_PATH.read_text(encoding="utf-8")
        return raw.replace(HOMO_ADDRESS, base_url.rstrip("/") + "/sr-padron/webservices/personaServiceA5").encode()

    def handle(self, body: bytes) -> SoapReply:
        try:
            op = parse_operation(body)
        except SoapRequestError as exc:
            return SoapReply(500, soap_fault(str(exc), "soap:Client"))
        name = local(op.tag)
        delay = self.faults.latency(name)
        fault = self.faults.take(name)
        if fault is not None and fault.kind == "http_error":
            return SoapReply(fault.status, soap_fault("Internal Server Error (sandbox)"), delay)
        if fault is not None and fault.kind == "afip_error":
            return SoapReply(500, soap_fault(fault.message or f"Error {fault.code} (sandbox)"), delay)
        if name == "dummy":
            inner = "<return><appserver>OK</appserver><authserver>OK</authserver><dbserver>OK</dbserver></return>"
            reply = SoapReply(200, envelope(f'<ns2:dummyResponse xmlns:ns2="{NS}">{inner}</ns2:dummyResponse>'), delay)
        elif name in ("getPersona", "getPersona_v2"):
            reply = self._get_persona(name, op, delay)
        else:
            return SoapReply(500, soap_fault(f"Unexpected wrapper element {name} found.", "soap:Client"), delay)
        if fault is not None and fault.kind == "timeout":
            return SoapReply(reply.status, reply.body, delay, drop=fault.mode, hang_seconds=fault.seconds)
        return reply

    def _get_persona(self, name: str, op: etree._Element, delay: float) -> SoapReply:
        token, sign = text(op, "token"), text(op, "sign")
        represented, wanted = text(op, "cuitRepresentada"), text(op, "idPersona")
        ticket_cuit = self.ticket_check(token or "", sign or "", SERVICE) if token and sign else None
        if ticket_cuit is None or str(ticket_cuit) != (represented or ""):
            return SoapReply(500, soap_fault(BAD_TICKET), delay)
        with self._lock:
            persona = self._personas.get((wanted or "").strip())
        if persona is None:
            return SoapReply(500, soap_fault(NOT_FOUND), delay)
        inner = xml("personaReturn", persona.persona_return())
        return SoapReply(200, envelope(f'<ns2:{name}Response xmlns:ns2="{NS}">{inner}</ns2:{name}Response>'), delay)
