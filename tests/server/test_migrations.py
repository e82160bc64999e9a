"""Migrations: a clean round trip on a brand-new database, models and migrations agree, RLS on every tenant table.

``server.db.migrate`` runs Alembic, whose env calls ``asyncio.run``: from these async tests it runs in a
worker thread (``asyncio.to_thread``) so it never nests in the test's event loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from advanced_alchemy.base import orm_registry
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import server.db.models  # noqa: F401  (registers every table on the metadata)
from server.db import migrate
from server.db.base import OrgOwned
from server.db.setup import drop_database, ensure_app_role, ensure_database, with_database
from server.settings import PROJECT_ROOT, asyncpg_url
from tests.conftest import APP_ROLE

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

MIGRATIONS = PROJECT_ROOT / "migrations" / "versions"

# Tables that deliberately carry no tenant: platform-wide data an operator manages.
NON_TENANT_TABLES = {
    "alembic_version",
    "data_keys",
    "dead_letter_jobs",
    "mercadopago_webhook_events",
    "system_capabilities",
}


def _load_migration(filename: str) -> ModuleType:
    path: Path = MIGRATIONS / filename
    spec = importlib.util.spec_from_file_location(f"_migration_{path.stem.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="security_migration", scope="module")
def fixture_security_migration() -> Iterator[ModuleType]:
    yield _load_migration("2026-11-25_0002_security.py")


@pytest.fixture(name="tenant_fk_migration", scope="module")
def fixture_tenant_fk_migration() -> Iterator[ModuleType]:
    yield _load_migration("2026-11-25_0004_tenant_foreign_keys.py")


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and name == "alembic_version")


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    """Alembic autogenerate's comparison, exactly as ``migrations/env.py`` configures it.

    No ``compare_type`` hook is needed: advanced-alchemy's ``GUID`` and ``DateTimeUTC`` are
    TypeDecorators whose PostgreSQL implementations (``UUID``, ``TIMESTAMP WITH TIME ZONE``) are what
    Alembic compares against the reflected columns, so they produce no false differences.
    """
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _include_object})
    return list(compare_metadata(context, metadata))


async def _schema_diff(url: str) -> list[Any]:
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff, orm_registry.metadata)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------- round trip


@pytest.fixture(name="scratch_db")
async def fixture_scratch_db(pg_server_url: str) -> AsyncIterator[str]:
    """A brand-new empty database on the test server, dropped at the end."""
    name = f"campotech_mig_{uuid.uuid4().hex[:10]}"
    assert await ensure_database(pg_server_url, name)
    await ensure_app_role(pg_server_url, APP_ROLE)
    try:
        yield with_database(pg_server_url, name)
    finally:
        await drop_database(pg_server_url, name)


async def _public_objects(conn: asyncpg.Connection) -> dict[str, set[str]]:
    """What the migrations own in schema ``public`` (alembic's own table excluded)."""

    async def names(sql: str) -> set[str]:
        return {r[0] for r in await conn.fetch(sql)}

    return {
        "tables": await names(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ),
        "types": await names(
            "SELECT t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND NOT EXISTS "
            "(SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relname = 'alembic_version') "
            "AND t.typname <> '_alembic_version'"
        ),
        "enums": await names("SELECT typname FROM pg_type WHERE typtype = 'e'"),
        "functions": await names("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"),
        "sequences": await names("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"),
        "policies": await names("SELECT tablename || '.' || policyname FROM pg_policies"),
        "triggers": await names("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"),
        "extensions": await names("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"),
        "rls_tables": await names(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND (relrowsecurity OR relforcerowsecurity)"
        ),
        "app_grants": await names(
            "SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants "
            f"WHERE grantee = '{APP_ROLE}'"
        ),
    }


async def _upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate.upgrade, url, revision, APP_ROLE)


async def _downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(migrate.downgrade, url, revision, APP_ROLE)


def _org_owned_model_tables() -> set[str]:
    return {mapper.class_.__table__.name for mapper in orm_registry.mappers if issubclass(mapper.class_, OrgOwned)}


SECURITY_FUNCTIONS = {
    "audit_chain_verify",
    "audit_entry_hash",
    "audit_log_chain",
    "invoice_lines_fiscal_lock",
    "invoices_fiscal_lock",
    "set_updated_at",
}


