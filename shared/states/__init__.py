"""State machines as data: one transition table per machine, shared by server, sync engine and client."""

from shared.states.invoice import INVOICE_MACHINE, InvoiceStatus
from shared.states.job import JOB_MACHINE, JobPriority, JobStatus
from shared.states.machine import StateMachine
from shared.states.messaging import (
    WHATSAPP_MESSAGE_MACHINE,
    MessageDirection,
    SyncOperationStatus,
    VoiceNoteStatus,
    WhatsAppMessageStatus,
)
from shared.states.payment import PAYMENT_MACHINE, PaymentMethod, PaymentStatus

__all__ = [
    "INVOICE_MACHINE",
    "JOB_MACHINE",
    "PAYMENT_MACHINE",
    "WHATSAPP_MESSAGE_MACHINE",
    "InvoiceStatus",
    "JobPriority",
    "JobStatus",
    "MessageDirection",
    "PaymentMethod",
    "PaymentStatus",
    "StateMachine",
    "SyncOperationStatus",
    "VoiceNoteStatus",
    "WhatsAppMessageStatus",
]
