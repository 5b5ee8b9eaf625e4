"""PostgreSQL store: schema migrations, role grants and connection pools.

``migrate`` runs as the owner role and grants the app role what workers need;
``create_pool``/``transaction`` are what workers and the read side use at run time.
"""

from stores.postgres.errors import MigrationError
from stores.postgres.migrate import Migration, load_migrations, migrate
from stores.postgres.pool import create_pool, transaction

__all__ = [
    "Migration",
    "MigrationError",
    "create_pool",
    "load_migrations",
    "migrate",
    "transaction",
]