async def _foreign_key_definitions(conn: asyncpg.Connection) -> dict[str, str]:
    """Every foreign key in ``public``: ``table.constraint`` → its definition as PostgreSQL prints it."""
    rows = await conn.fetch(
        "SELECT conrelid::regclass::text || '.' || conname AS name, pg_get_constraintdef(oid) AS definition "
        "FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    )
    return {r["name"]: r["definition"] for r in rows}


async def test_upgrade_downgrade_upgrade_on_a_new_database(
    scratch_db: str, security_migration: ModuleType, tenant_fk_migration: ModuleType
) -> None:
    await _upgrade(scratch_db)
    conn = await asyncpg.connect(scratch_db)
    try:
        head = await _public_objects(conn)
        assert head["tables"] == {t.name for t in orm_registry.metadata.sorted_tables}
        assert {"invoice_status", "job_status", "user_role"} <= head["enums"]
        assert head["functions"] >= SECURITY_FUNCTIONS
        tenant_tables = _org_owned_model_tables() | {"organizations"}
        assert {f"{t}.tenant_isolation" for t in tenant_tables} <= head["policies"]
        assert head["rls_tables"] == tenant_tables
        assert head["app_grants"], "the app role got no grants"
        assert await _schema_diff(scratch_db) == []

        # 0004 down: the single-column foreign keys of 0001/0003 come back, exactly as they were
        await _downgrade(scratch_db, "0003")
        fks = await _foreign_key_definitions(conn)
        for table, column, parent, ondelete in tenant_fk_migration.TENANT_FOREIGN_KEYS:
            assert fks[f"{table}.fk_{table}_{column}_{parent}"] == (
                f"FOREIGN KEY ({column}) REFERENCES {parent}(id) ON DELETE {ondelete}"
            )
        assert not [name for name in fks if "org_id" in fks[name] and not name.endswith("_org_id_organizations")]
        assert not await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'uq_%_org_id_id'")
        assert "audit_chain_heads" not in (await _public_objects(conn))["tables"]
        assert "pg_advisory_xact_lock" in await conn.fetchval(
            "SELECT prosrc FROM pg_proc WHERE proname = 'audit_log_chain'"
        )

        # down to the plain schema of 0001: no policy, trigger, RLS flag, grant or function of the later
        # revisions is left behind
        await _downgrade(scratch_db, "0001")
        plain = await _public_objects(conn)
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == "0001"
        assert plain["policies"] == set()
        assert plain["triggers"] == set()
        assert plain["rls_tables"] == set()
        assert plain["app_grants"] == set()
        assert not SECURITY_FUNCTIONS & plain["functions"]
        # 0002's list is exactly the org-owned tables that exist at 0001 (later revisions secure their own)
        assert set(security_migration.ORG_OWNED_TABLES) == plain["tables"] & _org_owned_model_tables()

        await _downgrade(scratch_db)
        base = await _public_objects(conn)
        assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 0
        assert base == {key: set() for key in base}, {key: value for key, value in base.items() if value}

        # and the way back up works again, to the same schema
        await _upgrade(scratch_db)
        again = await _public_objects(conn)
        assert again == head
        assert await _schema_diff(scratch_db) == []
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------- models vs migrations


async def test_models_and_migrations_agree(database: TestDatabase) -> None:
    assert await _schema_diff(database.admin_url) == []


async def test_schema_diff_does_notice_a_drift(database: TestDatabase) -> None:
    """Guards the test above against passing vacuously (filters too wide, types not compared)."""
    engine = create_async_engine(asyncpg_url(database.admin_url))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("ALTER TABLE customers ADD COLUMN drift_probe integer"))
            await conn.execute(text("ALTER TABLE customers ALTER COLUMN phone TYPE varchar(30)"))
            await conn.execute(text("DROP INDEX ix_jobs_org_start"))
            diffs = await conn.run_sync(_diff, orm_registry.metadata)
            await conn.rollback()
    finally:
        await engine.dispose()
    # column changes come grouped in lists, table-level ones as tuples
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    assert any(d[0] == "remove_column" and d[2] == "customers" and d[3].name == "drift_probe" for d in flat)
    assert any(d[0] == "modify_type" and d[2:4] == ("customers", "phone") for d in flat)
    assert any(d[0] == "add_index" and d[1].name == "ix_jobs_org_start" for d in flat)


