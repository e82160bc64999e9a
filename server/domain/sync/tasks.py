"""Sync housekeeping: old tombstones are pruned daily (a device away longer than that starts over)."""

from __future__ import annotations

import datetime
from typing import Any

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.domain.sync.services import MAX_WINDOW_SHIFT_DAYS, prune_all_tombstones
from server.lib.tasks import periodic
from server.runtime import Resources

TOMBSTONE_RETENTION_DAYS = MAX_WINDOW_SHIFT_DAYS  # a cursor older than this resets anyway


@periodic(cron="23 4 * * *", queue="default", name="sync.prune_tombstones", timeout=300)
async def prune_tombstones_task(ctx: Any, *, org_id: str | None = None) -> dict[str, Any]:
    """Daily: drop tombstones older than the retention; cursors from before them answer ``reset``."""
    resources: Resources = ctx["resources"]
    before = utcnow() - datetime.timedelta(days=TOMBSTONE_RETENTION_DAYS)
    async with tenant_transaction(resources.sessionmaker, None) as session:
        removed = await prune_all_tombstones(session, before)
    return {"removed": removed}


TASKS = [prune_tombstones_task]
