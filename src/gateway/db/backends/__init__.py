"""The database backends: SQLite (the embedded default) and PostgreSQL (scale-out), each
satisfying `gateway.db.database.Database` and bringing its own hold store."""
