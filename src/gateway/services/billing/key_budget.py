"""A key's own budget — its spend limit against what it spent and holds, its request cap
against the requests it made — computed here, and only here. (The database's CHECK
constraints guard the same inequalities on the key's row.)"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.billing.key_budgets import KeyBudgetRow

UNLIMITED = 2**62


@dataclass(frozen=True, slots=True)
class KeyBudget:
    spend_limit: int | None
    spent: int
    held: int
    max_requests: int | None
    requests: int

    @classmethod
    def of(cls, row: KeyBudgetRow) -> KeyBudget:
        return cls(row.spend_limit, row.spent, row.held, row.max_requests, row.request_count)

    @property
    def spend_remaining(self) -> int | None:
        """What the key may still spend (its holds count as spent); None without a limit."""
        if self.spend_limit is None:
            return None
        return max(0, self.spend_limit - self.spent - self.held)

    @property
    def requests_remaining(self) -> int | None:
        if self.max_requests is None:
            return None
        return max(0, self.max_requests - self.requests)

    def headroom(self, *, held_by_this: int) -> int:
        """The most one request, holding `held_by_this` on the key, may be charged."""
        if self.spend_limit is None:
            return UNLIMITED
        return self.spend_limit - self.spent - (self.held - held_by_this)

    def refusal_of(self, *, spend_limit: int | None, max_requests: int | None) -> str | None:
        """Why new limits cannot apply to this key (they are below what it already used), if so."""
        if spend_limit is not None and spend_limit < self.spent + self.held:
            return "spend_limit"
        if max_requests is not None and max_requests < self.requests:
            return "max_requests"
        return None
