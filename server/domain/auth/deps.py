"""Wiring of the auth service (one per app, built lazily from the app's resources)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from server.domain.auth.otp import OtpStore, parse_test_otp
from server.domain.auth.senders import SandboxOtpSender
from server.domain.auth.services import AuthService
from server.lib.context import resources_of
from server.lib.ratelimit import RateLimiter
from server.runtime import Resources


def build_auth_service(resources: Resources, *, echo_codes: bool = False) -> AuthService:
    settings = resources.settings
    if not settings.secret_key:
        raise RuntimeError("CAMPOTECH_SECRET_KEY is not set")
    test_codes = {} if settings.is_production else parse_test_otp(settings.test_otp)
    return AuthService(
        resources=resources,
        otp=OtpStore(resources.redis, settings.secret_key, test_codes),
        sender=SandboxOtpSender(resources.redis, echo_to_console=echo_codes),
        limiter=RateLimiter(resources.redis, f"{settings.queue_prefix}:rl"),
    )


async def provide_auth_service(request: Request[Any, Any, Any]) -> AuthService:
    resources = resources_of(request)
    service = resources.extras.get("auth_service")
    if service is None:
        echo = bool(request.app.state.get("echo_otp_codes", False))
        service = resources.extras["auth_service"] = build_auth_service(resources, echo_codes=echo)
    return service  # type: ignore[no-any-return]
