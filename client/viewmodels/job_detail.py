"""One job: its facts and the big buttons for the moves the role may make now (shared.states.job)."""

from __future__ import annotations

from typing import Any

from client.i18n import t
from client.viewmodels._util import Observable, error_text, local_time, parse_moment, resolve
from client.viewmodels.today import maps_url
from shared.states.job import JobEvent, JobStatus, allowed_events


class JobDetailVM(Observable):
    def __init__(self, store: Any, actions: Any, job_id: str, *, role: str, user_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.actions = actions
        self.job_id = job_id
        self.role = role
        self.user_id = user_id
        self.job: dict[str, Any] | None = None
        self.error: str | None = None
        self.message: str | None = None
        self.note_draft = ""

    async def load(self) -> dict[str, Any] | None:
        self.job = await resolve(self.store.job(self.job_id))
        self.error = None if self.job is not None else t("job.not_found")
        self.changed()
        return self.job

    # --- what the screen shows ------------------------------------------------------------------

    @property
    def status(self) -> JobStatus | None:
        try:
            return JobStatus(self.job["status"]) if self.job else None
        except (KeyError, ValueError):
            return None

    def _is_assigned(self) -> bool:
        job = self.job or {}
        if "is_assigned" in job:
            return bool(job["is_assigned"])
        ids = job.get("technician_ids")
        if ids is None or self.user_id is None:
            return True  # the technician's store holds only their jobs
        return str(self.user_id) in {str(i) for i in ids}

    @property
    def events(self) -> list[JobEvent]:
        """The big buttons, in the state machine's order; the store's ``allowed_events`` narrows them."""
        if self.status is None:
            return []
        events = allowed_events(self.status, self.role, self._is_assigned())
        stored = (self.job or {}).get("allowed_events")
        if stored is not None:
            allowed = {str(e) for e in stored}
            events = [e for e in events if str(e) in allowed]
        return events

    @property
    def buttons(self) -> list[tuple[JobEvent, str]]:
        return [(e, t(f"event.{e.value}")) for e in self.events]

    @property
    def title(self) -> str:
        return str((self.job or {}).get("title") or "")

    @property
    def facts(self) -> list[str]:
        job = self.job or {}
        out = []
        if job.get("customer_name"):
            out.append(t("job.customer", name=job["customer_name"]))
        address = job.get("address_text") or job.get("address")
        if address:
            out.append(t("job.address", address=address))
        if self.status is not None:
            out.append(t("job.status", status=t(f"status.{self.status.value}")))
        start = parse_moment(job.get("scheduled_start"))
        if start is not None:
            out.append(t("job.schedule", start=local_time(start)))
        return out

    @property
    def maps_url(self) -> str | None:
        job = self.job or {}
        return maps_url(job.get("lat"), job.get("lng"), job.get("address_text") or job.get("address"))

    @property
    def lines(self) -> list[str]:
        return [str(line.get("description") or "") for line in (self.job or {}).get("lines") or []]

    @property
    def notes(self) -> list[str]:
        out = []
        for note in (self.job or {}).get("notes") or []:
            out.append(str(note.get("body") if isinstance(note, dict) else note))
        return out

    # --- what the technician does ---------------------------------------------------------------

    def needs_completion(self, event: JobEvent | str) -> bool:
        """Completing opens the completion flow (photos, signature, notes) instead of moving at once."""
        return JobEvent(event) is JobEvent.COMPLETE

    async def press(self, event: JobEvent | str) -> bool:
        """Make the move (written to the outbox first); False with ``error`` when refused."""
        event = JobEvent(event)
        self.error = self.message = None
        if event not in self.events:
            self.error = t("job.refused", message=t("job.no_moves"))
            self.changed()
            return False
        try:
            await resolve(self.actions.transition(self.job_id, event.value))
        except Exception as exc:
            self.error = t("job.refused", message=error_text(exc))
            self.changed()
            return False
        self.message = t("job.saved")
        await self.load()
        return True

    async def add_note(self, text: str) -> bool:
        self.error = self.message = None
        if not (text or "").strip():
            self.error = t("job.note_empty")
            self.changed()
            return False
        try:
            await resolve(self.actions.add_note(self.job_id, text.strip()))
        except Exception as exc:
            self.error = t("job.refused", message=error_text(exc))
            self.changed()
            return False
        self.note_draft = ""
        self.message = t("job.note_saved")
        await self.load()
        return True
