"""`campotech audit verify`: walk every organisation's hash chain and report the first broken link."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import rich_click as click

from server.cli_support import open_resources, settings_or_exit
from server.db.engine import tenant_transaction
from server.domain.audit.services import verify_chain
from server.settings import plain_pg_url


@click.group("audit")
def audit_cli() -> None:
    """The audit log."""


@audit_cli.command("verify")
@click.option("--org", "org_id", type=click.UUID, default=None, help="Only this organisation.")
def verify(org_id: uuid.UUID | None) -> None:
    """Verify the hash chain of one organisation or of all (listing all needs the owner, DATABASE_URL)."""
    settings = settings_or_exit()

    async def run() -> int:
        if org_id is not None:
            orgs = [(org_id, str(org_id))]
        else:
            conn = await asyncpg.connect(plain_pg_url(settings.require_database_url()))
            try:
                orgs = [
                    (r["id"], r["name"]) for r in await conn.fetch("SELECT id, name FROM organizations ORDER BY name")
                ]
            finally:
                await conn.close()
        broken = 0
        async with open_resources(settings) as resources:
            for oid, name in orgs:
                async with tenant_transaction(resources.sessionmaker, oid) as session:
                    report = await verify_chain(session, oid)
                if report.ok:
                    click.echo(f"ok      {name}: {report.checked} entries")
                else:
                    broken += 1
                    click.echo(
                        f"BROKEN  {name}: first broken link at seq {report.broken_seq} "
                        f"(entry {report.broken_entry_id}, {report.reason}) after {report.checked} entries"
                    )
        return broken

    if asyncio.run(run()):
        raise SystemExit(1)
