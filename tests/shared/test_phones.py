from __future__ import annotations

import pytest

from shared.phones import InvalidPhone, PhoneProblem, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["011 15-5555-0001", "+54 9 11 5555-0001", "11 5555 0001", "+541155550001", "(011) 15 5555 0001", "1155550001"],
)
def test_argentine_mobile_forms_become_one_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+5491155550001"


def test_provincial_mobile_with_15() -> None:
    assert normalize_phone("0351 15 551-2345") == "+5493515512345"


def test_foreign_numbers_kept() -> None:
    assert normalize_phone("+1 202 555 0101") == "+12025550101"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("", PhoneProblem.EMPTY), ("hola", PhoneProblem.NOT_A_NUMBER), ("123", PhoneProblem.INVALID)],
)
def test_bad_phones_name_the_problem(raw: str, problem: PhoneProblem) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(raw)
    assert caught.value.problem is problem


def test_mask_never_shows_the_whole_number() -> None:
    masked = mask_phone("+5491155550001")
    assert masked.startswith("+54911") and masked.endswith("001")
    assert "5555" not in masked
