"""Issuing an invoice with AFIP: the ``invoices.issue`` task on the ``afip`` queue.

The rules, in the order they are applied:

1. While AFIP is switched off for the organisation (panic mode, the org's own switch) or the circuit
   breaker is open after repeated transport failures, the invoice stays ``pending_cae`` and the task
   puts itself back on the queue for later, without spending an attempt.
2. Issuance is serialised per (organisation, point of sale, receipt type) with a Redis lock (token,
   expiry longer than any attempt): two workers never ask AFIP for numbers of the same sequence at once,
   and a crashed worker's lock expires. Even without it, the number reserved on the invoice and the
   FECompConsultar check below keep a duplicate from being issued.
3. The number comes from AFIP (``FECompUltimoAutorizado`` + 1) and is stored on the invoice (committed)
   *before* ``FECAESolicitar`` is sent. A later attempt that finds a stored number asks AFIP
   (``FECompConsultar``) first: if AFIP has that receipt with our amount and receiver, the CAE is taken
   from there; nothing is ever sent twice, and no number is skipped (a number AFIP never authorised is
   used again or given up only when AFIP's last number shows it is still free or taken by someone else).
4. A transient failure (network, timeout, 5xx, AFIP's own transient codes) raises, so SAQ retries it
   with backoff; after the last attempt the job lands in the dead-letter store and the invoice stays
   ``pending_cae`` for a person. A permanent answer (AFIP rejected it, configuration problems) puts the
   invoice back to ``draft`` with AFIP's reasons.
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.db.models import Invoice, InvoiceLine, Organization
from server.domain.audit.services import record
from server.domain.invoices.services import lines_of, today_in_argentina, totals_of
from server.integrations.afip.errors import AfipError, AfipPermanentError, AfipTimeoutAfterSend, AfipTransientError
from server.integrations.afip.wsfe import AlicIva, CaeRequest, CbteAsoc
from server.lib.logging import get_logger
from server.lib.tasks import task
from shared.capabilities import Capability
from shared.states.invoice import InvoiceStatus

if TYPE_CHECKING:
    from server.domain.invoices.afip_gateway import AfipGateway
    from server.runtime import Resources

log = get_logger("campotech.invoices")

WAIT_WHILE_DISABLED_SECONDS = 60.0
CIRCUIT_KEY = "afip:circuit"  # a Redis hash: failures, open_until
CIRCUIT_FAILURES = 8  # consecutive transport failures (any org) that open the circuit
CIRCUIT_OPEN_SECONDS = 120
NUMBER_TAKEN_CODES = frozenset({10016})  # "not the next number / date": resync and try again
TICKET_REJECTED_CODE = 600  # WSFE: token or sign invalid or expired
SEQUENCE_LOCK_SECONDS = 300  # longer than a task's timeout: a dead worker's lock expires, a live one's never
BATCH_WHILE_LOCKED = 50  # invoices of the same sequence a lock holder issues besides its own


class AfipUnavailable(Exception):
    """Issuing must wait: AFIP switched off or its circuit open (the task re-queues itself)."""


class ResyncNeeded(AfipTransientError):
    """The number we held is not the next one any more: ask AFIP again on the next attempt."""


@dataclass(frozen=True)
class Outcome:
    status: str  # issued | rejected | waiting | skipped
    invoice_id: str
    number: int | None = None
    cae: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "invoiceId": self.invoice_id, "number": self.number, "cae": self.cae}


# -- circuit breaker ------------------------------------------------------------------------------


async def circuit_open(resources: Resources) -> bool:
    until = await resources.redis.hget(CIRCUIT_KEY, "open_until")
    return until is not None and float(until) > time.time()


async def _note_transport_failure(resources: Resources) -> None:
    failures = await resources.redis.hincrby(CIRCUIT_KEY, "failures", 1)
    await resources.redis.expire(CIRCUIT_KEY, CIRCUIT_OPEN_SECONDS * 5)
    if failures >= CIRCUIT_FAILURES:
        await resources.redis.hset(
            CIRCUIT_KEY, mapping={"open_until": str(time.time() + CIRCUIT_OPEN_SECONDS), "failures": "0"}
        )
        log.warning("afip circuit opened", failures=failures, seconds=CIRCUIT_OPEN_SECONDS)


async def _note_success(resources: Resources) -> None:
    await resources.redis.hset(CIRCUIT_KEY, "failures", "0")


# -- helpers --------------------------------------------------------------------------------------


def _messages(pairs: Any, kind: str) -> list[dict[str, Any]]:
    return [{"code": int(code), "message": str(message), "kind": kind} for code, message in (pairs or [])]


def build_request(
    invoice: Invoice,
    lines: list[InvoiceLine],
    number: int,
    issue_date: datetime.date,
    associated: CbteAsoc | None = None,
) -> CaeRequest:
    """The ``FECAEDetRequest`` for the stored invoice (its fiscal fields were fixed at request time)."""
    totals = totals_of(lines, invoice.letter)
    services = invoice.concept in (2, 3)
    return CaeRequest(
        pto_vta=int(invoice.point_of_sale or 0),
        cbte_tipo=int(invoice.receipt_type or 0),
        concepto=int(invoice.concept or 2),
        doc_tipo=int(invoice.doc_type or 99),
        doc_nro=int(invoice.doc_number or 0),
        number=number,
        cbte_fch=issue_date,
        imp_total=totals.imp_total,
        imp_tot_conc=totals.imp_tot_conc,
        imp_neto=totals.imp_neto,
        imp_op_ex=totals.imp_op_ex,
        imp_trib=totals.imp_trib,
        imp_iva=totals.imp_iva,
        fch_serv_desde=invoice.service_from if services else None,
        fch_serv_hasta=invoice.service_to if services else None,
        fch_vto_pago=invoice.payment_due if services else None,
        mon_id=invoice.currency or "PES",
        mon_cotiz=invoice.exchange_rate or Decimal("1"),
        condicion_iva_receptor_id=int(invoice.receiver_iva_condition_id or 5),
        cbtes_asoc=(associated,) if associated is not None else (),
        iva=tuple(AlicIva(id=int(v.alic_id), base=v.base, amount=v.amount) for v in totals.vat),
    )


def _lock_key(org_id: uuid.UUID, point_of_sale: int, receipt_type: int) -> str:
    return f"campotech:afip:sequence:{org_id}:{point_of_sale}:{receipt_type}"


# -- the issuer -----------------------------------------------------------------------------------


class Issuer:
    def __init__(self, resources: Resources, gateway: AfipGateway) -> None:
        self.resources = resources
        self.gateway = gateway

    async def issue(self, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Outcome:
        resources = self.resources
        if not await resources.capabilities.is_enabled(resources.sessionmaker, Capability.AFIP, org_id):
            raise AfipUnavailable("afip switched off")
        if await circuit_open(resources):
            raise AfipUnavailable("afip circuit open")
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            invoice = await session.get(Invoice, invoice_id)
            if invoice is None or invoice.status != InvoiceStatus.PENDING_CAE:
                return Outcome("skipped", str(invoice_id))
            pos, cbte_tipo = int(invoice.point_of_sale or 0), int(invoice.receipt_type or 0)
        key = _lock_key(org_id, pos, cbte_tipo)
        # one issuer per (org, point of sale, receipt type) across every process; a Redis lock holds no
        # database connection while it waits, and expires if its holder dies (longer than any attempt)
        async with resources.redis.lock(key, timeout=SEQUENCE_LOCK_SECONDS, sleep=0.01, blocking_timeout=None):
            outcome = await self._issue_locked(org_id, invoice_id)
            await self._issue_waiting(org_id, pos, cbte_tipo, outcome.number if outcome.status == "issued" else None)
            return outcome

    async def _issue_waiting(self, org_id: uuid.UUID, pos: int, cbte_tipo: int, last: int | None) -> None:
        """While holding the sequence, issue what else waits on it (oldest request first).

        Each of those invoices has its own queued task; when it runs it finds the invoice issued and
        skips. A failure here is left to that task (it retries with its own attempts), so one bad
        invoice never holds up the others. Bounded, so a steady stream cannot keep one task forever.
        """
        async with tenant_transaction(self.resources.sessionmaker, org_id) as session:
            waiting = list(
                await session.scalars(
                    select(Invoice.id)
                    .where(
                        Invoice.status == InvoiceStatus.PENDING_CAE,
                        Invoice.point_of_sale == pos,
                        Invoice.receipt_type == cbte_tipo,
                    )
                    .order_by(Invoice.requested_at, Invoice.id)
                    .limit(BATCH_WHILE_LOCKED)
                )
            )
        for other in waiting:
            try:
                outcome = await self._issue_locked(org_id, other, last)
            except AfipError:
                log.info("left for its own task", invoice=str(other))
                return  # AFIP is struggling: stop here, every task retries on its own schedule
            last = outcome.number if outcome.status == "issued" else None

    async def _issue_locked(self, org_id: uuid.UUID, invoice_id: uuid.UUID, known_last: int | None = None) -> Outcome:
        """Issue one invoice; the caller holds its sequence. ``known_last``: the number AFIP authorised a
        moment ago under the same hold (skips asking FECompUltimoAutorizado again; a number taken meanwhile
        by another system is answered 10016 and resynced)."""
        resources = self.resources
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            invoice = await session.get(Invoice, invoice_id)
            if invoice is None or invoice.status != InvoiceStatus.PENDING_CAE:
                return Outcome("skipped", str(invoice_id))
            lines = await lines_of(session, invoice.id)
            pos, cbte_tipo = int(invoice.point_of_sale or 0), int(invoice.receipt_type or 0)
            reserved = invoice.number
            associated = await _associated(session, invoice)
            session.expunge_all()
        try:
            auth = await self.gateway.auth(org_id)
            if reserved is not None:
                stored = await self.gateway.wsfe.query(auth, pos, cbte_tipo, reserved)
                if stored is not None:
                    if _is_ours(stored, invoice):
                        return await self._finish_from_stored(org_id, invoice_id, stored)
                    reserved = None  # that number went to another receipt: take a new one
            if known_last is not None and reserved is None:
                last = known_last
            else:
                last = await self.gateway.wsfe.last_authorized(auth, pos, cbte_tipo)
            number = reserved if reserved is not None and reserved == last + 1 else last + 1
            issue_date = await self._reserve(org_id, invoice_id, number)
            request = build_request(invoice, lines, number, issue_date, associated)
            result = await self.gateway.wsfe.request_cae(auth, request)
        except AfipTimeoutAfterSend:
            await _note_transport_failure(resources)
            log.warning("afip timed out after sending: the next attempt asks FECompConsultar", invoice=str(invoice_id))
            raise
        except AfipPermanentError as exc:
            message = exc.hint or exc.afip_message or str(exc)
            return await self._reject(
                org_id, invoice_id, [{"code": _int(exc.code), "message": message, "kind": "error"}]
            )
        except AfipTransientError as exc:
            if _int(exc.code) == TICKET_REJECTED_CODE:
                await self.gateway.renew_ticket(org_id)  # AFIP no longer accepts our ticket: the next attempt logs in
            else:
                await _note_transport_failure(resources)
            raise
        await _note_success(resources)
        if result.cae and result.resultado in ("A", "P"):
            return await self._finish(
                org_id,
                invoice_id,
                number,
                result.cae,
                result.cae_due,
                result.resultado,
                _messages(result.observations, "observation"),
            )
        codes = {int(code) for code, _ in (result.errors or [])} | {
            int(code) for code, _ in (result.observations or [])
        }
        if codes & NUMBER_TAKEN_CODES and not (codes - NUMBER_TAKEN_CODES):
            await self._unreserve(org_id, invoice_id)
            raise ResyncNeeded("the number or date is not the next one: resync", code=10016)
        reasons = _messages(result.errors, "error") + _messages(result.observations, "observation")
        return await self._reject(org_id, invoice_id, reasons)

    async def _reserve(self, org_id: uuid.UUID, invoice_id: uuid.UUID, number: int) -> datetime.date:
        try:
            async with tenant_transaction(self.resources.sessionmaker, org_id) as session:
                invoice = await session.get(Invoice, invoice_id, with_for_update=True)
                assert invoice is not None
                invoice.number = number
                invoice.issue_date = today_in_argentina()
                return invoice.issue_date
        except IntegrityError:
            # we already hold an issued receipt with that number: AFIP's last number is behind ours (another
            # AFIP environment, another CUIT's certificate, or AFIP lost it). Retrying cannot fix that.
            raise AfipPermanentError(
                f"AFIP's last number is behind ours (next would be {number})",
                code="afip.numbering_behind",
                hint=(
                    f"AFIP dice que el próximo número es el {number}, pero ya tenemos una factura emitida con ese "
                    "número en este punto de venta: revisá que el sistema apunte al ambiente de AFIP correcto "
                    "(homologación o producción) y al CUIT de la organización. `campotech afip check` lo muestra."
                ),
            ) from None

    async def _unreserve(self, org_id: uuid.UUID, invoice_id: uuid.UUID) -> None:
        async with tenant_transaction(self.resources.sessionmaker, org_id) as session:
            invoice = await session.get(Invoice, invoice_id, with_for_update=True)
            if invoice is not None and invoice.cae is None:
                invoice.number = None

    async def _finish_from_stored(self, org_id: uuid.UUID, invoice_id: uuid.UUID, stored: Any) -> Outcome:
        log.info("afip already had the receipt: CAE recovered with FECompConsultar", invoice=str(invoice_id))
        return await self._finish(
            org_id,
            invoice_id,
            int(stored.number),
            str(stored.cae),
            stored.cae_due,
            stored.resultado or "A",
            [],
            recovered=True,
        )

    async def _finish(
        self,
        org_id: uuid.UUID,
        invoice_id: uuid.UUID,
        number: int,
        cae: str,
        cae_due: datetime.date | None,
        result: str,
        messages: list[dict[str, Any]],
        *,
        recovered: bool = False,
    ) -> Outcome:
        async with tenant_transaction(self.resources.sessionmaker, org_id) as session:
            invoice = await session.get(Invoice, invoice_id, with_for_update=True)
            assert invoice is not None
            invoice.number = number
            invoice.cae = cae
            invoice.cae_due_date = cae_due
            invoice.afip_result = result
            invoice.afip_messages = messages
            invoice.status = InvoiceStatus.ISSUED
            invoice.issued_at = utcnow()
            await _advance_sequence(
                session, org_id, int(invoice.point_of_sale or 0), int(invoice.receipt_type or 0), number
            )
            await record(
                session,
                org_id=org_id,
                actor_id=None,
                action="invoice.issued",
                entity_type="invoice",
                entity_id=invoice.id,
                before={"status": str(InvoiceStatus.PENDING_CAE)},
                after={
                    "status": str(InvoiceStatus.ISSUED),
                    "number": number,
                    "cae": cae,
                    "recoveredWithQuery": recovered,
                },
            )
        return Outcome("issued", str(invoice_id), number, cae)

    async def _reject(self, org_id: uuid.UUID, invoice_id: uuid.UUID, reasons: list[dict[str, Any]]) -> Outcome:
        async with tenant_transaction(self.resources.sessionmaker, org_id) as session:
            invoice = await session.get(Invoice, invoice_id, with_for_update=True)
            assert invoice is not None
            invoice.status = InvoiceStatus.DRAFT  # rejected: back to a person, with AFIP's reasons
            invoice.number = None
            invoice.afip_messages = reasons
            invoice.rejected_at = utcnow()
            await record(
                session,
                org_id=org_id,
                actor_id=None,
                action="invoice.rejected",
                entity_type="invoice",
                entity_id=invoice.id,
                before={"status": str(InvoiceStatus.PENDING_CAE)},
                after={"status": str(InvoiceStatus.DRAFT), "reasons": reasons},
            )
        log.info(
            "afip rejected the invoice: back to draft", invoice=str(invoice_id), codes=[r["code"] for r in reasons]
        )
        return Outcome("rejected", str(invoice_id))


async def _associated(session: AsyncSession, invoice: Invoice) -> CbteAsoc | None:
    """``CbtesAsoc`` for a credit/debit note: the invoice it corrects, as AFIP knows it."""
    if invoice.associated_invoice_id is None:
        return None
    original = await session.get(Invoice, invoice.associated_invoice_id)
    org = await session.get(Organization, invoice.org_id)
    if original is None or original.number is None or org is None:
        return None
    return CbteAsoc(
        tipo=int(original.receipt_type or 0),
        pto_vta=int(original.point_of_sale or 0),
        number=int(original.number),
        cuit=org.cuit,
        cbte_fch=original.issue_date,
    )


def _int(code: Any) -> int:
    try:
        return int(code)
    except (TypeError, ValueError):
        return 0


def _is_ours(stored: Any, invoice: Invoice) -> bool:
    """AFIP's stored receipt is this invoice: same total and receiver document."""
    same_total = Decimal(str(stored.imp_total)).quantize(Decimal("0.01")) == Decimal(invoice.total_amount).quantize(
        Decimal("0.01")
    )
    return same_total and str(int(stored.doc_nro)) == str(int(invoice.doc_number or 0))


