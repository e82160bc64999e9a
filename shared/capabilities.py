"""Capability names (the integrations and automations that can be switched off) and their defaults.

Shared by server and client. The server resolves a capability for an organisation as: a platform-wide
switch that disables it ("panic mode") > the organisation's own override > the default below.
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    AFIP = "afip"  # electronic invoicing with AFIP (CAE requests)
    MERCADOPAGO = "mercadopago"  # payment links and webhooks
    WHATSAPP = "whatsapp"  # WhatsApp Business messages
    VOICE = "voice"  # voice notes and their transcription
    SMS = "sms"  # SMS (OTP codes and notices)
    AUTO_INVOICE = "auto_invoice"  # invoice automatically when a job is completed


# Whether a capability is on when neither the platform nor the organisation said otherwise.
CAPABILITY_DEFAULTS: dict[Capability, bool] = {
    Capability.AFIP: True,
    Capability.MERCADOPAGO: True,
    Capability.WHATSAPP: True,
    Capability.VOICE: True,
    Capability.SMS: True,
    Capability.AUTO_INVOICE: False,  # opt-in: an organisation turns it on
}

# Names a person reads (es-AR).
CAPABILITY_LABELS: dict[Capability, str] = {
    Capability.AFIP: "Facturación electrónica (AFIP)",
    Capability.MERCADOPAGO: "Cobros con Mercado Pago",
    Capability.WHATSAPP: "Mensajes por WhatsApp",
    Capability.VOICE: "Notas de voz",
    Capability.SMS: "Mensajes SMS",
    Capability.AUTO_INVOICE: "Facturación automática al terminar un trabajo",
}


def default_of(capability: Capability) -> bool:
    return CAPABILITY_DEFAULTS[capability]
