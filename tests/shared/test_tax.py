from __future__ import annotations

import random
from decimal import Decimal

import pytest

from shared.fiscal.afip_codes import AlicIva
from shared.fiscal.invoicing import InvoiceLetter, InvoiceRuleError
from shared.fiscal.tax import InvalidLine, InvoiceTotals, TaxLine, TaxTreatment, compute_totals
from shared.money import to_money
from shared.pricing import line_totals

M = Decimal


def money(*values: str) -> tuple[Decimal, ...]:
    return tuple(M(v) for v in values)


def check_invariants(totals: InvoiceTotals) -> None:
    """What AFIP checks on FECAESolicitar, and what the PDF must agree with."""
    assert totals.imp_total == (
        totals.imp_tot_conc + totals.imp_neto + totals.imp_op_ex + totals.imp_trib + totals.imp_iva
    )
    if totals.letter is InvoiceLetter.C:  # no AlicIva array: the whole amount is ImpNeto
        assert totals.vat == () and totals.imp_iva == 0 and totals.imp_neto == totals.imp_total
    else:
        assert sum((v.base for v in totals.vat), M(0)) == totals.imp_neto
        assert sum((v.amount for v in totals.vat), M(0)) == totals.imp_iva
    assert sum((line.total for line in totals.lines), M(0)) == totals.imp_total
    for line in totals.lines:
        assert line.total == line.net + line.iva
        assert line.iva >= 0
    for figure in (
        totals.imp_total,
        totals.imp_neto,
        totals.imp_iva,
        totals.imp_op_ex,
        totals.imp_tot_conc,
        totals.imp_trib,
        *(f for v in totals.vat for f in (v.base, v.amount)),
        *(f for line in totals.lines for f in (line.net, line.iva, line.total)),
    ):
        assert figure.as_tuple().exponent == -2, figure


def test_one_line_factura_a() -> None:
    totals = compute_totals([TaxLine(M("2"), M("1500.00"))], "A")
    check_invariants(totals)
    assert totals.letter is InvoiceLetter.A
    assert (totals.imp_neto, totals.imp_iva, totals.imp_total) == money("3000.00", "630.00", "3630.00")
    assert [(v.alic_id, v.rate, v.base, v.amount) for v in totals.vat] == [(5, M("21"), M("3000.00"), M("630.00"))]
    assert totals.imp_tot_conc == totals.imp_op_ex == totals.imp_trib == M("0.00")


def test_thirds_of_a_unit_round_the_net_per_line_and_the_iva_per_rate() -> None:
    # 0.333 × 100 = 33.30 per line; base 99.90; IVA 21 % of 99.90 = 20.979 → 20.98 (per rate).
    # Per line 6.993 → 6.99 three times is 20.97: the missing cent goes to the first line (equal remainders).
    totals = compute_totals([TaxLine(M("0.333"), M("100.00"))] * 3, InvoiceLetter.B)
    check_invariants(totals)
    assert [line.net for line in totals.lines] == [M("33.30")] * 3
    assert [line.iva for line in totals.lines] == list(money("7.00", "6.99", "6.99"))
    assert (totals.imp_neto, totals.imp_iva, totals.imp_total) == money("99.90", "20.98", "120.88")


def test_per_rate_iva_differs_from_summing_rounded_lines_upwards() -> None:
    # Ten lines of 0.10 at 10.5 %: each 0.0105 → 0.01 (sum 0.10); per rate 1.00 × 10.5 % = 0.105 → 0.11.
    totals = compute_totals([TaxLine(M("1"), M("0.10"), iva_rate=M("10.5"))] * 10, "A")
    check_invariants(totals)
    assert totals.imp_iva == M("0.11")
    assert [line.iva for line in totals.lines] == [M("0.02")] + [M("0.01")] * 9
    assert totals.vat[0].alic_id is AlicIva.IVA_10_5


def test_per_rate_iva_differs_from_summing_rounded_lines_downwards() -> None:
    # Three lines of 0.02 at 27 %: each 0.0054 → 0.01 (sum 0.03); per rate 0.06 × 27 % = 0.0162 → 0.02.
    totals = compute_totals([TaxLine(M("1"), M("0.02"), iva_rate=M("27"))] * 3, "B")
    check_invariants(totals)
    assert totals.imp_iva == M("0.02")
    assert [line.iva for line in totals.lines] == list(money("0.00", "0.01", "0.01"))


