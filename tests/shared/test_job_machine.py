from __future__ import annotations

import datetime
import itertools
from enum import StrEnum

import pytest

from shared.permissions import Permission, has_permission
from shared.roles import Role
from shared.states.job import (
    ASSIGNED_ONLY,
    EVENT_ROLES,
    FIELD_LABELS,
    FIELD_PRESENT,
    JOB_MACHINE,
    REQUIRED_FIELDS,
    JobEvent,
    JobFacts,
    JobStatus,
    TransitionRefusal,
    allowed_events,
    allowed_transitions,
    check_event,
    check_transition,
    event_for,
    target_of,
)
from shared.states.machine import EventMachine, Move

P, S, E, W, C, X = (
    JobStatus.PENDING,
    JobStatus.SCHEDULED,
    JobStatus.EN_CAMINO,
    JobStatus.WORKING,
    JobStatus.COMPLETED,
    JobStatus.CANCELLED,
)

# Written out by hand, independent of the module: every move that exists and its event.
EXPECTED_MOVES: dict[tuple[JobStatus, JobStatus], JobEvent] = {
    (P, S): JobEvent.SCHEDULE,
    (S, P): JobEvent.UNSCHEDULE,
    (S, E): JobEvent.START_TRAVEL,
    (E, S): JobEvent.STOP_TRAVEL,
    (E, W): JobEvent.START_WORK,
    (W, C): JobEvent.COMPLETE,
    (P, X): JobEvent.CANCEL,
    (S, X): JobEvent.CANCEL,
    (E, X): JobEvent.CANCEL,
    (W, X): JobEvent.CANCEL,
}
OFFICE = {Role.OWNER, Role.ADMIN, Role.DISPATCHER}
FIELD_EVENTS = {JobEvent.START_TRAVEL, JobEvent.STOP_TRAVEL, JobEvent.START_WORK, JobEvent.COMPLETE}

# Facts that satisfy every target state.
COMPLETE_FACTS = JobFacts(
    scheduled_start=datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC),
    technician_count=1,
    completion_notes="Cambié el flexible de la canilla.",
    photo_count=2,
    has_signature=True,
    actual_minutes=45,
    cancel_reason="El cliente no estaba.",
)


def expected_outcome(current: JobStatus, target: JobStatus, role: Role, assigned: bool) -> TransitionRefusal | None:
    event = EXPECTED_MOVES.get((current, target))
    if event is None:
        return TransitionRefusal.TRANSITION_NOT_ALLOWED
    if role in OFFICE:
        return None
    if role is Role.TECHNICIAN and event in FIELD_EVENTS:
        return None if assigned else TransitionRefusal.NOT_ASSIGNED
    return TransitionRefusal.ROLE_NOT_ALLOWED


@pytest.mark.parametrize("assigned", [True, False], ids=["assigned", "not_assigned"])
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobStatus, JobStatus)))
def test_every_move_for_every_role(current: JobStatus, target: JobStatus, role: Role, assigned: bool) -> None:
    check = check_transition(current, target, role=role, is_assigned=assigned, facts=COMPLETE_FACTS)
    expected = expected_outcome(current, target, role, assigned)
    assert check.reason is expected
    assert bool(check) is (expected is None)
    assert check.event == EXPECTED_MOVES.get((current, target))
    if expected is TransitionRefusal.TRANSITION_NOT_ALLOWED:
        assert set(check.allowed) == {t for (f, t) in EXPECTED_MOVES if f == current}
        assert check.details()["allowed"] == [str(s) for s in check.allowed]
    if expected is not None:
        assert check.message  # Spanish text a person can act on


@pytest.mark.parametrize("assigned", [True, False])
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("current", list(JobStatus))
def test_buttons_match_the_checks(current: JobStatus, role: Role, assigned: bool) -> None:
    expected = [t for t in JobStatus if expected_outcome(current, t, role, assigned) is None]
    assert allowed_transitions(current, role, assigned) == expected
    events = {EXPECTED_MOVES[(current, t)] for t in expected}
    assert allowed_events(current, role, assigned) == [e for e in JobEvent if e in events]


