"""The audit log's rows: append-only, hash-chained per user."""
