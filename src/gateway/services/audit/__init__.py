"""The audit trail: who did what to which key, plan, limit or balance — append-only and
hash-chained per user (`chain`)."""
