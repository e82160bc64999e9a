"""GET|PATCH /organization: my organisation's settings."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.organizations import services
from server.lib.tracing import trace_id_of
from shared.permissions import Permission
from shared.schemas.organization import OrganizationSettings, OrganizationUpdate


class OrganizationController(Controller):
    path = "/organization"
    tags = ["organization"]

    @get("/", guards=[requires(Permission.ORG_READ)], operation_id="GetOrganization")
    async def get_settings(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> OrganizationSettings:
        return services.to_settings(await services.current_organization(db_session, caller(request)))

    @patch(
        "/",
        guards=[requires(Permission.ORG_WRITE)],
        operation_id="UpdateOrganization",
        summary="Business data for invoices, working hours, default point of sale",
    )
    async def update_settings(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[OrganizationUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> OrganizationSettings:
        return await services.update_organization(db_session, caller(request), data, trace_id_of(request.scope))


ROUTES = [OrganizationController]
