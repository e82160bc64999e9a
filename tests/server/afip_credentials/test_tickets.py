"""The WSAA ticket store: one ticket per organisation, CUIT and service, sealed at rest, kept across restarts."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from server.domain.afip_credentials.tickets import DbTicketStore, Ticket, TicketStore
from server.lib.keys import DecryptionFailed, KeyRing
from server.runtime import Resources

MakeOrg = Callable[..., Awaitable[uuid.UUID]]
CUIT = "20267565393"
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
TOKEN = "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiIHN0YW5kYWxvbmU9InllcyI/Pgo8c3NvIHZlcnNpb249IjIuMCI+"
SIGN = "Yw+nOfWWlEtG1Rq0vJ9mZ8kgGvz3E6k0VZw0nXQe1D0="


def _ticket(token: str = TOKEN, sign: str = SIGN, hours: int = 12) -> Ticket:
    return Ticket(token=token, sign=sign, generated_at=NOW, expires_at=NOW + datetime.timedelta(hours=hours))


async def test_round_trip_and_replacement(resources: Resources, keys: KeyRing, make_org: MakeOrg) -> None:
    org = await make_org("Electricidad Norte")
    store: TicketStore = DbTicketStore(resources.sessionmaker, org, keys)
    assert await store.load(CUIT, "wsfe") is None

    await store.save(CUIT, "wsfe", _ticket())
    # a restarted process (new store, new key ring cache) finds it
    restarted = DbTicketStore(resources.sessionmaker, org, KeyRing(resources.sessionmaker, keys.provider))
    assert await restarted.load(CUIT, "wsfe") == _ticket()
    assert await store.load(CUIT, "ws_sr_constancia_inscripcion") is None  # per service

    newer = Ticket(token="token-2", sign="sign-2", generated_at=NOW, expires_at=NOW + datetime.timedelta(hours=24))
    await store.save(CUIT, "wsfe", newer)
    assert await store.load(CUIT, "wsfe") == newer


async def test_tickets_are_encrypted_at_rest(
    resources: Resources, keys: KeyRing, make_org: MakeOrg, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org()
    await DbTicketStore(resources.sessionmaker, org, keys).save(CUIT, "wsfe", _ticket())
    row = await admin_conn.fetchrow("SELECT * FROM afip_tickets WHERE org_id = $1", org)
    assert row is not None
    stored = str(dict(row))
    assert TOKEN not in stored and TOKEN[:24] not in stored and SIGN not in stored and SIGN[:16] not in stored
    assert row["expires_at"] == NOW + datetime.timedelta(hours=12)  # the expiry stays readable for the client


async def test_another_organisation_neither_sees_nor_opens_the_ticket(
    resources: Resources, keys: KeyRing, make_org: MakeOrg, admin_conn: asyncpg.Connection
) -> None:
    org_a, org_b = await make_org("A"), await make_org("B")
    await DbTicketStore(resources.sessionmaker, org_a, keys).save(CUIT, "wsfe", _ticket())
    store_b = DbTicketStore(resources.sessionmaker, org_b, keys)
    assert await store_b.load(CUIT, "wsfe") is None  # row-level security

    # B's own row given A's sealed token and sign (direct database access): they do not open for B
    await store_b.save(CUIT, "wsfe", _ticket(token="token-b", sign="sign-b"))
    await admin_conn.execute(
        "UPDATE afip_tickets AS b SET token_encrypted = a.token_encrypted, sign_encrypted = a.sign_encrypted "
        "FROM afip_tickets AS a WHERE a.org_id = $1 AND b.org_id = $2",
        org_a,
        org_b,
    )
    with pytest.raises(DecryptionFailed):
        await store_b.load(CUIT, "wsfe")


async def test_a_sealed_token_moved_to_another_service_does_not_open(
    resources: Resources, keys: KeyRing, make_org: MakeOrg, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org()
    store = DbTicketStore(resources.sessionmaker, org, keys)
    await store.save(CUIT, "wsfe", _ticket())
    await store.save(CUIT, "ws_sr_constancia_inscripcion", _ticket(token="padron", sign="padron-sign"))
    await admin_conn.execute(
        "UPDATE afip_tickets SET token_encrypted = (SELECT token_encrypted FROM afip_tickets "
        "WHERE org_id = $1 AND service = 'wsfe') WHERE org_id = $1 AND service = 'ws_sr_constancia_inscripcion'",
        org,
    )
    assert await store.load(CUIT, "wsfe") == _ticket()
    with pytest.raises(DecryptionFailed):
        await store.load(CUIT, "ws_sr_constancia_inscripcion")
