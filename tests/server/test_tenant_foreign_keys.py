"""Tenant foreign keys: a row can only reference rows of its own organisation.

Foreign-key checks ignore row-level security, so a plain ``jobs.customer_id → customers.id`` would let
org A create a job (with A's ``org_id``) for org B's customer, or a line on B's CAE-authorised invoice.
Migration 0004 makes every reference between org-owned tables composite: ``(org_id, customer_id) →
customers (org_id, id)``. These tests derive the foreign keys from the models and from the live
database, so a table added later without a tenant foreign key fails here.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import asyncpg
import pytest
from advanced_alchemy.base import orm_registry
from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint, delete, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

import server.db.models  # noqa: F401  (registers every table)
from server.db.base import OrgOwned
from server.db.engine import tenant_transaction
from server.lib.errors import sqlstate_of
from server.runtime import Resources
from server.settings import PROJECT_ROOT, asyncpg_url

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

from tests.server.schema_rows import column_value

MakeOrg = Callable[..., Awaitable[uuid.UUID]]
FK_VIOLATION = "23503"
RESTRICT_VIOLATION = "23001"  # ON DELETE RESTRICT


def _load_migration(filename: str) -> ModuleType:
    path = PROJECT_ROOT / "migrations" / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"_migration_{path.stem.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MIGRATION = _load_migration("2026-11-25_0004_tenant_foreign_keys.py")
# later revisions list the tenant keys and tenant foreign keys of the tables they add
LATER_MIGRATIONS = [
    _load_migration("2026-11-25_0005_customers_pricebook.py"),
    _load_migration("2026-11-25_0008_keys_afip.py"),
    _load_migration("2026-11-25_0011_payments.py"),
]
TENANT_PARENTS = {p for m in [MIGRATION, *LATER_MIGRATIONS] for p in m.TENANT_PARENTS}
LISTED_TENANT_FOREIGN_KEYS = [fk for m in [MIGRATION, *LATER_MIGRATIONS] for fk in m.TENANT_FOREIGN_KEYS]

ORG_OWNED: list[Table] = [
    table
    for table in orm_registry.metadata.sorted_tables  # parents before children
    if any(issubclass(m.class_, OrgOwned) and m.local_table is table for m in orm_registry.mappers)
]
ORG_OWNED_NAMES = {t.name for t in ORG_OWNED}


class TenantFk(NamedTuple):
    table: str
    column: str
    parent: str
    ondelete: str  # as the model states it: SET NULL is written "SET NULL (column)"
    name: str


def _tenant_fks() -> list[TenantFk]:
    """Every foreign key from an org-owned table to another org-owned table, as the models declare it."""
    found = []
    for table in ORG_OWNED:
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name == "organizations":
                continue
            assert fk.referred_table.name in ORG_OWNED_NAMES, (table.name, fk.referred_table.name)
            column = next(c for c in fk.column_keys if c != "org_id")
            found.append(TenantFk(table.name, column, fk.referred_table.name, fk.ondelete or "", str(fk.name)))
    return sorted(found)


TENANT_FKS = _tenant_fks()


# ---------------------------------------------------------------------------------------------- declarations


def test_every_reference_between_org_owned_tables_is_a_tenant_foreign_key() -> None:
    assert len(TENANT_FKS) >= 32
    for table in ORG_OWNED:
        for fk in table.foreign_key_constraints:
            columns = [c.name for c in fk.columns]
            referred = [e.column.name for e in fk.elements]
            if fk.referred_table.name == "organizations":
                assert (columns, referred) == (["org_id"], ["id"]), fk.name
            else:
                assert len(columns) == 2 and columns[0] == "org_id", fk.name
                assert referred == ["org_id", "id"], fk.name
    # and no column references another org-owned table outside such a constraint
    for table in ORG_OWNED:
        for column in table.columns:
            for fk in column.foreign_keys:
                assert isinstance(fk.constraint, ForeignKeyConstraint)
                if fk.column.table.name != "organizations":
                    assert len(fk.constraint.columns) == 2, (table.name, column.name)


def test_set_null_leaves_org_id_alone() -> None:
    for fk in TENANT_FKS:
        if fk.ondelete.upper().startswith("SET NULL"):
            assert fk.ondelete == f"SET NULL ({fk.column})", fk
        else:
            assert fk.ondelete in {"CASCADE", "RESTRICT", "NO ACTION"}, fk


def test_every_referenced_table_has_the_tenant_key() -> None:
    parents = {fk.parent for fk in TENANT_FKS}
    for name in parents:
        uniques = [
            [c.name for c in constraint.columns]
            for constraint in orm_registry.metadata.tables[name].constraints
            if isinstance(constraint, UniqueConstraint)
        ]
        assert ["org_id", "id"] in uniques, name
    assert parents == TENANT_PARENTS


def test_migrations_list_exactly_the_models_tenant_foreign_keys() -> None:
    listed = {
        (table, column, parent, f"SET NULL ({column})" if ondelete == "SET NULL" else ondelete)
        for table, column, parent, ondelete in LISTED_TENANT_FOREIGN_KEYS
    }
    assert len(listed) == len(LISTED_TENANT_FOREIGN_KEYS)
    assert listed == {(fk.table, fk.column, fk.parent, fk.ondelete) for fk in TENANT_FKS}
    # named like the single-column keys they replaced
    assert all(fk.name == f"fk_{fk.table}_{fk.column}_{fk.parent}" for fk in TENANT_FKS)


_LIVE_FOREIGN_KEYS = """
SELECT c.conname AS name, child.relname AS child, parent.relname AS parent, c.confdeltype AS on_delete,
       array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i) AS columns,
       array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i) AS referred,
       array(SELECT a.attname::text FROM unnest(c.confdelsetcols) AS k(attnum)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS set_columns
  FROM pg_constraint c
  JOIN pg_class child ON child.oid = c.conrelid
  JOIN pg_class parent ON parent.oid = c.confrelid
 WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
"""


async def test_every_foreign_key_between_tenant_tables_in_the_database_includes_org_id(
    admin_conn: asyncpg.Connection,
) -> None:
    """From the live catalog, not the models: a table secured by ``org_id`` never references another
    one by its ``id`` alone."""
    tenant_tables = {
        r["tablename"]
        for r in await admin_conn.fetch(
            "SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = 'tenant_isolation' "
            "AND qual LIKE '(org_id = %'"
        )
    }
    assert tenant_tables == ORG_OWNED_NAMES
    checked = set()
    for fk in await admin_conn.fetch(_LIVE_FOREIGN_KEYS):
        if fk["child"] not in tenant_tables:
            continue
        columns, referred = list(fk["columns"]), list(fk["referred"])
        if fk["parent"] == "organizations":
            assert (columns, referred) == (["org_id"], ["id"]), fk["name"]
            continue
        assert fk["parent"] in tenant_tables, fk["name"]
        assert len(columns) == 2 and columns[0] == "org_id" and referred == ["org_id", "id"], dict(fk)
        if fk["on_delete"] in ("n", "d"):  # SET NULL / SET DEFAULT: the reference only, never org_id
            assert list(fk["set_columns"]) == [columns[1]], dict(fk)
        checked.add((fk["child"], fk["name"]))
    assert checked == {(fk.table, fk.name) for fk in TENANT_FKS}


# ---------------------------------------------------------------------------------------------- behaviour


def _required_values(table: Table, org_id: uuid.UUID, parents: dict[str, uuid.UUID]) -> dict[str, Any]:
    return {
        column.name: column_value(column, org_id, parents)
        for column in table.columns
        if not column.nullable
        and column.default is None
        and column.server_default is None
        and column.identity is None
        and not column.primary_key
    } | {"id": uuid.uuid4()}


def _parent_tables() -> list[Table]:
    """The referenced tables and, recursively, what their required columns reference (parents first)."""
    needed = {fk.parent for fk in TENANT_FKS}
    grew = True
    while grew:
        grew = False
        for table in ORG_OWNED:
            if table.name not in needed:
                continue
            for column in table.columns:
                if column.nullable or column.name == "org_id":
                    continue
                for fk in column.foreign_keys:
                    if fk.column.table.name not in needed:
                        needed.add(fk.column.table.name)
                        grew = True
    return [t for t in ORG_OWNED if t.name in needed]


async def _seed_parents(conn: AsyncConnection, org_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """One row in every referenced table for ``org_id`` (as the superuser), children left out."""
    parents: dict[str, uuid.UUID] = {}
    for table in _parent_tables():
        values = _required_values(table, org_id, parents)
        parents[table.name] = (await conn.execute(insert(table).values(**values).returning(table.c.id))).scalar_one()
    return parents


@pytest.fixture(name="admin_engine", scope="module")
async def fixture_admin_engine(database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(asyncpg_url(database.admin_url), pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


class TwoOrgs(NamedTuple):
    org_a: uuid.UUID
    parents_a: dict[str, uuid.UUID]
    org_b: uuid.UUID
    parents_b: dict[str, uuid.UUID]


@pytest.fixture(name="two_orgs")
async def fixture_two_orgs(admin_engine: AsyncEngine, make_org: MakeOrg) -> TwoOrgs:
    org_a = await make_org("Tenant FK A")
    org_b = await make_org("Tenant FK B")
    async with admin_engine.begin() as conn:
        parents_a = await _seed_parents(conn, org_a)
        parents_b = await _seed_parents(conn, org_b)
    return TwoOrgs(org_a, parents_a, org_b, parents_b)


def _pg_error(exc: DBAPIError) -> asyncpg.PostgresError:
    cause = getattr(exc.orig, "__cause__", None)
    assert isinstance(cause, asyncpg.PostgresError), exc
    return cause


@pytest.fixture(name="tenant_fk", params=TENANT_FKS, ids=[f"{fk.table}.{fk.column}" for fk in TENANT_FKS])
def fixture_tenant_fk(request: pytest.FixtureRequest) -> TenantFk:
    return request.param


async def test_a_row_cannot_reference_another_orgs_row(
    resources: Resources, admin_conn: asyncpg.Connection, two_orgs: TwoOrgs, tenant_fk: TenantFk
) -> None:
    """As the application role in A's tenant context: the child (A's org_id) pointing at B's parent is
    refused by the tenant foreign key; the same row pointing at A's own parent is accepted."""
    table = orm_registry.metadata.tables[tenant_fk.table]
    org_a, parents_a, _, parents_b = two_orgs

    def child(parent_id: uuid.UUID) -> dict[str, Any]:
        return _required_values(table, org_a, parents_a) | {tenant_fk.column: parent_id}

    crossing = child(parents_b[tenant_fk.parent])
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(resources.sessionmaker, org_a) as session:
            await session.execute(insert(table).values(**crossing))
    assert sqlstate_of(refused.value) == FK_VIOLATION, refused.value
    assert _pg_error(refused.value).constraint_name == tenant_fk.name
    assert await admin_conn.fetchval(f"SELECT count(*) FROM {table.name} WHERE id = $1", crossing["id"]) == 0

    # control: the same row within A is fine (so the refusal above is the tenant check, nothing else)
    own = child(parents_a[tenant_fk.parent])
    async with tenant_transaction(resources.sessionmaker, org_a) as session:
        await session.execute(insert(table).values(**own))
    assert await admin_conn.fetchval(f"SELECT org_id FROM {table.name} WHERE id = $1", own["id"]) == org_a


