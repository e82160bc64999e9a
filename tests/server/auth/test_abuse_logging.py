"""Abuse is answered with catalogue codes and logged without the secrets it carried."""

from __future__ import annotations

import io
import logging

import httpx

from server.runtime import Resources
from tests.server.auth.conftest import Session, clear_cooldown, sandbox_code


async def test_failed_attempts_leave_no_secret_in_the_logs(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    stream = io.StringIO()
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_campotech", False))
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        await clear_cooldown(resources, owner.phone)
        await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
        code = await sandbox_code(resources, owner.phone)
        wrong = "999999" if code != "999999" else "888888"
        bad = await client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": wrong})
        assert bad.json()["code"] == "otp_invalid"
        first = await client.post("/api/v1/auth/refresh", json={"refreshToken": owner.refresh})
        replay = await client.post("/api/v1/auth/refresh", json={"refreshToken": owner.refresh})
        assert first.status_code == 200 and replay.json()["code"] == "refresh_token_reused"
        forged = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {owner.access}x"})
        assert forged.json()["code"] == "token_invalid"
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logging.getLogger().setLevel(root_level)
    logs = stream.getvalue()
    assert "login code sent" in logs and "refresh token reused" in logs  # it was logged…
    for secret in (owner.refresh, owner.access, owner.phone, owner.phone[3:]):
        assert secret not in logs  # …without the secrets
    for digits in (code, wrong):  # six digits could match a timestamp's microseconds: look for values
        assert f'"{digits}"' not in logs and f"={digits}" not in logs and f": {digits}" not in logs