def test_the_line_with_the_largest_remainder_gets_the_cent() -> None:
    # 21 %: 0.07 → 0.0147 (→0.01, remainder +.0047); 0.12 → 0.0252 (→0.03, remainder −.0048);
    # 0.03 → 0.0063 (→0.01, −.0037). Sum of rounded 0.05; per rate 0.22 × 21 % = 0.0462 → 0.05: no change.
    # 0.07 twice + 0.03: 0.17 × 21 % = 0.0357 → 0.04; lines 0.01 + 0.01 + 0.01 = 0.03: +1 cent to a 0.07 line
    # (remainder .0047 beats the 0.03 line's −.0037), the first of the two.
    totals = compute_totals([TaxLine(M("1"), M("0.03")), TaxLine(M("1"), M("0.07")), TaxLine(M("1"), M("0.07"))], "A")
    check_invariants(totals)
    assert [line.iva for line in totals.lines] == list(money("0.01", "0.02", "0.01"))


def mixed_lines() -> list[TaxLine]:
    return [
        TaxLine(M("2"), M("1500.00"), discount=M("100")),  # 2900.00 at 21 %
        TaxLine(M("1.5"), M("333.33"), iva_rate=M("10.5")),  # 499.995 → 500.00 at 10.5 %
        TaxLine(M("0.333"), M("99.99")),  # 33.29667 → 33.30 at 21 %
        TaxLine(M("1"), M("250"), iva_rate=M("0")),  # taxed at 0 %: AlicIva 3, in ImpNeto
        TaxLine(M("1"), M("100"), treatment=TaxTreatment.EXENTO),  # ImpOpEx
        TaxLine(M("1"), M("50"), iva_rate=M("0"), treatment=TaxTreatment.NO_GRAVADO),  # ImpTotConc
    ]


@pytest.mark.parametrize("letter", ["A", "B"])
def test_mixed_rates_zero_rate_exempt_and_not_taxed(letter: str) -> None:
    totals = compute_totals(mixed_lines(), letter)
    check_invariants(totals)
    assert [(v.alic_id, v.base, v.amount) for v in totals.vat] == [
        (AlicIva.IVA_0, M("250.00"), M("0.00")),
        (AlicIva.IVA_10_5, M("500.00"), M("52.50")),
        (AlicIva.IVA_21, M("2933.30"), M("615.99")),  # 2933.30 × 0.21 = 615.993
    ]
    assert totals.imp_neto == M("3683.30")
    assert totals.imp_iva == M("668.49")
    assert totals.imp_op_ex == M("100.00")
    assert totals.imp_tot_conc == M("50.00")
    assert totals.imp_total == M("4501.79")
    assert [line.iva for line in totals.lines] == list(money("609.00", "52.50", "6.99", "0.00", "0.00", "0.00"))


def test_letter_c_has_no_iva_and_the_whole_amount_is_net() -> None:
    totals = compute_totals(mixed_lines(), "C")
    check_invariants(totals)
    assert totals.vat == ()
    assert totals.imp_iva == totals.imp_op_ex == totals.imp_tot_conc == M("0.00")
    assert totals.imp_neto == totals.imp_total == M("3833.30")  # 2900 + 500 + 33.30 + 250 + 100 + 50
    assert [line.total for line in totals.lines] == [line.net for line in totals.lines]


def test_zero_rate_is_taxed_not_exempt() -> None:
    zero = compute_totals([TaxLine(M("1"), M("80"), iva_rate=M("0"))], "A")
    exempt = compute_totals([TaxLine(M("1"), M("80"), treatment=TaxTreatment.EXENTO)], "A")
    untaxed = compute_totals([TaxLine(M("1"), M("80"), treatment="no_gravado")], "A")  # type: ignore[arg-type]
    assert (zero.imp_neto, zero.imp_op_ex, zero.imp_tot_conc) == money("80.00", "0.00", "0.00")
    assert [v.alic_id for v in zero.vat] == [3]
    assert (exempt.imp_neto, exempt.imp_op_ex, exempt.vat) == (M("0.00"), M("80.00"), ())
    assert (untaxed.imp_neto, untaxed.imp_tot_conc, untaxed.vat) == (M("0.00"), M("80.00"), ())
    for totals in (zero, exempt, untaxed):
        check_invariants(totals)
        assert totals.imp_total == M("80.00")


def test_a_fully_discounted_line_is_not_an_iva_entry() -> None:
    totals = compute_totals(
        [TaxLine(M("1"), M("100"), discount=M("100")), TaxLine(M("1"), M("10"), iva_rate=M("10.5"))], "A"
    )
    check_invariants(totals)
    assert [v.alic_id for v in totals.vat] == [AlicIva.IVA_10_5]
    assert totals.lines[0].total == M("0.00")


