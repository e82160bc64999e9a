"""`campotech keys status | rotate <purpose> | rotate-master`, run as an operator would (owner DATABASE_URL)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import asyncpg
from click.testing import CliRunner, Result

from server.db.models.keys import KeyPurpose
from server.domain.keys.cli import keys_cli
from server.lib.keys import DEV_MASTER_KEY_FILE, KeyRing, LocalKeyProvider
from tests.server.keys.conftest import KeysDb


async def _invoke(args: list[str], env: dict[str, str | None]) -> Result:
    # the command runs its own event loop (asyncio.run), so it runs in a thread, as from a terminal
    return await asyncio.to_thread(CliRunner().invoke, keys_cli, args, env=env, catch_exceptions=False)


def _env(keys_db: KeysDb, master_key: bytes, **extra: str) -> dict[str, str | None]:
    return {
        "DATABASE_URL": keys_db.admin_url,
        "CAMPOTECH_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CAMPOTECH_ENV": "development",
        **extra,
    }


async def _wrapped_by(keys_db: KeysDb) -> set[str]:
    conn = await asyncpg.connect(keys_db.admin_url)
    try:
        return {r["wrapped_by"] for r in await conn.fetch("SELECT wrapped_by FROM data_keys")}
    finally:
        await conn.close()


async def test_status_and_rotate_a_data_key(ring: KeyRing, keys_db: KeysDb, master_key: bytes) -> None:
    sealed = await ring.encrypt(KeyPurpose.PII, b"20-12345678-9", b"customers.doc")
    before = KeyRing.version_of(sealed)

    result = await _invoke(["rotate", "pii"], _env(keys_db, master_key))
    assert result.exit_code == 0, result.output
    assert f"data key pii is now version {before + 1}" in result.output

    result = await _invoke(["status"], _env(keys_db, master_key))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("pii")]
    assert any(f"v{before + 1}" in line and "active" in line and line.endswith("ok") for line in lines)
    assert any(f"v{before} " in line and "old" in line for line in lines)
    assert base64.b64encode(master_key).decode() not in result.output

    fresh = KeyRing(ring._sessionmaker, ring.provider)
    assert await fresh.decrypt(KeyPurpose.PII, sealed, b"customers.doc") == b"20-12345678-9"
    assert KeyRing.version_of(await fresh.encrypt(KeyPurpose.PII, b"x", b"")) == before + 1

    # a purpose that does not exist is refused by the command line itself
    refused = await _invoke(["rotate", "everything"], _env(keys_db, master_key))
    assert refused.exit_code == 2 and "everything" in refused.output


async def test_status_with_the_wrong_master_key_says_so_and_fails(
    ring: KeyRing, keys_db: KeysDb, master_key: bytes
) -> None:
    await ring.encrypt(KeyPurpose.AFIP, b"x", b"")
    result = await _invoke(["status"], _env(keys_db, os.urandom(32)))
    assert result.exit_code == 1
    assert "DOES NOT UNWRAP" in result.output


async def test_rotate_master_from_the_environment_and_back(ring: KeyRing, keys_db: KeysDb, master_key: bytes) -> None:
    sealed = await ring.encrypt(KeyPurpose.AFIP, b"clave", b"aad")
    new_key = os.urandom(32)
    new_text = base64.b64encode(new_key).decode()

    result = await _invoke(["rotate-master"], _env(keys_db, master_key, CAMPOTECH_NEW_MASTER_KEY=new_text))
    assert result.exit_code == 0, result.output
    assert await _wrapped_by(keys_db) == {LocalKeyProvider(new_key).key_id}
    assert new_text not in result.output  # given by the operator: never echoed
    on_new = KeyRing(ring._sessionmaker, LocalKeyProvider(new_key))
    assert await on_new.decrypt(KeyPurpose.AFIP, sealed, b"aad") == b"clave"

    back = await _invoke(
        ["rotate-master"],
        _env(keys_db, new_key, CAMPOTECH_NEW_MASTER_KEY=base64.b64encode(master_key).decode()),
    )
    assert back.exit_code == 0, back.output
    assert await _wrapped_by(keys_db) == {LocalKeyProvider(master_key).key_id}


async def test_rotate_master_in_dev_replaces_the_dev_key_file(
    ring: KeyRing, keys_db: KeysDb, master_key: bytes, tmp_path: Path
) -> None:
    """Without CAMPOTECH_MASTER_KEY (dev), the dev key file is the master key and rotation replaces it."""
    await ring.encrypt(KeyPurpose.GENERAL, b"x", b"")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / DEV_MASTER_KEY_FILE).write_text(base64.b64encode(master_key).decode() + "\n")
    env: dict[str, str | None] = {
        "DATABASE_URL": keys_db.admin_url,
        "CAMPOTECH_DATA_DIR": str(data_dir),
        "CAMPOTECH_ENV": "development",
        "CAMPOTECH_MASTER_KEY": None,  # unset
    }

    result = await _invoke(["rotate-master"], env)
    assert result.exit_code == 0, result.output
    new_key = base64.b64decode((data_dir / DEV_MASTER_KEY_FILE).read_text().strip())
    assert new_key != master_key and len(new_key) == 32
    assert not (data_dir / f"{DEV_MASTER_KEY_FILE}.new").exists()
    assert await _wrapped_by(keys_db) == {LocalKeyProvider(new_key).key_id}

    # restore the module's master key for the other tests
    restore = await _invoke(
        ["rotate-master"], {**env, "CAMPOTECH_NEW_MASTER_KEY": base64.b64encode(master_key).decode()}
    )
    assert restore.exit_code == 0, restore.output
    assert await _wrapped_by(keys_db) == {LocalKeyProvider(master_key).key_id}
