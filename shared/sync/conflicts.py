"""Field-level conflict rules of offline sync, as data and pure functions (server and client use them).

Every synced field of an entity belongs to a class (``FIELD_CLASSES``) and each class has a winner
(``CLASS_WINNER``):

- ``fiscal`` (customer, tax data, lines, prices), ``scheduling`` (window, estimate) and ``assignment``
  (technicians, customer, address): the SERVER wins; what a device sends for them is dropped.
- ``progress`` (status, actual minutes, completion notes, materials): the TECHNICIAN wins; the status
  only through the shared job machine (``decide_transition``): a move valid from the server's current
  status is applied even if the device based it on an old version.
- ``append`` (notes, photos, signature): both are kept; notes are appended, never overwritten.

A job cancelled on the server while the technician moved it offline is ``JOB_CANCELLED_ON_SERVER``: the
operation is rejected, recorded as a conflict the office sees, and the device's data goes back in the
result so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.states.job import JOB_MACHINE, JobEvent, JobStatus, target_of


class FieldClass(StrEnum):
    FISCAL = "fiscal"
    SCHEDULING = "scheduling"
    ASSIGNMENT = "assignment"
    PROGRESS = "progress"
    APPEND = "append"


class Winner(StrEnum):
    SERVER = "server"
    DEVICE = "device"
    BOTH = "both"  # appended / added: nothing overwritten


CLASS_WINNER: dict[FieldClass, Winner] = {
    FieldClass.FISCAL: Winner.SERVER,
    FieldClass.SCHEDULING: Winner.SERVER,
    FieldClass.ASSIGNMENT: Winner.SERVER,
    FieldClass.PROGRESS: Winner.DEVICE,
    FieldClass.APPEND: Winner.BOTH,
}

# wire (camelCase) field names of each entity → class; a field not listed is the server's
FIELD_CLASSES: dict[str, dict[str, FieldClass]] = {
    "job": {
        "customerId": FieldClass.ASSIGNMENT,
        "addressId": FieldClass.ASSIGNMENT,
        "technicianIds": FieldClass.ASSIGNMENT,
        "scheduledStart": FieldClass.SCHEDULING,
        "scheduledEnd": FieldClass.SCHEDULING,
        "estimatedMinutes": FieldClass.SCHEDULING,
        "priority": FieldClass.SCHEDULING,
        "lines": FieldClass.FISCAL,
        "complexity": FieldClass.FISCAL,
        "title": FieldClass.FISCAL,
        "description": FieldClass.FISCAL,
        "serviceType": FieldClass.FISCAL,
        "status": FieldClass.PROGRESS,
        "actualMinutes": FieldClass.PROGRESS,
        "completionNotes": FieldClass.PROGRESS,
        "materials": FieldClass.PROGRESS,
        "notes": FieldClass.APPEND,
        "photos": FieldClass.APPEND,
        "signature": FieldClass.APPEND,
    },
    "customer": {
        "name": FieldClass.FISCAL,
        "docType": FieldClass.FISCAL,
        "docNumber": FieldClass.FISCAL,
        "ivaCondition": FieldClass.FISCAL,
        "phone": FieldClass.FISCAL,
        "email": FieldClass.FISCAL,
        "notes": FieldClass.APPEND,
    },
}

PROGRESS_FIELDS: frozenset[str] = frozenset(k for k, v in FIELD_CLASSES["job"].items() if v is FieldClass.PROGRESS)


def field_class(entity: str, name: str) -> FieldClass:
    """The class of ``entity``'s field ``name`` (unknown fields are the server's: fiscal)."""
    return FIELD_CLASSES.get(entity, {}).get(name, FieldClass.FISCAL)


def winner(entity: str, name: str) -> Winner:
    return CLASS_WINNER[field_class(entity, name)]


@dataclass(frozen=True, slots=True)
class FieldMerge:
    """What of the device's changes the server takes (``accepted``) and what it drops (``dropped``)."""

    accepted: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, Any] = field(default_factory=dict)
    appended: dict[str, Any] = field(default_factory=dict)

    @property
    def lost_nothing(self) -> bool:
        return not self.dropped


