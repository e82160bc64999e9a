"""The tax calculator of an invoice: Decimal only, AFIP's rounding (cents, half up), per-rate IVA.

Rules (what the PDF shows and what ``FECAESolicitar`` receives always agree):

1. Each line's net is rounded once: ``net = round(quantity × unit_price − discount)``; ``unit_price`` is net of
   IVA and ``discount`` an amount in pesos off the line.
2. Letters A and B — per rate, not per line: the rate's base is the sum of its lines' nets (exact, already in
   cents) and its IVA is ``round(base × rate / 100)``. That is the ``Iva/AlicIva {Id, BaseImp, Importe}`` array
   (sorted by rate). ``ImpNeto = Σ BaseImp`` and ``ImpIVA = Σ Importe`` exactly.
   A 0 % line is *taxed at zero* (AlicIva 3): its net is in ``ImpNeto`` and in the array with amount 0.
   Exempt lines (``TaxTreatment.EXENTO``) go to ``ImpOpEx``, not-taxed ones (``NO_GRAVADO``) to ``ImpTotConc``;
   neither is in the array and their rate does not apply.
3. The lines' shown IVA reconciles with the per-rate figure: each line gets its IVA rounded half up, then the
   cents the rate's total differs by are given to (or taken from) the lines with the largest (smallest)
   rounding remainders, earlier lines first on ties (largest-remainder method). So Σ line IVA of a rate ==
   that rate's ``Importe`` and ``line.total = line.net + line.iva`` adds up to ``ImpTotal``.
4. Letter C (the issuer is monotributista or exento and charges no IVA; specs/afip.md "Class C sends no Iva
   array and ImpIVA = 0 (ImpNeto = total)"): the lines' IVA rates do not apply, every line's IVA is 0, the
   ``vat`` array is empty, ``ImpNeto`` is the whole amount and ``ImpTotConc = ImpOpEx = 0`` (exempt and
   not-taxed lines are folded into ``ImpNeto``: a C issuer has no IVA to set them apart from, and the WSFEv1
   manual — not specs/afip.md — asks 0 for both in class C), so ``ImpTotal = ImpNeto``.
5. ``ImpTrib`` (other taxes) is 0: CampoTech does not add tributos yet.
6. ``ImpTotal = ImpTotConc + ImpNeto + ImpOpEx + ImpTrib + ImpIVA`` exactly, as AFIP checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from shared.fiscal.afip_codes import ALIC_IVA_RATES, AlicIva, alic_iva_id
from shared.fiscal.invoicing import InvoiceLetter, InvoiceRuleError
from shared.money import CENT, to_money
from shared.pricing import DEFAULT_IVA_RATE, MAX_QUANTITY_DECIMALS, LineTotals, as_decimal

__all__ = [
    "InvalidLine",
    "InvoiceTotals",
    "LineTotals",
    "TaxLine",
    "TaxTreatment",
    "VatBase",
    "check_line",
    "compute_totals",
]

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


class TaxTreatment(StrEnum):
    GRAVADO = "gravado"  # taxed at its rate (0 % included): ImpNeto + AlicIva
    EXENTO = "exento"  # exempt operation: ImpOpEx
    NO_GRAVADO = "no_gravado"  # outside IVA: ImpTotConc


class InvalidLine(InvoiceRuleError):
    code = "invoice.line_invalid"


@dataclass(frozen=True, slots=True)
class TaxLine:
    quantity: Decimal
    unit_price: Decimal  # net of IVA
    discount: Decimal = Decimal("0")  # an amount off the line, in pesos
    iva_rate: Decimal = DEFAULT_IVA_RATE  # a percentage among AFIP's rates (gravado lines only)
    treatment: TaxTreatment = TaxTreatment.GRAVADO


@dataclass(frozen=True, slots=True)
class VatBase:
    """One ``AlicIva`` entry: ``Id``, the rate as a percentage, ``BaseImp`` and ``Importe``."""

    alic_id: AlicIva
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    letter: InvoiceLetter
    lines: tuple[LineTotals, ...]  # in the order given
    vat: tuple[VatBase, ...]  # empty for letter C
    imp_neto: Decimal
    imp_iva: Decimal
    imp_tot_conc: Decimal
    imp_op_ex: Decimal
    imp_trib: Decimal
    imp_total: Decimal


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _number(value: object, index: int, field: str, label: str) -> Decimal:
    try:
        return as_decimal(value, f"lines[{index}].{field}")  # TypeError for floats stays a TypeError
    except ValueError:
        raise InvalidLine(
            f"Línea {index + 1}: {label} no es un número válido.", line=index, field=field, problem="not_finite"
        ) from None


def _line_net(line: TaxLine, index: int) -> Decimal:
    quantity = _number(line.quantity, index, "quantity", "la cantidad")
    if quantity <= 0:
        raise InvalidLine(f"Línea {index + 1}: la cantidad tiene que ser mayor que cero.", line=index, field="quantity")
    exponent = quantity.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_QUANTITY_DECIMALS:
        raise InvalidLine(
            f"Línea {index + 1}: la cantidad admite hasta {MAX_QUANTITY_DECIMALS} decimales.",
            line=index,
            field="quantity",
        )
    price = _number(line.unit_price, index, "unitPrice", "el precio unitario")
    if price < 0:
        raise InvalidLine(
            f"Línea {index + 1}: el precio unitario no puede ser negativo.", line=index, field="unitPrice"
        )
    discount = _number(line.discount, index, "discount", "el descuento")
    if discount < 0:
        raise InvalidLine(f"Línea {index + 1}: el descuento no puede ser negativo.", line=index, field="discount")
    gross = quantity * price
    if discount > gross:
        raise InvalidLine(
            f"Línea {index + 1}: el descuento (${to_money(discount)}) es mayor que el importe de la línea "
            f"(${to_money(gross)}).",
            line=index,
            field="discount",
        )
    return _money(gross - discount)


def _line_rate(line: TaxLine, index: int) -> AlicIva:
    rate = _number(line.iva_rate, index, "ivaRate", "la alícuota de IVA")
    try:
        return alic_iva_id(rate)
    except ValueError as exc:
        raise InvalidLine(f"Línea {index + 1}: {exc}", line=index, field="ivaRate") from None


def check_line(line: TaxLine, index: int = 0) -> Decimal:
    """The line's net (rule 1); ``InvalidLine`` (``details["field"]`` names the field) for a line AFIP's
    figures cannot come from, exactly as ``compute_totals`` would refuse it."""
    net = _line_net(line, index)
    if TaxTreatment(line.treatment) is TaxTreatment.GRAVADO:
        _line_rate(line, index)
    return net


def _allocate(total: Decimal, raws: list[Decimal]) -> list[Decimal]:
    """Cents of ``total`` spread over ``raws`` (unrounded shares): each rounded half up, then the difference
    given to the largest remainders (or taken from the smallest), earlier first on ties."""
    rounded = [_money(raw) for raw in raws]
    diff_cents = int((total - sum(rounded, ZERO)) / CENT)
    if diff_cents:
        step = CENT if diff_cents > 0 else -CENT
        order = sorted(
            range(len(raws)),
            key=lambda i: (-(raws[i] - rounded[i]) if diff_cents > 0 else raws[i] - rounded[i], i),
        )
        for i in order[: abs(diff_cents)]:
            rounded[i] += step
    return rounded


def compute_totals(lines: Iterable[TaxLine], letter: InvoiceLetter | str) -> InvoiceTotals:
    """Line figures, the AlicIva array and the receipt totals for ``letter`` (see the module's rules).

    Raises ``InvalidLine`` (code ``invoice.line_invalid``) for a line AFIP's figures cannot come from;
    ``TypeError`` for a float anywhere.
    """
    letter = InvoiceLetter(letter)
    items = list(lines)
    nets = [_line_net(line, i) for i, line in enumerate(items)]
    rates = {
        i: _line_rate(line, i) for i, line in enumerate(items) if TaxTreatment(line.treatment) is TaxTreatment.GRAVADO
    }
    if letter is InvoiceLetter.C:
        imp_neto = sum(nets, ZERO)
        return InvoiceTotals(
            letter=letter,
            lines=tuple(LineTotals(net=net, iva=ZERO, total=net) for net in nets),
            vat=(),
            imp_neto=imp_neto,
            imp_iva=ZERO,
            imp_tot_conc=ZERO,
            imp_op_ex=ZERO,
            imp_trib=ZERO,
            imp_total=imp_neto,
        )

    ivas = [ZERO] * len(items)
    by_rate: dict[AlicIva, list[int]] = {}
    exempt = untaxed = ZERO
    for i, line in enumerate(items):
        treatment = TaxTreatment(line.treatment)
        if treatment is TaxTreatment.EXENTO:
            exempt += nets[i]
        elif treatment is TaxTreatment.NO_GRAVADO:
            untaxed += nets[i]
        else:
            by_rate.setdefault(rates[i], []).append(i)

    vat: list[VatBase] = []
    for alic in sorted(by_rate, key=lambda a: ALIC_IVA_RATES[a]):
        members = by_rate[alic]
        rate = ALIC_IVA_RATES[alic]
        base = sum((nets[i] for i in members), ZERO)
        amount = _money(base * rate / HUNDRED)
        for i, share in zip(members, _allocate(amount, [nets[i] * rate / HUNDRED for i in members]), strict=True):
            ivas[i] = share
        if base:
            vat.append(VatBase(alic_id=alic, rate=rate, base=base, amount=amount))

    imp_neto = sum((v.base for v in vat), ZERO)
    imp_iva = sum((v.amount for v in vat), ZERO)
    return InvoiceTotals(
        letter=letter,
        lines=tuple(LineTotals(net=net, iva=iva, total=net + iva) for net, iva in zip(nets, ivas, strict=True)),
        vat=tuple(vat),
        imp_neto=imp_neto,
        imp_iva=imp_iva,
        imp_tot_conc=untaxed,
        imp_op_ex=exempt,
        imp_trib=ZERO,
        imp_total=untaxed + imp_neto + exempt + ZERO + imp_iva,
    )
