"""All tables. Importing this module registers every model on the metadata."""

from server.db.models.afip import (
    AfipCredential,
    AfipCredentialStatus,
    AfipPointOfSale,
    AfipSequence,
    AfipTicket,
)
from server.db.models.audit import AuditChainHead, AuditLogEntry
from server.db.models.auth import AuthSession, RefreshToken
from server.db.models.capability import CapabilityOverride, SystemCapability
from server.db.models.customer import Customer, CustomerAddress, DocumentType
from server.db.models.dead_letter import DeadLetterJob, DeadLetterStatus
from server.db.models.invoice import Invoice, InvoiceLetter, InvoiceLine
from server.db.models.job import (
    Job,
    JobAssignment,
    JobLine,
    JobNote,
    JobPhoto,
    JobSignature,
    JobStatusEvent,
)
from server.db.models.keys import DataKey, KeyPurpose
from server.db.models.mercadopago import ConnectionStatus, MercadoPagoConnection, MercadoPagoWebhookEvent
from server.db.models.organization import Organization
from server.db.models.payment import (
    DiscrepancyKind,
    Dispute,
    Payment,
    PaymentLink,
    PaymentLinkStatus,
    ReconciliationDiscrepancy,
    Refund,
    RefundStatus,
)
from server.db.models.pricebook import (
    ComplexityMultiplier,
    PriceBookCategory,
    PriceBookItem,
    PriceBookItemKind,
    PriceList,
    PriceListItem,
)
from server.db.models.sync import SyncOperation
from server.db.models.tombstone import SyncConflict, SyncCounter, SyncTombstone
from server.db.models.user import User
from server.db.models.voice import VoiceNote
from server.db.models.whatsapp import WhatsAppMessage

__all__ = [
    "AfipCredential",
    "AfipCredentialStatus",
    "AfipPointOfSale",
    "AfipSequence",
    "AfipTicket",
    "AuditChainHead",
    "AuditLogEntry",
    "AuthSession",
    "CapabilityOverride",
    "ComplexityMultiplier",
    "ConnectionStatus",
    "Customer",
    "CustomerAddress",
    "DataKey",
    "DeadLetterJob",
    "DeadLetterStatus",
    "DiscrepancyKind",
    "Dispute",
    "DocumentType",
    "Invoice",
    "InvoiceLetter",
    "InvoiceLine",
    "Job",
    "JobAssignment",
    "JobLine",
    "JobNote",
    "JobPhoto",
    "JobSignature",
    "JobStatusEvent",
    "KeyPurpose",
    "MercadoPagoConnection",
    "MercadoPagoWebhookEvent",
    "Organization",
    "Payment",
    "PaymentLink",
    "PaymentLinkStatus",
    "PriceBookCategory",
    "PriceBookItem",
    "PriceBookItemKind",
    "PriceList",
    "PriceListItem",
    "ReconciliationDiscrepancy",
    "RefreshToken",
    "Refund",
    "RefundStatus",
    "SyncConflict",
    "SyncCounter",
    "SyncOperation",
    "SyncTombstone",
    "SystemCapability",
    "User",
    "VoiceNote",
    "WhatsAppMessage",
]
