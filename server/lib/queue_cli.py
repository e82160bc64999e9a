"""``campotech queue``: queue depth, the worker process, and dead letters (list, retry, discard)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import rich_click as click
from rich.console import Console
from rich.table import Table

from server.lib.errors import AppError
from server.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

STATUS_CHOICES = ("dead", "retried", "discarded", "all")


@click.group("queue")
def queue_cli() -> None:
    """Task queues: depth, the worker process and dead letters."""


@queue_cli.command("status")
def queue_status() -> None:
    """Jobs queued, active and scheduled, and live workers, per queue."""
    from server.lib.queue import QueueRegistry

    async def status(resources: Any) -> dict[str, Any]:
        return (await QueueRegistry(resources.settings, resources, tasks=[]).health())["queues"]

    queues = run_with_resources(status)
    table = Table("queue", "queued", "active", "scheduled", "workers", "ok")
    for name, info in queues.items():
        table.add_row(
            name,
            *(str(info.get(k, "-")) for k in ("queued", "active", "scheduled", "workers")),
            "yes" if info.get("ok") else f"no ({info.get('error')})",
        )
    Console().print(table)


@queue_cli.command("worker")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics of the worker on this port.")
def queue_worker(metrics_port: int | None) -> None:
    """Run the workers of every queue in this process until Ctrl-C / SIGTERM (production)."""
    from server.lib.queue import run_workers

    run_workers(load_cli_settings(), metrics_port=metrics_port)


@queue_cli.group("dead-letters")
def dead_letters() -> None:
    """Tasks that exhausted their attempts."""


@dead_letters.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="dead", show_default=True)
@click.option("--queue", default=None, help="Only this queue.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
def dead_letters_list(status: str, queue: str | None, limit: int, offset: int) -> None:
    """List dead letters, most recent first."""
    from server.db.models.dead_letter import DeadLetterStatus
    from server.domain.admin import services

    wanted = None if status == "all" else DeadLetterStatus(status)

    async def page(resources: Any) -> tuple[list[Any], int]:
        return await services.list_dead_letters(resources, status=wanted, queue=queue, limit=limit, offset=offset)

    rows, total = run_with_resources(page)
    table = Table(title=f"{total} in all")
    table.add_column("id", no_wrap=True)
    for column in ("failed at", "queue", "task", "org", "attempts", "status", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.queue,
            row.function,
            str(row.org_id or "-"),
            str(row.attempts),
            row.status.value,
            last_line(row.error),
        )
    Console().print(table)


@dead_letters.command("retry")
@click.argument("dead_letter_id", type=click.UUID)
def dead_letters_retry(dead_letter_id: uuid.UUID) -> None:
    """Enqueue a dead letter's task again with the same kwargs."""
    from server.domain.admin import services
    from server.lib.queue import QueueRegistry

    async def retry(resources: Any) -> str:
        resources.queues = QueueRegistry(resources.settings, resources)
        _, job = await services.retry_dead_letter(resources, dead_letter_id)
        return str(job.key)

    job_key = run_with_resources(retry)
    click.echo(f"dead letter {dead_letter_id} retried as job {job_key}")


@dead_letters.command("discard")
@click.argument("dead_letter_id", type=click.UUID)
def dead_letters_discard(dead_letter_id: uuid.UUID) -> None:
    """Mark a dead letter as not to be retried."""
    from server.domain.admin import services

    async def discard(resources: Any) -> None:
        await services.discard_dead_letter(resources, dead_letter_id)

    run_with_resources(discard)
    click.echo(f"dead letter {dead_letter_id} discarded")


def load_cli_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def run_with_resources(action: Callable[[Any], Awaitable[T]]) -> T:
    """Open Resources (as the application role), run ``action`` with them, close them."""
    from server.runtime import Resources

    settings = load_cli_settings()

    async def main() -> T:
        resources = await Resources.open(settings)
        try:
            return await action(resources)
        finally:
            await resources.close()

    try:
        return asyncio.run(main())
    except AppError as exc:
        click.echo(f"{exc.code.value}: {exc.message}", err=True)
        sys.exit(1)


def last_line(text: str | None, width: int = 80) -> str:
    if not text:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:width] if lines else ""
