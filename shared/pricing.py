"""Price book rules: Decimal only (a float is refused with TypeError), cents rounded half up.

A unit price is resolved in this order, rounding once at the end:

1. the zone's own price for the item (``zone_override``), if the zone has one; else
2. the item's base price × the zone's multiplier (``zone_multiplier``; no zone → ``base``);
3. × the complexity multiplier (1 for materials: see ``COMPLEXITY_APPLIES_TO``).

Prices are net of IVA (neto gravado) and positive: a line given away is a line with a 100 % discount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from shared.money import to_money

ONE = Decimal(1)
HUNDRED = Decimal(100)

# AFIP's IVA rates (AlicIva Id 3=0 %, 9=2.5 %, 8=5 %, 4=10.5 %, 5=21 %, 6=27 %), as percentages.
AFIP_IVA_RATES: Mapping[Decimal, int] = MappingProxyType(
    {
        Decimal("0"): 3,
        Decimal("2.5"): 9,
        Decimal("5"): 8,
        Decimal("10.5"): 4,
        Decimal("21"): 5,
        Decimal("27"): 6,
    }
)
IVA_RATES: frozenset[Decimal] = frozenset(AFIP_IVA_RATES)
DEFAULT_IVA_RATE = Decimal("21")


class ItemKind(StrEnum):
    """Mirrors the database enum ``price_book_item_kind``."""

    SERVICE = "service"
    MATERIAL = "material"


class Complexity(StrEnum):
    NORMAL = "normal"
    DIFICIL = "dificil"
    URGENTE = "urgente"


COMPLEXITY_LABELS: dict[Complexity, str] = {
    Complexity.NORMAL: "Normal",
    Complexity.DIFICIL: "Difícil",
    Complexity.URGENTE: "Urgente",
}

DEFAULT_COMPLEXITY_MULTIPLIERS: Mapping[Complexity, Decimal] = MappingProxyType(
    {
        Complexity.NORMAL: Decimal("1.00"),
        Complexity.DIFICIL: Decimal("1.25"),
        Complexity.URGENTE: Decimal("1.50"),
    }
)

# Complexity prices the work, not the goods: a material costs the same on a difficult job.
COMPLEXITY_APPLIES_TO: frozenset[ItemKind] = frozenset({ItemKind.SERVICE})


def as_decimal(value: object, name: str) -> Decimal:
    """``value`` as a finite Decimal; int is fine, float/str/bool are refused (TypeError)."""
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, never a float (got {value!r})")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (got {type(value).__name__})")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number (got {value})")
    return number


def _positive(value: object, name: str) -> Decimal:
    number = as_decimal(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be greater than zero (got {number})")
    return number


def complexity_multiplier(
    level: Complexity | str,
    kind: ItemKind | str = ItemKind.SERVICE,
    overrides: Mapping[Complexity, Decimal] | Mapping[str, Decimal] | None = None,
) -> Decimal:
    """The multiplier for ``level``: the org's override if it has one, else the default; 1 for kinds
    complexity does not apply to."""
    level = Complexity(level)
    if ItemKind(kind) not in COMPLEXITY_APPLIES_TO:
        return ONE
    table: dict[str, Decimal] = {str(k): v for k, v in (overrides or {}).items()}
    value = table.get(str(level), DEFAULT_COMPLEXITY_MULTIPLIERS[level])
    return _positive(value, f"complexity multiplier {level}")


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """A regional price list: a multiplier for the whole zone, and the zone's own price for some items."""

    zone: str
    multiplier: Decimal = ONE
    item_prices: Mapping[str, Decimal] = field(default_factory=dict)  # item code → unit price here

    def __post_init__(self) -> None:
        _positive(self.multiplier, f"zone {self.zone!r} multiplier")
        for code, price in self.item_prices.items():
            _positive(price, f"zone {self.zone!r} price of {code!r}")

    def override_for(self, code: str) -> Decimal | None:
        return self.item_prices.get(code)


