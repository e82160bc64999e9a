"""Redaction of secrets and personal numbers before anything is logged.

Keys that name a secret (token, otp, code, password, key, secret, authorization, cookie) lose their
value. In any string, JWTs and bearer tokens are removed, CUITs keep only their first two and last
digit (``20-*******-3``) and phone numbers only their last three digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

SECRET_KEY_PATTERN = re.compile(
    r"(token|otp|^code$|_code$|password|passwd|secret|api[_-]?key|private[_-]?key|^key$|_key$|"
    r"authorization|cookie|signature|certificate)",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_CUIT = re.compile(r"\b(20|23|24|25|26|27|30|33|34)-?(\d{8})-?(\d)\b")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{7,}\d(?![\w])")


def _mask_phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 8:
        return raw
    return "+" * raw.startswith("+") + "*" * (len(digits) - 3) + digits[-3:]


def redact_text(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _CUIT.sub(lambda m: f"{m.group(1)}-********-{m.group(3)}", text)
    return _PHONE.sub(_mask_phone, text)


def redact(value: Any, key: str | None = None, _depth: int = 0) -> Any:
    """A copy of ``value`` safe to log."""
    if key is not None and SECRET_KEY_PATTERN.search(key) and value not in (None, "", [], {}):
        return REDACTED
    if _depth > 8:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, None, _depth + 1) for v in value]
    return value
