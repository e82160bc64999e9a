"""WSFEv1 stand-in: FECAESolicitar with AFIP's validations, numbering, queries, parameter tables.

Speaks SOAP 1.1 in the ``http://ar.gov.afip.dif.FEV1/`` namespace like ``service.asmx`` (answers shaped
like the real homologation traffic in ``../shared/specs/afip/sample_wsfev1_*``). Auth is checked through
``ticket_check(token, sign, "wsfe") -> cuit | None`` (the WSAA sandbox's ``ticket_cuit``).

Validations of FECAESolicitar (codes of AFIP's manual where the project's spec names them; the others
are AFIP-like and stable in the sandbox):

- 600 bad/expired ticket, 601 the CUIT is not the ticket's (``Errors``, nothing processed);
- 10016 (``Errors``): CbteDesde is not last authorised + 1 for (CUIT, PtoVta, CbteTipo), or CbteFch is
  earlier than the last authorised receipt's date, or outside today ± 5 days (products) / ± 10 days
  (services);
- as ``Observaciones`` with ``Resultado`` R (no CAE): 10001 CantReg/details mismatch, 10007 unknown
  CbteTipo, 10013 class A without DocTipo 80, 10015 DocTipo/DocNro (bad CUIT check digit, 99 with a
  number, unknown type), 10018 CbteDesde ≠ CbteHasta, 10035 service dates or FchVtoPago missing for
  Concepto 2/3, 10036 service dates sent for Concepto 1, 10040 note without CbtesAsoc, 10041 CbtesAsoc
  naming a receipt of this CUIT that was never authorised, 10048 ImpTotal ≠ ImpTotConc + ImpNeto +
  ImpOpEx + ImpTrib + ImpIVA, 10051 Σ AlicIva.Importe ≠ ImpIVA, 10061 Σ AlicIva.BaseImp ≠ ImpNeto,
  10062 an AlicIva amount that is not its base × rate, 10056 Σ Tributo.Importe ≠ ImpTrib, 10070 class
  A/B with ImpNeto > 0 and no Iva, 10071 class C sending Iva or ImpIVA ≠ 0, 10242 CondicionIVAReceptorId
  not allowed for the receipt's class, 10246 CondicionIVAReceptorId missing.

A FECAEDetRequest with unknown elements or elements out of the 2025 schema order (ImpTrib before ImpIVA,
CondicionIVAReceptorId after CanMisMonExt…) gets a SOAP client fault, where the real .asmx would
silently drop them. Issued receipts are kept in memory (``receipts()``), numbered strictly per (CUIT, PtoVta, CbteTipo).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from server.sandbox.afip.soap import (
    Fault,
    FaultPlan,
    SoapReply,
    SoapRequestError,
    child,
    children,
    envelope,
    local,
    parse_operation,
    soap_fault,
    text,
    xml,
)
from shared.fiscal.cuit import is_valid_cuit
from shared.fiscal.invoicing import ARGENTINA as AR_TZ

NS = "http://ar.gov.afip.dif.FEV1/"
SERVICE = "wsfe"
WSDL_PATH = Path(__file__).resolve().parents[2] / "integrations" / "afip" / "wsdl" / "wsfev1.wsdl"

TicketCheck = Callable[[str, str, str], "str | None"]

CLASS_A = frozenset({1, 2, 3, 4, 5, 51, 52, 53, 54, 201, 202, 203})
CLASS_B = frozenset({6, 7, 8, 9, 10, 206, 207, 208})
CLASS_C = frozenset({11, 12, 13, 15, 211, 212, 213})
NOTES = frozenset({2, 3, 7, 8, 12, 13, 52, 53, 202, 203, 207, 208, 212, 213})
RECEIPT_TYPES: dict[int, str] = {
    1: "Factura A",
    2: "Nota de Débito A",
    3: "Nota de Crédito A",
    4: "Recibos A",
    6: "Factura B",
    7: "Nota de Débito B",
    8: "Nota de Crédito B",
    9: "Recibos B",
    11: "Factura C",
    12: "Nota de Débito C",
    13: "Nota de Crédito C",
    15: "Recibo C",
    51: 'Factura A con Leyenda "Operación Sujeta a Retención"',
    52: 'Nota de Débito A con Leyenda "Operación Sujeta a Retención"',
    53: 'Nota de Crédito A con Leyenda "Operación Sujeta a Retención"',
    54: 'Recibo A con Leyenda "Operación Sujeta a Retención"',
}
DOC_TYPES: dict[int, str] = {
    80: "CUIT",
    86: "CUIL",
    87: "CDI",
    89: "LE",
    90: "LC",
    91: "CI Extranjera",
    92: "en trámite",
    93: "Acta Nacimiento",
    94: "Pasaporte",
    95: "CI Bs. As. RNP",
    96: "DNI",
    99: "Doc. (Otro)",
}
IVA_RATES: dict[int, tuple[str, Decimal]] = {
    3: ("0%", Decimal("0")),
    4: ("10.5%", Decimal("0.105")),
    5: ("21%", Decimal("0.21")),
    6: ("27%", Decimal("0.27")),
    8: ("5%", Decimal("0.05")),
    9: ("2.5%", Decimal("0.025")),
}
CONCEPTS = {1: "Producto", 2: "Servicios", 3: "Productos y Servicios"}
# FEParamGetCondicionIvaReceptor as AFIP answers it (consumidor final lists "C/49", although B is valid)
RECEPTOR_CONDITIONS: list[tuple[int, str, str]] = [
    (1, "IVA Responsable Inscripto", "A/M/C"),
    (6, "Responsable Monotributo", "A/M/C"),
    (13, "Monotributista Social", "A/M/C"),
    (16, "Monotributo Trabajador Independiente Promovido", "A/M/C"),
    (4, "IVA Sujeto Exento", "B/C"),
    (7, "Sujeto No Categorizado", "B/C"),
    (8, "Proveedor del Exterior", "B/C"),
    (9, "Cliente del Exterior", "B/C"),
    (10, "IVA Liberado – Ley N° 19.640", "B/C"),
    (15, "IVA No Alcanzado", "B/C"),
    (5, "Consumidor Final", "C/49"),
]
# what the validation of FECAESolicitar accepts (the letter table of the spec)
ALLOWED_RECEPTOR: dict[str, frozenset[int]] = {
    "A": frozenset({1, 6, 13, 16}),
    "B": frozenset({4, 5, 7, 8, 9, 10, 15}),
    "C": frozenset({1, 4, 5, 6, 7, 8, 9, 10, 13, 15, 16}),
}
MESSAGES: dict[int, str] = {
    600: "ValidacionDeToken: No validaron las fechas del token GenTime, ExpTime, NowUTC o el token es inválido",
    601: "CUIT representada no incluida en Token",
    602: "Sin Resultados: - en registro CbteDesde/CbteHasta solicitado",
    10016: (
        "El numero o fecha del comprobante no se corresponde con el proximo a autorizar. "
        "Consultar metodo FECompUltimoAutorizado."
    ),
}
OBSERVATION_10217 = (
    "El credito fiscal discriminado en el presente comprobante solo podra ser computado a efectos del "
    "Procedimiento permanente de transicion al Regimen General."
)
_CENT = Decimal("0.01")


def receipt_class(cbte_tipo: int) -> str | None:
    if cbte_tipo in CLASS_A:
        return "A"
    if cbte_tipo in CLASS_B:
        return "B"
    if cbte_tipo in CLASS_C:
        return "C"
    return None


def today_in_argentina() -> date:
    return datetime.now(AR_TZ).date()


@dataclass
class IssuedReceipt:
    cuit: str
    pto_vta: int
    cbte_tipo: int
    number: int
    cae: str
    cae_due: date
    processed_at: str
    detail: dict[str, Any]  # the FECAEDetRequest fields as received (strings), arrays as lists of dicts
    observations: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cuit": self.cuit,
            "ptoVta": self.pto_vta,
            "cbteTipo": self.cbte_tipo,
            "number": self.number,
            "cae": self.cae,
            "caeDue": self.cae_due.isoformat(),
            "processedAt": self.processed_at,
            "detail": self.detail,
        }


class _Rejected(Exception):
    def __init__(self, code: int, msg: str) -> None:
        self.code = code
        self.msg = msg


class WsfeSandbox:
    """State and SOAP handling of the WSFEv1 stand-in (thread-safe)."""

    def __init__(
        self,
        ticket_check: TicketCheck,
        *,
        today: Callable[[], date] = today_in_argentina,
        points_of_sale: tuple[int, ...] = (1, 2, 3, 4, 5),
    ) -> None:
        self.ticket_check = ticket_check
        self.today = today
        self.points_of_sale = points_of_sale
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self._receipts: dict[tuple[str, int, int], dict[int, IssuedReceipt]] = {}
        self._cae_seq = 0
        self.calls: dict[str, int] = {}

    # -- controls -------------------------------------------------------------------------------
    def receipts(
        self, cuit: str | None = None, pto_vta: int | None = None, cbte_tipo: int | None = None
    ) -> list[IssuedReceipt]:
        with self._lock:
            out = [
                r
                for (c, p, t), by_number in self._receipts.items()
                if (cuit is None or c == str(cuit))
                and (pto_vta is None or p == pto_vta)
                and (cbte_tipo is None or t == cbte_tipo)
                for r in by_number.values()
            ]
        return sorted(out, key=lambda r: (r.cuit, r.pto_vta, r.cbte_tipo, r.number))

    def last_number(self, cuit: str, pto_vta: int, cbte_tipo: int) -> int:
        with self._lock:
            return max(self._receipts.get((str(cuit), pto_vta, cbte_tipo), {}), default=0)

    def reset(self) -> None:
        with self._lock:
            self._receipts.clear()
            self.calls.clear()
        self.faults.clear()

    def wsdl(self, base_url: str) -> bytes:
        """The packaged WSDL with its addresses pointing at this sandbox."""
        raw = WSDL_PATH.read_text(encoding="utf-8")
        address = base_url.rstrip("/") + "/wsfev1/service.asmx"
        return raw.replace("https://wswhomo.afip.gov.ar/wsfev1/service.asmx", address).encode()

    # -- SOAP -------------------------------------------------------------------------------------
    def handle(self, body: bytes) -> SoapReply:
        try:
            op = parse_operation(body)
        except SoapRequestError as exc:
            return SoapReply(500, soap_fault(f"Server was unable to read request. {exc}", "soap:Client"))
        name = local(op.tag)
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        delay = self.faults.latency(name)
        fault = self.faults.take(name)
        if fault is not None and fault.kind == "http_error":
            return SoapReply(fault.status, soap_fault("Server was unable to process request. (sandbox)"), delay)
        if fault is not None and fault.kind == "afip_error":
            message = fault.message or MESSAGES.get(fault.code, "Error interno de aplicación (sandbox)")
            return SoapReply(200, self._answer(name, self._error_result(name, [(fault.code, message)])), delay)
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            return SoapReply(500, soap_fault(f"Server did not recognize the value of HTTP Header SOAPAction: {name}."))
        try:
            result = self._op_FECAESolicitar(op, fault) if name == "FECAESolicitar" else handler(op)
        except (ValueError, InvalidOperation, TypeError) as exc:
            return SoapReply(500, soap_fault(f"Server was unable to read request. {exc}", "soap:Client"))
        reply = SoapReply(200, self._answer(name, result), delay)
        if fault is not None and fault.kind == "timeout":  # processed, then the answer is lost
            return SoapReply(200, reply.body, delay, drop=fault.mode, hang_seconds=fault.seconds)
        return reply

    def _answer(self, name: str, result: str) -> bytes:
        header = (
            f'<soap:Header><FEHeaderInfo xmlns="{NS}"><ambiente>HomologacionExterno - sandbox</ambiente>'
            f"<fecha>{datetime.now(AR_TZ).isoformat()}</fecha><id>4.3.0.0</id></FEHeaderInfo></soap:Header>"
        )
        return envelope(f'<{name}Response xmlns="{NS}"><{name}Result>{result}</{name}Result></{name}Response>', header)

    @staticmethod
    def _errors(errors: list[tuple[int, str]]) -> str:
        return xml("Errors", {"Err": [{"Code": c, "Msg": m} for c, m in errors]})

    def _error_result(self, name: str, errors: list[tuple[int, str]]) -> str:
        if name == "FECompUltimoAutorizado":
            return "<PtoVta>0</PtoVta><CbteTipo>0</CbteTipo><CbteNro>0</CbteNro>" + self._errors(errors)
        if name == "FEDummy":
            return "<AppServer>ERROR</AppServer><DbServer>ERROR</DbServer><AuthServer>ERROR</AuthServer>"
        return self._errors(errors)

    def _auth(self, op: etree._Element) -> tuple[str | None, list[tuple[int, str]]]:
        auth = child(op, "Auth")
        token, sign, cuit = text(auth, "Token"), text(auth, "Sign"), text(auth, "Cuit")
        if not token or not sign:
            return None, [(600, MESSAGES[600])]
        ticket_cuit = self.ticket_check(token, sign, SERVICE)
        if ticket_cuit is None:
            return None, [(600, MESSAGES[600])]
        if not cuit or str(int(cuit)) != str(ticket_cuit):
            return None, [(601, MESSAGES[601])]
        return str(ticket_cuit), []

    # -- operations -----------------------------------------------------------------------------
    def _op_FEDummy(self, op: etree._Element) -> str:
        return "<AppServer>OK</AppServer><DbServer>OK</DbServer><AuthServer>OK</AuthServer>"

    def _op_FECompUltimoAutorizado(self, op: etree._Element) -> str:
        pto_vta, cbte_tipo = int(text(op, "PtoVta") or 0), int(text(op, "CbteTipo") or 0)
        cuit, errors = self._auth(op)
        if cuit is None:
            return f"<PtoVta>{pto_vta}</PtoVta><CbteTipo>{cbte_tipo}</CbteTipo><CbteNro>0</CbteNro>" + self._errors(
                errors
            )
        last = self.last_number(cuit, pto_vta, cbte_tipo)
        return f"<PtoVta>{pto_vta}</PtoVta><CbteTipo>{cbte_tipo}</CbteTipo><CbteNro>{last}</CbteNro>"

    def _op_FECompConsultar(self, op: etree._Element) -> str:
        cuit, errors = self._auth(op)
        if cuit is None:
            return self._errors(errors)
        req = child(op, "FeCompConsReq")
        tipo, nro, pto = int(text(req, "CbteTipo") or 0), int(text(req, "CbteNro") or 0), int(text(req, "PtoVta") or 0)
        with self._lock:
            found = self._receipts.get((cuit, pto, tipo), {}).get(nro)
        if found is None:
            return self._errors([(602, MESSAGES[602])])
        d = found.detail
        get: dict[str, Any] = {k: d.get(k) for k in _DETAIL_ORDER}
        get["CbtesAsoc"] = {"CbteAsoc": d["CbtesAsoc"]} if d["CbtesAsoc"] else None
        get["Tributos"] = {"Tributo": d["Tributos"]} if d["Tributos"] else None
        get["Iva"] = {"AlicIva": d["Iva"]} if d["Iva"] else None
        get.update(
            {
                "Resultado": "A",
                "CodAutorizacion": found.cae,
                "EmisionTipo": "CAE",
                "FchVto": found.cae_due.strftime("%Y%m%d"),
                "FchProceso": found.processed_at,
                "Observaciones": _obs(found.observations),
                "PtoVta": found.pto_vta,
                "CbteTipo": found.cbte_tipo,
            }
        )
        return xml("ResultGet", get)

    def _op_FECAESolicitar(self, op: etree._Element, fault: Fault | None = None) -> str:
        cuit, errors = self._auth(op)
        if cuit is None:
            return self._errors(errors)
        req = child(op, "FeCAEReq")
        cab = child(req, "FeCabReq")
        cant = int(text(cab, "CantReg") or 0)
        pto_vta, cbte_tipo = int(text(cab, "PtoVta") or 0), int(text(cab, "CbteTipo") or 0)
        details = children(child(req, "FeDetReq"), "FECAEDetRequest")
        now = datetime.now(AR_TZ)
        cab_resp = {
            "Cuit": cuit,
            "PtoVta": pto_vta,
            "CbteTipo": cbte_tipo,
            "FchProceso": now.strftime("%Y%m%d%H%M%S"),
            "CantReg": len(details),
            "Resultado": "R",
            "Reproceso": "N",
        }
        if not details:
            return xml("FeCabResp", cab_resp) + self._errors([(10001, "FeDetReq no informa comprobantes")])
        det = details[0]
        data = _read_detail(det)
        det_resp: dict[str, Any] = {
            "Concepto": data["Concepto"],
            "DocTipo": data["DocTipo"],
            "DocNro": data["DocNro"],
            "CbteDesde": data["CbteDesde"],
            "CbteHasta": data["CbteHasta"],
            "CbteFch": data["CbteFch"] or self.today().strftime("%Y%m%d"),
            "Resultado": "R",
            "Observaciones": None,
            "CAE": "",
            "CAEFchVto": "",
        }
        with self._lock:  # numbering and storage are one step: two requests never get one number
            try:
                self._check_number_and_date(cuit, pto_vta, cbte_tipo, data)
            except _Rejected as rej:
                return (
                    xml("FeCabResp", cab_resp)
                    + xml("FeDetResp", {"FECAEDetResponse": det_resp})
                    + self._errors([(rej.code, rej.msg)])
                )
            obs = self._validate(cuit, cant, len(details), pto_vta, cbte_tipo, data)
            if obs:
                det_resp["Observaciones"] = _obs(obs)
                return xml("FeCabResp", cab_resp) + xml("FeDetResp", {"FECAEDetResponse": det_resp})
            self._cae_seq += 1
            cae = f"7{now.strftime('%y%j')}{self._cae_seq % 10**6:06d}{secrets.randbelow(100):02d}"  # 14 digits
            cbte_fch = datetime.strptime(det_resp["CbteFch"], "%Y%m%d").date()
            issued = IssuedReceipt(
                cuit=cuit,
                pto_vta=pto_vta,
                cbte_tipo=cbte_tipo,
                number=data["CbteDesde"],
                cae=cae,
                cae_due=cbte_fch + timedelta(days=10),
                processed_at=now.strftime("%Y%m%d%H%M%S"),
                detail={**data, "CbteFch": det_resp["CbteFch"]},
            )
            if fault is not None and fault.kind == "observation":
                issued.observations.append((fault.code, fault.message or OBSERVATION_10217))
            self._receipts.setdefault((cuit, pto_vta, cbte_tipo), {})[issued.number] = issued
        cab_resp["Resultado"] = "A"
        det_resp.update(
            {
                "Resultado": "A",
                "Observaciones": _obs(issued.observations),
                "CAE": cae,
                "CAEFchVto": issued.cae_due.strftime("%Y%m%d"),
            }
        )
        return xml("FeCabResp", cab_resp) + xml("FeDetResp", {"FECAEDetResponse": det_resp})

    def _check_number_and_date(self, cuit: str, pto_vta: int, cbte_tipo: int, data: dict[str, Any]) -> None:
        issued = self._receipts.get((cuit, pto_vta, cbte_tipo), {})
        last = max(issued, default=0)
        if data["CbteDesde"] != last + 1:
            raise _Rejected(10016, MESSAGES[10016])
        today = self.today()
        if data["CbteFch"]:
            try:
                cbte_fch = datetime.strptime(data["CbteFch"], "%Y%m%d").date()
            except ValueError:
                raise _Rejected(10016, MESSAGES[10016]) from None
            window = 5 if data["Concepto"] == 1 else 10
            if abs((cbte_fch - today).days) > window:
                raise _Rejected(10016, MESSAGES[10016])
            if last and cbte_fch < datetime.strptime(issued[last].detail["CbteFch"], "%Y%m%d").date():
                raise _Rejected(10016, MESSAGES[10016])

    def _validate(
        self, cuit: str, cant: int, n_details: int, pto_vta: int, cbte_tipo: int, d: dict[str, Any]
    ) -> list[tuple[int, str]]:
        obs: list[tuple[int, str]] = []
        letter = receipt_class(cbte_tipo)
        if cant != n_details or cant != 1:
            obs.append((10001, "CantReg debe ser igual a la cantidad de comprobantes informados (uno por pedido)"))
        if letter is None:
            obs.append((10007, f"El campo CbteTipo {cbte_tipo} no es un tipo de comprobante valido"))
        if d["CbteDesde"] != d["CbteHasta"]:
            obs.append((10018, "CbteDesde y CbteHasta deben ser iguales"))
        if pto_vta not in self.points_of_sale:
            obs.append((10004, f"El punto de venta {pto_vta} no esta habilitado para web services"))
        # documents
        doc_tipo, doc_nro = d["DocTipo"], d["DocNro"]
        if letter == "A" and doc_tipo != 80:
            obs.append((10013, "Para comprobantes clase A el campo DocTipo debe ser igual a 80 (CUIT)"))
        if doc_tipo not in DOC_TYPES:
            obs.append((10015, f"El campo DocTipo {doc_tipo} es invalido"))
        elif doc_tipo in (80, 86) and not is_valid_cuit(str(doc_nro)):
            obs.append((10015, f"El campo DocNro {doc_nro} no es una CUIT/CUIL valida"))
        elif doc_tipo == 99 and doc_nro != 0:
            obs.append((10015, "Con DocTipo 99 (consumidor final sin identificar) el campo DocNro debe ser 0"))
        elif doc_tipo == 96 and not 0 < doc_nro < 100_000_000:
            obs.append((10015, f"El campo DocNro {doc_nro} no es un DNI valido"))
        # concept and dates
        concepto = d["Concepto"]
        if concepto not in CONCEPTS:
            obs.append((10010, f"El campo Concepto {concepto} es invalido: 1, 2 o 3"))
        services = concepto in (2, 3)
        if services and not (d["FchServDesde"] and d["FchServHasta"] and d["FchVtoPago"]):
            obs.append((10035, "Para Concepto 2 o 3 son obligatorios FchServDesde, FchServHasta y FchVtoPago"))
        if concepto == 1 and (d["FchServDesde"] or d["FchServHasta"] or d["FchVtoPago"]):
            obs.append((10036, "Para Concepto 1 no deben informarse FchServDesde, FchServHasta ni FchVtoPago"))
        if services and d["FchServDesde"] and d["FchServHasta"] and d["FchServDesde"] > d["FchServHasta"]:
            obs.append((10035, "FchServDesde no puede ser posterior a FchServHasta"))
        # amounts
        total = d["ImpTotConc"] + d["ImpNeto"] + d["ImpOpEx"] + d["ImpTrib"] + d["ImpIVA"]
        if abs(d["ImpTotal"] - total) > Decimal("0.001"):
            obs.append(
                (
                    10048,
                    "El campo 'Importe Total' ImpTotal, debe ser igual a la suma de ImpTotConc + ImpNeto + "
                    "ImpOpEx + ImpTrib + ImpIVA.",
                )
            )
        iva = d["Iva"]
        if letter == "C":
            if iva or d["ImpIVA"] != 0:
                obs.append((10071, "Para comprobantes tipo C el objeto IVA no debe informarse y ImpIVA debe ser 0"))
        elif letter in ("A", "B"):
            if d["ImpNeto"] > 0 and not iva:
                obs.append((10070, "Si ImpNeto es mayor a 0 el objeto IVA es obligatorio"))
            if iva:
                if sum((a["Importe"] for a in iva), Decimal(0)) != d["ImpIVA"]:
                    obs.append((10051, "La suma de los importes de AlicIva debe ser igual a ImpIVA"))
                if sum((a["BaseImp"] for a in iva), Decimal(0)) != d["ImpNeto"]:
                    obs.append((10061, "La suma de las bases imponibles de AlicIva debe ser igual a ImpNeto"))
                for a in iva:
                    rate = IVA_RATES.get(a["Id"])
                    if rate is None:
                        obs.append((10019, f"El Id de alicuota de IVA {a['Id']} es invalido"))
                    elif abs((a["BaseImp"] * rate[1]).quantize(_CENT) - a["Importe"]) > _CENT:
                        obs.append((10062, f"El importe de IVA de la alicuota {rate[0]} no corresponde a su base"))
        trib = d["Tributos"]
        if sum((t["Importe"] for t in trib), Decimal(0)) != d["ImpTrib"]:
            obs.append((10056, "La suma de los importes de Tributos debe ser igual a ImpTrib"))
        # receptor IVA condition (RG 5616)
        cond = d["CondicionIVAReceptorId"]
        if cond is None:
            obs.append((10246, "El campo Condicion Frente al IVA del receptor es obligatorio (RG 5616)"))
        elif letter is not None and cond not in ALLOWED_RECEPTOR[letter]:
            obs.append(
                (
                    10242,
                    f"El campo Condicion Frente al IVA del receptor {cond} no es valido para comprobantes "
                    f"clase {letter}. Consultar metodo FEParamGetCondicionIvaReceptor",
                )
            )
        # credit and debit notes
        if cbte_tipo in NOTES:
            if not d["CbtesAsoc"]:
                obs.append((10040, "Las notas de credito y debito deben informar el comprobante asociado (CbtesAsoc)"))
            for a in d["CbtesAsoc"]:
                own = not a.get("Cuit") or a["Cuit"] == cuit
                if own and a["Nro"] not in self._receipts.get((cuit, a["PtoVta"], a["Tipo"]), {}):
                    obs.append(
                        (10041, f"El comprobante asociado {a['Tipo']}-{a['PtoVta']}-{a['Nro']} no fue autorizado")
                    )
        return obs

    # -- parameter tables ---------------------------------------------------------------------------
    def _param(self, op: etree._Element, array: str, item: str, rows: list[dict[str, Any]]) -> str:
        cuit, errors = self._auth(op)
        if cuit is None:
            return self._errors(errors)
        return xml("ResultGet", {item: rows})

    def _op_FEParamGetTiposCbte(self, op: etree._Element) -> str:
        rows = [{"Id": k, "Desc": v, "FchDesde": "20100917", "FchHasta": "NULL"} for k, v in RECEIPT_TYPES.items()]
        return self._param(op, "ArrayOfCbteTipo", "CbteTipo", rows)

    def _op_FEParamGetTiposDoc(self, op: etree._Element) -> str:
        rows = [{"Id": k, "Desc": v, "FchDesde": "20080725", "FchHasta": "NULL"} for k, v in DOC_TYPES.items()]
        return self._param(op, "ArrayOfDocTipo", "DocTipo", rows)

    def _op_FEParamGetTiposIva(self, op: etree._Element) -> str:
        rows = [{"Id": k, "Desc": v[0], "FchDesde": "20090220", "FchHasta": "NULL"} for k, v in IVA_RATES.items()]
        return self._param(op, "ArrayOfIvaTipo", "IvaTipo", rows)

    def _op_FEParamGetTiposConcepto(self, op: etree._Element) -> str:
        rows = [{"Id": k, "Desc": v, "FchDesde": "20100917", "FchHasta": "NULL"} for k, v in CONCEPTS.items()]
        return self._param(op, "ArrayOfConceptoTipo", "ConceptoTipo", rows)

    def _op_FEParamGetCondicionIvaReceptor(self, op: etree._Element) -> str:
        clase = (text(op, "ClaseCmp") or "").upper()
        rows = [
            {"Id": i, "Desc": desc, "Cmp_Clase": cls}
            for i, desc, cls in RECEPTOR_CONDITIONS
            if not clase or clase in cls.split("/")
        ]
        return self._param(op, "ArrayOfCondicionIvaReceptor", "CondicionIvaReceptor", rows)

    def _op_FEParamGetPtosVenta(self, op: etree._Element) -> str:
        rows = [
            {"Nro": n, "EmisionTipo": "CAE - RECE", "Bloqueado": "N", "FchBaja": "NULL"} for n in self.points_of_sale
        ]
        return self._param(op, "ArrayOfPtoVenta", "PtoVenta", rows)

    def _op_FEParamGetActividades(self, op: etree._Element) -> str:
        rows = [{"Id": 432110, "Orden": 1, "Desc": "INSTALACIONES ELÉCTRICAS"}]
        return self._param(op, "ArrayOfActividadesTipo", "ActividadesTipo", rows)


_DETAIL_ORDER = (
    "Concepto",
    "DocTipo",
    "DocNro",
    "CbteDesde",
    "CbteHasta",
    "CbteFch",
    "ImpTotal",
    "ImpTotConc",
    "ImpNeto",
    "ImpOpEx",
    "ImpTrib",
    "ImpIVA",
    "FchServDesde",
    "FchServHasta",
    "FchVtoPago",
    "MonId",
    "MonCotiz",
    "CanMisMonExt",
    "CondicionIVAReceptorId",
    "CbtesAsoc",
    "Tributos",
    "Iva",
)


def _obs(obs: list[tuple[int, str]]) -> dict[str, Any] | None:
    return {"Obs": [{"Code": c, "Msg": m} for c, m in obs]} if obs else None


def _dec(raw: str | None) -> Decimal:
    return Decimal(raw or "0")


# FECAEDetRequest's sequence in the 2025 WSDL: .asmx reads elements only in this order
_SCHEMA_ORDER = (*_DETAIL_ORDER, "Opcionales", "Compradores", "PeriodoAsoc", "Actividades")


def _check_order(det: etree._Element) -> None:
    position = -1
    for el in det:
        if not isinstance(el.tag, str):
            continue
        name = local(el.tag)
        if name not in _SCHEMA_ORDER:
            raise ValueError(f"elemento inesperado {name} en FECAEDetRequest")
        index = _SCHEMA_ORDER.index(name)
        if index <= position:
            raise ValueError(f"{name} fuera del orden del esquema de FECAEDetRequest")
        position = index


def _read_detail(det: etree._Element) -> dict[str, Any]:
    """The FECAEDetRequest as typed values.

    Raises ValueError (→ SOAP client fault, like .asmx) on unreadable numbers, unknown elements or
    elements out of the schema's order (the real service would silently drop them).
    """
    _check_order(det)

    def integer(name: str, default: int = 0) -> int:
        raw = text(det, name)
        return default if raw in (None, "") else int(raw)

    cond = text(det, "CondicionIVAReceptorId")
    return {
        "Concepto": integer("Concepto"),
        "DocTipo": integer("DocTipo"),
        "DocNro": integer("DocNro"),
        "CbteDesde": integer("CbteDesde"),
        "CbteHasta": integer("CbteHasta"),
        "CbteFch": text(det, "CbteFch") or None,
        "ImpTotal": _dec(text(det, "ImpTotal")),
        "ImpTotConc": _dec(text(det, "ImpTotConc")),
        "ImpNeto": _dec(text(det, "ImpNeto")),
        "ImpOpEx": _dec(text(det, "ImpOpEx")),
        "ImpTrib": _dec(text(det, "ImpTrib")),
        "ImpIVA": _dec(text(det, "ImpIVA")),
        "FchServDesde": text(det, "FchServDesde") or None,
        "FchServHasta": text(det, "FchServHasta") or None,
        "FchVtoPago": text(det, "FchVtoPago") or None,
        "MonId": text(det, "MonId") or "PES",
        "MonCotiz": _dec(text(det, "MonCotiz") or "1"),
        "CanMisMonExt": text(det, "CanMisMonExt") or None,
        "CondicionIVAReceptorId": None if not cond else int(cond),
        "CbtesAsoc": [
            {
                "Tipo": int(text(a, "Tipo") or 0),
                "PtoVta": int(text(a, "PtoVta") or 0),
                "Nro": int(text(a, "Nro") or 0),
                "Cuit": text(a, "Cuit") or None,
                "CbteFch": text(a, "CbteFch") or None,
            }
            for a in children(child(det, "CbtesAsoc"), "CbteAsoc")
        ],
        "Tributos": [
            {
                "Id": int(text(t, "Id") or 0),
                "Desc": text(t, "Desc") or "",
                "BaseImp": _dec(text(t, "BaseImp")),
                "Alic": _dec(text(t, "Alic")),
                "Importe": _dec(text(t, "Importe")),
            }
            for t in children(child(det, "Tributos"), "Tributo")
        ],
        "Iva": [
            {"Id": int(text(a, "Id") or 0), "BaseImp": _dec(text(a, "BaseImp")), "Importe": _dec(text(a, "Importe"))}
            for a in children(child(det, "Iva"), "AlicIva")
        ],
    }
