"""What a running process holds: engine, sessions, Redis, queues, metrics, events, capabilities.

Built from settings at start-up (``Resources.open``), closed at shutdown; tests build their own.
Hot read paths (the day's job list) also get a plain asyncpg pool of the same application role
(``await resources.pg_pool()``, opened on first use, closed with the rest): one statement a request,
no ORM session.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.db.engine import create_engine, create_sessionmaker
from server.lib.capabilities import Capabilities
from server.lib.events import EventBus
from server.lib.logging import get_logger
from server.lib.metrics import Metrics
from server.settings import Settings, plain_pg_url

if TYPE_CHECKING:
    from server.lib.queue import QueueRegistry

log = get_logger("campotech.runtime")


class UnsafeDatabaseRole(RuntimeError):
    """The application would connect as a role that bypasses row-level security."""


class Resources:
    """A plain class on purpose: handlers receive it by injection and it is never (de)serialised."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.metrics = metrics
        self.queues: QueueRegistry | None = None
        self.events = EventBus()
        self.capabilities = Capabilities()
        self.extras: dict[str, Any] = {}
        self._pg_pool: asyncpg.Pool | None = None
        self._pg_pool_lock = asyncio.Lock()

    async def pg_pool(self) -> asyncpg.Pool:
        """The asyncpg pool of the application role (row-level security applies), opened on first use.

        For single statements that set their own tenant context transaction-locally (see
        ``server/domain/jobs/listing.py``): connections go back to the pool without a reset query.
        """
        pool = self._pg_pool
        if pool is None:
            async with self._pg_pool_lock:
                if self._pg_pool is None:
                    self._pg_pool = await open_pg_pool(self.settings.runtime_database_url(), self.settings.db_pool_size)
                pool = self._pg_pool
        return pool

    @classmethod
    async def open(cls, settings: Settings, metrics: Metrics | None = None) -> Resources:
        engine = create_engine(settings.runtime_database_url(), settings.db_pool_size)
        await check_app_role(engine)
        redis = Redis.from_url(settings.require_redis_url(), decode_responses=False)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=redis,
            metrics=metrics or Metrics(),
        )

    async def close(self) -> None:
        if self.queues is not None:
            await self.queues.close()
        await self.redis.aclose()
        if self._pg_pool is not None:
            pool, self._pg_pool = self._pg_pool, None
            await pool.close()
        await self.engine.dispose()


async def _keep_connection(connection: asyncpg.Connection) -> None:
    """No reset round trip when a connection goes back to the pool.

    What runs on this pool is single statements outside explicit transactions whose settings are
    transaction-local (``set_config(..., true)``): nothing outlives the statement. asyncpg still rolls
    back a connection returned inside a transaction, waits out a cancelled query and drops a broken one.
    Whoever adds a use of this pool keeps to that rule (no session-level SET, LISTEN or advisory lock).
    """


async def open_pg_pool(url: str, size: int) -> asyncpg.Pool:
    """An asyncpg pool for ``url``, refused (like the engine) if the role bypasses row-level security."""
    pool = await asyncpg.create_pool(
        plain_pg_url(url), min_size=1, max_size=max(1, size), reset=_keep_connection, server_settings={"jit": "off"}
    )
    row = await pool.fetchrow(
        "SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    if row is None or row["rolsuper"] or row["rolbypassrls"]:
        await pool.close()
        raise UnsafeDatabaseRole(
            f"the list pool connects as {row['name'] if row else '?'!r}, which bypasses row-level security"
        )
    return pool


async def check_app_role(engine: AsyncEngine) -> None:
    """Refuse to run as a superuser or a BYPASSRLS role: tenancy would silently stop working."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    if row.rolsuper or row.rolbypassrls:
        raise UnsafeDatabaseRole(
            f"the application connects as {row.current_user!r}, which bypasses row-level security; "
            "connect as a NOSUPERUSER NOBYPASSRLS role (CAMPOTECH_APP_DATABASE_URL or CAMPOTECH_APP_DB_ROLE)"
        )
