from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.pricing import (
    AFIP_IVA_RATES,
    DEFAULT_COMPLEXITY_MULTIPLIERS,
    IVA_RATES,
    Complexity,
    ItemKind,
    LineTotals,
    PriceSource,
    ZoneRule,
    complexity_multiplier,
    line_totals,
    resolve_price,
)

PATAGONIA = ZoneRule("patagonia", D("1.20"), {"VIS-01": D("15000")})


def test_item_kinds_mirror_the_database_enum() -> None:
    assert [k.value for k in ItemKind] == ["service", "material"]


def test_afip_rates() -> None:
    assert {D("0"), D("2.5"), D("5"), D("10.5"), D("21"), D("27")} == IVA_RATES
    assert AFIP_IVA_RATES[D("21")] == 5 and AFIP_IVA_RATES[D("10.5")] == 4


@pytest.mark.parametrize(
    ("level", "kind", "overrides", "expected"),
    [
        (Complexity.NORMAL, ItemKind.SERVICE, None, D("1.00")),
        (Complexity.DIFICIL, ItemKind.SERVICE, None, D("1.25")),
        (Complexity.URGENTE, ItemKind.SERVICE, None, D("1.50")),
        ("urgente", "service", None, D("1.50")),
        (Complexity.URGENTE, ItemKind.MATERIAL, None, D("1")),  # goods cost the same on a hard job
        (Complexity.URGENTE, ItemKind.SERVICE, {Complexity.URGENTE: D("1.80")}, D("1.80")),
        (Complexity.DIFICIL, ItemKind.SERVICE, {"dificil": D("1.10")}, D("1.10")),
        (Complexity.DIFICIL, ItemKind.SERVICE, {"urgente": D("2")}, D("1.25")),  # other levels keep defaults
    ],
)
def test_complexity_multiplier(level: str, kind: str, overrides: dict | None, expected: D) -> None:
    assert complexity_multiplier(level, kind, overrides) == expected


def test_default_multipliers_are_data() -> None:
    assert dict(DEFAULT_COMPLEXITY_MULTIPLIERS) == {
        Complexity.NORMAL: D("1.00"),
        Complexity.DIFICIL: D("1.25"),
        Complexity.URGENTE: D("1.50"),
    }


@pytest.mark.parametrize("bad", [D("0"), D("-1")])
def test_complexity_override_must_be_positive(bad: D) -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        complexity_multiplier(Complexity.URGENTE, ItemKind.SERVICE, {Complexity.URGENTE: bad})


@pytest.mark.parametrize(
    ("base", "zone", "override", "complexity", "unit_price", "source"),
    [
        (D("1000"), None, None, D("1"), D("1000.00"), PriceSource.BASE),
        (D("1000"), None, None, D("1.25"), D("1250.00"), PriceSource.BASE),
        (D("1000"), PATAGONIA, None, D("1"), D("1200.00"), PriceSource.ZONE_MULTIPLIER),
        (D("1000"), PATAGONIA, None, D("1.50"), D("1800.00"), PriceSource.ZONE_MULTIPLIER),
        (D("1000"), PATAGONIA, D("15000"), D("1"), D("15000.00"), PriceSource.ZONE_OVERRIDE),  # override wins
        (D("1000"), PATAGONIA, D("15000"), D("1.25"), D("18750.00"), PriceSource.ZONE_OVERRIDE),
        (D("1000"), None, D("900"), D("1"), D("900.00"), PriceSource.ZONE_OVERRIDE),
        (D("33.33"), ZoneRule("norte", D("1.15")), None, D("1"), D("38.33"), PriceSource.ZONE_MULTIPLIER),
        # rounding half up: 0.005 → 0.01, 10.005 → 10.01 (a float would say 10.00)
        (D("0.005"), None, None, D("1"), D("0.01"), PriceSource.BASE),
        (D("10.005"), None, None, D("1"), D("10.01"), PriceSource.BASE),
        (D("2.675"), None, None, D("1"), D("2.68"), PriceSource.BASE),
        (D("0.01"), None, None, D("1.25"), D("0.01"), PriceSource.BASE),  # 0.0125 → 0.01
        (D("0.02"), None, None, D("1.25"), D("0.03"), PriceSource.BASE),  # 0.025 → 0.03
        # rounding once at the end: 10 × 1.0004 = 10.004 (10.00 if rounded here) × 1.25 = 12.505 → 12.51
        (D("10"), ZoneRule("x", D("1.0004")), None, D("1.25"), D("12.51"), PriceSource.ZONE_MULTIPLIER),
        (1000, None, None, 1, D("1000.00"), PriceSource.BASE),  # ints are exact, so fine
    ],
)
def test_resolve_price(
    base: D, zone: ZoneRule | None, override: D | None, complexity: D, unit_price: D, source: PriceSource
) -> None:
    resolved = resolve_price(base, zone_rule=zone, item_override=override, complexity=complexity)
    assert resolved.unit_price == unit_price
    assert resolved.unit_price.as_tuple().exponent == -2
    assert resolved.source is source
    steps = resolved.breakdown
    assert steps[0].name == "base" and steps[-1].name == "rounding"
    assert steps[-1].result == unit_price
    assert [s.name for s in steps][-2:] == ["complexity", "rounding"]


