"""The price book: categories, items (one code per org), regional price lists, complexity, CSV in and out.

Prices follow ``shared.pricing`` (zone price > base × zone multiplier, then × complexity, rounded once).
Every create and update writes the audit chain with before/after. A CSV import is all-or-nothing: any
bad line refuses the whole file (422 listing every bad line), else it upserts by code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import ComplexityMultiplier, PriceBookCategory, PriceBookItem, PriceList, PriceListItem
from server.domain.audit.services import record_by
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.pagination import check_offset, clamp_limit, paginate_offset
from shared.errors import ErrorCode
from shared.pricebook_csv import PriceBookRow, export_pricebook_csv, parse_pricebook_csv
from shared.pricing import (
    DEFAULT_COMPLEXITY_MULTIPLIERS,
    IVA_RATES,
    Complexity,
    ItemKind,
    ZoneRule,
    complexity_multiplier,
    resolve_price,
)
from shared.schemas import pricebook as wire

MAX_MULTIPLIER = Decimal("99.9999")
MAX_PRICE = Decimal("999999999999.99")

# ---------------------------------------------------------------------------------------------- helpers


def _invalid(key: str, message: str) -> AppError:
    return AppError(ErrorCode.VALIDATION_FAILED, message, details=[{"key": key, "message": message}])


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_price(value: Decimal, key: str) -> Decimal:
    if not value.is_finite() or value <= 0 or value > MAX_PRICE:
        raise _invalid(key, "El precio debe ser mayor que cero.")
    if _decimals(value.normalize()) > 2:
        raise _invalid(key, "El precio tiene como máximo 2 decimales.")
    return value.quantize(Decimal("0.01"))


def check_iva(value: Decimal, key: str = "ivaRate") -> Decimal:
    if not value.is_finite() or value not in IVA_RATES:
        rates = ", ".join(f"{r.normalize():f}" for r in sorted(IVA_RATES))
        raise _invalid(key, f"La alícuota de IVA debe ser una de las de AFIP: {rates} %.")
    return value.quantize(Decimal("0.01"))


def check_multiplier(value: Decimal, key: str) -> Decimal:
    if not value.is_finite() or value <= 0 or value > MAX_MULTIPLIER:
        raise _invalid(key, "El multiplicador debe ser mayor que cero (por ejemplo 1.25).")
    if _decimals(value.normalize()) > 4:
        raise _invalid(key, "El multiplicador tiene como máximo 4 decimales.")
    return value


def show_multiplier(value: Decimal) -> Decimal:
    """As stored (up to 4 decimals) but with at least 2: ``1.25``, ``2.00``, ``1.0525``."""
    number = Decimal(value).normalize()
    return number.quantize(Decimal("0.01")) if _decimals(number) < 2 else number


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    changed = [k for k in after if after[k] != before.get(k)]
    if not changed:
        return None
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _plain(struct: msgspec.Struct, *drop: str) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(struct)
    for key in drop:
        data.pop(key, None)
    return data


# ---------------------------------------------------------------------------------------------- categories


def to_category(category: PriceBookCategory) -> wire.Category:
    return wire.Category(id=category.id, name=category.name, parent_id=category.parent_id, position=category.position)


async def list_categories(session: AsyncSession) -> list[wire.Category]:
    rows = await session.scalars(select(PriceBookCategory).order_by(PriceBookCategory.position, PriceBookCategory.name))
    return [to_category(c) for c in rows]


async def _get_category(session: AsyncSession, category_id: uuid.UUID) -> PriceBookCategory:
    category = await session.get(PriceBookCategory, category_id)
    if category is None:
        raise AppError(ErrorCode.NOT_FOUND)
    return category


async def _check_category_ref(session: AsyncSession, category_id: uuid.UUID | None, key: str) -> None:
    if category_id is not None and await session.get(PriceBookCategory, category_id) is None:
        raise _invalid(key, "Esa categoría no existe.")


async def _check_category_name(session: AsyncSession, name: str, own_id: uuid.UUID | None = None) -> None:
    statement = select(PriceBookCategory.id).where(func.lower(PriceBookCategory.name) == name.lower())
    if own_id is not None:
        statement = statement.where(PriceBookCategory.id != own_id)
    existing = await session.scalar(statement.limit(1))
    if existing is not None:
        raise AppError(ErrorCode.PRICEBOOK_CATEGORY_DUPLICATE, details={"key": "name", "existingId": str(existing)})


async def create_category(
    session: AsyncSession, ctx: RequestContext, data: wire.CategoryCreate, trace_id: str | None
) -> wire.Category:
    assert ctx.org_id is not None
    name = data.name.strip()
    await _check_category_name(session, name)
    await _check_category_ref(session, data.parent_id, "parentId")
    category = PriceBookCategory(org_id=ctx.org_id, name=name, parent_id=data.parent_id, position=data.position)
    session.add(category)
    await session.flush()
    out = to_category(category)
    await record_by(
        session,
        ctx,
        "pricebook_category.created",
        "price_book_category",
        category.id,
        None,
        _plain(out, "id"),
        trace_id,
    )
    return out


async def update_category(
    session: AsyncSession, ctx: RequestContext, category_id: uuid.UUID, data: wire.CategoryUpdate, trace_id: str | None
) -> wire.Category:
    category = await _get_category(session, category_id)
    before = _plain(to_category(category), "id")
    if data.name is not msgspec.UNSET:
        await _check_category_name(session, data.name.strip(), category.id)
        category.name = data.name.strip()
    if data.parent_id is not msgspec.UNSET:
        if data.parent_id == category.id:
            raise _invalid("parentId", "Una categoría no puede estar dentro de sí misma.")
        await _check_category_ref(session, data.parent_id, "parentId")
        category.parent_id = data.parent_id
    if data.position is not msgspec.UNSET:
        category.position = data.position
    await session.flush()
    out = to_category(category)
    changed = _changes(before, _plain(out, "id"))
    if changed:
        await record_by(
            session, ctx, "pricebook_category.updated", "price_book_category", category.id, *changed, trace_id
        )
    return out


# ---------------------------------------------------------------------------------------------- items


def to_item(item: PriceBookItem) -> wire.Item:
    return wire.Item(
        id=item.id,
        code=item.code,
        kind=ItemKind(item.kind),
        name=item.name,
        unit=item.unit,
        base_price=item.base_price,
        iva_rate=item.iva_rate,
        afip_product_code=item.afip_product_code,
        category_id=item.category_id,
        is_active=item.is_active,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _item_snapshot(item: PriceBookItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "kind": str(item.kind),
        "name": item.name,
        "unit": item.unit,
        "basePrice": str(Decimal(item.base_price).quantize(Decimal("0.01"))),
        "ivaRate": str(Decimal(item.iva_rate).quantize(Decimal("0.01"))),
        "afipProductCode": item.afip_product_code,
        "categoryId": str(item.category_id) if item.category_id else None,
        "isActive": item.is_active,
    }


async def get_item(session: AsyncSession, item_id: uuid.UUID) -> PriceBookItem:
    item = await session.get(PriceBookItem, item_id)
    if item is None:
        raise AppError(ErrorCode.NOT_FOUND)
    return item


async def _check_code_free(session: AsyncSession, code: str, own_id: uuid.UUID | None = None) -> None:
    statement = select(PriceBookItem.id, PriceBookItem.name).where(func.lower(PriceBookItem.code) == code.lower())
    if own_id is not None:
        statement = statement.where(PriceBookItem.id != own_id)
    existing = (await session.execute(statement.limit(1))).first()
    if existing is not None:
        raise AppError(
            ErrorCode.PRICEBOOK_CODE_DUPLICATE,
            details={"key": "code", "existingItemId": str(existing.id), "existingItemName": existing.name},
        )


async def _flush_item(session: AsyncSession, code: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_price_book_items_org_code" in str(exc.orig):
            await _check_code_free(session, code)
        raise


async def list_items(
    session: AsyncSession,
    q: str | None = None,
    category_id: uuid.UUID | None = None,
    kind: ItemKind | None = None,
    active: bool | None = None,
    limit: int | None = 50,
    offset: int | None = 0,
) -> wire.ItemPage:
    statement = select(PriceBookItem)
    if q and q.strip():
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(func.lower(PriceBookItem.name).like(pattern), func.lower(PriceBookItem.code).like(pattern))
        )
    if category_id is not None:
        statement = statement.where(PriceBookItem.category_id == category_id)
    if kind is not None:
        statement = statement.where(PriceBookItem.kind == kind)
    if active is not None:
        statement = statement.where(PriceBookItem.is_active.is_(active))
    page_limit, page_offset = clamp_limit(limit), check_offset(offset)
    rows, total = await paginate_offset(
        session, statement.order_by(PriceBookItem.code, PriceBookItem.id), page_limit, page_offset
    )
    return wire.ItemPage(items=[to_item(i) for i in rows], total=total, limit=page_limit, offset=page_offset)


async def create_item(
    session: AsyncSession, ctx: RequestContext, data: wire.ItemCreate, trace_id: str | None
) -> wire.Item:
    assert ctx.org_id is not None
    code = data.code.strip()
    if not code:
        raise _invalid("code", "Falta el código.")
    await _check_code_free(session, code)
    await _check_category_ref(session, data.category_id, "categoryId")
    item = PriceBookItem(
        org_id=ctx.org_id,
        code=code,
        kind=data.kind,
        name=data.name.strip(),
        unit=data.unit.strip(),
        base_price=check_price(data.base_price, "basePrice"),
        iva_rate=check_iva(data.iva_rate),
        afip_product_code=data.afip_product_code or None,
        category_id=data.category_id,
        is_active=data.is_active,
    )
    session.add(item)
    await _flush_item(session, code)
    await session.refresh(item)
    await record_by(
        session, ctx, "pricebook_item.created", "price_book_item", item.id, None, _item_snapshot(item), trace_id
    )
    return to_item(item)


async def update_item(
    session: AsyncSession, ctx: RequestContext, item_id: uuid.UUID, data: wire.ItemUpdate, trace_id: str | None
) -> wire.Item:
    item = await get_item(session, item_id)
    before = _item_snapshot(item)
    if data.code is not msgspec.UNSET:
        code = data.code.strip()
        if not code:
            raise _invalid("code", "Falta el código.")
        if code.lower() != item.code.lower():
            await _check_code_free(session, code, item.id)
        item.code = code
    if data.kind is not msgspec.UNSET:
        item.kind = data.kind
    if data.name is not msgspec.UNSET:
        item.name = data.name.strip()
    if data.unit is not msgspec.UNSET:
        item.unit = data.unit.strip()
    if data.base_price is not msgspec.UNSET:
        item.base_price = check_price(data.base_price, "basePrice")
    if data.iva_rate is not msgspec.UNSET:
        item.iva_rate = check_iva(data.iva_rate)
    if data.afip_product_code is not msgspec.UNSET:
        item.afip_product_code = data.afip_product_code or None
    if data.category_id is not msgspec.UNSET:
        await _check_category_ref(session, data.category_id, "categoryId")
        item.category_id = data.category_id
    if data.is_active is not msgspec.UNSET:
        item.is_active = data.is_active
    await _flush_item(session, item.code)
    await session.refresh(item)
    changed = _changes(before, _item_snapshot(item))
    if changed:
        await record_by(session, ctx, "pricebook_item.updated", "price_book_item", item.id, *changed, trace_id)
    return to_item(item)


# ---------------------------------------------------------------------------------------------- price lists


def _zone_key(zone: str) -> str:
    return zone.strip().lower()


async def _list_prices(session: AsyncSession, price_list_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    found: dict[uuid.UUID, list[Any]] = {i: [] for i in price_list_ids}
    if price_list_ids:
        rows = await session.scalars(
            select(PriceListItem)
            .where(PriceListItem.price_list_id.in_(price_list_ids))
            .order_by(PriceListItem.created_at, PriceListItem.id)
        )
        for row in rows:
            found[row.price_list_id].append(row)
    return found


def to_price_list(price_list: PriceList, prices: Sequence[PriceListItem]) -> wire.PriceList:
    return wire.PriceList(
        id=price_list.id,
        zone=price_list.zone,
        name=price_list.name,
        multiplier=show_multiplier(price_list.multiplier),
        is_active=price_list.is_active,
        item_prices=[wire.ZonePrice(item_id=p.item_id, price=p.price) for p in prices],
    )


def _price_list_snapshot(price_list: PriceList, prices: Sequence[PriceListItem]) -> dict[str, Any]:
    return {
        "zone": price_list.zone,
        "name": price_list.name,
        "multiplier": f"{Decimal(price_list.multiplier).normalize():f}",
        "isActive": price_list.is_active,
        "itemPrices": {str(p.item_id): str(Decimal(p.price).quantize(Decimal("0.01"))) for p in prices},
    }


async def list_price_lists(session: AsyncSession) -> list[wire.PriceList]:
    lists = (await session.scalars(select(PriceList).order_by(PriceList.zone))).all()
    prices = await _list_prices(session, [p.id for p in lists])
    return [to_price_list(p, prices[p.id]) for p in lists]


async def _check_zone_free(session: AsyncSession, zone: str, own_id: uuid.UUID | None = None) -> None:
    statement = select(PriceList.id).where(func.lower(PriceList.zone) == _zone_key(zone))
    if own_id is not None:
        statement = statement.where(PriceList.id != own_id)
    existing = await session.scalar(statement.limit(1))
    if existing is not None:
        raise AppError(ErrorCode.PRICE_LIST_ZONE_DUPLICATE, details={"key": "zone", "existingId": str(existing)})


async def _set_item_prices(
    session: AsyncSession, ctx: RequestContext, price_list: PriceList, item_prices: Sequence[wire.ZonePrice]
) -> list[PriceListItem]:
    assert ctx.org_id is not None
    seen: set[uuid.UUID] = set()
    rows: list[PriceListItem] = []
    for i, entry in enumerate(item_prices):
        key = f"itemPrices[{i}]"
        if entry.item_id in seen:
            raise _invalid(f"{key}.itemId", "El ítem está repetido en la lista.")
        seen.add(entry.item_id)
        if await session.get(PriceBookItem, entry.item_id) is None:
            raise _invalid(f"{key}.itemId", "Ese ítem no existe.")
        rows.append(
            PriceListItem(
                org_id=ctx.org_id,
                price_list_id=price_list.id,
                item_id=entry.item_id,
                price=check_price(entry.price, f"{key}.price"),
            )
        )
    await session.execute(delete(PriceListItem).where(PriceListItem.price_list_id == price_list.id))
    session.add_all(rows)
    await session.flush()
    return rows


async def create_price_list(
    session: AsyncSession, ctx: RequestContext, data: wire.PriceListCreate, trace_id: str | None
) -> wire.PriceList:
    assert ctx.org_id is not None
    zone = data.zone.strip()
    await _check_zone_free(session, zone)
    price_list = PriceList(
        org_id=ctx.org_id,
        zone=zone,
        name=data.name,
        multiplier=check_multiplier(data.multiplier, "multiplier"),
        is_active=data.is_active,
    )
    session.add(price_list)
    await session.flush()
    prices = await _set_item_prices(session, ctx, price_list, data.item_prices)
    await record_by(
        session,
        ctx,
        "price_list.created",
        "price_list",
        price_list.id,
        None,
        _price_list_snapshot(price_list, prices),
        trace_id,
    )
    return to_price_list(price_list, prices)


async def update_price_list(
    session: AsyncSession,
    ctx: RequestContext,
    price_list_id: uuid.UUID,
    data: wire.PriceListUpdate,
    trace_id: str | None,
) -> wire.PriceList:
    price_list = await session.get(PriceList, price_list_id)
    if price_list is None:
        raise AppError(ErrorCode.NOT_FOUND)
    prices = (await _list_prices(session, [price_list.id]))[price_list.id]
    before = _price_list_snapshot(price_list, prices)
    if data.zone is not msgspec.UNSET:
        await _check_zone_free(session, data.zone, price_list.id)
        price_list.zone = data.zone.strip()
    if data.name is not msgspec.UNSET:
        price_list.name = data.name
    if data.multiplier is not msgspec.UNSET:
        price_list.multiplier = check_multiplier(data.multiplier, "multiplier")
    if data.is_active is not msgspec.UNSET:
        price_list.is_active = data.is_active
    if data.item_prices is not msgspec.UNSET:
        prices = await _set_item_prices(session, ctx, price_list, data.item_prices)
    await session.flush()
    await session.refresh(price_list)
    changed = _changes(before, _price_list_snapshot(price_list, prices))
    if changed:
        await record_by(session, ctx, "price_list.updated", "price_list", price_list.id, *changed, trace_id)
    return to_price_list(price_list, prices)


# ---------------------------------------------------------------------------------------------- complexity


async def complexity_overrides(session: AsyncSession) -> dict[Complexity, Decimal]:
    rows = await session.scalars(select(ComplexityMultiplier))
    return {Complexity(r.level): Decimal(r.multiplier) for r in rows}


async def get_complexity(session: AsyncSession) -> wire.ComplexityMultipliers:
    table = dict(DEFAULT_COMPLEXITY_MULTIPLIERS) | await complexity_overrides(session)
    return wire.ComplexityMultipliers(
        normal=show_multiplier(table[Complexity.NORMAL]),
        dificil=show_multiplier(table[Complexity.DIFICIL]),
        urgente=show_multiplier(table[Complexity.URGENTE]),
    )


def _complexity_snapshot(value: wire.ComplexityMultipliers) -> dict[str, str]:
    return {k: f"{Decimal(v).normalize():f}" for k, v in msgspec.structs.asdict(value).items()}


async def update_complexity(
    session: AsyncSession, ctx: RequestContext, data: wire.ComplexityUpdate, trace_id: str | None
) -> wire.ComplexityMultipliers:
    assert ctx.org_id is not None
    before = _complexity_snapshot(await get_complexity(session))
    existing = {Complexity(r.level): r for r in await session.scalars(select(ComplexityMultiplier))}
    for level in Complexity:
        value = getattr(data, level.value)
        if value is msgspec.UNSET:
            continue
        multiplier = check_multiplier(value, level.value)
        if level in existing:
            existing[level].multiplier = multiplier
        else:
            session.add(ComplexityMultiplier(org_id=ctx.org_id, level=level, multiplier=multiplier))
    await session.flush()
    current = await get_complexity(session)
    changed = _changes(before, _complexity_snapshot(current))
    if changed:
        await record_by(
            session, ctx, "complexity_multipliers.updated", "complexity_multipliers", None, *changed, trace_id
        )
    return current


# ---------------------------------------------------------------------------------------------- resolution


async def price_for(
    session: AsyncSession, item_id: uuid.UUID, zone: str | None, complexity: Complexity
) -> wire.ResolvedPrice:
    """A job line's unit price for the item, in the zone (its active price list, if any) and complexity."""
    item = await get_item(session, item_id)
    zone_rule: ZoneRule | None = None
    override: Decimal | None = None
    if zone and zone.strip():
        price_list = await session.scalar(
            select(PriceList).where(func.lower(PriceList.zone) == _zone_key(zone), PriceList.is_active.is_(True))
        )
        if price_list is not None:
            zone_rule = ZoneRule(zone=price_list.zone, multiplier=Decimal(price_list.multiplier))
            override = await session.scalar(
                select(PriceListItem.price).where(
                    PriceListItem.price_list_id == price_list.id, PriceListItem.item_id == item.id
                )
            )
    factor = complexity_multiplier(complexity, ItemKind(item.kind), await complexity_overrides(session))
    resolved = resolve_price(Decimal(item.base_price), zone_rule=zone_rule, item_override=override, complexity=factor)
    return wire.ResolvedPrice(
        item_id=item.id,
        code=item.code,
        zone=zone_rule.zone if zone_rule else None,
        complexity=complexity,
        unit_price=resolved.unit_price,
        source=str(resolved.source),
        iva_rate=item.iva_rate,
        breakdown=[wire.PriceStep(name=s.name, value=s.value, result=s.result) for s in resolved.breakdown],
    )


