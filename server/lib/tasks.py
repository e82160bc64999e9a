"""Queued tasks: the ``@task`` / ``@periodic`` decorators and the registry that feeds each queue's worker.

A task is an async function ``async def fn(ctx, *, org_id: str | None = None, **kwargs)`` decorated
with ``@task(queue=..., retries=..., ...)``; the decorator returns a :class:`TaskSpec` (still callable
like the function). Domains list their specs in ``TASKS``; a :class:`TaskRegistry` built from those
lists gives every queue's worker its functions and cron schedules. ``ctx`` is SAQ's context:
``ctx["job"]`` (the saq Job), ``ctx["resources"]`` (:class:`server.runtime.Resources`) and
``ctx["queues"]`` (the :class:`server.lib.queue.QueueRegistry`).

Retry policy: ``retries`` counts total attempts (SAQ's meaning); between attempts the delay grows
exponentially from ``retry_delay`` up to ``backoff_max`` seconds, with full jitter.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import structlog
from croniter import croniter
from saq.job import CronJob

QUEUE_NAMES = ("afip", "payments", "whatsapp", "voice", "default")

TaskFunction = Callable[..., Awaitable[Any]]

DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_TIMEOUT = 30


class TaskSpec:
    """A registered task: the function, its queue and its retry policy."""

    def __init__(
        self,
        fn: TaskFunction,
        *,
        name: str,
        queue: str,
        retries: int = DEFAULT_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        backoff: bool = True,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        timeout: int = DEFAULT_TIMEOUT,
        cron: str | None = None,
        cron_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"task {name!r} must be an async function")
        if queue not in QUEUE_NAMES:
            raise ValueError(f"task {name!r}: unknown queue {queue!r} (one of {', '.join(QUEUE_NAMES)})")
        if retries < 1:
            raise ValueError(f"task {name!r}: retries counts total attempts and must be at least 1")
        if retry_delay < 0 or backoff_max < 0 or timeout < 0:
            raise ValueError(f"task {name!r}: delays and timeout cannot be negative")
        if cron is not None and not croniter.is_valid(cron):
            raise ValueError(f"task {name!r}: invalid cron expression {cron!r}")
        self.fn = fn
        self.name = name
        self.queue = queue
        self.retries = retries
        self.retry_delay = retry_delay
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.cron = cron
        self.cron_kwargs = cron_kwargs
        self.worker_function = _worker_function(self)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)

    def __call__(self, ctx: Any, **kwargs: Any) -> Awaitable[Any]:
        """Call the function directly (tests, or running a task inline)."""
        return self.fn(ctx, **kwargs)

    def __repr__(self) -> str:
        return f"TaskSpec<{self.name} queue={self.queue} retries={self.retries} timeout={self.timeout}>"

    @property
    def retry_backoff(self) -> bool | float:
        """SAQ's ``retry_backoff``: False (constant delay) or the maximum delay of the exponential backoff."""
        if not self.backoff:
            return False
        return self.backoff_max or True

    def job_policy(self) -> dict[str, Any]:
        """The saq ``Job`` fields carrying this task's retry policy."""
        return {
            "timeout": self.timeout,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
        }


def task(
    fn: TaskFunction | None = None,
    *,
    queue: str = "default",
    name: str | None = None,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    backoff: bool = True,
    backoff_max: float = DEFAULT_BACKOFF_MAX,
    timeout: int = DEFAULT_TIMEOUT,
) -> Any:
    """Declare a queued task: ``@task(queue="afip", retries=5, retry_delay=1.0, backoff_max=60, timeout=30)``.

    ``name`` defaults to ``module.qualname``; it is what is stored in Redis and in dead letters, so
    give long-lived tasks an explicit, stable name.
    """

    def decorate(function: TaskFunction) -> TaskSpec:
        return TaskSpec(
            function,
            name=name or default_task_name(function),
            queue=queue,
            retries=retries,
            retry_delay=retry_delay,
            backoff=backoff,
            backoff_max=backoff_max,
            timeout=timeout,
        )

    return decorate(fn) if fn is not None else decorate


def periodic(
    *,
    cron: str,
    queue: str = "default",
    name: str | None = None,
    kwargs: dict[str, Any] | None = None,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    backoff: bool = True,
    backoff_max: float = DEFAULT_BACKOFF_MAX,
    timeout: int = DEFAULT_TIMEOUT,
) -> Callable[[TaskFunction], TaskSpec]:
    """Declare a task run on a cron schedule: ``@periodic(cron="*/15 * * * *", queue="payments")``.

    Five fields (minute precision) or six (the sixth is seconds). One run per schedule across all
    worker processes (SAQ's unique cron key).
    """

    def decorate(function: TaskFunction) -> TaskSpec:
        return TaskSpec(
            function,
            name=name or default_task_name(function),
            queue=queue,
            retries=retries,
            retry_delay=retry_delay,
            backoff=backoff,
            backoff_max=backoff_max,
            timeout=timeout,
            cron=cron,
            cron_kwargs=kwargs,
        )

    return decorate


