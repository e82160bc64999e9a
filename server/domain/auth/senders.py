"""Delivery of one-time codes through a pluggable sender.

Production: ``WhatsAppOtpSender``, an approved WhatsApp *authentication* template (code in the body
and in the copy-code button) through the Cloud API. Development and tests: the sandbox sender, which
keeps the last code per phone in Redis (read by tests and by the dev console) and prints it on the
`campotech dev` console. ``CAMPOTECH_OTP_DELIVERY`` chooses (``server/domain/auth/deps.py``).
"""

from __future__ import annotations

import sys
from typing import Protocol

from redis.asyncio import Redis

from server.integrations.whatsapp.client import WhatsAppClient, WhatsAppError
from server.lib.errors import AppError
from server.lib.logging import get_logger
from shared.errors import ErrorCode
from shared.phones import mask_phone

SANDBOX_TTL_SECONDS = 600
DELIVERY_RETRY_AFTER_SECONDS = 60  # the resend cooldown of a code (server/domain/auth/otp.py)
DELIVERY_FAILED_MESSAGE = "No pudimos enviarte el código por WhatsApp. Probá de nuevo en un minuto."

log = get_logger("campotech.auth.otp")


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


class WhatsAppOtpSender:
    """Production delivery: the authentication template, code as body parameter and copy-code button.

    A failed delivery answers 503 ``service_unavailable`` (Retry-After: the resend cooldown) instead of
    pretending a code was sent; the Meta error code is logged (permanent ones at error level: usually
    configuration). Neither the code nor the token is logged.
    """

    def __init__(self, client: WhatsAppClient, template_name: str, language: str) -> None:
        self.client = client
        self.template_name = template_name
        self.language = language

    async def send(self, phone: str, code: str, purpose: str) -> None:
        # one template for login and sign-up: authentication templates carry only the code
        try:
            await self.client.send_template(phone, self.template_name, self.language, [code], button_params=[code])
        except WhatsAppError as exc:
            report = log.warning if exc.transient else log.error
            report(
                "otp delivery by whatsapp failed",
                purpose=purpose,
                phone=mask_phone(phone),
                transient=exc.transient,
                status=exc.status,
                meta_error=exc.meta_code,
            )
            raise AppError(
                ErrorCode.SERVICE_UNAVAILABLE,
                DELIVERY_FAILED_MESSAGE,
                headers={"Retry-After": str(DELIVERY_RETRY_AFTER_SECONDS)},
                details={"retryAfterSeconds": DELIVERY_RETRY_AFTER_SECONDS},
            ) from None
