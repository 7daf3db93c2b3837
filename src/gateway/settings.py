"""Configuration from the environment (and an optional `.env`), validated once at start-up."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse as parse_limit
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.bounds import MAX_CREDITS
from gateway.services.billing.money import parse_credits, plain_decimal

log = logging.getLogger("gateway.settings")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEV_SECRET_FILE = Path(".gateway-secret")
MIN_SECRET_CHARS = 32


class ConfigError(Exception):
    """A configuration value is unusable; the message lists every bad value."""


def _decimal(value: Any, name: str) -> Decimal:
    """Money settings are read like money inputs: plain decimal text, within MAX_CREDITS."""
    try:
        result = plain_decimal(value if isinstance(value, Decimal | int) else str(value))
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None
    if not -MAX_CREDITS <= result <= MAX_CREDITS:
        raise ValueError(f"{name} must be at most {MAX_CREDITS}")
    return result


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./gateway.db"
    redis_url: str | None = None
    upstream_base_url: str | None = None
    upstream_api_key: SecretStr | None = None
    environment: Literal["development", "production"] = "development"
    admin_api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    credit_markup: Decimal = Decimal(1)
    signup_credits: Decimal = Decimal(0)
    trusted_proxies: Annotated[list[IpNetwork], NoDecode] = Field(default_factory=list)
    register_rate_limit: str = "5/hour"
    model_cache_ttl: int = Field(default=300, ge=0)
    upstream_timeout: float = Field(default=60.0, gt=0)
    max_body_bytes: int = Field(default=10_485_760, gt=0)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    topup_fee_rate: Decimal = Decimal(0)
    public_base_url: str = "http://localhost:8000"
    # The web console: how long a sign-in lasts, and how often one address may try.
    console_session_hours: float = Field(default=12.0, gt=0, le=720)
    console_signin_rate_limit: str = "10/minute"

    # Not in the SPEC's table: a local price list for upstreams that publish none.
    price_file: Path | None = None
    # Scale-out tuning: PostgreSQL connections per process; the Redis key prefix, so that
    # several gateways (or test runs) can share one Redis.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # True for a direct PostgreSQL connection (or a pooler that keeps prepared statements):
    # one round trip less per query. False works everywhere, Supabase's pooler included.
    database_prepared_statements: bool = False
    redis_prefix: str = Field(default="gw:", min_length=1, max_length=64)
    # How often a process proves it is alive, and when its reservations count as orphaned.
    instance_heartbeat_seconds: float = Field(default=10.0, gt=0)
    instance_stale_seconds: float = Field(default=30.0, gt=0)
    # How long a SIGTERM lets requests and streams in flight finish before what still runs is
    # cut (and settled for what it delivered): a deploy must not cut paying streams short.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Operations: a bearer that opens /metrics without the admin key (a scraper should not hold
    # the key that moves money), and `json` for log shippers (one JSON object per line).
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    # The bearer Vercel Cron sends to the /internal/cron routes (unset: they answer 503).
    cron_secret: SecretStr | None = None
    # Set to 1 by Vercel in its functions (not by operators): the serverless rules apply there —
    # PostgreSQL only, SECRET_KEY required, and work done by cron routes, not background tasks.
    vercel: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("sqlite:///") or value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("must start with sqlite:/// or postgresql:// (or postgres://)")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("upstream_base_url", "stripe_api_base", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("credit_markup", mode="before")
    @classmethod
    def _positive_markup(cls, value: Any) -> Decimal:
        markup = _decimal(value, "the markup")
        if markup <= 0:
            raise ValueError("must be greater than 0")
        parse_credits(markup)  # at most 9 decimals, like a plan's markup
        return markup

    @field_validator("signup_credits", mode="before")
    @classmethod
    def _credit_amount(cls, value: Any) -> Decimal:
        amount = _decimal(value, "the amount")
        if amount < 0:
            raise ValueError("must not be negative")
        parse_credits(amount)  # raises ValueError with the reason
        return amount

    @field_validator("topup_fee_rate", mode="before")
    @classmethod
    def _fee_rate(cls, value: Any) -> Decimal:
        rate = _decimal(value, "the rate")
        if not Decimal(0) <= rate < 1:
            raise ValueError("must be at least 0 and below 1 (e.g. 0.05)")
        return rate

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[IpNetwork]:
        networks = []
        for item in _split_list(value) or []:
            try:
                networks.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR") from exc
        return networks

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> list[str]:
        origins = [str(o).rstrip("/") for o in (_split_list(value) or [])]
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not '*' or an http(s) origin")
        return origins

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _usable_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # METRICS_TOKEN= (empty) means unset, never "an empty bearer opens /metrics"
        if len(value.get_secret_value()) < 16 or any(c.isspace() for c in value.get_secret_value()):
            raise ValueError("must be at least 16 characters, without spaces")
        return value

    @field_validator("cron_secret")
    @classmethod
    def _usable_cron_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # CRON_SECRET= (empty) means unset: the cron routes stay closed
        if len(value.get_secret_value()) < 16 or any(c.isspace() for c in value.get_secret_value()):
            raise ValueError("must be at least 16 characters, without spaces (Vercel sends it as a bearer)")
        return value

    @field_validator("register_rate_limit", "console_signin_rate_limit")
    @classmethod
    def _limit_notation(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValueError as exc:
            raise ValueError("must be in the limits notation, e.g. '5/hour' or '10 per minute'") from exc
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        problems = []
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < MIN_SECRET_CHARS:
            problems.append(f"SECRET_KEY: must be at least {MIN_SECRET_CHARS} characters")
        if self.stripe_secret_key is not None and self.stripe_webhook_secret is None:
            # Customers would pay and get nothing until an operator reconciled.
            problems.append("STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY (the webhook's signing secret)")
        if self.environment == "production":
            if self.secret_key is None:
                problems.append("SECRET_KEY: required when ENVIRONMENT=production")
            admin = self.admin_api_key
            if admin is not None and len(admin.get_secret_value()) < MIN_SECRET_CHARS:
                problems.append(f"ADMIN_API_KEY: must be at least {MIN_SECRET_CHARS} characters in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _serverless(self) -> Settings:
        """On Vercel every request may meet a new instance, each with its own throwaway disk."""
        if not self.vercel:
            return self
        problems = []
        if self.database_url.startswith("sqlite"):
            problems.append(
                "DATABASE_URL: SQLite cannot work on Vercel (VERCEL=1): each function instance has its own "
                "temporary disk, so accounts and balances would be lost and never shared. Set DATABASE_URL to "
                "PostgreSQL, e.g. Supabase's transaction pooler: "
                "postgresql://postgres.<ref>:<password>@aws-0-<region>.pooler.supabase.com:6543/postgres"
            )
        if self.secret_key is None:
            problems.append(
                "SECRET_KEY: required on Vercel (32+ characters, the same for every deployment): a generated "
                "development secret cannot be kept there, and every instance must hash keys alike"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def uses_simulator(self) -> bool:
        return self.upstream_base_url is None

    @property
    def database_display(self) -> str:
        """DATABASE_URL with any password replaced, fit for logs."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.database_url)

    def secret(self) -> str:
        """The pepper for key hashes; `with_dev_secret` guarantees it is set."""
        if self.secret_key is None:
            raise ConfigError("SECRET_KEY is not set")
        return self.secret_key.get_secret_value()


def describe_errors(error: ValidationError) -> str:
    """One line per bad value, naming the variable and never echoing secrets."""
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "configuration"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    return "invalid configuration:\n" + "\n".join(lines)


def with_dev_secret(settings: Settings, secret_file: Path = DEV_SECRET_FILE) -> Settings:
    """In development, generate SECRET_KEY once and keep it locally so keys survive restarts."""
    if settings.secret_key is not None:
        return settings
    if secret_file.exists():
        secret = secret_file.read_text().strip()
    else:
        secret = secrets.token_urlsafe(48)
        secret_file.write_text(secret + "\n")
        os.chmod(secret_file, 0o600)
    log.warning(
        "SECRET_KEY is not set: using the development secret kept in %s. "
        "Set SECRET_KEY (32+ chars) before production; changing it invalidates every API key.",
        secret_file,
    )
    return settings.model_copy(update={"secret_key": SecretStr(secret)})


def load_settings(*, dev_secret: bool = True, **overrides: Any) -> Settings:
    """Settings from the environment; `dev_secret=False` only validates (creates no file)."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    return with_dev_secret(settings) if dev_secret else settings
