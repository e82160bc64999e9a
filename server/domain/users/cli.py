"""`campotech user add`: a member of an organisation, from a terminal."""

from __future__ import annotations

import asyncio
import uuid

import rich_click as click

from server.cli_support import open_resources, settings_or_exit
from server.db.engine import tenant_transaction
from server.db.models import User
from server.domain.audit.services import record as audit
from server.domain.auth.otp import normalize_login_phone
from server.lib.errors import AppError
from shared.roles import Role


@click.group("user")
def user_cli() -> None:
    """Members of organisations."""


@user_cli.command("add")
@click.option("--org", "org_id", required=True, type=click.UUID, help="Organisation id.")
@click.option("--phone", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
def add(org_id: uuid.UUID, phone: str, full_name: str, role: str) -> None:
    """Add a member; they sign in with a code sent to their phone."""
    try:
        phone = normalize_login_phone(phone)
    except AppError as exc:
        raise click.BadParameter(exc.message, param_hint="--phone") from None
    settings = settings_or_exit()

    async def run() -> None:
        async with open_resources(settings) as resources:
            from server.domain.auth.deps import build_auth_service

            if await build_auth_service(resources).find_user_by_phone(phone) is not None:
                raise click.ClickException("that phone already belongs to a CampoTech user")
            async with tenant_transaction(resources.sessionmaker, org_id) as session:
                from server.db.models import Organization

                if await session.get(Organization, org_id) is None:
                    raise click.ClickException(f"no organisation {org_id}")
                user = User(org_id=org_id, phone=phone, full_name=full_name, role=Role(role), is_active=True)
                session.add(user)
                await session.flush()
                await audit(
                    session,
                    org_id=org_id,
                    actor_id=None,
                    action="user.invited",
                    entity_type="user",
                    entity_id=user.id,
                    before=None,
                    after={"role": role, "fullName": full_name},
                    trace_id="cli",
                )
            click.echo(f"{full_name} ({role}) added: {user.id}; sign in with {phone}")

    asyncio.run(run())
