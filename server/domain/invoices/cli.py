"""`campotech afip check --org <CUIT or id>`: can this organisation invoice with AFIP right now?

In order, stopping at the first failure: FEDummy (AFIP's app/db/auth servers), the organisation's
certificate (days to expiry), a WSAA ticket (the stored one while valid, else a new one; only its expiry
is shown, never the token or sign), and FECompUltimoAutorizado for every (point of sale, receipt type)
the organisation uses, or 1/6/11 (Factura A/B/C) on its default point of sale when it has issued nothing,
beside the last number our database holds. Exit code 0 when all is well, 1 when a check failed (the
message says what to do), 2 for configuration errors. Run it inside another terminal while
`campotech dev` runs and it uses that instance's database and AFIP sandbox.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import rich_click as click
from sqlalchemy import func, select, text

from server.cli_support import settings_or_exit
from server.db.engine import tenant_transaction
from server.db.models import AfipCredential, AfipCredentialStatus, Invoice, Organization
from server.db.models.afip import AfipSequence
from server.domain.afip_credentials.certificates import days_until
from server.domain.afip_credentials.services import effective_status
from server.domain.afip_credentials.tickets import DbTicketStore
from server.domain.invoices.afip_gateway import WSFE_SERVICE, AfipGateway
from server.domain.invoices.issuing import TICKET_REJECTED_CODE
from server.integrations.afip.errors import AfipError
from server.integrations.afip.wsfe import Auth, mask_cuit
from server.lib.keys import keyring_for
from server.runtime import Resources
from server.settings import Settings, SettingsError
from shared.fiscal.afip_codes import RECEIPT_TYPE_DESCRIPTIONS
from shared.fiscal.cuit import InvalidCuit, format_cuit, normalize_cuit

DEFAULT_RECEIPT_TYPES = (1, 6, 11)  # Factura A, B, C
CERTIFICATE_WARNING_DAYS = 30


class CheckFailed(Exception):
    """A check did not pass; the message says what to do."""


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    name: str
    cuit: str
    default_point_of_sale: int | None


async def find_organization(resources: Resources, ref: str) -> Org:
    """By id (UUID) or CUIT (with or without dashes), read under row-level security like sign-up does."""
    org_id: uuid.UUID | None = None
    cuit: str | None = None
    try:
        org_id = uuid.UUID(ref.strip())
    except ValueError:
        try:
            cuit = normalize_cuit(ref)
        except InvalidCuit:
            raise CheckFailed(f"--org {ref!r} is neither an organisation id nor a valid CUIT") from None
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        if cuit is not None:
            await session.execute(text("SELECT set_config('app.signup_cuit', :c, true)"), {"c": cuit})
            org = (await session.execute(select(Organization).where(Organization.cuit == cuit))).scalar_one_or_none()
        else:
            org = await session.get(Organization, org_id)
        if org is None:
            raise CheckFailed(f"no organisation {ref!r} in this database (is DATABASE_URL the right one?)")
        return Org(org.id, org.name, org.cuit, org.default_point_of_sale)


async def sequences_in_use(resources: Resources, org: Org) -> dict[tuple[int, int], int]:
    """(point of sale, receipt type) → the last number our database holds; the defaults when none is in use."""
    async with tenant_transaction(resources.sessionmaker, org.id) as session:
        ours: dict[tuple[int, int], int] = {}
        rows = await session.execute(
            select(Invoice.point_of_sale, Invoice.receipt_type, func.max(Invoice.number))
            .where(Invoice.point_of_sale.is_not(None), Invoice.receipt_type.is_not(None))
            .group_by(Invoice.point_of_sale, Invoice.receipt_type)
        )
        for pos, kind, number in rows:
            ours[(int(pos), int(kind))] = int(number or 0)
        for seq in await session.scalars(select(AfipSequence)):
            key = (int(seq.point_of_sale), int(seq.receipt_type))
            ours[key] = max(ours.get(key, 0), int(seq.last_number))
    if not ours:
        pos = org.default_point_of_sale or 1
        ours = {(pos, kind): 0 for kind in DEFAULT_RECEIPT_TYPES}
    return dict(sorted(ours.items()))


async def certificate_days(resources: Resources, org: Org) -> tuple[int, datetime.datetime]:
    async with tenant_transaction(resources.sessionmaker, org.id) as session:
        credential = (
            await session.execute(select(AfipCredential).where(AfipCredential.status == AfipCredentialStatus.ACTIVE))
        ).scalar_one_or_none()
    if credential is None or credential.not_after is None:
        raise CheckFailed(
            "the organisation has no active AFIP certificate: generate the key and CSR "
            "(POST /api/v1/afip/credentials), have AFIP sign the CSR, and upload the certificate "
            "(POST /api/v1/afip/credentials/{id}/certificate)"
        )
    days = days_until(credential.not_after)
    assert days is not None
    if effective_status(credential) is AfipCredentialStatus.EXPIRED:
        raise CheckFailed(
            f"the AFIP certificate expired on {credential.not_after:%Y-%m-%d}: request a new one "
            "(POST /api/v1/afip/credentials) and upload what AFIP signs"
        )
    return days, credential.not_after


def _afip_problem(what: str, exc: AfipError) -> CheckFailed:
    parts = [f"{what} failed ({exc.kind}"]
    if exc.code is not None:
        parts.append(f", AFIP code {exc.code}")
    parts.append(f"): {exc.hint or exc.afip_message or exc}")
    if exc.transient:
        parts.append(" — AFIP or the network may be down; try again in a few minutes")
    return CheckFailed("".join(parts))


async def check_afip(settings: Settings, ref: str, say: Callable[[str], None]) -> int:
    """Run every check for organisation ``ref``; prints with ``say``; returns the exit code (0 or 1)."""
    resources = await Resources.open(settings)
    gateway = AfipGateway(resources)
    try:
        org = await find_organization(resources, ref)
        say(f"organisation  {org.name} (CUIT {format_cuit(org.cuit)})")
        say(f"AFIP          {settings.afip_wsfe_url}")
        dummy = await gateway.wsfe.dummy()
        say(f"FEDummy       app {dummy.app_server}, db {dummy.db_server}, auth {dummy.auth_server}")
        if not dummy.ok:
            raise CheckFailed("AFIP answers but reports a server down (FEDummy): try again later")
        days, not_after = await certificate_days(resources, org)
        warning = (
            f"  — renew it soon (less than {CERTIFICATE_WARNING_DAYS} days)" if days < CERTIFICATE_WARNING_DAYS else ""
        )
        say(f"certificate   active, expires {not_after:%Y-%m-%d} (in {days} days){warning}")
        store = DbTicketStore(resources.sessionmaker, org.id, keyring_for(resources))
        before = await store.load(org.cuit, WSFE_SERVICE)
        auth = await _auth(gateway, org)
        sequences = await sequences_in_use(resources, org)
        try:
            first_pos, first_kind = next(iter(sequences))
            last = {(first_pos, first_kind): await gateway.wsfe.last_authorized(auth, first_pos, first_kind)}
        except AfipError as exc:
            if exc.code != TICKET_REJECTED_CODE:
                raise
            await gateway.renew_ticket(org.id)  # AFIP forgot our stored ticket: log in once more
            auth = await _auth(gateway, org)
            last = {(first_pos, first_kind): await gateway.wsfe.last_authorized(auth, first_pos, first_kind)}
        ticket = await store.load(org.cuit, WSFE_SERVICE)
        assert ticket is not None  # get_ticket stores a ticket before handing it out
        reused = before is not None and before.token == ticket.token
        say(
            f"ticket        {'reused' if reused else 'obtained'} (wsfe, CUIT {mask_cuit(org.cuit)}), "
            f"valid until {ticket.expires_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"
        )
        for pos, kind in list(sequences)[1:]:
            last[(pos, kind)] = await gateway.wsfe.last_authorized(auth, pos, kind)
        behind = []
        for (pos, kind), number in last.items():
            ours = sequences[(pos, kind)]
            name = RECEIPT_TYPE_DESCRIPTIONS.get(kind, f"type {kind}")
            note = ""
            if number < ours:
                behind.append(f"{pos:04d} {name}")
                note = f"  — AFIP does not know our numbers up to {ours}"
            elif number > ours:
                note = f"  (ours {ours}: issued elsewhere too)"
            say(f"last number   point of sale {pos:04d}, {name} ({kind}): {number}{note}")
        if behind:
            raise CheckFailed(
                "AFIP's last numbers are behind this database for "
                + ", ".join(behind)
                + ": are DATABASE_URL and the AFIP addresses of the same environment (homologation vs production)? "
                "In `campotech dev`, `campotech dev --reset` starts the database and the AFIP sandbox clean."
            )
        say("ok            this organisation can invoice with AFIP")
        return 0
    except CheckFailed as exc:
        say(f"FAILED        {exc}")
        return 1
    except AfipError as exc:
        say(f"FAILED        {_afip_problem('AFIP', exc)}")
        return 1
    finally:
        await gateway.aclose()
        await resources.close()


async def _auth(gateway: AfipGateway, org: Org) -> Auth:
    try:
        return await gateway.auth(org.id)
    except AfipError as exc:
        raise _afip_problem("WSAA login", exc) from None


@click.group("afip")
def afip_cli() -> None:
    """AFIP: check that an organisation can invoice."""


@afip_cli.command("check")
@click.option("--org", "ref", required=True, help="The organisation: its CUIT (30-71234567-1) or its id.")
def check(ref: str) -> None:
    """FEDummy, certificate expiry, WSAA ticket and the last authorised numbers, for one organisation."""
    from server.dev import with_running_dev

    settings, note = with_running_dev(settings_or_exit(), os.environ)
    if note:
        click.echo(note)
    if not settings.database_url and not settings.app_database_url:
        click.echo("set DATABASE_URL (or run `campotech dev` in another terminal)", err=True)
        raise SystemExit(2)
    try:
        code = asyncio.run(check_afip(settings, ref, click.echo))
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(code)
