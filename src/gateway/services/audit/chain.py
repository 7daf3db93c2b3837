"""The audit trail: who did what to which key, plan, limit or balance — append-only and
hash-chained per user, so that removing, reordering or editing any entry is detected.

Each entry's `hash` is an HMAC (key derived from SECRET_KEY) over the previous entry's hash
and all of its own fields; without the secret, a rewritten chain cannot be made to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cachetools import TTLCache

from gateway.db.audit import log as audit
from gateway.db.audit.log import AuditRow
from gateway.db.database import Database, Tx

GENESIS = "0" * 64
REPEAT_WINDOW_SECONDS = 60.0
REPEATS_REMEMBERED = 10_000


def audit_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"gateway/audit-chain/v1", hashlib.sha256).digest()


def _mac(key: bytes, entry: AuditRow) -> str:
    fields = [entry.prev_hash, entry.user_id, str(entry.seq), entry.action, entry.key_id or "",
              entry.actor, entry.details, repr(float(entry.created_at))]  # fmt: skip
    return hmac.new(key, "\x1f".join(fields).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class BrokenLink:
    user_id: str
    seq: int
    entry_id: int | None
    reason: str


def verify_chain(key: bytes, entries: list[AuditRow]) -> BrokenLink | None:
    """The first entry that does not follow from the one before it, if any."""
    expected_prev, expected_seq = GENESIS, 1
    for entry in entries:
        if entry.seq != expected_seq:
            return BrokenLink(entry.user_id, expected_seq, entry.id, "an entry is missing or out of order")
        if entry.prev_hash != expected_prev:
            return BrokenLink(entry.user_id, entry.seq, entry.id, "does not chain to the previous entry")
        if not hmac.compare_digest(entry.hash, _mac(key, entry)):
            return BrokenLink(entry.user_id, entry.seq, entry.id, "its contents were changed")
        expected_prev, expected_seq = entry.hash, entry.seq + 1
    return None


async def verify(db: Database, *, key: bytes, user_id: str | None) -> tuple[int, BrokenLink | None]:
    """(entries checked, first broken link) for one user or all."""
    async with db.read() as tx:
        users = [user_id] if user_id else await audit.users_with_entries(tx)
        checked = 0
        for user in users:
            entries = list(await audit.chain(tx, user))
            checked += len(entries)
            broken = verify_chain(key, entries)
            if broken is not None:
                return checked, broken
    return checked, None


class Auditor:
    """Appends entries to users' chains, with the chain key bound."""

    def __init__(self, key: bytes, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.key = key
        # What `record_now_unless_recent` wrote lately, so that it does not write it again.
        # Bounded: a flood of distinct subjects costs this much memory at most.
        self._recent: TTLCache[tuple[str, str, str], bool] = TTLCache(
            maxsize=REPEATS_REMEMBERED, ttl=REPEAT_WINDOW_SECONDS, timer=timer
        )

    async def record(
        self,
        tx: Tx,
        *,
        user_id: str,
        action: str,
        actor: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry inside the caller's transaction (so it commits with the change)."""
        await audit.lock_chain(tx, user_id)  # one writer per user's chain at a time
        previous = await audit.last(tx, user_id)
        seq, prev_hash = (previous[0] + 1, previous[1]) if previous else (1, GENESIS)
        draft = AuditRow(
            id=0, user_id=user_id, seq=seq, action=action, key_id=key_id, actor=actor,
            details=json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
            created_at=time.time(), prev_hash=prev_hash, hash="",
        )  # fmt: skip
        if not await audit.append(tx, replace(draft, hash=_mac(self.key, draft))):
            raise RuntimeError("audit chain fork despite the chain lock")

    async def record_now(
        self,
        db: Database,
        *,
        user_id: str,
        action: str,
        actor: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry in a transaction of its own (e.g. a refused request)."""
        async with db.transaction() as tx:
            await self.record(tx, user_id=user_id, action=action, actor=actor, key_id=key_id, details=details)

    async def record_now_unless_recent(
        self,
        db: Database,
        *,
        user_id: str,
        action: str,
        actor: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """`record_now`, unless this process recorded the same action on the same key within
        the last minute. For what anyone holding a key can repeat at will (a refused request):
        each entry is a write that takes the user's chain lock, and a thousand say no more than
        one."""
        seen = (user_id, key_id or "", action)
        if seen in self._recent:
            return
        self._recent[seen] = True  # before the await: concurrent repeats see it
        try:
            await self.record_now(db, user_id=user_id, action=action, actor=actor, key_id=key_id, details=details)
        except BaseException:
            self._recent.pop(seen, None)  # not written: the next one tries again
            raise
