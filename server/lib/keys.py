"""Envelope encryption: a master key wraps one data key a purpose; data keys seal the secrets.

* The **master key** comes from a ``KeyProvider``: ``LocalKeyProvider`` holds ``CAMPOTECH_MASTER_KEY``
  (base64 of 32 bytes); a KMS-backed provider can replace it (same three members). Outside production a
  missing key is made once and kept in ``data_dir/dev-master-key`` (mode 600), like the other dev
  secrets; production refuses to run without one.
* **Data keys** (``data_keys``, platform-wide): random 32 bytes a ``KeyPurpose`` (AFIP, MERCADOPAGO, PII,
  GENERAL) and version, stored only wrapped with AES-256-GCM under the master key, the wrapping bound to
  its purpose and version. The first version of a purpose is made on first use.
* **Ciphertexts**: ``header || nonce || AES-256-GCM(ciphertext || tag)``. The 6-byte header is the
  format (1), the purpose and the data-key version (so old ciphertexts still open after a rotation); it is
  authenticated together with the caller's ``aad``, which binds a ciphertext to its row
  (``aad_for("afip_credentials.key_encrypted", org_id, row_id)``): copied to another row or organisation,
  it no longer opens. Nonces are random 96-bit.
* **Rotation**: ``rotate_data_key(purpose)`` adds a new active version (old ones stay, for decryption);
  ``rotate_master(new_provider)`` re-wraps every data key in one transaction. Both run as the owner
  (``campotech keys …``); the application role may only read and add data keys.

Unwrapped data keys live in this process's memory only (``KeyRing``), never in Redis or the database.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.base import utcnow
from server.db.models.keys import DataKey, KeyPurpose
from server.lib.logging import get_logger
from server.settings import MASTER_KEY_BYTES, MASTER_KEY_MISSING_MESSAGE, Settings
from shared.ids import new_id

if TYPE_CHECKING:
    from server.runtime import Resources

__all__ = [
    "DEV_MASTER_KEY_FILE",
    "DataKeyStatus",
    "DecryptionFailed",
    "KeyProvider",
    "KeyPurpose",
    "KeyRing",
    "KeyringError",
    "LocalKeyProvider",
    "MasterKeyMismatch",
    "MasterKeyMissing",
    "aad_for",
    "keyring_for",
    "load_or_create_dev_master_key",
    "provider_from_settings",
]

log = get_logger("campotech.keys")

FORMAT_VERSION = 1
HEADER = struct.Struct(">BBI")  # format, purpose code, data-key version
NONCE_BYTES = 12
TAG_BYTES = 16
DATA_KEY_BYTES = 32
PURPOSE_CODES: dict[KeyPurpose, int] = {
    KeyPurpose.AFIP: 1,
    KeyPurpose.MERCADOPAGO: 2,
    KeyPurpose.PII: 3,
    KeyPurpose.GENERAL: 4,
}
DEV_MASTER_KEY_FILE = "dev-master-key"
ACTIVE_VERSION_TTL_SECONDS = 300.0  # another process's rotation is picked up within this long
RESOURCES_KEY = "keyring"


class KeyringError(RuntimeError):
    """A key problem an operator fixes (configuration, a wrong master key); never carries key material."""


class DecryptionFailed(KeyringError):
    """The ciphertext does not open: tampered with, moved to another row (AAD), another purpose, or cut."""


class MasterKeyMismatch(KeyringError):
    """A data key does not unwrap under the configured master key."""


class MasterKeyMissing(KeyringError):
    """Production without CAMPOTECH_MASTER_KEY."""


# ---------------------------------------------------------------------------------------------- providers


@runtime_checkable
class KeyProvider(Protocol):
    """What wraps data keys: the configured master key, or a KMS (wrap = Encrypt, unwrap = Decrypt)."""

    @property
    def key_id(self) -> str:
        """A stable, non-secret name of the master key (stored next to each wrapped data key)."""
        ...

    async def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    async def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Raises ``MasterKeyMismatch`` when ``wrapped`` was not made by this key (or with another context)."""
        ...


