from decimal import Decimal

import orjson
import pytest

from gateway.bounds import MAX_CREDITS
from gateway.services.billing.money import MAX_NANOS, credits_json, credits_text, parse_credits, round_down, round_up


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        ("0", 0),
        ("0.000000001", 1),
        ("0.0000000001", 1),  # any fraction of a nano-credit rounds up
        ("0.0000000019", 2),
        ("1", 1_000_000_000),
        ("0.0000132", 13_200),
        ("12345678.123456789", 12_345_678_123_456_789),
    ],
)
def test_round_up_is_the_rounding_rule(amount: str, nanos: int) -> None:
    assert round_up(Decimal(amount)) == nanos


def test_round_down_never_overpays() -> None:
    assert round_down(Decimal("0.0000000019")) == 1
    assert round_down(Decimal("9.5")) == 9_500_000_000


@pytest.mark.parametrize("value", ["1.5", Decimal("1.5"), 1, "0.000000001", "-2.25", " 3 "])
def test_parse_credits_accepts_exact_amounts(value: object) -> None:
    parsed = parse_credits(value)  # type: ignore[arg-type]
    assert Decimal(parsed) / 10**9 == Decimal(str(value).strip())


@pytest.mark.parametrize("value", ["0.0000000001", "1.1234567891", "NaN", "Infinity", "abc"])
def test_parse_credits_refuses_more_than_nine_decimals_and_non_numbers(value: str) -> None:
    with pytest.raises((ValueError, ArithmeticError)):
        parse_credits(value)


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0"),
        (1, "0.000000001"),
        (13_200, "0.0000132"),
        (10**10, "10"),
        (1_500_000_000, "1.5"),
        (-5, "-0.000000005"),
    ],
)
def test_credits_render_as_plain_decimal_text(nanos: int, text: str) -> None:
    assert credits_text(nanos) == text
    assert orjson.dumps({"c": credits_json(nanos)}) == b'{"c":' + text.encode() + b"}"


def test_large_balances_stay_exact_in_json() -> None:
    nanos = 98_765_432_123_456_789
    assert orjson.dumps(credits_json(nanos)) == b"98765432.123456789"


@pytest.mark.parametrize(
    "value",
    [
        "1_000",  # digit separators are not plain decimal text
        "1e20",
        "-1e20",
        10**12,
        Decimal("1E+20"),
        "1000000000.000000001",
        "1e999999999",  # quantizing this would raise InvalidOperation, not ValueError
        "-1e999999999",
        "1e-999999999",
        Decimal("1E-999999999"),
        "NaN",
        Decimal("NaN"),
        "Infinity",
        "-inf",
        "0x10",
        "\u0661\u0660",  # Arabic-Indic digits: Decimal reads them, plain text does not have them
        "1e",
        "--1",
        "",
        " ",
        True,
        None,
        1.5,  # a binary float is never money
        [1],
        {"a": 1},
    ],
)
def test_parse_credits_refuses_what_is_not_plain_decimal_text_within_bounds(value: object) -> None:
    with pytest.raises(ValueError, match="must"):  # exactly ValueError: the routes make it a 400
        parse_credits(value)


@pytest.mark.parametrize(
    ("value", "nanos"),
    [
        ("1e3", 10**12),
        ("1E+3", 10**12),
        (".5", 500_000_000),
        ("5.", 5 * 10**9),
        ("+5", 5 * 10**9),
        ("1000000000", MAX_NANOS),
        (-(10**9), -MAX_NANOS),
        ("1.500000000000000000000", 1_500_000_000),
    ],
)
def test_parse_credits_accepts_plain_text_up_to_the_bound(value: object, nanos: int) -> None:
    assert parse_credits(value) == nanos


def test_the_credit_bound_keeps_two_balances_inside_int64() -> None:
    assert MAX_NANOS == MAX_CREDITS * 10**9
    assert 2 * MAX_NANOS < 2**63
