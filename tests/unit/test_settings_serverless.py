"""CRON_SECRET, and the rules that hold on Vercel (`VERCEL=1`, set by Vercel itself)."""

from __future__ import annotations

import pytest

from gateway.settings import ConfigError, load_settings

SECRET = "s" * 40
POSTGRES = "postgresql://user:pw@db.example.com:6543/postgres"


def test_cron_secret_is_optional_and_an_empty_one_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(dev_secret=False, _env_file=None).cron_secret is None
    monkeypatch.setenv("CRON_SECRET", "")
    assert load_settings(dev_secret=False, _env_file=None).cron_secret is None
    monkeypatch.setenv("CRON_SECRET", "c" * 16)
    found = load_settings(dev_secret=False, _env_file=None).cron_secret
    assert found is not None and found.get_secret_value() == "c" * 16


@pytest.mark.parametrize("value", ["short-secret", "a secret with spaces in it"])
def test_a_weak_cron_secret_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CRON_SECRET", value)
    with pytest.raises(ConfigError) as refused:
        load_settings(dev_secret=False, _env_file=None)
    assert "CRON_SECRET: must be at least 16 characters, without spaces" in str(refused.value)
    assert value not in str(refused.value)


def test_off_vercel_sqlite_and_a_development_secret_are_fine() -> None:
    settings = load_settings(dev_secret=False, _env_file=None)
    assert settings.vercel is False and settings.database_url.startswith("sqlite")


def test_vercel_is_read_from_the_variable_vercel_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERCEL", "1")
    settings = load_settings(dev_secret=False, _env_file=None, database_url=POSTGRES, secret_key=SECRET)
    assert settings.vercel is True


@pytest.mark.parametrize("database_url", ["sqlite:///./gateway.db", "sqlite:////tmp/gateway.db"])
def test_on_vercel_sqlite_is_refused_saying_what_to_set(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("VERCEL", "1")
    with pytest.raises(ConfigError) as refused:
        load_settings(dev_secret=False, _env_file=None, database_url=database_url, secret_key=SECRET)
    message = str(refused.value)
    assert "DATABASE_URL: SQLite cannot work on Vercel" in message
    assert "Set DATABASE_URL to PostgreSQL" in message and "pooler.supabase.com:6543" in message


def test_on_vercel_secret_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERCEL", "1")
    with pytest.raises(ConfigError) as refused:
        load_settings(dev_secret=False, _env_file=None, database_url=POSTGRES)
    assert "SECRET_KEY: required on Vercel" in str(refused.value)
    with pytest.raises(ConfigError) as both:
        load_settings(dev_secret=False, _env_file=None)
    assert "DATABASE_URL" in str(both.value) and "SECRET_KEY" in str(both.value)
    assert "pw@" not in str(both.value)
