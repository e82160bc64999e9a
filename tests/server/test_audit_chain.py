"""The audit log's hash chain: one unbroken chain per organisation, tampering detected, concurrency safe.

Entries are written through ``server.domain.audit.services.record`` as the application role (row-level
security applies); tampering is done as the superuser, the only one able to touch written entries.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import migrate
from server.db.engine import tenant_session, tenant_transaction
from server.db.models.audit import AuditLogEntry
from server.db.setup import drop_database, ensure_app_role, ensure_database, with_database
from server.domain.audit.services import (
    HASH_MISMATCH,
    PREV_HASH_MISMATCH,
    ChainReport,
    list_entries,
    record,
    verify_chain,
)
from server.lib.errors import AppError, sqlstate_of
from server.runtime import Resources
from tests.conftest import APP_ROLE

MakeOrg = Callable[..., Awaitable[uuid.UUID]]

SELECT_PID = text("SELECT pg_backend_pid()")
TAMPER = "UPDATE audit_log SET after = $2::jsonb WHERE id = $1"
SERIALIZATION_FAILURE = "40001"
FORGED = '{"total": "0.01"}'


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID, n: int, **extra: Any
) -> AuditLogEntry:
    """One entry in its own transaction, in ``org_id``'s tenant context."""
    async with tenant_transaction(sessionmaker, org_id) as session:
        return await record(
            session,
            org_id=org_id,
            actor_id=extra.get("actor_id"),
            action=extra.get("action", "invoice.updated"),
            entity_type="invoice",
            entity_id=extra.get("entity_id", uuid.uuid4()),
            before={"n": n - 1, "status": "draft"},
            after={"n": n, "status": "issued", "total": f"{n}.50"},
            trace_id=f"trace-{n}",
        )


