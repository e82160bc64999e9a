"""Offline actions: checked with the shared job machine, shown at once, queued durably; the outbox's batches
and how the server's answers are recorded (done, or a conflict that keeps everything the technician sent)."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from client.actions import ActionRefused, TechnicianActions
from client.outbox import Outbox
from client.store import LocalStore
from client.sync.wire import OpResult
from tests.client.conftest import OTHER_TECH, SIGNATURE, SIGNATURE_PNG, customer, job, page, photo_bytes, seed_day

DAY = datetime.date(2026, 11, 25)


@pytest.fixture(name="actions")
def fixture_actions(store: LocalStore, outbox: Outbox) -> TechnicianActions:
    return TechnicianActions(store, outbox)


def test_a_move_is_on_disk_before_the_action_returns(
    store_path: Path, store: LocalStore, actions: TechnicianActions
) -> None:
    j = seed_day(store, 1)[0]
    op_id = actions.transition(j["id"], "start_travel", lat=-34.5, lng=-58.4)
    # another connection (as after a crash: the process is gone, the file remains) sees it committed
    other = sqlite3.connect(store_path)
    row = other.execute("SELECT op, entity_id, base_version, payload FROM outbox WHERE op_id = ?", (op_id,)).fetchone()
    other.close()
    assert row[0] == "job.transition" and row[1] == j["id"] and row[2] == j["version"]
    assert '"event": "start_travel"' in row[3] and '"lat": -34.5' in row[3]
    # shown at once, and counted as pending
    assert store.job(j["id"])["status"] == "en_camino"
    assert store.jobs_for_day(DAY)[0]["pending"] is True
    assert store.pending_count() == 1


def test_refusals_come_from_the_shared_job_machine(store: LocalStore, actions: TechnicianActions) -> None:
    c = customer()
    mine = job(c["id"], status="scheduled")
    theirs = job(c["id"], status="scheduled", technicians=[OTHER_TECH])
    store.apply_pull(page(customers=[c], jobs=[mine, theirs]))

    with pytest.raises(ActionRefused) as cancel:
        actions.transition(mine["id"], "cancel", reason="No está el cliente")
    assert cancel.value.code == "job_transition_role"
    assert cancel.value.message_es == "Tu rol no permite este cambio de estado."

    with pytest.raises(ActionRefused) as other:
        actions.transition(theirs["id"], "start_travel")
    assert other.value.code == "job_not_assigned"

    with pytest.raises(ActionRefused) as skip:
        actions.transition(mine["id"], "complete")
    assert skip.value.code == "job_transition_not_allowed"
    assert skip.value.details["allowed"]  # where the job can go from here

    with pytest.raises(ActionRefused) as bogus:
        actions.transition(mine["id"], "teleport")
    assert bogus.value.code == "job_transition_not_allowed"
    assert store.pending_count() == 0  # nothing refused was queued
    assert store.job(mine["id"])["status"] == "scheduled"


def test_completion_needs_signature_minutes_and_notes_or_photo(store: LocalStore, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    actions.transition(j["id"], "start_travel")
    actions.transition(j["id"], "start_work")
    with pytest.raises(ActionRefused) as missing:
        actions.complete(j["id"], notes="", materials=[], actual_minutes=None)
    assert missing.value.code == "job_missing_fields"
    assert "la firma del cliente" in missing.value.message_es and "la duración real" in missing.value.message_es
    assert "notas de cierre o al menos una foto" in missing.value.message_es

    with pytest.raises(ActionRefused) as bad_quantity:
        actions.complete(
            j["id"], notes="ok", materials=[{"description": "Teflón", "quantity": "-1"}], actual_minutes=30
        )
    assert bad_quantity.value.code == "validation_failed"

    actions.add_photo(j["id"], photo_bytes(640, 480), "image/png")
    actions.set_signature(j["id"], SIGNATURE, SIGNATURE_PNG, signer_name="Marta Gómez")
    actions.complete(
        j["id"], notes=None, materials=[{"description": "Teflón", "quantity": "2", "unit": "rollo"}], actual_minutes=45
    )
    detail = store.job(j["id"])
    assert detail["status"] == "completed" and detail["actual_minutes"] == 45
    assert detail["materials"] == [{"quantity": "2", "description": "Teflón", "unit": "rollo"}]
    assert [o["op"] for o in detail["pending_ops"]] == ["job.transition"] * 3
    assert detail["allowed_events"] == []
    # pending: 3 moves + a photo + a signature
    assert store.pending_count() == 5
    with pytest.raises(ActionRefused) as closed:
        actions.add_photo(j["id"], photo_bytes(64, 64), "image/png")
    assert closed.value.code == "job_closed"


def test_photos_are_compressed_upright_and_deduplicated(store: LocalStore, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    big = photo_bytes(4000, 3000)
    first = actions.add_photo(j["id"], big, "image/png")
    again = actions.add_photo(j["id"], big, "image/png")
    assert first == again
    photos = store.job(j["id"])["photos"]
    assert len(photos) == 1 and photos[0]["upload_state"] == "pending"
    stored = Path(photos[0]["path"]).read_bytes()
    assert len(stored) < len(big) and photos[0]["size_bytes"] == len(stored)
    with Image.open(Path(photos[0]["path"])) as image:
        assert image.format == "JPEG" and max(image.size) == 1600 and image.size == (1600, 1200)

    with pytest.raises(ActionRefused) as junk:
        actions.add_photo(j["id"], b"not an image at all", "image/jpeg")
    assert junk.value.code == "unsupported_media_type" and "No se pudo leer la imagen" in junk.value.message_es


def test_signature_validation_and_replacement(store: LocalStore, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    with pytest.raises(ActionRefused) as empty:
        actions.set_signature(j["id"], [], SIGNATURE_PNG)
    assert "La firma está vacía" in empty.value.message_es
    with pytest.raises(ActionRefused):
        actions.set_signature(j["id"], [[(1.0, 1.0)]] * 201, SIGNATURE_PNG)
    actions.set_signature(j["id"], SIGNATURE, SIGNATURE_PNG, signer_name="Marta")
    actions.set_signature(j["id"], [[(5.0, 5.0), (-3.0, 20000.0)]], SIGNATURE_PNG, signer_name="Marta G.")
    rows = store._rows("SELECT signer_name, strokes FROM signatures WHERE job_id = ?", [j["id"]])
    assert len(rows) == 1 and rows[0]["signer_name"] == "Marta G."
    assert rows[0]["strokes"] == "[[[5.0, 5.0], [0.0, 10000.0]]]"  # clamped to the pad's bounds


def test_notes_are_validated_and_appended(store: LocalStore, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    with pytest.raises(ActionRefused) as blank:
        actions.add_note(j["id"], "   ")
    assert blank.value.message_es == "Escribí la nota antes de guardarla."
    actions.add_note(j["id"], "Primera")
    actions.add_note(j["id"], "Segunda")
    notes = store.job(j["id"])["notes"]
    assert [n["body"] for n in notes] == ["Primera", "Segunda"] and all(n["pending"] for n in notes)
    assert notes[0]["author_name"] == "Juan Técnico"


def test_batches_are_at_most_50_oldest_first_and_hold_waiting_completions(
    store: LocalStore, outbox: Outbox, actions: TechnicianActions
) -> None:
    jobs = seed_day(store, 2)
    for i in range(60):
        outbox.enqueue("job.note", "job", jobs[0]["id"], {"id": f"n{i}", "body": str(i)}, 1)
    batch = outbox.next_batch()
    assert len(batch) == 50 and [o.payload["body"] for o in batch[:3]] == ["0", "1", "2"]
    assert len(outbox.next_batch(500)) == 50  # never more than the server takes

    fresh = Outbox(store)
    store.conn.execute("DELETE FROM outbox")
    a, b = jobs
    for target in (a, b):
        actions.transition(target["id"], "start_travel")
        actions.transition(target["id"], "start_work")
    actions.add_photo(a["id"], photo_bytes(64, 64), "image/png")
    actions.set_signature(a["id"], SIGNATURE, SIGNATURE_PNG)
    actions.complete(a["id"], notes="Listo", actual_minutes=30)
    actions.add_note(a["id"], "después de cerrar")
    held = fresh.next_batch(hold={a["id"]})
    # job a's completion and what follows wait for its photo and signature; everything else goes
    assert [(o.entity_id, o.payload.get("event") or "note") for o in held] == [
        (a["id"], "start_travel"),
        (a["id"], "start_work"),
        (b["id"], "start_travel"),
        (b["id"], "start_work"),
    ]
    assert len(fresh.next_batch()) == 6


def test_results_done_and_rejected(store: LocalStore, outbox: Outbox, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    move = actions.transition(j["id"], "start_travel")
    note_id = actions.add_note(j["id"], "Se cortó el gas en el edificio")
    batch = outbox.next_batch()
    server_job = j | {"status": "en_camino", "version": 3, "changeSeq": 40}
    outcome = outbox.mark_results(
        batch,
        [
            OpResult(op_id=move, status="applied", record=server_job),
            OpResult(op_id=batch[1].op_id, status="rejected", code="job_closed", message="El trabajo ya está cerrado."),
        ],
    )
    assert (outcome.applied, outcome.rejected) == (1, 1)
    assert outbox.next_batch() == [] and store.pending_ops_count() == 0
    detail = store.job(j["id"])
    assert detail["status"] == "en_camino" and detail["version"] == 3
    note = next(n for n in detail["notes"] if n["id"] == note_id)
    assert note["rejected"] is True and note["body"] == "Se cortó el gas en el edificio"  # kept and shown
    (conflict,) = store.conflicts()
    assert conflict["code"] == "job_closed" and conflict["message"] == "El trabajo ya está cerrado."
    assert conflict["job_title"] == "Caldera no enciende"
    assert conflict["device_data"]["payload"]["body"] == "Se cortó el gas en el edificio"
    store.acknowledge_conflict(conflict["id"])
    assert store.conflicts() == [] and len(store.conflicts(unacknowledged_only=False)) == 1


def test_a_rejected_move_no_longer_shows(store: LocalStore, outbox: Outbox, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    actions.transition(j["id"], "start_travel")
    assert store.job(j["id"])["status"] == "en_camino"
    (op,) = outbox.next_batch()
    cancelled = j | {"status": "cancelled", "version": 3}
    outbox.mark_results(
        [op],
        [
            OpResult(
                op_id=op.op_id,
                status="rejected",
                code="sync.job_cancelled_on_server",
                message="Cancelado",
                record=cancelled,
            )
        ],
    )
    assert store.job(j["id"])["status"] == "cancelled"
    assert store.conflicts()[0]["code"] == "sync.job_cancelled_on_server"
    store.apply_pull(page(cursor="c8", jobs=([], [j["id"]])))  # and then the job leaves the phone
    assert store.conflicts()[0]["job_title"] == "Caldera no enciende"  # the notice still says which job


def test_pending_moves_survive_a_newer_server_record(store: LocalStore, actions: TechnicianActions) -> None:
    j = seed_day(store, 1)[0]
    actions.transition(j["id"], "start_travel")
    actions.transition(j["id"], "start_work")
    # the office edits the title meanwhile: the pull brings the job, still scheduled on the server
    store.apply_pull(page(cursor="c5", jobs=[j | {"title": "Caldera (urgente)", "version": 3}]))
    detail = store.job(j["id"])
    assert detail["title"] == "Caldera (urgente)" and detail["status"] == "working"
    assert detail["server_status"] == "scheduled"


def test_prune_forgets_old_confirmed_operations_only(store: LocalStore, outbox: Outbox) -> None:
    j = seed_day(store, 1)[0]
    done = outbox.enqueue("job.note", "job", j["id"], {"id": "a", "body": "a"}, 1)
    refused = outbox.enqueue("job.note", "job", j["id"], {"id": "b", "body": "b"}, 1)
    waiting = outbox.enqueue("job.note", "job", j["id"], {"id": "c", "body": "c"}, 1)
    batch = outbox.next_batch()
    outbox.mark_results(
        batch[:2],
        [OpResult(op_id=done, status="applied"), OpResult(op_id=refused, status="rejected", code="x", message="m")],
    )
    assert outbox.prune(keep_days=7) == 0  # confirmed today: kept a while (for support)
    store.conn.execute("UPDATE outbox SET finished_at = '2020-01-01T00:00:00Z' WHERE finished_at IS NOT NULL")
    assert outbox.prune(keep_days=7) == 1
    left = {r["op_id"]: r["state"] for r in store._rows("SELECT op_id, state FROM outbox")}
    assert left == {refused: "rejected", waiting: "pending"}
