"""The demo organisation, made through the same services as real sign-ups (audit included).

Its members use fixed test phones so a newcomer can sign in at once: in development their codes come
from ``CAMPOTECH_TEST_OTP`` (``campotech dev`` sets ``DEMO_TEST_OTP`` when the variable is unset).
Idempotent: a second run finds the organisation and adds only what is missing.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select, text

from server.db.engine import tenant_transaction
from server.db.models import AfipCredential, AfipCredentialStatus, Customer, Job, JobAssignment, Organization, User
from server.domain.afip_credentials.certificates import days_until
from server.domain.afip_credentials.schemas import AfipCredentialCreate
from server.domain.afip_credentials.services import effective_status, request_certificate, upload_certificate
from server.domain.audit.services import record as audit
from server.domain.customers.services import addresses_of, create_customer
from server.domain.jobs import services as jobs
from server.domain.organizations.services import create_organization_with_owner, update_organization
from server.lib.context import RequestContext
from server.lib.keys import keyring_for
from server.runtime import Resources
from server.settings import Settings
from shared.fiscal.cuit import format_cuit, make_cuit
from shared.fiscal.documents import DocumentType
from shared.fiscal.iva import IvaCondition
from shared.ids import new_id
from shared.roles import Role
from shared.schemas.customers import AddressCreate, CustomerCreate
from shared.schemas.jobs import JobCreate, TransitionRequest
from shared.schemas.organization import OrganizationUpdate
from shared.states.job import JobEvent

DEMO_ORGANIZATION_NAME = "Servicios Demo SRL"
DEMO_CUIT = make_cuit("30", "71234567")  # 30-71234567-1
DEMO_CODE = "123456"


@dataclass(frozen=True)
class DemoMember:
    phone: str
    full_name: str
    role: Role


DEMO_MEMBERS: tuple[DemoMember, ...] = (
    DemoMember("+5491155550001", "Marta Gómez", Role.OWNER),
    DemoMember("+5491155550002", "Julián Pereyra", Role.ADMIN),
    DemoMember("+5491155550003", "Carla Ruiz", Role.DISPATCHER),
    DemoMember("+5491155550004", "Diego Fernández", Role.TECHNICIAN),
    DemoMember("+5491155550005", "Lucas Sosa", Role.TECHNICIAN),
    DemoMember("+5491155550006", "Silvia Acosta", Role.ACCOUNTANT),
)

# The value `campotech dev` gives CAMPOTECH_TEST_OTP when it is unset: every demo phone, one code.
DEMO_TEST_OTP = ",".join(f"{m.phone}:{DEMO_CODE}" for m in DEMO_MEMBERS)


@dataclass
class DemoSummary:
    org_id: uuid.UUID
    name: str
    cuit: str
    created: list[str] = field(default_factory=list)
    members: tuple[DemoMember, ...] = DEMO_MEMBERS

    def describe(self) -> str:
        state = f"added {', '.join(self.created)}" if self.created else "already there"
        return f'"{self.name}" (CUIT {format_cuit(self.cuit)}), {state}'


def demo_steps() -> list[str]:
    return ["organization", *(f"{m.role.value} {m.full_name}" for m in DEMO_MEMBERS[1:]), "today's jobs"]


@dataclass(frozen=True)
class DemoJobCustomer:
    name: str
    phone: str
    street: str
    reference: str


@dataclass(frozen=True)
class DemoJob:
    technician_phone: str
    at: datetime.time  # Buenos Aires
    customer: int  # index in DEMO_JOB_CUSTOMERS
    title: str
    description: str
    service_type: str


DEMO_JOB_CUSTOMERS: tuple[DemoJobCustomer, ...] = (
    DemoJobCustomer("Consorcio Cabildo 2040", "+5491155550201", "Av. Cabildo 2040", "Encargado Raúl, timbre PB"),
    DemoJobCustomer("Laura Méndez", "+5491155550202", "Av. Rivadavia 5000 3° B", "Portero eléctrico roto, llamar"),
    DemoJobCustomer("Panadería La Espiga", "+5491155550203", "Av. Triunvirato 4300", "Entrar por el garaje"),
)
# a working day for each technician: what a newcomer finds on the technician app today
DEMO_JOBS: tuple[DemoJob, ...] = (
    DemoJob(
        "+5491155550004",
        datetime.time(9),
        0,
        "Calefón que no enciende",
        "El piloto se apaga a los pocos minutos.",
        "Gas",
    ),
    DemoJob(
        "+5491155550004",
        datetime.time(11, 30),
        1,
        "Pérdida bajo la mesada",
        "Gotea la canilla y el sifón de la cocina.",
        "Plomería",
    ),
    DemoJob(
        "+5491155550004",
        datetime.time(15),
        2,
        "Service de aire acondicionado",
        "Split de 3000 frigorías: limpieza y control de gas.",
        "Aire acondicionado",
    ),
    DemoJob(
        "+5491155550005",
        datetime.time(10),
        2,
        "Disyuntor que salta",
        "Salta al encender el horno eléctrico.",
        "Electricidad",
    ),
    DemoJob(
        "+5491155550005",
        datetime.time(14),
        0,
        "Bomba de agua ruidosa",
        "La bomba del tanque hace ruido y corta.",
        "Plomería",
    ),
)


async def ensure_demo_day(resources: Resources, org_id: uuid.UUID, today: datetime.date | None = None) -> list[str]:
    """Today's jobs of the demo technicians (scheduled, with customer and address), through the jobs services
    as the demo owner; a technician who already has a job today gets none (run it every day: a fresh day).
    Returns the titles added."""
    day = today or datetime.datetime.now(jobs.LOCAL_TZ).date()
    start, end = jobs.day_bounds(day)
    added: list[str] = []
    async with tenant_transaction(resources.sessionmaker, org_id) as session:
        users = {u.phone: u for u in (await session.scalars(select(User))).all()}
        owner = users[DEMO_MEMBERS[0].phone]
        ctx = RequestContext(org_id=org_id, user_id=owner.id, role=Role.OWNER.value)
        busy = set(
            (
                await session.scalars(
                    select(JobAssignment.technician_id)
                    .join(Job, Job.id == JobAssignment.job_id)
                    .where(Job.scheduled_start >= start, Job.scheduled_start < end)
                )
            ).all()
        )
        todo = [
            (job, users[job.technician_phone])
            for job in DEMO_JOBS
            if job.technician_phone in users and users[job.technician_phone].id not in busy
        ]
        if not todo:
            return added
        customers = dict((await session.execute(select(Customer.name, Customer.id))).tuples().all())
        wanted = list(dict.fromkeys(DEMO_JOB_CUSTOMERS[job.customer] for job, _ in todo))
        for who in wanted:
            if who.name not in customers:
                address = AddressCreate(street=who.street, city="CABA", reference=who.reference, is_default=True)
                made = await create_customer(
                    session, ctx, CustomerCreate(name=who.name, phone=who.phone, addresses=[address]), "seed"
                )
                customers[who.name] = made.id
        # each customer's addresses, the default first
        addresses = await addresses_of(session, [customers[who.name] for who in wanted])
        for job, technician in todo:
            customer_id = customers[DEMO_JOB_CUSTOMERS[job.customer].name]
            held = addresses.get(customer_id) or []
            at = datetime.datetime.combine(day, job.at, tzinfo=jobs.LOCAL_TZ)
            created = await jobs.create_job(
                session,
                ctx,
                JobCreate(
                    customer_id=customer_id,
                    address_id=held[0].id if held else None,
                    title=job.title,
                    description=job.description,
                    service_type=job.service_type,
                    scheduled_start=at,
                    scheduled_end=at + datetime.timedelta(minutes=90),
                    estimated_minutes=90,
                    technician_ids=[technician.id],
                ),
                "seed",
            )
            await jobs.transition(session, ctx, created.id, TransitionRequest(event=JobEvent.SCHEDULE), "seed")
            added.append(f"{job.title} ({technician.full_name}, {job.at:%H:%M})")
    return added


async def _find_org(resources: Resources) -> Organization | None:
    async with tenant_transaction(resources.sessionmaker, None) as session:
        await session.execute(text("SELECT set_config('app.signup_cuit', :c, true)"), {"c": DEMO_CUIT})
        return (await session.execute(select(Organization).where(Organization.cuit == DEMO_CUIT))).scalar_one_or_none()


async def seed_demo(resources: Resources, on_step: Callable[[str], None] | None = None) -> DemoSummary:
    """Create (or complete) the demo organisation; ``on_step`` is called once per step (progress bars)."""
    step = on_step or (lambda _name: None)
    created: list[str] = []
    org = await _find_org(resources)
    owner = DEMO_MEMBERS[0]
    if org is None:
        org_id = new_id()
        async with tenant_transaction(resources.sessionmaker, org_id) as session:
            org, _ = await create_organization_with_owner(
                session,
                org_id=org_id,
                owner_id=new_id(),
                name=DEMO_ORGANIZATION_NAME,
                cuit=DEMO_CUIT,
                owner_phone=owner.phone,
                owner_name=owner.full_name,
                trace_id="seed",
                joined=False,
            )
            org.address = "Av. Corrientes 1234, C1043 CABA"
        created.append("organization")
    step("organization")
    async with tenant_transaction(resources.sessionmaker, org.id) as session:
        existing = set((await session.scalars(select(User.phone))).all())
        for member in DEMO_MEMBERS[1:]:
            if member.phone not in existing:
                user = User(
                    org_id=org.id, phone=member.phone, full_name=member.full_name, role=member.role, is_active=True
                )
                session.add(user)
                await session.flush()
                await audit(
                    session,
                    org_id=org.id,
                    actor_id=None,
                    action="user.invited",
                    entity_type="user",
                    entity_id=user.id,
                    before=None,
                    after={"role": member.role.value, "seed": "demo"},
                    trace_id="seed",
                )
                created.append(member.role.value)
            step(f"{member.role.value} {member.full_name}")
    day = await ensure_demo_day(resources, org.id)
    if day:
        created.append(f"{len(day)} jobs for today")
    step("today's jobs")
    return DemoSummary(org_id=org.id, name=org.name, cuit=org.cuit, created=created)


# --- AFIP: ready to invoice (only in `campotech dev`, where the AFIP sandbox runs) ----------------------

DEMO_AFIP_ALIAS = "demo"
DEMO_CERTIFICATE_RENEW_DAYS = 30  # a demo certificate closer than this to its expiry is replaced
DEMO_POINT_OF_SALE = 1
DEMO_FISCAL_DATA: dict[str, Any] = {
    "iva_condition": IvaCondition.RESPONSABLE_INSCRIPTO,
    "default_point_of_sale": DEMO_POINT_OF_SALE,
    "address": "Av. Corrientes 1234, C1043 CABA",
    "gross_income_number": "901-712345-6",
    "activity_start_date": datetime.date(2018, 4, 1),
}


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    phone: str
    doc_type: DocumentType
    doc_number: str | None
    iva_condition: IvaCondition

    @property
    def label(self) -> str:
        if self.doc_number:
            return f"{self.name} (CUIT {format_cuit(self.doc_number)}, {self.iva_condition.value})"
        return f"{self.name} ({self.iva_condition.value})"


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "Refrigeración del Plata SA",
        "+5491155550101",
        DocumentType.CUIT,
        make_cuit("30", "70845612"),
        IvaCondition.RESPONSABLE_INSCRIPTO,
    ),
    DemoCustomer("Ana Gómez", "+5491155550102", DocumentType.NONE, None, IvaCondition.CONSUMIDOR_FINAL),
)


class CertificateAuthority(Protocol):
    """What signs the demo CSR: the AFIP sandbox's CA (``RunningAfipSandbox.sandbox.wsaa.ca``)."""

    cert: x509.Certificate

    def sign_csr(self, csr_pem: bytes) -> bytes: ...


