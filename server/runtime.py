"""What a running process holds: engine, sessions, Redis, queues, metrics, events, capabilities.

Built from settings at start-up (``Resources.open``), closed at shutdown; tests build their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.db.engine import create_engine, create_sessionmaker
from server.lib.capabilities import Capabilities
from server.lib.events import EventBus
from server.lib.logging import get_logger
from server.lib.metrics import Metrics
from server.settings import Settings

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
        await self.engine.dispose()


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
