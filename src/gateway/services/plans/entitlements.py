"""What a plan (and a key) entitles a request to: models, streaming, output size; and the
rate limits that apply to a user (the plan's, with an admin's overrides)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from gateway.db.plans.plans import LIMIT_FIELDS, PlanRow
from gateway.errors import Forbidden, InvalidRequest


class ModelNotAllowed(Forbidden):
    code = "model_not_allowed"
    default_message = "this model is not allowed"


class FeatureNotInPlan(Forbidden):
    code = "feature_not_in_plan"
    default_message = "this feature is not part of your plan"


def model_allowed(model: str, patterns: tuple[str, ...]) -> bool:
    """Globs such as `openai/*`; no patterns means every model."""
    return not patterns or any(fnmatchcase(model, pattern) for pattern in patterns)


def effective_limits(plan: PlanRow, overrides: dict[str, int | None]) -> dict[str, int | None]:
    """The plan's limits with an admin's per-user overrides (a None override = unlimited)."""
    return {name: overrides[name] if name in overrides else plan.limits.get(name) for name in LIMIT_FIELDS}


def check_request(plan: PlanRow, *, model: str, key_models: tuple[str, ...], stream: bool,
                  max_output: int | None) -> None:  # fmt: skip
    """The plan's (and the key's) entitlements for one chat request."""
    if not model_allowed(model, plan.allowed_models) or not model_allowed(model, key_models):
        raise ModelNotAllowed(f"the model {model!r} is not allowed for this key or plan", param="model")
    if stream and not plan.features.get("streaming", False):
        raise FeatureNotInPlan("streaming is not part of your plan", param="stream")
    limit = plan.max_tokens_per_request
    if limit is not None and max_output is not None and max_output > limit:
        raise InvalidRequest(f"max_tokens may be at most {limit} on your plan", param="max_tokens")
