"""Statuses of WhatsApp messages, voice notes and sync operations."""

from __future__ import annotations

from enum import StrEnum

from shared.states.machine import StateMachine


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class WhatsAppMessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"


WHATSAPP_MESSAGE_MACHINE: StateMachine[WhatsAppMessageStatus] = StateMachine(
    "whatsapp_message",
    {
        WhatsAppMessageStatus.QUEUED: frozenset({WhatsAppMessageStatus.SENT, WhatsAppMessageStatus.FAILED}),
        WhatsAppMessageStatus.SENT: frozenset(
            {WhatsAppMessageStatus.DELIVERED, WhatsAppMessageStatus.READ, WhatsAppMessageStatus.FAILED}
        ),
        WhatsAppMessageStatus.DELIVERED: frozenset({WhatsAppMessageStatus.READ}),
        WhatsAppMessageStatus.READ: frozenset(),
        WhatsAppMessageStatus.FAILED: frozenset({WhatsAppMessageStatus.QUEUED}),
        WhatsAppMessageStatus.RECEIVED: frozenset(),
    },
)


class VoiceNoteStatus(StrEnum):
    RECEIVED = "received"
    TRANSCRIBING = "transcribing"
    TRANSCRIBED = "transcribed"
    NEEDS_REVIEW = "needs_review"
    CONVERTED = "converted"
    DISCARDED = "discarded"
    FAILED = "failed"


class SyncOperationStatus(StrEnum):
    APPLIED = "applied"
    MERGED = "merged"
    REJECTED = "rejected"
