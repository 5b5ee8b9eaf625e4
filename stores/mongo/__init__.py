"""MongoDB (FerretDB locally) through PyMongo's async API: client, indexes, writers, reads.

Only operations FerretDB 1.x supports are used (see shared STACK notes): no
transactions, no change streams, no positional or arrayFilters updates, aggregation with
``$match $group $sort $limit $skip`` and ``$sum`` only, collection-level ``bulk_write``.
"""