@dataclass
class DemoAfip:
    """What ``ensure_demo_afip`` found or made."""

    point_of_sale: int
    certificate_not_after: datetime.datetime
    customers: tuple[DemoCustomer, ...] = DEMO_CUSTOMERS
    created: list[str] = field(default_factory=list)

    def describe(self) -> str:
        state = f"added {', '.join(self.created)}" if self.created else "already there"
        return (
            f"point of sale {self.point_of_sale}, AFIP certificate valid until "
            f"{self.certificate_not_after:%Y-%m-%d}, {state}"
        )


def _issued_by(certificate_pem: str | None, ca: CertificateAuthority) -> bool:
    """Whether ``certificate_pem`` was signed by ``ca`` (a new sandbox CA makes older certificates useless)."""
    if not certificate_pem:
        return False
    try:
        x509.load_pem_x509_certificate(certificate_pem.encode()).verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


async def ensure_demo_afip(settings: Settings, resources: Resources, ca: CertificateAuthority) -> DemoAfip:
    """Make the demo organisation ready to invoice, as its owner would in the app (idempotent).

    Fiscal data (responsable inscripto, point of sale 1, address, IIBB, start of activities) where it is
    missing; two customers (one with CUIT, one consumidor final) when absent; and an active AFIP
    certificate signed by ``ca`` with more than 30 days left, else a new one: the app makes key + CSR
    (``request_certificate``), ``ca`` signs the CSR as AFIP's portal does, and the certificate is uploaded
    (``upload_certificate``). ``settings`` are the app's (never production); ``seed_demo`` runs first.
    """
    if settings.is_production:
        raise RuntimeError("the demo AFIP certificate is for development only (the sandbox CA is not AFIP's)")
    org = await _find_org(resources)
    if org is None:
        raise LookupError("the demo organisation does not exist yet: run seed_demo first")
    created: list[str] = []
    keys = keyring_for(resources)
    async with tenant_transaction(resources.sessionmaker, org.id) as session:
        owner = (
            await session.scalars(select(User).where(User.phone == DEMO_MEMBERS[0].phone, User.role == Role.OWNER))
        ).one()
        ctx = RequestContext(org_id=org.id, user_id=owner.id, role=Role.OWNER.value)
        current = await session.get(Organization, org.id)
        assert current is not None
        missing = {key: value for key, value in DEMO_FISCAL_DATA.items() if getattr(current, key) is None}
        if missing:
            await update_organization(session, ctx, OrganizationUpdate(**missing), trace_id="seed")
            created.append("fiscal data")
        existing = set((await session.scalars(select(Customer.phone).where(Customer.phone.is_not(None)))).all())
        for customer in DEMO_CUSTOMERS:
            if customer.phone not in existing:
                await create_customer(
                    session,
                    ctx,
                    CustomerCreate(
                        name=customer.name,
                        phone=customer.phone,
                        doc_type=customer.doc_type,
                        doc_number=customer.doc_number,
                        iva_condition=customer.iva_condition,
                    ),
                    trace_id="seed",
                )
                created.append(f"customer {customer.name}")
        credentials = list(await session.scalars(select(AfipCredential).order_by(AfipCredential.created_at.desc())))
        active = next(
            (
                c
                for c in credentials
                if effective_status(c) is AfipCredentialStatus.ACTIVE
                and (days_until(c.not_after) or 0) > DEMO_CERTIFICATE_RENEW_DAYS
                and _issued_by(c.certificate_pem, ca)
            ),
            None,
        )
        if active is None:
            pending = next(
                (
                    c
                    for c in credentials
                    if c.status == AfipCredentialStatus.PENDING_CERTIFICATE and c.alias == DEMO_AFIP_ALIAS
                ),
                None,
            )
            if pending is None:
                made = await request_certificate(
                    session, ctx, keys, AfipCredentialCreate(alias=DEMO_AFIP_ALIAS), trace_id="seed"
                )
                credential_id, csr_pem = made.id, made.csr_pem
            else:
                credential_id, csr_pem = pending.id, pending.csr_pem
            certificate = ca.sign_csr(csr_pem.encode())  # what AFIP's portal hands back
            uploaded = await upload_certificate(session, ctx, keys, credential_id, certificate, trace_id="seed")
            assert uploaded.not_after is not None
            not_after = uploaded.not_after
            created.append("AFIP certificate")
        else:
            assert active.not_after is not None
            not_after = active.not_after
        point_of_sale = current.default_point_of_sale or DEMO_POINT_OF_SALE
    return DemoAfip(point_of_sale=point_of_sale, certificate_not_after=not_after, created=created)
