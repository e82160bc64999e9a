"""WSFEv1 client (AFIP/ARCA electronic invoicing with CAE) through zeep's ``AsyncClient``.

The WSDL is the packaged ``wsdl/wsfev1.wsdl`` (homologation WSDL + RG 5616 fields); the address is
configuration: ``HOMOLOGATION_URL`` / ``PRODUCTION_URL`` by default, the sandbox in tests and dev.

What each call raises (types of ``errors.py``):

- network failures, timeouts before sending, HTTP 5xx → ``AfipTransientError``;
- a timeout or dropped connection after the request left → ``AfipTimeoutAfterSend`` (transient): AFIP
  may have issued the CAE, so ask ``query()`` for that number before sending again;
- AFIP service-level ``Errors`` (codes below 10000: 600 ticket to renew, 601 CUIT not in ticket,
  500-502 AFIP internal…) → ``classify(code, msg)``.

``request_cae`` returns a ``CaeResult`` whenever AFIP judged the receipt, approved or not: receipt
validations (10016 not the next number, 10242/10246 receptor IVA condition, …) come back in
``errors`` / ``observations`` with ``resultado`` ``R``. ``query`` answers None for 602 (never authorised).
Nothing here logs a token, a sign or a full CUIT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from server.integrations.afip.errors import AfipError, classify
from server.integrations.afip.zeep_transport import (
    AfipSoapClient,
    items,
    soap_call,
    value,
)
from server.lib.logging import get_logger

log = get_logger("campotech.afip.wsfe")

HOMOLOGATION_URL = "https://wswhomo.afip.gov.ar/wsfev1/service.asmx"
PRODUCTION_URL = "https://servicios1.afip.gov.ar/wsfev1/service.asmx"
WSDL_NAME = "wsfev1.wsdl"
SERVICE = "wsfe"  # the WSAA service name of WSFEv1 tickets

NO_DATA = 602  # FECompConsultar: that number was never authorised
SERVICE_ERROR_LIMIT = 10000  # codes below are about the call (ticket, CUIT, AFIP down), not the receipt
_CENT = Decimal("0.01")


def mask_cuit(cuit: str | int) -> str:
    text = str(cuit)
    return f"{text[:2]}-********-{text[-1:]}" if len(text) == 11 else "***"


@dataclass(frozen=True)
class Auth:
    """A WSAA ticket for ``wsfe`` and the CUIT it represents (``repr`` never shows token or sign)."""

    token: str = field(repr=False)
    sign: str = field(repr=False)
    cuit: str | int

    def as_soap(self) -> dict[str, Any]:
        return {"Token": self.token, "Sign": self.sign, "Cuit": int(self.cuit)}


@dataclass(frozen=True)
class AlicIva:
    """One IVA rate of a receipt: ``id`` 3=0%, 4=10.5%, 5=21%, 6=27%, 8=5%, 9=2.5%."""

    id: int
    base: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Tributo:
    id: int
    desc: str
    base: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CbteAsoc:
    """The receipt a credit/debit note corrects."""

    tipo: int
    pto_vta: int
    number: int
    cuit: str | None = None
    cbte_fch: date | None = None


@dataclass(frozen=True)
class Opcional:
    id: str
    valor: str


@dataclass(frozen=True)
class CaeRequest:
    """One receipt for FECAESolicitar; detail fields in AFIP's 2025 element order (after the header)."""

    # FeCabReq
    pto_vta: int
    cbte_tipo: int
    # FECAEDetRequest
    concepto: int  # 1 productos, 2 servicios, 3 ambos
    doc_tipo: int  # 80 CUIT, 86 CUIL, 96 DNI, 99 consumidor final (doc_nro 0)
    doc_nro: int
    number: int  # CbteDesde = CbteHasta
    cbte_fch: date
    imp_total: Decimal
    imp_tot_conc: Decimal
    imp_neto: Decimal
    imp_op_ex: Decimal
    imp_trib: Decimal
    imp_iva: Decimal
    fch_serv_desde: date | None = None
    fch_serv_hasta: date | None = None
    fch_vto_pago: date | None = None
    mon_id: str = "PES"
    mon_cotiz: Decimal = Decimal("1")
    can_mis_mon_ext: str | None = None  # "S"/"N", only for foreign currency
    condicion_iva_receptor_id: int | None = None  # RG 5616: always send it
    cbtes_asoc: tuple[CbteAsoc, ...] = ()
    tributos: tuple[Tributo, ...] = ()
    iva: tuple[AlicIva, ...] = ()
    opcionales: tuple[Opcional, ...] = ()
    actividades: tuple[int, ...] = ()

    def detail(self) -> dict[str, Any]:
        """The ``FECAEDetRequest`` as zeep takes it (keys in the schema's order; empty arrays left out)."""
        det: dict[str, Any] = {
            "Concepto": self.concepto,
            "DocTipo": self.doc_tipo,
            "DocNro": self.doc_nro,
            "CbteDesde": self.number,
            "CbteHasta": self.number,
            "CbteFch": _ymd(self.cbte_fch),
            "ImpTotal": _amount(self.imp_total),
            "ImpTotConc": _amount(self.imp_tot_conc),
            "ImpNeto": _amount(self.imp_neto),
            "ImpOpEx": _amount(self.imp_op_ex),
            "ImpTrib": _amount(self.imp_trib),
            "ImpIVA": _amount(self.imp_iva),
            "FchServDesde": _ymd(self.fch_serv_desde),
            "FchServHasta": _ymd(self.fch_serv_hasta),
            "FchVtoPago": _ymd(self.fch_vto_pago),
            "MonId": self.mon_id,
            "MonCotiz": self.mon_cotiz,
            "CanMisMonExt": self.can_mis_mon_ext,
            "CondicionIVAReceptorId": self.condicion_iva_receptor_id,
        }
        if self.cbtes_asoc:
            det["CbtesAsoc"] = {
                "CbteAsoc": [
                    {"Tipo": a.tipo, "PtoVta": a.pto_vta, "Nro": a.number, "Cuit": a.cuit, "CbteFch": _ymd(a.cbte_fch)}
                    for a in self.cbtes_asoc
                ]
            }
        if self.tributos:
            det["Tributos"] = {
                "Tributo": [
                    {
                        "Id": t.id,
                        "Desc": t.desc,
                        "BaseImp": _amount(t.base),
                        "Alic": _amount(t.rate),
                        "Importe": _amount(t.amount),
                    }
                    for t in self.tributos
                ]
            }
        if self.iva:
            det["Iva"] = {
                "AlicIva": [{"Id": a.id, "BaseImp": _amount(a.base), "Importe": _amount(a.amount)} for a in self.iva]
            }
        if self.opcionales:
            det["Opcionales"] = {"Opcional": [{"Id": o.id, "Valor": o.valor} for o in self.opcionales]}
        if self.actividades:
            det["Actividades"] = {"Actividad": [{"Id": a} for a in self.actividades]}
        return det


