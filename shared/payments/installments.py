"""Financing costs of paying in cuotas: CFT and TEA, as Argentine rules require them shown.

Mercado Pago's own labels (``"CFT_120,42%|TEA_93,32%"``) win when present (``label_figures``); otherwise
``financing_costs`` computes them with the model of ``../shared/specs/mercadopago.md``:

- CFT = (1 + i)^12 − 1, where i is the monthly internal rate of return of ``n`` equal payments of
  ``total_amount / n`` (rounded to cents, as the buyer pays them) against ``amount``.
- TEA = (1 + r)^12 − 1, where r is the monthly rate of a French-amortisation loan of ``amount`` over
  ``n`` months on which 21% IVA is charged on each period's interest, such that the payments (instalment
  plus IVA on its interest) add up to ``total_amount``.

Both are percentages with two decimals (Decimal). With MP's published sample (3 cuotas, installment_rate
13.92%, i.e. 1000 → 1139.20) the model gives CFT 120.47% and TEA 93.36% against MP's 120,42% / 93,32%.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

IVA_ON_INTEREST = 0.21
_TWO = Decimal("0.01")
_LABEL = re.compile(r"(CFT|TEA)_\s*([0-9][0-9.]*,?[0-9]*)\s*%", re.IGNORECASE)


class FinancingError(ValueError):
    """The figures cannot describe a loan (no amount, no cuotas, or paying back less than lent)."""


def _solve(f, target: float, lo: float = 0.0, hi: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    """Bisection for an increasing ``f`` on [lo, hi]."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _percent(value: float) -> Decimal:
    return Decimal(repr(value * 100)).quantize(_TWO, rounding=ROUND_HALF_UP)


def financing_costs(amount: Decimal, installments: int, total_amount: Decimal) -> tuple[Decimal, Decimal]:
    """``(cft, tea)`` in percent, two decimals; ``(0.00, 0.00)`` without interest."""
    if installments < 1:
        raise FinancingError("installments must be at least 1")
    if amount <= 0:
        raise FinancingError("amount must be positive")
    if total_amount < amount:
        raise FinancingError("the total cannot be below the amount financed")
    if total_amount == amount:
        return Decimal("0.00"), Decimal("0.00")
    n = installments
    principal = float(amount)
    payment = float((Decimal(total_amount) / n).quantize(_TWO, rounding=ROUND_HALF_UP))

    # i: the rate that makes the payments' present value equal the amount (present value falls as i grows)
    monthly_irr = _solve(lambda i: -sum(payment / (1 + i) ** k for k in range(1, n + 1)), -principal)
    cft = (1 + monthly_irr) ** 12 - 1

    # r: French instalment A(r) = P·r / (1 − (1+r)^−n); interest over the loan = n·A − P, plus 21% IVA on it
    def paid_back(r: float) -> float:
        if r == 0:
            return principal
        instalment = principal * r / (1 - (1 + r) ** -n)
        return n * instalment + IVA_ON_INTEREST * (n * instalment - principal)

    monthly_rate = _solve(paid_back, float(total_amount))
    tea = (1 + monthly_rate) ** 12 - 1
    return _percent(cft), _percent(tea)


def label_figures(labels: list[str] | tuple[str, ...] | str | None) -> tuple[Decimal | None, Decimal | None]:
    """``(cft, tea)`` from Mercado Pago's labels, e.g. ``["CFT_120,42%|TEA_93,32%"]``; None when absent.

    Labels come as a list of strings (other labels such as ``recommended_installment`` are ignored);
    decimals are written with a comma, thousands (rare) with a dot.
    """
    if not labels:
        return None, None
    texts = [labels] if isinstance(labels, str) else [str(label) for label in labels]
    found: dict[str, Decimal] = {}
    for text in texts:
        for name, number in _LABEL.findall(text):
            normalised = number.replace(".", "").replace(",", ".") if "," in number else number
            try:
                found.setdefault(name.upper(), Decimal(normalised).quantize(_TWO))
            except ArithmeticError:
                continue
    return found.get("CFT"), found.get("TEA")