# ---------------------------------------------------------------------------------------------- row-level security


# Policies other than tenant_isolation, each reviewed: SELECT-only, keyed on a transaction-local setting
# the server sets for one lookup before any organisation is known (migration 0003, sign-in and sign-up).
EXTRA_SELECT_POLICIES = {
    ("users", "login_by_phone"): "((phone)::text = NULLIF(current_setting('app.login_phone'::text, true), ''::text))",
    ("organizations", "signup_by_cuit"): (
        "((cuit)::text = NULLIF(current_setting('app.signup_cuit'::text, true), ''::text))"
    ),
}


def test_org_owned_tables_list_matches_the_models(security_migration: ModuleType) -> None:
    model_tables = _org_owned_model_tables()
    listed = security_migration.ORG_OWNED_TABLES
    assert len(set(listed)) == len(listed)  # no duplicates
    assert set(listed) <= model_tables, set(listed) - model_tables
    # (that it is *all* of them at revision 0001 is checked by the round trip above)

    # every table is either org-owned, the organisations themselves, or deliberately platform-wide
    all_tables = {t.name for t in orm_registry.metadata.sorted_tables}
    assert all_tables == model_tables | {"organizations"} | (NON_TENANT_TABLES - {"alembic_version"})
    for name in model_tables:
        column = orm_registry.metadata.tables[name].c.org_id
        assert not column.nullable
        # org_id alone references the organisation; it is also the first half of every tenant foreign key
        # (org_id, x) → parent (org_id, id), where it only ever meets the parent's org_id
        assert {fk.column.table.name for fk in column.foreign_keys if len(fk.constraint.columns) == 1} == {
            "organizations"
        }
        assert all(fk.column.name == "org_id" for fk in column.foreign_keys if len(fk.constraint.columns) > 1)


async def test_every_tenant_table_has_forced_rls_and_a_policy(admin_conn: asyncpg.Connection) -> None:
    tenant_tables = _org_owned_model_tables() | {"organizations"}
    rows = await admin_conn.fetch(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
    )
    flags = {r["relname"]: (r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows}
    assert set(flags) == tenant_tables | NON_TENANT_TABLES, "a table is neither tenant-owned nor platform-wide"
    for table in tenant_tables:
        assert flags[table] == (True, True), f"{table}: RLS not enabled and forced"
    for table in NON_TENANT_TABLES:
        assert flags[table] == (False, False)

    policies = await admin_conn.fetch(
        "SELECT tablename, policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
        "WHERE schemaname = 'public'"
    )
    tenant = {p["tablename"]: p for p in policies if p["policyname"] == "tenant_isolation"}
    assert set(tenant) == tenant_tables
    for table, policy in tenant.items():
        key = "id" if table == "organizations" else "org_id"
        expected = f"({key} = (NULLIF(current_setting('app.org_id'::text, true), ''::text))::uuid)"
        assert policy["cmd"] == "ALL", table
        assert policy["roles"] == ["public"], table
        assert policy["qual"] == expected, table
        assert policy["with_check"] == expected, table

    # any other (permissive, OR-ed) policy widens what a session sees: each must be known and read-only
    extra = {(p["tablename"], p["policyname"]): p for p in policies if p["policyname"] != "tenant_isolation"}
    assert set(extra) == set(EXTRA_SELECT_POLICIES), "a new policy needs a security review (and a line here)"
    for key, policy in extra.items():
        assert policy["cmd"] == "SELECT", key
        assert policy["qual"] == EXTRA_SELECT_POLICIES[key], key
        assert policy["with_check"] is None, key


async def test_app_role_cannot_bypass_rls(admin_conn: asyncpg.Connection, app_conn: asyncpg.Connection) -> None:
    role = await admin_conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1", APP_ROLE
    )
    assert role is not None
    assert dict(role) == {"rolsuper": False, "rolbypassrls": False, "rolcreaterole": False, "rolcreatedb": False}
    assert await app_conn.fetchval("SELECT current_user") == APP_ROLE
    # the app role owns no table (owners are exempt from RLS unless FORCE) and cannot touch migrations
    owned = await admin_conn.fetchval(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)", APP_ROLE
    )
    assert owned == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.fetchval("SELECT version_num FROM alembic_version")
