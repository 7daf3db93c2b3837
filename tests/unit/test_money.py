from decimal import Decimal

import orjson
import pytest

from gateway.services.money import credits_json, credits_text, parse_credits, round_down, round_up


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
