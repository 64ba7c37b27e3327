"""/api/products: the shop's catalog."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from engagement.domain.catalog import ProductInput, ProductRefused
from engagement.domain.orders import PRODUCT_ID_PATTERN
from engagement.errors import InvalidRequest, NotFound
from engagement.http.context import ApiServices
from engagement.http.routers.params import Cursor, PageSize
from engagement.http.schemas import ProductDeleted, ProductPage, ProductStored, ProductView, answers
from engagement.http.views import page_view, product_view

ProductId = Annotated[str, Path(pattern=PRODUCT_ID_PATTERN, description="The shop's product id")]
CategoryFilter = Annotated[str | None, Query(min_length=1, max_length=100, description="Only this category")]
StockFilter = Annotated[bool | None, Query(alias="inStock", description="Only products in (true) or out of stock")]


def router(api: ApiServices) -> Router:
    routes = Router()

    @routes.get("/api/products", responses=answers(ProductPage))
    def list_products(
        limit: PageSize = 25, cursor: Cursor = None, category: CategoryFilter = None, in_stock: StockFilter = None
    ) -> dict[str, Any]:
        """Products by id, or a category's; filtered pages may hold fewer than limit while nextCursor goes on."""
        page = api.catalog.page(limit=limit, cursor=cursor, category=category, in_stock=in_stock)
        return page_view(page, product_view)

    @routes.get("/api/products/<product_id>", responses=answers(ProductView))
    def get_product(product_id: ProductId) -> dict[str, Any]:
        product = api.catalog.get(product_id)
        if product is None:
            raise NotFound(f"no product {product_id!r}")
        return product_view(product)

    @routes.put("/api/products/<product_id>", responses=answers(ProductStored))
    def put_product(product_id: ProductId, product: Annotated[ProductInput, Body()]) -> Response[str]:
        """Add or replace a product. Its page and picture must be on the shop's own domains. An older version
        (updatedAt) than the stored one changes nothing and says so (stored: false)."""
        existed = api.catalog.get(product_id) is not None
        try:
            stored = api.catalog.put(product_id, product)
        except ProductRefused as refused:
            raise InvalidRequest((refused.field, refused.message)) from None
        shown = stored.product if stored.stored else (api.catalog.get(product_id) or stored.product)
        body = product_view(shown) | {"stored": stored.stored}
        status = 201 if stored.stored and not existed else 200
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))

    @routes.delete("/api/products/<product_id>", responses=answers(ProductDeleted))
    def delete_product(product_id: ProductId) -> dict[str, Any]:
        if not api.catalog.delete(product_id):
            raise NotFound(f"no product {product_id!r}")
        return {"productId": product_id, "deleted": True}

    return routes
