"""Small in-memory stand-ins for the client core (api, store, actions, sync engine), for unit tests only."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from client.actions import ActionRefused
from client.api import ApiError, Session
from shared.roles import Role
from shared.states.job import JobEvent, allowed_events, target_of

TODAY = datetime.date(2026, 3, 10)
ART = datetime.timezone(datetime.timedelta(hours=-3))


def at(hour: int, minute: int = 0, day: datetime.date = TODAY) -> str:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ART).isoformat()


def job(job_id: str, title: str, status: str = "scheduled", start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "title": title,
        "status": status,
        "scheduled_start": start,
        "scheduled_end": None,
        "customer_name": extra.pop("customer_name", "Cliente"),
        "address": extra.pop("address", "Av. Corrientes 1234, CABA"),
        "lat": extra.pop("lat", None),
        "lng": extra.pop("lng", None),
        "version": 1,
        **extra,
    }


class FakeStore:
    def __init__(self, jobs: list[dict[str, Any]] | None = None, role: str = Role.TECHNICIAN) -> None:
        self.jobs = {j["id"]: j for j in jobs or []}
        self.role = role
        self.items: list[dict[str, Any]] = []
        self.conflict_rows: list[dict[str, Any]] = []
        self.day_asked: list[tuple[datetime.date, str | None]] = []

    def jobs_for_day(self, day: datetime.date, technician_id: str | None = None) -> list[dict[str, Any]]:
        self.day_asked.append((day, technician_id))
        return [dict(j) for j in self.jobs.values()]

    def job(self, job_id: str) -> dict[str, Any] | None:
        j = self.jobs.get(job_id)
        if j is None:
            return None
        return {**j, "allowed_events": [str(e) for e in allowed_events(j["status"], self.role, True)]}

    def pricebook(self, query: str | None = None) -> list[dict[str, Any]]:
        q = (query or "").lower()
        return [i for i in self.items if q in i["name"].lower()]

    def conflicts(self, unacknowledged_only: bool = True) -> list[dict[str, Any]]:
        return [c for c in self.conflict_rows if not (unacknowledged_only and c.get("acknowledged"))]

    def acknowledge_conflict(self, conflict_id: str) -> None:
        for c in self.conflict_rows:
            if c["id"] == conflict_id:
                c["acknowledged"] = True


class FakeActions:
    """Applies moves to the fake store like the real actions would (status by the shared machine)."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.refuse: ActionRefused | None = None

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append((name, args, kwargs))

    def transition(self, job_id: str, event: str, **fields: Any) -> str:
        self._record("transition", job_id, event, **fields)
        self.store.jobs[job_id]["status"] = str(target_of(event))
        return "op"

    def add_note(self, job_id: str, text: str) -> str:
        self._record("add_note", job_id, text)
        self.store.jobs[job_id].setdefault("notes", []).append({"body": text})
        return "note"

    def add_photo(self, job_id: str, data: bytes, content_type: str | None = None) -> str:
        self._record("add_photo", job_id, data, content_type)
        return "photo"

    def set_signature(self, job_id: str, strokes: Any, png: bytes) -> None:
        self._record("set_signature", job_id, strokes, png)

    def complete(self, job_id: str, notes: str | None, materials: Any = None, actual_minutes: int | None = None) -> str:
        self._record("complete", job_id, notes, materials, actual_minutes)
        self.store.jobs[job_id]["status"] = str(target_of(JobEvent.COMPLETE))
        return "op"


@dataclass
class FakeStatus:
    online: bool = True
    pending: int = 0
    last_sync_at: datetime.datetime | None = None
    last_error: str | None = None
    syncing: bool = False


@dataclass
class FakeEngine:
    status: FakeStatus = field(default_factory=FakeStatus)
    syncs: int = 0
    callbacks: list[Any] = field(default_factory=list)

    async def sync_once(self) -> None:
        self.syncs += 1

    async def run(self, stop: Any, interval: float) -> None:
        await stop.wait()

    def on_change(self, callback: Any) -> None:
        self.callbacks.append(callback)


class FakeApi:
    """Login over a dict of phone → code; raises the core's own errors."""

    def __init__(self, codes: dict[str, str], role: str = Role.TECHNICIAN) -> None:
        self.codes = codes
        self.role = role
        self.requested: list[str] = []
        self.offline = False
        self.logged_out = False
        self._session: Session | None = None
        self.conflicts: list[dict[str, Any]] = []  # the office's sync conflicts, as GET /sync/conflicts lists them
        self.acknowledged: list[str] = []

    async def request_otp(self, phone: str) -> None:
        from client.api import Offline

        if self.offline:
            raise Offline("down")
        self.requested.append(phone)

    async def verify_otp(self, phone: str, code: str, device_name: str | None = None) -> Session:
        if self.codes.get(phone) != code:
            raise ApiError("otp_invalid", "Código incorrecto", 400)
        self._session = Session(user_id="u-1", org_id="o-1", role=self.role, full_name="Diego Fernández")
        return self._session

    def session(self) -> Session | None:
        return self._session

    async def logout(self) -> None:
        self.logged_out = True
        self._session = None

    async def office_conflicts(self) -> list[dict[str, Any]]:
        from client.api import Offline

        if self.offline:
            raise Offline("down")
        return [c for c in self.conflicts if c["id"] not in self.acknowledged]

    async def acknowledge_office_conflict(self, conflict_id: str) -> None:
        self.acknowledged.append(conflict_id)