async def _advance_sequence(
    session: AsyncSession, org_id: uuid.UUID, point_of_sale: int, receipt_type: int, number: int
) -> None:
    from sqlalchemy.dialects.postgresql import insert

    from server.db.models import AfipSequence
    from shared.ids import new_id

    now = utcnow()
    statement = insert(AfipSequence).values(
        id=new_id(),
        org_id=org_id,
        point_of_sale=point_of_sale,
        receipt_type=receipt_type,
        last_number=number,
        created_at=now,
        updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        constraint="uq_afip_sequences_org_pos_type",
        set_={"last_number": statement.excluded.last_number, "updated_at": now},
        where=AfipSequence.last_number < statement.excluded.last_number,
    )
    await session.execute(statement)


# -- the task -------------------------------------------------------------------------------------


def issue_job_key(invoice_id: uuid.UUID | str) -> str:
    return f"invoices:issue:{invoice_id}"


@task(queue="afip", name="invoices.issue", retries=6, retry_delay=2.0, backoff_max=120, timeout=120)
async def issue_invoice(ctx: Any, *, org_id: str | None = None, invoice_id: str) -> dict[str, Any]:
    """Ask AFIP for the invoice's CAE (see the module docstring)."""
    from server.domain.invoices.afip_gateway import gateway_for

    resources: Resources = ctx["resources"]
    assert org_id is not None
    issuer = Issuer(resources, gateway_for(resources))
    try:
        return (await issuer.issue(uuid.UUID(org_id), uuid.UUID(invoice_id))).as_dict()
    except AfipUnavailable as exc:
        queues = ctx.get("queues") or resources.queues
        bucket = int(time.time() // WAIT_WHILE_DISABLED_SECONDS)
        await queues.enqueue(
            issue_invoice,
            org_id=org_id,
            job_key=f"{issue_job_key(invoice_id)}:wait:{bucket}",
            delay_seconds=WAIT_WHILE_DISABLED_SECONDS,
            invoice_id=invoice_id,
        )
        log.info("afip unavailable: invoice waits", invoice=invoice_id, reason=str(exc))
        return Outcome("waiting", invoice_id).as_dict()


TASKS = [issue_invoice]

__all__ = ["TASKS", "AfipError", "Issuer", "Outcome", "build_request", "issue_invoice", "issue_job_key"]
