"""Wire contracts of a job's attachments: photos (uploaded as bytes) and the customer's signature (vector strokes)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from shared.schemas.base import CamelStruct

# Signature pad coordinates, in the pad's own units (CSS pixels on the phone); JSON has no NaN/Infinity
# and an out-of-range number (1e999 decodes to infinity) fails these bounds, so every point is finite.
COORDINATE_MAX = 10_000.0
MAX_STROKES = 200
MAX_POINTS_PER_STROKE = 2_000
MAX_POINTS = 20_000  # over all strokes

Coordinate = Annotated[float, msgspec.Meta(ge=0, le=COORDINATE_MAX)]
# milliseconds since the signature started
StrokeTime = Annotated[float, msgspec.Meta(ge=0, le=24 * 3600 * 1000)]
SignerName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class StrokePoint(CamelStruct, forbid_unknown_fields=True):
    x: Coordinate
    y: Coordinate
    t: StrokeTime | None = None


Stroke = Annotated[list[StrokePoint], msgspec.Meta(min_length=1, max_length=MAX_POINTS_PER_STROKE)]
Strokes = Annotated[list[Stroke], msgspec.Meta(min_length=1, max_length=MAX_STROKES)]


class SignatureInput(CamelStruct):
    """The signature as drawn: 1–200 strokes of points (at most 20,000 points in all); replaces any earlier one."""

    signer_name: SignerName
    strokes: Strokes


class Signature(CamelStruct):
    job_id: uuid.UUID
    signer_name: str | None
    strokes: list[list[StrokePoint]]
    png_url: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class Photo(CamelStruct):
    id: uuid.UUID
    job_id: uuid.UUID
    content_type: str
    size_bytes: int
    content_hash: str  # SHA-256 of the bytes, hex: the same bytes uploaded again are this photo
    uploaded_by_id: uuid.UUID | None
    created_at: datetime.datetime
    url: str
    thumbnail_url: str | None
