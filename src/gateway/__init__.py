"""A credit-metered, OpenAI-compatible API gateway."""
