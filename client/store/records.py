"""The fields of the server's sync records that the store keeps in columns (the whole record is kept as text).

A record arrives as the server's JSON (``msgspec.Raw``: a bootstrap page or a pull is never decoded into
dicts) and is decoded once into one of these Structs, reading only the fields named here; the text itself is
stored as the row's ``data``. Unknown fields are ignored (a newer server never breaks an installed phone)
and every field but ``id`` has a default. The shapes are the server's (``server/domain/sync/records.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

# a synced record: as the server's JSON text, or already decoded (a push answer, a test)
Record = msgspec.Raw | bytes | dict[str, Any]

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder(enc_hook=str)


class _Record(msgspec.Struct, rename="camel", kw_only=True):
    pass


class JobRecord(_Record):
    id: str
    customer_id: str | None = None
    address_id: str | None = None
    title: str | None = None
    description: str | None = None
    service_type: str | None = None
    priority: str | None = None
    status: str | None = None
    scheduled_start: str | None = None
    scheduled_end: str | None = None
    technician_ids: list[str] = msgspec.field(default_factory=list)
    completion_notes: str | None = None
    actual_minutes: int | None = None
    materials: list[Any] | None = None
    version: int = 0
    change_seq: int = 0


class CustomerRecord(_Record):
    id: str
    name: str | None = None
    phone: str | None = None
    version: int = 0
    change_seq: int = 0


class AddressRecord(_Record):
    id: str
    customer_id: str | None = None
    street: str | None = None
    city: str | None = None
    province: str | None = None
    reference: str | None = None
    lat: float | None = None
    lng: float | None = None
    is_default: bool = False
    version: int = 0
    change_seq: int = 0


class ItemRecord(_Record):
    id: str
    code: str | None = None
    name: str | None = None
    kind: str | None = None
    unit: str | None = None
    base_price: str | None = None
    is_active: bool = True
    version: int = 0
    change_seq: int = 0


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode(records: Iterable[Record], type_: type[T]) -> list[tuple[T, str]]:
    """Each record as ``type_`` with its JSON text (what the store keeps as ``data``)."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    out: list[tuple[T, str]] = []
    for record in records:
        raw = _ENCODER.encode(record) if isinstance(record, dict) else bytes(record)
        out.append((decoder.decode(raw), raw.decode()))
    return out


def as_dict(record: Record) -> dict[str, Any]:
    """A record decoded as a dict (the tables with few rows: notes, photos, signatures)."""
    if isinstance(record, dict):
        return record
    value = msgspec.json.decode(record)
    return value if isinstance(value, dict) else {}
