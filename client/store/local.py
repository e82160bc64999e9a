"""``LocalStore``: SQLite (sqlite-utils over the standard library's sqlite3) in the app-data folder.

Holds the technician's working set as the server sent it (jobs with their lines and technicians,
customers and addresses, the price book, notes, photo and signature metadata), what the device did
offline (outbox, pending notes, local photo files, signatures) and the conflicts to show.

Durability: WAL with ``synchronous=FULL``: a committed transaction survives a crash or a pulled
battery. Every write method commits before it returns.

Optimistic state: a job row shows the server's record with the device's pending moves replayed on
top (``server_status`` keeps the server's own); when a pull brings a newer server record the pending
moves are replayed again, so nothing the technician did disappears from the screen before the server
has answered it.
"""

from __future__ import annotations

import datetime
import functools
import json
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from client.store import records as records_
from client.store.records import Record
from client.store.schema import MIGRATIONS
from shared.ids import new_id
from shared.schemas.sync import OP_JOB_COMPLETE, OP_JOB_NOTE, OP_JOB_PROGRESS, OP_JOB_TRANSITION, SYNC_TABLES
from shared.states.job import JOB_MACHINE, JobEvent, JobStatus, allowed_events

# Buenos Aires: UTC-3 all year (no DST since 2009); a fixed offset needs no tzdata on the phone
ARGENTINA = datetime.timezone(datetime.timedelta(hours=-3), "ART")

TRANSITION_OPS = (OP_JOB_TRANSITION, OP_JOB_COMPLETE)


class StoreError(Exception):
    pass


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(value: datetime.datetime | None = None) -> str:
    """UTC, second precision, 'Z': the one text form of instants in the store (sorts as text)."""
    moment = value or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return iso(value)
    return _iso_text(str(value))


@functools.lru_cache(maxsize=4096)
def _iso_text(value: str) -> str | None:
    """The server's ISO text in the store's form; cached: a first sync repeats the same instants thousands of
    times (every job of a slot, every row of a bulk load) and parsing + formatting was a tenth of its cost."""
    try:
        return iso(datetime.datetime.fromisoformat(value))
    except ValueError:
        return None


