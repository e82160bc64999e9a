"""Completing a job: photos, the customer's signature, notes, materials and the minutes worked.

Refuses what shared.states.job REQUIRED_FIELDS says a completed job needs, naming the missing fields;
the photos and the signature are handed to the actions (outbox) before the ``complete`` move.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from PIL import Image, ImageDraw

from client.i18n import t
from client.viewmodels._util import Observable, error_text, resolve
from shared.schemas.attachments import COORDINATE_MAX, MAX_POINTS, MAX_POINTS_PER_STROKE, MAX_STROKES
from shared.states.job import JobFacts, JobStatus, missing_fields

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
MAX_MINUTES = 24 * 60

Point = dict[str, float]


@dataclass
class PhotoDraft:
    name: str
    data: bytes
    content_type: str
    saved: bool = False


@dataclass
class MaterialDraft:
    description: str
    quantity: str = "1"
    pricebook_item_id: str | None = None
    unit: str | None = None
    price: Any = None


@dataclass
class Signature:
    strokes: list[list[Point]] = field(default_factory=list)
    started: float | None = None

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def pairs(self) -> list[list[tuple[float, float]]]:
        """The strokes as (x, y) pairs, as the actions take them."""
        return [[(p["x"], p["y"]) for p in stroke] for stroke in self.strokes if stroke]

    @property
    def empty(self) -> bool:
        return not any(self.strokes)


def _clamp(v: float) -> float:
    return max(0.0, min(COORDINATE_MAX, float(v)))


def render_signature_png(strokes: list[list[Point]], width: int = 600, height: int = 240, line: int = 3) -> bytes:
    """The strokes drawn black on white at ``width`` x ``height`` (the pad's size), as PNG bytes."""
    image = Image.new("RGB", (max(1, int(width)), max(1, int(height))), "white")
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(p["x"], p["y"]) for p in stroke]
        if len(points) == 1:
            x, y = points[0]
            draw.ellipse((x - line / 2, y - line / 2, x + line / 2, y + line / 2), fill="black")
        elif points:
            draw.line(points, fill="black", width=line, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def photo_type(name: str) -> str | None:
    return PHOTO_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


def pricebook_label(item: dict[str, Any]) -> str:
    return str(item.get("name") or item.get("description") or item.get("code") or "")


class CompletionVM(Observable):
    def __init__(
        self,
        store: Any,
        actions: Any,
        job_id: str,
        *,
        signature_waived: bool = False,
        pad_size: tuple[int, int] = (600, 240),
    ) -> None:
        super().__init__()
        self.store = store
        self.actions = actions
        self.job_id = job_id
        self.signature_waived = signature_waived
        self.pad_size = pad_size
        self.photos: list[PhotoDraft] = []
        self.signature = Signature()
        self.signature_saved = False
        self.notes = ""
        self.minutes_text = ""
        self.materials: list[MaterialDraft] = []
        self.search_results: list[dict[str, Any]] = []
        self.error: str | None = None
        self.done = False

    # --- photos ---------------------------------------------------------------------------------

    def add_photo(self, name: str, data: bytes | None, content_type: str | None = None) -> bool:
        self.error = None
        kind = content_type if content_type in PHOTO_TYPES.values() else photo_type(name)
        if kind is None or not data:
            self.error = t("completion.photo_not_image", name=name)
        elif len(data) > MAX_PHOTO_BYTES:
            self.error = t("completion.photo_too_big", name=name, max_mb=MAX_PHOTO_BYTES // (1024 * 1024))
        else:
            self.photos.append(PhotoDraft(name=name, data=data, content_type=kind))
        self.changed()
        return self.error is None

    def remove_photo(self, index: int) -> None:
        if 0 <= index < len(self.photos) and not self.photos[index].saved:
            del self.photos[index]
            self.changed()

    # --- signature ------------------------------------------------------------------------------

    def _point(self, x: float, y: float) -> Point:
        if self.signature.started is None:
            self.signature.started = time.monotonic()
        return {"x": _clamp(x), "y": _clamp(y), "t": round((time.monotonic() - self.signature.started) * 1000, 1)}

    def begin_stroke(self, x: float, y: float) -> bool:
        """A finger down on the pad; False (ignored) past the wire limits."""
        if len(self.signature.strokes) >= MAX_STROKES or self.signature.points >= MAX_POINTS:
            return False
        self.signature.strokes.append([self._point(x, y)])
        self.signature_saved = False
        return True

    def extend_stroke(self, x: float, y: float) -> tuple[Point, Point] | None:
        """The finger moved: the new segment to draw, or None when nothing was added."""
        if not self.signature.strokes:
            self.begin_stroke(x, y)
            return None
        stroke = self.signature.strokes[-1]
        if len(stroke) >= MAX_POINTS_PER_STROKE or self.signature.points >= MAX_POINTS:
            return None
        point = self._point(x, y)
        previous = stroke[-1]
        stroke.append(point)
        return previous, point

    def clear_signature(self) -> None:
        self.signature = Signature()
        self.signature_saved = False
        self.changed()

    def signature_png(self) -> bytes:
        return render_signature_png(self.signature.strokes, *self.pad_size)

    # --- materials ------------------------------------------------------------------------------

    async def search(self, query: str) -> list[dict[str, Any]]:
        self.search_results = list(await resolve(self.store.pricebook(query or "")))[:20]
        self.changed()
        return self.search_results

    def add_material(self, item: dict[str, Any], quantity: str = "1") -> None:
        self.materials.append(
            MaterialDraft(
                description=pricebook_label(item),
                quantity=quantity,
                pricebook_item_id=str(item["id"]) if item.get("id") else None,
                unit=item.get("unit"),
                price=item.get("price", item.get("base_price")),
            )
        )
        self.changed()

    def remove_material(self, index: int) -> None:
        if 0 <= index < len(self.materials):
            del self.materials[index]
            self.changed()

    # --- checks and submit ----------------------------------------------------------------------

    def _minutes(self) -> int | None:
        text = (self.minutes_text or "").strip()
        if not text:
            return None
        if not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
            raise ValueError
        return int(text)

    def _material_payload(self) -> list[dict[str, Any]]:
        out = []
        for m in self.materials:
            try:
                qty = Decimal(str(m.quantity).replace(",", "."))
            except InvalidOperation:
                qty = Decimal(0)
            if not qty.is_finite() or qty <= 0:
                raise ValueError(t("completion.quantity_invalid", name=m.description))
            item: dict[str, Any] = {"description": m.description, "quantity": str(qty)}
            if m.pricebook_item_id:
                item["pricebook_item_id"] = m.pricebook_item_id
            if m.unit:
                item["unit"] = m.unit
            out.append(item)
        return out

    def missing(self) -> tuple[tuple[str, ...], ...]:
        """The unmet "any of" groups of a completed job (shared REQUIRED_FIELDS)."""
        try:
            minutes = self._minutes()
        except ValueError:
            minutes = None
        facts = JobFacts(
            completion_notes=self.notes,
            photo_count=len(self.photos),
            has_signature=not self.signature.empty,
            signature_waived=self.signature_waived,
            actual_minutes=minutes,
        )
        return missing_fields(JobStatus.COMPLETED, facts)

    def missing_text(self) -> str | None:
        groups = self.missing()
        if not groups:
            return None
        names = [t("completion.or").join(t(f"field.{f}") for f in group) for group in groups]
        return t("completion.missing", fields=", ".join(names))

    async def submit(self) -> bool:
        """Check, then write photos, signature and the ``complete`` move to the outbox; False + ``error``."""
        self.error = None
        try:
            minutes = self._minutes()
        except ValueError:
            self.error = t("completion.minutes_invalid")
            self.changed()
            return False
        missing = self.missing_text()
        if missing:
            self.error = missing
            self.changed()
            return False
        try:
            materials = self._material_payload()
        except ValueError as exc:
            self.error = str(exc)
            self.changed()
            return False
        try:
            for photo in self.photos:
                if not photo.saved:
                    await resolve(self.actions.add_photo(self.job_id, photo.data, photo.content_type))
                    photo.saved = True
            if not self.signature.empty and not self.signature_saved:
                await resolve(self.actions.set_signature(self.job_id, self.signature.pairs(), self.signature_png()))
                self.signature_saved = True
            await resolve(self.actions.complete(self.job_id, self.notes.strip(), materials, minutes))
        except Exception as exc:
            self.error = t("job.refused", message=error_text(exc))
            self.changed()
            return False
        self.done = True
        self.changed()
        return True
