"""Audit log services: record an entry, verify an organisation's chain, list entries.

The ``audit_log_chain`` trigger (migrations 0002 and 0004) fills ``seq``, ``prev_hash`` and ``hash``: each
entry's hash covers the previous entry's hash of the same organisation plus its own canonical
content, and one writer per organisation holds the chain at a time. ``audit_chain_verify(org)``
walks the chain in ``seq`` order and returns the first broken link. The trigger row-locks the
organisation's ``audit_chain_heads`` row: under REPEATABLE READ or SERIALIZABLE a concurrent append
fails with SQLSTATE 40001 (retry the transaction) instead of forking the chain.

Every function runs in the caller's session and therefore in its tenant context: row-level
security shows a session only its own organisation's entries, so verify and list inside the
organisation's own context (``tenant_transaction(sessionmaker, org_id)``). The application role
may only INSERT and SELECT audit rows; UPDATE and DELETE are not granted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.audit import AuditLogEntry
from server.lib.context import RequestContext
from server.lib.pagination import clamp_limit, paginate_cursor

__all__ = [
    "AuditPage",
    "ChainReport",
    "list_entries",
    "record",
    "record_by",
    "verify_chain",
]

# Reasons ``audit_chain_verify`` reports for the first broken link.
HASH_MISMATCH = "hash_mismatch"  # the entry's content no longer matches its hash
PREV_HASH_MISMATCH = "prev_hash_mismatch"  # the entry does not follow the previous one (deleted/inserted)


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of walking one organisation's chain.

    ``checked`` counts the entries examined: all of them when the chain is intact, those up to and
    including the first broken link otherwise.
    """

    ok: bool
    checked: int
    broken_entry_id: uuid.UUID | None = None
    broken_seq: int | None = None
    reason: str | None = None


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """Entries newest first; ``next_cursor`` is None on the last page."""

    items: Sequence[AuditLogEntry]
    next_cursor: str | None = None


async def record(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    trace_id: str | None = None,
) -> AuditLogEntry:
    """Append one entry for ``org_id`` (which must be the session's tenant) in the caller's transaction.

    One round trip: the row comes back as the trigger left it, with ``seq``, ``prev_hash`` and
    ``hash`` set. The chain stays held for the organisation until the caller's transaction ends,
    so keep audit writes at the end of short transactions.
    """
    statement = (
        insert(AuditLogEntry)
        .values(
            org_id=org_id,
            actor_id=actor_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            trace_id=trace_id,
        )
        .returning(AuditLogEntry)
    )
    return (await session.scalars(statement)).one()


_VERIFY = text(
    """
    WITH broken AS (SELECT v.entry_id, v.seq, v.reason FROM audit_chain_verify(:org) AS v)
    SELECT b.entry_id, b.seq, b.reason,
           (SELECT count(*) FROM audit_log a
             WHERE a.org_id = :org AND (b.seq IS NULL OR a.seq <= b.seq)) AS checked
      FROM (SELECT 1) AS one LEFT JOIN broken AS b ON true
    """
)


async def record_by(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    trace_id: str | None = None,
) -> AuditLogEntry:
    """``record`` on behalf of a request's caller: organisation and actor come from its context."""
    assert ctx.org_id is not None
    return await record(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        trace_id=trace_id,
    )


async def verify_chain(session: AsyncSession, org_id: uuid.UUID) -> ChainReport:
    """Walk ``org_id``'s chain (one statement, one snapshot) and report the first broken link.

    Under row-level security only the session's own organisation is visible: verifying another
    organisation from a tenant session checks nothing (``checked == 0``).
    """
    row = (await session.execute(_VERIFY, {"org": org_id})).one()
    if row.entry_id is None:
        return ChainReport(ok=True, checked=int(row.checked))
    return ChainReport(
        ok=False,
        checked=int(row.checked),
        broken_entry_id=row.entry_id,
        broken_seq=int(row.seq),
        reason=str(row.reason),
    )


async def list_entries(
    session: AsyncSession,
    limit: int | None = 50,
    cursor: str | None = None,
    *,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    actions: Sequence[str] | None = None,
) -> AuditPage:
    """One page of the session organisation's entries, newest first (keyset pagination on ``seq``).

    ``limit`` must be between 1 and ``server.lib.pagination.MAX_LIMIT``; ``cursor`` is the previous
    page's ``next_cursor`` (an invalid one raises ``AppError`` validation_failed).
    """
    statement = select(AuditLogEntry)
    if entity_type:
        statement = statement.where(AuditLogEntry.entity_type == entity_type)
    if entity_id:
        statement = statement.where(AuditLogEntry.entity_id == entity_id)
    if actions:
        statement = statement.where(AuditLogEntry.action.in_(list(actions)))
    rows, next_cursor = await paginate_cursor(
        session,
        statement,
        AuditLogEntry.seq,
        AuditLogEntry.id,
        clamp_limit(limit),
        cursor,
        descending=True,
        parse_value=int,
    )
    return AuditPage(items=rows, next_cursor=next_cursor)
