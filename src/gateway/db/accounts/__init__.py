"""Users: identity, status, plan assignment and limit overrides."""
