"""API keys: stored by keyed hash, with their policy."""
