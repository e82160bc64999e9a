"""GET /audit, GET /audit/verify, GET /activity."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import User
from server.domain.audit import services
from server.domain.auth.guards import caller, requires
from shared.permissions import Permission
from shared.schemas.audit import ActivityItem, ActivityPage, AuditEntry, AuditPage, ChainVerification

# What a dashboard shows: business events, not every session refresh.
ACTIVITY_ACTIONS = (
    "organization.created",
    "organization.updated",
    "user.invited",
    "user.role_changed",
    "user.deactivated",
    "customer.created",
    "customer.updated",
    "customer.archived",
    "pricebook_item.created",
    "pricebook_item.updated",
    "job.created",
    "job.updated",
    "job.transitioned",
    "job.assigned",
    "job.rescheduled",
    "job.note_added",
    "job.photo_added",
    "job.signature_saved",
    "invoice.created",
    "invoice.draft_created",
    "invoice.cae_requested",
    "invoice.issued",
    "invoice.rejected",
    "invoice.sent",
    "pricebook.imported",
)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        seq=row.seq,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        actor_id=row.actor_id,
        before=row.before,
        after=row.after,
        created_at=row.created_at,
        hash=row.hash,
    )


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get(
        "/",
        guards=[requires(Permission.AUDIT_READ)],
        operation_id="ListAudit",
        summary="The organisation's audit log, newest first (who, what, before/after)",
    )
    async def list_audit(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        entity_type: Annotated[str | None, QueryParameter(name="entityType", max_length=60)] = None,
        entity_id: Annotated[uuid.UUID | None, QueryParameter(name="entityId")] = None,
    ) -> AuditPage:
        page = await services.list_entries(db_session, limit, cursor, entity_type=entity_type, entity_id=entity_id)
        return AuditPage(items=[_entry(r) for r in page.items], next_cursor=page.next_cursor)

    @get(
        "/verify",
        guards=[requires(Permission.AUDIT_READ)],
        operation_id="VerifyAudit",
        summary="Walk the hash chain and report the first broken link",
    )
    async def verify(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> ChainVerification:
        ctx = caller(request)
        assert ctx.org_id is not None
        report = await services.verify_chain(db_session, ctx.org_id)
        return ChainVerification(
            ok=report.ok,
            checked=report.checked,
            broken_entry_id=report.broken_entry_id,
            broken_seq=report.broken_seq,
            reason=report.reason,
        )


@get(
    "/activity",
    guards=[requires(Permission.ORG_READ, Permission.JOBS_READ_ALL)],
    operation_id="ListActivity",
    summary="Recent things that happened in the organisation (dashboards)",
    tags=["audit"],
)
async def activity(
    db_session: NamedDependency[AsyncSession],
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 30,
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> ActivityPage:
    page = await services.list_entries(db_session, limit, cursor, actions=ACTIVITY_ACTIONS)
    actor_ids = {r.actor_id for r in page.items if r.actor_id}
    names = (
        dict((await db_session.execute(select(User.id, User.full_name).where(User.id.in_(actor_ids)))).all())
        if actor_ids
        else {}
    )
    return ActivityPage(
        items=[
            ActivityItem(
                id=r.id,
                action=r.action,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                actor_id=r.actor_id,
                actor_name=names.get(r.actor_id),
                at=r.created_at,
                summary=r.after,
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
    )


ROUTES = [AuditController, activity]
