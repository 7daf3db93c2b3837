"""Money's storage: balances and the ledger, holds (one store per backend), a key's budget,
usage records written with each settlement, and the gateway processes that own holds.
Only `gateway.services.billing` uses it — except the usage record's type (`usage.UsageRow`),
which the call builds and reports read (tests/unit/test_layout.py checks both)."""
