"""Running the gateway: metrics, health probes and graceful shutdown belong here (the
operations issue builds them)."""
