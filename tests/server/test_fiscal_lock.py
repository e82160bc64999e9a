"""The fiscal lock: once AFIP authorised an invoice (it has a CAE), its fiscal fields, its lines and its
existence are final. The ``invoices_fiscal_lock`` and ``invoice_lines_fiscal_lock`` triggers raise
SQLSTATE CTF01, which the API maps to 409 ``fiscal_fields_locked``.

Everything runs as the application role inside the organisation's tenant context, the way the app does.
(No invoice endpoints exist yet, so there is no HTTP-level check here.)
"""

from __future__ import annotations

import datetime
import importlib.util
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.engine import tenant_transaction
from server.db.models.customer import Customer
from server.db.models.invoice import Invoice, InvoiceLetter, InvoiceLine
from server.lib.errors import sqlstate_of
from server.runtime import Resources
from server.settings import PROJECT_ROOT
from shared.states import InvoiceStatus

MakeOrg = Callable[..., Awaitable[uuid.UUID]]
LOCKED = "CTF01"
ISSUE_DATE = datetime.date(2026, 11, 20)


def _fiscal_fields() -> tuple[str, ...]:
    path = PROJECT_ROOT / "migrations" / "versions" / "2026-11-25_0002_security.py"
    spec = importlib.util.spec_from_file_location("_migration_0002_fiscal", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.INVOICE_FISCAL_FIELDS)


FISCAL_FIELDS = _fiscal_fields()


@dataclass(frozen=True)
class Issued:
    org_id: uuid.UUID
    invoice_id: uuid.UUID
    line_id: uuid.UUID
    other_customer_id: uuid.UUID
    other_invoice_id: uuid.UUID


async def _draft(session: AsyncSession, org_id: uuid.UUID, customer_id: uuid.UUID, number: int | None) -> Invoice:
    invoice = Invoice(
        org_id=org_id,
        customer_id=customer_id,
        letter=InvoiceLetter.B,
        receipt_type=6,
        point_of_sale=1,
        number=number,
        issue_date=ISSUE_DATE,
        concept=2,
        service_from=ISSUE_DATE,
        service_to=ISSUE_DATE,
        payment_due=ISSUE_DATE,
        doc_type=96,
        doc_number="30111222",
        receiver_iva_condition_id=5,
        net_amount=Decimal("1000.00"),
        iva_amount=Decimal("210.00"),
        total_amount=Decimal("1210.00"),
    )
    session.add(invoice)
    await session.flush()
    session.add(
        InvoiceLine(
            org_id=org_id,
            invoice_id=invoice.id,
            description="Cambio de flexible",
            unit_price=Decimal("1000.00"),
            net_amount=Decimal("1000.00"),
            iva_amount=Decimal("210.00"),
            total_amount=Decimal("1210.00"),
        )
    )
    await session.flush()
    return invoice


async def _make(resources: Resources, make_org: MakeOrg, *, authorise: bool) -> Issued:
    org_id = await make_org("Gasista Fiscal")
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        customers = [Customer(org_id=org_id, name=name) for name in ("Ana Pérez", "Beto Gómez")]
        session.add_all(customers)
        await session.flush()
        other = await _draft(session, org_id, customers[0].id, None)
        invoice = await _draft(session, org_id, customers[0].id, 42)
        line_id = (await session.scalars(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id))).one()
    if authorise:  # AFIP answered: CAE, due date and status in one update (allowed: there was no CAE yet)
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            await session.execute(
                update(Invoice)
                .where(Invoice.id == invoice.id)
                .values(cae="76123456789012", cae_due_date=datetime.date(2026, 11, 30), status=InvoiceStatus.ISSUED)
            )
    return Issued(org_id, invoice.id, line_id, customers[1].id, other.id)


@pytest.fixture(name="draft")
async def fixture_draft(resources: Resources, make_org: MakeOrg) -> Issued:
    return await _make(resources, make_org, authorise=False)


@pytest.fixture(name="issued")
async def fixture_issued(resources: Resources, make_org: MakeOrg) -> Issued:
    return await _make(resources, make_org, authorise=True)


async def _locked(sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID, statement: Any) -> None:
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(sessionmaker, org_id) as session:
            await session.execute(statement)
    assert sqlstate_of(refused.value) == LOCKED, refused.value


def _new_values(inv: Issued) -> dict[str, Any]:
    """A different value for every fiscal field."""
    later = ISSUE_DATE + datetime.timedelta(days=3)
    return {
        "customer_id": inv.other_customer_id,
        "associated_invoice_id": inv.other_invoice_id,
        "letter": InvoiceLetter.A,
        "receipt_type": 1,
        "point_of_sale": 2,
        "number": 43,
        "issue_date": later,
        "concept": 3,
        "service_from": later,
        "service_to": later,
        "payment_due": later,
        "doc_type": 80,
        "doc_number": "20111111112",
        "receiver_iva_condition_id": 1,
        "net_amount": Decimal("1.00"),
        "untaxed_amount": Decimal("1.00"),
        "exempt_amount": Decimal("1.00"),
        "iva_amount": Decimal("1.00"),
        "other_taxes_amount": Decimal("1.00"),
        "total_amount": Decimal("1.00"),
        "currency": "DOL",
        "exchange_rate": Decimal("1000.000000"),
        "cae": "76999999999999",
        "cae_due_date": later,
    }


