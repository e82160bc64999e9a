"""Job status flow: pending → scheduled → en_camino → working → completed; cancellable before completion.

Everything about a job's moves is data in this module, and the server's ``apply_event()``, the
client's buttons and the sync engine all ask the same functions:

- ``JOB_EVENTS``: the named moves (the outbox stores the event, e.g. ``complete``, not the status);
  ``JOB_MACHINE`` is derived from them.
- ``EVENT_ROLES`` / ``ASSIGNED_ONLY``: who may make each move. Owner, admin and dispatcher make any
  move on any job (a dispatcher can mark a job en camino for a technician who phoned in).
  A technician makes only the field moves (``start_travel``, ``stop_travel``, ``start_work``,
  ``complete``) and only on jobs assigned to them; ``stop_travel`` (en camino → back to scheduled)
  is theirs too, so a tap by mistake can be undone offline. Technicians do not schedule, unschedule
  or cancel: a cancellation is a decision with the customer and the agenda, so a dispatcher makes it
  (the technician tells the office, or leaves a note). The accountant makes no moves.
- ``REQUIRED_FIELDS``: what the target state needs, as "any of" groups of field names.

``check_transition()`` and ``check_event()`` answer ok or a refusal with a stable reason code.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.roles import Role
from shared.states.machine import EventMachine, Move


class JobStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    EN_CAMINO = "en_camino"
    WORKING = "working"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class JobPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class JobEvent(StrEnum):
    """What a person does to a job; the sync outbox stores these, the server re-checks them."""

    SCHEDULE = "schedule"  # pending → scheduled
    UNSCHEDULE = "unschedule"  # scheduled → pending (taken off the agenda)
    START_TRAVEL = "start_travel"  # scheduled → en_camino
    STOP_TRAVEL = "stop_travel"  # en_camino → scheduled (turned back, or tapped by mistake)
    START_WORK = "start_work"  # en_camino → working
    COMPLETE = "complete"  # working → completed
    CANCEL = "cancel"  # any state before completion → cancelled


_OPEN = frozenset({JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.EN_CAMINO, JobStatus.WORKING})

JOB_EVENTS: dict[JobEvent, Move[JobStatus]] = {
    JobEvent.SCHEDULE: Move(frozenset({JobStatus.PENDING}), JobStatus.SCHEDULED),
    JobEvent.UNSCHEDULE: Move(frozenset({JobStatus.SCHEDULED}), JobStatus.PENDING),
    JobEvent.START_TRAVEL: Move(frozenset({JobStatus.SCHEDULED}), JobStatus.EN_CAMINO),
    JobEvent.STOP_TRAVEL: Move(frozenset({JobStatus.EN_CAMINO}), JobStatus.SCHEDULED),
    JobEvent.START_WORK: Move(frozenset({JobStatus.EN_CAMINO}), JobStatus.WORKING),
    JobEvent.COMPLETE: Move(frozenset({JobStatus.WORKING}), JobStatus.COMPLETED),
    JobEvent.CANCEL: Move(_OPEN, JobStatus.CANCELLED),
}

JOB_MACHINE: EventMachine[JobStatus, JobEvent] = EventMachine("job", JobStatus, JOB_EVENTS)

# --- who ---------------------------------------------------------------------------------------

_OFFICE = frozenset({Role.OWNER, Role.ADMIN, Role.DISPATCHER})
_FIELD = _OFFICE | {Role.TECHNICIAN}

EVENT_ROLES: dict[JobEvent, frozenset[Role]] = {
    JobEvent.SCHEDULE: _OFFICE,
    JobEvent.UNSCHEDULE: _OFFICE,
    JobEvent.START_TRAVEL: _FIELD,
    JobEvent.STOP_TRAVEL: _FIELD,
    JobEvent.START_WORK: _FIELD,
    JobEvent.COMPLETE: _FIELD,
    JobEvent.CANCEL: _OFFICE,
}

# Roles that may act only on jobs assigned to them.
ASSIGNED_ONLY: frozenset[Role] = frozenset({Role.TECHNICIAN})

# --- what the target state needs -----------------------------------------------------------------

# Each group is "any of these fields"; every group of the target state must be met.
REQUIRED_FIELDS: dict[JobStatus, tuple[tuple[str, ...], ...]] = {
    JobStatus.SCHEDULED: (("scheduled_start",), ("technician_ids",)),
    JobStatus.COMPLETED: (("completion_notes", "photos"), ("signature",), ("actual_minutes",)),
    JobStatus.CANCELLED: (("cancel_reason",),),
}

FIELD_LABELS: dict[str, str] = {
    "scheduled_start": "la fecha y hora de la visita",
    "technician_ids": "un técnico asignado",
    "completion_notes": "notas de cierre",
    "photos": "al menos una foto",
    "signature": "la firma del cliente",
    "actual_minutes": "la duración real",
    "cancel_reason": "el motivo de la cancelación",
}


def _filled(text: str | None) -> bool:
    return bool(text and text.strip())


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What a job has, as it would be after the move (the caller merges the move's own payload,
    e.g. the cancel reason or the completion notes sent with it)."""

    scheduled_start: datetime.datetime | None = None
    technician_count: int = 0
    completion_notes: str | None = None
    photo_count: int = 0
    has_signature: bool = False
    signature_waived: bool = False  # the organisation does not ask its customers to sign
    actual_minutes: int | None = None
    cancel_reason: str | None = None

    def has(self, field: str) -> bool:
        return FIELD_PRESENT[field](self)


