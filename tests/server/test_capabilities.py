"""Capability flags on real PostgreSQL, as the application role (row-level security applies)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from server.db.engine import tenant_session, tenant_transaction
from server.db.models.capability import CapabilityOverride
from server.lib.capabilities import Capabilities
from server.lib.errors import AppError
from server.runtime import Resources
from shared.capabilities import CAPABILITY_DEFAULTS, Capability
from shared.errors import ErrorCode

# The platform switches are global: tests that set them use this capability and clear it afterwards.
PANIC_CAPABILITY = Capability.WHATSAPP


@pytest.fixture(name="caps")
def fixture_caps() -> Capabilities:
    return Capabilities(cache_seconds=60)


@pytest.fixture(name="clean_system")
async def fixture_clean_system(resources: Resources) -> AsyncIterator[None]:
    cleaner = Capabilities()
    await cleaner.clear_system(resources.sessionmaker, PANIC_CAPABILITY)
    yield
    await cleaner.clear_system(resources.sessionmaker, PANIC_CAPABILITY)


async def test_defaults_apply_without_any_row(resources: Resources, make_org, caps: Capabilities) -> None:
    org_id = await make_org()
    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, org_id) is True
    assert await caps.is_enabled(resources.sessionmaker, "auto_invoice", org_id) is False
    effective = await caps.list_effective(resources.sessionmaker, org_id)
    assert [e.capability for e in effective] == list(Capability)
    assert all(e.source == "default" for e in effective)
    assert {e.capability: e.enabled for e in effective} == CAPABILITY_DEFAULTS


async def test_unknown_capability_is_refused(resources: Resources, make_org, caps: Capabilities) -> None:
    with pytest.raises(ValueError):
        await caps.is_enabled(resources.sessionmaker, "telepathy", await make_org())


async def test_org_override_beats_the_default(resources: Resources, make_org, caps: Capabilities) -> None:
    org_id, other_org = await make_org(), await make_org()
    await caps.set_org_override(resources.sessionmaker, org_id, Capability.AFIP, False, reason="certificado vencido")
    await caps.set_org_override(resources.sessionmaker, org_id, Capability.AUTO_INVOICE, True)

    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, org_id) is False
    assert await caps.is_enabled(resources.sessionmaker, Capability.AUTO_INVOICE, org_id) is True
    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, other_org) is True
    afip = await caps.effective(resources.sessionmaker, Capability.AFIP, org_id)
    assert (afip.source, afip.reason) == ("org", "certificado vencido")

    # upsert: a second write replaces the first
    await caps.set_org_override(resources.sessionmaker, org_id, Capability.AFIP, True, reason="renovado")
    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, org_id) is True

    assert await caps.clear_org_override(resources.sessionmaker, org_id, Capability.AFIP) is True
    assert await caps.clear_org_override(resources.sessionmaker, org_id, Capability.AFIP) is False
    assert (await caps.effective(resources.sessionmaker, Capability.AFIP, org_id)).source == "default"


async def test_system_switch_beats_the_org_override(
    resources: Resources, make_org, caps: Capabilities, clean_system: None
) -> None:
    org_id = await make_org()
    await caps.set_org_override(resources.sessionmaker, org_id, PANIC_CAPABILITY, True)

    await caps.set_system(resources.sessionmaker, PANIC_CAPABILITY, False, reason="Meta caído")
    off = await caps.effective(resources.sessionmaker, PANIC_CAPABILITY, org_id)
    assert (off.enabled, off.source, off.reason) == (False, "system", "Meta caído")
    assert await caps.is_enabled(resources.sessionmaker, PANIC_CAPABILITY, None) is False
    with pytest.raises(AppError) as refused:
        await caps.require(resources.sessionmaker, PANIC_CAPABILITY, org_id)
    assert refused.value.code is ErrorCode.CAPABILITY_DISABLED
    assert refused.value.status_code == 503
    assert refused.value.details["capability"] == "whatsapp"

    # panic over: the organisation's own choice applies again (a platform "on" forces nothing on)
    await caps.set_org_override(resources.sessionmaker, org_id, PANIC_CAPABILITY, False)
    await caps.set_system(resources.sessionmaker, PANIC_CAPABILITY, True, reason="Meta volvió")
    assert await caps.is_enabled(resources.sessionmaker, PANIC_CAPABILITY, org_id) is False
    assert await caps.is_enabled(resources.sessionmaker, PANIC_CAPABILITY, await make_org()) is True


async def test_require_passes_when_enabled(resources: Resources, make_org, caps: Capabilities) -> None:
    await caps.require(resources.sessionmaker, Capability.SMS, await make_org())


async def test_writes_invalidate_the_local_cache_and_others_expire(
    resources: Resources, make_org, clean_system: None
) -> None:
    org_id = await make_org()
    writer = Capabilities(cache_seconds=60)
    other_process = Capabilities(cache_seconds=0.3)
    sm = resources.sessionmaker
    assert await writer.is_enabled(sm, PANIC_CAPABILITY, org_id) is True
    assert await other_process.is_enabled(sm, PANIC_CAPABILITY, org_id) is True

    await writer.set_org_override(sm, org_id, PANIC_CAPABILITY, False)
    assert await writer.is_enabled(sm, PANIC_CAPABILITY, org_id) is False  # at once, despite a 60 s cache
    assert await other_process.is_enabled(sm, PANIC_CAPABILITY, org_id) is True  # still cached
    await asyncio.sleep(0.35)
    assert await other_process.is_enabled(sm, PANIC_CAPABILITY, org_id) is False

    await writer.clear_org_override(sm, org_id, PANIC_CAPABILITY)
    await writer.set_system(sm, PANIC_CAPABILITY, False, reason="prueba")
    assert await writer.is_enabled(sm, PANIC_CAPABILITY, org_id) is False
    await writer.clear_system(sm, PANIC_CAPABILITY)
    assert await writer.is_enabled(sm, PANIC_CAPABILITY, org_id) is True


async def test_cache_answers_without_the_database(resources: Resources, make_org, admin_conn) -> None:
    org_id = await make_org()
    caps = Capabilities(cache_seconds=60)
    assert await caps.is_enabled(resources.sessionmaker, Capability.VOICE, org_id) is True
    # changed behind the service's back (another process): the cached answer stands until it expires
    await admin_conn.execute(
        "INSERT INTO capability_overrides (id, org_id, capability, enabled, created_at, updated_at) "
        "VALUES ($1, $2, 'voice', false, now(), now())",
        uuid.uuid4(),
        org_id,
    )
    assert await caps.is_enabled(resources.sessionmaker, Capability.VOICE, org_id) is True
    caps.invalidate(org_id)
    assert await caps.is_enabled(resources.sessionmaker, Capability.VOICE, org_id) is False


async def test_request_session_is_used_and_flushed_not_committed(
    resources: Resources, make_org, caps: Capabilities
) -> None:
    org_id = await make_org()
    session = tenant_session(resources.sessionmaker, org_id)
    try:
        await caps.set_org_override(session, org_id, Capability.MERCADOPAGO, False)
        assert await caps.is_enabled(session, Capability.MERCADOPAGO, org_id) is False
        await session.rollback()
    finally:
        await session.close()
    caps.invalidate(org_id)
    assert await caps.is_enabled(resources.sessionmaker, Capability.MERCADOPAGO, org_id) is True


async def test_a_session_of_another_org_is_refused(resources: Resources, make_org, caps: Capabilities) -> None:
    org_a, org_b = await make_org(), await make_org()
    session_b = tenant_session(resources.sessionmaker, org_b)
    try:
        with pytest.raises(ValueError):
            await caps.set_org_override(session_b, org_a, Capability.AFIP, False)
        with pytest.raises(ValueError):
            await caps.is_enabled(session_b, Capability.AFIP, org_a)
    finally:
        await session_b.close()


async def test_row_level_security_isolates_overrides(
    resources: Resources, make_org, caps: Capabilities, app_conn: asyncpg.Connection
) -> None:
    org_a, org_b = await make_org(), await make_org()
    await caps.set_org_override(resources.sessionmaker, org_a, Capability.AFIP, False, reason="solo A")

    # org B's tenant session (application role) does not see A's override ...
    async with tenant_transaction(resources.sessionmaker, org_b) as session:
        rows = (await session.execute(select(CapabilityOverride))).scalars().all()
        assert all(row.org_id == org_b for row in rows)
    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, org_b) is True

    # ... and cannot write one for A, even bypassing the service's check
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(resources.sessionmaker, org_b) as session:
            session.add(CapabilityOverride(org_id=org_a, capability="sms", enabled=False))
    assert "row-level security" in str(refused.value)

    # the raw application role: same answer
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.org_id', $1, true)", str(org_b))
        visible = await app_conn.fetch("SELECT org_id FROM capability_overrides WHERE org_id = $1", org_a)
        assert visible == []
        updated = await app_conn.execute("UPDATE capability_overrides SET enabled = true WHERE org_id = $1", org_a)
        assert updated == "UPDATE 0"
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.org_id', $1, true)", str(org_a))
        own = await app_conn.fetch("SELECT enabled, reason FROM capability_overrides WHERE org_id = $1", org_a)
        assert [(r["enabled"], r["reason"]) for r in own] == [(False, "solo A")]
    # without any tenant context nothing org-owned is visible
    assert await app_conn.fetch("SELECT 1 FROM capability_overrides") == []
    assert await caps.is_enabled(resources.sessionmaker, Capability.AFIP, org_a) is False
