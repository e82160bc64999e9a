"""Job status flow: pending → scheduled → en_camino → working → completed; cancellable before completion."""

from __future__ import annotations

from enum import StrEnum

from shared.states.machine import StateMachine


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


JOB_MACHINE: StateMachine[JobStatus] = StateMachine(
    "job",
    {
        JobStatus.PENDING: frozenset({JobStatus.SCHEDULED, JobStatus.CANCELLED}),
        JobStatus.SCHEDULED: frozenset({JobStatus.EN_CAMINO, JobStatus.PENDING, JobStatus.CANCELLED}),
        JobStatus.EN_CAMINO: frozenset({JobStatus.WORKING, JobStatus.SCHEDULED, JobStatus.CANCELLED}),
        JobStatus.WORKING: frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED}),
        JobStatus.COMPLETED: frozenset(),
        JobStatus.CANCELLED: frozenset(),
    },
)