def parse_iso(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def fold(text: str) -> str:
    """Lower case without accents: 'Válvula' and 'valvula' match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _json(value: Any) -> str:
    """Compact JSON text (UTF-8, not escaped), anything unknown as its ``str``: msgspec's encoder, several times
    faster than ``json.dumps`` on the records a first sync stores (the biggest cost of applying a page)."""
    return _ENCODER.encode(value).decode()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class LocalStore:
    def __init__(self, conn: sqlite3.Connection, path: Path | None, tz: datetime.tzinfo = ARGENTINA) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path
        self.tz = tz
        self._lock = threading.RLock()
        self._depth = 0

    # --- opening and migrations ----------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, tz: datetime.tzinfo = ARGENTINA) -> LocalStore:
        """Open (creating if needed) the store file and bring its schema up to date."""
        where = Path(path)
        if str(path) != ":memory:":
            where.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        store = cls(conn, where if str(path) != ":memory:" else None, tz)
        store.migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @property
    def files_dir(self) -> Path:
        """Where photo files and signature PNGs are kept (next to the database)."""
        base = self.path.parent if self.path is not None else Path.cwd()
        folder = base / "files"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        """Apply the migrations not yet applied, in order, each in its own transaction; the new version."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
        )
        current = self.schema_version()
        for version, name, sql in sorted(migrations or MIGRATIONS):
            if version <= current:
                continue
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (version, name, iso()))
            current = version
        return current

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one); committed when the outermost exits.

        ``durable=False`` (only for what the server can send again: bootstrap pages) commits without waiting
        for the disk (``synchronous=NORMAL`` in WAL: never corrupt, but a power cut may lose the last such
        commits, which are then fetched again). Every other transaction, and so everything the technician
        did, is durable; the next durable commit also makes the earlier ones durable."""
        with self._lock:
            relaxed = self._depth == 0 and not durable
            if self._depth == 0:
                if relaxed:
                    self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                try:
                    yield self.conn
                except BaseException:
                    self._depth -= 1
                    if self._depth == 0:
                        self.conn.execute("ROLLBACK")
                    raise
                self._depth -= 1
                if self._depth == 0:
                    self.conn.execute("COMMIT")
            finally:
                if relaxed:
                    self.conn.execute("PRAGMA synchronous=FULL")

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.conn.execute(sql, tuple(params)).fetchall()]

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def device_id(self) -> str:
        """This installation's id (made once, kept across restarts)."""
        with self.transaction():
            value = self.get_meta("device_id")
            if value is None:
                value = str(new_id())
                self.set_meta("device_id", value)
        return value

    def cursor(self) -> str | None:
        return self.get_meta("cursor")

    def set_cursor(self, cursor: str | None) -> None:
        self.set_meta("cursor", cursor)

    def last_sync_at(self) -> datetime.datetime | None:
        return parse_iso(self.get_meta("last_sync_at"))

    def set_last_sync_at(self, when: datetime.datetime | None = None) -> None:
        self.set_meta("last_sync_at", iso(when))

    def set_session(self, *, user_id: str, org_id: str, role: str, full_name: str = "") -> None:
        """Who uses this device (for the allowed moves); a different organisation or user wipes the working set."""
        before = self.session()
        with self.transaction():
            if before and (before.get("org_id") != org_id or before.get("user_id") != user_id):
                self.reset_synced(keep_outbox=False)
            self.set_meta(
                "session", _json({"user_id": user_id, "org_id": org_id, "role": role, "full_name": full_name})
            )

    def session(self) -> dict[str, Any] | None:
        raw = self.get_meta("session")
        return json.loads(raw) if raw else None

    # --- reads for the screens -----------------------------------------------------------------

    def _day_bounds(self, day: datetime.date) -> tuple[str, str]:
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=self.tz)
        return iso(start), iso(start + datetime.timedelta(days=1))

    JOBS_FOR_DAY_SQL = """
        SELECT j.id, j.title, j.status, j.priority, j.scheduled_start, j.scheduled_end, j.version,
               j.customer_id, c.name AS customer_name, c.phone AS customer_phone,
               j.address_id, a.street, a.city, a.province, a.reference, a.lat, a.lng,
               EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = j.id AND o.state = 'pending') AS pending
        FROM {source}
        LEFT JOIN customers c ON c.id = j.customer_id
        LEFT JOIN customer_addresses a ON a.id = j.address_id
        WHERE {where}
        ORDER BY {order}
    """

    def jobs_for_day_sql(self, technician: bool) -> str:
        if technician:
            return self.JOBS_FOR_DAY_SQL.format(
                source="job_technicians t JOIN jobs j ON j.id = t.job_id",
                where="t.technician_id = ? AND t.scheduled_start >= ? AND t.scheduled_start < ?",
                order="t.scheduled_start, t.job_id",
            )
        return self.JOBS_FOR_DAY_SQL.format(
            source="jobs j", where="j.scheduled_start >= ? AND j.scheduled_start < ?", order="j.scheduled_start, j.id"
        )

    def jobs_for_day(self, day: datetime.date, technician_id: str | None = None) -> list[dict[str, Any]]:
        """The day's jobs (local time), by scheduled start: customer, address text, lat/lng, status, version."""
        start, end = self._day_bounds(day)
        params: list[Any] = [start, end] if technician_id is None else [str(technician_id), start, end]
        rows = self._rows(self.jobs_for_day_sql(technician_id is not None), params)
        for row in rows:
            row["address"] = row["address_text"] = address_text(row)
            row["pending"] = bool(row["pending"])
        return rows

    def job(self, job_id: str) -> dict[str, Any] | None:
        """Everything the detail screen shows: lines, notes (pending too), photos, signature, allowed moves."""
        job_id = str(job_id)
        rows = self._rows(
            """SELECT j.*, c.name AS customer_name, c.phone AS customer_phone,
                      a.street, a.city, a.province, a.reference, a.lat, a.lng
               FROM jobs j LEFT JOIN customers c ON c.id = j.customer_id
               LEFT JOIN customer_addresses a ON a.id = j.address_id WHERE j.id = ?""",
            [job_id],
        )
        if not rows:
            return None
        job = rows[0]
        job["data"] = json.loads(job["data"])
        job["technician_ids"] = json.loads(job["technician_ids"])
        job["materials"] = json.loads(job["materials"]) if job["materials"] else []
        job["address"] = job["address_text"] = address_text(job)
        job["lines"] = [
            {
                "id": line.get("id"),
                "description": line.get("description"),
                "quantity": line.get("quantity"),
                "unit_price": line.get("unitPrice"),
                "iva_rate": line.get("ivaRate"),
            }
            for line in job["data"].get("lines") or []
        ]
        job["notes"] = [
            {**n, "pending": n["pending"] == 1, "rejected": n["pending"] == 2}
            for n in self._rows(
                "SELECT id, body, author_name, created_at, pending FROM job_notes "
                "WHERE job_id = ? ORDER BY created_at, id",
                [job_id],
            )
        ]
        job["photos"] = self._rows(
            "SELECT id, content_hash, content_type, size_bytes, path, server_id, upload_state, last_error, created_at "
            "FROM photos WHERE job_id = ? ORDER BY created_at, id",
            [job_id],
        )
        signatures = self._rows(
            "SELECT signer_name, png_path, upload_state, last_error, updated_at FROM signatures WHERE job_id = ?",
            [job_id],
        )
        job["signature"] = signatures[0] if signatures else None
        job["pending_ops"] = self._rows(
            "SELECT op_id, op, payload, created_at FROM outbox WHERE entity_id = ? AND state = 'pending' ORDER BY seq",
            [job_id],
        )
        session = self.session() or {}
        assigned = session.get("user_id") in job["technician_ids"]
        job["is_assigned"] = assigned
        job["allowed_events"] = [str(e) for e in allowed_events(job["status"], session.get("role"), assigned)]
        job["conflicts"] = [c for c in self.conflicts(unacknowledged_only=True) if c["entity_id"] == job_id]
        return job

    def pricebook(
        self, query: str | None = None, *, limit: int = 100, include_inactive: bool = False
    ) -> list[dict[str, Any]]:
        """Price book items by name; ``query`` matches code or name, any case, with or without accents."""
        sql = "SELECT id, code, name, kind, unit, base_price, is_active FROM price_book_items WHERE 1 = 1"
        params: list[Any] = []
        if not include_inactive:
            sql += " AND is_active = 1"
        for word in fold(query or "").split():
            sql += " AND search LIKE ? ESCAPE '\\'"
            params.append("%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        sql += " ORDER BY name LIMIT ?"
        params.append(limit)
        return [{**r, "is_active": bool(r["is_active"])} for r in self._rows(sql, params)]

    def pending_ops_count(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0])

    def pending_uploads_count(self) -> int:
        with self._lock:
            photos = self.conn.execute("SELECT count(*) FROM photos WHERE upload_state != 'uploaded'").fetchone()[0]
            sigs = self.conn.execute("SELECT count(*) FROM signatures WHERE upload_state != 'uploaded'").fetchone()[0]
        return int(photos) + int(sigs)

    def pending_count(self) -> int:
        """What the device still has to send: queued operations plus photos and signatures not uploaded."""
        return self.pending_ops_count() + self.pending_uploads_count()

    def conflicts(self, unacknowledged_only: bool = True) -> list[dict[str, Any]]:
        sql = (
            "SELECT k.*, coalesce(j.title, k.entity_title) AS job_title "
            "FROM conflicts k LEFT JOIN jobs j ON j.id = k.entity_id"
        )
        if unacknowledged_only:
            sql += " WHERE k.acknowledged_at IS NULL"
        rows = self._rows(sql + " ORDER BY k.created_at, k.id")
        for row in rows:
            row["device_data"] = json.loads(row["device_data"])
            row["server_data"] = json.loads(row["server_data"]) if row["server_data"] else None
        return rows

    def acknowledge_conflict(self, conflict_id: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE conflicts SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                (iso(), str(conflict_id)),
            )

    def add_conflict(
        self,
        *,
        entity: str,
        entity_id: str,
        code: str,
        message: str,
        device_data: dict[str, Any],
        server_data: dict[str, Any] | None = None,
        op_id: str | None = None,
        op: str | None = None,
    ) -> str:
        conflict_id = str(new_id())
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO conflicts (id, op_id, entity, entity_id, op, code, message, device_data, server_data, "
                "created_at, entity_title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT title FROM jobs WHERE id = ?4))",
                (
                    conflict_id,
                    op_id,
                    entity,
                    str(entity_id),
                    op,
                    code,
                    message,
                    _json(device_data),
                    _json(server_data) if server_data is not None else None,
                    iso(),
                ),
            )
        return conflict_id

    # --- applying what the server sends --------------------------------------------------------

    def apply_pull(self, page: Any) -> int:
        """Apply one pull page (upserts and tombstones of every table) and keep its cursor; the records applied.

        ``reset=true`` wipes the synced tables first (never the outbox nor what the device made) and
        forgets the cursor: the caller bootstraps again.
        """
        applied = 0
        with self.transaction():
            if page.reset:
                self.reset_synced()
                return 0
            for table in _table_order(page.tables):
                changes = page.tables[table]
                applied += self._apply_table(table, changes.upserts, changes.deletes)
            if page.cursor:
                self.set_cursor(page.cursor)
        return applied

    def apply_bootstrap(self, table: str, rows: list[Record]) -> int:
        """Apply one bootstrap page of ``table`` (upserts only)."""
        with self.transaction():
            return self._apply_table(table, rows, [])

    def apply_record(self, table: str, record: Record) -> None:
        """One record the server answered a push with (same shape as the pull's)."""
        with self.transaction():
            self._apply_table(table, [record], [])

    def reset_synced(self, *, keep_outbox: bool = True) -> None:
        """Forget the server's data and the cursor; keep the outbox, pending notes, local photos and signatures."""
        with self.transaction() as conn:
            for table in (
                "jobs",
                "job_technicians",
                "customers",
                "customer_addresses",
                "price_book_items",
            ):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            conn.execute("DELETE FROM job_notes WHERE pending = 0")
            conn.execute("DELETE FROM photos WHERE path IS NULL")
            conn.execute("DELETE FROM signatures WHERE strokes IS NULL")
            conn.execute("DELETE FROM meta WHERE key IN ('cursor', 'bootstrap')")
            if not keep_outbox:
                conn.execute("DELETE FROM outbox")
                conn.execute("DELETE FROM job_notes")
                conn.execute("DELETE FROM photos")
                conn.execute("DELETE FROM signatures")
                conn.execute("DELETE FROM conflicts")

    def _apply_table(self, table: str, upserts: list[Record], deletes: list[str]) -> int:
        handler = _UPSERTS.get(table)
        if handler is None:
            return 0  # a table this version of the app does not know: ignored, never an error
        if upserts:
            if table in _DECODED_AS_DICTS:  # few rows, matched on several fields: plain dicts
                upserts = [records_.as_dict(r) for r in upserts]
            handler(self, upserts)
        if deletes:
            _DELETES[table](self, [str(d) for d in deletes])
        return len(upserts) + len(deletes)

    def _pending_job_ids(self, job_ids: Iterable[str] | None = None) -> set[str]:
        pending = {r[0] for r in self.conn.execute("SELECT DISTINCT entity_id FROM outbox WHERE state = 'pending'")}
        return pending if job_ids is None else pending & set(job_ids)

    def _current_versions(self, table: str, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, version FROM {table} WHERE id IN ({marks})"  # noqa: S608 - fixed names
            found.update((r[0], r[1]) for r in self.conn.execute(sql, chunk))
        return found

    def _upsert_jobs(self, records: list[Record]) -> None:
        conn = self.conn
        decoded = records_.decode(records, records_.JobRecord)
        # a record older than the one held (a late page, a replayed answer) changes nothing, lines included
        have = self._current_versions("jobs", [job.id for job, _ in decoded])
        rows = []
        techs: list[tuple[str, str, str | None]] = []
        ids = []
        for job, text in decoded:
            if job.version < have.get(job.id, -1):
                continue
            job_id = job.id
            ids.append((job_id,))
            start = iso_or_none(job.scheduled_start)
            rows.append(
                (
                    job_id,
                    job.customer_id,
                    job.address_id,
                    job.title or "",
                    job.description,
                    job.service_type,
                    job.priority,
                    job.status or "pending",
                    start,
                    iso_or_none(job.scheduled_end),
                    _json(job.technician_ids),
                    job.completion_notes,
                    job.actual_minutes,
                    _json(job.materials) if job.materials else None,
                    job.version,
                    job.change_seq,
                    text,
                )
            )
            techs.extend((job_id, t, start) for t in job.technician_ids)
        conn.executemany(
            """INSERT INTO jobs (id, customer_id, address_id, title, description, service_type, priority, status,
                   server_status, scheduled_start, scheduled_end, technician_ids, completion_notes, actual_minutes,
                   materials, version, change_seq, data)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
               ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, address_id = excluded.address_id,
                   title = excluded.title, description = excluded.description, service_type = excluded.service_type,
                   priority = excluded.priority, status = excluded.status, server_status = excluded.server_status,
                   scheduled_start = excluded.scheduled_start, scheduled_end = excluded.scheduled_end,
                   technician_ids = excluded.technician_ids, completion_notes = excluded.completion_notes,
                   actual_minutes = excluded.actual_minutes, materials = excluded.materials,
                   version = excluded.version, change_seq = excluded.change_seq, data = excluded.data
               WHERE excluded.version >= jobs.version""",
            rows,
        )
        held = [i for i in ids if i[0] in have]  # a job new to the store has no technicians to replace
        conn.executemany("DELETE FROM job_technicians WHERE job_id = ?", held)
        conn.executemany("INSERT OR IGNORE INTO job_technicians VALUES (?, ?, ?)", techs)
        self.replay_pending(self._pending_job_ids(i[0] for i in ids))

    def replay_pending(self, job_ids: Iterable[str]) -> None:
        """Show each job as the server has it plus the device's pending moves (those the machine allows)."""
        for job_id in job_ids:
            row = self.conn.execute("SELECT server_status, data FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                continue
            data = json.loads(row["data"])
            status = JobStatus(row["server_status"])
            fields: dict[str, Any] = {
                "completion_notes": data.get("completionNotes"),
                "actual_minutes": data.get("actualMinutes"),
                "materials": data.get("materials"),
            }
            ops = self.conn.execute(
                "SELECT op, payload FROM outbox WHERE entity_id = ? AND state = 'pending' ORDER BY seq", (job_id,)
            ).fetchall()
            for op in ops:
                payload = json.loads(op["payload"])
                if op["op"] in TRANSITION_OPS:
                    event = payload.get("event") or (JobEvent.COMPLETE if op["op"] == OP_JOB_COMPLETE else None)
                    nxt = JOB_MACHINE.next_status(status, JobEvent(event)) if event else None
                    if nxt is None:
                        continue
                    status = nxt
                if op["op"] in (*TRANSITION_OPS, OP_JOB_PROGRESS):
                    for wire, column in (
                        ("completionNotes", "completion_notes"),
                        ("actualMinutes", "actual_minutes"),
                        ("materials", "materials"),
                    ):
                        if payload.get(wire) is not None:
                            fields[column] = payload[wire]
            self.conn.execute(
                "UPDATE jobs SET status = ?, completion_notes = ?, actual_minutes = ?, materials = ? WHERE id = ?",
                (
                    str(status),
                    fields["completion_notes"],
                    fields["actual_minutes"],
                    _json(fields["materials"]) if fields["materials"] else None,
                    job_id,
                ),
            )

    def _delete_jobs(self, ids: list[str]) -> None:
        """A job out of the technician's scope: dropped with its notes, photos and signature (what the device
        still has to send stays, and is answered by the server: nothing is lost silently)."""
        keys = [(i,) for i in ids]
        for sql in (
            "DELETE FROM jobs WHERE id = ?",
            "DELETE FROM job_technicians WHERE job_id = ?",
            "DELETE FROM job_notes WHERE job_id = ? AND pending = 0",
            "DELETE FROM photos WHERE job_id = ? AND upload_state = 'uploaded'",
            "DELETE FROM signatures WHERE job_id = ? AND upload_state = 'uploaded'",
        ):
            self.conn.executemany(sql, keys)

    def _upsert_customers(self, records: list[Record]) -> None:
        self.conn.executemany(
            """INSERT INTO customers (id, name, phone, version, change_seq, data) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
                   version = excluded.version, change_seq = excluded.change_seq, data = excluded.data
               WHERE excluded.version >= customers.version""",
            [
                (c.id, c.name or "", c.phone, c.version, c.change_seq, text)
                for c, text in records_.decode(records, records_.CustomerRecord)
            ],
        )

    def _upsert_addresses(self, records: list[Record]) -> None:
        self.conn.executemany(
            """INSERT OR REPLACE INTO customer_addresses
                   (id, customer_id, street, city, province, reference, lat, lng, is_default, version, change_seq, data)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    a.id,
                    a.customer_id,
                    a.street,
                    a.city,
                    a.province,
                    a.reference,
                    a.lat,
                    a.lng,
                    1 if a.is_default else 0,
                    a.version,
                    a.change_seq,
                    text,
                )
                for a, text in records_.decode(records, records_.AddressRecord)
            ],
        )

    def _upsert_items(self, records: list[Record]) -> None:
        self.conn.executemany(
            """INSERT OR REPLACE INTO price_book_items
                   (id, code, name, kind, unit, base_price, is_active, search, version, change_seq, data)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    i.id,
                    i.code,
                    i.name or "",
                    i.kind,
                    i.unit,
                    i.base_price,
                    1 if i.is_active else 0,
                    fold(f"{i.code or ''} {i.name or ''}"),
                    i.version,
                    i.change_seq,
                    text,
                )
                for i, text in records_.decode(records, records_.ItemRecord)
            ],
        )

    def _upsert_notes(self, records: list[dict[str, Any]]) -> None:
        # a note made on this device comes back with the same id, or with the server's own id and the
        # device's as ``clientId`` (or, in a pull, this device's id and the same text): the local copy is
        # confirmed, never duplicated
        device = self.get_meta("device_id")
        for r in records:
            if r.get("clientId") and str(r["clientId"]) != str(r["id"]):
                self.conn.execute("DELETE FROM job_notes WHERE id = ? AND pending != 0", (str(r["clientId"]),))
            elif device is not None and r.get("deviceId") == device:
                self.conn.execute(
                    "DELETE FROM job_notes WHERE job_id = ? AND body = ? AND pending = 1 AND id != ? "
                    "AND id IN (SELECT json_extract(payload, '$.id') FROM outbox WHERE entity_id = ? AND op = ?)",
                    (str(r.get("jobId")), r.get("body") or "", str(r["id"]), str(r.get("jobId")), OP_JOB_NOTE),
                )
        self.conn.executemany(
            """INSERT INTO job_notes (id, job_id, body, author_id, author_name, device_id, created_at, pending,
                   version, change_seq, data)
               VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET body = excluded.body, author_id = excluded.author_id,
                   author_name = excluded.author_name, created_at = excluded.created_at, pending = 0,
                   version = excluded.version, change_seq = excluded.change_seq, data = excluded.data""",
            [
                (
                    str(r["id"]),
                    str(r.get("jobId")),
                    r.get("body") or "",
                    _str(r.get("authorId")),
                    r.get("authorName"),
                    r.get("deviceId"),
                    iso_or_none(r.get("createdAt")) or iso(),
                    int(r.get("version") or 0),
                    int(r.get("changeSeq") or 0),
                    _json(r),
                )
                for r in records
            ],
        )

    def _upsert_photos(self, records: list[dict[str, Any]]) -> None:
        # a photo this device uploaded comes back by its content hash: the local row learns the server's id
        for r in records:
            job_id, content_hash = str(r.get("jobId")), str(r.get("contentHash"))
            updated = self.conn.execute(
                "UPDATE photos SET server_id = ?, upload_state = 'uploaded', last_error = NULL, data = ? "
                "WHERE job_id = ? AND content_hash = ?",
                (str(r["id"]), _json(r), job_id, content_hash),
            )
            if updated.rowcount == 0:
                self.conn.execute(
                    "INSERT OR REPLACE INTO photos (id, job_id, content_hash, content_type, size_bytes, path, "
                    "server_id, upload_state, created_at, data) VALUES (?, ?, ?, ?, ?, NULL, ?, 'uploaded', ?, ?)",
                    (
                        str(r["id"]),
                        job_id,
                        content_hash,
                        r.get("contentType") or "image/jpeg",
                        int(r.get("sizeBytes") or 0),
                        str(r["id"]),
                        iso_or_none(r.get("createdAt")) or iso(),
                        _json(r),
                    ),
                )

    def _delete_photos(self, ids: list[str]) -> None:
        self.conn.executemany(
            "DELETE FROM photos WHERE (id = ?1 OR server_id = ?1) AND upload_state = 'uploaded'", [(i,) for i in ids]
        )

    def _upsert_signatures(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            job_id = str(r.get("jobId"))
            local = self.conn.execute("SELECT upload_state FROM signatures WHERE job_id = ?", (job_id,)).fetchone()
            if local is not None and local["upload_state"] != "uploaded":
                continue  # the device's newer signature is still on its way: it wins when it arrives
            now = iso()
            self.conn.execute(
                """INSERT INTO signatures (job_id, signer_name, strokes, png_path, upload_state, created_at,
                       updated_at, data)
                   VALUES (?, ?, NULL, NULL, 'uploaded', ?, ?, ?)
                   ON CONFLICT(job_id) DO UPDATE SET signer_name = excluded.signer_name,
                       upload_state = 'uploaded', updated_at = excluded.updated_at, data = excluded.data""",
                (
                    job_id,
                    r.get("signerName"),
                    iso_or_none(r.get("createdAt")) or now,
                    iso_or_none(r.get("updatedAt")) or now,
                    _json(r),
                ),
            )

    def _delete_signatures(self, ids: list[str]) -> None:
        self.conn.executemany(
            "DELETE FROM signatures WHERE (job_id = ?1 OR json_extract(data, '$.id') = ?1) "
            "AND upload_state = 'uploaded'",
            [(i,) for i in ids],
        )

    def _delete_by_id(self, table: str, ids: list[str], extra: str = "") -> None:
        self.conn.executemany(f"DELETE FROM {table} WHERE id = ? {extra}", [(i,) for i in ids])  # noqa: S608


def _table_order(tables: dict[str, Any]) -> list[str]:
    """Parents before children (customers before jobs, jobs before notes); unknown tables last."""
    order = {name: i for i, name in enumerate(SYNC_TABLES)}
    order.update({"customers": -3, "customer_addresses": -2, "jobs": -1})
    return sorted(tables, key=lambda t: order.get(t, 99))


def address_text(row: dict[str, Any]) -> str | None:
    """'Cabildo 1234, CABA (timbre 3B)': what a technician reads and a maps link searches."""
    street = row.get("street")
    if not street:
        return None
    text = street
    place = ", ".join(p for p in (row.get("city"), row.get("province")) if p)
    if place:
        text += f", {place}"
    if row.get("reference"):
        text += f" ({row['reference']})"
    return text


_UPSERTS = {
    "jobs": LocalStore._upsert_jobs,
    "customers": LocalStore._upsert_customers,
    "customer_addresses": LocalStore._upsert_addresses,
    "price_book_items": LocalStore._upsert_items,
    "job_notes": LocalStore._upsert_notes,
    "job_photos": LocalStore._upsert_photos,
    "job_signatures": LocalStore._upsert_signatures,
}
_DECODED_AS_DICTS = frozenset({"job_notes", "job_photos", "job_signatures"})
_DELETES = {
    "jobs": LocalStore._delete_jobs,
    "customers": lambda s, ids: s._delete_by_id("customers", ids),
    "customer_addresses": lambda s, ids: s._delete_by_id("customer_addresses", ids),
    "price_book_items": lambda s, ids: s._delete_by_id("price_book_items", ids),
    "job_notes": lambda s, ids: s._delete_by_id("job_notes", ids, "AND pending = 0"),
    "job_photos": LocalStore._delete_photos,
    "job_signatures": LocalStore._delete_signatures,
}
