"""The cron routes (GET /internal/cron/<job>, what Vercel Cron calls) on every backend: closed
without CRON_SECRET, refused without its bearer, and each pass does what the servers'
background tasks do — with those tasks stopped, as on a frozen serverless function."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.services.billing import holds as billing
from gateway.services.billing.money import Nanos
from tests.conformance.conftest import Backend
from tests.conformance.helpers import assert_books_balance, balanced_credits
from tests.conformance.test_payments_auto_topup import card_on_file, put
from tests.conformance.test_payments_topups import SETTINGS
from tests.stripe_support import stripe_mock
from tests.support import ADMIN, Gateway, make_settings, running_gateway

CRON_SECRET = "cron-secret-0123456789abcdef"
CRON = {"authorization": f"Bearer {CRON_SECRET}"}
JOBS = ("release-holds", "plan-credits", "auto-topup", "console-sessions")


async def run(gateway: Gateway, job: str) -> dict[str, Any]:
    response = await gateway.client.get(f"/internal/cron/{job}", headers=CRON)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["job"] == job
    return answer


@pytest.mark.parametrize("job", JOBS)
async def test_the_cron_routes_need_the_cron_secret(backend: Backend, tmp_path: Any, job: str) -> None:
    async with running_gateway(make_settings(tmp_path, **backend.settings())) as closed:
        response = await closed.client.get(f"/internal/cron/{job}", headers=CRON)
        assert response.status_code == 503, response.text
        assert "CRON_SECRET" in response.json()["error"]["message"]
    async with running_gateway(make_settings(tmp_path, **backend.settings(), cron_secret=CRON_SECRET)) as gateway:
        for headers in (
            {},
            {"authorization": "Bearer wrong-secret-0123456789abcdef"},
            {"authorization": CRON_SECRET},  # without its scheme
            {"authorization": f"Bearer {CRON_SECRET}x"},
            ADMIN,  # the admin key is not the cron secret
        ):
            refused = await gateway.client.get(f"/internal/cron/{job}", headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert refused.json()["error"]["code"] == "invalid_cron_secret"
            assert CRON_SECRET not in refused.text
        await run(gateway, job)
        assert (await gateway.client.post(f"/internal/cron/{job}", headers=CRON)).status_code == 405
        assert "/internal/cron" not in str((await gateway.client.get("/openapi.json")).json()["paths"])


async def test_release_holds_frees_a_dead_process_s_hold_and_keeps_a_live_one(backend: Backend, tmp_path: Any) -> None:
    # No heartbeat sweep of the gateway's own during the test: only the cron route releases.
    settings = make_settings(tmp_path, **backend.settings(), cron_secret=CRON_SECRET, instance_heartbeat_seconds=3600)
    async with running_gateway(settings) as gateway:
        account = await gateway.customer("5")
        db, user_id = gateway.runtime.db, account["user_id"]
        amount = Nanos(10**9)
        await billing.place(db, user_id=user_id, key_id=None, instance_id="gw_gone", amount=amount)
        await billing.place(db, user_id=user_id, key_id=None, instance_id=gateway.runtime.instance_id, amount=amount)
        assert await assert_books_balance(db, user_id) == (3 * 10**9, 2 * 10**9)
        assert (await run(gateway, "release-holds"))["done"] == {"released": 1}
        assert await assert_books_balance(db, user_id) == (4 * 10**9, 10**9)
        assert (await run(gateway, "release-holds"))["done"] == {"released": 0}
        assert await assert_books_balance(db, user_id) == (4 * 10**9, 10**9)


async def test_plan_credits_grants_each_period_once(backend: Backend, tmp_path: Any) -> None:
    async with running_gateway(make_settings(tmp_path, **backend.settings(), cron_secret=CRON_SECRET)) as gateway:
        changed = await gateway.client.put("/admin/plans/pro", json={"included_credits": "5"}, headers=ADMIN)
        assert changed.status_code == 200, changed.text
        account = await gateway.customer("0", plan="pro", email="plan@example.com")  # its first period: 5
        assert await balanced_credits(gateway, account) == 5
        assert (await run(gateway, "plan-credits"))["done"] == {"periods": 1}  # granted already: not again
        assert await balanced_credits(gateway, account) == 5
        async with gateway.runtime.db.transaction() as tx:  # a plan that began 32 days ago, never granted
            await tx.execute(
                "UPDATE users SET plan_started_at = plan_started_at - $2, plan_expires_at = plan_expires_at + $2 "
                "WHERE id = $1",
                account["user_id"],
                32 * 86400.0,
            )
        assert (await run(gateway, "plan-credits"))["done"] == {"periods": 2}
        assert await balanced_credits(gateway, account) == 15  # its two periods, 5 each
        await run(gateway, "plan-credits")
        assert await balanced_credits(gateway, account) == 15


async def test_console_sessions_removes_the_expired_ones(backend: Backend, tmp_path: Any) -> None:
    async with running_gateway(make_settings(tmp_path, **backend.settings(), cron_secret=CRON_SECRET)) as gateway:
        account = await gateway.customer("1")
        for _ in range(3):
            await gateway.runtime.console.sign_in(account["api_key"])
        async with gateway.runtime.db.transaction() as tx:
            await tx.execute("UPDATE console_sessions SET expires_at = $1 WHERE expires_at > $1", 1.0)
        await gateway.runtime.console.sign_in(account["api_key"])  # a live one stays
        assert (await run(gateway, "console-sessions"))["done"] == {"removed": 3}
        assert (await run(gateway, "console-sessions"))["done"] == {"removed": 0}
        async with gateway.runtime.db.read() as tx:
            assert await tx.fetchval("SELECT COUNT(*) FROM console_sessions") == 1


async def test_auto_topup_pays_for_a_customer_below_the_threshold_once(backend: Backend, tmp_path: Any) -> None:
    settings = make_settings(tmp_path, **backend.settings(), **SETTINGS, cron_secret=CRON_SECRET)
    async with running_gateway(settings) as gateway:
        payments = gateway.runtime.payments
        assert payments is not None
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)  # 9.5 credits
            await payments.auto_topups.stop()  # as on a frozen function: no job runs after a response
            assert (await put(gateway, account, enabled=True, threshold="9.5", amount_usd="10")).status_code == 200
            assert (await gateway.chat(account["api_key"])).status_code == 200
            assert await balanced_credits(gateway, account) < Decimal("9.5")
            assert stripe.sent("/v1/payment_intents") == []  # the settlement woke a job that does not run
            assert (await run(gateway, "auto-topup"))["done"] == {"sent": 1}
            assert len(stripe.sent("/v1/payment_intents")) == 1
            assert (await run(gateway, "auto-topup"))["done"] == {"in_flight": 1}
            assert len(stripe.sent("/v1/payment_intents")) == 1


async def test_auto_topup_without_payments_says_so(backend: Backend, tmp_path: Any) -> None:
    async with running_gateway(make_settings(tmp_path, **backend.settings(), cron_secret=CRON_SECRET)) as gateway:
        answer = await run(gateway, "auto-topup")
        assert answer["done"] == {} and "STRIPE_SECRET_KEY" in answer["skipped"]
