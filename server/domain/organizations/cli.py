"""`campotech org create`: an organisation and its owner, from a terminal."""

from __future__ import annotations

import asyncio

import rich_click as click

from server.cli_support import open_resources, settings_or_exit
from server.db.engine import tenant_transaction
from server.domain.auth.otp import normalize_login_phone
from server.domain.organizations.services import create_organization_with_owner
from server.lib.errors import AppError
from shared.fiscal.cuit import InvalidCuit, format_cuit, normalize_cuit
from shared.ids import new_id


@click.group("org")
def org_cli() -> None:
    """Organisations."""


@org_cli.command("create")
@click.option("--name", required=True, help="Razón social, e.g. 'Plomería Gómez SRL'.")
@click.option("--cuit", required=True, help="CUIT with or without dashes.")
@click.option("--owner-phone", required=True, help="The owner's mobile; they sign in with a code sent to it.")
@click.option("--owner-name", default="Dueño", show_default=True)
def create(name: str, cuit: str, owner_phone: str, owner_name: str) -> None:
    """Create an organisation and its owner (who signs in with their phone)."""
    try:
        cuit = normalize_cuit(cuit)
        phone = normalize_login_phone(owner_phone)
    except InvalidCuit as exc:
        raise click.BadParameter(str(exc), param_hint="--cuit") from None
    except AppError as exc:
        raise click.BadParameter(exc.message, param_hint="--owner-phone") from None
    settings = settings_or_exit()

    async def run() -> None:
        async with open_resources(settings) as resources:
            from server.domain.auth.deps import build_auth_service

            auth = build_auth_service(resources)
            if await auth.find_user_by_phone(phone) is not None:
                raise click.ClickException("that phone already belongs to a CampoTech user")
            org_id = new_id()
            async with tenant_transaction(resources.sessionmaker, org_id) as session:
                org, owner = await create_organization_with_owner(
                    session,
                    org_id=org_id,
                    owner_id=new_id(),
                    name=name,
                    cuit=cuit,
                    owner_phone=phone,
                    owner_name=owner_name,
                    trace_id="cli",
                    joined=False,
                )
            click.echo(f"organisation {org.name} (CUIT {format_cuit(org.cuit)}) created: {org.id}")
            click.echo(f"owner {owner.full_name}: sign in with {owner.phone}")

    asyncio.run(run())
