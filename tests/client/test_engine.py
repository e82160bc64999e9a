"""The engine without a server: unreachable is "offline" (nothing lost, status told to listeners), backoff grows
with jitter, and the background loop stops when asked."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import socket

from client.actions import TechnicianActions
from client.api import ApiClient, Offline
from client.attachments import UploadQueue, backoff_delay
from client.outbox import Outbox
from client.store import LocalStore
from client.sync.engine import SyncEngine, SyncStatus
from client.tokens import MemoryTokenStore, StoredTokens
from tests.client.conftest import seed_day


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nobody listens there


def _engine(store: LocalStore, outbox: Outbox) -> tuple[SyncEngine, ApiClient]:
    tokens = MemoryTokenStore(
        StoredTokens(access_token="a" * 20, refresh_token="r" * 20, user_id="u", role="technician")
    )
    api = ApiClient(f"http://127.0.0.1:{_closed_port()}", tokens, timeout=2.0)
    uploads = UploadQueue(store, api)
    return SyncEngine(api, store, outbox, uploads, device_id=store.device_id()), api


async def test_unreachable_server_is_offline_and_keeps_everything(store: LocalStore, outbox: Outbox) -> None:
    j = seed_day(store, 1)[0]
    TechnicianActions(store, outbox).transition(j["id"], "start_travel")
    engine, api = _engine(store, outbox)
    seen: list[SyncStatus] = []
    engine.on_change(seen.append)
    assert await api.ping() is False
    try:
        await api.pull(None)
    except Offline as exc:
        assert "Sin conexión" in exc.message
    else:
        raise AssertionError("a closed port must be Offline")

    report = await engine.sync_once()
    assert report.errors == ["offline"] and report.pushed == 0
    status = engine.status
    assert status.online is False and status.syncing is False and status.pending == 1
    assert status.last_error and "Sin conexión" in status.last_error and status.last_sync_at is None
    assert any(s.syncing for s in seen) and seen[-1].syncing is False
    assert store.pending_ops_count() == 1 and store.job(j["id"])["status"] == "en_camino"
    assert engine.next_delay(15.0) <= 2.0  # first failure: retry soon, not after the full interval
    await api.aclose()


async def test_background_loop_retries_and_stops(store: LocalStore, outbox: Outbox) -> None:
    engine, api = _engine(store, outbox)
    engine.rng = lambda: 1.0
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop, interval=60.0))

    round_over = asyncio.Event()
    engine.on_change(lambda status: None if status.syncing else round_over.set())

    async def failures(n: int) -> None:
        while engine.failures < n:
            await round_over.wait()
            round_over.clear()

    await asyncio.wait_for(failures(1), 5)
    assert engine.next_delay(60.0) == 2.0  # backing off, not waiting the whole interval
    engine.wake()  # a local change: try again now rather than after the backoff
    await asyncio.wait_for(failures(2), 1.5)
    stop.set()
    await asyncio.wait_for(task, 1.0)  # stops at once, mid-wait
    await api.aclose()


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    low = [backoff_delay(n, lambda: 0.0, base=2.0, cap=300.0) for n in range(1, 12)]
    high = [backoff_delay(n, lambda: 1.0, base=2.0, cap=300.0) for n in range(1, 12)]
    assert low[:4] == [1.0, 2.0, 4.0, 8.0] and high[:4] == [2.0, 4.0, 8.0, 16.0]
    assert high[-1] == 300.0 and low[-1] == 150.0
    assert all(a <= b for a, b in itertools.pairwise(high))


def test_status_counts_pending_and_conflicts(store: LocalStore, outbox: Outbox) -> None:
    engine, _ = _engine(store, outbox)
    j = seed_day(store, 1)[0]
    TechnicianActions(store, outbox).add_note(j["id"], "nota")
    store.add_conflict(entity="job", entity_id=j["id"], code="x", message="m", device_data={})
    status = engine.refresh()
    assert status.pending == 1 and status.conflicts == 1
    store.set_last_sync_at(datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC))


async def test_offline_retries_stay_short_while_server_errors_back_off_long(store: LocalStore, outbox: Outbox) -> None:
    """No server reached (a basement): a ping at least every 30 s (or the interval, if shorter), so the work
    leaves soon after the signal is back; a server answering with errors gets up to 5 minutes of room."""
    engine, api = _engine(store, outbox)
    engine.rng = lambda: 1.0
    engine.failures = 12  # a long time in the basement
    assert (await engine.sync_once()).errors == ["offline"] and engine.status.online is False
    assert engine.next_delay(15.0) == 15.0 and engine.next_delay(120.0) == 30.0
    engine._set(online=True)  # the server was reached but refused (5xx): back off for real
    assert engine.next_delay(15.0) == 300.0
    await api.aclose()