@dataclass(frozen=True)
class CaeResult:
    """AFIP's verdict on one receipt: ``resultado`` A (approved), R (rejected) or P (partial)."""

    resultado: str
    number: int
    cae: str | None
    cae_due: date | None
    observations: tuple[tuple[int, str], ...] = ()
    errors: tuple[tuple[int, str], ...] = ()
    processed_at: str | None = None
    reproceso: str | None = None

    @property
    def approved(self) -> bool:
        return self.resultado == "A" and bool(self.cae)

    @property
    def codes(self) -> tuple[int, ...]:
        """Every error and observation code, errors first."""
        return tuple(c for c, _ in self.errors) + tuple(c for c, _ in self.observations)


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt as FECompConsultar returns it (AFIP's record, the truth after a lost answer)."""

    pto_vta: int
    cbte_tipo: int
    number: int
    concepto: int
    doc_tipo: int
    doc_nro: int
    cbte_fch: date | None
    imp_total: Decimal
    imp_tot_conc: Decimal
    imp_neto: Decimal
    imp_op_ex: Decimal
    imp_trib: Decimal
    imp_iva: Decimal
    mon_id: str | None
    mon_cotiz: Decimal
    condicion_iva_receptor_id: int | None
    resultado: str | None
    cae: str | None
    cae_due: date | None
    emission_type: str | None
    processed_at: str | None
    iva: tuple[AlicIva, ...] = ()
    cbtes_asoc: tuple[CbteAsoc, ...] = ()
    observations: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class ParamItem:
    """One row of an FEParamGet* table (receipt types, document types, IVA rates)."""

    id: int | str
    desc: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class ReceptorCondition:
    """FEParamGetCondicionIvaReceptor: ``cmp_clase`` the receipt classes it allows ("A/M/C", "B", "C/49"…)."""

    id: int
    desc: str
    cmp_clase: str


@dataclass(frozen=True)
class PointOfSale:
    number: int
    emission_type: str
    blocked: bool
    deleted_on: date | None


@dataclass(frozen=True)
class DummyStatus:
    app_server: str
    db_server: str
    auth_server: str

    @property
    def ok(self) -> bool:
        return self.app_server == self.db_server == self.auth_server == "OK"


class WsfeClient(AfipSoapClient):
    """One WSFEv1 endpoint. Reusable and safe to share between tasks; ``aclose()`` (or ``async with``) ends it."""

    wsdl_name = WSDL_NAME
    default_url = HOMOLOGATION_URL

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        return await soap_call(SERVICE, operation, lambda: self._service[operation](**kwargs))

    # -- operations ---------------------------------------------------------------------------
    async def dummy(self) -> DummyStatus:
        """FEDummy: AFIP's own health (no ticket needed)."""
        res = await self._call("FEDummy")
        return DummyStatus(
            app_server=value(res, "AppServer", ""),
            db_server=value(res, "DbServer", ""),
            auth_server=value(res, "AuthServer", ""),
        )

    async def last_authorized(self, auth: Auth, pto_vta: int, cbte_tipo: int) -> int:
        """FECompUltimoAutorizado: the last number AFIP authorised (0 when none yet)."""
        res = await self._call("FECompUltimoAutorizado", Auth=auth.as_soap(), PtoVta=pto_vta, CbteTipo=cbte_tipo)
        _raise_errors(res, "FECompUltimoAutorizado")
        return int(value(res, "CbteNro", 0))

    async def request_cae(self, auth: Auth, request: CaeRequest) -> CaeResult:
        """FECAESolicitar with one receipt. A lost answer raises ``AfipTimeoutAfterSend``: query first."""
        fe_cae_req = {
            "FeCabReq": {"CantReg": 1, "PtoVta": request.pto_vta, "CbteTipo": request.cbte_tipo},
            "FeDetReq": {"FECAEDetRequest": [request.detail()]},
        }
        res = await self._call("FECAESolicitar", Auth=auth.as_soap(), FeCAEReq=fe_cae_req)
        errors = _pairs(value(res, "Errors"), "Err")
        _raise_service_errors(errors, "FECAESolicitar")
        cab = value(res, "FeCabResp")
        details = items(value(res, "FeDetResp"), "FECAEDetResponse")
        det = details[0] if details else None
        resultado = value(det, "Resultado") or value(cab, "Resultado") or "R"
        cae = value(det, "CAE") or None
        result = CaeResult(
            resultado=resultado,
            number=int(value(det, "CbteDesde", request.number)),
            cae=cae,
            cae_due=_date(value(det, "CAEFchVto")),
            observations=_pairs(value(det, "Observaciones"), "Obs"),
            errors=errors,
            processed_at=value(cab, "FchProceso"),
            reproceso=value(cab, "Reproceso"),
        )
        log.info(
            "afip cae requested",
            cuit=mask_cuit(auth.cuit),
            pto_vta=request.pto_vta,
            cbte_tipo=request.cbte_tipo,
            number=result.number,
            resultado=result.resultado,
            codes=list(result.codes),
        )
        return result

    async def query(self, auth: Auth, pto_vta: int, cbte_tipo: int, number: int) -> StoredReceipt | None:
        """FECompConsultar: AFIP's record of that receipt, or None when it was never authorised (602)."""
        res = await self._call(
            "FECompConsultar",
            Auth=auth.as_soap(),
            FeCompConsReq={"CbteTipo": cbte_tipo, "CbteNro": number, "PtoVta": pto_vta},
        )
        errors = _pairs(value(res, "Errors"), "Err")
        if any(code == NO_DATA for code, _ in errors):
            return None
        _raise_errors(res, "FECompConsultar")
        got = value(res, "ResultGet")
        if got is None:
            return None
        return StoredReceipt(
            pto_vta=int(value(got, "PtoVta", pto_vta)),
            cbte_tipo=int(value(got, "CbteTipo", cbte_tipo)),
            number=int(value(got, "CbteDesde", number)),
            concepto=int(value(got, "Concepto", 0)),
            doc_tipo=int(value(got, "DocTipo", 0)),
            doc_nro=int(value(got, "DocNro", 0)),
            cbte_fch=_date(value(got, "CbteFch")),
            imp_total=_dec(value(got, "ImpTotal", 0)),
            imp_tot_conc=_dec(value(got, "ImpTotConc", 0)),
            imp_neto=_dec(value(got, "ImpNeto", 0)),
            imp_op_ex=_dec(value(got, "ImpOpEx", 0)),
            imp_trib=_dec(value(got, "ImpTrib", 0)),
            imp_iva=_dec(value(got, "ImpIVA", 0)),
            mon_id=value(got, "MonId"),
            mon_cotiz=_dec(value(got, "MonCotiz", 1), Decimal("0.000001")),
            condicion_iva_receptor_id=value(got, "CondicionIVAReceptorId"),
            resultado=value(got, "Resultado"),
            cae=value(got, "CodAutorizacion") or None,
            cae_due=_date(value(got, "FchVto")),
            emission_type=value(got, "EmisionTipo"),
            processed_at=value(got, "FchProceso"),
            iva=tuple(
                AlicIva(int(value(a, "Id")), _dec(value(a, "BaseImp", 0)), _dec(value(a, "Importe", 0)))
                for a in items(value(got, "Iva"), "AlicIva")
            ),
            cbtes_asoc=tuple(
                CbteAsoc(
                    tipo=int(value(a, "Tipo")),
                    pto_vta=int(value(a, "PtoVta")),
                    number=int(value(a, "Nro")),
                    cuit=value(a, "Cuit"),
                    cbte_fch=_date(value(a, "CbteFch")),
                )
                for a in items(value(got, "CbtesAsoc"), "CbteAsoc")
            ),
            observations=_pairs(value(got, "Observaciones"), "Obs"),
        )

    async def param_receipt_types(self, auth: Auth) -> list[ParamItem]:
        return await self._param(auth, "FEParamGetTiposCbte", "CbteTipo")

    async def param_doc_types(self, auth: Auth) -> list[ParamItem]:
        return await self._param(auth, "FEParamGetTiposDoc", "DocTipo")

    async def param_iva_rates(self, auth: Auth) -> list[ParamItem]:
        return await self._param(auth, "FEParamGetTiposIva", "IvaTipo")

    async def param_concepts(self, auth: Auth) -> list[ParamItem]:
        return await self._param(auth, "FEParamGetTiposConcepto", "ConceptoTipo")

    async def param_receptor_conditions(self, auth: Auth, clase: str | None = None) -> list[ReceptorCondition]:
        """FEParamGetCondicionIvaReceptor (RG 5616), optionally for one receipt class ("A", "B", "C", "M")."""
        kwargs: dict[str, Any] = {"Auth": auth.as_soap()}
        if clase:
            kwargs["ClaseCmp"] = clase
        res = await self._call("FEParamGetCondicionIvaReceptor", **kwargs)
        _raise_errors(res, "FEParamGetCondicionIvaReceptor")
        return [
            ReceptorCondition(int(value(r, "Id")), value(r, "Desc", ""), value(r, "Cmp_Clase", ""))
            for r in items(value(res, "ResultGet"), "CondicionIvaReceptor")
        ]

    async def param_points_of_sale(self, auth: Auth) -> list[PointOfSale]:
        """FEParamGetPtosVenta: the points of sale enabled for web services (empty list when none: 602)."""
        res = await self._call("FEParamGetPtosVenta", Auth=auth.as_soap())
        if any(code == NO_DATA for code, _ in _pairs(value(res, "Errors"), "Err")):
            return []
        _raise_errors(res, "FEParamGetPtosVenta")
        out = []
        for p in items(value(res, "ResultGet"), "PtoVenta"):
            deleted = value(p, "FchBaja")
            out.append(
                PointOfSale(
                    number=int(value(p, "Nro")),
                    emission_type=value(p, "EmisionTipo", ""),
                    blocked=value(p, "Bloqueado", "N") == "S",
                    deleted_on=None if deleted in (None, "", "NULL") else _date(deleted),
                )
            )
        return out

    async def _param(self, auth: Auth, operation: str, item: str) -> list[ParamItem]:
        res = await self._call(operation, Auth=auth.as_soap())
        _raise_errors(res, operation)
        out = []
        for row in items(value(res, "ResultGet"), item):
            raw_id = value(row, "Id")
            out.append(
                ParamItem(
                    id=int(raw_id) if str(raw_id).isdigit() else raw_id,
                    desc=value(row, "Desc", ""),
                    valid_from=_date(value(row, "FchDesde")),
                    valid_to=_date(value(row, "FchHasta")),
                )
            )
        return out


# -- helpers -----------------------------------------------------------------------------------
def _ymd(day: date | None) -> str | None:
    return None if day is None else day.strftime("%Y%m%d")


def _date(raw: Any) -> date | None:
    text = str(raw or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _amount(amount: Decimal | int | str) -> Decimal:
    return Decimal(amount).quantize(_CENT)


def _dec(raw: Any, quantum: Decimal = _CENT) -> Decimal:
    return Decimal(repr(raw) if isinstance(raw, float) else str(raw)).quantize(quantum)


def _pairs(array: Any, name: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(value(e, "Code", 0)), str(value(e, "Msg", ""))) for e in items(array, name))


def _raise_service_errors(errors: tuple[tuple[int, str], ...], operation: str) -> None:
    for code, msg in errors:
        if code < SERVICE_ERROR_LIMIT:
            exc = classify(code, msg)
            log.warning("afip wsfe error", operation=operation, afip_code=code, transient=exc.transient)
            raise exc


def _raise_errors(res: Any, operation: str) -> None:
    """Any ``Errors`` in a non-issuing answer is a failure of the call."""
    errors = _pairs(value(res, "Errors"), "Err")
    if not errors:
        return
    code, msg = errors[0]
    exc: AfipError = classify(code, msg)
    log.warning("afip wsfe error", operation=operation, afip_code=code, transient=exc.transient)
    raise exc
