"""Queues on real Redis and PostgreSQL: retries with backoff, dead letters, fairness, cron, metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from saq.job import Job, Status

from server.db.models.dead_letter import DeadLetterStatus
from server.domain.admin import services
from server.lib.errors import AppError
from server.lib.queue import QUEUE_NAMES, QueueRegistry, org_concurrency_cap, serve_workers
from server.lib.tasks import PolicyCronJob, TaskRegistry, periodic, task
from server.runtime import Resources
from server.settings import Settings
from shared.errors import ErrorCode

# --- tasks used by the tests (module level: workers find them by name) ---

CALLS: dict[str, list[float]] = defaultdict(list)
FIXED: set[str] = set()
FINISHED: dict[str, list[str]] = defaultdict(list)
RUNNING: dict[tuple[str, str], int] = defaultdict(int)
MAX_RUNNING: dict[tuple[str, str], int] = defaultdict(int)
SEEN_KWARGS: dict[str, dict[str, Any]] = {}


@task(queue="default", retries=4, retry_delay=0.05, backoff_max=0.2, timeout=5)
async def flaky(ctx: Any, *, org_id: str | None = None, run_id: str, failures: int) -> int:
    CALLS[run_id].append(time.monotonic())
    if len(CALLS[run_id]) <= failures:
        raise RuntimeError(f"planned failure {len(CALLS[run_id])}")
    return len(CALLS[run_id])


@task(queue="afip", retries=2, retry_delay=0.01, backoff_max=0.05, timeout=5)
async def broken_until_fixed(ctx: Any, *, org_id: str | None = None, run_id: str, access_token: str) -> str:
    CALLS[run_id].append(time.monotonic())
    if run_id not in FIXED:
        raise ValueError("AFIP answered 500")
    return "ok"


@task(queue="whatsapp", retries=1, timeout=10)
async def slow(ctx: Any, *, org_id: str | None = None, run_id: str, label: str, seconds: float) -> None:
    key = (run_id, org_id or "-")
    RUNNING[key] += 1
    MAX_RUNNING[key] = max(MAX_RUNNING[key], RUNNING[key])
    try:
        await asyncio.sleep(seconds)
    finally:
        RUNNING[key] -= 1
    FINISHED[run_id].append(label)


@task(queue="default", retries=1, timeout=5)
async def echo(ctx: Any, **kwargs: Any) -> str:
    SEEN_KWARGS[kwargs["run_id"]] = kwargs
    assert ctx["resources"] is not None and ctx["job"].function == echo.name
    return "echoed"


@periodic(cron="* * * * * *", queue="payments", timeout=5, kwargs={"run_id": "cron"})
async def every_second(ctx: Any, *, run_id: str) -> None:
    CALLS[run_id].append(time.monotonic())


# --- helpers ---

MakeQueues = Callable[..., Awaitable[QueueRegistry]]


@pytest.fixture(name="make_queues")
async def fixture_make_queues(settings: Settings, resources: Resources) -> AsyncIterator[MakeQueues]:
    """Registries with their own queue prefix and a fast scheduler; ``install=True`` puts one in resources."""
    made: list[QueueRegistry] = []
    previous = resources.queues

    async def make(*tasks: Any, install: bool = False, start: tuple[str, ...] = (), **overrides: Any) -> QueueRegistry:
        own = msgspec.structs.replace(settings, queue_prefix=f"tq{uuid.uuid4().hex[:8]}", **overrides)
        registry = QueueRegistry(own, resources, tasks=tasks, schedule_interval=0.1, defer_seconds=0.1)
        made.append(registry)
        if install:
            resources.queues = registry
        if start:
            await registry.start_workers(start)
        return registry

    yield make
    resources.queues = previous
    for registry in made:
        await registry.close()


async def wait_for_status(job: Job, statuses: set[Status], within: float = 5.0) -> Job:
    deadline = time.monotonic() + within
    while True:
        await job.refresh()
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{job.function} still {job.status.value} after {within}s: {job.error}")
        await asyncio.sleep(0.02)


async def wait_for_dead_letter(admin_conn: asyncpg.Connection, job_key: str, within: float = 5.0) -> asyncpg.Record:
    deadline = time.monotonic() + within
    while True:
        row = await admin_conn.fetchrow("SELECT * FROM dead_letter_jobs WHERE job_key = $1", job_key)
        if row is not None:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"no dead letter for job {job_key} after {within}s")
        await asyncio.sleep(0.02)


def outcomes(resources: Resources, queue: str, task_name: str, outcome: str) -> float:
    value = resources.metrics.registry.get_sample_value(
        "campotech_queue_jobs_total", {"queue": queue, "task": task_name, "outcome": outcome}
    )
    return value or 0.0


def durations_observed(resources: Resources, queue: str, task_name: str) -> float:
    value = resources.metrics.registry.get_sample_value(
        "campotech_queue_job_duration_seconds_count", {"queue": queue, "task": task_name}
    )
    return value or 0.0


# --- registry and decorators ---


def test_task_decorator_keeps_the_policy_and_validates() -> None:
    assert flaky.queue == "default"
    assert flaky.name == "tests.server.test_queue.flaky"
    assert flaky.job_policy() == {"timeout": 5, "retries": 4, "retry_delay": 0.05, "retry_backoff": 0.2}
    assert flaky.worker_function.__qualname__ == flaky.name

    with pytest.raises(ValueError, match="unknown queue"):
        task(queue="nope")(flaky.fn)
    with pytest.raises(TypeError, match="async"):
        task(queue="default")(lambda ctx: None)
    with pytest.raises(ValueError, match="at least 1"):
        task(queue="default", retries=0)(flaky.fn)
    with pytest.raises(ValueError, match="cron"):
        periodic(cron="every tuesday")(flaky.fn)

    registry = TaskRegistry([flaky, echo])
    assert registry.get("tests.server.test_queue.flaky") is flaky
    assert registry.get(flaky.fn) is flaky
    with pytest.raises(ValueError, match="two different tasks"):
        registry.add(task(queue="afip", name=flaky.name)(flaky.fn))
    with pytest.raises(LookupError):
        registry.get("tests.nothing")


def test_org_cap_is_a_share_of_concurrency(settings: Settings) -> None:
    assert org_concurrency_cap(msgspec.structs.replace(settings, queue_concurrency=10, queue_org_share=0.5)) == 5
    assert org_concurrency_cap(msgspec.structs.replace(settings, queue_concurrency=2, queue_org_share=0.5)) == 1
    assert org_concurrency_cap(msgspec.structs.replace(settings, queue_concurrency=3, queue_org_share=0.5)) == 2
    assert org_concurrency_cap(msgspec.structs.replace(settings, queue_concurrency=1, queue_org_share=0.1)) == 1


# --- workers ---


async def test_workers_start_ready_and_report_health(make_queues: MakeQueues) -> None:
    queues = await make_queues(echo, start=("default", "afip"))
    # enqueued right after start: not swept, runs at once
    job = await queues.enqueue(echo, run_id="ready", key="kept", timeout="kept too")
    await wait_for_status(job, {Status.COMPLETE})
    assert job.result == "echoed"
    # kwargs named like saq Job fields reach the task untouched
    assert SEEN_KWARGS["ready"] == {"run_id": "ready", "key": "kept", "timeout": "kept too"}
    assert job.timeout == echo.timeout

    health = (await queues.health())["queues"]
    assert set(health) == {"afip", "payments", "whatsapp", "voice", "default"}
    assert health["default"]["ok"] is True
    assert health["default"]["workers"] == 1
    assert health["voice"]["workers"] == 0

    started = time.monotonic()
    await queues.stop_workers()
    assert time.monotonic() - started < 2
    assert queues.workers == {}


async def test_job_key_deduplicates(make_queues: MakeQueues) -> None:
    queues = await make_queues(echo)
    first = await queues.enqueue(echo, job_key="same-key", run_id="dedupe-1")
    second = await queues.enqueue(echo, job_key="same-key", run_id="dedupe-2")
    assert first.key == second.key == "same-key"
    assert second.kwargs == {"run_id": "dedupe-1"}
    assert (await queues.queue("default").info())["queued"] == 1


async def test_failing_task_is_retried_with_backoff_then_succeeds(
    make_queues: MakeQueues, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    queues = await make_queues(flaky, start=("default",))
    run_id = uuid.uuid4().hex
    retried_before = outcomes(resources, "default", flaky.name, "retried")
    complete_before = outcomes(resources, "default", flaky.name, "complete")
    observed_before = durations_observed(resources, "default", flaky.name)

    job = await queues.enqueue(flaky, run_id=run_id, failures=2)
    assert (job.retries, job.retry_delay, job.retry_backoff) == (4, 0.05, 0.2)
    await wait_for_status(job, {Status.COMPLETE})

    assert job.attempts == 3
    assert job.result == 3
    assert len(CALLS[run_id]) == 3
    # exponential backoff with full jitter, capped at backoff_max (0.2 s) plus scheduler ticks (generous: CI load)
    gaps = [b - a for a, b in zip(CALLS[run_id], CALLS[run_id][1:], strict=False)]
    assert all(gap < 1.5 for gap in gaps), gaps
    delays = [Job("x", retry_delay=0.05, retry_backoff=0.2, attempts=n).next_retry_delay() for n in range(1, 10)]
    assert all(0 <= d <= 0.2 for d in delays), delays

    assert outcomes(resources, "default", flaky.name, "retried") == retried_before + 2
    assert outcomes(resources, "default", flaky.name, "complete") == complete_before + 1
    assert durations_observed(resources, "default", flaky.name) == observed_before + 3
    assert await admin_conn.fetchval("SELECT count(*) FROM dead_letter_jobs WHERE job_key = $1", job.key) == 0


async def test_task_that_always_fails_becomes_a_dead_letter(
    make_queues: MakeQueues, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    queues = await make_queues(broken_until_fixed, start=("afip",))
    run_id, org_id = uuid.uuid4().hex, uuid.uuid4()
    failed_before = outcomes(resources, "afip", broken_until_fixed.name, "failed")

    job = await queues.enqueue(broken_until_fixed, org_id=org_id, run_id=run_id, access_token="s3cr3t")
    await wait_for_status(job, {Status.FAILED})
    row = await wait_for_dead_letter(admin_conn, job.key)

    assert job.attempts == 2 and len(CALLS[run_id]) == 2
    assert row["queue"] == "afip"
    assert row["function"] == broken_until_fixed.name
    assert row["org_id"] == org_id
    assert row["attempts"] == 2
    assert row["status"] == "dead"
    assert "ValueError: AFIP answered 500" in row["error"]
    assert row["resolved_at"] is None
    stored_kwargs = msgspec.json.decode(row["kwargs"]) if isinstance(row["kwargs"], str) else row["kwargs"]
    assert stored_kwargs == {"org_id": str(org_id), "run_id": run_id, "access_token": "s3cr3t"}
    assert outcomes(resources, "afip", broken_until_fixed.name, "failed") == failed_before + 1
    # the org's fairness slot was given back
    assert await queues.queues["afip"].org_active_count(str(org_id)) == 0


async def test_retry_from_the_dead_letter_store_runs_it_again(
    make_queues: MakeQueues, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    queues = await make_queues(broken_until_fixed, install=True, start=("afip",))
    run_id = uuid.uuid4().hex
    job = await queues.enqueue(broken_until_fixed, run_id=run_id, access_token="t")
    dead = await wait_for_dead_letter(admin_conn, job.key)

    FIXED.add(run_id)
    row, new_job = await services.retry_dead_letter(resources, dead["id"])
    assert row.status is DeadLetterStatus.RETRIED and row.resolved_at is not None
    assert new_job.key != job.key
    assert new_job.meta == {"retry_of": str(dead["id"])}
    await wait_for_status(new_job, {Status.COMPLETE})
    assert new_job.result == "ok"
    assert len(CALLS[run_id]) == 3

    stored = await admin_conn.fetchrow("SELECT status, resolved_at FROM dead_letter_jobs WHERE id = $1", dead["id"])
    assert stored["status"] == "retried" and stored["resolved_at"] is not None
    with pytest.raises(AppError) as again:
        await services.retry_dead_letter(resources, dead["id"])
    assert again.value.code is ErrorCode.CONFLICT


async def test_discard_marks_the_dead_letter(
    make_queues: MakeQueues, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    queues = await make_queues(broken_until_fixed, install=True, start=("afip",))
    job = await queues.enqueue(broken_until_fixed, run_id=uuid.uuid4().hex, access_token="t")
    dead = await wait_for_dead_letter(admin_conn, job.key)

    row = await services.discard_dead_letter(resources, dead["id"])
    assert row.status is DeadLetterStatus.DISCARDED and row.resolved_at is not None
    assert await admin_conn.fetchval("SELECT status FROM dead_letter_jobs WHERE id = $1", dead["id"]) == "discarded"

    listed, total = await services.list_dead_letters(resources, status=DeadLetterStatus.DISCARDED, queue="afip")
    assert dead["id"] in {r.id for r in listed} and total >= 1
    with pytest.raises(AppError) as again:
        await services.discard_dead_letter(resources, dead["id"])
    assert again.value.code is ErrorCode.CONFLICT
    with pytest.raises(AppError) as missing:
        await services.discard_dead_letter(resources, uuid.uuid4())
    assert missing.value.code is ErrorCode.DEAD_LETTER_NOT_FOUND


async def test_one_busy_org_does_not_starve_another(make_queues: MakeQueues, resources: Resources) -> None:
    queues = await make_queues(slow, start=("whatsapp",), queue_concurrency=2, queue_org_share=0.5)
    assert queues.org_cap == 1
    run_id, org_a, org_b = uuid.uuid4().hex, str(uuid.uuid4()), str(uuid.uuid4())
    deferred_before = outcomes(resources, "whatsapp", slow.name, "deferred")

    jobs_a = [await queues.enqueue(slow, org_id=org_a, run_id=run_id, label=f"A{i}", seconds=0.1) for i in range(10)]
    job_b = await queues.enqueue(slow, org_id=org_b, run_id=run_id, label="B", seconds=0.1)

    await wait_for_status(job_b, {Status.COMPLETE})
    a_done_before_b = FINISHED[run_id].index("B")
    assert a_done_before_b <= 2, FINISHED[run_id]

    for job in jobs_a:
        await wait_for_status(job, {Status.COMPLETE})
        assert job.attempts == 1  # deferrals do not use attempts
    assert sorted(FINISHED[run_id]) == sorted([f"A{i}" for i in range(10)] + ["B"])
    assert MAX_RUNNING[(run_id, org_a)] == 1
    assert outcomes(resources, "whatsapp", slow.name, "deferred") > deferred_before
    assert await queues.queues["whatsapp"].org_active_count(org_a) == 0


async def test_periodic_tasks_become_cron_jobs_and_run(make_queues: MakeQueues) -> None:
    queues = await make_queues(echo, every_second, start=("payments", "default"))
    worker = queues.workers["payments"]
    (cron_job,) = worker.cron_jobs
    assert isinstance(cron_job, PolicyCronJob)
    assert cron_job.cron == "* * * * * *"
    assert cron_job.function.__qualname__ == every_second.name
    assert cron_job.kwargs == {"run_id": "cron"}
    assert (cron_job.timeout, cron_job.retries, cron_job.retry_delay) == (5, 3, 1.0)
    assert every_second.name in worker.functions
    assert queues.workers["default"].cron_jobs == []

    CALLS["cron"].clear()
    deadline = time.monotonic() + 3
    while not CALLS["cron"]:
        assert time.monotonic() < deadline, "the cron job never ran"
        await asyncio.sleep(0.05)

    registry = TaskRegistry([echo])
    registry.schedule(echo, "*/15 * * * *", {"run_id": "scheduled"})
    (scheduled,) = registry.cron_jobs_for_queue("default")
    assert scheduled.cron == "*/15 * * * *" and scheduled.function.__qualname__ == echo.name
    with pytest.raises(ValueError, match="already"):
        registry.schedule(echo, "0 * * * *")


async def test_worker_process_runs_jobs_until_stopped(settings: Settings, resources: Resources) -> None:
    own = msgspec.structs.replace(settings, queue_prefix=f"tq{uuid.uuid4().hex[:8]}", log_level="WARNING")
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_workers(own, tasks=[echo], stop=stop))
    client = QueueRegistry(own, resources, tasks=[echo])
    try:
        deadline = time.monotonic() + 5
        while (await client.health())["queues"]["default"]["workers"] == 0:
            assert not serving.done(), serving.exception()
            assert time.monotonic() < deadline, "the worker process never registered"
            await asyncio.sleep(0.05)
        job = await client.enqueue(echo, run_id="worker-process")
        await wait_for_status(job, {Status.COMPLETE})
    finally:
        stop.set()
        await asyncio.wait_for(serving, 5)
        await client.close()


def test_cli_status_and_dead_letters(settings: Settings) -> None:
    from click.testing import CliRunner

    from server.cli import main

    env = {
        "DATABASE_URL": settings.database_url or "",
        "CAMPOTECH_APP_DATABASE_URL": settings.app_database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "CAMPOTECH_QUEUE_PREFIX": f"tq{uuid.uuid4().hex[:8]}",
        "CAMPOTECH_LOG_LEVEL": "WARNING",
    }
    dead_id = asyncio.run(_insert_dead_letter(settings.database_url or ""))
    runner = CliRunner()

    status = runner.invoke(main, ["queue", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "afip" in status.output and "whatsapp" in status.output

    listed = runner.invoke(main, ["queue", "dead-letters", "list", "--status", "all", "--limit", "200"], env=env)
    assert listed.exit_code == 0, listed.output
    assert str(dead_id)[:8] in listed.output

    retried = runner.invoke(main, ["queue", "dead-letters", "retry", str(dead_id)], env=env)
    assert retried.exit_code == 0, retried.output
    assert "retried as job" in retried.output
    discarded = runner.invoke(main, ["queue", "dead-letters", "discard", str(dead_id)], env=env)
    assert discarded.exit_code == 1 and "conflict" in discarded.output
    missing = runner.invoke(main, ["queue", "dead-letters", "discard", str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1 and "dead_letter_not_found" in missing.output


async def _insert_dead_letter(database_url: str) -> uuid.UUID:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "INSERT INTO dead_letter_jobs (id, queue, function, job_key, kwargs, error, attempts, status, failed_at,"
            " created_at, updated_at) VALUES ($1, 'default', 'tests.cli.fake', 'k', '{}', 'boom', 3, 'dead', now(),"
            " now(), now()) RETURNING id",
            uuid.uuid4(),
        )
    finally:
        await conn.close()


async def test_an_app_with_queues_of_its_own_uses_them_and_gives_the_shared_ones_back(
    settings: Settings, resources: Resources
) -> None:
    """Tests run several apps on one ``Resources``: an app with its own queue prefix runs its workers on its own
    queues (it never sweeps, waiting seconds each, the jobs other apps left active) and the shared ones are
    back after it."""
    import secrets

    from server.asgi import create_app
    from tests.conftest import running

    if resources.queues is None:
        resources.queues = QueueRegistry(settings, resources)
    shared = resources.queues
    own = msgspec.structs.replace(settings, queue_prefix=f"t{secrets.token_hex(6)}", worker_in_process=True)
    async with running(create_app(own, resources)):
        assert resources.queues is not shared
        assert {q.name for q in resources.queues.queues.values()} == {f"{own.queue_prefix}:{n}" for n in QUEUE_NAMES}
        assert set(resources.queues.workers) == set(QUEUE_NAMES)
    assert resources.queues is shared
