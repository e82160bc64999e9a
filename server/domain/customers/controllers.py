"""/customers: create, search, read, edit, archive; addresses; history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.customers import services
from server.lib.pagination import MAX_LIMIT
from server.lib.tracing import trace_id_of
from shared.permissions import Permission
from shared.schemas.customers import (
    Address,
    AddressCreate,
    AddressUpdate,
    Customer,
    CustomerCreate,
    CustomerPage,
    CustomerUpdate,
    HistoryEntry,
)

READ = [requires(Permission.CUSTOMERS_READ)]
WRITE = [requires(Permission.CUSTOMERS_WRITE)]


class CustomerController(Controller):
    path = "/customers"
    tags = ["customers"]

    @get(
        "/",
        guards=READ,
        operation_id="ListCustomers",
        summary="Search by name (typos and accents tolerated), phone fragment, CUIT or DNI",
    )
    async def list_customers(
        self,
        db_session: NamedDependency[AsyncSession],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        archived: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> CustomerPage:
        return await services.list_customers(db_session, q=q, archived=archived, limit=limit, offset=offset)

    @post("/", guards=WRITE, operation_id="CreateCustomer", summary="A new customer (a taken phone is a 409)")
    async def create_customer(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[CustomerCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Customer:
        return await services.create_customer(db_session, caller(request), data, trace_id_of(request.scope))

    @get("/{customer_id:uuid}", guards=READ, operation_id="GetCustomer")
    async def get_customer(
        self, customer_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> Customer:
        return await services.read_customer(db_session, customer_id)

    @patch("/{customer_id:uuid}", guards=WRITE, operation_id="UpdateCustomer")
    async def update_customer(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[uuid.UUID],
        data: Annotated[CustomerUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Customer:
        return await services.update_customer(
            db_session, caller(request), customer_id, data, trace_id_of(request.scope)
        )

    @post(
        "/{customer_id:uuid}/archive",
        guards=WRITE,
        operation_id="ArchiveCustomer",
        summary="Hide from lists (still readable, and in ?archived=true)",
        status_code=200,
    )
    async def archive_customer(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Customer:
        return await services.archive_customer(db_session, caller(request), customer_id, trace_id_of(request.scope))

    @get(
        "/{customer_id:uuid}/history",
        guards=READ,
        operation_id="GetCustomerHistory",
        summary="Jobs, invoices, payments and messages, newest first",
    )
    async def get_history(
        self,
        customer_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = services.HISTORY_LIMIT,
    ) -> list[HistoryEntry]:
        return await services.history(db_session, customer_id, limit)

    @post("/{customer_id:uuid}/addresses", guards=WRITE, operation_id="AddCustomerAddress")
    async def add_address(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[uuid.UUID],
        data: Annotated[AddressCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Address:
        return await services.add_address(db_session, caller(request), customer_id, data, trace_id_of(request.scope))

    @patch("/{customer_id:uuid}/addresses/{address_id:uuid}", guards=WRITE, operation_id="UpdateCustomerAddress")
    async def update_address(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[uuid.UUID],
        address_id: FromPath[uuid.UUID],
        data: Annotated[AddressUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Address:
        return await services.update_address(
            db_session, caller(request), customer_id, address_id, data, trace_id_of(request.scope)
        )

    @delete("/{customer_id:uuid}/addresses/{address_id:uuid}", guards=WRITE, operation_id="DeleteCustomerAddress")
    async def delete_address(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[uuid.UUID],
        address_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await services.delete_address(db_session, caller(request), customer_id, address_id, trace_id_of(request.scope))


ROUTES = [CustomerController]
