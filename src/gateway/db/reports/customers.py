"""Finding customers for admins: who they are, their balance and recent spend (reads only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Tx, where


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: str
    email: str
    username: str
    role: str
    status: str
    plan_id: str
    created_at: float
    credits: int
    reserved: int
    spent: int  # the cost of their usage since the search's `spent_since`


def like_pattern(text: str) -> str:
    """`%text%` for LIKE … ESCAPE '\\', with the text's own wildcards matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    tx: Tx, *, query: str | None, spent_since: float, limit: int, after: str | None = None
) -> Sequence[CustomerRow]:
    """Users whose email contains `query` (ignoring case) or whose id contains it, by id, after
    the id `after`; every user when `query` is None."""
    conditions, args = where(after=("u.id >", after))
    if query is not None:
        args.append(like_pattern(query.lower()))
        # Both sides lowered: LIKE ignores ASCII case on SQLite but not on PostgreSQL.
        match = f"(LOWER(u.email) LIKE ${len(args)} ESCAPE '\\' OR u.id LIKE ${len(args)} ESCAPE '\\')"
        conditions = f"{conditions} AND {match}" if conditions else f"WHERE {match}"
    since, limited = len(args) + 1, len(args) + 2
    rows = await tx.fetchall(
        "SELECT u.id, u.email, u.username, u.role, u.status, u.plan_id, u.created_at, "
        "COALESCE(b.credits, 0) AS credits, COALESCE(b.reserved, 0) AS reserved, "
        "(SELECT COALESCE(SUM(r.cost), 0) FROM usage_records r "
        f" WHERE r.user_id = u.id AND r.created_at >= ${since}) AS spent "
        f"FROM users u LEFT JOIN balances b ON b.user_id = u.id {conditions} "
        f"ORDER BY u.id LIMIT ${limited}",
        *args,
        float(spent_since),
        limit,
    )
    return [
        CustomerRow(
            id=r["id"],
            email=r["email"],
            username=r["username"],
            role=r["role"],
            status=r["status"],
            plan_id=r["plan_id"],
            created_at=r["created_at"],
            credits=int(r["credits"]),
            reserved=int(r["reserved"]),
            spent=int(r["spent"]),
        )
        for r in rows
    ]
