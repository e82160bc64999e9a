"""/jobs: create, list, read, edit; status moves; assign and reschedule; notes."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.jobs import services
from server.domain.jobs.listing import list_jobs_json
from server.lib.pagination import MAX_LIMIT
from server.lib.tracing import trace_id_of
from shared.permissions import Permission
from shared.schemas.jobs import (
    AssignRequest,
    Job,
    JobCreate,
    JobNote,
    JobPage,
    JobUpdate,
    NoteCreate,
    RescheduleRequest,
    TransitionRequest,
)
from shared.states.job import JobStatus

READ = [requires(Permission.JOBS_READ_ALL, Permission.JOBS_READ_OWN, any_of=True)]
WRITE = [requires(Permission.JOBS_WRITE)]
DISPATCH = [requires(Permission.JOBS_DISPATCH)]
TRANSITION = [requires(Permission.JOBS_TRANSITION)]
NOTE = [requires(Permission.JOBS_WRITE, Permission.JOBS_TRANSITION, any_of=True)]


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @get(
        "/",
        guards=READ,
        operation_id="ListJobs",
        summary="Jobs by status, day (Buenos Aires), technician or customer; a technician sees only theirs",
    )
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        status: Annotated[list[JobStatus] | None, QueryParameter()] = None,
        date: Annotated[
            datetime.date | None, QueryParameter(description="A day in America/Argentina/Buenos_Aires")
        ] = None,
        technician_id: Annotated[uuid.UUID | None, QueryParameter(name="technicianId")] = None,
        customer_id: Annotated[uuid.UUID | None, QueryParameter(name="customerId")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Response[JobPage]:
        # the hot path (server/domain/jobs/listing.py): one statement on the app role's pool, JSON by PostgreSQL
        body = await list_jobs_json(
            await request.app.state.resources.pg_pool(),
            caller(request),
            status=status,
            day=date,
            technician_id=technician_id,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        )
        return Response(content=body, media_type=MediaType.JSON)

    @post("/", guards=WRITE, operation_id="CreateJob", summary="A new job (pending); scheduling is a move")
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[JobCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Job:
        return await services.create_job(db_session, caller(request), data, trace_id_of(request.scope))

    @get("/{job_id:uuid}", guards=READ, operation_id="GetJob", summary="A job with the moves the caller may make")
    async def get_job(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Job:
        return await services.read_job(db_session, caller(request), job_id)

    @patch("/{job_id:uuid}", guards=WRITE, operation_id="UpdateJob", summary="Edit an open job (lines replace all)")
    async def update_job(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[JobUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Job:
        return await services.update_job(db_session, caller(request), job_id, data, trace_id_of(request.scope))

    @post(
        "/{job_id:uuid}/transitions",
        guards=TRANSITION,
        operation_id="TransitionJob",
        summary="Move a job by event or target status (409 names the allowed moves; 422 the missing fields)",
        status_code=200,
    )
    async def transition(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[TransitionRequest, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Job:
        return await services.transition(db_session, caller(request), job_id, data, trace_id_of(request.scope))

    @post(
        "/{job_id:uuid}/assign",
        guards=DISPATCH,
        operation_id="AssignJob",
        summary="Set the job's technicians (active technicians of the organisation)",
        status_code=200,
    )
    async def assign(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[AssignRequest, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Job:
        return await services.assign(db_session, caller(request), job_id, data, trace_id_of(request.scope))

    @post(
        "/{job_id:uuid}/reschedule",
        guards=DISPATCH,
        operation_id="RescheduleJob",
        summary="Change the job's time window",
        status_code=200,
    )
    async def reschedule(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[RescheduleRequest, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Job:
        return await services.reschedule(db_session, caller(request), job_id, data, trace_id_of(request.scope))

    @post(
        "/{job_id:uuid}/notes",
        guards=NOTE,
        operation_id="AddJobNote",
        summary="Append a note (office staff: any job; a technician: the jobs assigned to them)",
        status_code=201,
    )
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        data: Annotated[NoteCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> JobNote:
        return await services.add_note(db_session, caller(request), job_id, data, trace_id_of(request.scope))

    @get("/{job_id:uuid}/notes", guards=READ, operation_id="ListJobNotes", summary="The job's notes, oldest first")
    async def list_notes(
        self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> list[JobNote]:
        return await services.list_notes(db_session, caller(request), job_id)


ROUTES = [JobController]
