from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select

from server.db.engine import tenant_transaction
from server.db.models import Customer
from server.lib.errors import AppError
from server.lib.pagination import clamp_limit, decode_cursor, encode_cursor, paginate_cursor, paginate_offset
from server.runtime import Resources
from shared.ids import new_id


async def _seed(resources: Resources, org_id, count: int) -> None:
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        for i in range(count):
            session.add(Customer(org_id=org_id, name=f"Cliente {i:03d}"))


async def test_offset_page_counts_only_the_callers_org(resources: Resources, make_org) -> None:
    org_a, org_b = await make_org(), await make_org()
    await _seed(resources, org_a, 7)
    await _seed(resources, org_b, 3)
    async with tenant_transaction(resources.sessionmaker, org_a) as session:
        rows, total = await paginate_offset(session, select(Customer).order_by(Customer.name), limit=5, offset=5)
    assert total == 7
    assert [r.name for r in rows] == ["Cliente 005", "Cliente 006"]


async def test_cursor_walks_every_row_once_in_order(resources: Resources, make_org) -> None:
    org = await make_org()
    await _seed(resources, org, 12)
    seen: list[str] = []
    cursor = None
    async with tenant_transaction(resources.sessionmaker, org) as session:
        for _ in range(10):
            rows, cursor = await paginate_cursor(
                session, select(Customer), Customer.name, Customer.id, limit=5, cursor=cursor
            )
            seen.extend(r.name for r in rows)
            if cursor is None:
                break
    assert seen == [f"Cliente {i:03d}" for i in range(12)]


def test_cursor_round_trip_and_garbage() -> None:
    row_id = new_id()
    when = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.UTC)
    position = decode_cursor(encode_cursor(when, row_id))
    assert position.value == when.isoformat() and position.id == str(row_id)
    with pytest.raises(AppError) as caught:
        decode_cursor("not-a-cursor!!")
    assert caught.value.status_code == 422


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_limit_bounds(limit: int) -> None:
    with pytest.raises(AppError):
        clamp_limit(limit)
