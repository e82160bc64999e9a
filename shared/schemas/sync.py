"""Wire contracts of offline sync (issue #7): pull, first-sync bootstrap, push and conflicts.

All camelCase on the wire. The server is ``server/domain/sync``; the conflict rules are
``shared/sync/conflicts.py`` (used by both sides).

Tables (``SYNC_TABLES``) and their records (plain dicts, camelCase keys, ids as strings, money and
quantities as decimal strings, datetimes ISO 8601 UTC). Every record has ``id``, ``version`` (bumps on
every change) and ``changeSeq`` (the server's change sequence when it last changed):

- ``jobs``: the job with its billable ``lines`` (list of dicts) and ``technicianIds`` EMBEDDED (no
  separate job_lines / job_assignments tables: a change of a line or an assignment re-sends the job).
- ``customers``, ``customer_addresses``, ``price_book_items`` (the whole active and inactive book).
- ``job_notes`` (``jobId``, ``body``, ``authorId``, ``deviceId``, ``createdAt``),
  ``job_photos`` and ``job_signatures``: metadata only (bytes through the attachments endpoints).

Scope: a technician gets the jobs assigned to them with ``scheduledStart`` from yesterday 00:00 to
today + 7 days (Buenos Aires), plus any open job assigned to them; those jobs' customers, addresses,
notes, photos and signature; the whole price book. Office roles get the org's jobs in that window plus
the open ones, all customers and addresses, the price book. When a job is sent, its customer, the
customer's addresses, its notes, photos and signature are sent with it (so a job that enters the scope
arrives complete). A job that leaves the scope (reassigned, deleted, out of the window) arrives in
``deletes`` of ``jobs``; the client drops the job AND its notes/photos/signature locally.

Cursor: opaque, server-made, HMAC-signed (org, change sequence, scope, window day). A cursor of another
org, tampered, too old (tombstones pruned, or its day more than 30 days back) or of another scope (another
user, or the role changed) answers 200 with ``reset=true`` and empty tables: the client wipes the synced
tables (not its outbox) and bootstraps again (or pulls from the returned cursor, which starts from
nothing). A cursor of an earlier day is fine: the pull also sends the window's shift (closed jobs that
fell out as deletes, closed jobs that came in as upserts).

Bootstrap: ``GET /api/v1/sync/bootstrap?table=<name>&after=<id>&limit=<1..2000>&cursor=<c>``. The first
call is without ``cursor``: the answer's ``cursor`` is taken BEFORE the snapshot; send it back on every
further bootstrap call (of any table) and pull from it when all tables are done (rows that changed in
between come again in the pull: upserts are idempotent). Keyset by id (``after`` = ``nextAfter``), so an
interrupted bootstrap resumes where it stopped. A ``cursor`` sent that is no longer usable answers
``reset=true`` with a new cursor: start every table over with it.

Push: ``POST /api/v1/sync/push`` with at most ``MAX_PUSH_OPERATIONS`` operations (more: 413
``sync_batch_too_large``). Operations (``op``) and payloads (camelCase keys):

- ``job.transition``: ``{event, reason?, lat?, lng?, completionNotes?, actualMinutes?, materials?}``
  (as ``TransitionRequest``; ``event`` is a ``JobEvent``). ``job.complete`` is the same with event
  ``complete`` implied.
- ``job.note``: ``{id?: uuid made on the device, body}``; ``record`` is the server's note (its own
  ``id``, with ``clientId`` = the device's id): replace the local pending note with it.
- ``job.progress``: ``{actualMinutes?, completionNotes?, materials?}`` (technician-wins fields, before
  completing; merged into the ``job.complete`` that follows on the server).

Each result: ``applied`` (done as sent), ``merged`` (done, but the server's record differs from what the
device based it on: take ``record``), ``rejected`` (``code`` + es-AR ``message``; ``conflict`` carries the
device's data when it is a conflict the office sees too), ``duplicate`` (this ``opId`` was seen before:
its stored result: ``code``/``message``/``record``/``conflict`` are those of the first answer, so a
replayed rejection still says why). ``record`` is the server's record after the op, in the same shape as the pull's
(``jobs`` record for job ops, ``job_notes`` record for notes).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import msgspec

from shared.schemas.base import CamelStruct

SYNC_TABLES: tuple[str, ...] = (
    "jobs",
    "customers",
    "customer_addresses",
    "price_book_items",
    "job_notes",
    "job_photos",
    "job_signatures",
)

MAX_PUSH_OPERATIONS = 50
PULL_LIMIT_DEFAULT = 500
PULL_LIMIT_MAX = 1000
BOOTSTRAP_LIMIT_DEFAULT = 1000
BOOTSTRAP_LIMIT_MAX = 2000

# the operations a device may push
OP_JOB_TRANSITION = "job.transition"
OP_JOB_COMPLETE = "job.complete"
OP_JOB_NOTE = "job.note"
OP_JOB_PROGRESS = "job.progress"
SYNC_OPERATIONS: tuple[str, ...] = (OP_JOB_TRANSITION, OP_JOB_COMPLETE, OP_JOB_NOTE, OP_JOB_PROGRESS)

OpStatus = Literal["applied", "merged", "rejected", "duplicate"]


class TableChanges(CamelStruct):
    upserts: list[dict[str, Any]] = msgspec.field(default_factory=list)
    deletes: list[str] = msgspec.field(default_factory=list)  # ids


class SyncPullPage(CamelStruct):
    cursor: str  # pass it to the next pull (also when has_more is false: it is where you are)
    has_more: bool
    reset: bool  # the cursor was not usable: wipe the synced tables and bootstrap again
    tables: dict[str, TableChanges]
    server_time: datetime.datetime


class SyncBootstrapPage(CamelStruct):
    table: str
    records: list[dict[str, Any]]
    next_after: str | None  # the ``after`` of the next page; None when the table is done
    has_more: bool
    cursor: str  # pull from here once every table is bootstrapped
    server_time: datetime.datetime
    reset: bool = False  # the cursor sent was not usable: start the bootstrap over (all tables) with this one


DeviceId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
OpName = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]


class SyncOperationIn(CamelStruct):
    op_id: uuid.UUID  # made on the device; the same id again is a replay
    entity: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]  # "job"
    entity_id: uuid.UUID
    op: OpName
    base_version: int | None = None  # the record's version the device based this on
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: datetime.datetime | None = None  # device clock: informational only


class SyncPushRequest(CamelStruct):
    device_id: DeviceId
    operations: list[SyncOperationIn]  # at most MAX_PUSH_OPERATIONS (checked by the server: 413)


class SyncOpResult(CamelStruct):
    op_id: uuid.UUID
    status: OpStatus
    code: str | None = None
    message: str | None = None
    record: dict[str, Any] | None = None
    conflict: dict[str, Any] | None = None


class SyncPushResult(CamelStruct):
    results: list[SyncOpResult]
    cursor: str | None = None  # not a pull cursor: always None for now (pull with your own cursor)


class SyncConflict(CamelStruct):
    """A conflict the office sees (``GET /api/v1/sync/conflicts``) and acknowledges."""

    id: uuid.UUID
    kind: str  # e.g. "sync.job_cancelled_on_server"
    entity: str
    entity_id: uuid.UUID
    op_id: uuid.UUID
    op: str
    user_id: uuid.UUID | None
    device_id: str
    device_data: dict[str, Any]  # what the technician sent (nothing is lost)
    server_data: dict[str, Any]  # the server's record at the time
    message: str
    created_at: datetime.datetime
    acknowledged_at: datetime.datetime | None
    acknowledged_by_id: uuid.UUID | None


class SyncConflictPage(CamelStruct):
    items: list[SyncConflict]
