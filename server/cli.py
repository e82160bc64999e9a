"""The `campotech` command: everything an admin does from a terminal."""

from __future__ import annotations

import asyncio
import sys

import rich_click as click

from server.settings import SettingsError, load_settings


@click.group()
def main() -> None:
    """CampoTech: field-service management for trades businesses in Argentina."""


@main.group()
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


def _settings():  # noqa: ANN202
    try:
        return load_settings()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


# Command groups of other modules are attached below, one line each.
