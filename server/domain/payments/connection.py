"""Mercado Pago connect: OAuth (authorisation code with a single-use ``state``), tokens sealed with the
Mercado Pago data key, refresh before expiry, disconnect; and the per-organisation API client.

The ``state`` is 32 random bytes kept in Redis for ten minutes with the organisation and the user who
started the connection (``GETDEL`` on the callback: single use). The callback arrives from the seller's
browser without our access token, so the state is what says whose connection it is.
"""

from __future__ import annotations

import datetime
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.db.models import ConnectionStatus, KeyPurpose, MercadoPagoConnection
from server.domain.audit.services import record
from server.integrations.mercadopago import (
    MercadoPagoClient,
    MercadoPagoError,
    MercadoPagoOAuth,
    MercadoPagoPermanentError,
    TokenSet,
)
from server.lib.errors import AppError
from server.lib.keys import aad_for, keyring_for
from server.lib.logging import get_logger
from shared.capabilities import Capability
from shared.errors import ErrorCode
from shared.schemas import payments as wire

if TYPE_CHECKING:
    from server.runtime import Resources
    from server.settings import Settings

log = get_logger("campotech.payments")

STATE_TTL_SECONDS = 600
STATE_KEY = "mp:oauth:state:{}"
REFRESH_AHEAD = datetime.timedelta(days=30)  # tokens last 180 days: refresh during their last month
CALLBACK_PATH = "/api/v1/payments/mercadopago/callback"
WEBHOOK_PATH = "/webhooks/mercadopago"


