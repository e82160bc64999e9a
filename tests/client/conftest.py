"""Client core tests: a local store in a temporary folder and records shaped as the server's sync sends them."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from client.outbox import Outbox
from client.store import LocalStore
from client.sync.wire import PullPage, TableChanges
from shared.ids import new_id

TECH = str(new_id())
OTHER_TECH = str(new_id())
ART = datetime.timezone(datetime.timedelta(hours=-3))


@pytest.fixture(name="store_path")
def fixture_store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "campotech.db"


@pytest.fixture(name="store")
def fixture_store(store_path: Path) -> Iterator[LocalStore]:
    store = LocalStore.open(store_path)
    store.set_session(user_id=TECH, org_id="org-1", role="technician", full_name="Juan Técnico")
    yield store
    store.close()


@pytest.fixture(name="outbox")
def fixture_outbox(store: LocalStore) -> Outbox:
    return Outbox(store)


def customer(name: str = "Consorcio Belgrano", **extra: Any) -> dict[str, Any]:
    return {"id": str(new_id()), "name": name, "phone": "+5491155550001", "version": 1, "changeSeq": 1} | extra


def address(customer_id: str, street: str = "Cabildo 1234", **extra: Any) -> dict[str, Any]:
    base = {
        "id": str(new_id()),
        "customerId": customer_id,
        "street": street,
        "city": "CABA",
        "province": None,
        "reference": "timbre 3B",
        "lat": -34.56,
        "lng": -58.45,
        "isDefault": True,
        "version": 1,
        "changeSeq": 1,
    }
    return base | extra


def job(
    customer_id: str | None = None,
    address_id: str | None = None,
    start: datetime.datetime | None = None,
    status: str = "scheduled",
    technicians: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    start = start or datetime.datetime(2026, 11, 25, 10, 0, tzinfo=ART)
    base = {
        "id": str(new_id()),
        "customerId": customer_id,
        "addressId": address_id,
        "title": "Caldera no enciende",
        "status": status,
        "priority": "normal",
        "scheduledStart": start.isoformat(),
        "scheduledEnd": None,
        "technicianIds": [TECH] if technicians is None else technicians,
        "lines": [{"id": str(new_id()), "description": "Service", "quantity": "1", "unitPrice": "25000.00"}],
        "version": 2,
        "changeSeq": 10,
    }
    return base | extra


def page(cursor: str = "c1", has_more: bool = False, reset: bool = False, **tables: Any) -> PullPage:
    """A pull page: tables given as name=(upserts, deletes) or name=[upserts]."""
    out = {}
    for name, value in tables.items():
        upserts, deletes = value if isinstance(value, tuple) else (value, [])
        out[name] = TableChanges(upserts=upserts, deletes=deletes)
    return PullPage(cursor=cursor, has_more=has_more, reset=reset, tables=out)


def seed_day(
    store: LocalStore, count: int = 3, day: datetime.date = datetime.date(2026, 11, 25)
) -> list[dict[str, Any]]:
    c = customer()
    a = address(c["id"])
    jobs = [
        job(c["id"], a["id"], datetime.datetime.combine(day, datetime.time(8 + i), tzinfo=ART)) for i in range(count)
    ]
    store.apply_pull(page(customers=[c], customer_addresses=[a], jobs=jobs))
    return jobs


def photo_bytes(
    width: int = 4000, height: int = 3000, fmt: str = "PNG", color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


SIGNATURE = [[(10.0, 10.0), (20.0, 15.0), (30.0, 30.0)], [(40.0, 10.0), (45.0, 40.0)]]
SIGNATURE_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
