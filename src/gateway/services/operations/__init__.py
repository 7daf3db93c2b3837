"""Running the gateway: health, metrics and shutdown belong here."""