async def _verify(sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> ChainReport:
    async with tenant_transaction(sessionmaker, org_id) as session:
        return await verify_chain(session, org_id)


async def _chain(admin_conn: asyncpg.Connection, org_id: uuid.UUID) -> list[asyncpg.Record]:
    return await admin_conn.fetch(
        "SELECT id, seq, prev_hash, hash, after FROM audit_log WHERE org_id = $1 ORDER BY seq", org_id
    )


def _assert_linked(chain: list[asyncpg.Record]) -> None:
    assert chain[0]["prev_hash"] is None
    for previous, entry in itertools.pairwise(chain):
        assert entry["prev_hash"] == previous["hash"], f"seq {entry['seq']} does not follow seq {previous['seq']}"
    assert len({e["hash"] for e in chain}) == len(chain)


async def test_record_returns_the_entry_as_the_trigger_chained_it(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    actor = uuid.uuid4()
    first = await _record(resources.sessionmaker, org, 1, actor_id=actor)
    second = await _record(resources.sessionmaker, org, 2)

    assert first.prev_hash is None
    assert first.hash is not None and len(first.hash) == 64
    assert second.prev_hash == first.hash
    assert second.seq > first.seq
    stored = await admin_conn.fetchrow("SELECT * FROM audit_log WHERE id = $1", first.id)
    assert stored["hash"] == first.hash
    assert stored["actor_id"] == actor
    assert stored["trace_id"] == "trace-1"
    # the stored hash is the SQL canonical hash of the stored content
    recomputed = await admin_conn.fetchval(
        "SELECT audit_entry_hash(prev_hash, org_id, seq, actor_id, action, entity_type, entity_id, "
        "before, after, created_at) FROM audit_log WHERE id = $1",
        first.id,
    )
    assert recomputed == first.hash


async def test_interleaved_orgs_each_get_their_own_unbroken_chain(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org_a = await make_org("Audit A")
    org_b = await make_org("Audit B")
    for n in range(1, 8):
        await _record(resources.sessionmaker, org_a, n)
        if n % 2:
            await _record(resources.sessionmaker, org_b, n)

    report_a = await _verify(resources.sessionmaker, org_a)
    report_b = await _verify(resources.sessionmaker, org_b)
    assert report_a == ChainReport(ok=True, checked=7)
    assert report_b == ChainReport(ok=True, checked=4)

    chain_a = await _chain(admin_conn, org_a)
    chain_b = await _chain(admin_conn, org_b)
    _assert_linked(chain_a)
    _assert_linked(chain_b)
    # the seqs interleave, yet no entry of one org points at the other org's entries
    assert chain_a[0]["seq"] < chain_b[0]["seq"] < chain_a[1]["seq"]
    assert not {e["prev_hash"] for e in chain_a} & {e["hash"] for e in chain_b}
    assert not {e["prev_hash"] for e in chain_b} & {e["hash"] for e in chain_a}


async def test_verify_sees_only_the_sessions_own_org(resources: Resources, make_org: MakeOrg) -> None:
    org_a = await make_org()
    org_b = await make_org()
    await _record(resources.sessionmaker, org_b, 1)
    async with tenant_transaction(resources.sessionmaker, org_a) as session:
        report = await verify_chain(session, org_b)
    # row-level security hides B's entries from A's session: nothing was checked
    assert report == ChainReport(ok=True, checked=0)


async def test_tampered_content_is_detected_as_hash_mismatch(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    for n in range(1, 6):
        await _record(resources.sessionmaker, org, n)
    assert await _verify(resources.sessionmaker, org) == ChainReport(ok=True, checked=5)
    chain = await _chain(admin_conn, org)
    victim = chain[2]

    # even the superuser cannot update an entry while the chain trigger is active
    with pytest.raises(asyncpg.PostgresError) as refused:
        await admin_conn.execute(TAMPER, victim["id"], FORGED)
    assert refused.value.sqlstate == "CTA01"

    async with admin_conn.transaction():
        await admin_conn.execute("SET LOCAL session_replication_role = replica")  # user triggers off
        await admin_conn.execute(TAMPER, victim["id"], FORGED)

    report = await _verify(resources.sessionmaker, org)
    assert report == ChainReport(
        ok=False, checked=3, broken_entry_id=victim["id"], broken_seq=victim["seq"], reason=HASH_MISMATCH
    )


async def test_rewritten_entry_with_recomputed_hash_breaks_the_next_link(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    for n in range(1, 5):
        await _record(resources.sessionmaker, org, n)
    chain = await _chain(admin_conn, org)
    victim, following = chain[1], chain[2]

    async with admin_conn.transaction():
        await admin_conn.execute("SET LOCAL session_replication_role = replica")
        await admin_conn.execute(
            "UPDATE audit_log SET after = $2::jsonb, "
            "hash = audit_entry_hash(prev_hash, org_id, seq, actor_id, action, entity_type, entity_id, "
            "before, $2::jsonb, created_at) WHERE id = $1",
            victim["id"],
            FORGED,
        )

    report = await _verify(resources.sessionmaker, org)
    assert report.ok is False
    assert report.broken_seq == following["seq"]
    assert report.broken_entry_id == following["id"]
    assert report.reason == PREV_HASH_MISMATCH


async def test_deleted_entry_is_detected_at_the_next_one(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    for n in range(1, 6):
        await _record(resources.sessionmaker, org, n)
    chain = await _chain(admin_conn, org)

    await admin_conn.execute("DELETE FROM audit_log WHERE id = $1", chain[2]["id"])

    report = await _verify(resources.sessionmaker, org)
    assert report == ChainReport(
        ok=False,
        checked=3,  # entries 1, 2 and 4 (the first broken link)
        broken_entry_id=chain[3]["id"],
        broken_seq=chain[3]["seq"],
        reason=PREV_HASH_MISMATCH,
    )


async def test_deleting_the_first_entry_is_detected(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    for n in range(1, 4):
        await _record(resources.sessionmaker, org, n)
    chain = await _chain(admin_conn, org)
    await admin_conn.execute("DELETE FROM audit_log WHERE id = $1", chain[0]["id"])

    report = await _verify(resources.sessionmaker, org)
    assert (report.ok, report.broken_seq, report.reason) == (False, chain[1]["seq"], PREV_HASH_MISMATCH)


async def test_concurrent_writers_for_one_org_keep_one_chain(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    other = await make_org()
    writers, per_writer = 6, 8

    async def writer(w: int) -> None:
        for i in range(per_writer):
            await _record(resources.sessionmaker, org, w * 100 + i)
            if i % 3 == 0:
                await _record(resources.sessionmaker, other, w * 100 + i)

    await asyncio.gather(*(writer(w) for w in range(writers)))

    assert await _verify(resources.sessionmaker, org) == ChainReport(ok=True, checked=writers * per_writer)
    assert await _verify(resources.sessionmaker, other) == ChainReport(ok=True, checked=writers * 3)
    _assert_linked(await _chain(admin_conn, org))
    _assert_linked(await _chain(admin_conn, other))


async def _wait_until_blocked(admin_conn: asyncpg.Connection, pid: int, blocker: int) -> None:
    """Poll (bounded) until backend ``pid`` waits on a lock held by ``blocker``."""
    for _ in range(500):
        if blocker in await admin_conn.fetchval("SELECT pg_blocking_pids($1)", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never blocked on {blocker}")


async def test_writer_waiting_while_another_transaction_appends_twice_keeps_the_chain(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    """Regression: the entry's ``seq`` is taken after the chain lock, so ``seq`` order is chain order.

    Transaction Y writes an entry (and holds the org's chain), X starts writing and waits, Y writes a
    second entry and commits, then X finishes. Had X kept the ``seq`` it drew before waiting, it would
    sit between Y's two entries while pointing at Y's second one: a broken chain.
    """
    org = await make_org()
    await _record(resources.sessionmaker, org, 0)
    x_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def writer_x() -> AuditLogEntry:
        async with tenant_transaction(resources.sessionmaker, org) as session:
            x_pid.set_result((await session.execute(SELECT_PID)).scalar_one())
            return await record(
                session, org_id=org, actor_id=None, action="x", entity_type="job", entity_id=None, after={"x": 1}
            )

    async with tenant_transaction(resources.sessionmaker, org) as session_y:
        y_pid = (await session_y.execute(SELECT_PID)).scalar_one()
        await record(session_y, org_id=org, actor_id=None, action="y1", entity_type="job", entity_id=None)
        task_x = asyncio.create_task(writer_x())
        await _wait_until_blocked(admin_conn, await x_pid, y_pid)
        await record(session_y, org_id=org, actor_id=None, action="y2", entity_type="job", entity_id=None)
    entry_x = await task_x

    chain = await _chain(admin_conn, org)
    assert chain[-1]["id"] == entry_x.id
    _assert_linked(chain)
    assert await _verify(resources.sessionmaker, org) == ChainReport(ok=True, checked=4)


async def _head(admin_conn: asyncpg.Connection, org_id: uuid.UUID) -> asyncpg.Record | None:
    return await admin_conn.fetchrow("SELECT last_seq, last_hash FROM audit_chain_heads WHERE org_id = $1", org_id)


async def test_the_chain_head_follows_the_newest_entry(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    other = await make_org()
    assert await _head(admin_conn, org) is None  # made by the first entry
    for n in range(1, 4):
        entry = await _record(resources.sessionmaker, org, n)
        assert tuple(await _head(admin_conn, org)) == (entry.seq, entry.hash)
    other_entry = await _record(resources.sessionmaker, other, 1)
    assert tuple(await _head(admin_conn, other)) == (other_entry.seq, other_entry.hash)
    assert tuple(await _head(admin_conn, org)) == (entry.seq, entry.hash)
    # the head goes with its organisation
    await admin_conn.execute("DELETE FROM organizations WHERE id = $1", other)
    assert await _head(admin_conn, other) is None


@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
@pytest.mark.parametrize("existing", [True, False], ids=["existing-chain", "first-entries"])
async def test_snapshot_writers_of_one_org_fail_to_serialize_instead_of_forking(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg, isolation: str, existing: bool
) -> None:
    """Regression: under REPEATABLE READ / SERIALIZABLE the previous hash used to be read from the
    transaction's snapshot, which can be older than the chain's end: two writers chained onto one entry.

    Both transactions take their snapshots before either appends. The second waits for the first's hold
    on the org's chain head; when the first commits, the second fails with a serialization error
    (40001) rather than append after an entry its snapshot does not show. Retried, it appends in turn.
    With ``existing=False`` the org has no entry (and no head row) yet: the two race to create the head.
    """
    org = await make_org()
    if existing:
        await _record(resources.sessionmaker, org, 0)
    first = tenant_session(resources.sessionmaker, org)
    second = tenant_session(resources.sessionmaker, org)
    try:
        pids = []
        for session in (first, second):
            await session.connection(execution_options={"isolation_level": isolation})
            # the snapshot is taken now, with the chain as it was before either writer
            assert (await session.execute(text("SELECT current_setting('transaction_isolation')"))).scalar_one() == (
                isolation.lower()
            )
            await session.execute(text("SELECT count(*) FROM audit_log"))
            pids.append((await session.execute(SELECT_PID)).scalar_one())

        entry_1 = await record(
            first, org_id=org, actor_id=None, action="first", entity_type="job", entity_id=None, after={"w": 1}
        )
        task_2 = asyncio.create_task(
            record(second, org_id=org, actor_id=None, action="second", entity_type="job", entity_id=None)
        )
        await _wait_until_blocked(admin_conn, pids[1], pids[0])
        await first.commit()
        with pytest.raises(DBAPIError) as refused:
            await task_2
        assert sqlstate_of(refused.value) == SERIALIZATION_FAILURE, refused.value
        await second.rollback()
    finally:
        await first.close()
        await second.close()

    retried = await _record(resources.sessionmaker, org, 2, action="second")
    chain = await _chain(admin_conn, org)
    assert [e["id"] for e in chain[-2:]] == [entry_1.id, retried.id]
    assert len(chain) == (3 if existing else 2)
    _assert_linked(chain)
    assert await _verify(resources.sessionmaker, org) == ChainReport(ok=True, checked=len(chain))
    assert tuple(await _head(admin_conn, org)) == (retried.seq, retried.hash)


@pytest.fixture(name="scratch_db")
async def fixture_scratch_db(pg_server_url: str) -> AsyncIterator[str]:
    name = f"campotech_audit_{uuid.uuid4().hex[:10]}"
    assert await ensure_database(pg_server_url, name)
    await ensure_app_role(pg_server_url, APP_ROLE)
    try:
        yield with_database(pg_server_url, name)
    finally:
        await drop_database(pg_server_url, name)


async def test_migration_0004_continues_existing_chains(scratch_db: str) -> None:
    """Chains written before the head table existed go on from their last entry."""
    await asyncio.to_thread(migrate.upgrade, scratch_db, "0003", APP_ROLE)
    conn = await asyncpg.connect(scratch_db)  # the superuser: row-level security does not apply
    try:
        orgs = [uuid.uuid4(), uuid.uuid4()]
        for n, org in enumerate(orgs):
            await conn.execute(
                "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at) "
                "VALUES ($1, 'Org', $2, '{}', true, now(), now())",
                org,
                f"3000000000{n}",
            )

        async def append(org: uuid.UUID, action: str) -> None:
            await conn.execute(
                "INSERT INTO audit_log (id, org_id, action, entity_type, created_at) VALUES ($1, $2, $3, 'job', now())",
                uuid.uuid4(),
                org,
                action,
            )

        for n in range(3):
            for org in orgs:
                await append(org, f"before-{n}")

        await asyncio.to_thread(migrate.upgrade, scratch_db, "head", APP_ROLE)
        for org in orgs:
            last = await conn.fetchrow(
                "SELECT seq, hash FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT 1", org
            )
            assert tuple(await _head(conn, org)) == (last["seq"], last["hash"])
            await append(org, "after")
            assert await conn.fetch("SELECT * FROM audit_chain_verify($1)", org) == []
            chain = await _chain(conn, org)
            assert len(chain) == 4
            _assert_linked(chain)
    finally:
        await conn.close()


async def test_list_entries_pages_newest_first_within_the_org(resources: Resources, make_org: MakeOrg) -> None:
    org = await make_org()
    other = await make_org()
    written = [await _record(resources.sessionmaker, org, n) for n in range(1, 6)]
    await _record(resources.sessionmaker, other, 1)

    seen: list[uuid.UUID] = []
    cursor: str | None = None
    pages = 0
    async with tenant_transaction(resources.sessionmaker, org) as session:
        while True:
            page = await list_entries(session, 2, cursor)
            seen.extend(e.id for e in page.items)
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        with pytest.raises(AppError):
            await list_entries(session, 0)
        with pytest.raises(AppError):
            await list_entries(session, 10, "not-a-cursor")
    assert pages == 3
    assert seen == [e.id for e in reversed(written)]