def test_table_is_the_one_the_rest_of_the_code_knows() -> None:
    legacy = {
        P: {S, X},
        S: {E, P, X},
        E: {W, S, X},
        W: {C, X},
        C: set(),
        X: set(),
    }
    assert {k: set(v) for k, v in JOB_MACHINE.transitions.items()} == legacy
    assert JOB_MACHINE.is_terminal(C) and JOB_MACHINE.is_terminal(X)


@pytest.mark.parametrize(
    ("event", "target"),
    [
        (JobEvent.SCHEDULE, S),
        (JobEvent.UNSCHEDULE, P),
        (JobEvent.START_TRAVEL, E),
        (JobEvent.STOP_TRAVEL, S),
        (JobEvent.START_WORK, W),
        (JobEvent.COMPLETE, C),
        (JobEvent.CANCEL, X),
    ],
)
def test_target_of_every_event(event: JobEvent, target: JobStatus) -> None:
    assert target_of(event) is target
    assert target_of(str(event)) is target  # as the outbox stores it


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobStatus, JobStatus)))
def test_event_for_names_each_move(current: JobStatus, target: JobStatus) -> None:
    assert event_for(current, target) == EXPECTED_MOVES.get((current, target))


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DISPATCHER, Role.TECHNICIAN])
@pytest.mark.parametrize(("current", "event"), list(itertools.product(JobStatus, JobEvent)))
def test_check_event_needs_the_event_to_apply_in_the_current_state(
    current: JobStatus, event: JobEvent, role: Role
) -> None:
    check = check_event(current, event, role=role, is_assigned=True, facts=COMPLETE_FACTS)
    applies = EXPECTED_MOVES.get((current, target_of(event))) == event
    if not applies:
        assert check.reason is TransitionRefusal.TRANSITION_NOT_ALLOWED
    else:
        assert check.reason is expected_outcome(current, target_of(event), role, True)


def test_stop_travel_from_pending_is_refused_although_pending_can_reach_scheduled() -> None:
    check = check_event(P, JobEvent.STOP_TRAVEL, role=Role.OWNER, is_assigned=True, facts=COMPLETE_FACTS)
    assert check.reason is TransitionRefusal.TRANSITION_NOT_ALLOWED
    assert set(check.allowed) == {S, X}


@pytest.mark.parametrize("role", [None, "", "superuser", "OWNER"])
def test_unknown_roles_are_refused(role: str | None) -> None:
    check = check_transition(P, S, role=role, is_assigned=True, facts=COMPLETE_FACTS)
    assert check.reason is TransitionRefusal.ROLE_NOT_ALLOWED
    assert allowed_transitions(P, role, True) == []


def test_roles_as_strings_from_a_token() -> None:
    assert check_transition("pending", "scheduled", role="dispatcher", is_assigned=False, facts=COMPLETE_FACTS)
    assert allowed_transitions("working", "technician", True) == [C]


# --- required fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "facts", "missing"),
    [
        (P, S, JobFacts(), (("scheduled_start",), ("technician_ids",))),
        (P, S, JobFacts(technician_count=2), (("scheduled_start",),)),
        (P, S, JobFacts(scheduled_start=COMPLETE_FACTS.scheduled_start), (("technician_ids",),)),
        (E, S, JobFacts(), (("scheduled_start",), ("technician_ids",))),
        (W, C, JobFacts(), (("completion_notes", "photos"), ("signature",), ("actual_minutes",))),
        (
            W,
            C,
            JobFacts(completion_notes="  ", has_signature=True, actual_minutes=30),
            (("completion_notes", "photos"),),
        ),
        (W, C, JobFacts(photo_count=1, has_signature=True, actual_minutes=0), (("actual_minutes",),)),
        (W, C, JobFacts(photo_count=1, actual_minutes=30), (("signature",),)),
        (P, X, JobFacts(), (("cancel_reason",),)),
        (W, X, JobFacts(cancel_reason=" \n"), (("cancel_reason",),)),
    ],
)
def test_missing_fields_are_named(
    current: JobStatus, target: JobStatus, facts: JobFacts, missing: tuple[tuple[str, ...], ...]
) -> None:
    check = check_transition(current, target, role=Role.OWNER, is_assigned=False, facts=facts)
    assert check.reason is TransitionRefusal.MISSING_FIELDS
    assert check.missing == missing
    assert check.missing_fields == tuple(f for group in missing for f in group)
    assert check.details()["fields"] == list(check.missing_fields)
    for field in check.missing_fields:
        assert FIELD_LABELS[field] in check.message


