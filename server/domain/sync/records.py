"""What each synced table sends and who sees which rows: SQL built once, used by pull, bootstrap, push and export.

A record is built by PostgreSQL (``json_build_object``, camelCase keys, decimals as strings) and passed
through to the response as raw JSON (``msgspec.Raw``): the server does not decode and re-encode rows.
The scope (``Scope``) is the SQL condition of the rows a caller's device holds; every statement also runs
under row-level security (the caller's organisation). Assignments are looked up by ``job_id`` alone (the
unique ``(job_id, technician_id)`` index; job ids are unique and RLS keeps the org), which stays fast
even before the planner has statistics of freshly loaded tables.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.schemas.sync import SYNC_TABLES

LOCAL_TZ = ZoneInfo("America/Argentina/Buenos_Aires")
WINDOW_DAYS_BEFORE = 1  # yesterday
WINDOW_DAYS_AFTER = 7  # today + 7 days
OPEN_STATUSES = "('pending', 'scheduled', 'en_camino', 'working')"

# table → its record, for a row aliased ``x``
RECORDS: dict[str, str] = {
    "jobs": """json_build_object(
        'id', x.id, 'customerId', x.customer_id, 'addressId', x.address_id, 'title', x.title,
        'description', x.description, 'serviceType', x.service_type, 'priority', x.priority,
        'complexity', x.complexity, 'status', x.status, 'scheduledStart', x.scheduled_start,
        'scheduledEnd', x.scheduled_end, 'estimatedMinutes', x.estimated_minutes,
        'actualMinutes', x.actual_minutes, 'startedAt', x.started_at, 'completedAt', x.completed_at,
        'cancelledAt', x.cancelled_at, 'cancelReason', x.cancel_reason, 'completionNotes', x.completion_notes,
        'materials', x.materials,
        'technicianIds', coalesce((SELECT json_agg(a.technician_id ORDER BY a.technician_id) FROM job_assignments a
                                   WHERE a.job_id = x.id), '[]'::json),
        'lines', coalesce((SELECT json_agg(json_build_object(
                    'id', l.id, 'pricebookItemId', l.pricebook_item_id, 'description', l.description,
                    'quantity', l.quantity::text, 'unitPrice', l.unit_price::text, 'ivaRate', l.iva_rate::text,
                    'priceSource', l.price_source) ORDER BY l.created_at, l.id)
                  FROM job_lines l WHERE l.org_id = x.org_id AND l.job_id = x.id), '[]'::json),
        'version', x.version, 'changeSeq', x.change_seq, 'createdAt', x.created_at, 'updatedAt', x.updated_at)""",
    "customers": """json_build_object(
        'id', x.id, 'name', x.name, 'phone', x.phone, 'otherPhones', to_json(x.other_phones), 'email', x.email,
        'docType', x.doc_type, 'docNumber', x.doc_number, 'ivaCondition', x.iva_condition, 'notes', x.notes,
        'archivedAt', x.archived_at, 'version', x.version, 'changeSeq', x.change_seq,
        'createdAt', x.created_at, 'updatedAt', x.updated_at)""",
    "customer_addresses": """json_build_object(
        'id', x.id, 'customerId', x.customer_id, 'label', x.label, 'street', x.street, 'city', x.city,
        'province', x.province, 'postalCode', x.postal_code, 'reference', x.reference, 'zone', x.zone,
        'lat', x.lat::float8, 'lng', x.lng::float8, 'isDefault', x.is_default, 'version', x.version,
        'changeSeq', x.change_seq, 'updatedAt', x.updated_at)""",
    "price_book_items": """json_build_object(
        'id', x.id, 'categoryId', x.category_id, 'code', x.code, 'kind', x.kind, 'name', x.name, 'unit', x.unit,
        'basePrice', x.base_price::text, 'ivaRate', x.iva_rate::text, 'isActive', x.is_active,
        'version', x.version, 'changeSeq', x.change_seq, 'updatedAt', x.updated_at)""",
    "job_notes": """json_build_object(
        'id', x.id, 'jobId', x.job_id, 'authorId', x.author_id,
        'authorName', (SELECT u.full_name FROM users u WHERE u.id = x.author_id),
        'body', x.body, 'deviceId', x.device_id, 'createdAt', x.created_at,
        'version', x.version, 'changeSeq', x.change_seq)""",
    "job_photos": """json_build_object(
        'id', x.id, 'jobId', x.job_id, 'contentHash', x.content_hash, 'contentType', x.content_type,
        'sizeBytes', x.size_bytes, 'hasThumbnail', x.thumbnail_path IS NOT NULL, 'uploadedById', x.uploaded_by_id,
        'url', '/api/v1/jobs/' || x.job_id || '/photos/' || x.id, 'createdAt', x.created_at,
        'version', x.version, 'changeSeq', x.change_seq)""",
    "job_signatures": """json_build_object(
        'id', x.id, 'jobId', x.job_id, 'signerName', x.signer_name, 'hasPng', x.png_path IS NOT NULL,
        'createdAt', x.created_at, 'updatedAt', x.updated_at, 'version', x.version, 'changeSeq', x.change_seq)""",
}
assert set(RECORDS) == set(SYNC_TABLES)

JOB_CHILD_TABLES = ("job_notes", "job_photos", "job_signatures")


def window(today: datetime.date | None = None) -> tuple[datetime.date, datetime.datetime, datetime.datetime]:
    """The jobs window (Buenos Aires days): yesterday 00:00 up to (not including) today + 8 days 00:00."""
    day = today or datetime.datetime.now(LOCAL_TZ).date()
    start = datetime.datetime.combine(day - datetime.timedelta(days=WINDOW_DAYS_BEFORE), datetime.time(), LOCAL_TZ)
    end = datetime.datetime.combine(day + datetime.timedelta(days=WINDOW_DAYS_AFTER + 1), datetime.time(), LOCAL_TZ)
    return day, start, end


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows a device holds: the org's (office) or a technician's (``technician_id``), for the window of ``day``."""

    org_id: uuid.UUID
    technician_id: uuid.UUID | None
    day: datetime.date
    window_start: datetime.datetime
    window_end: datetime.datetime

    @classmethod
    def make(cls, org_id: uuid.UUID, technician_id: uuid.UUID | None, today: datetime.date | None = None) -> Scope:
        day, start, end = window(today)
        return cls(org_id, technician_id, day, start, end)

    @property
    def key(self) -> str:
        """Short hash naming whose scope it is (a technician's, or the office's): another's cursor resets."""
        who = f"tech:{self.technician_id}" if self.technician_id else "office"
        return hashlib.sha256(who.encode()).hexdigest()[:16]

    def assigned(self, alias: str) -> str:
        """The condition of a job (aliased ``alias``) being the caller's: assigned to the technician, or any."""
        a = alias
        if self.technician_id is None:
            return f"({a}.org_id = :org)"
        return (
            f"({a}.org_id = :org AND EXISTS (SELECT 1 FROM job_assignments {a}_a"  # noqa: S608
            f" WHERE {a}_a.job_id = {a}.id AND {a}_a.technician_id = :user))"
        )

    def params(self) -> dict[str, object]:
        out: dict[str, object] = {"org": self.org_id, "wfrom": self.window_start, "wto": self.window_end}
        if self.technician_id is not None:
            out["user"] = self.technician_id
        return out

    def jobs(self, alias: str) -> str:
        """The condition of a job (aliased ``alias``) in the scope."""
        a = alias
        return (
            f"({self.assigned(a)} AND (({a}.scheduled_start >= :wfrom AND {a}.scheduled_start < :wto)"
            f" OR {a}.status IN {OPEN_STATUSES}))"
        )

    def rows(self, table: str, alias: str = "x") -> str:
        """The condition of a row of ``table`` (aliased ``alias``) in the scope."""
        a = alias
        if table == "jobs":
            return self.jobs(a)
        if table in JOB_CHILD_TABLES:
            return f"({a}.org_id = :org AND {a}.job_id IN (SELECT sj.id FROM jobs sj WHERE {self.jobs('sj')}))"  # noqa: S608
        if table in ("customers", "customer_addresses") and self.technician_id is not None:
            column = "id" if table == "customers" else "customer_id"
            return (
                f"({a}.org_id = :org AND {a}.{column} IN (SELECT sj.customer_id FROM jobs sj WHERE {self.jobs('sj')}))"  # noqa: S608
            )
        return f"({a}.org_id = :org)"
