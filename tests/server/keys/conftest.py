"""Key-hierarchy tests run on a database of their own: rotating the master key there cannot disturb
the session database other tests (and the app's key ring) use."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db import migrate
from server.db.engine import create_engine, create_sessionmaker
from server.db.setup import drop_database, ensure_app_role, ensure_database, with_database
from server.lib.keys import KeyRing, LocalKeyProvider
from server.settings import with_user
from tests.conftest import APP_ROLE


@dataclass(frozen=True)
class KeysDb:
    admin_url: str
    app_url: str
    app_engine: AsyncEngine
    owner_engine: AsyncEngine


@pytest.fixture(name="keys_db", scope="module")
async def fixture_keys_db(pg_server_url: str) -> AsyncIterator[KeysDb]:
    name = f"campotech_keys_{uuid.uuid4().hex[:10]}"
    await ensure_database(pg_server_url, name)
    await ensure_app_role(pg_server_url, APP_ROLE)
    admin_url = with_database(pg_server_url, name)
    await asyncio.to_thread(migrate.upgrade, admin_url, "head", APP_ROLE)
    app_url = with_user(admin_url, APP_ROLE, None)
    db = KeysDb(admin_url, app_url, create_engine(app_url, 2), create_engine(admin_url, 2))
    try:
        yield db
    finally:
        await db.app_engine.dispose()
        await db.owner_engine.dispose()
        await drop_database(pg_server_url, name)


@pytest.fixture(name="master_key", scope="module")
def fixture_master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture(name="ring")
def fixture_ring(keys_db: KeysDb, master_key: bytes) -> KeyRing:
    """The application's view: the app role (may read and add data keys), a fresh in-memory cache."""
    return KeyRing(create_sessionmaker(keys_db.app_engine), LocalKeyProvider(master_key))


@pytest.fixture(name="owner_ring")
def fixture_owner_ring(keys_db: KeysDb, master_key: bytes) -> KeyRing:
    """The operator's view (`campotech keys …`): the owner connection, allowed to rotate."""
    return KeyRing(create_sessionmaker(keys_db.owner_engine), LocalKeyProvider(master_key))
