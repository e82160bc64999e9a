"""The outbox: every change the device makes, queued durably until the server has answered it.

``enqueue`` commits (SQLite commit with ``synchronous=FULL``: on disk) before it returns, so the UI
says "guardado" only when a crash can no longer lose it. An operation leaves the queue only with the
server's answer: applied, merged or duplicate (done) or rejected (kept, and shown as a conflict).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from client.i18n import t
from client.store.local import LocalStore, iso
from client.sync.wire import (
    MAX_PUSH_OPERATIONS,
    OP_JOB_COMPLETE,
    OP_JOB_NOTE,
    OP_JOB_TRANSITION,
    OpResult,
    PushOperation,
)
from shared.ids import new_id

DONE_STATUSES = frozenset({"applied", "merged", "duplicate"})


@dataclass(frozen=True, slots=True)
class QueuedOp:
    seq: int
    op_id: str
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    base_version: int | None
    created_at: str
    attempts: int

    def wire(self) -> PushOperation:
        return PushOperation(
            op_id=self.op_id,
            entity=self.entity,
            entity_id=self.entity_id,
            op=self.op,
            base_version=self.base_version,
            payload=self.payload,
            created_at=self.created_at,
        )


class Outbox:
    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def enqueue(
        self, op: str, entity: str, entity_id: str, payload: dict[str, Any], base_version: int | None = None
    ) -> str:
        """Queue one operation; its id. Durable when this returns (or when the caller's transaction commits)."""
        op_id = str(new_id())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (op_id, entity, entity_id, op, payload, base_version, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    op_id,
                    entity,
                    str(entity_id),
                    op,
                    json.dumps(payload, ensure_ascii=False, default=str),
                    base_version,
                    iso(),
                ),
            )
        return op_id

    def next_batch(self, limit: int = MAX_PUSH_OPERATIONS, *, hold: set[str] | None = None) -> list[QueuedOp]:
        """The oldest pending operations (at most ``limit``, never more than the server takes).

        ``hold``: jobs whose completion must wait (their photos or signature are still uploading): from
        that job's first ``complete`` on, its operations stay queued, in order, for a later batch.
        """
        limit = max(1, min(limit, MAX_PUSH_OPERATIONS))
        with self.store._lock:
            rows = self.store.conn.execute(
                "SELECT seq, op_id, entity, entity_id, op, payload, base_version, created_at, attempts "
                "FROM outbox WHERE state = 'pending' ORDER BY seq" + ("" if hold else " LIMIT ?"),
                () if hold else (limit,),
            ).fetchall()
        out: list[QueuedOp] = []
        held: set[str] = set()
        for r in rows:
            op = QueuedOp(
                r["seq"],
                r["op_id"],
                r["entity"],
                r["entity_id"],
                r["op"],
                json.loads(r["payload"]),
                r["base_version"],
                r["created_at"],
                r["attempts"],
            )
            if hold and op.entity_id in hold and (op.entity_id in held or _completes(op)):
                held.add(op.entity_id)
                continue
            out.append(op)
            if len(out) >= limit:
                break
        return out

    def prune(self, keep_days: int = 7) -> int:
        """Forget operations the server confirmed more than ``keep_days`` ago (rejected ones stay: conflicts)."""
        cutoff = iso(datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=keep_days))
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM outbox WHERE state = 'done' AND finished_at < ?", (cutoff,)).rowcount

    def pending(self) -> int:
        return self.store.pending_ops_count()

    def mark_attempted(self, ops: list[QueuedOp]) -> None:
        with self.store.transaction() as conn:
            conn.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE op_id = ?", [(o.op_id,) for o in ops])

    def mark_results(self, ops: list[QueuedOp], results: list[OpResult]) -> MarkOutcome:
        """Record the server's answers, in one transaction.

        Done ones leave the queue and their ``record`` is applied to the local store; rejected ones leave
        it too but become a conflict carrying everything the device had sent (shown to the technician).
        An operation without an answer stays pending (sent again next time: the server's op id makes that
        harmless).
        """
        by_id = {o.op_id: o for o in ops}
        outcome = MarkOutcome()
        with self.store.transaction() as conn:
            for result in results:
                op = by_id.get(str(result.op_id))
                if op is None:
                    continue
                done = result.status in DONE_STATUSES
                is_note = op.op == OP_JOB_NOTE
                table = "job_notes" if is_note else "jobs"
                conn.execute(
                    "UPDATE outbox SET state = ?, result_status = ?, result_code = ?, result_message = ?, "
                    "finished_at = ? WHERE op_id = ? AND state = 'pending'",
                    ("done" if done else "rejected", result.status, result.code, result.message, iso(), op.op_id),
                )
                if done:
                    outcome.applied += 1
                    if result.record:
                        record = result.record
                        if is_note and "clientId" not in record:
                            record = {**record, "clientId": op.payload.get("id")}
                        self.store.apply_record(table, record)
                    if is_note and not result.record:
                        conn.execute("UPDATE job_notes SET pending = 0 WHERE id = ?", (str(op.payload.get("id")),))
                else:
                    outcome.rejected += 1
                    if is_note:  # kept and shown as not sent, with the conflict
                        conn.execute("UPDATE job_notes SET pending = 2 WHERE id = ?", (str(op.payload.get("id")),))
                    outcome.conflict_ids.append(
                        self.store.add_conflict(
                            entity=op.entity,
                            entity_id=op.entity_id,
                            code=result.code or "sync.rejected",
                            message=result.message or t("sync.change_rejected"),
                            device_data={"op": op.op, "payload": op.payload, "createdAt": op.created_at},
                            server_data=result.record or (result.conflict or None),
                            op_id=op.op_id,
                            op=op.op,
                        )
                    )
                    if result.record:
                        self.store.apply_record(table, result.record)
            touched = {by_id[str(r.op_id)].entity_id for r in results if str(r.op_id) in by_id}
            self.store.replay_pending(touched)
        return outcome


def _completes(op: QueuedOp) -> bool:
    return op.op == OP_JOB_COMPLETE or (op.op == OP_JOB_TRANSITION and op.payload.get("event") == "complete")


@dataclass
class MarkOutcome:
    applied: int = 0
    rejected: int = 0
    conflict_ids: list[str] = field(default_factory=list)
