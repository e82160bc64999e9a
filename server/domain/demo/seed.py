"""The demo organisation, made through the same services as real sign-ups (audit included).

Its members use fixed test phones so a newcomer can sign in at once: in development their codes come
from ``CAMPOTECH_TEST_OTP`` (``campotech dev`` sets ``DEMO_TEST_OTP`` when the variable is unset).
Idempotent: a second run finds the organisation and adds only what is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text

from server.db.engine import tenant_transaction
from server.db.models import Organization, User
from server.domain.audit.services import record as audit
from server.domain.organizations.services import create_organization_with_owner
from server.runtime import Resources
from shared.fiscal.cuit import format_cuit, make_cuit
from shared.ids import new_id
from shared.roles import Role

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
    return ["organization", *(f"{m.role.value} {m.full_name}" for m in DEMO_MEMBERS[1:])]


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
    return DemoSummary(org_id=org.id, name=org.name, cuit=org.cuit, created=created)
