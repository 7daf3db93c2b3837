"""Storage: all SQL (and, for scale-out, Redis), no business rules."""