def merge_fields(entity: str, device_changes: dict[str, Any], server: dict[str, Any]) -> FieldMerge:
    """Split the device's changed fields by their class's winner.

    Server-wins fields the device changed to something other than the server's value are ``dropped``
    (the client shows them and takes the server's); device-wins fields are ``accepted``; append fields
    are ``appended`` (added to the server's, never replacing them).
    """
    accepted: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    appended: dict[str, Any] = {}
    for name, value in device_changes.items():
        who = winner(entity, name)
        if who is Winner.DEVICE:
            accepted[name] = value
        elif who is Winner.BOTH:
            appended[name] = value
        elif server.get(name) != value:
            dropped[name] = value
    return FieldMerge(accepted, dropped, appended)


# ---------------------------------------------------------------------------------------------- status


class Outcome(StrEnum):
    APPLY = "apply"  # do it
    ALREADY = "already"  # the server is already where the move leads: nothing to do (merged)
    REJECT = "reject"


class ConflictKind(StrEnum):
    JOB_CANCELLED_ON_SERVER = "sync.job_cancelled_on_server"
    TRANSITION_STALE = "sync.transition_stale"


CONFLICT_MESSAGES: dict[ConflictKind, str] = {
    ConflictKind.JOB_CANCELLED_ON_SERVER: (
        "La oficina canceló este trabajo mientras estabas sin conexión. Guardamos lo que cargaste; "
        "avisá a la oficina para decidir qué hacer."
    ),
    ConflictKind.TRANSITION_STALE: (
        "El trabajo cambió de estado en la oficina y este paso ya no corresponde. Revisá el estado actual."
    ),
}

# conflicts the office must see (recorded, listed, acknowledged); the others are only told to the device
OFFICE_VISIBLE: frozenset[ConflictKind] = frozenset({ConflictKind.JOB_CANCELLED_ON_SERVER})


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    stale: bool = False  # the device based it on an older version than the server's
    conflict: ConflictKind | None = None

    @property
    def message(self) -> str | None:
        return CONFLICT_MESSAGES[self.conflict] if self.conflict else None


def is_stale(base_version: int | None, server_version: int) -> bool:
    """The device's base differs from the server's record (None: the device does not say: not stale)."""
    return base_version is not None and base_version != server_version


def decide_transition(
    server_status: JobStatus | str, event: JobEvent | str, base_version: int | None, server_version: int
) -> Decision:
    """What to do with a status move from the outbox, by the server's CURRENT status (not the device's).

    - the server's job is cancelled and the move is not a cancel: reject, ``job_cancelled_on_server``
      (office-visible conflict);
    - the job already is where the move leads (someone made the same move): ``already`` (merged);
    - the move applies from the server's status: ``apply`` (``stale`` when the base version was old:
      the result is "merged");
    - else: reject ``transition_stale`` when the base was old, else the machine's refusal stands
      (``conflict`` None: the caller answers with the job machine's code).
    The role, assignment and required fields are checked afterwards by the jobs service.
    """
    current, ev = JobStatus(server_status), JobEvent(event)
    stale = is_stale(base_version, server_version)
    if current is JobStatus.CANCELLED and ev is not JobEvent.CANCEL:
        return Decision(Outcome.REJECT, stale, ConflictKind.JOB_CANCELLED_ON_SERVER)
    if target_of(ev) is current:
        return Decision(Outcome.ALREADY, stale)
    if JOB_MACHINE.applies(current, ev):
        return Decision(Outcome.APPLY, stale)
    return Decision(Outcome.REJECT, stale, ConflictKind.TRANSITION_STALE if stale else None)


def replay_chain(server_status: JobStatus | str, events: list[JobEvent | str]) -> list[JobEvent]:
    """The events of an offline sequence still to apply from ``server_status``.

    A device that went scheduled → en_camino → working → completed offline pushes three moves; if the
    server is already at ``working`` (a dispatcher marked it), only ``complete`` remains. Events whose
    target the server already passed are skipped, in order.
    """
    current = JobStatus(server_status)
    out: list[JobEvent] = []
    for raw in events:
        ev = JobEvent(raw)
        if JOB_MACHINE.applies(current, ev):
            out.append(ev)
            current = target_of(ev)
    return out
