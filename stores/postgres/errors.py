"""Errors of the PostgreSQL store, a branch of the tree in ``core.errors``::

    RiverbedError
    └── MigrationError    a migration cannot be loaded or applied, or a role cannot be
                          given its privileges; the message says which and what to do

Never retried: a person has to change a file, a role or a grant.
"""

from __future__ import annotations

from core.errors import RiverbedError


class MigrationError(RiverbedError):
    """The schema cannot be brought up to date; never retried automatically."""
