"""The one owner of money. Only this package changes balances, holds, a key's budget or the
ledger (usage, signup credits, admins' credits, plan grants, payments) and reads the storage
that keeps them.

- `money`: the units (integer nano-credits) and the one rounding rule;
- `pricing`, `estimate`: what a request costs, and the token counts the gateway works out;
- `holds`: a request's hold — placed before it, settled or released after it, exactly once;
- `credits`: credits that are not usage (signup, admin top-ups, plan grants), once per reference;
- `key_budget`: a key's spend limit and request cap, computed in one place;
- `sweeping`: crash recovery (holds of dead processes are released);
- `balances`: reads for everyone else.
"""
