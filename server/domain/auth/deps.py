"""Wiring of the auth service (one per app, built lazily from the app's resources)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from server.domain.auth.otp import OtpStore, parse_test_otp
from server.domain.auth.senders import OtpSender, SandboxOtpSender, WhatsAppOtpSender
from server.domain.auth.services import AuthService
from server.integrations.whatsapp.client import WhatsAppClient
from server.lib.context import resources_of
from server.lib.ratelimit import RateLimiter
from server.runtime import Resources
from server.settings import Settings


def build_otp_sender(settings: Settings, resources: Resources, *, echo_codes: bool = False) -> OtpSender:
    """The sender ``CAMPOTECH_OTP_DELIVERY`` names (settings validation guarantees what it needs)."""
    if settings.otp_delivery == "whatsapp":
        if not settings.whatsapp_phone_number_id or not settings.whatsapp_access_token:
            raise RuntimeError("CAMPOTECH_OTP_DELIVERY=whatsapp needs a phone number id and an access token")
        client = WhatsAppClient(
            settings.whatsapp_api_base,
            settings.whatsapp_api_version,
            settings.whatsapp_phone_number_id,
            settings.whatsapp_access_token,
        )
        return WhatsAppOtpSender(client, settings.whatsapp_otp_template, settings.whatsapp_otp_language)
    return SandboxOtpSender(resources.redis, echo_to_console=echo_codes)


def build_auth_service(resources: Resources, *, echo_codes: bool = False) -> AuthService:
    settings = resources.settings
    if not settings.secret_key:
        raise RuntimeError("CAMPOTECH_SECRET_KEY is not set")
    test_codes = {} if settings.is_production else parse_test_otp(settings.test_otp)
    return AuthService(
        resources=resources,
        otp=OtpStore(resources.redis, settings.secret_key, test_codes),
        sender=build_otp_sender(settings, resources, echo_codes=echo_codes),
        limiter=RateLimiter(resources.redis, f"{settings.queue_prefix}:rl"),
    )


async def provide_auth_service(request: Request[Any, Any, Any]) -> AuthService:
    resources = resources_of(request)
    service = resources.extras.get("auth_service")
    if service is None:
        echo = bool(request.app.state.get("echo_otp_codes", False))
        service = resources.extras["auth_service"] = build_auth_service(resources, echo_codes=echo)
    return service  # type: ignore[no-any-return]
