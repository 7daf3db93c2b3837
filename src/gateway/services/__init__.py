"""Business rules. No FastAPI, no SQL: services call repositories in `gateway.db`."""
