"""Orders and store inventory, from PostgreSQL (every query by primary key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dashboard import queries
from dashboard.api.models import NOT_FOUND, Limit, Offset, Order, StoreInventory
from dashboard.components import Dashboard, dashboard
from producers.gateway.errors import ApiError

router = APIRouter(prefix="/api", tags=["read API"])
State = Annotated[Dashboard, Depends(dashboard)]


@router.get("/orders/{order_id}", response_model=Order, responses=NOT_FOUND)
async def get_order(order_id: str, state: State) -> Order:
    """An order with its lines and its status history (oldest first)."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(queries.ORDER, order_id)
        if row is None:
            raise ApiError(404, f"order {order_id!r} not found")
        lines = await conn.fetch(queries.ORDER_LINES, order_id)
        history = await conn.fetch(queries.ORDER_HISTORY, order_id)
    return Order.model_validate(
        {**dict(row), "lines": [dict(r) for r in lines], "history": [dict(r) for r in history]}
    )


@router.get("/stores/{store_id}/inventory", response_model=StoreInventory, responses=NOT_FOUND)
async def get_inventory(
    store_id: str, state: State, limit: Limit = 20, offset: Offset = 0
) -> StoreInventory:
    """A store's stock per SKU, by SKU. A store is known from reference data or stock."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        store = await conn.fetchrow(queries.STORE, store_id)
        if store is None and not await conn.fetchval(queries.STORE_HAS_STOCK, store_id):
            raise ApiError(404, f"store {store_id!r} not found")
        rows = await conn.fetch(queries.INVENTORY_PAGE, store_id, limit, offset)
        total = await conn.fetchval(queries.INVENTORY_COUNT, store_id)
    return StoreInventory.model_validate(
        {
            "store_id": store_id,
            "name": store["name"] if store else None,
            "region": store["region"] if store else None,
            "items": [dict(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )
