"""The in-process domain event bus, and dispatch after a real PostgreSQL commit."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from sqlalchemy import text

from server.db.engine import tenant_session, tenant_transaction
from server.lib.events import (
    DomainEvent,
    EventBus,
    dispatch_pending,
    pending_events,
    publish_after_commit,
)
from server.runtime import Resources


class JobEvent(DomainEvent, frozen=True, kw_only=True):
    job_id: uuid.UUID


class JobCompleted(JobEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "job.completed"
    technician_id: uuid.UUID | None = None


class JobCancelled(JobEvent, frozen=True, kw_only=True):
    reason: str


class PaymentReceived(DomainEvent, frozen=True, kw_only=True):
    amount: str


def completed(org_id: uuid.UUID | None = None) -> JobCompleted:
    return JobCompleted(org_id=org_id or uuid.uuid4(), job_id=uuid.uuid4())


def test_events_have_an_id_a_time_and_a_name() -> None:
    one, two = completed(), completed()
    assert one.id != two.id
    assert one.id.version == 7
    assert one.occurred_at.tzinfo is not None
    assert one.name == "job.completed"
    assert JobCancelled.name == "job.cancelled"  # derived from the class name when not given
    assert PaymentReceived(org_id=None, amount="10.00").name == "payment.received"


async def test_publish_reaches_the_handlers_of_its_type_only() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def on_completed(event: JobCompleted) -> None:
        seen.append(f"completed:{event.job_id}")

    async def on_payment(event: PaymentReceived) -> None:
        seen.append("payment")

    bus.subscribe(JobCompleted, on_completed)
    bus.subscribe(PaymentReceived, on_payment)
    event = completed()
    result = await bus.publish(event)

    assert seen == [f"completed:{event.job_id}"]
    assert result.handled == 1
    assert result.ok


async def test_base_class_handlers_receive_subclass_events() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def on_any(event: DomainEvent) -> None:
        seen.append(f"any:{event.name}")

    async def on_job(event: JobEvent) -> None:
        seen.append(f"job:{event.name}")

    async def on_completed(event: JobCompleted) -> None:
        seen.append("completed")

    bus.subscribe(DomainEvent, on_any)
    bus.subscribe(JobEvent, on_job)
    bus.subscribe(JobCompleted, on_completed)

    await bus.publish(completed())
    await bus.publish(JobCancelled(org_id=uuid.uuid4(), job_id=uuid.uuid4(), reason="cliente ausente"))

    assert seen == ["completed", "job:job.completed", "any:job.completed", "job:job.cancelled", "any:job.cancelled"]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def first(event: JobCompleted) -> None:
        seen.append("first")

    async def broken(event: JobCompleted) -> None:
        raise ValueError("whatsapp template missing")

    async def last(event: JobCompleted) -> None:
        seen.append("last")

    for handler in (first, broken, last):
        bus.subscribe(JobCompleted, handler)
    result = await bus.publish(completed())

    assert seen == ["first", "last"]
    assert result.handled == 3
    assert not result.ok
    assert len(result.failures) == 1
    assert result.failures[0].handler.endswith("broken")
    assert "whatsapp template missing" in result.failures[0].error
    assert bus.failures == result.failures


async def test_unsubscribe_and_type_checks() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: JobCompleted) -> None:
        seen.append(1)

    unsubscribe = bus.subscribe(JobCompleted, handler)
    await bus.publish(completed())
    unsubscribe()
    await bus.publish(completed())
    assert seen == [1]
    with pytest.raises(TypeError):
        bus.subscribe(dict, handler)  # type: ignore[arg-type]


# -- after commit -----------------------------------------------------------------------------


@pytest.fixture(name="recording_bus")
def fixture_recording_bus() -> tuple[EventBus, list[DomainEvent]]:
    bus = EventBus()
    seen: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        seen.append(event)

    bus.subscribe(DomainEvent, record)
    return bus, seen


async def test_events_are_dispatched_only_after_commit(
    resources: Resources, make_org, recording_bus: tuple[EventBus, list[DomainEvent]]
) -> None:
    bus, seen = recording_bus
    org_id = await make_org()
    event = completed(org_id)
    session = tenant_session(resources.sessionmaker, org_id)
    try:
        await session.execute(text("SELECT 1"))
        publish_after_commit(session, event)
        assert pending_events(session) == [event]
        assert await dispatch_pending(bus, session) == []  # not committed yet: nothing to publish
        assert seen == []

        await session.commit()
        results = await dispatch_pending(bus, session)
        assert seen == [event]
        assert [r.event for r in results] == [event]
        assert await dispatch_pending(bus, session) == []  # each event once
    finally:
        await session.close()


async def test_rolled_back_events_are_discarded(
    resources: Resources, make_org, recording_bus: tuple[EventBus, list[DomainEvent]]
) -> None:
    bus, seen = recording_bus
    org_id = await make_org()
    session = tenant_session(resources.sessionmaker, org_id)
    try:
        await session.execute(text("SELECT 1"))
        publish_after_commit(session, completed(org_id))
        await session.rollback()
        assert pending_events(session) == []

        # the session goes on: a later commit must not bring the discarded event back
        kept = completed(org_id)
        await session.execute(text("SELECT 1"))
        publish_after_commit(session, kept)
        await session.commit()
        await dispatch_pending(bus, session)
        assert seen == [kept]
    finally:
        await session.close()


async def test_failed_transaction_block_discards_events(
    resources: Resources, make_org, recording_bus: tuple[EventBus, list[DomainEvent]]
) -> None:
    bus, seen = recording_bus
    org_id = await make_org()
    captured = None
    with pytest.raises(RuntimeError):
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            captured = session
            publish_after_commit(session, completed(org_id))
            raise RuntimeError("the service failed after publishing")
    assert captured is not None
    assert await dispatch_pending(bus, captured) == []
    assert seen == []


async def test_transaction_block_commit_then_dispatch(
    resources: Resources, make_org, recording_bus: tuple[EventBus, list[DomainEvent]]
) -> None:
    bus, seen = recording_bus
    org_id = await make_org()
    event = completed(org_id)
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        publish_after_commit(session, event)  # before any statement: the commit still counts
    await dispatch_pending(bus, session)
    assert seen == [event]


async def test_closing_without_commit_discards_events(
    resources: Resources, make_org, recording_bus: tuple[EventBus, list[DomainEvent]]
) -> None:
    bus, seen = recording_bus
    org_id = await make_org()
    session = tenant_session(resources.sessionmaker, org_id)
    await session.execute(text("SELECT 1"))
    publish_after_commit(session, completed(org_id))
    await session.close()
    assert await dispatch_pending(bus, session) == []
    assert pending_events(session) == []
    assert seen == []
