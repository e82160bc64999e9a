"""Mercado Pago: Checkout Pro preferences, payments, refunds, installments, chargebacks, OAuth, webhooks."""

from server.integrations.mercadopago.client import (
    InstallmentOption,
    MercadoPagoClient,
    MpChargeback,
    MpPayment,
    MpRefund,
    Preference,
    PreferenceItem,
    PreferenceRequest,
)
from server.integrations.mercadopago.errors import (
    MercadoPagoError,
    MercadoPagoNotFound,
    MercadoPagoPermanentError,
    MercadoPagoTransientError,
)
from server.integrations.mercadopago.oauth import MercadoPagoOAuth, TokenSet
from server.integrations.mercadopago.signature import InvalidWebhookSignature, sign_webhook, verify_webhook_signature

__all__ = [
    "InstallmentOption",
    "InvalidWebhookSignature",
    "MercadoPagoClient",
    "MercadoPagoError",
    "MercadoPagoNotFound",
    "MercadoPagoOAuth",
    "MercadoPagoPermanentError",
    "MercadoPagoTransientError",
    "MpChargeback",
    "MpPayment",
    "MpRefund",
    "Preference",
    "PreferenceItem",
    "PreferenceRequest",
    "TokenSet",
    "sign_webhook",
    "verify_webhook_signature",
]
