"""WSAA access tickets kept in PostgreSQL, token and sign sealed with the AFIP data key.

``server/integrations/afip/wsaa.py`` asks a ``TicketStore`` before calling loginCms (AFIP answers
``coe.alreadyAuthenticated`` while a ticket is live, so one must never be lost). ``Ticket`` and
``TicketStore`` are defined here because wsaa.py did not exist yet; once it does, one of the two
modules should import them from the other.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.db.models import AfipTicket
from server.db.models.keys import KeyPurpose
from server.integrations.afip.wsaa import Ticket, TicketStore
from server.lib.keys import KeyRing, aad_for
from shared.ids import new_id

__all__ = ["DbTicketStore", "Ticket", "TicketStore"]


class DbTicketStore:
    """One organisation's tickets (``afip_tickets``, one per CUIT and service), each in its own transaction.

    ``load`` returns the stored ticket whether or not it is still valid (the caller compares
    ``expires_at``); ``save`` replaces the previous one. Token and sign are sealed, each bound to the
    organisation, CUIT, service and column, so a ticket copied to another row does not open.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID, keys: KeyRing) -> None:
        self._sessionmaker = sessionmaker
        self._org_id = org_id
        self._keys = keys

    def _aad(self, column: str, cuit: str, service: str) -> bytes:
        return aad_for(f"afip_tickets.{column}", self._org_id, cuit, service)

    async def load(self, cuit: str, service: str) -> Ticket | None:
        async with tenant_transaction(self._sessionmaker, self._org_id) as session:
            row = (
                await session.execute(
                    select(AfipTicket).where(
                        AfipTicket.org_id == self._org_id, AfipTicket.cuit == cuit, AfipTicket.service == service
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            return None
        token = await self._keys.decrypt_text(KeyPurpose.AFIP, row.token_encrypted, self._aad("token", cuit, service))
        sign = await self._keys.decrypt_text(KeyPurpose.AFIP, row.sign_encrypted, self._aad("sign", cuit, service))
        return Ticket(
            token=token.decode(), sign=sign.decode(), generated_at=row.generated_at, expires_at=row.expires_at
        )

    async def save(self, cuit: str, service: str, ticket: Ticket) -> None:
        token = await self._keys.encrypt_text(KeyPurpose.AFIP, ticket.token, self._aad("token", cuit, service))
        sign = await self._keys.encrypt_text(KeyPurpose.AFIP, ticket.sign, self._aad("sign", cuit, service))
        now = utcnow()
        statement = pg_insert(AfipTicket).values(
            id=new_id(),
            org_id=self._org_id,
            cuit=cuit,
            service=service,
            token_encrypted=token,
            sign_encrypted=sign,
            generated_at=ticket.generated_at,
            expires_at=ticket.expires_at,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            constraint="uq_afip_tickets_org_cuit_service",
            set_={
                "token_encrypted": statement.excluded.token_encrypted,
                "sign_encrypted": statement.excluded.sign_encrypted,
                "generated_at": statement.excluded.generated_at,
                "expires_at": statement.excluded.expires_at,
                "updated_at": now,
            },
        )
        async with tenant_transaction(self._sessionmaker, self._org_id) as session:
            await session.execute(statement)
