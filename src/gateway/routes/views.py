"""How records are shown in JSON: credits as exact numbers, never a full key."""

from __future__ import annotations

import json
from typing import Any

from gateway.db.accounts.users import UserRow
from gateway.db.audit.log import AuditRow
from gateway.db.billing.ledger import LedgerRow
from gateway.db.billing.usage import UsageRow
from gateway.db.keys.api_keys import KeyRow
from gateway.db.plans.plans import LIMIT_FIELDS, PlanRow
from gateway.db.reports.usage import Totals
from gateway.responses import credits


def plan_view(plan: PlanRow) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "price_per_month": credits(plan.price_per_month),
        "included_credits": credits(plan.included_credits),
        **{name: plan.limits.get(name) for name in LIMIT_FIELDS},
        "max_tokens_per_request": plan.max_tokens_per_request,
        "allowed_models": list(plan.allowed_models),
        "max_api_keys": plan.max_api_keys,
        "max_concurrent_requests": plan.max_concurrent_requests,
        "features": plan.features,
        "markup": plan.markup,
        "stripe_price_id": plan.stripe_price_id,
    }


def key_view(key: KeyRow) -> dict[str, Any]:
    policy = key.policy
    return {
        "id": key.id,
        "key_name": key.name,
        "api_key": key.mask,
        "environment_tag": key.environment,
        "active": key.active,
        "expires_at": policy.expires_at,
        "created_at": key.created_at,
        "rotated_at": key.rotated_at,
        "max_requests": policy.max_requests,
        "spend_limit": None if policy.spend_limit is None else credits(policy.spend_limit),
        "ip_allowlist": list(policy.ip_allowlist),
        "domain_referrers": list(policy.domain_referrers),
        "allowed_models": list(policy.allowed_models),
        "rate_limits": policy.rate_limits,
    }


def totals_view(totals: Totals) -> dict[str, Any]:
    return {
        "requests": totals.requests,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.prompt_tokens + totals.completion_tokens,
        "credits_spent": credits(totals.cost),
        "last_request_at": totals.last_at,
    }


def usage_view(row: UsageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "key_id": row.key_id,
        "environment": row.environment,
        "model": row.model,
        "stream": row.stream,
        "outcome": row.outcome,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "usage_source": row.usage_source,
        "cost": credits(row.cost),
        "written_off": credits(row.written_off),
        "duration_ms": row.duration_ms,
        "created_at": row.created_at,
    }


def ledger_view(row: LedgerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "amount": credits(row.amount),
        "credits_after": credits(row.credits_after),
        "reserved_after": credits(row.reserved_after),
        "key_id": row.key_id,
        "description": row.description,
        "created_at": row.created_at,
    }


def audit_view(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "action": row.action,
        "key_id": row.key_id,
        "actor": row.actor,
        "details": json.loads(row.details),
        "created_at": row.created_at,
    }


def profile_view(user: UserRow) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "email": user.email,
        "username": user.username,
        "status": user.status,
        "plan": user.plan_id,
        "plan_expires_at": user.plan_expires_at,
        "created_at": user.created_at,
    }