async def test_an_existing_row_cannot_be_repointed_at_another_org(
    app_conn: asyncpg.Connection, admin_conn: asyncpg.Connection, two_orgs: TwoOrgs
) -> None:
    org_a, parents_a, _, parents_b = two_orgs
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.org_id', $1, true)", str(org_a))
        with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
            await app_conn.execute(
                "UPDATE jobs SET customer_id = $1 WHERE id = $2", parents_b["customers"], parents_a["jobs"]
            )
    assert refused.value.constraint_name == "fk_jobs_customer_id_customers"
    assert (
        await admin_conn.fetchval("SELECT customer_id FROM jobs WHERE id = $1", parents_a["jobs"])
        == (parents_a["customers"])
    )


async def test_no_line_can_be_added_to_another_orgs_authorised_invoice(
    resources: Resources, admin_conn: asyncpg.Connection, two_orgs: TwoOrgs
) -> None:
    """The case that motivated the tenant keys: B's invoice has a CAE; the fiscal-lock trigger, running
    under A's row-level security, cannot even see it, so only the foreign key stands in the way."""
    org_a, parents_a, _, parents_b = two_orgs
    invoice_b = parents_b["invoices"]
    await admin_conn.execute(
        "UPDATE invoices SET cae = '76123456789012', cae_due_date = current_date WHERE id = $1", invoice_b
    )
    lines = orm_registry.metadata.tables["invoice_lines"]
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(resources.sessionmaker, org_a) as session:
            await session.execute(
                insert(lines).values(
                    id=uuid.uuid4(),
                    org_id=org_a,
                    invoice_id=invoice_b,
                    description="Línea intrusa",
                    unit_price=Decimal("1.00"),
                    quantity=Decimal("1"),
                    position=0,
                    discount=Decimal("0"),
                    iva_rate=Decimal("21.00"),
                    net_amount=Decimal("1.00"),
                    iva_amount=Decimal("0.21"),
                    total_amount=Decimal("1.21"),
                )
            )
    assert sqlstate_of(refused.value) == FK_VIOLATION
    assert _pg_error(refused.value).constraint_name == "fk_invoice_lines_invoice_id_invoices"
    assert await admin_conn.fetchval("SELECT count(*) FROM invoice_lines WHERE invoice_id = $1", invoice_b) == 0
    assert parents_a["invoices"] != invoice_b


