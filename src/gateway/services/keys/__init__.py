"""API keys: their format and keyed hashing (`format`), who is calling (`authenticate`),
a customer's keys and their settings (`manage`), and where a key may be used from
(`allowlist`, `client_ip`)."""
