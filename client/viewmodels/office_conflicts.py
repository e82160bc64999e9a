"""The office's side of sync conflicts (dispatch board): what a technician did offline that the server refused
(a job cancelled on the server while they were completing it), shown with what they did until someone in the
office marks it seen. The technician sees the same conflict on the phone (``ConflictsVM``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.api import ClientError
from client.i18n import t
from client.viewmodels._util import BUENOS_AIRES, Observable, error_text, parse_moment


@dataclass(frozen=True)
class OfficeConflictRow:
    id: str
    title: str  # the job, as the server has it
    message: str  # why the server refused it
    device: str  # what the technician did, and when


def office_conflict_row(item: dict[str, Any]) -> OfficeConflictRow:
    """One conflict as ``GET /sync/conflicts`` lists it."""
    server = item.get("serverData") if isinstance(item.get("serverData"), dict) else {}
    device = item.get("deviceData") if isinstance(item.get("deviceData"), dict) else {}
    payload = device.get("payload") if isinstance(device.get("payload"), dict) else {}
    event = payload.get("event") or ("complete" if device.get("op") == "job.complete" else None)
    action = t(f"event.{event}") if event else str(device.get("op") or "")
    moment = parse_moment(device.get("createdAt") or item.get("createdAt"))
    when = moment.astimezone(BUENOS_AIRES).strftime("%d/%m %H:%M") if moment and moment.tzinfo else ""
    text = t("office_conflicts.device", when=when, action=action)
    notes = str(payload.get("completionNotes") or "").strip()
    if notes:
        text += " " + t("office_conflicts.notes", notes=notes)
    title = str(server.get("title") or "")
    return OfficeConflictRow(
        id=str(item["id"]),
        title=t("conflicts.job", title=title) if title else "",
        message=str(item.get("message") or ""),
        device=text,
    )


class OfficeConflictsVM(Observable):
    """Unacknowledged conflicts from the server (the office has no local copy of them)."""

    def __init__(self, api: Any) -> None:
        super().__init__()
        self.api = api
        self.rows: list[OfficeConflictRow] = []
        self.error: str | None = None

    async def refresh(self) -> list[OfficeConflictRow]:
        try:
            items = await self.api.office_conflicts()
        except ClientError as exc:  # offline or refused: the last list stays, with the reason above it
            self.error = error_text(exc)
        else:
            self.rows = [office_conflict_row(item) for item in items]
            self.error = None
        self.changed()
        return self.rows

    async def acknowledge(self, conflict_id: str) -> None:
        try:
            await self.api.acknowledge_office_conflict(conflict_id)
        except ClientError as exc:
            self.error = error_text(exc)
        else:
            self.rows = [row for row in self.rows if row.id != conflict_id]
            self.error = None
        self.changed()

    @property
    def empty_text(self) -> str | None:
        return t("office_conflicts.empty") if not self.rows and self.error is None else None
