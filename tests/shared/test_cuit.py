from __future__ import annotations

import pytest

from shared.fiscal.cuit import (
    CuitProblem,
    InvalidCuit,
    check_digit,
    format_cuit,
    is_company,
    make_cuit,
    normalize_cuit,
    normalize_dni,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20-12345678-6", "20123456786"),
        ("20123456786", "20123456786"),
        (" 30-71234567-1 ", "30712345671"),
        ("27.12345678.1", None),  # check digit decides below
    ],
)
def test_normalize_accepts_separators(raw: str, expected: str | None) -> None:
    if expected is None:
        body = "2712345678"
        raw = f"27-12345678-{check_digit(body)}"
        expected = body + str(check_digit(body))
    assert normalize_cuit(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", CuitProblem.EMPTY),
        ("20-1234567A-6", CuitProblem.NOT_DIGITS),
        ("2012345678", CuitProblem.LENGTH),
        ("201234567861", CuitProblem.LENGTH),
        ("99123456786", CuitProblem.PREFIX),
        ("20123456787", CuitProblem.CHECK_DIGIT),
    ],
)
def test_invalid_cuits_name_their_problem(raw: str, problem: CuitProblem) -> None:
    with pytest.raises(InvalidCuit) as caught:
        normalize_cuit(raw)
    assert caught.value.problem is problem
    assert str(caught.value)  # a message a person can act on


def test_known_real_world_check_digits() -> None:
    # AFIP's own homologation CUIT and a textbook example
    assert normalize_cuit("20-17254359-7") == "20172543597"
    assert check_digit("3071234567") == 1


def test_check_digit_ten_has_no_valid_cuit() -> None:
    # find a body whose digit would be 10: no CUIT can end it
    body = next(f"20{n:08d}" for n in range(10_000) if check_digit(f"20{n:08d}") is None)
    assert all(not _valid(body + str(d)) for d in range(10))


def _valid(cuit: str) -> bool:
    try:
        normalize_cuit(cuit)
    except InvalidCuit:
        return False
    return True


def test_format_and_kind() -> None:
    cuit = make_cuit("30", "71234567")
    assert format_cuit(cuit) == f"30-71234567-{cuit[-1]}"
    assert is_company(cuit)
    assert not is_company(make_cuit("20", "12345678"))


@pytest.mark.parametrize(("raw", "expected"), [("12.345.678", "12345678"), ("1234567", "1234567")])
def test_dni(raw: str, expected: str) -> None:
    assert normalize_dni(raw) == expected


@pytest.mark.parametrize("raw", ["123456", "123456789", "12a45678", ""])
def test_bad_dni(raw: str) -> None:
    with pytest.raises(ValueError, match="DNI"):
        normalize_dni(raw)
