"""The pg_dump guidance's URL: the database's address as given, never a password."""

from __future__ import annotations

import pytest

from gateway.services.operations.backup import url_without_secrets


@pytest.mark.parametrize(
    ("url", "expected", "had_password"),
    [
        ("postgresql://gw@db:5432/gateway", "postgresql://gw@db:5432/gateway", False),
        ("postgres://gw:s3cret@db.example.com/gateway", "postgresql://gw@db.example.com/gateway", True),
        ("postgresql://gw:p@ss:w@rd@db/gateway", "postgresql://gw@db/gateway", True),
        ("postgresql://gw:p%40ss@[::1]:6543/gateway", "postgresql://gw@[::1]:6543/gateway", True),
        ("postgresql://db/gateway?password=s3cret&sslmode=require", "postgresql://db/gateway?sslmode=require", True),
        ("postgresql://gw@db/gateway?sslpassword=x&pgbouncer=true", "postgresql://gw@db/gateway", True),
        ("postgresql://gw@a:5432,b:5432/gateway?target_session_attrs=read-write",
         "postgresql://gw@a:5432,b:5432/gateway?target_session_attrs=read-write", False),
    ],
)  # fmt: skip
def test_the_url_keeps_the_address_and_drops_every_password(url: str, expected: str, had_password: bool) -> None:
    assert url_without_secrets(url) == (expected, had_password)
