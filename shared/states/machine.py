"""A small generic helper over transition tables: a state machine is data, defined once.

``StateMachine`` knows the allowed moves ``from -> {to, ...}``. ``EventMachine`` adds names to the
moves: the event an offline outbox stores ("complete") rather than the status it led to, so the
server can re-check the event against the job's state when it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class StateMachine(Generic[S]):
    """Allowed moves ``from -> {to, ...}`` plus the terminal states (no way out)."""

    def __init__(self, name: str, transitions: Mapping[S, frozenset[S]]) -> None:
        self.name = name
        self.transitions = dict(transitions)

    def allowed(self, current: S) -> frozenset[S]:
        return self.transitions.get(current, frozenset())

    def can(self, current: S, target: S) -> bool:
        return target in self.allowed(current)

    def is_terminal(self, state: S) -> bool:
        return not self.allowed(state)


@dataclass(frozen=True, slots=True)
class Move(Generic[S]):
    """One named move: from any of ``sources`` to ``target``."""

    sources: frozenset[S]
    target: S


class EventMachine(StateMachine[S], Generic[S, E]):
    """A state machine whose moves are named events; the transition table is derived from them.

    Every (from, to) pair belongs to exactly one event, so a move and its event name each other.
    """

    def __init__(self, name: str, states: Iterable[S], events: Mapping[E, Move[S]]) -> None:
        transitions: dict[S, frozenset[S]] = {state: frozenset() for state in states}
        by_move: dict[tuple[S, S], E] = {}
        for event, move in events.items():
            for source in move.sources:
                if source not in transitions or move.target not in transitions:
                    raise ValueError(f"{name}: event {event!s} uses a state outside the machine")
                if (source, move.target) in by_move:
                    raise ValueError(f"{name}: {source!s} -> {move.target!s} has two events")
                by_move[(source, move.target)] = event
                transitions[source] = transitions[source] | {move.target}
        super().__init__(name, transitions)
        self.events: dict[E, Move[S]] = dict(events)
        self._event_by_move = by_move

    def target_of(self, event: E) -> S:
        """The state an event leads to (wherever it starts)."""
        return self.events[event].target

    def event_for(self, current: S, target: S) -> E | None:
        """The event that moves ``current`` to ``target``; None when no such move exists."""
        return self._event_by_move.get((current, target))

    def applies(self, current: S, event: E) -> bool:
        move = self.events.get(event)
        return move is not None and current in move.sources

    def next_status(self, current: S, event: E) -> S | None:
        """Where ``event`` takes ``current``; None when the event does not apply there."""
        return self.events[event].target if self.applies(current, event) else None

    def events_from(self, current: S) -> tuple[E, ...]:
        """The events that apply in ``current``, in declaration order."""
        return tuple(event for event, move in self.events.items() if current in move.sources)
