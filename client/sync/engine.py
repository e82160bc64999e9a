"""The sync engine: push the outbox, upload attachments, pull the server's changes; in the background.

One round (``sync_once``):
1. reachability: ``api.ping()`` (the server answering, not the phone's network type);
2. push the outbox in batches of ≤ 50, oldest first; a job's ``complete`` (and what follows it) waits
   until that job's photos and signature are up, since the server checks them on completion;
3. upload the photos and signatures due; 4. push what waited;
5. first sync: bootstrap every table (keyset pages, resumable: progress is saved with each page);
6. pull from the cursor until ``hasMore`` is false (the cursor is saved with each page, so an
   interrupted pull resumes); ``reset=true`` wipes the synced tables (never the outbox) and bootstraps.

``run`` repeats it every ``interval`` seconds, sooner when woken (a local change), and after a failure
waits with exponential backoff and jitter. Listeners (``on_change``) hear every status change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from client.api import ApiClient, ApiError, AuthExpired, Offline
from client.attachments import UploadQueue, backoff_delay
from client.i18n import t
from client.outbox import Outbox, QueuedOp
from client.store.local import LocalStore
from client.sync.wire import MAX_PUSH_OPERATIONS, SYNC_TABLES, OpResult

log = logging.getLogger("campotech.client.sync")

BOOTSTRAP_LIMIT = 2000  # the server's maximum: fewer round trips and commits on a first sync
BOOTSTRAP_PREFETCH = 2  # pages asked for ahead of the one being written
PULL_LIMIT = 500
MAX_RESETS_PER_ROUND = 2
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0  # the server answers but fails: give it room
OFFLINE_BACKOFF_CAP = 30.0  # the server is not reached: a ping costs nobody anything, and the technician's work
# should leave within seconds of the signal coming back ("se envía solo al volver la señal")


@dataclass(frozen=True, slots=True)
class SyncStatus:
    online: bool = False
    pending: int = 0
    last_sync_at: Any = None  # datetime | None
    last_error: str | None = None
    syncing: bool = False
    conflicts: int = 0  # unacknowledged conflicts to show
    auth_expired: bool = False  # sign in again


@dataclass
class SyncReport:
    pushed: int = 0
    applied: int = 0
    rejected: int = 0
    pulled: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    uploaded: int = 0
    bootstrapped: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class SyncEngine:
    def __init__(
        self,
        api: ApiClient,
        store: LocalStore,
        outbox: Outbox,
        uploads: UploadQueue,
        *,
        device_id: str,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        pull_limit: int = PULL_LIMIT,
        bootstrap_limit: int = BOOTSTRAP_LIMIT,
    ) -> None:
        self.api = api
        self.store = store
        self.outbox = outbox
        self.uploads = uploads
        self.device_id = device_id
        self.clock = clock
        self.rng = rng
        self.pull_limit = pull_limit
        self.bootstrap_limit = bootstrap_limit
        self._listeners: list[Callable[[SyncStatus], Any]] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.uploads.attach_event(self._wake)
        self.failures = 0
        self.last_round_at: float | None = None
        self._status = SyncStatus(
            pending=store.pending_count(),
            last_sync_at=store.last_sync_at(),
            conflicts=len(store.conflicts()),
        )

    # --- status --------------------------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        return self._status

    def on_change(self, callback: Callable[[SyncStatus], Any]) -> Callable[[], None]:
        """Call ``callback(status)`` on every change; returns a function that stops it."""
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def _set(self, **changes: Any) -> None:
        new = replace(
            self._status,
            pending=self.store.pending_count(),
            conflicts=len(self.store.conflicts()),
            **changes,
        )
        if new == self._status:
            return
        self._status = new
        for callback in list(self._listeners):
            try:
                result = callback(new)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)  # noqa: RUF006 - fire and forget UI refresh
            except Exception:
                log.exception("sync status listener failed")

    def refresh(self) -> SyncStatus:
        """Recount pending work and conflicts (after a local action) and tell the listeners."""
        self._set()
        return self._status

    def wake(self) -> None:
        """Sync as soon as possible (a local change was made)."""
        self.refresh()
        self._wake.set()

    # --- one round -----------------------------------------------------------------------------

    async def sync_once(self) -> SyncReport:
        async with self._lock:
            report = SyncReport()
            self._set(syncing=True)
            try:
                if not await self.api.ping():
                    raise Offline("ping")
                self._set(online=True)
                waiting = self.uploads.jobs_waiting()
                await self._push(report, hold=waiting)
                up = await self.uploads.run_once()
                report.uploaded += up.uploaded
                await self._push(report, hold=self.uploads.jobs_waiting())
                await self._pull(report)
                self.store.set_last_sync_at()
                self.outbox.prune()
                self.failures = 0
                self._set(online=True, last_error=None, last_sync_at=self.store.last_sync_at(), auth_expired=False)
            except Offline as exc:
                self.failures += 1
                report.errors.append("offline")
                self._set(online=False, last_error=exc.message)
            except AuthExpired as exc:
                self.failures += 1
                report.errors.append("auth_expired")
                self._set(last_error=exc.message, auth_expired=True)
            except ApiError as exc:
                self.failures += 1
                report.errors.append(exc.code)
                log.warning("sync round refused", extra={"code": exc.code, "status": exc.status})
                self._set(online=True, last_error=exc.message)
            finally:
                self.last_round_at = self.clock()
                self._set(syncing=False)
            return report

    async def _push(self, report: SyncReport, hold: set[str]) -> None:
        while True:
            batch = self.outbox.next_batch(MAX_PUSH_OPERATIONS, hold=hold)
            if not batch:
                return
            results = await self._send(batch)
            outcome = self.outbox.mark_results(batch, results)
            report.pushed += len(batch)
            report.applied += outcome.applied
            report.rejected += outcome.rejected
            report.conflicts += len(outcome.conflict_ids)
            self._set()
            answered = {str(r.op_id) for r in results}
            if not answered & {op.op_id for op in batch}:
                report.errors.append("push_unanswered")  # the server answered none: try again next round
                return

    async def _send(self, batch: list[QueuedOp]) -> list[OpResult]:
        self.outbox.mark_attempted(batch)
        try:
            response = await self.api.push(self.device_id, [op.wire() for op in batch])
            return response.results
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (408, 429):
                raise
            if len(batch) == 1:
                # the server refuses this one operation outright (malformed by an old app version):
                # answered as rejected so it becomes a conflict and never blocks the queue
                return [OpResult(op_id=batch[0].op_id, status="rejected", code=exc.code, message=exc.message)]
            results: list[OpResult] = []
            for op in batch:  # find the bad one: send them one by one
                results.extend(await self._send([op]))
            return results

    async def bootstrap(self, report: SyncReport) -> None:
        """Load every table from the server's snapshot; resumable (progress saved with each page).

        Pipelined: while one page is written to the store (in a worker thread, so the event loop keeps
        talking to the server), the next ones are already asked for (at most ``BOOTSTRAP_PREFETCH`` wait).
        Pages are applied in order, each with the progress after it in one transaction; on a failure the
        pages that arrived before it are still applied, then the error is raised, and the next round
        resumes after the last page applied.
        """
        progress = json.loads(self.store.get_meta("bootstrap") or "{}")
        done: list[str] = list(progress.get("done", []))
        pages: asyncio.Queue[tuple[str, Any, str | None, bool] | BaseException | None] = asyncio.Queue(
            maxsize=BOOTSTRAP_PREFETCH
        )

        async def fetch() -> None:
            cursor: str | None = progress.get("cursor")
            try:
                for table in SYNC_TABLES:
                    if table in done:
                        continue
                    after = progress.get("after") if progress.get("table") == table else None
                    while True:
                        page = await self.api.bootstrap(table, after, self.bootstrap_limit, cursor)
                        cursor = cursor or page.cursor
                        after = page.next_after
                        finished = not page.has_more or after is None
                        await pages.put((table, page, cursor, finished))
                        if finished:
                            break
            except Exception as exc:  # handed to the writer, raised there after the pages before it
                await pages.put(exc)
            else:
                await pages.put(None)

        fetcher = asyncio.ensure_future(fetch())
        cursor: str | None = progress.get("cursor")
        try:
            while (item := await pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                table, page, cursor, finished = item
                state: dict[str, Any] = {"cursor": cursor, "done": done + ([table] if finished else []), "table": table}
                if not finished:
                    state["after"] = page.next_after
                report.bootstrapped += await asyncio.to_thread(self._apply_bootstrap_page, table, page.records, state)
                if finished:
                    done = [*done, table]
        finally:
            if not fetcher.done():
                fetcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetcher
        with self.store.transaction():
            self.store.set_cursor(cursor)
            self.store.set_meta("bootstrap", None)

    def _apply_bootstrap_page(self, table: str, records: list[Any], state: dict[str, Any]) -> int:
        """One page and the progress after it, in one transaction (runs in a worker thread); not waited on to
        reach the disk: the server sends a lost page again, and the progress saved with it says from where."""
        with self.store.transaction(durable=False):
            applied = self.store.apply_bootstrap(table, records)
            self.store.set_meta("bootstrap", json.dumps(state))
        return applied

    async def _pull(self, report: SyncReport) -> None:
        resets = 0
        while True:
            if self.store.cursor() is None:
                await self.bootstrap(report)
            page = await self.api.pull(self.store.cursor(), self.pull_limit)
            if page.reset:
                resets += 1
                log.info("sync cursor refused by the server: wiping and bootstrapping again")
                self.store.apply_pull(page)  # wipes the synced tables, keeps the outbox
                if resets > MAX_RESETS_PER_ROUND:
                    raise ApiError("sync_reset_loop", t("sync.reset_loop"), 200)
                continue
            report.pulled += self.store.apply_pull(page)
            if not page.has_more:
                return

    # --- background ----------------------------------------------------------------------------

    def next_delay(self, interval: float) -> float:
        """Seconds until the next round: the interval, or after failures a backoff with jitter, short while the
        server cannot be reached at all (ping failed), long while it answers with errors."""
        if self.failures == 0:
            return interval
        cap = min(OFFLINE_BACKOFF_CAP, interval) if not self._status.online else max(BACKOFF_CAP, interval)
        return backoff_delay(self.failures, self.rng, base=BACKOFF_BASE, cap=max(cap, BACKOFF_BASE))

    async def run(self, stop: asyncio.Event, interval: float = 15.0) -> None:
        """Sync until ``stop`` is set: every ``interval`` s, at once when woken, with backoff after failures."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.sync_once()
            except Exception:  # never let the background loop die: the next round tries again
                self.failures += 1
                log.exception("sync round failed")
                self._set(syncing=False, last_error=t("sync.unexpected_error"))
            if self._status.auth_expired:
                return  # the UI asks for the login; a new engine starts after it
            delay = self.next_delay(interval)
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stopper, waker}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                waker.cancel()
