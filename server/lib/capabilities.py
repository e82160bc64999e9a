"""Capability flags: may this organisation use an integration right now?

Resolution, first match wins:

1. a platform-wide ``SystemCapability`` row with ``enabled = false`` ("panic mode": off for everyone);
2. the organisation's ``CapabilityOverride`` row;
3. the default in ``shared.capabilities``.

A platform row with ``enabled = true`` (panic mode ended, reason kept) restricts nothing and forces
nothing on: the organisation's own choice and the default still apply.

Organisation overrides are read and written through a tenant session (row-level security: one
organisation never sees or sets another's). Answers are cached in-process for a few seconds; writes
made through this service clear the cache at once (other processes see them when their cache expires).
Every method takes ``db``: the request's ``AsyncSession`` (writes are flushed, not committed) or an
``async_sessionmaker`` (a transaction of its own, committed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.base import utcnow
from server.db.engine import ORG_KEY, tenant_transaction
from server.db.models.capability import CapabilityOverride, SystemCapability
from server.lib.errors import AppError
from shared.capabilities import CAPABILITY_DEFAULTS, Capability
from shared.errors import ErrorCode
from shared.ids import new_id

DEFAULT_CACHE_SECONDS = 3.0

Db = AsyncSession | async_sessionmaker[AsyncSession]
Source = Literal["system", "org", "default"]


class Switch(msgspec.Struct, frozen=True):
    enabled: bool
    reason: str | None = None


class EffectiveCapability(msgspec.Struct, frozen=True):
    """One capability as an organisation gets it, and which rule decided."""

    capability: Capability
    enabled: bool
    source: Source
    reason: str | None = None


class Capabilities:
    """Resolves, caches and changes capability flags (see the module docstring)."""

    def __init__(self, cache_seconds: float = DEFAULT_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._system: tuple[float, dict[str, Switch]] | None = None
        self._orgs: dict[uuid.UUID, tuple[float, dict[str, Switch]]] = {}
        self._generation = 0  # bumped by every invalidation, so a read racing a write does not cache stale rows

    # -- reading ------------------------------------------------------------------------------

    async def is_enabled(self, db: Db, capability: Capability | str, org_id: uuid.UUID | None) -> bool:
        return (await self.effective(db, capability, org_id)).enabled

    async def require(self, db: Db, capability: Capability | str, org_id: uuid.UUID | None) -> None:
        """Raise ``AppError(CAPABILITY_DISABLED)`` (503) unless the capability is on for ``org_id``."""
        resolved = await self.effective(db, capability, org_id)
        if not resolved.enabled:
            raise AppError(
                ErrorCode.CAPABILITY_DISABLED,
                details={"capability": resolved.capability.value, "source": resolved.source},
            )

    async def effective(self, db: Db, capability: Capability | str, org_id: uuid.UUID | None) -> EffectiveCapability:
        cap = Capability(capability)
        system, org = await self._switches(db, org_id)
        return _resolve(cap, system, org)

    async def list_effective(self, db: Db, org_id: uuid.UUID | None) -> list[EffectiveCapability]:
        system, org = await self._switches(db, org_id)
        return [_resolve(cap, system, org) for cap in Capability]

    # -- writing ------------------------------------------------------------------------------

    async def set_org_override(
        self,
        db: Db,
        org_id: uuid.UUID,
        capability: Capability | str,
        enabled: bool,
        reason: str | None = None,
        set_by_id: uuid.UUID | None = None,
    ) -> None:
        cap = Capability(capability)
        now = utcnow()
        statement = insert(CapabilityOverride).values(
            id=new_id(),
            org_id=org_id,
            capability=cap.value,
            enabled=enabled,
            reason=reason,
            set_by_id=set_by_id,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            constraint="uq_capability_overrides_org_capability",
            set_={"enabled": enabled, "reason": reason, "set_by_id": set_by_id, "updated_at": now},
        )
        async with _session(db, org_id) as session:
            await session.execute(statement)
        self.invalidate(org_id)

    async def clear_org_override(self, db: Db, org_id: uuid.UUID, capability: Capability | str) -> bool:
        """Remove the organisation's override (back to the default). True if there was one."""
        cap = Capability(capability)
        statement = delete(CapabilityOverride).where(
            CapabilityOverride.org_id == org_id, CapabilityOverride.capability == cap.value
        )
        async with _session(db, org_id) as session:
            result = await session.execute(statement)
        self.invalidate(org_id)
        return bool(getattr(result, "rowcount", 0))

    async def set_system(self, db: Db, capability: Capability | str, enabled: bool, reason: str | None) -> None:
        """Panic mode: ``enabled=False`` turns the capability off for every organisation; ``True`` ends it."""
        cap = Capability(capability)
        now = utcnow()
        statement = insert(SystemCapability).values(
            capability=cap.value, enabled=enabled, reason=reason, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[SystemCapability.capability], set_={"enabled": enabled, "reason": reason, "updated_at": now}
        )
        async with _session(db, None) as session:
            await session.execute(statement)
        self.invalidate()

    async def clear_system(self, db: Db, capability: Capability | str) -> bool:
        cap = Capability(capability)
        async with _session(db, None) as session:
            result = await session.execute(delete(SystemCapability).where(SystemCapability.capability == cap.value))
        self.invalidate()
        return bool(getattr(result, "rowcount", 0))

    def invalidate(self, org_id: uuid.UUID | None = None) -> None:
        """Forget cached answers: one organisation's overrides, or (no org) everything."""
        self._generation += 1
        if org_id is None:
            self._system = None
            self._orgs.clear()
        else:
            self._orgs.pop(org_id, None)

    # -- internals ----------------------------------------------------------------------------

    async def _switches(self, db: Db, org_id: uuid.UUID | None) -> tuple[dict[str, Switch], dict[str, Switch]]:
        now = self._clock()
        system = self._system[1] if self._system and self._system[0] > now else None
        org_entry = self._orgs.get(org_id) if org_id is not None else None
        org = org_entry[1] if org_entry and org_entry[0] > now else None
        if org_id is None:
            org = {}
        if system is not None and org is not None:
            return system, org
        generation = self._generation
        async with _session(db, org_id) as session:
            if system is None:
                rows = (await session.execute(select(SystemCapability))).scalars()
                system = {row.capability: Switch(row.enabled, row.reason) for row in rows}
            if org is None:
                overrides = (
                    await session.execute(select(CapabilityOverride).where(CapabilityOverride.org_id == org_id))
                ).scalars()
                org = {row.capability: Switch(row.enabled, row.reason) for row in overrides}
        if generation == self._generation:
            expires = now + self.cache_seconds
            self._system = (expires, system)
            if org_id is not None:
                self._orgs[org_id] = (expires, org)
        return system, org


def _resolve(cap: Capability, system: dict[str, Switch], org: dict[str, Switch]) -> EffectiveCapability:
    platform = system.get(cap.value)
    if platform is not None and not platform.enabled:
        return EffectiveCapability(cap, False, "system", platform.reason)
    own = org.get(cap.value)
    if own is not None:
        return EffectiveCapability(cap, own.enabled, "org", own.reason)
    return EffectiveCapability(cap, CAPABILITY_DEFAULTS[cap], "default")


@asynccontextmanager
async def _session(db: Db, org_id: uuid.UUID | None) -> AsyncIterator[AsyncSession]:
    """The given session (checked to be in ``org_id``'s tenant context), or a committed transaction of our own."""
    if isinstance(db, AsyncSession):
        session_org = db.info.get(ORG_KEY)
        if org_id is not None and session_org != org_id:
            raise ValueError(f"the session belongs to organisation {session_org}, not {org_id}")
        yield db
        await db.flush()
        return
    async with tenant_transaction(db, org_id) as session:
        yield session


__all__ = ["Capabilities", "EffectiveCapability", "Switch"]
