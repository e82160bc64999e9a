"""WhatsApp Business Cloud API: sending template messages."""

from server.integrations.whatsapp.client import (
    WhatsAppClient,
    WhatsAppError,
    WhatsAppPermanentError,
    WhatsAppTransientError,
    whatsapp_recipient,
)

__all__ = [
    "WhatsAppClient",
    "WhatsAppError",
    "WhatsAppPermanentError",
    "WhatsAppTransientError",
    "whatsapp_recipient",
]
