"""Tombstone pruning: old tombstones of every organisation go, and cursors from before them start over."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from server.domain.sync.tasks import prune_tombstones_task
from server.runtime import Resources
from tests.server.sync.conftest import Team, pull, pull_all


async def test_pruning_drops_old_tombstones_and_resets_older_cursors(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    address = team.other_customer["addresses"][0]["id"]
    _, _, cursor = await pull_all(client, team.dispatcher)
    await admin_conn.execute("DELETE FROM customer_addresses WHERE id = $1", uuid.UUID(address))
    fresh = await pull(client, team.dispatcher, cursor)
    assert fresh["tables"]["customer_addresses"]["deletes"] == [address]

    result = await prune_tombstones_task({"resources": resources})
    assert result["removed"] == 0  # a recent tombstone is kept: devices still need it
    await admin_conn.execute(
        "UPDATE sync_tombstones SET deleted_at = now() - interval '40 days' WHERE row_id = $1", uuid.UUID(address)
    )
    result = await prune_tombstones_task({"resources": resources})
    assert result["removed"] >= 1
    assert await admin_conn.fetchval("SELECT count(*) FROM sync_tombstones WHERE row_id = $1", uuid.UUID(address)) == 0
    assert (await pull(client, team.dispatcher, cursor))["reset"] is True  # it would have missed the delete
    assert (await pull(client, team.dispatcher, fresh["cursor"]))["reset"] is False  # it saw the delete