def public_base(settings: Settings) -> str:
    return (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def redirect_uri(settings: Settings) -> str:
    return public_base(settings) + CALLBACK_PATH


def notification_url(settings: Settings, org_id: uuid.UUID) -> str:
    """Per-link webhooks: ``?org=`` names the organisation (a hint the worker checks against the account)."""
    return f"{public_base(settings)}{WEBHOOK_PATH}?org={org_id}"


def oauth_for(settings: Settings) -> MercadoPagoOAuth:
    if not settings.mercadopago_client_id or not settings.mercadopago_client_secret:
        raise AppError(ErrorCode.MERCADOPAGO_NOT_CONFIGURED)
    return MercadoPagoOAuth(
        settings.mercadopago_client_id,
        settings.mercadopago_client_secret,
        api_base=settings.mercadopago_api_base,
        auth_base=settings.mercadopago_auth_base,
        timeout=settings.mercadopago_timeout_seconds,
    )


def _aad(column: str, org_id: uuid.UUID) -> bytes:
    return aad_for(f"mercadopago_connections.{column}", org_id)


async def require_enabled(resources: Resources, org_id: uuid.UUID) -> None:
    """503 with the manual-payment hint while Mercado Pago is switched off (platform or organisation)."""
    if not await resources.capabilities.is_enabled(resources.sessionmaker, Capability.MERCADOPAGO, org_id):
        raise AppError(ErrorCode.MERCADOPAGO_UNAVAILABLE, details={"capability": Capability.MERCADOPAGO.value})


# -- connect ----------------------------------------------------------------------------------------


async def start_connect(resources: Resources, org_id: uuid.UUID, user_id: uuid.UUID | None) -> wire.AuthorizationUrl:
    await require_enabled(resources, org_id)
    oauth = oauth_for(resources.settings)
    state = secrets.token_urlsafe(32)
    payload = json.dumps({"org": str(org_id), "user": str(user_id) if user_id else None})
    await resources.redis.set(STATE_KEY.format(state), payload, ex=STATE_TTL_SECONDS)
    url = oauth.authorization_url(state, redirect_uri(resources.settings))
    return wire.AuthorizationUrl(authorization_url=url, expires_in_seconds=STATE_TTL_SECONDS)


async def take_state(resources: Resources, state: str | None) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The organisation and user of a state we issued (single use); 400 otherwise."""
    if not state or len(state) > 200:
        raise AppError(ErrorCode.MERCADOPAGO_STATE_INVALID)
    raw = await resources.redis.getdel(STATE_KEY.format(state))
    if raw is None:
        log.warning("mercadopago oauth callback with an unknown or used state")
        raise AppError(ErrorCode.MERCADOPAGO_STATE_INVALID)
    data = json.loads(raw)
    return uuid.UUID(data["org"]), (uuid.UUID(data["user"]) if data.get("user") else None)


async def finish_connect(resources: Resources, code: str | None, state: str | None) -> wire.MercadoPagoConnection:
    org_id, user_id = await take_state(resources, state)
    if not code:
        raise AppError(ErrorCode.MERCADOPAGO_STATE_INVALID, "Mercado Pago no devolvió la autorización. Probá de nuevo.")
    oauth = oauth_for(resources.settings)
    try:
        tokens = await oauth.exchange_code(code, redirect_uri(resources.settings))
    except MercadoPagoPermanentError:
        raise AppError(
            ErrorCode.MERCADOPAGO_REJECTED,
            "Mercado Pago no aceptó la autorización (venció o ya se usó). Volvé a iniciar la conexión.",
        ) from None
    except MercadoPagoError:
        raise AppError(ErrorCode.MERCADOPAGO_UNAVAILABLE) from None
    await store_tokens(resources, org_id, tokens, connected_by=user_id, action="mercadopago.connected")
    return await connection_status(resources, org_id)


async def store_tokens(
    resources: Resources,
    org_id: uuid.UUID,
    tokens: TokenSet,
    *,
    connected_by: uuid.UUID | None,
    action: str,
) -> None:
    keys = keyring_for(resources)
    access = await keys.encrypt_text(KeyPurpose.MERCADOPAGO, tokens.access_token, _aad("access_token", org_id))
    refresh = (
        await keys.encrypt_text(KeyPurpose.MERCADOPAGO, tokens.refresh_token, _aad("refresh_token", org_id))
        if tokens.refresh_token
        else None
    )
    now = utcnow()
    expires = now + datetime.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    async with tenant_transaction(resources.sessionmaker, org_id, connected_by) as session:
        row = await session.scalar(
            select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id).with_for_update()
        )
        if row is None:
            row = MercadoPagoConnection(org_id=org_id, mp_user_id=tokens.user_id)
            session.add(row)
        if action == "mercadopago.connected":
            row.connected_by_id = connected_by
        row.mp_user_id = tokens.user_id
        row.access_token_encrypted = access
        row.refresh_token_encrypted = refresh or row.refresh_token_encrypted
        row.public_key = tokens.public_key or row.public_key
        row.scope = tokens.scope
        row.expires_at = expires
        row.refreshed_at = now
        row.status = ConnectionStatus.ACTIVE
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor_id=connected_by,
            action=action,
            entity_type="mercadopago_connection",
            entity_id=row.id,
            after={"mpUserId": tokens.user_id, "expiresAt": expires.isoformat() if expires else None},
        )
    log.info(action.replace(".", " "), org_id=str(org_id), mp_user_id=tokens.user_id)


def _connection_wire(row: MercadoPagoConnection | None) -> wire.MercadoPagoConnection:
    if row is None or row.status is ConnectionStatus.DISCONNECTED:
        return wire.MercadoPagoConnection(connected=False, status=row.status.value if row else None)
    return wire.MercadoPagoConnection(
        connected=row.status is ConnectionStatus.ACTIVE,
        status=row.status.value,
        mp_user_id=row.mp_user_id,
        public_key=row.public_key,
        expires_at=row.expires_at,
        connected_at=row.created_at,
    )


async def connection_status(resources: Resources, org_id: uuid.UUID) -> wire.MercadoPagoConnection:
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        row = await session.scalar(select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id))
        return _connection_wire(row)


async def disconnect(
    session: AsyncSession, org_id: uuid.UUID, actor_id: uuid.UUID | None
) -> wire.MercadoPagoConnection:
    """Forget the tokens (the seller can also revoke the app in Mercado Pago); links already sent keep working
    on Mercado Pago's side, their notifications are acknowledged and recorded for reconciliation."""
    row = await session.scalar(
        select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id).with_for_update()
    )
    if row is not None and row.status is not ConnectionStatus.DISCONNECTED:
        row.status = ConnectionStatus.DISCONNECTED
        row.access_token_encrypted = None
        row.refresh_token_encrypted = None
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor_id=actor_id,
            action="mercadopago.disconnected",
            entity_type="mercadopago_connection",
            entity_id=row.id,
            after={"mpUserId": row.mp_user_id},
        )
    return _connection_wire(row)


# -- the client of an organisation ------------------------------------------------------------------


