from decimal import Decimal

from gateway.services.billing.money import round_up
from gateway.services.billing.pricing import Price, TokenUsage, affordable_output, cost_of, max_cost

PRICE = Price(prompt=Decimal("0.00000015"), completion=Decimal("0.0000006"))


def test_cost_is_tokens_times_price_rounded_up_once() -> None:
    # 8 × 0.00000015 + 20 × 0.0000006 = 0.0000132 exactly
    assert cost_of(PRICE, TokenUsage(8, 20)) == 13_200
    # 1 × 0.0000000001 rounds up to one nano-credit, not down to zero
    tiny = Price(prompt=Decimal("0.0000000001"), completion=Decimal(0))
    assert cost_of(tiny, TokenUsage(1, 0)) == 1


def test_request_fee_and_cache_reads_are_priced() -> None:
    price = Price(Decimal("0.000001"), Decimal("0.000002"), Decimal("0.001"), Decimal("0.0000001"))
    # 10 prompt tokens of which 4 cached, 5 completion, plus the fee
    exact = Decimal("0.001") + 6 * Decimal("0.000001") + 4 * Decimal("0.0000001") + 5 * Decimal("0.000002")
    assert cost_of(price, TokenUsage(10, 5, cached_tokens=4)) == round_up(exact)


def test_markup_is_exact() -> None:
    marked = PRICE.marked_up(Decimal("1.1"))
    assert marked.prompt == Decimal("0.000000165")
    assert marked.completion == Decimal("0.00000066")


def test_max_cost_covers_n_choices() -> None:
    assert max_cost(PRICE, prompt_bound=100, output_cap=10, n=3) == round_up(100 * PRICE.prompt + 30 * PRICE.completion)


def test_affordable_output_is_the_most_the_balance_pays_for() -> None:
    available = 100 * 150 + 7 * 600 + 599  # prompt + 7 tokens + not quite an 8th (nanos)
    assert affordable_output(PRICE, available=available, prompt_bound=100, n=1) == 7
    assert affordable_output(PRICE, available=available, prompt_bound=100, n=2) == 3
    cap = affordable_output(PRICE, available=available, prompt_bound=100, n=1)
    assert cap is not None
    assert max_cost(PRICE, prompt_bound=100, output_cap=cap, n=1) <= available


def test_affordable_output_zero_when_not_even_one_token() -> None:
    assert affordable_output(PRICE, available=100 * 150 + 599, prompt_bound=100, n=1) == 0
    assert affordable_output(PRICE, available=0, prompt_bound=100, n=1) == 0


def test_free_output_has_no_cap() -> None:
    free = Price(Decimal("0.000001"), Decimal(0))
    assert affordable_output(free, available=10**9, prompt_bound=10, n=1) is None
    assert affordable_output(free, available=0, prompt_bound=10, n=1) == 0
