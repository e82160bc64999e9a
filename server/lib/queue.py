"""Queues: SAQ on Redis, five named queues, one registry per process.

``QueueRegistry`` owns one Redis-backed saq queue per name (``afip``, ``payments``, ``whatsapp``,
``voice``, ``default``; Redis names are ``{queue_prefix}:{name}``), enqueues registered tasks
(:mod:`server.lib.tasks`) with their retry policy, and runs one saq ``Worker`` per queue in the
current event loop (inside the API with ``worker_in_process``, or in ``campotech queue worker``).

Around every job the workers:

- record ``job_outcomes`` (complete / retried / failed / aborted / deferred) and ``job_duration``,
  and log one line per attempt (kwargs only redacted);
- keep per-organisation fairness: at most ``ceil(queue_concurrency * queue_org_share)`` jobs of one
  organisation active at once on a queue, counted in Redis; a job over the cap goes back to the
  queue a moment later without using an attempt, so other organisations' jobs run meanwhile;
- store jobs that exhausted their attempts (saq status FAILED) in ``dead_letter_jobs``.

Plain saq workers rather than litestar-saq's plugin: the app lifespan already owns start and stop,
tests need registries with their own prefixes, and fairness, readiness and dead letters need small
subclasses of saq's queue and worker that the plugin would only wrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue, Worker
from saq.job import Job, Status, get_default_job_key
from saq.queue.redis import RedisQueue

from server.lib.logging import get_logger
from server.lib.redaction import redact, redact_text
from server.lib.tasks import (
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_TIMEOUT,
    QUEUE_NAMES,
    TaskFunction,
    TaskRegistry,
    TaskSpec,
    domain_tasks,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from server.lib.metrics import Metrics
    from server.runtime import Resources
    from server.settings import Settings

log = get_logger("campotech.queue")

__all__ = [
    "QUEUE_NAMES",
    "FairRedisQueue",
    "QueueRegistry",
    "QueueWorker",
    "org_concurrency_cap",
    "run_workers",
    "serve_workers",
    "store_dead_letter",
]

# An org's slot is held at most the job's timeout plus this margin (a crashed worker cannot leak it).
ORG_SLOT_MARGIN_SECONDS = 60
# Slot lifetime for jobs without a timeout.
UNBOUNDED_JOB_SECONDS = 3600
# Worker start-up (first sweep and registration) must finish within this.
WORKER_START_TIMEOUT_SECONDS = 60.0  # a first sweep may wait out a job left active (SAQ waits up to 5 s each)
# ``campotech queue worker``: how long running jobs may finish on shutdown before being cancelled.
WORKER_SHUTDOWN_GRACE_SECONDS = 10.0
# Longest stored error text of a dead letter.
MAX_ERROR_CHARS = 20_000

OUTCOME_BY_STATUS = {
    Status.COMPLETE: "complete",
    Status.QUEUED: "retried",
    Status.FAILED: "failed",
    Status.ABORTED: "aborted",
}

# KEYS: the org's active set on this queue, the queue's active list, the queue's incomplete zset.
# ARGV: now (epoch s), cap, job id, slot deadline (epoch s), deferred until (epoch s).
# Takes a slot (a member of the org's set, expiring at its deadline) or moves the just-dequeued job
# back to the scheduled set; returns 1 when the job may run.
_TAKE_ORG_SLOT_OR_DEFER = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
    local ttl = math.ceil(tonumber(ARGV[4]) - now)
    if redis.call('TTL', KEYS[1]) < ttl then
        redis.call('EXPIRE', KEYS[1], ttl)
    end
    return 1
end
redis.call('LREM', KEYS[2], 1, ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
return 0
"""

# saq's schedule script with a lock in milliseconds, so the scheduler may tick more than once a second.
_SCHEDULE_DUE_JOBS = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('PSETEX', KEYS[1], ARGV[1], 1)
    local jobs = redis.call('ZRANGEBYSCORE', KEYS[2], 1, ARGV[2])
    for _, v in ipairs(jobs) do
        redis.call('ZADD', KEYS[2], 0, v)
        redis.call('RPUSH', KEYS[3], v)
    end
    return jobs
