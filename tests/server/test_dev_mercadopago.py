"""The Mercado Pago sandbox as `campotech dev` runs it (in-process, no database): the dev application's
credentials are made once, a connected seller's token keeps working after a restart (and even after a run
that was killed, not stopped), `--reset` forgets it, and settings of the person's own keep the sandbox off."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from server.dev import (
    AFIP_SAVE_SECONDS,
    MERCADOPAGO_MEMORY_FILE,
    SECRETS_FILE,
    DevSecrets,
    ShutdownSignals,
    load_dev_secrets,
    mercadopago_from_environment,
    mercadopago_sandbox,
    reset_embedded_data,
)

REDIRECT = "http://127.0.0.1:8000/api/v1/payments/mercadopago/callback"


def connect_seller(url: str, secrets: DevSecrets) -> tuple[str, int]:
    """What the API does when the owner connects: consent (302 with a code), then the code for tokens."""
    consent = httpx.get(
        f"{url}/authorization",
        params={"client_id": secrets.mercadopago_client_id, "response_type": "code", "redirect_uri": REDIRECT},
        follow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302
    code = httpx.URL(consent.headers["location"]).params["code"]
    tokens = httpx.post(
        f"{url}/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": secrets.mercadopago_client_id,
            "client_secret": secrets.mercadopago_client_secret,
        },
        timeout=5,
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["access_token"], tokens.json()["user_id"]


def saved_memory(data_dir: Path) -> str:
    path = data_dir / MERCADOPAGO_MEMORY_FILE
    return path.read_text() if path.exists() else ""


def create_preference(url: str, access_token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/checkout/preferences",
        headers={"Authorization": f"Bearer {access_token}"},
        json={"items": [{"title": "Service", "quantity": 1, "unit_price": 1000, "currency_id": "ARS"}]},
        timeout=5,
    )


def test_an_older_secrets_file_keeps_its_values_and_gains_mercadopago_credentials(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILE).write_text(json.dumps({"secret_key": "s" * 48, "admin_token": "my-saved-admin-token"}))
    upgraded = load_dev_secrets(tmp_path)
    assert (upgraded.secret_key, upgraded.admin_token) == ("s" * 48, "my-saved-admin-token")
    assert upgraded.mercadopago_client_id.isdigit() and len(upgraded.mercadopago_webhook_secret) >= 32
    assert load_dev_secrets(tmp_path) == upgraded
    assert (tmp_path / SECRETS_FILE).stat().st_mode & 0o777 == 0o600


def test_own_mercadopago_settings_keep_the_sandbox_off() -> None:
    assert mercadopago_from_environment({}) == []
    assert mercadopago_from_environment({"CAMPOTECH_MERCADOPAGO_TIMEOUT_SECONDS": "20"}) == []
    assert mercadopago_from_environment(
        {"CAMPOTECH_MERCADOPAGO_CLIENT_ID": "123", "CAMPOTECH_MERCADOPAGO_API_BASE": ""}
    ) == ["CAMPOTECH_MERCADOPAGO_CLIENT_ID"]


def test_a_connected_seller_survives_restarts_until_reset(tmp_path: Path) -> None:
    secrets = load_dev_secrets(tmp_path)
    with ShutdownSignals() as signals, mercadopago_sandbox(tmp_path, secrets, signals) as first:
        url, port = first.url, first.port
        assert port < 32768
        token, seller = connect_seller(url, secrets)
        assert create_preference(url, token).status_code == 201
        # a run that is killed loses little: what changed is on disk within a couple of seconds
        deadline = time.monotonic() + AFIP_SAVE_SECONDS * 3
        while token not in saved_memory(tmp_path):
            assert time.monotonic() < deadline, "the sandbox's memory was not saved while running"
            time.sleep(0.1)
    assert (tmp_path / MERCADOPAGO_MEMORY_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/payments/search", timeout=2)

    with ShutdownSignals() as signals, mercadopago_sandbox(tmp_path, secrets, signals) as second:
        assert (second.url, second.port) == (url, port)
        assert create_preference(url, token).status_code == 201, "the seller's token was forgotten"
        assert second.sandbox.dump()["tokens"][token] == seller

    reset_embedded_data(tmp_path)
    with ShutdownSignals() as signals, mercadopago_sandbox(tmp_path, secrets, signals) as third:
        assert create_preference(third.url, token).status_code == 401
        again, _ = connect_seller(third.url, secrets)
        assert create_preference(third.url, again).status_code == 201
