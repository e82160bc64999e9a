from __future__ import annotations

import io
import json
import logging

from server.lib.logging import configure_logging, get_logger
from server.lib.redaction import REDACTED, redact, redact_text


def test_secret_keys_lose_their_values() -> None:
    data = {
        "accessToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk",
        "refresh_token": "r-123",
        "otp": "123456",
        "code": "654321",
        "password": "hunter2",
        "afip_private_key": "-----BEGIN PRIVATE KEY-----",
        "nested": {"Authorization": "Bearer abc.def.ghi"},
        "name": "Juan",
    }
    out = redact(data)
    for key in ("accessToken", "refresh_token", "otp", "code", "password", "afip_private_key"):
        assert out[key] == REDACTED
    assert out["nested"]["Authorization"] == REDACTED
    assert out["name"] == "Juan"


def test_numbers_and_tokens_inside_text_are_masked() -> None:
    text = "login +5491155550001 cuit 20-12345678-6 token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk"
    out = redact_text(text)
    assert "5555" not in out and out.count("001") >= 1
    assert "12345678" not in out and "20-********-6" in out
    assert "eyJ" not in out
    assert redact_text("Bearer abcdefghijklmnop") == f"Bearer {REDACTED}"


def test_log_lines_are_json_and_redacted() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_campotech", False))
    handler.setStream(stream)  # type: ignore[attr-defined]
    get_logger("test").info("otp sent", phone="+5491155550001", otp="123456", cuit="30712345671")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "otp sent"
    assert line["otp"] == REDACTED
    assert "55550001" not in line["phone"]
    assert "71234567" not in line["cuit"]
