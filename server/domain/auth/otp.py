"""One-time codes: 6 digits, stored only as a keyed hash in Redis, valid 5 minutes, 5 tries per code.

Fixed codes for test phones (``CAMPOTECH_TEST_OTP="+5491155550001:123456,…"``), as hosted auth
providers offer, are honoured outside production only (settings refuse them in production).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from enum import StrEnum
from typing import Any

import msgspec
from redis.asyncio import Redis

from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.phones import InvalidPhone, normalize_phone

CODE_TTL_SECONDS = 300
MAX_ATTEMPTS = 5
RESEND_COOLDOWN_SECONDS = 60


class OtpPurpose(StrEnum):
    LOGIN = "login"
    SIGNUP = "signup"


class OtpRecord(msgspec.Struct):
    code_hash: str
    purpose: OtpPurpose
    attempts: int = 0
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    issued_at: float = 0.0


def parse_test_otp(spec: str | None) -> dict[str, str]:
    """``"+5491155550001:123456,+5491155550002:654321"`` → {E.164 phone: code}."""
    out: dict[str, str] = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        phone, sep, code = item.rpartition(":")
        if not sep or not code.isdigit() or len(code) != 6:
            raise ValueError(f"CAMPOTECH_TEST_OTP entry {item!r} must be PHONE:6-DIGIT-CODE")
        out[normalize_phone(phone)] = code
    return out


def _key(phone: str) -> str:
    return f"otp:{phone}"


def _cooldown_key(phone: str) -> str:
    return f"otp:cooldown:{phone}"


class OtpStore:
    def __init__(self, redis: Redis, secret: str, test_codes: dict[str, str] | None = None) -> None:
        self.redis = redis
        self.secret = secret.encode()
        self.test_codes = test_codes or {}

    def _hash(self, phone: str, code: str) -> str:
        return hmac.new(self.secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, phone: str, purpose: OtpPurpose, payload: dict[str, Any] | None = None) -> str:
        """A new code for ``phone`` (replacing any previous one). Refused during the resend cooldown."""
        cooling = await self.redis.set(_cooldown_key(phone), b"1", ex=RESEND_COOLDOWN_SECONDS, nx=True)
        if not cooling:
            ttl = await self.redis.ttl(_cooldown_key(phone))
            raise AppError(
                ErrorCode.OTP_RESEND_TOO_SOON,
                headers={"Retry-After": str(max(int(ttl), 1))},
                details={"retryAfterSeconds": max(int(ttl), 1)},
            )
        code = self.test_codes.get(phone) or f"{secrets.randbelow(10**6):06d}"
        record = OtpRecord(
            code_hash=self._hash(phone, code), purpose=purpose, payload=payload or {}, issued_at=time.time()
        )
        await self.redis.set(_key(phone), msgspec.json.encode(record), ex=CODE_TTL_SECONDS)
        return code

    async def verify(self, phone: str, code: str) -> OtpRecord:
        """The record when ``code`` matches (and it is spent); otherwise a 4xx naming what went wrong."""
        raw = await self.redis.get(_key(phone))
        if raw is None:
            raise AppError(ErrorCode.OTP_EXPIRED)
        record = msgspec.json.decode(raw, type=OtpRecord)
        if record.attempts >= MAX_ATTEMPTS:
            raise AppError(ErrorCode.OTP_TOO_MANY_ATTEMPTS)
        if not hmac.compare_digest(record.code_hash, self._hash(phone, code.strip())):
            record.attempts += 1
            ttl = await self.redis.ttl(_key(phone))
            if ttl > 0:
                await self.redis.set(_key(phone), msgspec.json.encode(record), ex=ttl)
            remaining = MAX_ATTEMPTS - record.attempts
            if remaining <= 0:
                raise AppError(ErrorCode.OTP_TOO_MANY_ATTEMPTS)
            raise AppError(ErrorCode.OTP_INVALID, details={"attemptsLeft": remaining})
        # spent: delete only if still the same record (a concurrent verify cannot use it twice)
        deleted = await self.redis.delete(_key(phone))
        if not deleted:
            raise AppError(ErrorCode.OTP_EXPIRED)
        return record


def normalize_login_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise AppError(
            ErrorCode.PHONE_INVALID, str(exc), details=[{"key": "phone", "problem": exc.problem.value}]
        ) from None
