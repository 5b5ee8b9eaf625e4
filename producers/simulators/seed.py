"""Reference data into PostgreSQL: a catalog's stores, products and known customers.

Idempotent: rows are inserted with ``ON CONFLICT DO NOTHING``, so seeding the same
catalog again (or another seed's catalog over it) never fails and never overwrites.
The customers the simulator invents on purpose (unknown ids) are never written.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from core.errors import PermanentError
from producers.simulators.catalog import Catalog
from stores.postgres.pool import quote_ident

# Store ids are drawn per seed: another seed may put store-08 in another city. The
# position follows the catalog being simulated (the shoppers start around it); the name
# and region stay as first seeded.
_STORES = (
    "insert into stores (store_id, name, region, lat, lon) values ($1, $2, $3, $4, $5) "
    "on conflict (store_id) do update set lat = excluded.lat, lon = excluded.lon"
)
_PRODUCTS = (
    "insert into products (sku, name, category, unit_price, currency, low_stock_threshold) "
    "values ($1, $2, $3, $4, $5, $6) on conflict do nothing"
)
_CUSTOMERS = "insert into customers (customer_id, name) values ($1, $2) on conflict do nothing"


class SeedError(PermanentError):
    """The reference data cannot be written; the message says what to do."""


class ReferenceTablesMissing(SeedError):
    """The stores/products/customers tables do not exist: the schema is not migrated."""


async def seed_reference_data(
    pool_or_dsn: asyncpg.Pool | asyncpg.Connection | str,
    catalog: Catalog,
    *,
    schema: str | None = None,
) -> None:
    """Insert ``catalog``'s stores, products and known customers in one transaction.

    ``schema`` sets the ``search_path`` when a DSN is given (a pool or connection
    brings its own). Raises :class:`ReferenceTablesMissing` if the tables do not exist.
    """
    if isinstance(pool_or_dsn, str):
        settings = {"search_path": quote_ident(schema)} if schema else None
        conn = await asyncpg.connect(pool_or_dsn, server_settings=settings)
        try:
            await _seed(conn, catalog)
        finally:
            await conn.close()
    elif isinstance(pool_or_dsn, asyncpg.Pool):
        async with pool_or_dsn.acquire() as conn:
            await _seed(conn, catalog)
    else:
        await _seed(pool_or_dsn, catalog)


async def _seed(conn: Any, catalog: Catalog) -> None:
    try:
        async with conn.transaction():
            await conn.executemany(
                _STORES, [(s.store_id, s.name, s.region, s.lat, s.lon) for s in catalog.stores]
            )
            await conn.executemany(
                _PRODUCTS,
                [
                    (p.sku, p.name, p.category, p.unit_price, p.currency, p.low_stock_threshold)
                    for p in catalog.products
                ],
            )
            await conn.executemany(_CUSTOMERS, [(c.customer_id, c.name) for c in catalog.customers])
    except asyncpg.UndefinedTableError as exc:
        where = await conn.fetchval("select current_schemas(false)::text")
        raise ReferenceTablesMissing(
            f"{exc} (search_path schemas {where}): the reference tables are not there yet; "
            "run `riverbed migrate` first (or pass --no-seed-db)"
        ) from exc
    except asyncpg.InsufficientPrivilegeError as exc:
        raise SeedError(
            f"{exc}: the app role may not insert reference data; run `riverbed migrate`, "
            "which grants it, or pass --no-seed-db"
        ) from exc
