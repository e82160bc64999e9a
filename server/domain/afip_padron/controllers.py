"""GET /afip/padron/{cuit} (customer data from AFIP) and POST /organization/padron-refresh (onboarding)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.afip_padron import services
from server.domain.auth.guards import caller, requires
from server.lib.context import resources_of
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode, message_of
from shared.permissions import Permission
from shared.schemas.base import ErrorBody
from shared.schemas.organization import OrganizationSettings
from shared.schemas.padron import PadronPerson


def _error(*codes: ErrorCode) -> ResponseSpec:
    described = " / ".join(f"`{code.value}`: {message_of(code)}" for code in codes)
    return ResponseSpec(data_container=ErrorBody, description=described)


_UNAVAILABLE = _error(ErrorCode.PADRON_UNAVAILABLE, ErrorCode.CAPABILITY_DISABLED)
_NOT_CONFIGURED = _error(ErrorCode.PADRON_NOT_CONFIGURED)
_NOT_FOUND = _error(ErrorCode.PADRON_CUIT_NOT_FOUND)


class PadronController(Controller):
    path = "/afip/padron"
    tags = ["afip"]

    @get(
        "/{cuit:str}",
        guards=[requires(Permission.CUSTOMERS_WRITE)],
        operation_id="LookupAfipPadron",
        summary="A CUIT's name, kind, fiscal address, IVA condition and activities from AFIP's padrón A5",
        description=(
            "For creating a customer: `customerDraft` can be sent to POST /customers as it is (add a phone). "
            "Answers are reused for 24 h (public registry data). Errors: 422 `cuit_invalid` (details name the "
            "problem, e.g. `check_digit`); 404 `padron_cuit_not_found`; 409 `padron_not_configured` (the "
            "organisation has no AFIP certificate: the owner uploads it in Configuración > AFIP); 503 "
            "`padron_unavailable` or `capability_disabled`, with Retry-After."
        ),
        responses={
            404: _NOT_FOUND,
            409: _NOT_CONFIGURED,
            422: _error(ErrorCode.CUIT_INVALID),
            503: _UNAVAILABLE,
        },
    )
    async def lookup(self, request: Request[Any, Any, Any], cuit: FromPath[str]) -> PadronPerson:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await services.lookup(resources_of(request), ctx.org_id, cuit)


class OrganizationPadronController(Controller):
    path = "/organization"
    tags = ["organization"]

    @post(
        "/padron-refresh",
        guards=[requires(Permission.ORG_WRITE)],
        operation_id="RefreshOrganizationFromPadron",
        summary="Fill the organisation's razón social, fiscal address and IVA condition from AFIP's padrón",
        description=(
            "Asks AFIP now (not the 24 h cache) for the organisation's own CUIT, stores what it says and records "
            "the change in the audit log. Same errors as GET /afip/padron/{cuit}."
        ),
        status_code=200,
        responses={404: _NOT_FOUND, 409: _NOT_CONFIGURED, 503: _UNAVAILABLE},
    )
    async def refresh(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> OrganizationSettings:
        return await services.refresh_organization(
            db_session, resources_of(request), caller(request), trace_id_of(request.scope)
        )


ROUTES = [PadronController, OrganizationPadronController]