async def access_token(resources: Resources, org_id: uuid.UUID) -> str | None:
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        row = await session.scalar(select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id))
        if row is None or row.status is not ConnectionStatus.ACTIVE or not row.access_token_encrypted:
            return None
        sealed = row.access_token_encrypted
    token = await keyring_for(resources).decrypt_text(KeyPurpose.MERCADOPAGO, sealed, _aad("access_token", org_id))
    return token.decode()


async def client_for(resources: Resources, org_id: uuid.UUID) -> MercadoPagoClient:
    """The organisation's client; 409 when no account is connected."""
    token = await access_token(resources, org_id)
    if token is None:
        raise AppError(ErrorCode.MERCADOPAGO_NOT_CONNECTED)
    return MercadoPagoClient(
        token, api_base=resources.settings.mercadopago_api_base, timeout=resources.settings.mercadopago_timeout_seconds
    )


@asynccontextmanager
async def calling_mercadopago(
    resources: Resources, org_id: uuid.UUID, *, refused: str | None = None
) -> AsyncIterator[MercadoPagoClient]:
    """The organisation's client for a request on a user's behalf, closed after it; Mercado Pago refusing
    it is MERCADOPAGO_REJECTED (logged as ``refused`` when given), failing it MERCADOPAGO_UNAVAILABLE."""
    client = await client_for(resources, org_id)
    try:
        yield client
    except MercadoPagoPermanentError as exc:
        if refused is not None:
            log.warning(refused, status=exc.status, code=exc.code)
        raise AppError(ErrorCode.MERCADOPAGO_REJECTED, details={"status": exc.status, "code": exc.code}) from None
    except MercadoPagoError:
        raise AppError(ErrorCode.MERCADOPAGO_UNAVAILABLE) from None
    finally:
        await client.aclose()


# -- lookups across organisations (SECURITY DEFINER functions of migration 0011) ----------------------


async def org_for_mp_user(resources: Resources, mp_user_id: str) -> uuid.UUID | None:
    async with resources.sessionmaker() as session:
        value = await session.scalar(text("SELECT mercadopago_org_for_user(:u)"), {"u": mp_user_id})
        await session.rollback()
    return value if isinstance(value, uuid.UUID) or value is None else uuid.UUID(str(value))


async def connected_orgs(resources: Resources) -> list[tuple[uuid.UUID, datetime.datetime | None]]:
    async with resources.sessionmaker() as session:
        rows = (await session.execute(text("SELECT org_id, expires_at FROM mercadopago_connected_orgs()"))).all()
        await session.rollback()
    return [(r[0] if isinstance(r[0], uuid.UUID) else uuid.UUID(str(r[0])), r[1]) for r in rows]


# -- refresh ----------------------------------------------------------------------------------------


async def refresh_connection(resources: Resources, org_id: uuid.UUID) -> str:
    """Rotate the organisation's tokens (MP gives a new refresh token each time: the new one is kept)."""
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        row = await session.scalar(select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id))
        if row is None or row.status is not ConnectionStatus.ACTIVE or not row.refresh_token_encrypted:
            return "skipped"
        sealed = row.refresh_token_encrypted
    refresh_token = (
        await keyring_for(resources).decrypt_text(KeyPurpose.MERCADOPAGO, sealed, _aad("refresh_token", org_id))
    ).decode()
    try:
        tokens = await oauth_for(resources.settings).refresh(refresh_token)
    except MercadoPagoPermanentError as exc:
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            row = await session.scalar(select(MercadoPagoConnection).where(MercadoPagoConnection.org_id == org_id))
            if row is not None:
                row.status = ConnectionStatus.REFRESH_FAILED
                await record(
                    session,
                    org_id=org_id,
                    actor_id=None,
                    action="mercadopago.refresh_failed",
                    entity_type="mercadopago_connection",
                    entity_id=row.id,
                    after={"status": exc.status, "code": exc.code},
                )
        log.warning("mercadopago refresh refused: the owner must connect again", org_id=str(org_id))
        return "failed"
    await store_tokens(resources, org_id, tokens, connected_by=None, action="mercadopago.refreshed")
    return "refreshed"


def due_for_refresh(expires_at: datetime.datetime | None, now: datetime.datetime) -> bool:
    return expires_at is not None and expires_at - now <= REFRESH_AHEAD
