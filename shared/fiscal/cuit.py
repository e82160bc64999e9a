"""CUIT / CUIL and DNI rules (AFIP mod-11 check digit)."""

from __future__ import annotations

import re
from enum import StrEnum

WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
PERSON_PREFIXES = frozenset({"20", "23", "24", "25", "26", "27"})
COMPANY_PREFIXES = frozenset({"30", "33", "34"})
VALID_PREFIXES = PERSON_PREFIXES | COMPANY_PREFIXES


class CuitProblem(StrEnum):
    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    LENGTH = "length"
    PREFIX = "prefix"
    CHECK_DIGIT = "check_digit"


CUIT_PROBLEM_MESSAGES = {
    CuitProblem.EMPTY: "Falta el CUIT.",
    CuitProblem.NOT_DIGITS: "El CUIT sólo puede tener números (y guiones).",
    CuitProblem.LENGTH: "El CUIT debe tener 11 dígitos.",
    CuitProblem.PREFIX: "El CUIT debe empezar con 20, 23, 24, 25, 26, 27, 30, 33 o 34.",
    CuitProblem.CHECK_DIGIT: "El dígito verificador del CUIT no coincide: revisá el número.",
}


class InvalidCuit(ValueError):
    def __init__(self, problem: CuitProblem) -> None:
        self.problem = problem
        super().__init__(CUIT_PROBLEM_MESSAGES[problem])


def check_digit(first_ten: str) -> int | None:
    """The mod-11 check digit of the first ten digits; None when the result is 10 (no valid CUIT)."""
    total = sum(int(d) * w for d, w in zip(first_ten, WEIGHTS, strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def normalize_cuit(raw: str) -> str:
    """Eleven digits without separators, or ``InvalidCuit`` naming the problem."""
    text = (raw or "").strip()
    if not text:
        raise InvalidCuit(CuitProblem.EMPTY)
    compact = re.sub(r"[\s.\-/]", "", text)
    if not compact.isdigit():
        raise InvalidCuit(CuitProblem.NOT_DIGITS)
    if len(compact) != 11:
        raise InvalidCuit(CuitProblem.LENGTH)
    if compact[:2] not in VALID_PREFIXES:
        raise InvalidCuit(CuitProblem.PREFIX)
    if check_digit(compact[:10]) != int(compact[10]):
        raise InvalidCuit(CuitProblem.CHECK_DIGIT)
    return compact


def is_valid_cuit(raw: str) -> bool:
    try:
        normalize_cuit(raw)
    except InvalidCuit:
        return False
    return True


def format_cuit(cuit: str) -> str:
    """``20123456786`` → ``20-12345678-6``."""
    c = normalize_cuit(cuit)
    return f"{c[:2]}-{c[2:10]}-{c[10]}"


def is_company(cuit: str) -> bool:
    return normalize_cuit(cuit)[:2] in COMPANY_PREFIXES


def make_cuit(prefix: str, dni: str) -> str:
    """The CUIT/CUIL for a prefix and an 8-digit number (used by seeds and tests)."""
    body = f"{prefix}{int(dni):08d}"
    digit = check_digit(body)
    if digit is None:
        raise InvalidCuit(CuitProblem.CHECK_DIGIT)
    return body + str(digit)


def normalize_dni(raw: str) -> str:
    """A DNI: 7 or 8 digits (dots allowed), without leading zeros."""
    compact = re.sub(r"[\s.]", "", raw or "")
    if not compact.isdigit() or not 7 <= len(compact.lstrip("0")) <= 8:
        raise ValueError("El DNI debe tener 7 u 8 dígitos.")
    return str(int(compact))