# ---------------------------------------------------------------------------------------------- CSV


async def export_csv(session: AsyncSession, excel_ar: bool = False) -> str:
    categories = {c.id: c.name for c in await session.scalars(select(PriceBookCategory))}
    items = await session.scalars(select(PriceBookItem).order_by(PriceBookItem.code, PriceBookItem.id))
    return export_pricebook_csv(
        (
            PriceBookRow(
                code=i.code,
                name=i.name,
                kind=ItemKind(i.kind),
                base_price=Decimal(i.base_price),
                iva_rate=Decimal(i.iva_rate),
                unit=i.unit,
                afip_product_code=i.afip_product_code,
                category=categories.get(i.category_id) if i.category_id else None,
            )
            for i in items
        ),
        excel_ar=excel_ar,
    )


async def import_csv(session: AsyncSession, ctx: RequestContext, text: str, trace_id: str | None) -> wire.ImportResult:
    """All or nothing: every bad line is reported (422) and nothing is written; else upsert by code."""
    assert ctx.org_id is not None
    parsed = parse_pricebook_csv(text)
    if not parsed.ok:
        raise AppError(
            ErrorCode.PRICEBOOK_IMPORT_INVALID,
            details={
                "errors": [
                    msgspec.to_builtins(wire.ImportLineError(line=e.line, column=e.column, message=e.message_es))
                    for e in sorted(parsed.errors, key=lambda e: (e.line, e.column or ""))
                ]
            },
        )
    categories = {c.name.strip().lower(): c for c in await session.scalars(select(PriceBookCategory))}
    items = {i.code.strip().lower(): i for i in await session.scalars(select(PriceBookItem))}
    created = updated = unchanged = categories_created = 0
    for row in parsed.rows:
        category_id: uuid.UUID | None = None
        if row.category:
            category = categories.get(row.category.strip().lower())
            if category is None:
                category = PriceBookCategory(org_id=ctx.org_id, name=row.category.strip(), position=0)
                session.add(category)
                await session.flush()
                categories[row.category.strip().lower()] = category
                categories_created += 1
                await record_by(
                    session,
                    ctx,
                    "pricebook_category.created",
                    "price_book_category",
                    category.id,
                    None,
                    _plain(to_category(category), "id"),
                    trace_id,
                )
            category_id = category.id
        values = {
            "code": row.code.strip(),
            "name": row.name,
            "kind": row.kind,
            "unit": row.unit,
            "base_price": row.base_price.quantize(Decimal("0.01")),
            "iva_rate": row.iva_rate.quantize(Decimal("0.01")),
            "afip_product_code": row.afip_product_code or None,
            "category_id": category_id,
        }
        item = items.get(row.code.strip().lower())
        if item is None:
            item = PriceBookItem(org_id=ctx.org_id, is_active=True, **values)
            session.add(item)
            await session.flush()
            items[row.code.strip().lower()] = item
            created += 1
            await record_by(
                session, ctx, "pricebook_item.created", "price_book_item", item.id, None, _item_snapshot(item), trace_id
            )
            continue
        before = _item_snapshot(item)
        for key, value in values.items():
            setattr(item, key, value)
        changed = _changes(before, _item_snapshot(item))
        if changed is None:
            unchanged += 1
            continue
        await session.flush()
        updated += 1
        await record_by(session, ctx, "pricebook_item.updated", "price_book_item", item.id, *changed, trace_id)
    return wire.ImportResult(
        created=created, updated=updated, unchanged=unchanged, categories_created=categories_created
    )