FIELD_PRESENT: dict[str, Callable[[JobFacts], bool]] = {
    "scheduled_start": lambda f: f.scheduled_start is not None,
    "technician_ids": lambda f: f.technician_count > 0,
    "completion_notes": lambda f: _filled(f.completion_notes),
    "photos": lambda f: f.photo_count > 0,
    "signature": lambda f: f.has_signature or f.signature_waived,
    "actual_minutes": lambda f: f.actual_minutes is not None and f.actual_minutes > 0,
    "cancel_reason": lambda f: _filled(f.cancel_reason),
}


def missing_fields(target: JobStatus, facts: JobFacts) -> tuple[tuple[str, ...], ...]:
    """The unmet "any of" groups of ``target`` (empty when it has all it needs)."""
    return tuple(group for group in REQUIRED_FIELDS.get(target, ()) if not any(facts.has(f) for f in group))


# --- the check -----------------------------------------------------------------------------------


class TransitionRefusal(StrEnum):
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    NOT_ASSIGNED = "not_assigned"
    MISSING_FIELDS = "missing_fields"


REFUSAL_MESSAGES: dict[TransitionRefusal, str] = {
    TransitionRefusal.TRANSITION_NOT_ALLOWED: "El trabajo no puede pasar a ese estado desde el estado actual.",
    TransitionRefusal.ROLE_NOT_ALLOWED: "Tu rol no permite este cambio de estado.",
    TransitionRefusal.NOT_ASSIGNED: "Sólo podés cambiar el estado de los trabajos que tenés asignados.",
    TransitionRefusal.MISSING_FIELDS: "Faltan datos para este cambio de estado",
}


@dataclass(frozen=True, slots=True)
class TransitionCheck:
    """The answer of ``check_transition``: truthy when ok, else ``reason`` says why not."""

    current: JobStatus
    target: JobStatus | None
    event: JobEvent | None
    reason: TransitionRefusal | None = None
    allowed: tuple[JobStatus, ...] = ()  # with transition_not_allowed: where the job can go
    missing: tuple[tuple[str, ...], ...] = ()  # with missing_fields: the unmet "any of" groups

    @property
    def ok(self) -> bool:
        return self.reason is None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def missing_fields(self) -> tuple[str, ...]:
        return tuple(field for group in self.missing for field in group)

    @property
    def message(self) -> str:
        """Default Spanish (es-AR) text for the refusal; empty when ok."""
        if self.reason is None:
            return ""
        text = REFUSAL_MESSAGES[self.reason]
        if self.reason is TransitionRefusal.MISSING_FIELDS:
            needs = [" o ".join(FIELD_LABELS.get(f, f) for f in group) for group in self.missing]
            text = f"{text}: {', '.join(needs)}."
        return text

    def details(self) -> dict[str, Any]:
        """What an error response carries in ``details`` (field names as in the wire schema)."""
        out: dict[str, Any] = {"from": str(self.current)}
        if self.target is not None:
            out["to"] = str(self.target)
        if self.event is not None:
            out["event"] = str(self.event)
        if self.reason is TransitionRefusal.TRANSITION_NOT_ALLOWED:
            out["allowed"] = [str(s) for s in self.allowed]
        if self.reason is TransitionRefusal.MISSING_FIELDS:
            out["fields"] = list(self.missing_fields)
            out["anyOf"] = [list(group) for group in self.missing]
        return out


