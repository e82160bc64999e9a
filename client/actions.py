"""What a technician does to a job, offline first: checked locally, shown at once, queued for the server.

Each action validates with the shared rules (job machine, required fields, attachment limits), writes
the local change and the outbox operation in ONE SQLite transaction, and returns only after it is
committed: when the UI says "guardado", a crash can no longer lose it. A local refusal raises
``ActionRefused(code, message_es)`` with a stable code and a Spanish message to show as is.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.i18n import t
from client.outbox import Outbox
from client.store.local import LocalStore, iso
from client.sync.wire import OP_JOB_NOTE, OP_JOB_TRANSITION
from shared.errors import ErrorCode, message_of
from shared.ids import new_id
from shared.schemas.attachments import COORDINATE_MAX, MAX_POINTS, MAX_POINTS_PER_STROKE, MAX_STROKES
from shared.states.job import JOB_MACHINE, JobEvent, JobFacts, JobStatus, TransitionRefusal, check_event

if TYPE_CHECKING:
    from client.attachments import UploadQueue

PHOTO_MAX_SIDE = 1600
PHOTO_QUALITY = 80
PHOTO_MAX_INPUT_BYTES = 40 * 1024 * 1024  # a camera original; what is sent is the compressed JPEG
NOTE_MAX = 4000
MATERIALS_MAX = 100

REFUSAL_CODES: dict[TransitionRefusal, str] = {
    TransitionRefusal.TRANSITION_NOT_ALLOWED: ErrorCode.JOB_TRANSITION_NOT_ALLOWED.value,
    TransitionRefusal.ROLE_NOT_ALLOWED: ErrorCode.JOB_TRANSITION_ROLE.value,
    TransitionRefusal.NOT_ASSIGNED: ErrorCode.JOB_NOT_ASSIGNED.value,
    TransitionRefusal.MISSING_FIELDS: ErrorCode.JOB_MISSING_FIELDS.value,
}

# wire names of the fields a status move may carry (TransitionRequest)
TRANSITION_FIELDS = {
    "reason": "reason",
    "lat": "lat",
    "lng": "lng",
    "completion_notes": "completionNotes",
    "actual_minutes": "actualMinutes",
    "materials": "materials",
}


class ActionRefused(Exception):
    def __init__(self, code: str, message_es: str, details: Any = None) -> None:
        super().__init__(message_es)
        self.code = code
        self.message_es = message_es
        self.details = details


def _write_file(path: Path, data: bytes) -> None:
    """Write-then-rename with fsync: the file is whole or absent after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def compress_photo(data: bytes) -> bytes:
    """The photo as sent: upright, at most 1600 px a side, JPEG quality 80, no metadata (no GPS in EXIF)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > PHOTO_MAX_INPUT_BYTES:
        raise ActionRefused(ErrorCode.PAYLOAD_TOO_LARGE.value, t("action.photo_too_large"))
    try:
        with Image.open(io.BytesIO(data)) as original:
            image = ImageOps.exif_transpose(original)
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            if image.mode != "RGB":
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, "JPEG", quality=PHOTO_QUALITY, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ActionRefused(ErrorCode.UNSUPPORTED_MEDIA_TYPE.value, t("action.photo_unreadable")) from None


class TechnicianActions:
    def __init__(self, store: LocalStore, outbox: Outbox, attachments: UploadQueue | None = None) -> None:
        self.store = store
        self.outbox = outbox
        self.attachments = attachments

    # --- helpers -------------------------------------------------------------------------------

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(str(job_id))
        if job is None:
            raise ActionRefused(ErrorCode.NOT_FOUND.value, t("action.job_not_on_device"))
        return job

    def _open_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        if JOB_MACHINE.is_terminal(JobStatus(job["status"])):
            raise ActionRefused(ErrorCode.JOB_CLOSED.value, message_of(ErrorCode.JOB_CLOSED))
        return job

    def _kick(self) -> None:
        if self.attachments is not None:
            self.attachments.wake()

    # --- status moves --------------------------------------------------------------------------

    def transition(self, job_id: str, event: JobEvent | str, **fields: Any) -> str:
        """Make a status move (``complete`` may carry completion_notes, actual_minutes, materials); the op id."""
        try:
            event = JobEvent(event)
        except ValueError:
            raise ActionRefused(ErrorCode.JOB_TRANSITION_NOT_ALLOWED.value, t("action.unknown_event")) from None
        unknown = set(fields) - set(TRANSITION_FIELDS)
        if unknown:
            raise ValueError(f"unknown transition fields: {sorted(unknown)}")
        job = self._job(job_id)
        session = self.store.session() or {}
        signature = job["signature"]
        facts = JobFacts(
            scheduled_start=None,
            technician_count=len(job["technician_ids"]),
            completion_notes=fields.get("completion_notes") or job.get("completion_notes"),
            photo_count=len(job["photos"]),
            has_signature=signature is not None,
            signature_waived=self.store.get_meta("require_signature") == "false",
            actual_minutes=fields.get("actual_minutes") or job.get("actual_minutes"),
            cancel_reason=fields.get("reason"),
        )
        check = check_event(job["status"], event, role=session.get("role"), is_assigned=job["is_assigned"], facts=facts)
        if not check:
            assert check.reason is not None
            raise ActionRefused(REFUSAL_CODES[check.reason], check.message, check.details())
        payload: dict[str, Any] = {"event": str(event)}
        for name, wire in TRANSITION_FIELDS.items():
            if fields.get(name) is not None:
                payload[wire] = fields[name]
        with self.store.transaction():
            op_id = self.outbox.enqueue(OP_JOB_TRANSITION, "job", job["id"], payload, job["version"])
            self.store.replay_pending([job["id"]])
        return op_id

    def complete(
        self,
        job_id: str,
        notes: str | None,
        materials: list[dict[str, Any]] | None = None,
        actual_minutes: int | None = None,
    ) -> str:
        """Close the job: notes (or a photo), the customer's signature and the real minutes are needed."""
        if actual_minutes is not None and (not isinstance(actual_minutes, int) or not 1 <= actual_minutes <= 43200):
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.minutes_invalid"))
        cleaned = [self._material(m) for m in materials or []]
        if len(cleaned) > MATERIALS_MAX:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.too_many_materials", max=MATERIALS_MAX))
        if notes is not None and len(notes) > NOTE_MAX:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.completion_notes_too_long"))
        return self.transition(
            job_id,
            JobEvent.COMPLETE,
            completion_notes=(notes or "").strip() or None,
            actual_minutes=actual_minutes,
            materials=cleaned or None,
        )

    def _material(self, raw: dict[str, Any]) -> dict[str, Any]:
        item_id = raw.get("pricebook_item_id") or raw.get("pricebookItemId")
        description = (raw.get("description") or "").strip() or None
        if item_id is None and description is None:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.material_needs_item"))
        try:
            quantity = Decimal(str(raw.get("quantity", "1")))
        except InvalidOperation:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.material_quantity_not_number")) from None
        if not quantity.is_finite() or quantity <= 0:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.material_quantity_not_positive"))
        out: dict[str, Any] = {"quantity": str(quantity)}
        if item_id is not None:
            out["pricebookItemId"] = str(item_id)
        if description is not None:
            out["description"] = description
        if raw.get("unit"):
            out["unit"] = str(raw["unit"])
        return out

    # --- notes ---------------------------------------------------------------------------------

    def add_note(self, job_id: str, text: str) -> str:
        """Append a note (shown at once as pending); the note's id, made here and kept by the server."""
        body = (text or "").strip()
        if not body:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("job.note_empty"))
        if len(body) > NOTE_MAX:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.note_too_long", max=NOTE_MAX))
        job = self._job(job_id)
        session = self.store.session() or {}
        note_id = str(new_id())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO job_notes (id, job_id, body, author_id, author_name, device_id, created_at, pending) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    note_id,
                    job["id"],
                    body,
                    session.get("user_id"),
                    session.get("full_name"),
                    self.store.device_id(),
                    iso(),
                ),
            )
            self.outbox.enqueue(OP_JOB_NOTE, "job", job["id"], {"id": note_id, "body": body}, job["version"])
        return note_id

    # --- attachments ---------------------------------------------------------------------------

    def add_photo(self, job_id: str, data: bytes, content_type: str | None = None) -> str:
        """Compress, hash and keep the photo on the device, queued for upload; its local id.

        The same photo twice is one photo (by content hash)."""
        job = self._open_job(job_id)
        jpeg = compress_photo(data)
        digest = hashlib.sha256(jpeg).hexdigest()
        path = self.store.files_dir / "photos" / f"{digest}.jpg"
        if not path.exists():
            _write_file(path, jpeg)
        photo_id = str(new_id())
        with self.store.transaction() as conn:
            existing = conn.execute(
                "SELECT id FROM photos WHERE job_id = ? AND content_hash = ?", (job["id"], digest)
            ).fetchone()
            if existing is not None:
                return str(existing["id"])
            conn.execute(
                "INSERT INTO photos (id, job_id, content_hash, content_type, size_bytes, path, upload_state, "
                "created_at) VALUES (?, ?, ?, 'image/jpeg', ?, ?, 'pending', ?)",
                (photo_id, job["id"], digest, len(jpeg), str(path), iso()),
            )
        self._kick()
        return photo_id

    def set_signature(
        self,
        job_id: str,
        strokes: list[list[tuple[float, float]]],
        png: bytes,
        signer_name: str = "Cliente",
    ) -> None:
        """The customer's signature as drawn (strokes, and the pad's PNG for showing it); replaces an earlier one."""
        job = self._open_job(job_id)
        clean = validate_strokes(strokes)
        name = (signer_name or "").strip() or "Cliente"
        if len(name) > 200:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.signer_name_too_long"))
        png_path = self.store.files_dir / "signatures" / f"{job['id']}-{hashlib.sha256(png).hexdigest()[:16]}.png"
        if png:
            _write_file(png_path, png)
        now = iso()
        with self.store.transaction() as conn:
            conn.execute(
                """INSERT INTO signatures (job_id, signer_name, strokes, png_path, upload_state, attempts,
                       next_attempt_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, 'pending', 0, 0, ?, ?)
                   ON CONFLICT(job_id) DO UPDATE SET signer_name = excluded.signer_name, strokes = excluded.strokes,
                       png_path = excluded.png_path, upload_state = 'pending', attempts = 0, next_attempt_at = 0,
                       last_error = NULL, updated_at = excluded.updated_at""",
                (job["id"], name, json.dumps(clean), str(png_path) if png else None, now, now),
            )
        self._kick()


def validate_strokes(strokes: list[list[tuple[float, float]]]) -> list[list[list[float]]]:
    """The pad's strokes within the server's limits (1–200 strokes, ≤2000 points each, ≤20000 in all)."""
    empty = ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.signature_empty"))
    strokes = [s for s in strokes or [] if s]
    if not strokes:
        raise empty
    if len(strokes) > MAX_STROKES or sum(len(s) for s in strokes) > MAX_POINTS:
        raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.signature_too_many_strokes"))
    out: list[list[list[float]]] = []
    for stroke in strokes:
        if len(stroke) > MAX_POINTS_PER_STROKE:
            raise ActionRefused(ErrorCode.VALIDATION_FAILED.value, t("action.signature_stroke_too_long"))
        points = []
        for point in stroke:
            x, y = float(point[0]), float(point[1])
            # the pad may report a point just outside its box: clamp, never send NaN or infinities
            if x != x or y != y:
                continue
            points.append([min(max(x, 0.0), COORDINATE_MAX), min(max(y, 0.0), COORDINATE_MAX)])
        if points:
            out.append(points)
    if not out:
        raise empty
    return out
