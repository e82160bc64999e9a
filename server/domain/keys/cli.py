"""`campotech keys status | rotate <purpose> | rotate-master`: the envelope-encryption key hierarchy.

Runs as the owner (DATABASE_URL): the application role may not change data keys. No key material is ever
printed, except the new master key that ``rotate-master --generate`` made (once, for the operator to store).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import rich_click as click

from server.cli_support import settings_or_exit
from server.db.engine import create_engine, create_sessionmaker
from server.db.models.keys import KeyPurpose
from server.lib.keys import (
    DEV_MASTER_KEY_FILE,
    KeyRing,
    KeyringError,
    LocalKeyProvider,
    provider_from_settings,
    stage_dev_master_key,
)
from server.settings import Settings, SettingsError

NEW_KEY_ENV = "CAMPOTECH_NEW_MASTER_KEY"


@asynccontextmanager
async def owner_keyring(settings: Settings) -> AsyncIterator[KeyRing]:
    engine = create_engine(settings.require_database_url(), pool_size=1)
    try:
        yield KeyRing(create_sessionmaker(engine), provider_from_settings(settings))
    finally:
        await engine.dispose()


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("keys")
def keys_cli() -> None:
    """Encryption keys: the master key and the data keys (AFIP, Mercado Pago, PII, general)."""


@keys_cli.command("status")
def status() -> None:
    """Every data key version: active or not, which master key wrapped it, whether it unwraps now."""
    settings = settings_or_exit()

    async def run() -> int:
        async with owner_keyring(settings) as ring:
            rows = await ring.status()
            click.echo(f"master key {ring.provider.key_id}")
        if not rows:
            click.echo("no data keys yet (each purpose gets one on first use)")
        for row in rows:
            state = "active" if row.active else "old"
            health = "ok" if row.unwraps else "DOES NOT UNWRAP with this master key"
            click.echo(
                f"{row.purpose.value:<12} v{row.version:<3} {state:<6} {row.created_at:%Y-%m-%d %H:%M} "
                f"wrapped by {row.wrapped_by}  {health}"
            )
        return sum(1 for row in rows if not row.unwraps)

    try:
        broken = asyncio.run(run())
    except (KeyringError, SettingsError) as exc:
        raise _fail(exc) from None
    if broken:
        raise SystemExit(1)


@keys_cli.command("rotate")
@click.argument("purpose", type=click.Choice([p.value for p in KeyPurpose]))
def rotate(purpose: str) -> None:
    """A new version of one data key: new data is sealed with it, old data still opens with the old ones."""
    settings = settings_or_exit()

    async def run() -> int:
        async with owner_keyring(settings) as ring:
            return await ring.rotate_data_key(KeyPurpose(purpose))

    try:
        version = asyncio.run(run())
    except (KeyringError, SettingsError) as exc:
        raise _fail(exc) from None
    click.echo(f"data key {purpose} is now version {version} (running servers pick it up within 5 minutes)")


@keys_cli.command("rotate-master")
@click.option("--generate", is_flag=True, help="Make a new random master key (printed once: store it).")
def rotate_master(generate: bool) -> None:
    """Re-wrap every data key under a new master key (from $CAMPOTECH_NEW_MASTER_KEY, or --generate).

    In development without CAMPOTECH_MASTER_KEY the dev key file in the data folder is replaced too.
    In production, set CAMPOTECH_MASTER_KEY to the new key and restart the servers right after.
    """
    settings = settings_or_exit()
    dev_file = not settings.master_key and not settings.is_production
    new_text = os.environ.get(NEW_KEY_ENV, "").strip()
    if generate or (dev_file and not new_text):
        new_provider, new_text = LocalKeyProvider.generate()
    elif new_text:
        try:
            new_provider = LocalKeyProvider.from_base64(new_text)
        except KeyringError as exc:
            raise click.ClickException(f"{NEW_KEY_ENV}: {exc}") from None
    else:
        raise click.UsageError(f"set {NEW_KEY_ENV} to the new master key (base64 of 32 bytes), or pass --generate")

    async def run() -> int:
        async with owner_keyring(settings) as ring:
            if ring.provider.key_id == new_provider.key_id:
                raise click.ClickException("the new master key is the one in use")
            return await ring.rotate_master(new_provider)

    # in dev the new key is on disk before the data keys depend on it, and replaces the old file after
    staged = stage_dev_master_key(settings.data_dir, new_text) if dev_file else None
    try:
        count = asyncio.run(run())
    except BaseException as exc:
        if staged is not None:
            staged.unlink(missing_ok=True)
        if isinstance(exc, KeyringError | SettingsError):
            raise _fail(exc) from None
        raise
    click.echo(f"{count} data keys re-wrapped under master key {new_provider.key_id}")
    if staged is not None:
        staged.replace(settings.data_dir / DEV_MASTER_KEY_FILE)
        click.echo(f"dev master key file updated in {settings.data_dir}; restart `campotech dev`")
    elif generate:
        click.echo("new CAMPOTECH_MASTER_KEY (store it now, it is not shown again):")
        click.echo(new_text)
        click.echo("set it in the servers' environment and restart them")
    else:
        click.echo("set CAMPOTECH_MASTER_KEY to the new key in the servers' environment and restart them")
