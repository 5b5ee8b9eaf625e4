"""Orders and inventory: one authoritative stock state per store, kept in PostgreSQL."""
