"""Mercado Pago failures, typed so callers know whether to retry.

- ``MercadoPagoTransientError``: timeouts, connection failures, HTTP 5xx and 429. Retrying later may succeed.
- ``MercadoPagoPermanentError``: every other 4xx (bad token, invalid body, over-refund, …) and unusable
  answers. Sending the same request again will not help.
- ``MercadoPagoNotFound``: 404, the resource (payment, chargeback, …) does not exist for this account.

Every error carries ``status`` (HTTP status, ``None`` for network failures) and ``code`` (Mercado Pago's
``error`` or first ``cause`` code when it answered one). Messages never carry tokens or request bodies.
"""

from __future__ import annotations


class MercadoPagoError(Exception):
    """A call to Mercado Pago that did not succeed."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class MercadoPagoTransientError(MercadoPagoError):
    """Network failure, timeout, 5xx or 429: worth retrying later."""

    transient = True


class MercadoPagoPermanentError(MercadoPagoError):
    """Refused as sent (4xx other than 429): do not retry as is."""


class MercadoPagoNotFound(MercadoPagoPermanentError):
    """404: no such payment / chargeback / preference for this account."""
