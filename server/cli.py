"""The `campotech` command: everything an admin does from a terminal."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from typing import NoReturn

import rich_click as click

from server.cli_support import settings_or_exit
from server.settings import Settings, SettingsError


class LazyGroup(click.RichGroup):
    """Subcommands of other modules, imported only when used (importing the whole app takes seconds)."""

    lazy_commands: dict[str, str] = {
        "queue": "server.lib.queue_cli:queue_cli",
        "worker": "server.lib.queue_cli:queue_worker",
        "org": "server.domain.organizations.cli:org_cli",
        "user": "server.domain.users.cli:user_cli",
        "seed": "server.domain.demo.cli:seed_cli",
        "audit": "server.domain.audit.cli:audit_cli",
        "keys": "server.domain.keys.cli:keys_cli",
        "afip": "server.domain.invoices.cli:afip_cli",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup)
def main() -> None:
    """CampoTech: field-service management for trades businesses in Argentina."""


@main.group(cls=click.RichGroup)
def db() -> None:
    """Database: migrations and the application role."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (as the owner, DATABASE_URL)."""
    from server.db import migrate
    from server.db.setup import ensure_app_role

    settings = _settings()
    url = settings.require_database_url()
    asyncio.run(ensure_app_role(url, settings.app_db_role, settings.app_db_password))
    migrate.upgrade(url, revision, app_role=settings.app_db_role)
    click.echo(f"database at revision {revision}")


@db.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
def db_downgrade(revision: str) -> None:
    """Revert migrations (default: the last one)."""
    from server.db import migrate

    settings = _settings()
    migrate.downgrade(settings.require_database_url(), revision, app_role=settings.app_db_role)
    click.echo(f"database downgraded to {revision}")


@db.command("setup")
def db_setup() -> None:
    """Create the database if missing, the application role, and migrate to head (DATABASE_URL)."""
    from server.db.setup import database_name
    from server.dev import prepare_database

    settings = _settings()
    url = settings.require_database_url()
    prepare_database(url, settings)
    click.echo(f"database {database_name(url)} ready: role {settings.app_db_role}, migrations at head")


@main.group("dev", cls=click.RichGroup, invoke_without_command=True)
@click.option("--port", type=int, default=None, help="API port (default: CAMPOTECH_PORT or 8000).")
@click.option("--host", default=None, help="Address to bind (default: CAMPOTECH_HOST or 127.0.0.1).")
@click.option("--reset", is_flag=True, help="Delete the embedded PostgreSQL and Redis data first; start clean.")
@click.option("--no-worker", is_flag=True, help="Do not run the queue worker inside the API process.")
@click.pass_context
def dev(ctx: click.Context, port: int | None, host: str | None, reset: bool, no_worker: bool) -> None:
    """Run everything locally: embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set),
    migrations, demo data, and the API with the queue worker. Ctrl-C stops it all.

    `campotech dev api off|on` (in another terminal) stops and starts only the API of the running one."""
    if ctx.invoked_subcommand is not None:
        return
    from server.dev import DevError, DevOptions, run_dev

    try:
        code = run_dev(DevOptions(port=port, host=host, reset=reset, worker=not no_worker))
    except (DevError, SettingsError) as exc:
        click.echo(f"campotech dev: {exc}", err=True)
        sys.exit(2)
    _exit_now(code)


@dev.command("api")
@click.argument("state", type=click.Choice(["off", "on"]))
def dev_api(state: str) -> None:
    """Stop (off) or start (on) the API of the running `campotech dev`; the web client, the sandboxes and the
    databases keep running (try the technician app offline)."""
    from server.dev import DevError, switch_dev_api

    try:
        click.echo(switch_dev_api(state))
    except (DevError, SettingsError) as exc:
        click.echo(f"campotech dev api: {exc}", err=True)
        sys.exit(2)


@main.command("serve")
@click.option("--port", type=int, default=None, help="API port (default: CAMPOTECH_PORT or 8000).")
@click.option("--host", default=None, help="Address to bind (default: CAMPOTECH_HOST or 127.0.0.1).")
@click.option(
    "--workers-in-process/--no-workers-in-process",
    default=None,
    help="Run the queue workers inside the API process (default: CAMPOTECH_WORKER_IN_PROCESS or off).",
)
def serve(port: int | None, host: str | None, workers_in_process: bool | None) -> None:
    """Serve the API on DATABASE_URL and REDIS_URL (production-like; run `campotech db setup` first)."""
    from server.dev import DevError, run_serve

    try:
        code = run_serve(port=port, host=host, worker_in_process=workers_in_process)
    except (DevError, SettingsError) as exc:
        click.echo(f"campotech serve: {exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown: everything `dev` started is stopped and its output flushed.

    Tearing down this many modules costs ~1 s of CPU on a busy 2-core machine, and pgserver's atexit hook
    waits for a machine-wide lock other processes may hold; SIGTERM must finish within 5 s.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _settings() -> Settings:
    return settings_or_exit()
