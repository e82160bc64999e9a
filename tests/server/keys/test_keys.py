"""Envelope encryption on real PostgreSQL: sealing, AAD binding, tampering, data-key and master-key rotation."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import asyncpg
import msgspec
import pytest

from server.db.engine import create_sessionmaker
from server.db.models.keys import KeyPurpose
from server.lib.keys import (
    DEV_MASTER_KEY_FILE,
    HEADER,
    DecryptionFailed,
    KeyProvider,
    KeyRing,
    LocalKeyProvider,
    MasterKeyMismatch,
    MasterKeyMissing,
    aad_for,
    provider_from_settings,
)
from server.settings import Environment, SettingsError, load_settings
from tests.server.keys.conftest import KeysDb

ORG_A = uuid.UUID("01900000-0000-7000-8000-00000000000a")
ORG_B = uuid.UUID("01900000-0000-7000-8000-00000000000b")
SECRET = b"-----BEGIN PRIVATE KEY-----\nclave privada de prueba\n-----END PRIVATE KEY-----\n"


def _aad(org: uuid.UUID, row: str = "row-1") -> bytes:
    return aad_for("afip_credentials.key_encrypted", org, row)


async def _rows(keys_db: KeysDb) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(keys_db.admin_url)
    try:
        return await conn.fetch("SELECT * FROM data_keys ORDER BY purpose, version")
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------- sealing


async def test_round_trip_with_a_fresh_nonce_each_time(ring: KeyRing, master_key: bytes) -> None:
    first = await ring.encrypt(KeyPurpose.AFIP, SECRET, _aad(ORG_A))
    second = await ring.encrypt(KeyPurpose.AFIP, SECRET, _aad(ORG_A))
    assert first != second  # random nonce: equal plaintexts do not look equal
    assert SECRET not in first and b"clave privada" not in first
    assert await ring.decrypt(KeyPurpose.AFIP, first, _aad(ORG_A)) == SECRET
    assert await ring.decrypt(KeyPurpose.AFIP, second, _aad(ORG_A)) == SECRET
    # another process (empty cache, same master key) opens it too: the wrapped data key is in the database
    restarted = KeyRing(ring._sessionmaker, LocalKeyProvider(master_key))
    assert await restarted.decrypt(KeyPurpose.AFIP, first, _aad(ORG_A)) == SECRET
    # with another master key the data key does not unwrap
    stranger = KeyRing(ring._sessionmaker, LocalKeyProvider(os.urandom(32)))
    with pytest.raises(MasterKeyMismatch):
        await stranger.decrypt(KeyPurpose.AFIP, first, _aad(ORG_A))


async def test_text_round_trip(ring: KeyRing) -> None:
    sealed = await ring.encrypt_text(KeyPurpose.GENERAL, "token-ñandú", _aad(ORG_A))
    assert "token" not in sealed
    assert (await ring.decrypt_text(KeyPurpose.GENERAL, sealed, _aad(ORG_A))).decode() == "token-ñandú"


async def test_ciphertext_moved_to_another_org_or_row_does_not_open(ring: KeyRing) -> None:
    blob = await ring.encrypt(KeyPurpose.AFIP, SECRET, _aad(ORG_A))
    with pytest.raises(DecryptionFailed):
        await ring.decrypt(KeyPurpose.AFIP, blob, _aad(ORG_B))
    with pytest.raises(DecryptionFailed):
        await ring.decrypt(KeyPurpose.AFIP, blob, _aad(ORG_A, "row-2"))
    with pytest.raises(DecryptionFailed):  # sealed for AFIP, asked as Mercado Pago
        await ring.decrypt(KeyPurpose.MERCADOPAGO, blob, _aad(ORG_A))


async def test_tampering_is_detected(ring: KeyRing) -> None:
    blob = await ring.encrypt(KeyPurpose.AFIP, SECRET, _aad(ORG_A))
    for position in (len(blob) - 1, HEADER.size + 12 + 3, HEADER.size + 2):  # tag, ciphertext, nonce
        forged = bytearray(blob)
        forged[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            await ring.decrypt(KeyPurpose.AFIP, bytes(forged), _aad(ORG_A))
    with pytest.raises(DecryptionFailed):  # cut short
        await ring.decrypt(KeyPurpose.AFIP, blob[:20], _aad(ORG_A))
    with pytest.raises(DecryptionFailed):  # the header names a version that does not exist
        forged_header = HEADER.pack(1, 1, 999) + blob[HEADER.size :]
        await ring.decrypt(KeyPurpose.AFIP, forged_header, _aad(ORG_A))


async def test_each_purpose_has_its_own_data_key(ring: KeyRing, keys_db: KeysDb) -> None:
    for purpose in KeyPurpose:
        await ring.encrypt(purpose, b"x", b"")
    active = [r for r in await _rows(keys_db) if r["active"]]
    assert sorted(r["purpose"] for r in active) == sorted(p.value for p in KeyPurpose)
    assert len({r["wrapped_key"] for r in active}) == len(KeyPurpose)
    assert len({ring._keys[(KeyPurpose(r["purpose"]), r["version"])] for r in active}) == len(KeyPurpose)


async def test_the_database_holds_no_plaintext_key(ring: KeyRing, keys_db: KeysDb, master_key: bytes) -> None:
    await ring.encrypt(KeyPurpose.PII, b"dni 12345678", b"")
    plain_keys = list(ring._keys.values())  # unwrapped, in this process's memory only
    assert plain_keys
    conn = await asyncpg.connect(keys_db.admin_url)
    try:
        raw = b"".join(
            bytes(r["raw"])
            for r in await conn.fetch("SELECT convert_to(data_keys::text, 'UTF8') AS raw FROM data_keys")
        )
        wrapped = b"".join(bytes(r["wrapped_key"]) for r in await conn.fetch("SELECT wrapped_key FROM data_keys"))
    finally:
        await conn.close()
    for key in [*plain_keys, master_key]:
        for form in (key, key.hex().encode(), base64.b64encode(key)):
            assert form not in raw and form not in wrapped


# ---------------------------------------------------------------------------------------------- rotation


async def test_rotating_a_data_key_keeps_old_ciphertexts_readable(
    ring: KeyRing, owner_ring: KeyRing, keys_db: KeysDb
) -> None:
    old = await ring.encrypt(KeyPurpose.MERCADOPAGO, b"access-token-viejo", _aad(ORG_A))
    old_version = KeyRing.version_of(old)

    new_version = await owner_ring.rotate_data_key(KeyPurpose.MERCADOPAGO)
    assert new_version == old_version + 1

    fresh = KeyRing(ring._sessionmaker, ring.provider)  # a process started after the rotation
    new = await fresh.encrypt(KeyPurpose.MERCADOPAGO, b"access-token-nuevo", _aad(ORG_A))
    assert KeyRing.version_of(new) == new_version
    assert await fresh.decrypt(KeyPurpose.MERCADOPAGO, old, _aad(ORG_A)) == b"access-token-viejo"
    assert await ring.decrypt(KeyPurpose.MERCADOPAGO, new, _aad(ORG_A)) == b"access-token-nuevo"

    rows = [r for r in await _rows(keys_db) if r["purpose"] == "mercadopago"]
    assert [(r["version"], r["active"]) for r in rows][-2:] == [(old_version, False), (new_version, True)]


async def test_the_app_role_cannot_change_or_delete_data_keys(ring: KeyRing, keys_db: KeysDb) -> None:
    await ring.encrypt(KeyPurpose.GENERAL, b"x", b"")
    conn = await asyncpg.connect(keys_db.app_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM data_keys") >= 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE data_keys SET active = false")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM data_keys")
    finally:
        await conn.close()


async def test_rotating_the_master_key_rewraps_every_data_key(
    ring: KeyRing, owner_ring: KeyRing, keys_db: KeysDb, master_key: bytes
) -> None:
    blobs = {purpose: await ring.encrypt(purpose, f"secreto {purpose}".encode(), b"ctx") for purpose in KeyPurpose}
    before = {(r["purpose"], r["version"]): bytes(r["wrapped_key"]) for r in await _rows(keys_db)}
    new_provider: KeyProvider = LocalKeyProvider(os.urandom(32))

    count = await owner_ring.rotate_master(new_provider)
    try:
        assert count == len(before)
        after = await _rows(keys_db)
        assert {r["wrapped_by"] for r in after} == {new_provider.key_id}
        assert all(bytes(r["wrapped_key"]) != before[(r["purpose"], r["version"])] for r in after)

        # a process on the new master key opens everything sealed before; the old master key no longer works
        on_new = KeyRing(create_sessionmaker(keys_db.app_engine), new_provider)
        for purpose, blob in blobs.items():
            assert await on_new.decrypt(purpose, blob, b"ctx") == f"secreto {purpose}".encode()
        on_old = KeyRing(create_sessionmaker(keys_db.app_engine), LocalKeyProvider(master_key))
        with pytest.raises(MasterKeyMismatch):
            await on_old.decrypt(KeyPurpose.AFIP, blobs[KeyPurpose.AFIP], b"ctx")
        status = await on_old.status()
        assert status and not any(s.unwraps for s in status)
        assert all(s.unwraps for s in await on_new.status())
    finally:
        # back to the module's master key (this exercises a second rotation, and keeps the other tests valid)
        assert await owner_ring.rotate_master(LocalKeyProvider(master_key)) == len(before)
    assert {r["wrapped_by"] for r in await _rows(keys_db)} == {LocalKeyProvider(master_key).key_id}


# ---------------------------------------------------------------------------------------------- configuration


def test_configured_master_key_is_used(tmp_path: Path) -> None:
    raw = os.urandom(32)
    settings = load_settings({}, master_key=base64.b64encode(raw).decode(), data_dir=tmp_path)
    assert provider_from_settings(settings).key_id == LocalKeyProvider(raw).key_id
    assert not (tmp_path / DEV_MASTER_KEY_FILE).exists()


def test_dev_without_configuration_makes_and_keeps_a_master_key(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path / "data")
    first = provider_from_settings(settings)
    path = tmp_path / "data" / DEV_MASTER_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text().strip())) == 32
    assert provider_from_settings(settings).key_id == first.key_id  # the next start uses the same key


def test_production_refuses_a_missing_master_key(tmp_path: Path) -> None:
    # (the other production checks are settings' own business: only the environment changes here)
    settings = msgspec.structs.replace(load_settings({}, data_dir=tmp_path), env=Environment.PRODUCTION)
    with pytest.raises(MasterKeyMissing, match="CAMPOTECH_MASTER_KEY must be set in production"):
        provider_from_settings(settings)
    assert not (tmp_path / DEV_MASTER_KEY_FILE).exists()


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_master_key_is_refused_at_start(value: str) -> None:
    with pytest.raises(SettingsError, match="CAMPOTECH_MASTER_KEY must be base64 of exactly 32 bytes"):
        load_settings({"CAMPOTECH_MASTER_KEY": value})


async def test_key_material_never_reaches_repr(master_key: bytes) -> None:
    provider = LocalKeyProvider(master_key)
    assert master_key.hex() not in repr(provider) and base64.b64encode(master_key).decode() not in repr(provider)
