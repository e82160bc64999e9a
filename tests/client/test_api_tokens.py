"""The API client against the real app (sign-in by OTP, silent refresh once, the server's codes and Spanish
messages), the token file (0600, atomic, damaged = signed out) and the app-data folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from client import paths
from client.api import ApiClient, ApiError, AuthExpired
from client.tokens import FileTokenStore, MemoryTokenStore, StoredTokens
from server.runtime import Resources
from tests.client.test_sync_server import Network
from tests.server.auth.conftest import Session, clear_cooldown, fixture_owner, sandbox_code

__all__ = ["fixture_owner"]


async def _signed_in(app: Litestar, resources: Resources, owner: Session, tokens: MemoryTokenStore) -> ApiClient:
    api = ApiClient("http://testserver", tokens, transport=Network(app))
    await clear_cooldown(resources, owner.phone)
    sent = await api.request_otp(owner.phone)
    assert sent.status == "code_sent"
    session = await api.verify_otp(owner.phone, await sandbox_code(resources, owner.phone), "Escritorio")
    assert session.role == "owner" and session.user_id == owner.user_id and session.org_id == owner.org_id
    assert session.full_name == "Ana"
    return api


async def test_sign_in_refresh_once_and_expiry(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    del client  # the app is running
    tokens = MemoryTokenStore()
    api = await _signed_in(app, resources, owner, tokens)
    assert (await api.me()).user_id == owner.user_id
    assert await api.ping() is True

    # the access token is no longer accepted: one silent refresh, and the call succeeds
    stored = tokens.load()
    assert stored is not None
    tokens.save(StoredTokens(**{**_fields(stored), "access_token": "x" * 40}))
    assert len(await api.sessions()) >= 1
    renewed = tokens.load()
    assert renewed is not None and renewed.access_token != "x" * 40 and renewed.refresh_token != stored.refresh_token
    assert renewed.role == "owner"  # who is signed in is kept across the refresh

    # neither token works: AuthExpired (sign in again), and the device forgets them
    tokens.save(StoredTokens(**{**_fields(renewed), "access_token": "x" * 40, "refresh_token": "y" * 40}))
    with pytest.raises(AuthExpired) as expired:
        await api.sessions()
    assert expired.value.message.startswith("La sesión")
    assert tokens.load() is None
    await api.aclose()


async def test_refusals_carry_the_servers_code_and_spanish_message(
    app: Litestar, client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    del client
    api = ApiClient("http://testserver", MemoryTokenStore(), transport=Network(app))
    with pytest.raises(ApiError) as bad_code:
        await api.verify_otp(owner.phone, "000000", "Tel")
    assert 400 <= bad_code.value.status < 500
    assert bad_code.value.code and bad_code.value.message and "traceId" not in bad_code.value.message
    with pytest.raises(AuthExpired):  # signed out: nothing to send
        await api.pull(None)
    await api.aclose()


def _fields(tokens: StoredTokens) -> dict[str, object]:
    return {f: getattr(tokens, f) for f in tokens.__struct_fields__}


def test_token_file_is_private_atomic_and_tolerant(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "app" / "session.json")
    assert store.load() is None
    tokens = StoredTokens(access_token="acc-" + "a" * 30, refresh_token="ref-" + "b" * 30, user_id="u1", role="owner")
    store.save(tokens)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.load() == tokens
    assert "acc-" not in repr(tokens) and "ref-" not in str(tokens)  # never in logs or tracebacks
    assert [p.name for p in store.path.parent.iterdir()] == ["session.json"]  # no leftover temp files
    store.path.write_text("{damaged")
    assert store.load() is None  # a damaged file is a signed-out device, not a crash
    store.clear()
    store.clear()
    assert store.load() is None


def test_app_data_dir_from_flet_env_or_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.OVERRIDE_VAR, raising=False)
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "flet-data"))
    assert paths.app_data_dir() == tmp_path / "flet-data" and (tmp_path / "flet-data").is_dir()
    paths.set_app_data_dir(tmp_path / "mine")
    try:
        assert paths.app_data_dir() == tmp_path / "mine"
    finally:
        paths.set_app_data_dir(None)
    monkeypatch.delenv(paths.ENV_VAR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.app_data_dir() == tmp_path / "xdg" / "campotech"
