"""The upload queue of photos and signatures: retrying with backoff and jitter, resumable, content-hashed.

The files stay on the device (``photos.path``) until the server has them; the queue is the ``photos``
and ``signatures`` tables, so it survives restarts. The server stores photos by SHA-256 of their bytes,
so sending one again after an interrupted upload is harmless (the server answers the same photo).

Failures: no connection stops the round (``Offline`` is raised for the engine); a transient answer
(408/429/5xx) is retried later with exponential backoff and jitter; a refusal (e.g. the job was closed
or taken away) marks the item ``failed`` and becomes a conflict the technician sees: nothing is
dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.api import ApiError, AuthExpired, Offline
from client.i18n import t

if TYPE_CHECKING:
    from client.api import ApiClient
    from client.store.local import LocalStore

BACKOFF_BASE = 5.0
BACKOFF_CAP = 15 * 60.0
TRANSIENT = frozenset({408, 425, 429})


def backoff_delay(
    attempts: int, rng: Callable[[], float] = random.random, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP
) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base·2^(attempts-1))."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + 0.5 * rng())


@dataclass
class UploadReport:
    uploaded: int = 0
    failed: int = 0  # refused for good this round (conflicts made)
    retry_later: int = 0


class UploadQueue:
    def __init__(
        self,
        store: LocalStore,
        api: ApiClient,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.api = api
        self.clock = clock  # wall clock: the next attempt time is kept in the store across restarts
        self.rng = rng
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """Something new was queued (the engine's ``run`` listens)."""
        if self._wake is not None:
            self._wake.set()

    def attach_event(self, event: asyncio.Event) -> None:
        self._wake = event

    def pending(self) -> int:
        return self.store.pending_uploads_count()

    def jobs_waiting(self) -> set[str]:
        """Jobs with a photo or signature still to upload (their completion waits for them)."""
        rows = self.store._rows(
            "SELECT job_id FROM photos WHERE upload_state = 'pending' "
            "UNION SELECT job_id FROM signatures WHERE upload_state = 'pending'"
        )
        return {r["job_id"] for r in rows}

    def _due(self, table: str, force: bool) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM {table} WHERE upload_state = 'pending'"  # noqa: S608 - fixed names
        params: list[Any] = []
        if not force:
            sql += " AND next_attempt_at <= ?"
            params.append(self.clock())
        return self.store._rows(sql + " ORDER BY created_at", params)

    async def run_once(self, *, force: bool = False) -> UploadReport:
        """Upload what is due (``force``: everything pending, e.g. right after the server came back)."""
        report = UploadReport()
        for photo in self._due("photos", force):
            await self._one(report, "photos", "id", photo["id"], photo["job_id"], photo["attempts"], self._photo(photo))
        for sig in self._due("signatures", force):
            await self._one(
                report, "signatures", "job_id", sig["job_id"], sig["job_id"], sig["attempts"], self._signature(sig)
            )
        return report

    async def _photo(self, photo: dict[str, Any]) -> dict[str, Any]:
        path = Path(photo["path"]) if photo["path"] else None
        if path is None or not path.exists():
            raise _Missing(t("upload.photo_missing"))
        data = await asyncio.to_thread(path.read_bytes)
        answer = await self.api.upload_photo(photo["job_id"], data, photo["content_type"], photo["content_hash"])
        return {"server_id": str(answer.id)}

    async def _signature(self, sig: dict[str, Any]) -> dict[str, Any]:
        strokes = json.loads(sig["strokes"] or "[]")
        # the server draws its own PNG from the strokes; the pad's PNG stays on the device for showing
        await self.api.put_signature(sig["job_id"], strokes, None, signer_name=sig["signer_name"] or "Cliente")
        return {}

    async def _one(
        self, report: UploadReport, table: str, key: str, key_value: str, job_id: str, attempts: int, upload: Any
    ) -> None:
        try:
            extra = await upload
        except (Offline, AuthExpired):
            raise
        except _Missing as exc:
            self._fail(table, key, key_value, job_id, "attachment_missing", str(exc))
            report.failed += 1
        except ApiError as exc:
            if exc.status in TRANSIENT or exc.status >= 500 or exc.code == "hash_mismatch":
                self._later(table, key, key_value, attempts + 1, exc.message)
                report.retry_later += 1
            else:
                self._fail(table, key, key_value, job_id, exc.code, exc.message)
                report.failed += 1
        else:
            sets = "upload_state = 'uploaded', last_error = NULL, attempts = attempts + 1"
            params: list[Any] = []
            if "server_id" in extra:
                sets += ", server_id = ?"
                params.append(extra["server_id"])
            with self.store.transaction() as conn:
                conn.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", [*params, key_value])  # noqa: S608
            report.uploaded += 1

    def _later(self, table: str, key: str, key_value: str, attempts: int, error: str) -> None:
        when = self.clock() + backoff_delay(attempts, self.rng)
        with self.store.transaction() as conn:
            conn.execute(
                f"UPDATE {table} SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE {key} = ?",  # noqa: S608
                (attempts, when, error, key_value),
            )

    def _fail(self, table: str, key: str, key_value: str, job_id: str, code: str, message: str) -> None:
        what = "photo" if table == "photos" else "signature"
        with self.store.transaction() as conn:
            conn.execute(
                f"UPDATE {table} SET upload_state = 'failed', attempts = attempts + 1, last_error = ? "  # noqa: S608
                f"WHERE {key} = ?",
                (message, key_value),
            )
            self.store.add_conflict(
                entity="job",
                entity_id=job_id,
                code=code,
                message=t("upload.photo_failed" if what == "photo" else "upload.signature_failed", message=message),
                device_data={"attachment": what, "id": key_value},
                op=f"job.{what}",
            )

    def retry_failed(self, job_id: str | None = None) -> int:
        """Put failed uploads back in the queue (the technician pressed "reintentar")."""
        with self.store.transaction() as conn:
            total = 0
            for table in ("photos", "signatures"):
                sql = f"UPDATE {table} SET upload_state = 'pending', next_attempt_at = 0 WHERE upload_state = 'failed'"  # noqa: S608
                params: tuple[Any, ...] = ()
                if job_id is not None:
                    sql += " AND job_id = ?"
                    params = (str(job_id),)
                total += conn.execute(sql, params).rowcount
        self.wake()
        return total


class _Missing(Exception):
    pass
