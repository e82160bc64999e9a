"""AFIP/ARCA WSFEv1 code tables: receipt types, document types, concepts, IVA rates, receiver conditions.

The values are AFIP's (``FEParamGetTiposCbte``, ``FEParamGetTiposDoc``, ``FEParamGetTiposConcepto``,
``FEParamGetTiposIva``, ``FEParamGetCondicionIvaReceptor``), copied from the django-afip fixtures in
``../shared/specs/afip/django_afip_fixtures/`` (ISC licence). ``tests/shared/test_afip_codes.py`` checks them
against those files when they are present.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType

from shared.fiscal.iva import IvaCondition
from shared.pricing import AFIP_IVA_RATES


class ReceiptKind(StrEnum):
    """What a receipt does; the values match ``shared.schemas.invoices.InvoiceKind``."""

    INVOICE = "invoice"
    DEBIT_NOTE = "debit_note"
    CREDIT_NOTE = "credit_note"


class ReceiptType(IntEnum):
    """``CbteTipo``: the receipt types CampoTech issues (A, B, C invoices and notes, plus receipts)."""

    FACTURA_A = 1
    NOTA_DEBITO_A = 2
    NOTA_CREDITO_A = 3
    RECIBO_A = 4
    FACTURA_B = 6
    NOTA_DEBITO_B = 7
    NOTA_CREDITO_B = 8
    RECIBO_B = 9
    FACTURA_C = 11
    NOTA_DEBITO_C = 12
    NOTA_CREDITO_C = 13
    RECIBO_C = 15


# Every receipt type AFIP lists (receipttype.json), as data: code → description.
RECEIPT_TYPE_DESCRIPTIONS: Mapping[int, str] = MappingProxyType(
    {
        1: "Factura A",
        2: "Nota de Débito A",
        3: "Nota de Crédito A",
        4: "Recibos A",
        5: "Notas de Venta al contado A",
        6: "Factura B",
        7: "Nota de Débito B",
        8: "Nota de Crédito B",
        9: "Recibos B",
        10: "Notas de Venta al contado B",
        11: "Factura C",
        12: "Nota de Débito C",
        13: "Nota de Crédito C",
        15: "Recibo C",
        34: "Cbtes. A del Anexo I, Apartado A,inc.f),R.G.Nro. 1415",
        35: "Cbtes. B del Anexo I,Apartado A,inc. f),R.G. Nro. 1415",
        39: "Otros comprobantes A que cumplan con R.G.Nro. 1415",
        40: "Otros comprobantes B que cumplan con R.G.Nro. 1415",
        49: "Comprobante de Compra de Bienes Usados a Consumidor Final",
        51: 'Factura A con Leyenda "Operación Sujeta a Retención"',
        52: 'Nota de Débito A con Leyenda "Operación Sujeta a Retención"',
        53: 'Nota de Crédito A con Leyenda "Operación Sujeta a Retención"',
        54: 'Recibo A con Leyenda "Operación Sujeta a Retención"',
        60: "Cta de Vta y Liquido prod. A",
        61: "Cta de Vta y Liquido prod. B",
        63: "Liquidacion A",
        64: "Liquidacion B",
        201: "Factura de Crédito electrónica MiPyMEs (FCE) A",
        202: "Nota de Débito electrónica MiPyMEs (FCE) A",
        203: "Nota de Crédito electrónica MiPyMEs (FCE) A",
        206: "Factura de Crédito electrónica MiPyMEs (FCE) B",
        207: "Nota de Débito electrónica MiPyMEs (FCE) B",
        208: "Nota de Crédito electrónica MiPyMEs (FCE) B",
        211: "Factura de Crédito electrónica MiPyMEs (FCE) C",
        212: "Nota de Débito electrónica MiPyMEs (FCE) C",
        213: "Nota de Crédito electrónica MiPyMEs (FCE) C",
    }
)

# The (letter, kind) of the receipt types CampoTech issues; the inverse of ``invoicing.receipt_type``.
RECEIPT_CLASSES: Mapping[ReceiptType, tuple[str, ReceiptKind]] = MappingProxyType(
    {
        ReceiptType.FACTURA_A: ("A", ReceiptKind.INVOICE),
        ReceiptType.NOTA_DEBITO_A: ("A", ReceiptKind.DEBIT_NOTE),
        ReceiptType.NOTA_CREDITO_A: ("A", ReceiptKind.CREDIT_NOTE),
        ReceiptType.FACTURA_B: ("B", ReceiptKind.INVOICE),
        ReceiptType.NOTA_DEBITO_B: ("B", ReceiptKind.DEBIT_NOTE),
        ReceiptType.NOTA_CREDITO_B: ("B", ReceiptKind.CREDIT_NOTE),
        ReceiptType.FACTURA_C: ("C", ReceiptKind.INVOICE),
        ReceiptType.NOTA_DEBITO_C: ("C", ReceiptKind.DEBIT_NOTE),
        ReceiptType.NOTA_CREDITO_C: ("C", ReceiptKind.CREDIT_NOTE),
    }
)


class AfipDocType(IntEnum):
    """``DocTipo`` of the receiver (the rest of AFIP's list, provincial IDs etc., is not used)."""

    CUIT = 80
    CUIL = 86
    CDI = 87
    PASAPORTE = 94
    DNI = 96
    OTRO = 99  # consumidor final without a document, with DocNro 0


class Concept(IntEnum):
    """``Concepto``: what is sold. Services (2, 3) need FchServDesde/FchServHasta/FchVtoPago."""

    PRODUCTOS = 1
    SERVICIOS = 2
    AMBOS = 3


class AlicIva(IntEnum):
    """``Iva/AlicIva/Id``: AFIP's id of each IVA rate (0 % is a taxed rate at zero, not exempt)."""

    IVA_0 = 3
    IVA_10_5 = 4
    IVA_21 = 5
    IVA_27 = 6
    IVA_5 = 8
    IVA_2_5 = 9


# the rate of each id, from the one table of AFIP's rates (shared.pricing), in id order
ALIC_IVA_RATES: Mapping[AlicIva, Decimal] = MappingProxyType(
    {AlicIva(alic_id): rate for rate, alic_id in sorted(AFIP_IVA_RATES.items(), key=lambda item: item[1])}
)
_ID_BY_RATE: dict[Decimal, AlicIva] = {rate: alic for alic, rate in ALIC_IVA_RATES.items()}


def _rate_list() -> str:
    return ", ".join(f"{rate.normalize():f}".replace(".", ",") for rate in sorted(_ID_BY_RATE)) + " %"


def alic_iva_id(rate: Decimal | int) -> AlicIva:
    """The AlicIva id of a rate given as a percentage (``Decimal("10.5")`` → 4; ``21.00`` and ``21`` alike).

    Raises ``ValueError`` naming the rate when AFIP has no such rate, ``TypeError`` for a float.
    """
    if isinstance(rate, float | bool) or not isinstance(rate, Decimal | int):
        raise TypeError(f"the IVA rate must be a Decimal (got {rate!r})")
    key = Decimal(rate)
    if key.is_finite() and key in _ID_BY_RATE:
        return _ID_BY_RATE[key]
    raise ValueError(f"La alícuota de IVA {key} % no existe en AFIP; las válidas son {_rate_list()}.")


class CondicionIvaReceptor(IntEnum):
    """``CondicionIVAReceptorId`` (RG 5616), mandatory in production since 2025-07-01."""

    RESPONSABLE_INSCRIPTO = 1
    EXENTO = 4
    CONSUMIDOR_FINAL = 5
    MONOTRIBUTO = 6
    NO_CATEGORIZADO = 7
    PROVEEDOR_EXTERIOR = 8
    CLIENTE_EXTERIOR = 9
    LIBERADO_LEY_19640 = 10
    MONOTRIBUTISTA_SOCIAL = 13
    NO_ALCANZADO = 15
    MONOTRIBUTO_TRABAJADOR_INDEPENDIENTE_PROMOVIDO = 16


CONDICION_IVA_RECEPTOR_DESCRIPTIONS: Mapping[CondicionIvaReceptor, str] = MappingProxyType(
    {
        CondicionIvaReceptor.RESPONSABLE_INSCRIPTO: "IVA Responsable Inscripto",
        CondicionIvaReceptor.MONOTRIBUTO: "Responsable Monotributo",
        CondicionIvaReceptor.MONOTRIBUTISTA_SOCIAL: "Monotributista Social",
        CondicionIvaReceptor.MONOTRIBUTO_TRABAJADOR_INDEPENDIENTE_PROMOVIDO: (
            "Monotributo Trabajador Independiente Promovido"
        ),
        CondicionIvaReceptor.EXENTO: "IVA Sujeto Exento",
        CondicionIvaReceptor.NO_CATEGORIZADO: "Sujeto No Categorizado",
        CondicionIvaReceptor.PROVEEDOR_EXTERIOR: "Proveedor del Exterior",
        CondicionIvaReceptor.CLIENTE_EXTERIOR: "Cliente del Exterior",
        CondicionIvaReceptor.LIBERADO_LEY_19640: "IVA Liberado – Ley N° 19.640",
        CondicionIvaReceptor.NO_ALCANZADO: "IVA No Alcanzado",
        CondicionIvaReceptor.CONSUMIDOR_FINAL: "Consumidor Final",
    }
)

_A_OR_C = frozenset({"A", "C"})
_B_OR_C = frozenset({"B", "C"})
# The receipt letters each receiver condition may get (what the sandbox checks, like AFIP's Obs 10242).
# AFIP's live FEParamGetCondicionIvaReceptor lists Consumidor Final (5) as "C/49", leaving out B, although
# Factura B to a consumidor final is valid and everyday (specs/afip.md, "Trap"): B is added here on purpose.
# "ALEY" (A con leyenda, 51–54) is not issued by CampoTech and is left out.
RECEIVER_CONDITION_LETTERS: Mapping[CondicionIvaReceptor, frozenset[str]] = MappingProxyType(
    {
        CondicionIvaReceptor.RESPONSABLE_INSCRIPTO: _A_OR_C,
        CondicionIvaReceptor.MONOTRIBUTO: _A_OR_C,
        CondicionIvaReceptor.MONOTRIBUTISTA_SOCIAL: _A_OR_C,
        CondicionIvaReceptor.MONOTRIBUTO_TRABAJADOR_INDEPENDIENTE_PROMOVIDO: _A_OR_C,
        CondicionIvaReceptor.EXENTO: _B_OR_C,
        CondicionIvaReceptor.NO_CATEGORIZADO: _B_OR_C,
        CondicionIvaReceptor.PROVEEDOR_EXTERIOR: _B_OR_C,
        CondicionIvaReceptor.CLIENTE_EXTERIOR: _B_OR_C,
        CondicionIvaReceptor.LIBERADO_LEY_19640: _B_OR_C,
        CondicionIvaReceptor.NO_ALCANZADO: _B_OR_C,
        CondicionIvaReceptor.CONSUMIDOR_FINAL: _B_OR_C,
    }
)

_RECEIVER_CONDITION_IDS: Mapping[IvaCondition, CondicionIvaReceptor] = MappingProxyType(
    {
        IvaCondition.RESPONSABLE_INSCRIPTO: CondicionIvaReceptor.RESPONSABLE_INSCRIPTO,
        IvaCondition.MONOTRIBUTISTA: CondicionIvaReceptor.MONOTRIBUTO,
        IvaCondition.EXENTO: CondicionIvaReceptor.EXENTO,
        IvaCondition.CONSUMIDOR_FINAL: CondicionIvaReceptor.CONSUMIDOR_FINAL,
    }
)


def receiver_condition_id(condition: IvaCondition | str) -> CondicionIvaReceptor:
    """The ``CondicionIVAReceptorId`` to send for a customer's IVA condition (always send it)."""
    return _RECEIVER_CONDITION_IDS[IvaCondition(condition)]


def receiver_condition_allows(condition_id: int, letter: str) -> bool:
    """Whether a receipt of ``letter`` (A/B/C) may go to a receiver of ``condition_id`` (unknown id → False)."""
    try:
        allowed = RECEIVER_CONDITION_LETTERS[CondicionIvaReceptor(condition_id)]
    except ValueError:
        return False
    return str(letter) in allowed
