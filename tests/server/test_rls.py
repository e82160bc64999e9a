"""Row-level security as the application role: a tenant sees and touches only its own rows.

Every org-owned table (every model with the ``OrgOwned`` mixin, so new tables are covered without editing
this file) gets one row for each of two organisations, inserted as the superuser. The application role
then reads and writes through the app's own path (``tenant_transaction``) and through raw SQL on its
own connection, including crafted ``WHERE`` clauses naming the other organisation.

What RLS does not defend against: the tenant setting is trusted from the connection, so code that can
run arbitrary SQL as the application role can call ``set_config('app.org_id', …)`` itself (see
``test_tenant_setting_is_trusted_from_the_connection``). The boundary is that user input never reaches
SQL text (parameters only, never formatted into statements) and that the tenant is set only by
``tenant_session`` from the authenticated principal.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg
import pytest
from advanced_alchemy.base import orm_registry
from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

import server.db.models  # noqa: F401  (registers every table)
from server.db.base import OrgOwned
from server.db.engine import create_sessionmaker, tenant_transaction
from server.domain.audit.services import record
from server.runtime import Resources
from server.settings import asyncpg_url

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

from tests.server.schema_rows import column_value

MakeOrg = Callable[..., Awaitable[uuid.UUID]]
Seeded = dict[str, uuid.UUID]  # table name → the key (id; org_id for a per-org table) of the row seeded for one org

ORG_OWNED: list[Table] = [
    table
    for table in orm_registry.metadata.sorted_tables  # parents before children
    if any(issubclass(m.class_, OrgOwned) and m.local_table is table for m in orm_registry.mappers)
]
ORG_OWNED_NAMES = [t.name for t in ORG_OWNED]
APPEND_ONLY = {"audit_log"}  # the app role may not UPDATE or DELETE these at all
UNDELETABLE = {*APPEND_ONLY, "audit_chain_heads"}  # the app role may not DELETE these
WRITABLE = [name for name in ORG_OWNED_NAMES if name not in APPEND_ONLY]
DELETABLE = [name for name in ORG_OWNED_NAMES if name not in UNDELETABLE]


def _key(table: str) -> str:
    """The table's one-column primary key: ``id``, or ``org_id`` for a table with one row per org."""
    (column,) = orm_registry.metadata.tables[table].primary_key.columns
    return column.name


# ---------------------------------------------------------------------------------------------- seeding


async def _seed(conn: AsyncConnection, org_id: uuid.UUID) -> Seeded:
    """One row in every org-owned table for ``org_id`` (as the superuser: RLS does not apply)."""
    seeded: Seeded = {}
    for table in ORG_OWNED:
        values = {
            column.name: column_value(column, org_id, seeded)
            for column in table.columns
            if not column.nullable
            and column.default is None
            and column.server_default is None
            and column.identity is None
        }
        key = table.c[_key(table.name)]
        seeded[table.name] = (await conn.execute(insert(table).values(**values).returning(key))).scalar_one()
    return seeded