async def test_on_delete_actions_are_kept_and_set_null_spares_org_id(
    resources: Resources, admin_conn: asyncpg.Connection, make_org: MakeOrg
) -> None:
    org = await make_org("Tenant FK delete")
    users = orm_registry.metadata.tables["users"]
    categories = orm_registry.metadata.tables["price_book_categories"]
    customers = orm_registry.metadata.tables["customers"]
    jobs = orm_registry.metadata.tables["jobs"]
    async with tenant_transaction(resources.sessionmaker, org) as session:
        inviter = _required_values(users, org, {})
        invited = _required_values(users, org, {}) | {"invited_by_id": inviter["id"]}
        root = _required_values(categories, org, {})
        child = _required_values(categories, org, {}) | {"parent_id": root["id"]}
        customer = _required_values(customers, org, {})
        job = _required_values(jobs, org, {"customers": customer["id"]}) | {"created_by_id": inviter["id"]}
        for table, row in ((users, inviter), (users, invited), (categories, root), (categories, child)):
            await session.execute(insert(table).values(**row))
        await session.execute(insert(customers).values(**customer))
        await session.execute(insert(jobs).values(**job))

    async with tenant_transaction(resources.sessionmaker, org) as session:
        # SET NULL (column): the reference goes, the row stays in its organisation
        await session.execute(delete(users).where(users.c.id == inviter["id"]))
        await session.execute(delete(categories).where(categories.c.id == root["id"]))
        # RESTRICT still holds
        with pytest.raises(DBAPIError) as restricted:
            async with session.begin_nested():
                await session.execute(delete(customers).where(customers.c.id == customer["id"]))
        assert sqlstate_of(restricted.value) == RESTRICT_VIOLATION
        # CASCADE still holds
        await session.execute(
            text("INSERT INTO job_notes (id, org_id, job_id, body, created_at) VALUES (:id, :org, :job, 'n', now())"),
            {"id": uuid.uuid4(), "org": org, "job": job["id"]},
        )
        await session.execute(delete(jobs).where(jobs.c.id == job["id"]))

    assert await admin_conn.fetchrow("SELECT org_id, invited_by_id FROM users WHERE id = $1", invited["id"]) == (
        org,
        None,
    )
    assert await admin_conn.fetchrow(
        "SELECT org_id, parent_id FROM price_book_categories WHERE id = $1", child["id"]
    ) == (org, None)
    assert await admin_conn.fetchval("SELECT count(*) FROM job_notes WHERE job_id = $1", job["id"]) == 0
    assert await admin_conn.fetchval("SELECT count(*) FROM customers WHERE id = $1", customer["id"]) == 1
