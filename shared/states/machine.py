"""A small generic helper over transition tables: a state machine is data, defined once."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


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
