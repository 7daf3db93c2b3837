from gateway.ids import new_id


def test_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    made = [new_id("key") for _ in range(5_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(i.startswith("key_") and len(i) == 4 + 28 for i in made)
