import pytest

from gateway.services.keys.format import environment_of, generate, hashing_key, key_hash, mask

PEPPER = hashing_key("x" * 40)


@pytest.mark.parametrize("env", ["live", "test", "staging", "dev"])
def test_generated_keys_have_the_format_and_enough_randomness(env: str) -> None:
    key = generate(env, PEPPER)  # type: ignore[arg-type]
    assert key.secret.startswith(f"gw_{env}_")
    assert len(key.secret) - len(f"gw_{env}_") >= 32
    assert environment_of(key.secret) == env


def test_only_the_keyed_hash_is_kept() -> None:
    key = generate("live", PEPPER)
    assert key.hash == key_hash(key.secret, PEPPER)
    assert key.secret not in key.hash
    assert key.hash != key_hash(key.secret, hashing_key("y" * 40)), "the pepper must matter"


def test_mask_shows_only_the_ends() -> None:
    key = "gw_live_abcdEFGH1234567890ijklmnopqrstuvwxyzWXYZ"
    assert mask(key) == "gw_live_abcd…WXYZ"
    assert generate("test", PEPPER).mask.startswith("gw_test_")


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "sk-abc",
        "gw_live_short",
        "gw_prod_" + "a" * 40,
        "gw_live_" + "a" * 20 + "!" * 20,
        "Bearer gw_live_" + "a" * 40,
    ],
)
def test_malformed_keys_are_recognised(candidate: str) -> None:
    assert environment_of(candidate) is None
    assert mask(candidate) == "…"