def test_no_lines_is_all_zero() -> None:
    totals = compute_totals([], "B")
    check_invariants(totals)
    assert totals.imp_total == M("0.00") and totals.vat == () and totals.lines == ()


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (TaxLine(M("0"), M("10")), "quantity", "mayor que cero"),
        (TaxLine(M("-1"), M("10")), "quantity", "mayor que cero"),
        (TaxLine(M("0.0001"), M("10")), "quantity", "3 decimales"),
        (TaxLine(M("1"), M("-10")), "unitPrice", "negativo"),
        (TaxLine(M("1"), M("10"), discount=M("-1")), "discount", "negativo"),
        (TaxLine(M("2"), M("10"), discount=M("20.01")), "discount", "mayor que el importe"),
        (TaxLine(M("1"), M("10"), iva_rate=M("19")), "ivaRate", "19"),
        (TaxLine(M("1"), M("NaN")), "unitPrice", "no es un número"),
        (TaxLine(M("Infinity"), M("1")), "quantity", "no es un número"),
    ],
)
@pytest.mark.parametrize("letter", ["A", "C"])
def test_invalid_lines_are_refused_naming_the_line(line: TaxLine, field: str, words: str, letter: str) -> None:
    with pytest.raises(InvalidLine) as info:
        compute_totals([TaxLine(M("1"), M("5")), line], letter)
    assert isinstance(info.value, InvoiceRuleError)
    assert info.value.code == "invoice.line_invalid"
    assert info.value.details["line"] == 1 and info.value.details["field"] == field
    assert str(info.value).startswith("Línea 2: ")
    assert words in str(info.value)


def test_exempt_lines_do_not_need_an_afip_rate() -> None:
    totals = compute_totals([TaxLine(M("1"), M("10"), iva_rate=M("19"), treatment=TaxTreatment.EXENTO)], "B")
    assert totals.imp_op_ex == M("10.00")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        compute_totals([TaxLine(1.5, M("10"))], "A")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compute_totals([TaxLine(M("1"), M("10"), iva_rate=21.0)], "A")  # type: ignore[arg-type]


def test_unknown_letter() -> None:
    with pytest.raises(ValueError):
        compute_totals([TaxLine(M("1"), M("10"))], "M")


RATES = [M("0"), M("2.5"), M("5"), M("10.5"), M("21"), M("27")]


def random_line(rng: random.Random) -> TaxLine:
    quantity = M(rng.choice([1, 2, 3, 7, rng.randint(1, 100_000)])) / M(rng.choice([1, 3, 7, 1000]))
    quantity = max(quantity.quantize(M("0.001")), M("0.001"))
    unit_price = M(rng.randint(1, 10_000_000)) / 100
    gross = quantity * unit_price
    discount = M(0) if rng.random() < 0.6 else to_money(gross * M(rng.randint(0, 100)) / 100).min(gross)
    discount = discount if discount <= gross else M(0)
    treatment = rng.choices(list(TaxTreatment), weights=[8, 1, 1])[0]
    return TaxLine(quantity, unit_price, discount, rng.choice(RATES), treatment)


def test_random_invoices_keep_afip_invariants() -> None:
    rng = random.Random(20261125)
    for _ in range(1500):
        lines = [random_line(rng) for _ in range(rng.randint(1, 40))]
        for letter in ("A", "B", "C"):
            totals = compute_totals(lines, letter)
            check_invariants(totals)
            for line, figures in zip(lines, totals.lines, strict=True):
                # the line's net is the price book's figure; its IVA at most a cent from its own exact share
                assert figures.net == line_totals(line.quantity, line.unit_price, line.discount, line.iva_rate).net
                if letter == "C" or line.treatment is not TaxTreatment.GRAVADO:
                    assert figures.iva == 0
                else:
                    assert abs(figures.iva - figures.net * line.iva_rate / 100) < M("0.015")
            if letter == "C":
                assert totals.vat == () and totals.imp_total == totals.imp_neto
                continue
            rates = {line.iva_rate for line in lines if line.treatment is TaxTreatment.GRAVADO}
            assert {v.rate for v in totals.vat} <= rates
            for vat in totals.vat:
                members = [
                    f
                    for line, f in zip(lines, totals.lines, strict=True)
                    if line.treatment is TaxTreatment.GRAVADO and line.iva_rate == vat.rate
                ]
                assert vat.base == sum((f.net for f in members), M(0))
                assert vat.amount == to_money(vat.base * vat.rate / 100)
                assert sum((f.iva for f in members), M(0)) == vat.amount
            assert totals.imp_op_ex == sum(
                (f.net for line, f in zip(lines, totals.lines, strict=True) if line.treatment is TaxTreatment.EXENTO),
                M(0),
            )