end
"""


def org_concurrency_cap(settings: Settings) -> int:
    """Most jobs of one organisation active at once on one queue."""
    return max(1, math.ceil(settings.queue_concurrency * settings.queue_org_share))


def org_id_of(job: Job) -> str | None:
    org_id = (job.kwargs or {}).get("org_id")
    return str(org_id) if org_id else None


class FairRedisQueue(RedisQueue):
    """A saq Redis queue that defers a dequeued job when its organisation already fills its share."""

    def __init__(
        self,
        redis: Any,
        name: str = "default",
        *,
        org_cap: int,
        defer_seconds: float,
        on_deferred: Callable[[Job], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(redis, name=name, **kwargs)
        self.org_cap = org_cap
        self.defer_seconds = defer_seconds
        self.on_deferred = on_deferred
        self._take_slot_script = redis.register_script(_TAKE_ORG_SLOT_OR_DEFER)
        self._schedule_due_script = redis.register_script(_SCHEDULE_DUE_JOBS)

    def org_key(self, org_id: str) -> str:
        return self.namespace(f"org_active:{org_id}")

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109
        job = await super().dequeue(timeout, poll_interval)
        if job is None:
            return None
        org_id = org_id_of(job)
        if org_id is None or await self._take_org_slot_or_defer(job, org_id):
            return job
        # Returning None makes the worker's slot dequeue again at once: the next job may be another org's.
        log.debug("job deferred: organisation at its share", queue=self.name, task=job.function, org_id=org_id)
        if self.on_deferred is not None:
            self.on_deferred(job)
        return None

    async def _take_org_slot_or_defer(self, job: Job, org_id: str) -> bool:
        now = time.time()
        lifetime = (job.timeout or UNBOUNDED_JOB_SECONDS) + ORG_SLOT_MARGIN_SECONDS
        taken = await self._take_slot_script(
            keys=[self.org_key(org_id), self._active, self._incomplete],
            args=[now, self.org_cap, job.id, now + lifetime, now + self.defer_seconds],
            client=self.redis,
        )
        return bool(taken)

    async def release_org_slot(self, job: Job) -> None:
        org_id = org_id_of(job)
        if org_id is not None:
            await self.redis.zrem(self.org_key(org_id), job.id)

    async def org_active_count(self, org_id: str) -> int:
        key = self.org_key(org_id)
        await self.redis.zremrangebyscore(key, "-inf", time.time())
        return int(await self.redis.zcard(key))

    async def schedule(self, lock: float = 1) -> list[str]:
        job_ids = await self._schedule_due_script(
            keys=[self._schedule, self._incomplete, self._queued],
            args=[max(1, int(lock * 1000)), time.time()],
            client=self.redis,
        )
        return [job_id.decode("utf-8") for job_id in job_ids or []]


class QueueWorker(Worker[Any]):
    """A saq Worker that sweeps before taking jobs and tells when it is ready.

    saq's first sweep runs concurrently with the first dequeues and may abort a job caught between
    dequeue and "active" (``swept``); here the sweep runs first and ``ready`` is set after it.
    Signals belong to the hosting process (the API server or ``serve_workers``), not to the worker.
    """

    SIGNALS = []  # type: ignore[misc]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ready = asyncio.Event()

    async def upkeep(self) -> list[asyncio.Task[None]]:
        await self.queue.sweep(int(self.timers["sweep"]))
        tasks = await super().upkeep()
        self.ready.set()
        return tasks

    async def stop(self) -> None:
        """Stop at once, except that running jobs get the shutdown grace period (when there is one).

        saq's own stop waits the grace period for its upkeep loops too, which sleep up to a minute.
        """
        self.event.set()
        tasks = list(self.tasks)
        if self._shutdown_grace_period_s:
            tasks = [t for t in tasks if t.get_name() != "process"]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await super().stop()


class QueueRegistry:
    """The five queues of one process, their workers, and enqueueing of registered tasks."""

    def __init__(
        self,
        settings: Settings,
        resources: Resources,
        *,
        tasks: TaskRegistry | Iterable[TaskSpec] | None = None,
        schedule_interval: float = 0.25,
        defer_seconds: float = 0.25,
        dequeue_timeout: float = 0.0,
        shutdown_grace_seconds: float = 0.0,
    ) -> None:
        self.settings = settings
        self.resources = resources
        if tasks is None:
            tasks = domain_tasks()
        self.tasks = tasks if isinstance(tasks, TaskRegistry) else TaskRegistry(tasks)
        self.schedule_interval = schedule_interval
        self.dequeue_timeout = dequeue_timeout
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.org_cap = org_concurrency_cap(settings)
        self.queues: dict[str, FairRedisQueue] = {
            name: FairRedisQueue(
                Redis.from_url(settings.require_redis_url()),
                name=f"{settings.queue_prefix}:{name}",
                org_cap=self.org_cap,
                defer_seconds=defer_seconds,
                on_deferred=self._deferred_counter(name),
            )
            for name in QUEUE_NAMES
        }
        self.workers: dict[str, QueueWorker] = {}
        self._worker_tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def queue(self, name: str) -> Queue:
        return self.queues[name]

    # --- enqueueing ---

    async def enqueue(
        self,
        task_or_name: TaskSpec | str | TaskFunction,
        /,
        *,
        org_id: uuid.UUID | str | None = None,
        job_key: str | None = None,
        delay_seconds: float | None = None,
        **kwargs: Any,
    ) -> Job:
        """Enqueue a task on its queue with its retry policy; kwargs must be JSON-serialisable.

        ``job_key`` deduplicates (an unfinished job with the same key is returned instead);
        ``delay_seconds`` runs it later.
        """
        spec = self.tasks.get(task_or_name)
        if org_id is not None:
            kwargs["org_id"] = str(org_id)
        return await self._enqueue(
            spec.queue, spec.name, kwargs, spec.job_policy(), job_key=job_key, delay_seconds=delay_seconds
        )

    async def enqueue_function(
        self, queue: str, function: str, kwargs: dict[str, Any], *, meta: dict[str, Any] | None = None
    ) -> Job:
        """Enqueue by stored name (a dead letter's): the registered task's queue and policy when known."""
        spec = self.tasks.find(function)
        if spec is not None:
            return await self._enqueue(spec.queue, spec.name, dict(kwargs), spec.job_policy(), meta=meta)
        if queue not in self.queues:
            raise LookupError(f"unknown queue {queue!r}")
        log.warning("enqueueing a task this process does not know", queue=queue, task=function)
        policy = {"timeout": DEFAULT_TIMEOUT, "retries": DEFAULT_RETRIES, "retry_delay": DEFAULT_RETRY_DELAY}
        return await self._enqueue(queue, function, dict(kwargs), policy, meta=meta)

    async def _enqueue(
        self,
        queue_name: str,
        function: str,
        kwargs: dict[str, Any],
        policy: dict[str, Any],
        *,
        job_key: str | None = None,
        delay_seconds: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        # Built as a Job so that no task kwarg is mistaken for a Job field (``key``, ``timeout``...).
        job = Job(
            function=function,
            kwargs=kwargs or None,
            key=job_key or get_default_job_key(),
            scheduled=math.ceil(time.time() + delay_seconds) if delay_seconds else 0,
            meta=meta or {},
            **policy,
        )
        await job.enqueue(self.queues[queue_name])
        log.debug("job enqueued", queue=queue_name, task=function, job_key=job.key, org_id=kwargs.get("org_id"))
        return job

    # --- workers ---

    async def start_workers(self, only: Iterable[str] | None = None) -> None:
        """Start one worker per queue (or the ``only`` ones) in this event loop; return once each is ready."""
        names = [n for n in (only or QUEUE_NAMES) if n not in self.workers]
        for name in names:
            if name not in self.queues:
                raise LookupError(f"unknown queue {name!r}")
            worker = self._build_worker(name)
            await worker.queue.connect()
            self.workers[name] = worker
            self._worker_tasks[name] = asyncio.create_task(worker.start(), name=f"queue-worker:{name}")
        for name in names:
            await self._wait_until_ready(name)
        if names:
            log.info("queue workers started", queues=names, concurrency=self.settings.queue_concurrency)

    def _build_worker(self, name: str) -> QueueWorker:
        async def before_process(ctx: Any) -> None:
            ctx["started_perf"] = time.perf_counter()

        async def after_process(ctx: Any) -> None:
            await self._after_job(name, ctx)

        worker = QueueWorker(
            self.queues[name],
            functions=[(spec.name, spec.worker_function) for spec in self.tasks.for_queue(name)],
            concurrency=self.settings.queue_concurrency,
            cron_jobs=self.tasks.cron_jobs_for_queue(name),
            before_process=before_process,
            after_process=after_process,
            timers={"schedule": self.schedule_interval},  # type: ignore[typeddict-item]
            dequeue_timeout=self.dequeue_timeout,
            shutdown_grace_period_s=self.shutdown_grace_seconds,  # type: ignore[arg-type]
            metadata={"host": socket.gethostname(), "pid": os.getpid()},
        )
        worker.context.update({"resources": self.resources, "queues": self, "settings": self.settings})
        return worker

    async def _wait_until_ready(self, name: str) -> None:
        worker, task = self.workers[name], self._worker_tasks[name]
        ready = asyncio.create_task(worker.ready.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=WORKER_START_TIMEOUT_SECONDS, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            reason = task.exception() if task.done() and not task.cancelled() else "timed out"
            raise RuntimeError(f"queue worker {name!r} did not start: {reason}")

    async def stop_workers(self) -> None:
        workers, tasks = list(self.workers.values()), list(self._worker_tasks.values())
        self.workers.clear()
        self._worker_tasks.clear()
        if not workers:
            return
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        _, still_running = await asyncio.wait(tasks, timeout=self.shutdown_grace_seconds + 5)
        for task in still_running:
            task.cancel()
        log.info("queue workers stopped")

    async def _after_job(self, queue_name: str, ctx: Any) -> None:
        """Release the org slot, record metrics and a log line, store a dead letter when attempts ran out."""
        job: Job | None = ctx.get("job")
        if job is None:
            return
        queue = self.queues[queue_name]
        try:
            await queue.release_org_slot(job)
        except Exception as exc:  # the slot expires by itself
            log.warning("could not release organisation slot", queue=queue_name, job_key=job.key, error=repr(exc))
        outcome = OUTCOME_BY_STATUS.get(job.status, job.status.value)
        elapsed = time.perf_counter() - ctx.get("started_perf", time.perf_counter())
        metrics = self.resources.metrics
        metrics.job_outcomes.labels(queue_name, job.function, outcome).inc()
        metrics.job_duration.labels(queue_name, job.function).observe(elapsed)
        fields: dict[str, Any] = {
            "queue": queue_name,
            "task": job.function,
            "job_key": job.key,
            "org_id": org_id_of(job),
            "outcome": outcome,
            "attempt": job.attempts,
            "max_attempts": job.retries,
            "duration_ms": round(elapsed * 1000, 2),
        }
        if job.status is Status.COMPLETE:
            log.info("job finished", **fields)
            return
        fields["error"] = error_summary(job.error)
        fields["kwargs"] = redact(job.kwargs or {})
        if job.status is not Status.FAILED:
            log.warning("job attempt failed", **fields)
            return
        log.error("job failed: attempts exhausted, stored as dead letter", **fields)
        try:
            await store_dead_letter(self.resources.sessionmaker, queue_name, job)
        except Exception as exc:
            log.error("could not store dead letter", queue=queue_name, job_key=job.key, error=repr(exc))

    def _deferred_counter(self, queue_name: str) -> Callable[[Job], None]:
        def count(job: Job) -> None:
            self.resources.metrics.job_outcomes.labels(queue_name, job.function, "deferred").inc()

        return count

    # --- observation ---

    async def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, queue in self.queues.items():
            try:
                info = await queue.info()
            except Exception as exc:
                out[name] = {"ok": False, "error": type(exc).__name__}
                continue
            out[name] = {
                "ok": True,
                "queued": info.get("queued", 0),
                "active": info.get("active", 0),
                "scheduled": info.get("scheduled", 0),
                "workers": len(info.get("workers", {})),
            }
        return {"queues": out}

    async def update_depth_gauges(self, metrics: Metrics) -> None:
        """Refresh the queue-depth gauges; with Redis unreachable they keep their last values."""
        for name, queue in self.queues.items():
            try:
                info = await queue.info()
            except (RedisError, OSError) as exc:
                log.warning("queue depth unavailable", queue=name, error=type(exc).__name__)
                continue
            for state in ("queued", "active", "scheduled"):
                metrics.queue_depth.labels(name, state).set(int(info.get(state) or 0))  # type: ignore[call-overload]

    async def close(self) -> None:
        await self.stop_workers()
        if self._closed:
            return
        self._closed = True
        for queue in self.queues.values():
            try:
                await queue.disconnect()
            except (RedisError, OSError) as exc:  # Redis already gone: nothing left to close
                log.warning("queue disconnect failed", queue=queue.name, error=type(exc).__name__)


def error_summary(error: str | None) -> str | None:
    """The last line of a traceback (the exception and its message), redacted."""
    if not error:
        return None
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return redact_text(lines[-1][:500]) if lines else None


async def store_dead_letter(sessionmaker: async_sessionmaker[AsyncSession], queue_name: str, job: Job) -> uuid.UUID:
    """Keep a job whose attempts ran out in ``dead_letter_jobs`` (not under row-level security)."""
    from server.db.models.dead_letter import DeadLetterJob, DeadLetterStatus

    org_id = org_id_of(job)
    try:
        org_uuid = uuid.UUID(org_id) if org_id else None
    except ValueError:
        org_uuid = None
    row = DeadLetterJob(
        queue=queue_name,
        function=job.function[:120],
        job_key=job.key[:120],
        org_id=org_uuid,
        kwargs=dict(job.kwargs or {}),
        error=redact_text(job.error[-MAX_ERROR_CHARS:]) if job.error else None,
        attempts=job.attempts,
        status=DeadLetterStatus.DEAD,
        failed_at=datetime.datetime.now(datetime.UTC),
    )
    async with sessionmaker() as session, session.begin():
        session.add(row)
    return row.id


# --- the worker process ---


async def serve_workers(
    settings: Settings,
    *,
    tasks: TaskRegistry | Iterable[TaskSpec] | None = None,
    metrics_port: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run every queue's worker until SIGINT/SIGTERM (or ``stop``); optionally serve /metrics on a port."""
    from server.lib.logging import configure_logging
    from server.runtime import Resources

    configure_logging(settings.log_level, settings.log_json)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    resources = await Resources.open(settings)
    registry = QueueRegistry(
        settings,
        resources,
        tasks=tasks,
        dequeue_timeout=1.0,
        shutdown_grace_seconds=WORKER_SHUTDOWN_GRACE_SECONDS,
    )
    resources.queues = registry
    try:
        await registry.start_workers()
        if metrics_port:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=settings.host, registry=resources.metrics.registry)
            log.info("worker metrics served", host=settings.host, port=metrics_port)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await registry.update_depth_gauges(resources.metrics)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 15)
        log.info("queue worker stopping")
    finally:
        await resources.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


def run_workers(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Blocking entry point of the worker process (``campotech worker`` / ``campotech queue worker``)."""
    asyncio.run(serve_workers(settings, metrics_port=metrics_port))