def default_task_name(fn: TaskFunction) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@dataclasses.dataclass
class PolicyCronJob(CronJob[Any]):
    """A saq CronJob that also carries the retry delay and backoff (saq passes every field to the Job)."""

    retry_delay: float | None = None
    retry_backoff: bool | float | None = None


@dataclasses.dataclass(frozen=True)
class PeriodicSchedule:
    task: TaskSpec
    cron: str
    kwargs: dict[str, Any] | None = None

    def cron_job(self) -> PolicyCronJob:
        return PolicyCronJob(
            function=self.task.worker_function,
            cron=self.cron,
            unique=True,
            timeout=self.task.timeout,
            retries=self.task.retries,
            kwargs=dict(self.kwargs) if self.kwargs else None,
            retry_delay=self.task.retry_delay,
            retry_backoff=self.task.retry_backoff,
        )


class TaskRegistry:
    """Every task a process knows, by name, and the cron schedules, by queue."""

    def __init__(self, tasks: Iterable[TaskSpec] = ()) -> None:
        self._tasks: dict[str, TaskSpec] = {}
        self._schedules: dict[str, PeriodicSchedule] = {}
        self.add(*tasks)

    def add(self, *specs: TaskSpec) -> None:
        for spec in specs:
            if not isinstance(spec, TaskSpec):
                raise TypeError(f"{spec!r} is not a task: decorate it with @task or @periodic")
            existing = self._tasks.get(spec.name)
            if existing is not None and existing is not spec:
                raise ValueError(f"two different tasks are named {spec.name!r}")
            self._tasks[spec.name] = spec
            if spec.cron is not None and spec.name not in self._schedules:
                self.schedule(spec, spec.cron, spec.cron_kwargs)

    def schedule(self, task_or_name: TaskSpec | str, cron: str, kwargs: dict[str, Any] | None = None) -> None:
        """Run a registered task on a cron schedule (one schedule per task)."""
        spec = task_or_name if isinstance(task_or_name, TaskSpec) else self.get(task_or_name)
        if spec.name not in self._tasks:
            self.add(spec)
        if not croniter.is_valid(cron):
            raise ValueError(f"task {spec.name!r}: invalid cron expression {cron!r}")
        if spec.name in self._schedules:
            raise ValueError(f"task {spec.name!r} already has a cron schedule")
        self._schedules[spec.name] = PeriodicSchedule(spec, cron, kwargs)

    def get(self, task: TaskSpec | str | TaskFunction) -> TaskSpec:
        """The spec of a task given its spec, its name or its undecorated function."""
        if isinstance(task, TaskSpec):
            return task
        if isinstance(task, str):
            try:
                return self._tasks[task]
            except KeyError:
                raise LookupError(f"unknown task {task!r}") from None
        for spec in self._tasks.values():
            if spec.fn is task:
                return spec
        raise LookupError(f"{task!r} is not a registered task")

    def find(self, name: str) -> TaskSpec | None:
        return self._tasks.get(name)

    def for_queue(self, queue: str) -> list[TaskSpec]:
        return [spec for spec in self._tasks.values() if spec.queue == queue]

    def schedules_for_queue(self, queue: str) -> list[PeriodicSchedule]:
        return [s for s in self._schedules.values() if s.task.queue == queue]

    def cron_jobs_for_queue(self, queue: str) -> list[PolicyCronJob]:
        return [s.cron_job() for s in self.schedules_for_queue(queue)]

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(list(self._tasks.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


def domain_tasks() -> TaskRegistry:
    """The tasks every domain declares (``server.domain.TASKS_BY_DOMAIN``, once domains have tasks)."""
    import server.domain as domains

    registry = TaskRegistry()
    for specs in getattr(domains, "TASKS_BY_DOMAIN", {}).values():
        registry.add(*specs)
    return registry


def _worker_function(spec: TaskSpec) -> Callable[..., Awaitable[Any]]:
    """What the saq Worker calls: the task with its job bound into the log context."""

    async def run_task(ctx: Any, **kwargs: Any) -> Any:
        job = ctx.get("job") if isinstance(ctx, dict) else None
        with structlog.contextvars.bound_contextvars(
            task=spec.name,
            queue=spec.queue,
            job_key=getattr(job, "key", None),
            attempt=getattr(job, "attempts", None),
            org_id=kwargs.get("org_id"),
        ):
            return await spec.fn(ctx, **kwargs)

    # saq names worker functions (and cron jobs) by __qualname__
    run_task.__qualname__ = spec.name
    run_task.__name__ = spec.name
    run_task.__doc__ = spec.fn.__doc__
    return run_task
