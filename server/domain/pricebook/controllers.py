"""/pricebook: categories, items, regional price lists, complexity multipliers, price resolution, CSV."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.pricebook import services
from server.lib.errors import AppError
from server.lib.pagination import MAX_LIMIT
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode
from shared.permissions import Permission
from shared.pricing import Complexity, ItemKind
from shared.schemas.pricebook import (
    Category,
    CategoryCreate,
    CategoryUpdate,
    ComplexityMultipliers,
    ComplexityUpdate,
    ImportResult,
    Item,
    ItemCreate,
    ItemPage,
    ItemUpdate,
    PriceList,
    PriceListCreate,
    PriceListUpdate,
    ResolvedPrice,
)

READ = [requires(Permission.PRICEBOOK_READ)]
WRITE = [requires(Permission.PRICEBOOK_WRITE)]


class PriceBookController(Controller):
    path = "/pricebook"
    tags = ["pricebook"]

    # ------------------------------------------------------------------ categories

    @get("/categories", guards=READ, operation_id="ListPriceBookCategories")
    async def list_categories(self, db_session: NamedDependency[AsyncSession]) -> list[Category]:
        return await services.list_categories(db_session)

    @post("/categories", guards=WRITE, operation_id="CreatePriceBookCategory")
    async def create_category(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[CategoryCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Category:
        return await services.create_category(db_session, caller(request), data, trace_id_of(request.scope))

    @patch("/categories/{category_id:uuid}", guards=WRITE, operation_id="UpdatePriceBookCategory")
    async def update_category(
        self,
        request: Request[Any, Any, Any],
        category_id: FromPath[uuid.UUID],
        data: Annotated[CategoryUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Category:
        return await services.update_category(
            db_session, caller(request), category_id, data, trace_id_of(request.scope)
        )

    # ------------------------------------------------------------------ items

    @get("/items", guards=READ, operation_id="ListPriceBookItems", summary="Items by code; ?q= name or code")
    async def list_items(
        self,
        db_session: NamedDependency[AsyncSession],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        category_id: Annotated[uuid.UUID | None, QueryParameter(name="categoryId")] = None,
        kind: FromQuery[ItemKind | None] = None,
        active: FromQuery[bool | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> ItemPage:
        return await services.list_items(
            db_session, q=q, category_id=category_id, kind=kind, active=active, limit=limit, offset=offset
        )

    @post("/items", guards=WRITE, operation_id="CreatePriceBookItem", summary="A new item (a taken code is a 409)")
    async def create_item(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[ItemCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Item:
        return await services.create_item(db_session, caller(request), data, trace_id_of(request.scope))

    @get(
        "/items.csv",
        guards=READ,
        operation_id="ExportPriceBookCsv",
        summary="Every item as CSV (?excel=true: ';' and decimal comma, for Excel in es-AR)",
        media_type="text/csv",
    )
    async def export_csv(
        self, db_session: NamedDependency[AsyncSession], excel: FromQuery[bool] = False
    ) -> Response[str]:
        body = await services.export_csv(db_session, excel_ar=excel)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="lista-de-precios.csv"'},
        )

    @post(
        "/items/import",
        guards=WRITE,
        operation_id="ImportPriceBookCsv",
        summary="text/csv body; all or nothing: any bad line is a 422 listing every one, else upsert by code",
        status_code=200,
    )
    async def import_csv(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> ImportResult:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = raw.decode("cp1252")  # what Excel in Spanish saves as "CSV"
            except UnicodeDecodeError:
                raise AppError(
                    ErrorCode.PRICEBOOK_IMPORT_INVALID,
                    "El archivo no es texto: guardalo como CSV (UTF-8) y volvé a subirlo.",
                ) from None
        return await services.import_csv(db_session, caller(request), text, trace_id_of(request.scope))

    @get("/items/{item_id:uuid}", guards=READ, operation_id="GetPriceBookItem")
    async def get_item(self, item_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]) -> Item:
        return services.to_item(await services.get_item(db_session, item_id))

    @patch("/items/{item_id:uuid}", guards=WRITE, operation_id="UpdatePriceBookItem")
    async def update_item(
        self,
        request: Request[Any, Any, Any],
        item_id: FromPath[uuid.UUID],
        data: Annotated[ItemUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Item:
        return await services.update_item(db_session, caller(request), item_id, data, trace_id_of(request.scope))

    # ------------------------------------------------------------------ price lists and complexity

    @get("/price-lists", guards=READ, operation_id="ListPriceLists", summary="Regional price lists, one a zone")
    async def list_price_lists(self, db_session: NamedDependency[AsyncSession]) -> list[PriceList]:
        return await services.list_price_lists(db_session)

    @post("/price-lists", guards=WRITE, operation_id="CreatePriceList")
    async def create_price_list(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[PriceListCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> PriceList:
        return await services.create_price_list(db_session, caller(request), data, trace_id_of(request.scope))

    @patch("/price-lists/{price_list_id:uuid}", guards=WRITE, operation_id="UpdatePriceList")
    async def update_price_list(
        self,
        request: Request[Any, Any, Any],
        price_list_id: FromPath[uuid.UUID],
        data: Annotated[PriceListUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> PriceList:
        return await services.update_price_list(
            db_session, caller(request), price_list_id, data, trace_id_of(request.scope)
        )

    @get("/complexity", guards=READ, operation_id="GetComplexityMultipliers")
    async def get_complexity(self, db_session: NamedDependency[AsyncSession]) -> ComplexityMultipliers:
        return await services.get_complexity(db_session)

    @put("/complexity", guards=WRITE, operation_id="UpdateComplexityMultipliers")
    async def update_complexity(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[ComplexityUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> ComplexityMultipliers:
        return await services.update_complexity(db_session, caller(request), data, trace_id_of(request.scope))

    @get(
        "/price",
        guards=READ,
        operation_id="ResolvePrice",
        summary="A job line's unit price: zone price > base × zone multiplier, then × complexity",
    )
    async def resolve(
        self,
        db_session: NamedDependency[AsyncSession],
        item_id: Annotated[uuid.UUID, QueryParameter(name="itemId")],
        zone: Annotated[str | None, QueryParameter(max_length=60)] = None,
        complexity: FromQuery[Complexity] = Complexity.NORMAL,
    ) -> ResolvedPrice:
        return await services.price_for(db_session, item_id, zone, complexity)


ROUTES = [PriceBookController]
