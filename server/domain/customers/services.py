"""Customers: one a phone (a duplicate is refused naming the first), documents checked, typo-tolerant search.

Every create, update and archive of a customer or an address writes the audit chain with before/after.
Reads and writes run in the caller's tenant (row-level security): another organisation's id looks
exactly like a missing one.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Select, String, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Customer, CustomerAddress, Invoice, Job, Payment, WhatsAppMessage
from server.db.models.customer import FOLD_FROM, FOLD_TO
from server.domain.audit.services import record_by
from server.lib.context import RequestContext
from server.lib.errors import AppError, sqlstate_of
from server.lib.pagination import check_offset, clamp_limit, paginate_offset
from shared.errors import ErrorCode
from shared.fiscal.documents import DocumentType, InvalidDocument, default_iva_condition, normalize_document
from shared.phones import InvalidPhone, normalize_phone
from shared.schemas import customers as wire

NAME_SIMILARITY = 0.45  # word_similarity above which a name counts as a (misspelled) match
HISTORY_LIMIT = 50


# ---------------------------------------------------------------------------------------------- wire


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def to_address(address: CustomerAddress) -> wire.Address:
    return wire.Address(
        id=address.id,
        label=address.label,
        street=address.street,
        city=address.city,
        province=address.province,
        postal_code=address.postal_code,
        reference=address.reference,
        zone=address.zone,
        lat=_float(address.lat),
        lng=_float(address.lng),
        is_default=address.is_default,
    )


def to_customer(customer: Customer, addresses: Sequence[CustomerAddress]) -> wire.Customer:
    return wire.Customer(
        id=customer.id,
        name=customer.name,
        phone=customer.phone,
        other_phones=list(customer.other_phones or []),
        email=customer.email,
        doc_type=DocumentType(customer.doc_type),
        doc_number=customer.doc_number,
        iva_condition=customer.iva_condition,
        notes=customer.notes,
        archived_at=customer.archived_at,
        addresses=[to_address(a) for a in addresses],
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


def _snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "phone": customer.phone,
        "otherPhones": list(customer.other_phones or []),
        "email": customer.email,
        "docType": str(customer.doc_type),
        "docNumber": customer.doc_number,
        "ivaCondition": str(customer.iva_condition),
        "notes": customer.notes,
        "archivedAt": customer.archived_at.isoformat() if customer.archived_at else None,
    }


def _address_snapshot(address: CustomerAddress) -> dict[str, Any]:
    return msgspec.to_builtins(to_address(address))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- rules


def _phone(raw: str, key: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise AppError(
            ErrorCode.PHONE_INVALID, str(exc), details=[{"key": key, "problem": exc.problem.value}]
        ) from None


def _document(doc_type: DocumentType, number: str | None) -> str | None:
    try:
        return normalize_document(doc_type, number) or None
    except InvalidDocument as exc:
        raise AppError(
            ErrorCode.DOCUMENT_INVALID,
            str(exc),
            details=[{"key": "docNumber", "docType": doc_type.value, "problem": exc.problem.value}],
        ) from None


async def _check_phone_free(session: AsyncSession, phone: str | None, own_id: uuid.UUID | None = None) -> None:
    if phone is None:
        return
    statement = select(Customer.id, Customer.name).where(Customer.phone == phone, Customer.archived_at.is_(None))
    if own_id is not None:
        statement = statement.where(Customer.id != own_id)
    existing = (await session.execute(statement.limit(1))).first()
    if existing is not None:
        raise AppError(
            ErrorCode.CUSTOMER_PHONE_DUPLICATE,
            details={"key": "phone", "existingCustomerId": str(existing.id), "existingCustomerName": existing.name},
        )


async def _flush(session: AsyncSession, phone: str | None) -> None:
    """Flush; a concurrent customer that took the phone meanwhile is still a 409 naming it."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if sqlstate_of(exc) == "23505" and "ix_customers_org_phone" in str(exc.orig):
            await _check_phone_free(session, phone)
        raise


def _decimal(value: float | None) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


# ---------------------------------------------------------------------------------------------- reads


