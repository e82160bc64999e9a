"""One process's way to AFIP: the WSAA and WSFEv1 clients (addresses from settings) and the tickets.

``gateway_for(resources)`` builds it once per process (kept in ``resources.extras``). ``auth(org_id)``
gives the ``Auth`` (token, sign, CUIT) for an organisation: its certificate and key come from the
organisation's AFIP credentials (key decrypted with the AFIP data key), its ticket from the encrypted
ticket store, and ``loginCms`` is called only when no stored ticket is valid long enough.
"""

from __future__ import annotations

import datetime
import uuid
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.domain.afip_credentials.services import SigningMaterialUnavailable, load_signing_material
from server.domain.afip_credentials.tickets import DbTicketStore
from server.integrations.afip.errors import AfipPermanentError
from server.integrations.afip.padron import PadronClient
from server.integrations.afip.wsaa import Ticket, WsaaClient, get_ticket
from server.integrations.afip.wsfe import Auth, WsfeClient
from server.lib.keys import keyring_for

if TYPE_CHECKING:
    from server.runtime import Resources

EXTRAS_KEY = "afip_gateway"
WSFE_SERVICE = "wsfe"
PADRON_SERVICE = "ws_sr_constancia_inscripcion"
LOGIN_LOCK_SECONDS = 60
TICKET_MARGIN = datetime.timedelta(minutes=10)  # as get_ticket: never use a ticket closer than this to expiry


class AfipNotConfigured(AfipPermanentError):
    """The organisation has no active AFIP certificate yet."""


class AfipGateway:
    def __init__(self, resources: Resources) -> None:
        settings = resources.settings
        self.resources = resources
        self.wsaa = WsaaClient(settings.afip_wsaa_url, timeout=settings.afip_timeout_seconds)
        self.wsfe = WsfeClient(settings.afip_wsfe_url, timeout=settings.afip_timeout_seconds)
        self.padron = PadronClient(settings.afip_padron_url, timeout=settings.afip_timeout_seconds)
        self._current: dict[tuple[uuid.UUID, str], tuple[str, Ticket]] = {}  # (org, service) → (CUIT, ticket)
        self._rejected: dict[tuple[uuid.UUID, str], Ticket] = {}

    async def auth(self, org_id: uuid.UUID, service: str = WSFE_SERVICE) -> Auth:
        cached = self._current.get((org_id, service))
        if cached is not None and cached[1].expires_at - utcnow() > TICKET_MARGIN:
            # the ticket this process stored or read last: valid for a while yet, no database round trip
            return Auth(token=cached[1].token, sign=cached[1].sign, cuit=cached[0])
        resources = self.resources
        keys = keyring_for(resources)
        try:
            async with tenant_transaction(resources.sessionmaker, org_id) as session:
                cuit, cert_pem, key_pem = await load_signing_material(session, org_id, keys)
        except SigningMaterialUnavailable as exc:
            raise AfipNotConfigured(
                "the organization has no usable AFIP certificate",
                code=str(exc.code),
                hint=exc.message,
            ) from None
        store = DbTicketStore(resources.sessionmaker, org_id, keys)
        ticket = await get_ticket(
            self.wsaa,
            store,
            cuit=cuit,
            service=service,
            cert_pem=cert_pem,
            key_pem=key_pem,
            lock=self._login_lock,
            invalid=self._rejected.pop((org_id, service), None),
        )
        self._current[(org_id, service)] = (cuit, ticket)
        return Auth(token=ticket.token, sign=ticket.sign, cuit=cuit)

    async def renew_ticket(self, org_id: uuid.UUID, service: str = WSFE_SERVICE) -> None:
        """AFIP refused our ticket (WSFE 600): the next ``auth`` logs in again instead of reusing it."""
        cached = self._current.pop((org_id, service), None)
        if cached is not None:
            self._rejected[(org_id, service)] = cached[1]

    def _login_lock(self, cuit: str, service: str) -> AbstractAsyncContextManager[Any]:
        """One loginCms per CUIT and service across processes (AFIP refuses a second live ticket)."""
        return self.resources.redis.lock(  # type: ignore[return-value]
            f"campotech:afip:wsaa:{cuit}:{service}", timeout=LOGIN_LOCK_SECONDS, sleep=0.05, blocking_timeout=None
        )

    async def aclose(self) -> None:
        for client in (self.wsaa, self.wsfe, self.padron):
            await client.aclose()


def gateway_for(resources: Resources) -> AfipGateway:
    gateway = resources.extras.get(EXTRAS_KEY)
    if gateway is None:
        gateway = resources.extras[EXTRAS_KEY] = AfipGateway(resources)
    return gateway  # type: ignore[no-any-return]
