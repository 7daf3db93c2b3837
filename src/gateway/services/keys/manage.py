"""A customer's keys: create, change, rotate, delete — every change audited, every
revocation effective at once on every process. Another customer's key is never found."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.db.console import sessions as console_sessions
from gateway.db.database import Database, Tx
from gateway.db.keys import api_keys
from gateway.db.keys.api_keys import KeyPolicy, KeyRow
from gateway.db.plans.plans import LIMIT_FIELDS
from gateway.errors import Forbidden, InvalidRequest, NotFound
from gateway.ids import new_id
from gateway.services.audit.chain import Auditor
from gateway.services.billing import balances
from gateway.services.keys import allowlist
from gateway.services.keys import format as keys
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.format import Environment

SECONDS_PER_DAY = 86_400
UNSET: Any = object()  # "not given" in an update, as opposed to an explicit null


class KeyLimitReached(Forbidden):
    code = "key_limit_reached"
    default_message = "your plan allows no more API keys"


@dataclass(frozen=True, slots=True)
class Created:
    key: KeyRow
    api_key: str


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """An update: fields left UNSET keep their value; None clears a limit or expiry."""

    name: Any = UNSET
    active: Any = UNSET
    expiration_days: Any = UNSET
    max_requests: Any = UNSET
    spend_limit: Any = UNSET  # nano-credits
    ip_allowlist: Any = UNSET
    domain_referrers: Any = UNSET
    allowed_models: Any = UNSET
    rate_limits: Any = UNSET


def policy_from(changes: KeyChanges, base: KeyPolicy, *, now: float) -> KeyPolicy:
    """Validated policy: the rules for each field live here, one place for create and update."""
    policy = base
    if changes.expiration_days is not UNSET:
        days = changes.expiration_days
        policy = replace(policy, expires_at=None if days is None else now + days * SECONDS_PER_DAY)
    if changes.max_requests is not UNSET:
        policy = replace(policy, max_requests=changes.max_requests)
    if changes.spend_limit is not UNSET:
        policy = replace(policy, spend_limit=changes.spend_limit)
    if changes.ip_allowlist is not UNSET:
        policy = replace(policy, ip_allowlist=tuple(allowlist.normalise_ip_allowlist(changes.ip_allowlist or [])))
    if changes.domain_referrers is not UNSET:
        policy = replace(policy, domain_referrers=tuple(allowlist.normalise_domains(changes.domain_referrers or [])))
    if changes.allowed_models is not UNSET:
        policy = replace(policy, allowed_models=tuple(m.strip() for m in changes.allowed_models or [] if m.strip()))
    if changes.rate_limits is not UNSET:
        unknown = set(changes.rate_limits or {}) - set(LIMIT_FIELDS)
        if unknown:
            raise InvalidRequest(f"unknown limits: {', '.join(sorted(unknown))}", param="rate_limits")
        policy = replace(policy, rate_limits=dict(changes.rate_limits or {}))
    return policy


async def create(
    db: Database,
    *,
    user_id: str,
    name: str,
    environment: Environment,
    changes: KeyChanges,
    max_keys: int | None,
    pepper: bytes,
    auditor: Auditor,
) -> Created:
    now = time.time()
    policy = policy_from(changes, KeyPolicy(), now=now)
    new_key = keys.generate(environment, pepper)
    async with db.transaction() as tx:
        if max_keys is not None and await api_keys.count_live(tx, user_id) >= max_keys:
            raise KeyLimitReached(f"your plan allows {max_keys} API keys; delete one or upgrade")
        key = await api_keys.insert(
            tx, key_id=new_id("key"), user_id=user_id, name=name, environment=environment,
            key_hash=new_key.hash, mask=new_key.mask, policy=policy, now=now,
        )  # fmt: skip
        await auditor.record(tx, user_id=user_id, action="key.created", actor="customer", key_id=key.id,
                             details={"name": name, "environment": environment, **_policy_details(policy)})  # fmt: skip
    return Created(key, new_key.secret)


def _policy_details(policy: KeyPolicy) -> dict[str, Any]:
    return {
        "expires_at": policy.expires_at,
        "spend_limit": policy.spend_limit,
        "max_requests": policy.max_requests,
        "ip_allowlist": list(policy.ip_allowlist),
        "domain_referrers": list(policy.domain_referrers),
        "allowed_models": list(policy.allowed_models),
        "rate_limits": policy.rate_limits,
    }


async def _owned(tx: Tx, *, user_id: str, key_id: str) -> KeyRow:
    key = await api_keys.get(tx, user_id=user_id, key_id=key_id)
    if key is None:
        raise NotFound("no such API key", param="key_id")
    return key


async def update(
    db: Database, *, user_id: str, key_id: str, changes: KeyChanges, auth: KeyAuthenticator, auditor: Auditor
) -> KeyRow:
    async with db.transaction() as tx:
        key = await _owned(tx, user_id=user_id, key_id=key_id)
        policy = policy_from(changes, key.policy, now=time.time())
        name = key.name if changes.name is UNSET else changes.name
        active = key.active if changes.active is UNSET else bool(changes.active)
        await _check_new_limits(tx, user_id=user_id, key=key, policy=policy)
        await api_keys.update(tx, key_id=key_id, name=name, active=active, policy=policy)
        await balances.restart_key_counts(tx, user_id=user_id, key_id=key_id)
        key_hash = await api_keys.hash_of(tx, user_id=user_id, key_id=key_id)
        if not active and key_hash is not None:  # revoked: its console sessions end for good,
            await console_sessions.delete_for_key(tx, key_hash=key_hash)  # not just while it is off
        await auditor.record(tx, user_id=user_id, action="key.updated", actor="customer", key_id=key_id,
                             details={"name": name, "active": active, **_policy_details(policy)})  # fmt: skip
        updated = await _owned(tx, user_id=user_id, key_id=key_id)
    if key_hash is not None:
        await auth.forget_key(key_hash)  # the new policy applies at once, everywhere
    return updated


async def _check_new_limits(tx: Tx, *, user_id: str, key: KeyRow, policy: KeyPolicy) -> None:
    """New limits must leave room for what the key already spent, holds and requested."""
    used = await balances.key_usage(tx, user_id=user_id, key_id=key.id, held=key.held)
    refused = used.refusal_of(spend_limit=policy.spend_limit, max_requests=policy.max_requests)
    if refused == "spend_limit":
        raise InvalidRequest("spend_limit is below what this key already spent and holds", param="spend_limit")
    if refused == "max_requests":
        raise InvalidRequest("max_requests is below what this key already made", param="max_requests")


async def rotate(
    db: Database,
    *,
    user_id: str,
    key_ids: Sequence[str],
    pepper: bytes,
    auth: KeyAuthenticator,
    auditor: Auditor,
) -> list[Created]:
    """New secrets for the same keys (same ids, settings and usage); the old ones die at once."""
    rotated, old_hashes = [], []
    now = time.time()
    async with db.transaction() as tx:
        for key_id in key_ids:
            key = await _owned(tx, user_id=user_id, key_id=key_id)
            new_key = keys.generate(key.environment, pepper)  # type: ignore[arg-type]  # stored envs are valid
            old_hashes.append(
                await api_keys.rotate(tx, key_id=key_id, key_hash=new_key.hash, mask=new_key.mask, now=now)
            )
            await auditor.record(tx, user_id=user_id, action="key.rotated", actor="customer", key_id=key_id)
            rotated.append(Created(replace(key, mask=new_key.mask, rotated_at=now), new_key.secret))
    for old in old_hashes:
        await auth.forget_key(old)
    return rotated


async def rotate_for(
    db: Database,
    *,
    user_id: str,
    key_id: str,
    every: bool,
    environment: str | None,
    pepper: bytes,
    auth: KeyAuthenticator,
    auditor: Auditor,
) -> list[Created]:
    """Rotate one of the user's keys — or, with `every`, all of them (or one environment's),
    `key_id` being any of the user's keys."""
    async with db.read() as tx:
        await _owned(tx, user_id=user_id, key_id=key_id)  # 404 for another user's key
        ids = [key_id]
        if every:
            found = await api_keys.list_for_user(tx, user_id=user_id, limit=10_000, environment=environment)
            ids = [key.id for key in found]
    return await rotate(db, user_id=user_id, key_ids=ids, pepper=pepper, auth=auth, auditor=auditor)


async def delete(db: Database, *, user_id: str, key_id: str, auth: KeyAuthenticator, auditor: Auditor) -> None:
    """Delete a key; it stops working at once, on every process. Another user's key is 404."""
    async with db.transaction() as tx:
        key_hash = await api_keys.delete(tx, user_id=user_id, key_id=key_id, now=time.time())
        if key_hash is None:
            raise NotFound("no such API key", param="key_id")
        await auditor.record(tx, user_id=user_id, action="key.deleted", actor="customer", key_id=key_id)
    await auth.forget_key(key_hash)


async def list_keys(
    db: Database, *, user_id: str, limit: int, after: str | None, environment: str | None = None
) -> Sequence[KeyRow]:
    async with db.read() as tx:
        return await api_keys.list_for_user(tx, user_id=user_id, limit=limit, after=after, environment=environment)