async def get_customer(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:  # another org's id looks exactly like a missing one
        raise AppError(ErrorCode.NOT_FOUND)
    return customer


async def addresses_of(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    found: dict[uuid.UUID, list[Any]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return found
    rows = await session.scalars(
        select(CustomerAddress)
        .where(CustomerAddress.customer_id.in_(customer_ids))
        .order_by(CustomerAddress.is_default.desc(), CustomerAddress.created_at, CustomerAddress.id)
    )
    for address in rows:
        found[address.customer_id].append(address)
    return found


async def read_customer(session: AsyncSession, customer_id: uuid.UUID) -> wire.Customer:
    customer = await get_customer(session, customer_id)
    return to_customer(customer, (await addresses_of(session, [customer.id]))[customer.id])


def _search(statement: Select[Any], q: str) -> Select[Any]:
    """Digits (with spaces, dashes, dots or +) search phones anywhere and documents; text searches names."""
    text = q.strip()
    digits = re.sub(r"\D", "", text)
    if digits and re.fullmatch(r"[\d\s.\-+()/]+", text):
        pattern = f"%{digits}%"
        return statement.where(
            or_(
                Customer.phone.like(pattern),
                func.array_to_string(Customer.other_phones, " ").like(pattern),
                Customer.doc_number == digits.lstrip("0"),
                Customer.doc_number == digits,
            )
        ).order_by(Customer.name, Customer.id)
    folded = func.translate(func.lower(literal(text, String)), FOLD_FROM, FOLD_TO)
    escaped = re.sub(r"([\\%_])", r"\\\1", text.lower())
    fragment = func.translate(literal(f"%{escaped}%", String), FOLD_FROM, FOLD_TO)
    similarity = func.word_similarity(folded, Customer.search_name)
    return statement.where(or_(Customer.search_name.like(fragment), similarity >= NAME_SIMILARITY)).order_by(
        similarity.desc(), Customer.name, Customer.id
    )


async def list_customers(
    session: AsyncSession,
    q: str | None = None,
    archived: bool = False,
    limit: int | None = 50,
    offset: int | None = 0,
) -> wire.CustomerPage:
    statement = select(Customer)
    statement = statement.where(Customer.archived_at.is_not(None) if archived else Customer.archived_at.is_(None))
    statement = _search(statement, q) if q and q.strip() else statement.order_by(Customer.name, Customer.id)
    page_limit, page_offset = clamp_limit(limit), check_offset(offset)
    rows, total = await paginate_offset(session, statement, page_limit, page_offset)
    addresses = await addresses_of(session, [c.id for c in rows])
    return wire.CustomerPage(
        items=[to_customer(c, addresses[c.id]) for c in rows], total=total, limit=page_limit, offset=page_offset
    )


# ---------------------------------------------------------------------------------------------- writes


def _new_address(ctx: RequestContext, customer_id: uuid.UUID, data: wire.AddressCreate) -> CustomerAddress:
    assert ctx.org_id is not None
    return CustomerAddress(
        org_id=ctx.org_id,
        customer_id=customer_id,
        label=data.label,
        street=data.street.strip(),
        city=data.city,
        province=data.province,
        postal_code=data.postal_code,
        reference=data.reference,
        zone=data.zone.strip() if data.zone else None,
        lat=_decimal(data.lat),
        lng=_decimal(data.lng),
        is_default=data.is_default,
    )


async def create_customer(
    session: AsyncSession, ctx: RequestContext, data: wire.CustomerCreate, trace_id: str | None
) -> wire.Customer:
    assert ctx.org_id is not None
    phone = _phone(data.phone, "phone") if data.phone and data.phone.strip() else None
    others = [_phone(p, f"otherPhones[{i}]") for i, p in enumerate(data.other_phones)]
    doc_number = _document(data.doc_type, data.doc_number)
    iva = data.iva_condition or default_iva_condition(data.doc_type, doc_number)
    await _check_phone_free(session, phone)
    customer = Customer(
        org_id=ctx.org_id,
        name=data.name.strip(),
        phone=phone,
        other_phones=[p for p in dict.fromkeys(others) if p != phone],
        email=data.email,
        doc_type=data.doc_type,
        doc_number=doc_number,
        iva_condition=iva,
        notes=data.notes,
    )
    session.add(customer)
    await _flush(session, phone)
    addresses = [_new_address(ctx, customer.id, a) for a in data.addresses]
    if addresses and not any(a.is_default for a in addresses):
        addresses[0].is_default = True
    seen_default = False
    for address in addresses:  # one default: the first one marked
        address.is_default = address.is_default and not seen_default
        seen_default = seen_default or address.is_default
    session.add_all(addresses)
    await session.flush()
    await session.refresh(customer)
    await record_by(session, ctx, "customer.created", "customer", customer.id, None, _snapshot(customer), trace_id)
    for address in addresses:
        await record_by(
            session,
            ctx,
            "customer_address.created",
            "customer_address",
            address.id,
            None,
            _address_snapshot(address),
            trace_id,
        )
    return to_customer(customer, addresses)


async def update_customer(
    session: AsyncSession,
    ctx: RequestContext,
    customer_id: uuid.UUID,
    data: wire.CustomerUpdate,
    trace_id: str | None,
) -> wire.Customer:
    customer = await get_customer(session, customer_id)
    before = _snapshot(customer)
    if data.name is not msgspec.UNSET:
        customer.name = data.name.strip()
    if data.phone is not msgspec.UNSET:
        phone = _phone(data.phone, "phone") if data.phone and data.phone.strip() else None
        if phone != customer.phone and customer.archived_at is None:
            await _check_phone_free(session, phone, customer.id)
        customer.phone = phone
    if data.other_phones is not msgspec.UNSET:
        others = [_phone(p, f"otherPhones[{i}]") for i, p in enumerate(data.other_phones)]
        customer.other_phones = [p for p in dict.fromkeys(others) if p != customer.phone]
    if data.email is not msgspec.UNSET:
        customer.email = data.email
    doc_changed = data.doc_type is not msgspec.UNSET or data.doc_number is not msgspec.UNSET
    if doc_changed:
        doc_type = data.doc_type if data.doc_type is not msgspec.UNSET else DocumentType(customer.doc_type)
        raw = data.doc_number if data.doc_number is not msgspec.UNSET else customer.doc_number
        if doc_type is DocumentType.NONE and data.doc_number is msgspec.UNSET:
            raw = None  # switching to "no document" drops the number
        customer.doc_type = doc_type
        customer.doc_number = _document(doc_type, raw)
    if data.iva_condition is not msgspec.UNSET:
        customer.iva_condition = data.iva_condition
    elif doc_changed:  # the suggestion follows a new document unless the user sets it
        customer.iva_condition = default_iva_condition(DocumentType(customer.doc_type), customer.doc_number)
    if data.notes is not msgspec.UNSET:
        customer.notes = data.notes
    await _flush(session, customer.phone)
    await session.refresh(customer)
    after = _snapshot(customer)
    if after != before:
        changed = [k for k in after if after[k] != before[k]]
        await record_by(
            session,
            ctx,
            "customer.updated",
            "customer",
            customer.id,
            {k: before[k] for k in changed},
            {k: after[k] for k in changed},
            trace_id,
        )
    return to_customer(customer, (await addresses_of(session, [customer.id]))[customer.id])


async def archive_customer(
    session: AsyncSession, ctx: RequestContext, customer_id: uuid.UUID, trace_id: str | None
) -> wire.Customer:
    customer = await get_customer(session, customer_id)
    if customer.archived_at is None:
        customer.archived_at = datetime.datetime.now(datetime.UTC)
        await session.flush()
        await session.refresh(customer)
        await record_by(
            session,
            ctx,
            "customer.archived",
            "customer",
            customer.id,
            {"archivedAt": None},
            {"archivedAt": customer.archived_at.isoformat()},
            trace_id,
        )
    return to_customer(customer, (await addresses_of(session, [customer.id]))[customer.id])


# ---------------------------------------------------------------------------------------------- addresses


async def _get_address(session: AsyncSession, customer_id: uuid.UUID, address_id: uuid.UUID) -> CustomerAddress:
    address = await session.get(CustomerAddress, address_id)
    if address is None or address.customer_id != customer_id:
        raise AppError(ErrorCode.NOT_FOUND)
    return address


async def _clear_default(session: AsyncSession, customer_id: uuid.UUID, keep: uuid.UUID | None) -> None:
    statement = update(CustomerAddress).where(
        CustomerAddress.customer_id == customer_id, CustomerAddress.is_default.is_(True)
    )
    if keep is not None:
        statement = statement.where(CustomerAddress.id != keep)
    await session.execute(statement.values(is_default=False).execution_options(synchronize_session="fetch"))


async def add_address(
    session: AsyncSession,
    ctx: RequestContext,
    customer_id: uuid.UUID,
    data: wire.AddressCreate,
    trace_id: str | None,
) -> wire.Address:
    customer = await get_customer(session, customer_id)
    has_any = await session.scalar(
        select(func.count()).select_from(CustomerAddress).where(CustomerAddress.customer_id == customer.id)
    )
    address = _new_address(ctx, customer.id, data)
    if not has_any:
        address.is_default = True  # the first address is the default
    if address.is_default:
        await _clear_default(session, customer.id, None)
    session.add(address)
    await session.flush()
    await record_by(
        session,
        ctx,
        "customer_address.created",
        "customer_address",
        address.id,
        None,
        _address_snapshot(address),
        trace_id,
    )
    return to_address(address)


async def update_address(
    session: AsyncSession,
    ctx: RequestContext,
    customer_id: uuid.UUID,
    address_id: uuid.UUID,
    data: wire.AddressUpdate,
    trace_id: str | None,
) -> wire.Address:
    address = await _get_address(session, customer_id, address_id)
    before = _address_snapshot(address)
    for field in ("label", "street", "city", "province", "postal_code", "reference", "zone"):
        value = getattr(data, field)
        if value is not msgspec.UNSET:
            setattr(address, field, value.strip() if isinstance(value, str) and field in ("street", "zone") else value)
    if data.lat is not msgspec.UNSET:
        address.lat = _decimal(data.lat)
    if data.lng is not msgspec.UNSET:
        address.lng = _decimal(data.lng)
    if data.is_default is True and not address.is_default:
        await _clear_default(session, customer_id, address.id)
        address.is_default = True
    elif data.is_default is False:
        address.is_default = False
    await session.flush()
    after = _address_snapshot(address)
    if after != before:
        await record_by(
            session, ctx, "customer_address.updated", "customer_address", address.id, before, after, trace_id
        )
    return to_address(address)


async def delete_address(
    session: AsyncSession, ctx: RequestContext, customer_id: uuid.UUID, address_id: uuid.UUID, trace_id: str | None
) -> None:
    address = await _get_address(session, customer_id, address_id)
    before = _address_snapshot(address)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:  # the oldest remaining address becomes the default
        heir = await session.scalar(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id == customer_id)
            .order_by(CustomerAddress.created_at, CustomerAddress.id)
            .limit(1)
        )
        if heir is not None:
            heir.is_default = True
            await session.flush()
    await record_by(session, ctx, "customer_address.deleted", "customer_address", address_id, before, None, trace_id)


# ---------------------------------------------------------------------------------------------- history


async def history(session: AsyncSession, customer_id: uuid.UUID, limit: int | None = None) -> list[wire.HistoryEntry]:
    """The customer's jobs, invoices, payments and WhatsApp messages, newest first."""
    customer = await get_customer(session, customer_id)
    size = clamp_limit(limit, HISTORY_LIMIT)
    entries: list[wire.HistoryEntry] = []
    jobs = await session.scalars(
        select(Job).where(Job.customer_id == customer.id).order_by(Job.created_at.desc()).limit(size)
    )
    entries += [
        wire.HistoryEntry(kind="job", id=j.id, at=j.created_at, summary=j.title, status=str(j.status)) for j in jobs
    ]
    invoices = await session.scalars(
        select(Invoice).where(Invoice.customer_id == customer.id).order_by(Invoice.created_at.desc()).limit(size)
    )
    for inv in invoices:
        number = f"{inv.point_of_sale or 0:05d}-{inv.number:08d}" if inv.number else "borrador"
        summary = f"Factura {inv.letter or ''} {number}".replace("  ", " ")
        entries.append(
            wire.HistoryEntry(
                kind="invoice",
                id=inv.id,
                at=inv.created_at,
                summary=summary,
                status=str(inv.status),
                amount=inv.total_amount,
            )
        )
    payments = await session.scalars(
        select(Payment)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(Invoice.customer_id == customer.id)
        .order_by(Payment.created_at.desc())
        .limit(size)
    )
    entries += [
        wire.HistoryEntry(
            kind="payment",
            id=p.id,
            at=p.paid_at or p.created_at,
            summary=f"Pago ({p.method})",
            status=str(p.status),
            amount=p.amount,
        )
        for p in payments
    ]
    messages = await session.scalars(
        select(WhatsAppMessage)
        .where(WhatsAppMessage.customer_id == customer.id)
        .order_by(WhatsAppMessage.created_at.desc())
        .limit(size)
    )
    entries += [
        wire.HistoryEntry(
            kind="message",
            id=m.id,
            at=m.created_at,
            summary=(m.body or m.template_name or m.kind)[:200],
            status=str(m.direction),
        )
        for m in messages
    ]
    entries.sort(key=lambda e: (e.at, str(e.id)), reverse=True)
    return entries[:size]


__all__ = [
    "add_address",
    "archive_customer",
    "create_customer",
    "delete_address",
    "history",
    "list_customers",
    "read_customer",
    "update_address",
    "update_customer",
]
