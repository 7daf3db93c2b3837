"""Money's storage: balances and the ledger, holds (one store per backend), a key's budget,
usage records written with each settlement, and the gateway processes that own holds.
Only `gateway.services.billing` uses it."""
