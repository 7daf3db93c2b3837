"""API key format, generation, keyed hashing and masking.

A key is `gw_<environment>_` + 43 url-safe random characters (256 bits). Only its
HMAC-SHA256 under a key derived from SECRET_KEY is stored; the full key is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

Environment = Literal["live", "test", "staging", "dev"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
MIN_RANDOM_CHARS = 32

_KEY_PATTERN = re.compile(r"gw_(live|test|staging|dev)_([A-Za-z0-9_-]{32,128})")


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str
    hash: str
    mask: str
    environment: Environment


def hashing_key(secret_key: str) -> bytes:
    """Derive the key-hashing pepper so SECRET_KEY itself is never used for two purposes."""
    return hmac.new(secret_key.encode(), b"gateway/api-key-hash/v1", hashlib.sha256).digest()


def key_hash(api_key: str, pepper: bytes) -> str:
    return hmac.new(pepper, api_key.encode(), hashlib.sha256).hexdigest()


def environment_of(api_key: str) -> Environment | None:
    """The key's environment if it has the gateway's format, else None."""
    match = _KEY_PATTERN.fullmatch(api_key)
    if match is None:
        return None
    env: Environment = match.group(1)  # type: ignore[assignment]  # the pattern admits only these
    return env


def mask(api_key: str) -> str:
    """`gw_live_abcd…wxyz`: enough to recognise a key, useless to an attacker."""
    env = environment_of(api_key)
    if env is None:
        return "…"
    return mask_of(api_key, env)


def generate(environment: Environment, pepper: bytes) -> NewKey:
    secret = f"gw_{environment}_{secrets.token_urlsafe(32)}"
    return NewKey(
        secret=secret,
        hash=key_hash(secret, pepper),
        mask=mask_of(secret, environment),
        environment=environment,
    )


def mask_of(secret: str, environment: Environment) -> str:
    random_part = secret[len(f"gw_{environment}_") :]
    return f"gw_{environment}_{random_part[:4]}…{random_part[-4:]}"
