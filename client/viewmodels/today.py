"""Today's jobs for the technician (or the whole organisation, for the dispatcher's board)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from client.i18n import t
from client.viewmodels._util import BUENOS_AIRES, Observable, local_time, parse_moment, resolve
from client.viewmodels.sync_state import SyncStateVM

MAPS_URL = "https://www.google.com/maps/search/?api=1&query={query}"


def maps_url(lat: float | None, lng: float | None, address: str | None) -> str | None:
    """A maps link: the coordinates when known, else the address text; None with neither."""
    if lat is not None and lng is not None:
        return MAPS_URL.format(query=f"{float(lat):.6f},{float(lng):.6f}")
    if address and address.strip():
        return MAPS_URL.format(query=quote_plus(address.strip()))
    return None


def today_in_buenos_aires(now: datetime.datetime | None = None) -> datetime.date:
    now = now or datetime.datetime.now(datetime.UTC)
    return now.astimezone(BUENOS_AIRES).date() if now.tzinfo else now.date()


@dataclass(frozen=True)
class JobRow:
    id: str
    title: str
    status: str
    status_label: str
    time_text: str
    customer: str
    address: str
    maps_url: str | None
    start: datetime.datetime | None


def job_row(job: dict[str, Any]) -> JobRow:
    start = parse_moment(job.get("scheduled_start"))
    end = parse_moment(job.get("scheduled_end"))
    time_text = local_time(start) if end is None or start is None else f"{local_time(start)}–{local_time(end)}"
    address = job.get("address_text") or job.get("address") or ""
    status = str(job.get("status") or "")
    return JobRow(
        id=str(job["id"]),
        title=str(job.get("title") or ""),
        status=status,
        status_label=t(f"status.{status}"),
        time_text=time_text,
        customer=str(job.get("customer_name") or ""),
        address=address or t("today.no_address"),
        maps_url=maps_url(job.get("lat"), job.get("lng"), address),
        start=start,
    )


def _order_key(row: JobRow) -> tuple[int, float, str]:
    # scheduled first, by start; jobs without a time at the end, by title
    if row.start is None:
        return (1, 0.0, row.title)
    start = row.start if row.start.tzinfo else row.start.replace(tzinfo=BUENOS_AIRES)
    return (0, start.timestamp(), row.title)


class TodayVM(Observable):
    def __init__(
        self,
        store: Any,
        sync: SyncStateVM,
        *,
        technician_id: str | None = None,
        today: Callable[[], datetime.date] = today_in_buenos_aires,
    ) -> None:
        super().__init__()
        self.store = store
        self.sync = sync
        self.technician_id = technician_id
        self.today = today
        self.rows: list[JobRow] = []

    async def refresh(self) -> list[JobRow]:
        jobs = await resolve(self.store.jobs_for_day(self.today(), technician_id=self.technician_id))
        self.rows = sorted((job_row(j) for j in jobs), key=_order_key)
        self.changed()
        return self.rows

    @property
    def empty_text(self) -> str | None:
        return t("today.empty") if not self.rows else None
