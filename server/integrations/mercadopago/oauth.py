"""Connecting a seller's Mercado Pago account (OAuth authorisation code, refresh with rotation).

``authorization_url`` sends the seller to Mercado Pago; the caller keeps ``state`` and checks it when
the seller comes back with ``code`` (CSRF), then calls ``exchange_code``. Each ``refresh`` returns a
*new* refresh token: store it, the old one stops working. Tokens never appear in reprs or logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from server.integrations.mercadopago.client import DEFAULT_API_BASE, error_for
from server.integrations.mercadopago.errors import MercadoPagoPermanentError, MercadoPagoTransientError
from server.lib.logging import get_logger

log = get_logger("campotech.mercadopago")

DEFAULT_AUTH_BASE = "https://auth.mercadopago.com"


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    user_id: str
    public_key: str | None
    scope: str | None


class MercadoPagoOAuth:
    """The platform's Mercado Pago application (client id and secret)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        auth_base: str = DEFAULT_AUTH_BASE,
        timeout: float = 10.0,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("the Mercado Pago client id and secret are required")
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_base = api_base.rstrip("/")
        self.auth_base = auth_base.rstrip("/")
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"MercadoPagoOAuth(client_id={self.client_id!r}, api_base={self.api_base!r})"

    def authorization_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the seller to grant access; Mercado Pago comes back to ``redirect_uri?code=…&state=…``."""
        if not state:
            raise ValueError("an OAuth state is required")
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "platform_id": "mp",
                "state": state,
                "redirect_uri": redirect_uri,
            }
        )
        return f"{self.auth_base}/authorization?{query}"

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, "the code exchange"
        )

    async def refresh(self, refresh_token: str) -> TokenSet:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, "the token refresh")

    async def _token(self, grant: dict[str, str], what: str) -> TokenSet:
        payload = {"client_id": self.client_id, "client_secret": self._client_secret, **grant}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(
                    f"{self.api_base}/oauth/token", json=payload, headers={"Accept": "application/json"}
                )
        except httpx.TimeoutException:
            raise MercadoPagoTransientError(f"Mercado Pago did not answer in time ({what})") from None
        except httpx.TransportError as exc:
            raise MercadoPagoTransientError(f"could not reach Mercado Pago ({type(exc).__name__})") from None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.status_code >= 300:
            error = error_for(response.status_code, body, what)
            log.warning("mercadopago oauth refused", what=what, status=response.status_code, code=error.code)
            raise error
        if not isinstance(body, dict) or not body.get("access_token") or body.get("user_id") is None:
            raise MercadoPagoPermanentError(
                f"Mercado Pago answered {what} without a token", status=response.status_code
            )
        tokens = TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_in=int(body.get("expires_in") or 0),
            user_id=str(body["user_id"]),
            public_key=str(body["public_key"]) if body.get("public_key") else None,
            scope=str(body["scope"]) if body.get("scope") else None,
        )
        log.info("mercadopago oauth tokens", what=what, user_id=tokens.user_id, expires_in=tokens.expires_in)
        return tokens