@pytest.fixture(name="fiscal_field", params=FISCAL_FIELDS)
def fixture_fiscal_field(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def test_every_fiscal_field_has_a_test_value() -> None:
    fake = Issued(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    assert set(_new_values(fake)) == set(FISCAL_FIELDS)
    # the AFIP-authorised content of the invoice, at least, is in the list
    assert {"cae", "cae_due_date", "number", "point_of_sale", "receipt_type", "total_amount", "customer_id"} <= set(
        FISCAL_FIELDS
    )


# ---------------------------------------------------------------------------------------------- before the CAE


async def test_a_draft_can_be_edited_and_deleted(
    resources: Resources, admin_conn: asyncpg.Connection, draft: Issued
) -> None:
    async with tenant_transaction(resources.sessionmaker, draft.org_id) as session:
        await session.execute(
            update(Invoice).where(Invoice.id == draft.invoice_id).values(_new_values(draft) | {"cae": None})
        )
        await session.execute(
            update(InvoiceLine).where(InvoiceLine.id == draft.line_id).values(description="Otra cosa")
        )
        await session.execute(
            insert(InvoiceLine).values(
                org_id=draft.org_id, invoice_id=draft.invoice_id, description="Extra", unit_price=Decimal("5.00")
            )
        )
        await session.execute(delete(InvoiceLine).where(InvoiceLine.id == draft.line_id))
    assert await admin_conn.fetchval("SELECT total_amount FROM invoices WHERE id = $1", draft.invoice_id) == Decimal(
        "1.00"
    )
    async with tenant_transaction(resources.sessionmaker, draft.org_id) as session:
        await session.execute(delete(Invoice).where(Invoice.id == draft.invoice_id))
    assert await admin_conn.fetchval("SELECT count(*) FROM invoices WHERE id = $1", draft.invoice_id) == 0
    assert await admin_conn.fetchval("SELECT count(*) FROM invoice_lines WHERE invoice_id = $1", draft.invoice_id) == 0


# ---------------------------------------------------------------------------------------------- after the CAE


async def test_each_fiscal_field_is_locked(resources: Resources, issued: Issued, fiscal_field: str) -> None:
    value = _new_values(issued)[fiscal_field]
    statement = update(Invoice).where(Invoice.id == issued.invoice_id).values({fiscal_field: value})
    await _locked(resources.sessionmaker, issued.org_id, statement)


async def test_the_cae_cannot_be_removed(resources: Resources, issued: Issued) -> None:
    await _locked(
        resources.sessionmaker,
        issued.org_id,
        update(Invoice).where(Invoice.id == issued.invoice_id).values(cae=None, status=InvoiceStatus.DRAFT),
    )


async def test_orm_edit_of_an_issued_invoice_is_refused(resources: Resources, issued: Issued) -> None:
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(resources.sessionmaker, issued.org_id) as session:
            invoice = await session.get_one(Invoice, issued.invoice_id)
            invoice.total_amount = Decimal("999.99")
    assert sqlstate_of(refused.value) == LOCKED


async def test_non_fiscal_fields_still_change(
    resources: Resources, admin_conn: asyncpg.Connection, issued: Issued
) -> None:
    async with tenant_transaction(resources.sessionmaker, issued.org_id) as session:
        invoice = await session.get_one(Invoice, issued.invoice_id)
        invoice.status = InvoiceStatus.PAID
        invoice.paid_amount = Decimal("1210.00")
        invoice.afip_messages = [{"code": 10217, "msg": "observación"}]
        invoice.issued_at = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=datetime.UTC)
        # writing a fiscal field's own value back is not a change
        invoice.total_amount = Decimal("1210.00")
        await session.execute(
            update(Invoice).where(Invoice.id == issued.invoice_id).values(number=Invoice.number, cae=Invoice.cae)
        )
    row = await admin_conn.fetchrow(
        "SELECT status, paid_amount, total_amount, cae FROM invoices WHERE id = $1", issued.invoice_id
    )
    assert dict(row) == {
        "status": "paid",
        "paid_amount": Decimal("1210.00"),
        "total_amount": Decimal("1210.00"),
        "cae": "76123456789012",
    }


async def test_an_issued_invoice_cannot_be_deleted(resources: Resources, issued: Issued) -> None:
    await _locked(resources.sessionmaker, issued.org_id, delete(Invoice).where(Invoice.id == issued.invoice_id))


async def test_lines_of_an_issued_invoice_are_locked(resources: Resources, issued: Issued) -> None:
    lines = InvoiceLine.__table__
    await _locked(
        resources.sessionmaker,
        issued.org_id,
        insert(lines).values(
            id=uuid.uuid4(),
            org_id=issued.org_id,
            invoice_id=issued.invoice_id,
            description="Agregado después",
            unit_price=Decimal("5.00"),
        ),
    )
    await _locked(
        resources.sessionmaker,
        issued.org_id,
        update(InvoiceLine).where(InvoiceLine.id == issued.line_id).values(description="Otra cosa"),
    )
    await _locked(
        resources.sessionmaker,
        issued.org_id,
        update(InvoiceLine).where(InvoiceLine.id == issued.line_id).values(total_amount=Decimal("0.01")),
    )
    await _locked(resources.sessionmaker, issued.org_id, delete(InvoiceLine).where(InvoiceLine.id == issued.line_id))


async def test_the_lock_holds_for_the_owner_too(admin_conn: asyncpg.Connection, issued: Issued) -> None:
    """Triggers apply to every role: only disabling them (a deliberate, logged DBA act) gets past."""
    for statement in (
        "UPDATE invoices SET total_amount = 1 WHERE id = $1",
        "DELETE FROM invoices WHERE id = $1",
    ):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await admin_conn.execute(statement, issued.invoice_id)
        assert refused.value.sqlstate == LOCKED
