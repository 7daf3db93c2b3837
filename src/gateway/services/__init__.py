"""Business rules, grouped by domain — no FastAPI, no SQL (services call the storage in
`gateway.db`, grouped the same way):

- `billing`: money — units, prices, holds, credits, key budgets, crash sweeping (its only owner);
- `call`: the gateway call, in the SPEC's seven steps;
- `keys`: key format, authentication, a customer's keys, allowlists;
- `accounts`: signing up, profiles, finding a customer;
- `plans`: tiers, entitlements, plan periods;
- `limits`: rate limits, admins' overrides, the register throttle;
- `catalog`: the model catalog and its prices;
- `audit`: the hash-chained audit trail;
- `reports`: what customers and admins see of usage;
- `payments`: Stripe; `operations`: the home of metrics and graceful shutdown (next).
"""