def test_breakdown_explains_each_step() -> None:
    resolved = resolve_price(D("1000"), zone_rule=PATAGONIA, complexity=D("1.25"))
    assert [(s.name, s.value, s.result) for s in resolved.breakdown] == [
        ("base", D("1000"), D("1000")),
        ("zone_multiplier", D("1.20"), D("1200.00")),
        ("complexity", D("1.25"), D("1500.0000")),
        ("rounding", D("0"), D("1500.00")),
    ]


def test_zone_override_lookup() -> None:
    assert PATAGONIA.override_for("VIS-01") == D("15000")
    assert PATAGONIA.override_for("OTRO") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_price": D("0")}, "base_price must be greater than zero"),
        ({"base_price": D("-10")}, "base_price must be greater than zero"),
        ({"base_price": D("10"), "complexity": D("0")}, "complexity must be greater than zero"),
        ({"base_price": D("10"), "complexity": D("-1.25")}, "complexity must be greater than zero"),
        ({"base_price": D("10"), "item_override": D("0")}, "item_override must be greater than zero"),
        ({"base_price": D("0.0049")}, "rounds to zero"),
        ({"base_price": D("0.01"), "complexity": D("0.4")}, "rounds to zero"),
        ({"base_price": D("NaN")}, "finite"),
        ({"base_price": D("Infinity")}, "finite"),
    ],
)
def test_resolve_price_refuses_zero_and_negative(kwargs: dict, message: str) -> None:
    base = kwargs.pop("base_price")
    with pytest.raises(ValueError, match=message):
        resolve_price(base, **kwargs)


@pytest.mark.parametrize(("multiplier", "prices"), [(D("0"), {}), (D("-1"), {}), (D("1"), {"A": D("0")})])
def test_zone_rule_refuses_zero_and_negative(multiplier: D, prices: dict) -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        ZoneRule("sur", multiplier, prices)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_price": 10.5},
        {"base_price": D("10"), "complexity": 1.25},
        {"base_price": D("10"), "item_override": 9.99},
        {"base_price": "10"},
        {"base_price": True},
    ],
)
def test_resolve_price_refuses_floats_and_non_decimals(kwargs: dict) -> None:
    base = kwargs.pop("base_price")
    with pytest.raises(TypeError):
        resolve_price(base, **kwargs)


