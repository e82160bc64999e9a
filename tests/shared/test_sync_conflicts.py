"""Field-level conflict rules of offline sync (shared/sync/conflicts.py): who wins each field, status moves."""

from __future__ import annotations

import pytest

from shared.states.job import JobEvent, JobStatus
from shared.sync.conflicts import (
    CLASS_WINNER,
    FIELD_CLASSES,
    OFFICE_VISIBLE,
    ConflictKind,
    FieldClass,
    Outcome,
    Winner,
    decide_transition,
    field_class,
    merge_fields,
    replay_chain,
    winner,
)


@pytest.mark.parametrize(
    ("name", "klass"),
    [
        ("lines", FieldClass.FISCAL),
        ("complexity", FieldClass.FISCAL),
        ("scheduledStart", FieldClass.SCHEDULING),
        ("scheduledEnd", FieldClass.SCHEDULING),
        ("technicianIds", FieldClass.ASSIGNMENT),
        ("customerId", FieldClass.ASSIGNMENT),
        ("status", FieldClass.PROGRESS),
        ("actualMinutes", FieldClass.PROGRESS),
        ("completionNotes", FieldClass.PROGRESS),
        ("materials", FieldClass.PROGRESS),
        ("notes", FieldClass.APPEND),
        ("photos", FieldClass.APPEND),
        ("signature", FieldClass.APPEND),
    ],
)
def test_every_job_field_has_its_class(name: str, klass: FieldClass) -> None:
    assert field_class("job", name) is klass


def test_server_wins_fiscal_scheduling_assignment_and_unknown_fields() -> None:
    for klass in (FieldClass.FISCAL, FieldClass.SCHEDULING, FieldClass.ASSIGNMENT):
        assert CLASS_WINNER[klass] is Winner.SERVER
    assert winner("job", "somethingNew") is Winner.SERVER  # a field nobody classified is not the device's
    assert winner("job", "actualMinutes") is Winner.DEVICE
    assert winner("job", "notes") is Winner.BOTH
    assert set(FIELD_CLASSES["job"].values()) == set(FieldClass)


def test_merge_drops_server_fields_keeps_progress_and_appends() -> None:
    server = {"scheduledStart": "2026-12-01T10:00:00Z", "technicianIds": ["a"], "actualMinutes": None}
    device = {
        "scheduledStart": "2026-12-01T15:00:00Z",  # moved on the phone: the office's agenda wins
        "technicianIds": ["a"],  # same as the server: not a loss
        "lines": [{"unitPrice": "1"}],
        "actualMinutes": 75,
        "completionNotes": "Se cambió la válvula",
        "notes": ["llegué tarde"],
    }
    merged = merge_fields("job", device, server)
    assert merged.accepted == {"actualMinutes": 75, "completionNotes": "Se cambió la válvula"}
    assert merged.dropped == {"scheduledStart": "2026-12-01T15:00:00Z", "lines": [{"unitPrice": "1"}]}
    assert merged.appended == {"notes": ["llegué tarde"]}
    assert not merged.lost_nothing
    assert merge_fields("job", {"actualMinutes": 10}, server).lost_nothing


def test_a_move_valid_from_the_servers_status_applies_even_with_an_old_base() -> None:
    fresh = decide_transition(JobStatus.WORKING, JobEvent.COMPLETE, base_version=4, server_version=4)
    assert fresh.outcome is Outcome.APPLY and not fresh.stale and fresh.conflict is None
    old = decide_transition(JobStatus.WORKING, JobEvent.COMPLETE, base_version=2, server_version=5)
    assert old.outcome is Outcome.APPLY and old.stale  # answered "merged"
    unknown_base = decide_transition("scheduled", "start_travel", base_version=None, server_version=9)
    assert unknown_base.outcome is Outcome.APPLY and not unknown_base.stale


def test_the_same_move_made_on_the_server_is_already_done() -> None:
    decision = decide_transition(JobStatus.EN_CAMINO, JobEvent.START_TRAVEL, base_version=2, server_version=3)
    assert decision.outcome is Outcome.ALREADY and decision.conflict is None


def test_cancelled_on_the_server_while_completed_offline_is_an_office_visible_conflict() -> None:
    for event in (JobEvent.START_TRAVEL, JobEvent.START_WORK, JobEvent.COMPLETE):
        decision = decide_transition(JobStatus.CANCELLED, event, base_version=3, server_version=4)
        assert decision.outcome is Outcome.REJECT
        assert decision.conflict is ConflictKind.JOB_CANCELLED_ON_SERVER
        assert decision.conflict.value == "sync.job_cancelled_on_server"
        assert "canceló" in (decision.message or "")
    assert ConflictKind.JOB_CANCELLED_ON_SERVER in OFFICE_VISIBLE
    # cancelling an already cancelled job is no conflict: it is already done
    assert decide_transition(JobStatus.CANCELLED, JobEvent.CANCEL, 1, 2).outcome is Outcome.ALREADY


def test_a_move_that_no_longer_applies_is_stale_only_when_the_base_was_old() -> None:
    stale = decide_transition(JobStatus.PENDING, JobEvent.START_WORK, base_version=3, server_version=5)
    assert stale.outcome is Outcome.REJECT and stale.conflict is ConflictKind.TRANSITION_STALE
    assert ConflictKind.TRANSITION_STALE not in OFFICE_VISIBLE
    plain = decide_transition(JobStatus.PENDING, JobEvent.START_WORK, base_version=5, server_version=5)
    assert plain.outcome is Outcome.REJECT and plain.conflict is None  # the job machine's own refusal
    # a completed job cannot be completed "again" into something else: completing it is already done
    assert decide_transition(JobStatus.COMPLETED, JobEvent.COMPLETE, 1, 9).outcome is Outcome.ALREADY


def test_replay_chain_skips_moves_the_server_already_passed() -> None:
    offline = ["start_travel", "start_work", "complete"]
    assert replay_chain(JobStatus.SCHEDULED, offline) == [JobEvent.START_TRAVEL, JobEvent.START_WORK, JobEvent.COMPLETE]
    assert replay_chain(JobStatus.WORKING, offline) == [JobEvent.COMPLETE]
    assert replay_chain(JobStatus.CANCELLED, offline) == []
