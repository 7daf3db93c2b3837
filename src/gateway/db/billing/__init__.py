"""Money's storage: balances and the ledger, holds (one store per backend), a key's budget,
usage records written with each settlement, and the gateway processes that own holds.
Only `gateway.services.billing` uses it — except the usage record's type (`usage.UsageRow`),
which reports read (the call builds it, from `services.billing.balances`); tests/unit/test_layout.py
checks both."""
