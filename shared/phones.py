"""Phone numbers normalised to E.164, with Argentina's mobile rules.

Accepts ``011 15-5555-0001``, ``+54 9 11 5555-0001``, ``11 5555 0001``, spaces and dashes. Argentine
mobiles are written with the ``9`` after the country code (``+54 9 11 …``), as WhatsApp and SMS need;
a number given without it is taken as that mobile when ``mobile=True`` and the result is valid.
"""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "AR"


class PhoneProblem(StrEnum):
    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    INVALID = "invalid"


PHONE_PROBLEM_MESSAGES = {
    PhoneProblem.EMPTY: "Falta el número de teléfono.",
    PhoneProblem.NOT_A_NUMBER: "Eso no parece un número de teléfono.",
    PhoneProblem.INVALID: "El número no es válido. Escribilo con característica, por ejemplo 11 5555-0001.",
}


class InvalidPhone(ValueError):
    def __init__(self, problem: PhoneProblem) -> None:
        self.problem = problem
        super().__init__(PHONE_PROBLEM_MESSAGES[problem])


def normalize_phone(raw: str, *, mobile: bool = True, region: str = DEFAULT_REGION) -> str:
    """E.164 (``+5491155550001``) or ``InvalidPhone`` naming the problem."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(PhoneProblem.EMPTY)
    if len(text) > 40:
        raise InvalidPhone(PhoneProblem.NOT_A_NUMBER)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise InvalidPhone(PhoneProblem.NOT_A_NUMBER) from None
    if mobile and number.country_code == 54 and not str(number.national_number).startswith("9"):
        as_mobile = phonenumbers.parse(f"+549{number.national_number}")
        if phonenumbers.is_valid_number(as_mobile) and phonenumbers.number_type(as_mobile) in (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            number = as_mobile
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(PhoneProblem.INVALID)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """For logs and screens that must not show the whole number: ``+54911*****001``."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 9) + e164[-3:]
