"""`campotech seed demo`: the demo organisation with a member of every role, with a progress bar."""

from __future__ import annotations

import asyncio

import rich_click as click
from rich.progress import Progress

from server.cli_support import open_resources, settings_or_exit
from server.domain.demo.seed import DEMO_CODE, demo_steps, seed_demo


@click.group("seed")
def seed_cli() -> None:
    """Load data."""


@seed_cli.command("demo")
def demo() -> None:
    """A demo organisation with a member of every role (test phones; code 123456 outside production)."""
    settings = settings_or_exit()

    async def run() -> None:
        async with open_resources(settings) as resources:
            with Progress() as progress:
                task = progress.add_task("Cargando datos de demostración", total=len(demo_steps()))
                summary = await seed_demo(resources, on_step=lambda name: progress.advance(task))
        click.echo(f"demo organisation {summary.describe()}")
        for member in summary.members:
            click.echo(f"  {member.role.value:<11} {member.full_name:<18} {member.phone}")
        click.echo(f"sign in with any of these phones; in development the code is {DEMO_CODE} (CAMPOTECH_TEST_OTP)")

    asyncio.run(run())
