"""Mercado Pago settings: production refuses the sandbox and half a configuration; development accepts it."""

from __future__ import annotations

import pytest

from server.settings import SettingsError, load_settings
from tests.server.test_settings import LONG_SECRET, WHATSAPP

PRODUCTION = {"CAMPOTECH_ENV": "production", "CAMPOTECH_SECRET_KEY": LONG_SECRET, **WHATSAPP}
REAL_MP = {
    "CAMPOTECH_MERCADOPAGO_CLIENT_ID": "4829301847561234",
    "CAMPOTECH_MERCADOPAGO_CLIENT_SECRET": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    "CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "CAMPOTECH_PUBLIC_BASE_URL": "https://app.campotech.com.ar",
}


def test_production_accepts_a_real_configuration_or_none() -> None:
    settings = load_settings({**PRODUCTION, **REAL_MP})
    assert settings.mercadopago_api_base == "https://api.mercadopago.com"
    assert settings.mercadopago_webhook_secret == REAL_MP["CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET"]
    assert load_settings(PRODUCTION).mercadopago_client_id is None  # Mercado Pago off: manual payments only


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET": ""}, "CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET"),
        ({"CAMPOTECH_MERCADOPAGO_API_BASE": "http://127.0.0.1:20011"}, "CAMPOTECH_MERCADOPAGO_API_BASE"),
        ({"CAMPOTECH_MERCADOPAGO_AUTH_BASE": "http://auth.mercadopago.com"}, "CAMPOTECH_MERCADOPAGO_AUTH_BASE"),
        ({"CAMPOTECH_PUBLIC_BASE_URL": ""}, "CAMPOTECH_PUBLIC_BASE_URL"),
        (
            {
                "CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET": "sandbox-mercadopago-webhook-secret",
                "CAMPOTECH_MERCADOPAGO_CLIENT_ID": "sandbox-app",
            },
            "sandbox",
        ),
    ],
)
def test_production_refuses_the_sandbox_and_half_a_configuration(changes: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        load_settings({**PRODUCTION, **REAL_MP, **changes})


def test_development_accepts_the_local_sandbox_and_checks_urls() -> None:
    dev = load_settings(
        {
            "CAMPOTECH_MERCADOPAGO_API_BASE": "http://127.0.0.1:20011",
            "CAMPOTECH_MERCADOPAGO_CLIENT_ID": "1000000000000001",
            "CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS": "3",
        }
    )
    assert dev.mercadopago_timeout_seconds == 3
    with pytest.raises(SettingsError, match="CAMPOTECH_MERCADOPAGO_API_BASE"):
        load_settings({"CAMPOTECH_MERCADOPAGO_API_BASE": "api.mercadopago.com"})
    with pytest.raises(SettingsError, match="CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS"):
        load_settings({"CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS": "0"})
