"""The in-process domain event bus: typed events (msgspec Structs), async handlers, isolated failures.

Define an event::

    class JobCompleted(DomainEvent, frozen=True, kw_only=True):
        name: ClassVar[str] = "job.completed"
        job_id: uuid.UUID

Subscribe with ``bus.subscribe(JobCompleted, handler)``; a handler of a base class (``DomainEvent``
itself included) receives every subclass event too. ``await bus.publish(event)`` runs each handler in
turn; one that raises is logged and recorded in the result, and the others still run.

Events that must only be seen if a transaction commits go through ``publish_after_commit(session,
event)``; they are kept in ``session.info``, become ready when that session's transaction commits
(discarded when it rolls back or is closed uncommitted), and ``await dispatch_pending(bus, session)``
after the commit publishes them. (Events recorded inside a savepoint that is rolled back are kept.)
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import msgspec
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from server.lib.logging import get_logger
from shared.ids import new_id

log = get_logger("campotech.events")

PENDING_KEY = "domain_events_pending"
READY_KEY = "domain_events_ready"


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _dotted_name(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", ".", class_name).lower()


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something that happened in an organisation (``org_id`` None for platform-wide events)."""

    name: ClassVar[str] = "domain.event"
    org_id: uuid.UUID | None
    id: uuid.UUID = msgspec.field(default_factory=new_id)
    occurred_at: datetime.datetime = msgspec.field(default_factory=_utcnow)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # default: JobCompleted -> "job.completed"
            cls.name = _dotted_name(cls.__name__)


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[E], Awaitable[None]]


class HandlerFailure(msgspec.Struct, frozen=True):
    handler: str
    error: str


class PublishResult(msgspec.Struct, frozen=True):
    """What one publish did: the event, how many handlers ran, and which of them failed."""

    event: DomainEvent
    handled: int
    failures: list[HandlerFailure]

    @property
    def ok(self) -> bool:
        return not self.failures


def _handler_name(handler: Callable[..., Any]) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', repr(handler))}"


class EventBus:
    """Handlers by event type; ``publish`` calls those of the event's class and of its base classes."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Callable[[Any], Awaitable[None]]]] = {}
        self.failures: list[HandlerFailure] = []  # the most recent failures, for health pages and tests
        self.max_failures_kept = 100

    def subscribe(self, event_type: type[E], handler: Handler[E]) -> Callable[[], None]:
        """Call ``handler`` for every ``event_type`` event (subclasses included). Returns an unsubscribe."""
        if not (isinstance(event_type, type) and issubclass(event_type, DomainEvent)):
            raise TypeError(f"{event_type!r} is not a DomainEvent subclass")
        handlers = self._handlers.setdefault(event_type, [])
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def handlers_for(self, event_type: type[DomainEvent]) -> list[Callable[[Any], Awaitable[None]]]:
        """The most specific class's handlers first, each class's in subscription order."""
        out: list[Callable[[Any], Awaitable[None]]] = []
        for klass in event_type.__mro__:
            if isinstance(klass, type) and issubclass(klass, DomainEvent):
                out.extend(self._handlers.get(klass, ()))
        return out

    async def publish(self, event: DomainEvent) -> PublishResult:
        failures: list[HandlerFailure] = []
        handlers = self.handlers_for(type(event))
        for handler in handlers:
            try:
                await handler(event)
            except Exception as exc:
                failure = HandlerFailure(handler=_handler_name(handler), error=f"{type(exc).__name__}: {exc}")
                failures.append(failure)
                log.error(
                    "event handler failed",
                    event_name=event.name,
                    event_id=str(event.id),
                    handler=failure.handler,
                    exc_info=exc,
                )
        if failures:
            self.failures = [*self.failures, *failures][-self.max_failures_kept :]
        return PublishResult(event=event, handled=len(handlers), failures=failures)

    async def publish_all(self, events: list[DomainEvent]) -> list[PublishResult]:
        return [await self.publish(event) for event in events]


def _info_of(session: AsyncSession | Session) -> dict[Any, Any]:
    return session.info


def publish_after_commit(session: AsyncSession | Session, event: DomainEvent) -> None:
    """Keep ``event`` until ``session``'s transaction commits (then ``dispatch_pending`` publishes it)."""
    _info_of(session).setdefault(PENDING_KEY, []).append(event)


def pending_events(session: AsyncSession | Session) -> list[DomainEvent]:
    """Events recorded in the current, not yet committed transaction."""
    return list(_info_of(session).get(PENDING_KEY, ()))


async def dispatch_pending(bus: EventBus, session: AsyncSession | Session) -> list[PublishResult]:
    """Publish the events whose transaction has committed; call after ``await session.commit()``."""
    ready: list[DomainEvent] = _info_of(session).pop(READY_KEY, [])
    return await bus.publish_all(ready)


@sa_event.listens_for(Session, "after_commit")
def _events_ready_on_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        session.info.setdefault(READY_KEY, []).extend(pending)


@sa_event.listens_for(Session, "after_transaction_end")
def _events_discarded_on_rollback(session: Session, transaction: SessionTransaction) -> None:
    # After a commit the pending list is already empty; otherwise the outer transaction was rolled back.
    if transaction.parent is None and not transaction.nested:
        dropped = session.info.pop(PENDING_KEY, None)
        if dropped:
            log.info("domain events discarded with their transaction", count=len(dropped))


__all__ = [
    "DomainEvent",
    "EventBus",
    "HandlerFailure",
    "PublishResult",
    "dispatch_pending",
    "pending_events",
    "publish_after_commit",
]