def test_zone_rule_refuses_a_float_multiplier() -> None:
    with pytest.raises(TypeError, match="float"):
        ZoneRule("sur", 1.2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("quantity", "unit_price", "discount", "iva_rate", "expected"),
    [
        (D("1"), D("1000.00"), D("0"), D("21"), (D("1000.00"), D("210.00"), D("1210.00"))),
        (D("2"), D("1500.00"), D("300"), D("21"), (D("2700.00"), D("567.00"), D("3267.00"))),
        (D("3"), D("33.33"), D("0"), D("10.5"), (D("99.99"), D("10.50"), D("110.49"))),  # 10.49895 → 10.50
        (D("1"), D("0.05"), D("0"), D("21"), (D("0.05"), D("0.01"), D("0.06"))),  # 0.0105 → 0.01
        (D("1"), D("0.10"), D("0"), D("5"), (D("0.10"), D("0.01"), D("0.11"))),  # 0.005 → 0.01 (half up)
        (D("1"), D("0.30"), D("0"), D("2.5"), (D("0.30"), D("0.01"), D("0.31"))),  # 0.0075 → 0.01
        (D("1"), D("0.10"), D("0"), D("2.5"), (D("0.10"), D("0.00"), D("0.10"))),  # 0.0025 → 0.00
        (D("0.333"), D("10.00"), D("0"), D("21"), (D("3.33"), D("0.70"), D("4.03"))),  # 3.33 × 0.21 = 0.6993
        (D("1.5"), D("100.01"), D("0"), D("27"), (D("150.02"), D("40.51"), D("190.53"))),  # 150.015 → 150.02
        (D("1"), D("100"), D("100"), D("21"), (D("0.00"), D("0.00"), D("0.00"))),  # given away: 100 % discount
        (D("2"), D("50"), D("0"), D("0"), (D("100.00"), D("0.00"), D("100.00"))),
        (1, 100, 0, 21, (D("100.00"), D("21.00"), D("121.00"))),
        (D("1.000"), D("10"), D("0"), D("21.00"), (D("10.00"), D("2.10"), D("12.10"))),
    ],
)
def test_line_totals(quantity: D, unit_price: D, discount: D, iva_rate: D, expected: tuple[D, D, D]) -> None:
    totals = line_totals(quantity, unit_price, discount, iva_rate)
    assert totals == LineTotals(*expected)
    assert totals.total == totals.net + totals.iva
    for amount in (totals.net, totals.iva, totals.total):
        assert amount.as_tuple().exponent == -2


def test_line_totals_defaults_to_no_discount_and_21() -> None:
    assert line_totals(D("1"), D("100")) == LineTotals(D("100.00"), D("21.00"), D("121.00"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((D("0"), D("10"), D("0"), D("21")), "quantity must be greater than zero"),
        ((D("-1"), D("10"), D("0"), D("21")), "quantity must be greater than zero"),
        ((D("1.0001"), D("10"), D("0"), D("21")), "at most 3 decimals"),
        ((D("1"), D("0"), D("0"), D("21")), "unit_price must be greater than zero"),
        ((D("1"), D("-5"), D("0"), D("21")), "unit_price must be greater than zero"),
        ((D("1"), D("10"), D("-1"), D("21")), "discount cannot be negative"),
        ((D("1"), D("10"), D("10.01"), D("21")), "more than the line's amount"),
        ((D("1"), D("10"), D("0"), D("22")), "one of AFIP's rates"),
        ((D("1"), D("10"), D("0"), D("-21")), "one of AFIP's rates"),
        ((D("1"), D("10"), D("0"), D("0.21")), "one of AFIP's rates"),  # a fraction, not a percentage
    ],
)
def test_line_totals_refusals(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        line_totals(*args)


@pytest.mark.parametrize(
    "args",
    [
        (1.0, D("10"), D("0"), D("21")),
        (D("1"), 10.0, D("0"), D("21")),
        (D("1"), D("10"), 0.0, D("21")),
        (D("1"), D("10"), D("0"), 21.0),
    ],
)
def test_line_totals_refuses_floats(args: tuple) -> None:
    with pytest.raises(TypeError, match="float"):
        line_totals(*args)