def _role(role: Role | str | None) -> Role | None:
    if role is None:
        return None
    try:
        return Role(role)
    except ValueError:
        return None


def may_make(event: JobEvent, role: Role | str | None, is_assigned: bool) -> bool:
    """Whether ``role`` may make ``event`` on a job (assigned to them or not); ignores the state."""
    who = _role(role)
    if who is None or who not in EVENT_ROLES[event]:
        return False
    return is_assigned or who not in ASSIGNED_ONLY


def _check(
    current: JobStatus,
    target: JobStatus | None,
    event: JobEvent | None,
    role: Role | str | None,
    is_assigned: bool,
    facts: JobFacts,
) -> TransitionCheck:
    if event is None or target is None or not JOB_MACHINE.applies(current, event):
        allowed = tuple(s for s in JobStatus if JOB_MACHINE.can(current, s))
        return TransitionCheck(current, target, event, TransitionRefusal.TRANSITION_NOT_ALLOWED, allowed=allowed)
    who = _role(role)
    if who is None or who not in EVENT_ROLES[event]:
        return TransitionCheck(current, target, event, TransitionRefusal.ROLE_NOT_ALLOWED)
    if who in ASSIGNED_ONLY and not is_assigned:
        return TransitionCheck(current, target, event, TransitionRefusal.NOT_ASSIGNED)
    missing = missing_fields(target, facts)
    if missing:
        return TransitionCheck(current, target, event, TransitionRefusal.MISSING_FIELDS, missing=missing)
    return TransitionCheck(current, target, event)


def check_transition(
    current: JobStatus | str,
    target: JobStatus | str,
    *,
    role: Role | str | None,
    is_assigned: bool,
    facts: JobFacts,
) -> TransitionCheck:
    """May ``role`` move a job from ``current`` to ``target`` now?

    Checked in this order, the first failure answering: the move exists (``transition_not_allowed``,
    with ``allowed``), the role may make it (``role_not_allowed``; unknown roles too), a technician
    is assigned to the job (``not_assigned``), the target state's fields are there (``missing_fields``).
    """
    current, target = JobStatus(current), JobStatus(target)
    return _check(current, target, JOB_MACHINE.event_for(current, target), role, is_assigned, facts)


def check_event(
    current: JobStatus | str,
    event: JobEvent | str,
    *,
    role: Role | str | None,
    is_assigned: bool,
    facts: JobFacts,
) -> TransitionCheck:
    """``check_transition`` for an event from the outbox (the event must apply in ``current``)."""
    current, event = JobStatus(current), JobEvent(event)
    return _check(current, target_of(event), event, role, is_assigned, facts)


def target_of(event: JobEvent | str) -> JobStatus:
    """The status an event leads to."""
    return JOB_MACHINE.target_of(JobEvent(event))


def event_for(current: JobStatus | str, target: JobStatus | str) -> JobEvent | None:
    """The event that moves ``current`` to ``target``; None when the machine has no such move."""
    return JOB_MACHINE.event_for(JobStatus(current), JobStatus(target))


def allowed_events(current: JobStatus | str, role: Role | str | None, is_assigned: bool) -> list[JobEvent]:
    """The events ``role`` may make in ``current`` (the client's buttons); fields are checked on press."""
    return [e for e in JOB_MACHINE.events_from(JobStatus(current)) if may_make(e, role, is_assigned)]


def allowed_transitions(current: JobStatus | str, role: Role | str | None, is_assigned: bool) -> list[JobStatus]:
    """The statuses ``role`` may move a job to from ``current``, in ``JobStatus`` order."""
    targets = {target_of(e) for e in allowed_events(current, role, is_assigned)}
    return [s for s in JobStatus if s in targets]
