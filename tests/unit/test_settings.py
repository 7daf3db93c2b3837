from decimal import Decimal
from pathlib import Path

import pytest

from gateway.settings import ConfigError, Settings, load_settings, with_dev_secret


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///./gateway.db"
    assert settings.redis_url is None
    assert settings.upstream_base_url is None and settings.uses_simulator
    assert settings.environment == "development"
    assert settings.admin_api_key is None
    assert settings.credit_markup == 1
    assert settings.signup_credits == 0
    assert settings.trusted_proxies == []
    assert settings.register_rate_limit == "5/hour"
    assert settings.model_cache_ttl == 300
    assert settings.upstream_timeout == 60
    assert settings.max_body_bytes == 10_485_760
    assert settings.cors_origins == []
    assert settings.stripe_api_base == "https://api.stripe.com"
    assert settings.topup_fee_rate == 0
    assert settings.public_base_url == "http://localhost:8000"


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_MARKUP", "1.25")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com,https://x.example.com/")
    monkeypatch.setenv("SIGNUP_CREDITS", "0.5")
    monkeypatch.setenv("UPSTREAM_BASE_URL", "https://openrouter.ai/api/v1/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.credit_markup == Decimal("1.25")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "2001:db8::/32"]
    assert settings.cors_origins == ["https://app.example.com", "https://x.example.com"]
    assert settings.signup_credits == Decimal("0.5")
    assert settings.upstream_base_url == "https://openrouter.ai/api/v1"


def test_every_bad_value_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DATABASE_URL": "mysql://x",
        "CREDIT_MARKUP": "abc",
        "TRUSTED_PROXIES": "10.0.0.0/8,not-a-net",
        "REGISTER_RATE_LIMIT": "lots",
        "MAX_BODY_BYTES": "-1",
        "TOPUP_FEE_RATE": "1.5",
        "SIGNUP_CREDITS": "0.0000000001",
        "ENVIRONMENT": "staging",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(dev_secret=False, _env_file=None)
    message = str(raised.value)
    for name in [
        "DATABASE_URL",
        "CREDIT_MARKUP",
        "TRUSTED_PROXIES",
        "REGISTER_RATE_LIMIT",
        "MAX_BODY_BYTES",
        "TOPUP_FEE_RATE",
        "SIGNUP_CREDITS",
        "ENVIRONMENT",
    ]:
        assert name in message


def test_production_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY: required"):
        load_settings(_env_file=None)
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ADMIN_API_KEY", "short")
    with pytest.raises(ConfigError, match="ADMIN_API_KEY"):
        load_settings(_env_file=None)


def test_secrets_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "tooshort-but-secret")
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert "tooshort-but-secret" not in str(raised.value)


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    path = tmp_path / ".gateway-secret"
    first = with_dev_secret(Settings(_env_file=None), path)  # type: ignore[call-arg]
    second = with_dev_secret(Settings(_env_file=None), path)  # type: ignore[call-arg]
    assert first.secret() == second.secret()
    assert len(first.secret()) >= 32
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGNUP_CREDITS", "1e20"),
        ("SIGNUP_CREDITS", "1_000"),
        ("SIGNUP_CREDITS", "1e999999999"),
        ("SIGNUP_CREDITS", "Infinity"),
        ("CREDIT_MARKUP", "1e20"),
        ("CREDIT_MARKUP", "1_0"),
        ("CREDIT_MARKUP", "1e-999999999"),
        ("CREDIT_MARKUP", "NaN"),
        ("TOPUP_FEE_RATE", "0_5"),
        ("TOPUP_FEE_RATE", "\u0660.5"),
    ],
)
def test_money_settings_are_plain_decimal_text_within_bounds(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(dev_secret=False, _env_file=None)


def test_money_settings_accept_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_CREDITS", "1000000000")
    monkeypatch.setenv("CREDIT_MARKUP", "1e3")
    settings = load_settings(dev_secret=False, _env_file=None)
    assert (settings.signup_credits, settings.credit_markup) == (10**9, 1000)


def test_a_stripe_key_needs_its_webhook_secret() -> None:
    """Without the webhook's secret customers would pay and get nothing until reconciled."""
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        load_settings(dev_secret=False, stripe_secret_key="sk_test_x")
    assert load_settings(dev_secret=False, stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x")
