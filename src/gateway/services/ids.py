"""Identifiers that sort by creation time, so cursors page in a stable, meaningful order."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """`usr_0193a1b2c3d4e5f6a7b8c9d0e1f2` : 12 hex digits of milliseconds, 16 of randomness."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"
