"""The organisation's own settings: business data printed on invoices, working hours, defaults."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Organization, User
from server.domain.audit.services import record as audit
from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.roles import Role
from shared.schemas.organization import OrganizationSettings, OrganizationUpdate, WorkingDay

DEFAULT_OPENS, DEFAULT_CLOSES = "08:00", "18:00"  # a working day when the organisation has set none
DEFAULT_WORKING_HOURS = [WorkingDay(weekday=d, opens=DEFAULT_OPENS, closes=DEFAULT_CLOSES) for d in range(5)]
SETTINGS_KEYS = ("working_hours", "auto_invoice", "mercadopago_max_installments", "payment_link_days")
COLUMN_KEYS = (
    "name",
    "iva_condition",
    "gross_income_number",
    "activity_start_date",
    "address",
    "logo_path",
    "default_point_of_sale",
)


async def current_organization(session: AsyncSession, ctx: RequestContext) -> Organization:
    org = await session.get(Organization, ctx.org_id) if ctx.org_id else None
    if org is None:
        raise AppError(ErrorCode.NOT_FOUND)
    return org


def to_settings(org: Organization) -> OrganizationSettings:
    extra: dict[str, Any] = org.settings or {}
    hours = msgspec.convert(extra.get("working_hours"), list[WorkingDay]) if extra.get("working_hours") else []
    return OrganizationSettings(
        id=org.id,
        name=org.name,
        cuit=org.cuit,
        iva_condition=org.iva_condition,
        gross_income_number=org.gross_income_number,
        activity_start_date=org.activity_start_date,
        address=org.address,
        logo_path=org.logo_path,
        default_point_of_sale=org.default_point_of_sale,
        working_hours=hours or DEFAULT_WORKING_HOURS,
        auto_invoice=bool(extra.get("auto_invoice", True)),
        mercadopago_max_installments=int(extra.get("mercadopago_max_installments") or 12),
        payment_link_days=int(extra.get("payment_link_days") or 7),
    )


async def update_organization(
    session: AsyncSession, ctx: RequestContext, data: OrganizationUpdate, trace_id: str
) -> OrganizationSettings:
    org = await current_organization(session, ctx)
    before = msgspec.to_builtins(to_settings(org))
    for key in COLUMN_KEYS:
        value = getattr(data, key)
        if value is not msgspec.UNSET:
            setattr(org, key, value)
    extra = dict(org.settings or {})
    for key in SETTINGS_KEYS:
        value = getattr(data, key)
        if value is not msgspec.UNSET:
            for day in value if key == "working_hours" else []:
                if day.opens >= day.closes:
                    raise AppError(
                        ErrorCode.VALIDATION_FAILED,
                        "El horario de cierre debe ser posterior al de apertura.",
                        details=[{"key": "workingHours", "weekday": day.weekday}],
                    )
            extra[key] = msgspec.to_builtins(value)
    org.settings = extra
    await session.flush()
    after = msgspec.to_builtins(to_settings(org))
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if changed:
        await audit(
            session,
            org_id=org.id,
            actor_id=ctx.user_id,
            action="organization.updated",
            entity_type="organization",
            entity_id=org.id,
            before={k: before[k] for k in changed},
            after=changed,
            trace_id=trace_id,
        )
    return to_settings(org)


async def create_organization_with_owner(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    owner_id: uuid.UUID,
    name: str,
    cuit: str,
    owner_phone: str,
    owner_name: str,
    trace_id: str | None,
    joined: bool,
) -> tuple[Organization, User]:
    """A new organisation and its first owner, in ``session``'s transaction (whose tenant is ``org_id``).

    Used by sign-up (the owner has just proved the phone: ``joined``), by ``campotech org create``
    and by the demo seed. CUIT and phone must already be normalised.
    """
    now = datetime.datetime.now(datetime.UTC)
    org = Organization(id=org_id, name=name.strip(), cuit=cuit, settings={})
    session.add(org)
    await session.flush()
    owner = User(
        id=owner_id,
        org_id=org_id,
        phone=owner_phone,
        full_name=owner_name.strip() or "Dueño",
        role=Role.OWNER,
        is_active=True,
        joined_at=now if joined else None,
        last_login_at=now if joined else None,
    )
    session.add(owner)
    await session.flush()
    await audit(
        session,
        org_id=org_id,
        actor_id=owner_id if joined else None,
        action="organization.created",
        entity_type="organization",
        entity_id=org_id,
        before=None,
        after={"name": org.name, "cuit": org.cuit},
        trace_id=trace_id,
    )
    return org, owner
