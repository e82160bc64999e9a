"""/dispatch/board, /dispatch/conflicts and /calendar (reads only: drag-and-drop uses /jobs/{id}/assign|reschedule)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.dispatch import services
from shared.permissions import Permission
from shared.schemas.dispatch import Board, Calendar, ConflictList

DISPATCH = [requires(Permission.JOBS_DISPATCH)]
READ = [requires(Permission.JOBS_READ_ALL, Permission.JOBS_READ_OWN, any_of=True)]

Day = Annotated[datetime.date, QueryParameter(description="A day in America/Argentina/Buenos_Aires")]
From = Annotated[datetime.date, QueryParameter(name="from", description="First day (Buenos Aires), inclusive")]
To = Annotated[
    datetime.date,
    QueryParameter(
        name="to", description=f"Last day (Buenos Aires), inclusive; at most {services.MAX_RANGE_DAYS} days"
    ),
]


class DispatchController(Controller):
    path = "/dispatch"
    tags = ["dispatch"]

    @get(
        "/board",
        guards=DISPATCH,
        operation_id="GetDispatchBoard",
        summary="One day: every active technician × time slots, unassigned and unscheduled jobs, conflicts",
    )
    async def get_board(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        date: Day,
        slot_minutes: Annotated[int, QueryParameter(name="slotMinutes", ge=15, le=240)] = 60,
    ) -> Board:
        return await services.board(db_session, caller(request), date, slot_minutes)

    @get(
        "/conflicts",
        guards=DISPATCH,
        operation_id="ListDispatchConflicts",
        summary="Technicians double-booked (overlapping non-cancelled jobs) between two days",
    )
    async def list_conflicts(
        self, db_session: NamedDependency[AsyncSession], from_date: From, to_date: To
    ) -> ConflictList:
        return await services.conflicts(db_session, from_date, to_date)


class CalendarController(Controller):
    path = "/calendar"
    tags = ["dispatch"]

    @get(
        "/",
        guards=READ,
        operation_id="GetCalendar",
        summary="Scheduled jobs by day; a technician sees only their own (another's technicianId is a 403)",
    )
    async def get_calendar(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        from_date: From,
        to_date: To,
        technician_id: Annotated[uuid.UUID | None, QueryParameter(name="technicianId")] = None,
    ) -> Calendar:
        return await services.calendar(db_session, caller(request), from_date, to_date, technician_id)


ROUTES = [DispatchController, CalendarController]
