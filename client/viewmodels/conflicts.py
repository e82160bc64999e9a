"""Conflict notices the technician reads and acknowledges (nothing they entered is dropped unseen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.i18n import t
from client.viewmodels._util import Observable, resolve


@dataclass(frozen=True)
class ConflictRow:
    id: Any
    title: str
    message: str


def conflict_row(item: dict[str, Any]) -> ConflictRow:
    device = item.get("device_data") if isinstance(item.get("device_data"), dict) else {}
    job = item.get("job_title") or item.get("title") or device.get("title") or ""
    message = item.get("message_es") or item.get("message") or item.get("reason") or ""
    return ConflictRow(id=item["id"], title=t("conflicts.job", title=job) if job else "", message=str(message))


class ConflictsVM(Observable):
    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self.rows: list[ConflictRow] = []

    async def refresh(self) -> list[ConflictRow]:
        self.rows = [conflict_row(c) for c in await resolve(self.store.conflicts(unacknowledged_only=True))]
        self.changed()
        return self.rows

    async def acknowledge(self, conflict_id: Any) -> None:
        await resolve(self.store.acknowledge_conflict(conflict_id))
        await self.refresh()

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def empty_text(self) -> str | None:
        return t("conflicts.empty") if not self.rows else None
