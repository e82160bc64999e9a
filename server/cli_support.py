"""Helpers shared by the `campotech` subcommands."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import rich_click as click

from server.runtime import Resources
from server.settings import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """The same connections the API uses (the application role, under row-level security)."""
    if not settings.database_url and not settings.app_database_url:
        raise click.ClickException("set DATABASE_URL (or run inside `campotech dev`, which sets it)")
    resources = await Resources.open(settings)
    try:
        yield resources
    finally:
        await resources.close()