@pytest.mark.parametrize(
    "facts",
    [
        JobFacts(completion_notes="Listo", has_signature=True, actual_minutes=30),
        JobFacts(photo_count=1, has_signature=True, actual_minutes=30),
        JobFacts(photo_count=1, signature_waived=True, actual_minutes=30),  # the org waives signatures
    ],
)
def test_completion_with_notes_or_photo_and_signature_unless_waived(facts: JobFacts) -> None:
    assert check_transition(W, C, role=Role.TECHNICIAN, is_assigned=True, facts=facts).ok


@pytest.mark.parametrize("target", [P, E, W])
def test_states_without_requirements(target: JobStatus) -> None:
    current = {P: S, E: S, W: E}[target]
    assert check_transition(current, target, role=Role.DISPATCHER, is_assigned=False, facts=JobFacts()).ok


def test_role_and_assignment_are_checked_before_fields() -> None:
    tech = check_transition(W, C, role=Role.TECHNICIAN, is_assigned=False, facts=JobFacts())
    assert tech.reason is TransitionRefusal.NOT_ASSIGNED
    accountant = check_transition(W, C, role=Role.ACCOUNTANT, is_assigned=True, facts=JobFacts())
    assert accountant.reason is TransitionRefusal.ROLE_NOT_ALLOWED


def test_every_required_field_has_a_rule_and_a_label() -> None:
    for groups in REQUIRED_FIELDS.values():
        for group in groups:
            for field in group:
                assert field in FIELD_PRESENT
                assert field in FIELD_LABELS


def test_details_of_missing_fields() -> None:
    check = check_transition(W, C, role=Role.ADMIN, is_assigned=False, facts=JobFacts(has_signature=True))
    assert check.details() == {
        "from": "working",
        "to": "completed",
        "event": "complete",
        "fields": ["completion_notes", "photos", "actual_minutes"],
        "anyOf": [["completion_notes", "photos"], ["actual_minutes"]],
    }
    assert (
        check.message
        == "Faltan datos para este cambio de estado: notas de cierre o al menos una foto, la duración real."
    )


# --- agreement with the permission matrix ---------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_job_roles_agree_with_permissions(role: Role) -> None:
    makes_any = any(role in roles for roles in EVENT_ROLES.values())
    assert makes_any == has_permission(role, Permission.JOBS_TRANSITION)
    if role in EVENT_ROLES[JobEvent.SCHEDULE] or role in EVENT_ROLES[JobEvent.CANCEL]:
        assert has_permission(role, Permission.JOBS_DISPATCH)
    if role in ASSIGNED_ONLY:
        assert not has_permission(role, Permission.JOBS_READ_ALL)


# --- the generic helper ---------------------------------------------------------------------------


class Light(StrEnum):
    RED = "red"
    GREEN = "green"


class Switch(StrEnum):
    GO = "go"
    STOP = "stop"
    HALT = "halt"


def test_event_machine_helpers() -> None:
    m = EventMachine("light", Light, {Switch.GO: Move(frozenset({Light.RED}), Light.GREEN)})
    assert m.can(Light.RED, Light.GREEN) and m.is_terminal(Light.GREEN)
    assert m.next_status(Light.RED, Switch.GO) is Light.GREEN
    assert m.next_status(Light.GREEN, Switch.GO) is None
    assert m.events_from(Light.RED) == (Switch.GO,)
    assert m.event_for(Light.GREEN, Light.RED) is None


def test_event_machine_refuses_two_events_for_one_move() -> None:
    with pytest.raises(ValueError, match="two events"):
        EventMachine(
            "light",
            Light,
            {
                Switch.STOP: Move(frozenset({Light.GREEN}), Light.RED),
                Switch.HALT: Move(frozenset({Light.GREEN}), Light.RED),
            },
        )
