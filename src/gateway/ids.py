"""Identifiers that sort by creation time, so cursors page in a stable, meaningful order."""

from __future__ import annotations

import random
import threading
import time

# Identifiers are not secrets (ownership is always checked), so a seeded generator does:
# it spares a system call per id on the request path.
_random = random.Random()  # noqa: S311 - seeded from os.urandom; ids are not secrets
_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_id(prefix: str) -> str:
    """`usr_0193a1b2c3d4` + 4 hex digits of sequence + 12 of randomness.

    Milliseconds first, then a per-process sequence, so ids made in the same millisecond by
    one process still sort in the order they were made.
    """
    global _last_ms, _sequence  # noqa: PLW0603 - the generator's state is process-wide by nature
    with _lock:
        now = int(time.time() * 1000)
        if now <= _last_ms:
            _sequence += 1
            now = _last_ms + (_sequence >> 16)
            _sequence &= 0xFFFF
        else:
            _sequence = 0
        _last_ms = now
        sequence = _sequence
        noise = _random.getrandbits(48)
    return f"{prefix}_{now:012x}{sequence:04x}{noise:012x}"


def random_hex(digits: int) -> str:
    """Random hex digits for identifiers that need no order (request ids)."""
    return f"{_random.getrandbits(4 * digits):0{digits}x}"