@pytest.fixture(name="admin_engine", scope="module")
async def fixture_admin_engine(database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(asyncpg_url(database.admin_url), pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(name="two_orgs")
async def fixture_two_orgs(
    admin_engine: AsyncEngine, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]:
    org_a = await make_org("Tenant A")
    org_b = await make_org("Tenant B")
    async with admin_engine.begin() as conn:
        rows_a = await _seed(conn, org_a)
        rows_b = await _seed(conn, org_b)
    for table in ORG_OWNED_NAMES:  # the rows really exist
        count = await admin_conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE org_id = ANY($1::uuid[])", [org_a, org_b]
        )
        assert count == 2, table
    return org_a, rows_a, org_b, rows_b


async def _set_org(conn: asyncpg.Connection, org_id: uuid.UUID | None) -> None:
    await conn.execute("SELECT set_config('app.org_id', $1, true)", str(org_id) if org_id else "")


# ---------------------------------------------------------------------------------------------- reading


async def test_without_a_tenant_every_org_owned_table_looks_empty(
    resources: Resources, app_conn: asyncpg.Connection, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    assert len(ORG_OWNED_NAMES) >= 22
    async with tenant_transaction(resources.sessionmaker, None) as session:
        for table in [*ORG_OWNED_NAMES, "organizations"]:
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table
    for table in [*ORG_OWNED_NAMES, "organizations"]:
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_a_tenant_sees_only_its_own_rows(
    resources: Resources, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    org_a, rows_a, org_b, _ = two_orgs
    async with tenant_transaction(resources.sessionmaker, org_a) as session:
        for table in ORG_OWNED_NAMES:
            rows = (await session.execute(text(f"SELECT {_key(table)} AS key, org_id FROM {table}"))).all()
            assert {r.org_id for r in rows} == {org_a}, table
            assert rows_a[table] in {r.key for r in rows}, table
        orgs = (await session.execute(text("SELECT id FROM organizations"))).scalars().all()
        assert orgs == [org_a]
        # asking for B by id, even through the parameter of a crafted WHERE, finds nothing
        b_org = await session.execute(text("SELECT id FROM organizations WHERE id = :b"), {"b": org_b})
        assert b_org.first() is None
        b_rows = await session.execute(text("SELECT id FROM customers WHERE org_id = :b OR true"), {"b": org_b})
        assert {r.id for r in b_rows} == {rows_a["customers"]}


async def test_crafted_updates_and_deletes_cannot_reach_another_tenant(
    app_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
    two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded],
) -> None:
    org_a, _, org_b, rows_b = two_orgs
    transaction = app_conn.transaction()
    await transaction.start()
    try:
        await _set_org(app_conn, org_a)
        for table in WRITABLE:
            assert (
                await app_conn.execute(f"UPDATE {table} SET org_id = org_id WHERE {_key(table)} = $1", rows_b[table])
                == "UPDATE 0"
            ), table
            assert await app_conn.execute(f"UPDATE {table} SET org_id = $1 WHERE org_id = $1", org_b) == "UPDATE 0"
        assert await app_conn.execute("UPDATE organizations SET name = 'taken' WHERE id = $1", org_b) == "UPDATE 0"
        # an unqualified write touches only the tenant's own rows
        assert await app_conn.execute("UPDATE customers SET notes = 'mine'") == "UPDATE 1"
        for table in reversed(DELETABLE):  # children first, so foreign keys do not get in the way
            assert await app_conn.execute(f"DELETE FROM {table} WHERE {_key(table)} = $1", rows_b[table]) == (
                "DELETE 0"
            )
            assert await app_conn.execute(f"DELETE FROM {table} WHERE org_id = $1", org_b) == "DELETE 0"
        assert await app_conn.execute("DELETE FROM organizations WHERE id = $1", org_b) == "DELETE 0"
    finally:
        await transaction.rollback()

    for table in ORG_OWNED_NAMES:
        assert await admin_conn.fetchval(f"SELECT count(*) FROM {table} WHERE org_id = $1", org_b) == 1, table
    assert await admin_conn.fetchval("SELECT name FROM organizations WHERE id = $1", org_b) == "Tenant B"
    assert await admin_conn.fetchval("SELECT notes FROM customers WHERE id = $1", rows_b["customers"]) is None


async def test_rows_cannot_be_written_into_or_moved_to_another_tenant(
    app_conn: asyncpg.Connection, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    org_a, rows_a, org_b, _ = two_orgs
    async with app_conn.transaction():
        await _set_org(app_conn, org_a)
        for table in WRITABLE:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                async with app_conn.transaction():  # a savepoint: the error aborts only this statement
                    await app_conn.execute(
                        f"UPDATE {table} SET org_id = $1 WHERE {_key(table)} = $2", org_b, rows_a[table]
                    )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with app_conn.transaction():
                await app_conn.execute(
                    "INSERT INTO customers (id, org_id, name, other_phones, doc_type, iva_condition, "
                    "created_at, updated_at) "
                    "VALUES ($1, $2, 'Intruso', '{}', 'none', 'consumidor_final', now(), now())",
                    uuid.uuid4(),
                    org_b,
                )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with app_conn.transaction():
                await app_conn.execute(
                    "INSERT INTO audit_log (id, org_id, action, entity_type, created_at) "
                    "VALUES ($1, $2, 'forged', 'invoice', now())",
                    uuid.uuid4(),
                    org_b,
                )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with app_conn.transaction():
                await app_conn.execute(
                    "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at) "
                    "VALUES ($1, 'Otra', '30000000000', '{}', true, now(), now())",
                    uuid.uuid4(),
                )


async def test_without_a_tenant_nothing_can_be_inserted(
    app_conn: asyncpg.Connection, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    org_a, *_ = two_orgs
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await app_conn.execute(
            "INSERT INTO customers (id, org_id, name, other_phones, doc_type, iva_condition, created_at, updated_at) "
            "VALUES ($1, $2, 'Sin contexto', '{}', 'none', 'consumidor_final', now(), now())",
            uuid.uuid4(),
            org_a,
        )


# ---------------------------------------------------------------------------------------------- the setting


async def test_tenant_setting_does_not_outlive_its_transaction(
    database: TestDatabase, app_conn: asyncpg.Connection, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    org_a, *_ = two_orgs
    # the app's path: one pooled connection, a tenant transaction, then one without a tenant
    engine = create_async_engine(asyncpg_url(database.app_url), pool_size=1, max_overflow=0)
    try:
        sessionmaker = create_sessionmaker(engine)
        pid = text("SELECT pg_backend_pid()")
        async with tenant_transaction(sessionmaker, org_a) as session:
            first_pid = (await session.execute(pid)).scalar_one()
            assert (await session.execute(text("SELECT count(*) FROM customers"))).scalar_one() == 1
        async with tenant_transaction(sessionmaker, None) as session:
            assert (await session.execute(pid)).scalar_one() == first_pid  # the very same connection
            assert (await session.execute(text("SELECT current_setting('app.org_id', true)"))).scalar_one() == ""
            assert (await session.execute(text("SELECT count(*) FROM customers"))).scalar_one() == 0
    finally:
        await engine.dispose()

    # raw: set outside an explicit transaction, the setting lasts one statement
    await _set_org(app_conn, org_a)
    assert await app_conn.fetchval("SELECT current_setting('app.org_id', true)") == ""
    assert await app_conn.fetchval("SELECT count(*) FROM customers") == 0
    # and a rolled-back transaction leaves nothing behind either
    async with app_conn.transaction():
        await _set_org(app_conn, org_a)
        assert await app_conn.fetchval("SELECT count(*) FROM customers") == 1
    assert await app_conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_tenant_setting_is_trusted_from_the_connection(
    app_conn: asyncpg.Connection, two_orgs: tuple[uuid.UUID, Seeded, uuid.UUID, Seeded]
) -> None:
    """Documents the limit of RLS: SQL running on the app's connection may switch tenants itself.

    That is why user input must never become SQL text: with parameters only, a request cannot issue
    this ``set_config``; its tenant comes from ``tenant_session`` and the authenticated principal.
    """
    org_a, _, org_b, rows_b = two_orgs
    async with app_conn.transaction():
        await _set_org(app_conn, org_a)
        await _set_org(app_conn, org_b)
        assert await app_conn.fetchval("SELECT id FROM customers") == rows_b["customers"]


# ---------------------------------------------------------------------------------------------- audit log


async def test_app_role_cannot_update_or_delete_audit_entries(
    resources: Resources, app_conn: asyncpg.Connection, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org()
    async with tenant_transaction(resources.sessionmaker, org) as session:
        entry = await record(
            session, org_id=org, actor_id=None, action="customer.created", entity_type="customer", entity_id=None
        )
    for statement in (
        "UPDATE audit_log SET action = 'rewritten' WHERE id = $1",
        "DELETE FROM audit_log WHERE id = $1",
    ):
        async with app_conn.transaction():
            await _set_org(app_conn, org)
            assert await app_conn.fetchval("SELECT count(*) FROM audit_log WHERE id = $1", entry.id) == 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table audit_log"):
                await app_conn.execute(statement, entry.id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table audit_log"):
        await app_conn.execute("TRUNCATE audit_log")
    # nor reset the organisation's chain head (the trigger only inserts and updates it)
    async with app_conn.transaction():
        await _set_org(app_conn, org)
        assert await app_conn.fetchval("SELECT last_seq FROM audit_chain_heads") == entry.seq
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table audit_chain_heads"):
            await app_conn.execute("DELETE FROM audit_chain_heads")
    assert await admin_conn.fetchval("SELECT action FROM audit_log WHERE id = $1", entry.id) == "customer.created"
