"""Small helpers shared by the view-models (no Flet here)."""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Callable
from typing import Any

from client.i18n import t


async def resolve(value: Any) -> Any:
    """Await ``value`` when the core call was async; return it as is when it was not."""
    if inspect.isawaitable(value):
        return await value
    return value


class Observable:
    """A view-model the view can listen to (the view re-renders when it changes)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def parse_moment(value: Any) -> datetime.datetime | None:
    """A datetime from the store (ISO text or datetime), None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


BUENOS_AIRES = datetime.timezone(datetime.timedelta(hours=-3), "ART")  # Argentina: UTC-3, no DST


def local_time(moment: datetime.datetime | None) -> str:
    """``09:30`` in Buenos Aires time (naive values are taken as already local)."""
    if moment is None:
        return t("today.no_time")
    if moment.tzinfo is not None:
        moment = moment.astimezone(BUENOS_AIRES)
    return moment.strftime("%H:%M")


def error_text(exc: BaseException) -> str:
    """Spanish text for an error of the core (API errors, refusals, offline)."""
    from client.api import ApiError, AuthExpired, Offline

    if isinstance(exc, Offline):
        return t("login.offline")
    if isinstance(exc, AuthExpired):
        return t("login.session_expired")
    if isinstance(exc, ApiError):
        key = f"error.{exc.code}"
        from client.i18n import has

        return t(key) if has(key) else (exc.message or t("login.unexpected"))
    message = getattr(exc, "message_es", None)
    if message:
        return str(message)
    return t("login.unexpected")
