"""What the admin page tests share: every admin page and form, and an admin user."""

from __future__ import annotations

from typing import Any

from tests.support import Gateway, bearer

# Every admin page ({user} stands for a customer's id).
ADMIN_PAGES = [
    "/console/admin/customers",
    "/console/admin/customers/{user}",
    "/console/admin/plans",
    "/console/admin/models",
    "/console/admin/payments",
    "/console/admin/audit",
    "/console/admin/audit?user_id={user}",
    "/console/admin/system",
]
# Every admin form, with fields that would be accepted.
ADMIN_POSTS: list[tuple[str, dict[str, str]]] = [
    ("/console/admin/customers/{user}/credits", {"direction": "credit", "amount": "5", "reason": "goodwill"}),
    ("/console/admin/customers/{user}/plan", {"plan_id": "free", "months": "1"}),
    ("/console/admin/customers/{user}/limits", {"requests_per_minute": "7", "shown_requests_per_minute": ""}),
    ("/console/admin/customers/{user}/status", {"status": "suspended"}),
    ("/console/admin/plans", {"id": "forged", "name": "Forged"}),
    ("/console/admin/plans/free", {"name": "Forged"}),
    ("/console/admin/models/refresh", {}),
    ("/console/admin/audit/verify", {}),
]


async def admin_user(gateway: Gateway, email: str = "root@example.com") -> dict[str, Any]:
    """A customer made an admin (there is no route for that: an operator sets the role)."""
    account = await gateway.customer("1", email=email)
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("UPDATE users SET role = 'admin' WHERE id = $1", account["user_id"])
    await gateway.runtime.auth.forget_user(account["user_id"])
    return account


async def read_only_key(gateway: Gateway, live_key: str) -> str:
    """A gw_test_ key of the same account (it signs in to the console read-only)."""
    response = await gateway.client.post(
        "/user/api-keys", json={"key_name": "test", "environment_tag": "test"}, headers=bearer(live_key)
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key
