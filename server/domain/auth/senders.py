"""Delivery of one-time codes through a pluggable sender.

Production: WhatsApp template or SMS (added with the WhatsApp integration). Development and tests:
the sandbox sender, which keeps the last code per phone in Redis (read by tests and by the dev
console) and prints it on the `campotech dev` console.
"""

from __future__ import annotations

import sys
from typing import Protocol

from redis.asyncio import Redis

from shared.phones import mask_phone

SANDBOX_TTL_SECONDS = 600


class OtpSender(Protocol):
    async def send(self, phone: str, code: str, purpose: str) -> None: ...


class SandboxOtpSender:
    """Development/test delivery: nothing leaves the machine."""

    def __init__(self, redis: Redis, echo_to_console: bool = False) -> None:
        self.redis = redis
        self.echo_to_console = echo_to_console

    async def send(self, phone: str, code: str, purpose: str) -> None:
        await self.redis.set(f"sandbox:otp:{phone}", code.encode(), ex=SANDBOX_TTL_SECONDS)
        if self.echo_to_console:
            # the one place a code is shown: the developer's own console, never the logs
            print(f"[sandbox] código {purpose} para {mask_phone(phone)}: {code}", file=sys.stderr, flush=True)

    async def last_code(self, phone: str) -> str | None:
        raw = await self.redis.get(f"sandbox:otp:{phone}")
        return raw.decode() if raw else None