class LocalKeyProvider:
    """The master key held in memory (from CAMPOTECH_MASTER_KEY or the dev key file)."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise KeyringError(f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(master_key)}")
        self._aead = AESGCM(master_key)
        digest = hashlib.sha256(b"campotech/master-key-id\x00" + master_key).hexdigest()
        self._key_id = "local:" + digest[:16]

    @classmethod
    def from_base64(cls, text: str) -> LocalKeyProvider:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise KeyringError("the master key must be base64 of 32 bytes") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> tuple[LocalKeyProvider, str]:
        """A new random master key and its base64 text (to configure as CAMPOTECH_MASTER_KEY)."""
        raw = os.urandom(MASTER_KEY_BYTES)
        return cls(raw), base64.b64encode(raw).decode()

    @property
    def key_id(self) -> str:
        return self._key_id

    async def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    async def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except (InvalidTag, ValueError):
            raise MasterKeyMismatch(
                f"a data key does not unwrap with master key {self._key_id}: CAMPOTECH_MASTER_KEY is not the key "
                "the data keys were wrapped with (see `campotech keys status`)"
            ) from None

    def __repr__(self) -> str:  # never the key
        return f"LocalKeyProvider({self._key_id})"


def load_or_create_dev_master_key(data_dir: Path) -> bytes:
    """The dev master key in ``data_dir/dev-master-key`` (base64, mode 600), made on first use."""
    path = data_dir / DEV_MASTER_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        raw = os.urandom(MASTER_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: use theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(raw).decode() + "\n")
            log.info("dev master key created", path=str(path))
            return raw
    try:
        raw = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise KeyringError(f"{path} does not hold base64 of 32 bytes: restore it, or set CAMPOTECH_MASTER_KEY")
    return raw


def stage_dev_master_key(data_dir: Path, text: str) -> Path:
    """Write a new dev master key next to the current one (``dev-master-key.new``, mode 600), before the data
    keys are re-wrapped; ``Path.replace`` it over the current one once they are (``rotate-master`` in dev)."""
    staged = (data_dir / DEV_MASTER_KEY_FILE).with_suffix(".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text.strip() + "\n")
    return staged


def provider_from_settings(settings: Settings) -> LocalKeyProvider:
    """CAMPOTECH_MASTER_KEY; outside production the dev key file when it is not set; production refuses."""
    if settings.master_key:
        return LocalKeyProvider.from_base64(settings.master_key)
    if settings.is_production:
        raise MasterKeyMissing(MASTER_KEY_MISSING_MESSAGE)
    return LocalKeyProvider(load_or_create_dev_master_key(settings.data_dir))


# ---------------------------------------------------------------------------------------------- the key ring


def aad_for(*parts: object) -> bytes:
    """Associated data binding a ciphertext to where it is stored, e.g. ``(column, org_id, row_id)``."""
    return b"campotech\x1f" + b"\x1f".join(str(part).encode() for part in parts)


def _wrap_context(purpose: KeyPurpose, version: int) -> bytes:
    return f"campotech/data-key/{purpose.value}/{version}".encode()


@dataclass(frozen=True)
class DataKeyStatus:
    purpose: KeyPurpose
    version: int
    active: bool
    created_at: datetime
    wrapped_by: str
    unwraps: bool  # under the configured master key


class KeyRing:
    """Encrypts and decrypts with the data keys; unwrapped keys are cached in this process only."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], provider: KeyProvider) -> None:
        self._sessionmaker = sessionmaker
        self._provider = provider
        self._keys: dict[tuple[KeyPurpose, int], bytes] = {}
        self._active: dict[KeyPurpose, tuple[int, float]] = {}
        self._lock = asyncio.Lock()

    @property
    def provider(self) -> KeyProvider:
        return self._provider

    def forget(self) -> None:
        """Drop every unwrapped key from memory (they are read and unwrapped again when needed)."""
        self._keys.clear()
        self._active.clear()

    # -- sealing ------------------------------------------------------------------------------------

    async def encrypt(self, purpose: KeyPurpose, plaintext: bytes, aad: bytes) -> bytes:
        version, key = await self._active_key(purpose)
        header = HEADER.pack(FORMAT_VERSION, PURPOSE_CODES[purpose], version)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)

    async def decrypt(self, purpose: KeyPurpose, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < HEADER.size + NONCE_BYTES + TAG_BYTES:
            raise DecryptionFailed("ciphertext too short")
        fmt, code, version = HEADER.unpack_from(blob)
        if fmt != FORMAT_VERSION or code != PURPOSE_CODES[purpose]:
            raise DecryptionFailed("ciphertext of another format or purpose")
        key = await self._key(purpose, version)
        header = blob[: HEADER.size]
        nonce = blob[HEADER.size : HEADER.size + NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(nonce, blob[HEADER.size + NONCE_BYTES :], header + aad)
        except InvalidTag:
            raise DecryptionFailed("ciphertext does not open (tampered, or stored elsewhere than sealed)") from None

    async def encrypt_text(self, purpose: KeyPurpose, plaintext: bytes | str, aad: bytes) -> str:
        """``encrypt`` as base64 text (for text columns)."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return base64.b64encode(await self.encrypt(purpose, data, aad)).decode()

    async def decrypt_text(self, purpose: KeyPurpose, sealed: str, aad: bytes) -> bytes:
        try:
            blob = base64.b64decode(sealed, validate=True)
        except ValueError:
            raise DecryptionFailed("ciphertext is not base64") from None
        return await self.decrypt(purpose, blob, aad)

    @staticmethod
    def version_of(blob: bytes) -> int:
        """The data-key version that sealed ``blob`` (from its header)."""
        return int(HEADER.unpack_from(blob)[2])

    # -- data keys ----------------------------------------------------------------------------------

    async def _active_key(self, purpose: KeyPurpose) -> tuple[int, bytes]:
        cached = self._active.get(purpose)
        if cached is not None and time.monotonic() - cached[1] < ACTIVE_VERSION_TTL_SECONDS:
            return cached[0], self._keys[(purpose, cached[0])]
        async with self._lock:
            async with self._session() as session:
                row = await self._active_row(session, purpose)
                if row is None:
                    await self._insert_first(session, purpose)
                    row = await self._active_row(session, purpose)
                    assert row is not None
                key = await self._unwrap(row)
            self._active[purpose] = (row.version, time.monotonic())
            return row.version, key

    async def _key(self, purpose: KeyPurpose, version: int) -> bytes:
        key = self._keys.get((purpose, version))
        if key is not None:
            return key
        async with self._session() as session:
            row = (
                await session.execute(select(DataKey).where(DataKey.purpose == purpose, DataKey.version == version))
            ).scalar_one_or_none()
        if row is None:
            raise DecryptionFailed(f"no data key {purpose.value} version {version}")
        return await self._unwrap(row)

    async def _unwrap(self, row: DataKey) -> bytes:
        purpose = KeyPurpose(row.purpose)
        key = await self._provider.unwrap(row.wrapped_key, _wrap_context(purpose, row.version))
        self._keys[(purpose, row.version)] = key
        return key

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessionmaker() as session, session.begin():
            yield session

    @staticmethod
    async def _active_row(session: AsyncSession, purpose: KeyPurpose) -> DataKey | None:
        statement = select(DataKey).where(DataKey.purpose == purpose, DataKey.active.is_(True))
        return (await session.execute(statement)).scalar_one_or_none()

    async def _new_row_values(self, purpose: KeyPurpose, version: int) -> dict[str, object]:
        key = os.urandom(DATA_KEY_BYTES)
        now = utcnow()
        return {
            "id": new_id(),
            "purpose": purpose,
            "version": version,
            "wrapped_key": await self._provider.wrap(key, _wrap_context(purpose, version)),
            "wrapped_by": self._provider.key_id,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }

    async def _insert_first(self, session: AsyncSession, purpose: KeyPurpose) -> None:
        """Version 1 of ``purpose``; a concurrent process that made it first wins (ON CONFLICT)."""
        values = await self._new_row_values(purpose, 1)
        await session.execute(pg_insert(DataKey).values(**values).on_conflict_do_nothing())
        log.info("data key created", purpose=purpose.value, version=1)

    # -- rotation (as the owner) --------------------------------------------------------------------

    async def rotate_data_key(self, purpose: KeyPurpose) -> int:
        """A new active version of ``purpose``; earlier versions stay (inactive) to open old ciphertexts."""
        async with self._lock, self._session() as session:
            latest = (
                await session.execute(select(func.max(DataKey.version)).where(DataKey.purpose == purpose))
            ).scalar_one()
            version = (latest or 0) + 1
            await session.execute(
                update(DataKey)
                .where(DataKey.purpose == purpose, DataKey.active.is_(True))
                .values(active=False, updated_at=utcnow())
            )
            await session.execute(pg_insert(DataKey).values(**await self._new_row_values(purpose, version)))
        self._active.pop(purpose, None)
        log.info("data key rotated", purpose=purpose.value, version=version)
        return version

    async def rotate_master(self, new_provider: KeyProvider) -> int:
        """Re-wrap every data key under ``new_provider`` in one transaction; returns how many were re-wrapped.

        Keys already wrapped by ``new_provider`` (an interrupted earlier run) are left as they are.
        """
        count = 0
        async with self._lock, self._session() as session:
            rows = (
                (await session.execute(select(DataKey).order_by(DataKey.purpose, DataKey.version).with_for_update()))
                .scalars()
                .all()
            )
            for row in rows:
                if row.wrapped_by == new_provider.key_id:
                    continue
                purpose = KeyPurpose(row.purpose)
                context = _wrap_context(purpose, row.version)
                key = await self._provider.unwrap(row.wrapped_key, context)
                wrapped = await new_provider.wrap(key, context)
                await session.execute(
                    update(DataKey)
                    .where(DataKey.id == row.id)
                    .values(wrapped_key=wrapped, wrapped_by=new_provider.key_id, updated_at=utcnow())
                )
                count += 1
        self._provider = new_provider
        log.info("master key rotated", data_keys=count, master_key=new_provider.key_id)
        return count

    async def status(self) -> list[DataKeyStatus]:
        async with self._session() as session:
            rows = (await session.execute(select(DataKey).order_by(DataKey.purpose, DataKey.version))).scalars().all()
        report = []
        for row in rows:
            purpose = KeyPurpose(row.purpose)
            try:
                await self._provider.unwrap(row.wrapped_key, _wrap_context(purpose, row.version))
                unwraps = True
            except MasterKeyMismatch:
                unwraps = False
            report.append(
                DataKeyStatus(
                    purpose=purpose,
                    version=row.version,
                    active=row.active,
                    created_at=row.created_at,
                    wrapped_by=row.wrapped_by,
                    unwraps=unwraps,
                )
            )
        return report


def keyring_for(resources: Resources) -> KeyRing:
    """The process's key ring (made on first use from the settings' master key, kept on ``resources``)."""
    ring = resources.extras.get(RESOURCES_KEY)
    if ring is None:
        ring = KeyRing(resources.sessionmaker, provider_from_settings(resources.settings))
        resources.extras[RESOURCES_KEY] = ring
    return ring  # type: ignore[no-any-return]
