"""The console's Keys pages: the list, creating (secret shown once), editing, rotating and
deleting a key, each through the same services as /user/api-keys; errors in place, another
customer's keys out of reach, read-only test-key sessions, escaped names."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from gateway.db.keys.api_keys import KeyPolicy, KeyRow
from gateway.routes.console import key_forms
from gateway.routes.console import keys as keys_page
from tests.console_support import Console, console_for
from tests.support import ADMIN, Gateway, bearer

SECRET = re.compile(r'<code id="new-secret">(gw_[a-z]+_[^<]+)</code>')


async def new_key(gateway: Gateway, owner: str, **fields: Any) -> dict[str, Any]:
    response = await gateway.client.post("/user/api-keys", json={"key_name": "k", **fields}, headers=bearer(owner))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def key_json(gateway: Gateway, api_key: str, key_id: str) -> dict[str, Any]:
    listed = await gateway.client.get("/user/api-keys?limit=100", headers=bearer(api_key))
    assert listed.status_code == 200, listed.text
    found: dict[str, Any] = next(k for k in listed.json()["data"] if k["id"] == key_id)
    return found


def shown_secret(page: str) -> str:
    found = SECRET.findall(page)
    assert len(found) == 1, "the new secret is shown exactly once"
    return found[0]


async def works(gateway: Gateway, api_key: str) -> bool:
    return (await gateway.client.get("/user/balance", headers=bearer(api_key))).status_code == 200


async def test_the_list_shows_each_key_with_its_status_and_usage(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    assert (await gateway.chat(account["api_key"])).status_code == 200
    limited = await new_key(gateway, account["api_key"], key_name="limited", spend_limit="2", max_requests=5)
    off = await new_key(gateway, account["api_key"], key_name="switched off", environment_tag="staging")
    await gateway.client.put(f"/user/api-keys/{off['id']}", json={"action": "update", "active": False},
                             headers=bearer(account["api_key"]))  # fmt: skip
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get("/console/keys")).text
    for key in (limited, off):
        assert key["api_key"] not in page
        assert f'href="/console/keys/{key["id"]}"' in page
    assert account["api_key"] not in page
    assert page.count('<span class="badge good">active</span>') == 2
    assert '<span class="badge bad">revoked</span>' in page and "staging" in page
    assert "0.00 credits of 2.00 credits" in page and "0 of 5" in page
    assert page.count(">never<") >= 2  # the new keys were never used; the first one was
    assert 'data-label="Last used"><time' in page


def test_a_keys_status_is_revoked_expired_or_active() -> None:
    key = KeyRow("key_1", "usr_1", "k", "live", "gw_live_ab…cd", True, 0.0, None, KeyPolicy(expires_at=100.0))
    assert key_forms.status_of(key, now=99.0) == "active"
    assert key_forms.status_of(key, now=100.0) == "expired"
    assert key_forms.status_of(KeyRow(**{**_fields(key), "active": False}), now=0.0) == "revoked"


def _fields(key: KeyRow) -> dict[str, Any]:
    return {name: getattr(key, name) for name in KeyRow.__dataclass_fields__}


async def test_creating_a_key_with_every_setting_shows_its_secret_once(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    async with console_for(gateway, account["api_key"]) as console:
        created = await console.post("/console/keys", {
            "key_name": "ci", "environment_tag": "dev", "expiration_days": "7", "spend_limit": "2.5",
            "max_requests": "10", "ip_allowlist": "10.0.0.0/8\n2001:db8::1", "domain_referrers": "*.Example.com",
            "allowed_models": "sim/*\nopenai/gpt-4o", "rl_requests_per_minute": "5", "rl_tokens_per_day": "1000",
            "rl_requests_per_hour": "",
        })  # fmt: skip
        assert created.status_code == 200 and "location" not in created.headers
        secret = shown_secret(created.text)
        assert secret.startswith("gw_dev_")
        assert 'class="secret"' in created.text and 'data-copy="new-secret"' in created.text
        assert "it will not be shown again" in created.text
        again = await console.get("/console/keys")
        assert secret not in again.text and "ci" in again.text
    listed = await gateway.client.get("/user/api-keys", headers=bearer(account["api_key"]))
    key = next(k for k in listed.json()["data"] if k["key_name"] == "ci")
    head, tail = key["api_key"].split("…")  # the masked key is the secret's
    assert secret.startswith(head) and secret.endswith(tail)
    assert (key["environment_tag"], key["spend_limit"], key["max_requests"]) == ("dev", 2.5, 10)
    assert key["ip_allowlist"] == ["10.0.0.0/8", "2001:db8::1"] and key["domain_referrers"] == ["*.example.com"]
    assert key["allowed_models"] == ["sim/*", "openai/gpt-4o"]
    assert key["rate_limits"] == {"requests_per_minute": 5, "tokens_per_day": 1000}
    assert key["expires_at"] is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("spend_limit", "1,5", "spend_limit: must be plain decimal text"),
        ("spend_limit", "-1", "must not be negative"),
        ("max_requests", "0", "max_requests"),
        ("ip_allowlist", "not-an-ip", "not-an-ip"),
        ("rl_requests_per_minute", "1.5", "rate_limits.requests_per_minute"),
    ],
)
async def test_a_refused_key_shows_why_next_to_the_form_with_the_values_kept(
    gateway: Gateway, field: str, value: str, message: str
) -> None:
    account = await gateway.customer("10")
    async with console_for(gateway, account["api_key"]) as console:
        refused = await console.post("/console/keys", {"key_name": "kept name", field: value})
        assert refused.status_code == 400
        assert 'role="alert"' in refused.text and message in html.unescape(refused.text)
        assert '<details id="create" open>' in refused.text and 'value="kept name"' in refused.text
        assert "new-secret" not in refused.text
    listed = await gateway.client.get("/user/api-keys", headers=bearer(account["api_key"]))
    assert len(listed.json()["data"]) == 1


async def test_the_plans_key_count_refusal_shows_in_place(gateway: Gateway) -> None:
    plan = {"id": "solo", "name": "Solo", "max_api_keys": 1}
    assert (await gateway.client.post("/admin/plans", json=plan, headers=ADMIN)).status_code == 201
    account = await gateway.customer("1", plan="solo")
    async with console_for(gateway, account["api_key"]) as console:
        refused = await console.post("/console/keys", {"key_name": "second"})
        assert refused.status_code == 403
        assert "your plan allows 1 API keys; delete one or upgrade" in refused.text
        assert 'action="/console/keys"' in refused.text and "new-secret" not in refused.text


async def test_the_edit_form_shows_the_settings_and_saves_what_is_sent(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    key = await new_key(
        gateway, account["api_key"], key_name="old", spend_limit="2", max_requests=5, ip_allowlist=["10.0.0.1"],
        rate_limits={"requests_per_minute": 7},
    )  # fmt: skip
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get(f"/console/keys/{key['id']}")).text
        shown = ['name="spend_limit" type="text" value="2"', 'name="max_requests" type="number" value="5"',
                 ">10.0.0.1</textarea>", 'name="rl_requests_per_minute" type="number" value="7"',
                 'name="active" value="on" checked']  # fmt: skip
        assert all(setting in page for setting in shown)
        saved = await console.post(f"/console/keys/{key['id']}", {
            "key_name": "new", "active": "on", "spend_limit": "", "max_requests": "9", "ip_allowlist": "",
            "allowed_models": "sim/*", "rl_requests_per_minute": "", "rl_tokens_per_day": "1000",
        })  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"] == f"/console/keys/{key['id']}?done=saved"
        assert "Key saved." in (await console.get(saved.headers["location"])).text
    now = await key_json(gateway, account["api_key"], key["id"])
    assert (now["key_name"], now["active"], now["spend_limit"], now["max_requests"]) == ("new", True, None, 9)
    assert now["ip_allowlist"] == [] and now["allowed_models"] == ["sim/*"]
    assert now["rate_limits"] == {"tokens_per_day": 1000}


async def test_switching_a_key_off_and_an_edit_refused_in_place(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    key = await new_key(gateway, account["api_key"], key_name="k", expiration_days=3)
    async with console_for(gateway, account["api_key"]) as console:
        refused = await console.post(
            f"/console/keys/{key['id']}", {"key_name": "k", "active": "on", "max_requests": "0"}
        )
        assert refused.status_code == 400 and "max_requests" in refused.text
        assert 'name="max_requests" type="number" value="0"' in refused.text  # what was typed, kept
        off = await console.post(f"/console/keys/{key['id']}", {"key_name": "k", "no_expiry": "on"})
        assert off.status_code == 303
        page = (await console.get(f"/console/keys/{key['id']}")).text
        assert '<span class="badge bad">revoked</span>' in page
    now = await key_json(gateway, account["api_key"], key["id"])
    assert now["active"] is False and now["expires_at"] is None and now["max_requests"] is None
    assert not await works(gateway, key["api_key"])


async def test_rotating_shows_the_new_secret_once_and_the_old_one_stops(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    key = await new_key(gateway, account["api_key"], key_name="ci", spend_limit="3")
    async with console_for(gateway, account["api_key"]) as console:
        rotated = await console.post(f"/console/keys/{key['id']}/rotate")
        assert rotated.status_code == 200 and "Key rotated." in rotated.text
        secret = shown_secret(rotated.text)
        assert "it will not be shown again" in rotated.text
        assert secret not in (await console.get(f"/console/keys/{key['id']}")).text
    assert not await works(gateway, key["api_key"]) and await works(gateway, secret)
    assert (await key_json(gateway, account["api_key"], key["id"]))["spend_limit"] == 3


async def test_deleting_a_key(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    key = await new_key(gateway, account["api_key"], key_name="doomed")
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get(f"/console/keys/{key['id']}")).text
        assert f'action="/console/keys/{key["id"]}/delete" data-confirm="Delete doomed?' in page
        forged = await console.post(f"/console/keys/{key['id']}/delete", csrf="not-the-token")
        assert forged.status_code == 403 and await works(gateway, key["api_key"])
        deleted = await console.post(f"/console/keys/{key['id']}/delete")
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/keys?done=deleted"
        listed = (await console.get("/console/keys", done="deleted")).text
        assert "Key deleted" in listed and key["id"] not in listed
        assert (await console.get(f"/console/keys/{key['id']}")).status_code == 404
    assert not await works(gateway, key["api_key"])


async def test_another_customers_key_is_not_found(gateway: Gateway) -> None:
    ada = await gateway.customer("10", email="ada@example.com")
    bob = await gateway.customer("10", email="bob@example.com")
    async with console_for(gateway, ada["api_key"]) as console:
        assert bob["key_id"] not in (await console.get("/console/keys")).text
        for path, fields in [
            (f"/console/keys/{bob['key_id']}", None),
            (f"/console/keys/{bob['key_id']}", {"key_name": "mine now", "active": "on"}),
            (f"/console/keys/{bob['key_id']}", {"key_name": "mine now", "max_requests": "0"}),
            (f"/console/keys/{bob['key_id']}/rotate", {}),
            (f"/console/keys/{bob['key_id']}/delete", {}),
        ]:
            answer = await (console.get(path) if fields is None else console.post(path, fields))
            assert answer.status_code == 404, path
            assert "Not found" in answer.text and "new-secret" not in answer.text
    assert await works(gateway, bob["api_key"])
    assert (await key_json(gateway, bob["api_key"], bob["key_id"]))["key_name"] != "mine now"


async def test_a_test_key_session_sees_the_keys_but_changes_nothing(gateway: Gateway) -> None:
    account = await gateway.register("t@example.com", environment_tag="test")
    async with console_for(gateway, account["api_key"]) as console:
        page = await console.get("/console/keys")
        assert page.status_code == 200 and account["key_id"] in page.text
        assert 'action="/console/keys"' not in page.text  # no forms that could only fail
        for path, fields in [
            ("/console/keys", {"key_name": "sneaky"}),
            (f"/console/keys/{account['key_id']}", {"key_name": "sneaky", "active": "on"}),
            (f"/console/keys/{account['key_id']}/rotate", {}),
            (f"/console/keys/{account['key_id']}/delete", {}),
        ]:
            refused = await console.post(path, fields)
            assert refused.status_code == 403 and "read-only" in refused.text, path
    assert await works(gateway, account["api_key"])
    listed = (await gateway.client.get("/user/api-keys", headers=bearer(account["api_key"]))).json()["data"]
    assert [k["key_name"] for k in listed] != ["sneaky"] and len(listed) == 1


async def test_html_in_a_key_name_is_escaped(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    async with console_for(gateway, account["api_key"]) as console:
        created = await console.post("/console/keys", {"key_name": "<script>x</script>", "rl_requests_per_minute": "9"})
        key_id = re.findall(r'href="/console/keys/([^"]+)"', created.text)
        pages = [created.text] + [(await console.get(f"/console/keys/{k}")).text for k in key_id]
        pages.append((await console.get("/console/limits")).text)
    for page in pages:
        assert "<script>x</script>" not in page
    assert all("&lt;script&gt;x&lt;/script&gt;" in page for page in pages[:1] + pages[-1:])


async def test_rotating_a_key_ends_the_console_sessions_opened_with_it(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    other = await new_key(gateway, account["api_key"], key_name="other")
    async with console_for(gateway, account["api_key"]) as first, console_for(gateway, other["api_key"]) as second:
        assert (await first.get("/console/keys")).status_code == 200
        rotated = await second.post(f"/console/keys/{account['key_id']}/rotate")
        assert rotated.status_code == 200
        ended = await first.get("/console/keys")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/console/sign-in")
        assert (await second.get("/console/keys")).status_code == 200  # the other key's session lives on


async def test_rotating_your_own_key_says_the_session_ended(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    async with console_for(gateway, account["api_key"]) as console:
        rotated = await console.post(f"/console/keys/{account['key_id']}/rotate")
        assert "sign in again with the new key" in rotated.text
        await _signs_in_again(console, shown_secret(rotated.text))


async def _signs_in_again(console: Console, secret: str) -> None:
    assert (await console.get("/console/keys")).status_code == 303
    await console.sign_in(secret)
    assert (await console.get("/console/keys")).status_code == 200


async def test_the_list_has_pages(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_page, "PAGE", 2)
    account = await gateway.customer("10")
    made = [account["key_id"]]
    for name in ("k1", "k2", "k3"):
        made.append((await new_key(gateway, account["api_key"], key_name=name))["id"])
    async with console_for(gateway, account["api_key"]) as console:
        first = (await console.get("/console/keys")).text
        older = re.search(r'<a href="(/console/keys\?after=[^"]+)">Older', first)
        assert older is not None
        second = (await console.get(html.unescape(older.group(1)))).text
        assert "Older" not in second and "First page" in second
    ids = sorted(made)
    assert all(k in first for k in ids[:2]) and not any(k in first for k in ids[2:])
    assert all(k in second for k in ids[2:]) and not any(k in second for k in ids[:2])


async def test_a_session_stays_ended_when_its_revoked_key_is_switched_back_on(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    other = await new_key(gateway, account["api_key"], key_name="other")
    async with console_for(gateway, other["api_key"]) as console:
        assert (await console.get("/console/keys")).status_code == 200
        for active in (False, True):  # revoked, then switched back on before any page was loaded
            changed = await gateway.client.put(
                f"/user/api-keys/{other['id']}", json={"action": "update", "active": active},
                headers=bearer(account["api_key"]),
            )  # fmt: skip
            assert changed.status_code == 200, changed.text
        ended = await console.get("/console/keys")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/console/sign-in")
