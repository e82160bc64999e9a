"""The local store: migrations, today's jobs (ordering, Buenos Aires day, index), pull upserts and tombstones,
records the device made coming back without duplicates, reset keeping the outbox, price book search."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

from client.outbox import Outbox
from client.store import LocalStore
from client.store.schema import MIGRATIONS
from tests.client.conftest import ART, OTHER_TECH, TECH, address, customer, job, page, seed_day

DAY = datetime.date(2026, 11, 25)


def test_migrations_run_once_and_new_ones_apply_in_order(store_path: Path) -> None:
    store = LocalStore.open(store_path)
    assert store.schema_version() == MIGRATIONS[-1][0]
    store.set_meta("cursor", "abc")
    store.close()

    extra = [*MIGRATIONS, (MIGRATIONS[-1][0] + 1, "jobs get a color", "ALTER TABLE jobs ADD COLUMN color TEXT")]
    again = LocalStore.open(store_path)
    assert again.migrate(extra) == MIGRATIONS[-1][0] + 1
    assert again.migrate(extra) == MIGRATIONS[-1][0] + 1  # a second run changes nothing (no duplicate column)
    assert "color" in again.db["jobs"].columns_dict
    assert again.cursor() == "abc"  # data kept across upgrades
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_jobs_for_day_by_schedule_with_customer_and_address(store: LocalStore) -> None:
    c = customer("Panadería La Espiga")
    a = address(c["id"], "Av. Cabildo 1234", lat=-34.5621, lng=-58.4563)
    late = job(c["id"], a["id"], datetime.datetime(2026, 11, 25, 16, 30, tzinfo=ART), title="Tarde")
    early = job(c["id"], a["id"], datetime.datetime(2026, 11, 25, 8, 0, tzinfo=ART), title="Temprano")
    # 23:30 in Buenos Aires is already the next day in UTC: still this day for the technician
    night = job(c["id"], None, datetime.datetime(2026, 11, 25, 23, 30, tzinfo=ART), title="Guardia")
    tomorrow = job(c["id"], a["id"], datetime.datetime(2026, 11, 26, 0, 30, tzinfo=ART), title="Mañana")
    yesterday = job(c["id"], a["id"], datetime.datetime(2026, 11, 24, 23, 59, tzinfo=ART), title="Ayer")
    store.apply_pull(page(customers=[c], customer_addresses=[a], jobs=[late, early, night, tomorrow, yesterday]))

    rows = store.jobs_for_day(DAY)
    assert [r["title"] for r in rows] == ["Temprano", "Tarde", "Guardia"]
    first = rows[0]
    assert first["customer_name"] == "Panadería La Espiga"
    assert first["address"] == "Av. Cabildo 1234, CABA (timbre 3B)"
    assert (first["lat"], first["lng"]) == (-34.5621, -58.4563)
    assert first["status"] == "scheduled" and first["version"] == 2 and first["pending"] is False
    assert rows[2]["address"] is None  # no address on the job: no made-up one
    assert [r["title"] for r in store.jobs_for_day(datetime.date(2026, 11, 26))] == ["Mañana"]


def test_jobs_for_day_of_one_technician(store: LocalStore) -> None:
    c = customer()
    mine = job(c["id"], title="Mío")
    theirs = job(c["id"], title="De otro", technicians=[OTHER_TECH])
    both = job(c["id"], title="De los dos", technicians=[OTHER_TECH, TECH])
    store.apply_pull(page(customers=[c], jobs=[mine, theirs, both]))
    assert sorted(r["title"] for r in store.jobs_for_day(DAY, technician_id=TECH)) == ["De los dos", "Mío"]
    assert len(store.jobs_for_day(DAY)) == 3
    # reassigned on the server: the job record comes again with other technicians
    store.apply_pull(page(jobs=[mine | {"technicianIds": [OTHER_TECH], "version": 3}]))
    assert [r["title"] for r in store.jobs_for_day(DAY, technician_id=TECH)] == ["De los dos"]


def test_jobs_for_day_query_uses_the_schedule_index(store: LocalStore) -> None:
    start, end = store._day_bounds(DAY)
    cases = {
        False: ([start, end], "SEARCH j USING INDEX jobs_by_start (scheduled_start>? AND scheduled_start<?)"),
        True: (
            [TECH, start, end],
            "INDEX job_technicians_by_day (technician_id=? AND scheduled_start>? AND scheduled_start<?)",
        ),
    }
    for technician, (params, expected) in cases.items():
        plan = store.conn.execute("EXPLAIN QUERY PLAN " + store.jobs_for_day_sql(technician), params).fetchall()
        details = " | ".join(row[3] for row in plan)
        assert expected in details, details
        assert "SCAN j" not in details and "SCAN t" not in details, details
        assert "TEMP B-TREE" not in details, details  # already in order: no sort of the day's rows


def test_older_record_never_overwrites_newer(store: LocalStore) -> None:
    j = job(version=5, title="Nuevo título")
    store.apply_pull(page(jobs=[j]))
    store.apply_pull(page(jobs=[j | {"version": 4, "title": "Viejo", "technicianIds": [OTHER_TECH], "lines": []}]))
    detail = store.job(j["id"])
    assert detail["title"] == "Nuevo título" and detail["technician_ids"] == [TECH] and len(detail["lines"]) == 1
    assert [r["id"] for r in store.jobs_for_day(DAY, technician_id=TECH)] == [j["id"]]


def test_job_detail_with_lines_notes_and_allowed_moves(store: LocalStore) -> None:
    c = customer()
    j = job(c["id"], status="en_camino")
    note = {
        "id": "n-1",
        "jobId": j["id"],
        "body": "Traer llave 22",
        "authorName": "Oficina",
        "version": 1,
        "createdAt": "2026-11-25T09:00:00Z",
    }
    store.apply_pull(page(customers=[c], jobs=[j], job_notes=[note]))
    detail = store.job(j["id"])
    assert detail is not None
    assert [line["description"] for line in detail["lines"]] == ["Service"]
    assert [n["body"] for n in detail["notes"]] == ["Traer llave 22"]
    assert detail["customer_name"] == "Consorcio Belgrano"
    # a technician on their own job en camino: start work, or turn back; never cancel
    assert detail["allowed_events"] == ["stop_travel", "start_work"]
    assert store.job("no-such-job") is None


def test_tombstones_drop_the_job_with_its_notes_but_keep_what_is_unsent(store: LocalStore, outbox: Outbox) -> None:
    from client.actions import TechnicianActions

    jobs = seed_day(store, 2)
    gone, kept = jobs
    store.apply_pull(page(job_notes=[{"id": "srv-note", "jobId": gone["id"], "body": "del servidor", "version": 1}]))
    TechnicianActions(store, outbox).add_note(gone["id"], "escrita sin señal")
    store.apply_pull(page(cursor="c2", jobs=([], [gone["id"]])))

    assert store.job(gone["id"]) is None
    assert [r["id"] for r in store.jobs_for_day(DAY)] == [kept["id"]]
    bodies = [r["body"] for r in store._rows("SELECT body FROM job_notes WHERE job_id = ?", [gone["id"]])]
    assert bodies == ["escrita sin señal"]  # unsent: the server answers it, it is not silently lost
    assert store.pending_ops_count() == 1
    assert store.cursor() == "c2"
    # customers' tombstones too
    cust = store._rows("SELECT id FROM customers")[0]["id"]
    store.apply_pull(page(cursor="c3", customers=([], [cust])))
    assert store._rows("SELECT id FROM customers") == []


def test_a_note_made_on_the_device_comes_back_once(store: LocalStore, outbox: Outbox) -> None:
    from client.actions import TechnicianActions

    j = seed_day(store, 1)[0]
    note_id = TechnicianActions(store, outbox).add_note(j["id"], "Cliente ausente, vuelvo 15 h")
    assert store.job(j["id"])["notes"][0]["pending"] is True
    echoed = {"id": note_id, "jobId": j["id"], "body": "Cliente ausente, vuelvo 15 h", "version": 1, "changeSeq": 30}
    store.apply_pull(page(cursor="c9", job_notes=[echoed]))
    store.apply_pull(page(cursor="c10", job_notes=[echoed]))
    notes = store.job(j["id"])["notes"]
    assert len(notes) == 1 and notes[0]["pending"] is False


def test_a_photo_uploaded_from_the_device_comes_back_once(store: LocalStore, outbox: Outbox) -> None:
    from client.actions import TechnicianActions
    from tests.client.conftest import photo_bytes

    j = seed_day(store, 1)[0]
    TechnicianActions(store, outbox).add_photo(j["id"], photo_bytes(800, 600), "image/png")
    local = store.job(j["id"])["photos"][0]
    server_photo = {
        "id": "srv-photo-1",
        "jobId": j["id"],
        "contentHash": local["content_hash"],
        "contentType": "image/jpeg",
        "sizeBytes": local["size_bytes"],
        "version": 1,
    }
    store.apply_pull(page(job_photos=[server_photo]))
    photos = store.job(j["id"])["photos"]
    assert len(photos) == 1
    assert photos[0]["server_id"] == "srv-photo-1" and photos[0]["upload_state"] == "uploaded"
    assert photos[0]["path"] == local["path"]  # the local file is still what the screen shows


def test_reset_wipes_server_data_but_keeps_the_outbox(store: LocalStore, outbox: Outbox) -> None:
    from client.actions import TechnicianActions

    j = seed_day(store, 1)[0]
    store.set_cursor("old")
    TechnicianActions(store, outbox).transition(j["id"], "start_travel")
    store.apply_pull(page(cursor="", reset=True))
    assert store.cursor() is None
    assert store.jobs_for_day(DAY) == []
    assert [o.op for o in outbox.next_batch()] == ["job.transition"]
    # the job arrives again from the bootstrap: the pending move is shown on top of it
    store.apply_bootstrap("jobs", [j])
    assert store.job(j["id"])["status"] == "en_camino"


def test_pricebook_search_ignores_case_and_accents(store: LocalStore) -> None:
    def item(code: str, name: str, active: bool = True) -> dict[str, object]:
        return {
            "id": code,
            "code": code,
            "name": name,
            "kind": "material",
            "unit": "unidad",
            "basePrice": "1500.00",
            "isActive": active,
            "version": 1,
        }

    store.apply_pull(
        page(
            price_book_items=[
                item("VAL-12", "Válvula esférica 1/2"),
                item("CAN-01", "Caño termofusión 20 mm"),
                item("OLD-1", "Válvula discontinuada", active=False),
                item("MO-1", "Mano de obra 100%"),
            ]
        )
    )
    assert [i["code"] for i in store.pricebook("valvula")] == ["VAL-12"]
    assert [i["code"] for i in store.pricebook("VAL 1/2")] == ["VAL-12"]
    assert [i["code"] for i in store.pricebook("100%")] == ["MO-1"]
    assert [i["code"] for i in store.pricebook(None)] == ["CAN-01", "MO-1", "VAL-12"]
    assert store.pricebook("_") == []  # LIKE wildcards are text, not patterns
    assert store.pricebook("nada parecido") == []


def test_store_survives_reopening_from_disk(store_path: Path, store: LocalStore) -> None:
    seed_day(store, 2)
    store.set_cursor("c7")
    store.set_last_sync_at(datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC))
    device = store.device_id()
    store.close()
    again = LocalStore.open(store_path)
    assert again.device_id() == device
    assert again.cursor() == "c7" and len(again.jobs_for_day(DAY)) == 2
    assert again.last_sync_at() == datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
    # another connection (a second process) sees committed data at once
    other = sqlite3.connect(store_path)
    assert other.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
    other.close()
    again.close()


def test_signing_in_as_someone_else_forgets_the_previous_working_set(store: LocalStore) -> None:
    seed_day(store, 2)
    store.set_session(user_id=TECH, org_id="org-1", role="technician")
    assert len(store.jobs_for_day(DAY)) == 2  # same person: kept
    store.set_session(user_id=OTHER_TECH, org_id="org-2", role="technician")
    assert store.jobs_for_day(DAY) == [] and store.cursor() is None


def test_records_kept_as_the_servers_json_unknown_fields_included(store: LocalStore) -> None:
    """Pages are never decoded into dicts: each record is read into the store's columns and its text kept as
    received, fields this version of the app does not know included (a newer server never breaks a phone)."""
    import msgspec

    c = customer("Ferretería Norte", loyalty="oro")
    j = job(c["id"], color="rojo", lines=[{"id": "l-1", "description": "Termocupla", "quantity": "2"}])
    raw = [msgspec.Raw(msgspec.json.encode(r)) for r in (j,)]
    store.apply_pull(page(customers=[msgspec.Raw(msgspec.json.encode(c))], jobs=raw))
    detail = store.job(j["id"])
    assert detail is not None and detail["title"] == j["title"] and detail["customer_name"] == "Ferretería Norte"
    assert detail["data"]["color"] == "rojo"  # kept as the server sent it
    assert detail["lines"] == [
        {"id": "l-1", "description": "Termocupla", "quantity": "2", "unit_price": None, "iva_rate": None}
    ]
    assert [r["id"] for r in store.jobs_for_day(DAY, technician_id=TECH)] == [j["id"]]
    # the same record decoded (a push answer) lands the same way
    store.apply_record("jobs", j | {"version": 3, "title": "Termocupla cambiada"})
    assert store.job(j["id"])["title"] == "Termocupla cambiada"


def test_only_bootstrap_pages_skip_waiting_for_the_disk(store: LocalStore, outbox: Outbox) -> None:
    """A first-sync page may commit before reaching the disk (the server sends it again); anything the
    technician did always waits for it, also right after a page and inside one."""

    def synchronous() -> int:
        return int(store.conn.execute("PRAGMA synchronous").fetchone()[0])

    assert synchronous() == 2  # FULL
    with store.transaction(durable=False):
        assert synchronous() == 1  # NORMAL: WAL stays consistent, the last pages may have to come again
    assert synchronous() == 2
    with store.transaction(), store.transaction(durable=False):
        assert synchronous() == 2  # joined a durable transaction: durable
    try:
        with store.transaction(durable=False):
            raise RuntimeError("page broken")
    except RuntimeError:
        pass
    assert synchronous() == 2  # restored after a failed page too
    j = seed_day(store, 1)[0]
    from client.actions import TechnicianActions

    TechnicianActions(store, outbox).transition(j["id"], "start_travel")
    assert synchronous() == 2 and outbox.pending() == 1


def test_upgrade_from_the_first_schema_keeps_jobs_and_reads_lines_from_the_record(store_path: Path) -> None:
    old = LocalStore.open(store_path)
    old.close()
    conn = sqlite3.connect(store_path)  # a phone still on schema 1: job lines in their own table
    conn.execute("DELETE FROM schema_version WHERE version > 1")
    conn.execute("CREATE TABLE IF NOT EXISTS job_lines (id TEXT PRIMARY KEY, job_id TEXT, position INTEGER)")
    conn.commit()
    conn.close()
    store = LocalStore.open(store_path)
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert "job_lines" not in store.db.table_names()
    j = seed_day(store, 1)[0]
    assert [line["description"] for line in store.job(j["id"])["lines"]] == ["Service"]
    store.close()
