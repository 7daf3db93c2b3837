"""The largest inputs the gateway accepts, in one place: every route schema, setting and store
relies on these, so that nothing accepted at the edge can overflow what stores or serialises it.

Why these sizes: SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit (about 9.2 * 10^18),
orjson writes no integer beyond 64 bits, Redis scripts count in doubles (exact below 2^53),
and orjson writes no document nested deeper than 254 levels.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

# Credits (1 credit = 10^9 nano-credits): the most any credits input may be, either sign, and
# the most one balance (credits + reserved) may hold. 10^18 nano-credits is about a ninth of
# int64, so a balance plus any input never overflows SQL arithmetic.
MAX_CREDITS = 1_000_000_000

# Request and token limits, request caps, max tokens per request, key and concurrency limits.
# Below 2^53, so that a window's total plus a request's amount stays exact in Redis.
MAX_COUNT = 10**15

# Unix times in queries (9999-12-31T23:59:59Z); list cursors that are row ids (int64).
MAX_TIMESTAMP = 253_402_300_799
MAX_ROW_ID = 2**63 - 1

# A JSON number in a request body: at most this many characters, and within 10^±this. Every
# field's own bound is far narrower; this one keeps converting a number cheap
# (int(Decimal("1e-99999999")) runs for minutes).
MAX_NUMBER_TEXT = 100

# How deeply a JSON request body may nest (its own object is level 1). Well under orjson's 254,
# so a chat body can always be re-serialised for the upstream.
MAX_JSON_DEPTH = 128

# An escaped backslash or quote: escapes pair from left to right, as this expression reads them.
_ESCAPED_BACKSLASH_OR_QUOTE = re.compile(rb'\\[\\"]')
_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')


def nesting_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `limit`, measured on its bytes, before parsing.

    Fewer brackets than the limit cannot nest deeper than it (one C-speed count, the usual
    case); otherwise the depth is the largest running sum of the brackets outside strings.
    Strings are found by C-speed passes, each linear: escaped backslashes and quotes go
    (backslashes occur only inside strings), leaving every quote one that opens or closes a
    string; the text is cut down to its quotes and brackets, and every other piece between
    quotes is outside a string. (An unterminated string runs to the end. On invalid JSON the
    measure agrees with a parser's up to the first error, which is as deep as a parser gets.)
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    bare = _ESCAPED_BACKSLASH_OR_QUOTE.sub(b"", raw).translate(None, _NOT_STRUCTURE)
    brackets = b"".join(bare.split(b'"')[::2]).translate(_OPEN_CLOSE)
    return max(accumulate(array("b", brackets)), default=0) > limit