class PriceSource(StrEnum):
    BASE = "base"
    ZONE_MULTIPLIER = "zone_multiplier"
    ZONE_OVERRIDE = "zone_override"


@dataclass(frozen=True, slots=True)
class PriceStep:
    """One step of a resolution: ``result`` is the running value after applying ``value``."""

    name: str  # base | zone_override | zone_multiplier | complexity | rounding
    value: Decimal
    result: Decimal


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    unit_price: Decimal
    source: PriceSource
    breakdown: tuple[PriceStep, ...]


def resolve_price(
    base_price: Decimal,
    *,
    zone_rule: ZoneRule | None = None,
    item_override: Decimal | None = None,
    complexity: Decimal = ONE,
) -> ResolvedPrice:
    """The unit price of an item: zone override > base × zone multiplier; then × complexity; rounded
    half up to cents once, at the end. ``item_override`` is the zone's price for this item (see
    ``ZoneRule.override_for``). Raises ValueError for prices or multipliers ≤ 0, TypeError for floats."""
    base = _positive(base_price, "base_price")
    factor = _positive(complexity, "complexity")
    if item_override is not None:
        override = _positive(item_override, "item_override")
        source = PriceSource.ZONE_OVERRIDE
        steps = [PriceStep("base", base, base), PriceStep("zone_override", override, override)]
        running = override
    elif zone_rule is not None:
        running = base * zone_rule.multiplier
        source = PriceSource.ZONE_MULTIPLIER
        steps = [PriceStep("base", base, base), PriceStep("zone_multiplier", zone_rule.multiplier, running)]
    else:
        running = base
        source = PriceSource.BASE
        steps = [PriceStep("base", base, base)]
    running = running * factor
    steps.append(PriceStep("complexity", factor, running))
    unit_price = to_money(running)
    if unit_price <= 0:
        raise ValueError(f"the price rounds to zero cents ({running}); check the base price and the multipliers")
    steps.append(PriceStep("rounding", unit_price - running, unit_price))
    return ResolvedPrice(unit_price, source, tuple(steps))


@dataclass(frozen=True, slots=True)
class LineTotals:
    net: Decimal  # ImpNeto of the line: quantity × unit price − discount
    iva: Decimal  # IVA of the line at its rate
    total: Decimal  # net + iva


MAX_QUANTITY_DECIMALS = 3  # quantities are stored as Numeric(12, 3)


def check_iva_rate(iva_rate: Decimal) -> Decimal:
    rate = as_decimal(iva_rate, "iva_rate")
    if rate not in IVA_RATES:
        rates = ", ".join(f"{r.normalize():f}" for r in sorted(IVA_RATES))
        raise ValueError(f"iva_rate must be one of AFIP's rates ({rates}); got {rate}")
    return rate


def line_totals(
    quantity: Decimal,
    unit_price: Decimal,
    discount: Decimal = Decimal("0"),
    iva_rate: Decimal = DEFAULT_IVA_RATE,
) -> LineTotals:
    """One line's net, IVA and total, each rounded half up to cents on this line.

    ``discount`` is an amount in pesos off quantity × unit price (0 up to the whole of it);
    ``iva_rate`` a percentage among ``IVA_RATES``. Quantities have at most 3 decimals.
    """
    qty = _positive(quantity, "quantity")
    exponent = qty.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_QUANTITY_DECIMALS:
        raise ValueError(f"quantity has at most {MAX_QUANTITY_DECIMALS} decimals (got {qty})")
    price = _positive(unit_price, "unit_price")
    off = as_decimal(discount, "discount")
    if off < 0:
        raise ValueError(f"discount cannot be negative (got {off})")
    rate = check_iva_rate(iva_rate)
    gross = qty * price
    if off > gross:
        raise ValueError(f"discount ({off}) is more than the line's amount ({gross})")
    net = to_money(gross - off)
    iva = to_money(net * rate / HUNDRED)
    return LineTotals(net=net, iva=iva, total=net + iva)
