"""Engine, sessions and the tenant context of each transaction.

Every transaction a session begins runs ``set_config('app.org_id', …, true)`` and
``set_config('app.user_id', …, true)`` first (transaction-local), from ``session.info``. A session
with no org therefore sees no org-owned row: row-level security filters them all.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from server.settings import asyncpg_url

ORG_KEY = "org_id"
USER_KEY = "user_id"

_SET_CONTEXT = text("SELECT set_config('app.org_id', :org, true), set_config('app.user_id', :user, true)")


@event.listens_for(Session, "after_begin")
def _set_tenant_context(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    org = session.info.get(ORG_KEY)
    user = session.info.get(USER_KEY)
    if org is None and user is None:
        return
    connection.execute(_SET_CONTEXT, {"org": str(org) if org else "", "user": str(user) if user else ""})


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def tenant_session(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID | None,
    user_id: uuid.UUID | None = None,
) -> AsyncSession:
    """A session whose every transaction runs inside ``org_id``'s tenant context."""
    session = sessionmaker()
    session.info[ORG_KEY] = org_id
    session.info[USER_KEY] = user_id
    return session


@asynccontextmanager
async def tenant_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID | None,
    user_id: uuid.UUID | None = None,
) -> AsyncIterator[AsyncSession]:
    """One transaction in a tenant context: committed on success, rolled back on error."""
    async with tenant_session(sessionmaker, org_id, user_id) as session, session.begin():
        yield session
