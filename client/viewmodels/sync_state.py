"""What the offline banner and the sync indicator show, from the sync engine's status."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from client.i18n import ago, t, tn
from client.viewmodels._util import parse_moment


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class SyncStateVM:
    """Reads ``status()`` (a SyncStatus: online, pending, last_sync_at, last_error, syncing)."""

    def __init__(self, status: Callable[[], Any], clock: Callable[[], datetime.datetime] = _utcnow) -> None:
        self._status = status
        self.clock = clock

    @property
    def status(self) -> Any:
        return self._status()

    @property
    def offline(self) -> bool:
        status = self.status
        return status is not None and not bool(getattr(status, "online", True))

    @property
    def pending(self) -> int:
        return int(getattr(self.status, "pending", 0) or 0)

    @property
    def pending_text(self) -> str:
        n = self.pending
        if n == 0:
            return t("sync.all_sent")
        return tn("sync.pending", n)

    @property
    def last_sync_text(self) -> str:
        status = self.status
        if status is not None and getattr(status, "syncing", False):
            return t("sync.syncing")
        moment = parse_moment(getattr(status, "last_sync_at", None))
        if moment is None:
            return t("sync.never")
        now = self.clock()
        if (moment.tzinfo is None) != (now.tzinfo is None):
            moment = moment.replace(tzinfo=None) if now.tzinfo is None else moment.replace(tzinfo=datetime.UTC)
        return t("sync.last", ago=ago(moment, now))

    @property
    def error_text(self) -> str | None:
        status = self.status
        if status is None or self.offline or not getattr(status, "last_error", None):
            return None  # offline has its own banner
        return t("sync.error")

    @property
    def banner_text(self) -> str | None:
        return t("sync.offline_banner") if self.offline else None
