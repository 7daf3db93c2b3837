import time

import pytest

from gateway.bounds import MAX_COUNT, MAX_JSON_DEPTH, nesting_exceeds


def test_counts_stay_exact_where_they_are_doubles() -> None:
    assert MAX_COUNT < 2**53  # Redis scripts count in doubles
    assert MAX_JSON_DEPTH <= 254  # orjson writes no deeper document


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b"0", 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[[[[["}', 1),  # brackets inside strings are text
        (b'{"a": "\\"[[[[\\\\", "b": [[]]}', 3),  # escaped quotes and backslashes
        (b"[" * 128 + b"]" * 128, 128),
        (b"[" * 129 + b"]" * 129, 129),
        (b'[{"a": ' * 100 + b"0" + b"}]" * 100, 200),
    ],
)
def test_nesting_is_measured_outside_strings(raw: bytes, depth: int) -> None:
    assert nesting_exceeds(raw, depth - 1) if depth else True
    assert not nesting_exceeds(raw, depth)


def test_the_default_limit_is_the_documented_one() -> None:
    assert not nesting_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert nesting_exceeds(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def test_measuring_takes_linear_time_even_on_hostile_input() -> None:
    hostile = b"[" * 200 + b'"' + b'\\"' * 2_000_000  # an unterminated string of escaped quotes
    started = time.monotonic()
    nesting_exceeds(hostile)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b'["[[[[", "]]]]{{{{", [[]]]', 3),  # brackets inside strings, balanced or not
        (b'[["\\"[[[["], "\\"", [[]]]', 3),  # escaped quotes do not end a string
        (b'[["\\\\"], [[[]]], "\\\\\\"[[[["]', 4),  # an escaped backslash before a closing quote
        (b'[["\\\\\\\\"], "a\\\\\\\\\\"]]]]", [[[]]]]', 4),  # runs of backslashes, even and odd
        (b'[["\\n\\"[[", "\\u005c"], [[[]]]]', 4),  # other escapes, a \\u-escaped backslash
        (b'{"a\\"{{": {"[": [{"\\\\": "}}}"}]}}', 4),  # keys are strings too
        (b'[[[[[[["\\\\', 7),  # an unterminated string runs to the end
        (b'[[[[[[["\\"]]]]]]]', 7),  # ... even when what follows an escaped quote looks like JSON
    ],
)
def test_strings_with_brackets_quotes_and_backslashes_are_text(raw: bytes, depth: int) -> None:
    # Small limits, so that the measure is taken (not decided by the bracket count alone).
    assert nesting_exceeds(raw, depth - 1)
    assert not nesting_exceeds(raw, depth)
