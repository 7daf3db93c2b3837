"""What the fake does for each API request it serves: `(store, params, *path_ids) -> object`,
raising StripeFakeError for what Stripe would refuse.

Parameters are checked against the SDK's own typed params: a name Stripe does not know is
refused ("Received unknown parameter"), as Stripe does. Known parameters the fake does not model
are accepted and ignored, except those that would change an amount or a schedule, which are
refused so that the fake never answers with a number Stripe would not."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable
from typing import Any

import stripe
from stripe.params import (
    CustomerCreateParams,
    CustomerUpdateParams,
    EventListParams,
    PaymentIntentCreateParams,
    SubscriptionCancelParams,
    SubscriptionUpdateParams,
)
from stripe.params.billing_portal import SessionCreateParams as PortalSessionCreateParams
from stripe.params.checkout import SessionCreateParams as CheckoutSessionCreateParams

from tests.fakes import stripe_billing as billing
from tests.fakes import stripe_payments as payments
from tests.fakes.stripe_store import LineItem, Store, base, make_customer, make_payment_intent, make_price, now
from tests.fakes.stripe_wire import (
    as_bool,
    as_int,
    as_list,
    as_str_dict,
    invalid,
    list_object,
    new_id,
    required,
)

_OPTIONS = frozenset(stripe.RequestOptions.__annotations__)


def _check(params: dict[str, Any], typed: type, unmodelled: frozenset[str] = frozenset()) -> None:
    known = frozenset(typed.__annotations__) - _OPTIONS
    for name in params:
        if name not in known:
            raise invalid(f"Received unknown parameter: {name}", param=name)
        if name in unmodelled:
            raise invalid(f"FakeStripe does not model `{name}` here; extend tests/fakes if you need it.", param=name)


def _only_expand(params: dict[str, Any]) -> None:
    for name in params:
        if name != "expand":
            raise invalid(f"Received unknown parameter: {name}", param=name)


def retrieve(object_type: str) -> Callable[[Store, dict[str, Any], str], dict[str, Any]]:
    def handler(store: Store, params: dict[str, Any], object_id: str) -> dict[str, Any]:
        _only_expand(params)
        return store.get(object_type, object_id)

    return handler


def create_customer(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    _check(params, CustomerCreateParams, frozenset({"balance", "cash_balance", "test_clock"}))
    customer = make_customer(email=params.get("email"), metadata=as_str_dict(params, "metadata"))
    customer.update(name=params.get("name"), description=params.get("description"), phone=params.get("phone"))
    return store.put(customer)


def update_customer(store: Store, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    _check(params, CustomerUpdateParams, frozenset({"balance", "cash_balance"}))
    customer = store.get("customer", customer_id)
    for name in ("email", "name", "description", "phone"):
        if name in params:
            customer[name] = params[name] or None
    _merge_metadata(customer, params)
    settings = params.get("invoice_settings", {})
    if "default_payment_method" in settings:
        method = store.get("payment_method", settings["default_payment_method"], param="invoice_settings", status=400)
        if method["customer"] != customer_id:
            raise invalid("The payment method must be attached to the customer.", param="invoice_settings")
        customer["invoice_settings"]["default_payment_method"] = method["id"]
    return customer


def _merge_metadata(obj: dict[str, Any], params: dict[str, Any]) -> None:
    """Stripe merges metadata keys; an empty value deletes its key, `metadata=` clears all."""
    if params.get("metadata") == "":
        obj["metadata"] = {}
        return
    for key, value in as_str_dict(params, "metadata").items():
        if value:
            obj["metadata"][key] = value
        else:
            obj["metadata"].pop(key, None)


def create_checkout_session(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    unmodelled = frozenset({"discounts", "optional_items", "shipping_options", "automatic_tax", "setup_intent_data"})
    _check(params, CheckoutSessionCreateParams, unmodelled)
    mode = params.get("mode") or ""
    if not mode:
        raise required("mode")
    if mode not in ("payment", "subscription"):
        raise invalid(f"FakeStripe models only payment and subscription mode, not `{mode}`.", param="mode")
    if params.get("ui_mode", "hosted_page") == "hosted_page" and not params.get("success_url"):
        raise required("success_url")
    _check_checkout_customer(store, params, mode)
    other = "subscription" if mode == "payment" else "payment"
    if f"{other}_data" in params or ("payment_intent_data" in params and mode != "payment"):
        wrong = "payment_intent_data" if mode != "payment" else "subscription_data"
        raise invalid(f"You can not pass `{wrong}` in `{mode}` mode.", param=wrong)
    items = _line_items(store, params, mode)
    total = sum(item.price["unit_amount"] * item.quantity for item in items)
    session = base(
        "checkout.session",
        "cs",
        amount_subtotal=total,
        amount_total=total,
        cancel_url=params.get("cancel_url"),
        client_reference_id=params.get("client_reference_id"),
        currency=items[0].price["currency"],
        customer=params.get("customer"),
        customer_creation=params.get("customer_creation", "if_required") if mode == "payment" else None,
        customer_details=None,
        customer_email=params.get("customer_email"),
        expires_at=as_int(params, "expires_at") or now() + 24 * 3600,
        invoice=None,
        locale=params.get("locale"),
        metadata=as_str_dict(params, "metadata"),
        mode=mode,
        payment_intent=None,
        payment_method_types=["card"],
        payment_status="unpaid",
        status="open",
        subscription=None,
        success_url=params.get("success_url"),
        ui_mode=params.get("ui_mode", "hosted_page"),
    )
    session["id"] = new_id("cs_test", 58)
    session["url"] = f"{store.checkout_base}/c/pay/{session['id']}"
    store.line_items[session["id"]] = items
    store.session_params[session["id"]] = {
        "payment_intent_data": copy.deepcopy(params.get("payment_intent_data", {})),
        "subscription_data": copy.deepcopy(params.get("subscription_data", {})),
    }
    return store.put(session)


def _check_checkout_customer(store: Store, params: dict[str, Any], mode: str) -> None:
    if "customer" in params:
        store.get("customer", params["customer"], param="customer", status=400)
        if "customer_email" in params:
            raise invalid("You may only specify one of these parameters: customer, customer_email.", param="customer")
    if "customer_creation" in params:
        if mode != "payment":
            raise invalid("`customer_creation` can only be used in `payment` mode.", param="customer_creation")
        if params["customer_creation"] not in ("always", "if_required"):
            raise invalid(f"Invalid customer_creation: {params['customer_creation']}", param="customer_creation")


def _line_items(store: Store, params: dict[str, Any], mode: str) -> list[LineItem]:
    raw = as_list(params, "line_items")
    if not raw:
        raise required("line_items")
    items: list[LineItem] = []
    for index, item in enumerate(raw):
        where = f"line_items[{index}]"
        if not isinstance(item, dict):
            raise invalid(f"Invalid object: {where}", param=where)
        quantity = as_int(item, "quantity", minimum=1)
        if quantity is None:
            raise invalid(f"Quantity is required. Add `quantity` to `{where}`", param=f"{where}[quantity]")
        if "price" in item:
            price = store.get("price", item["price"], param=f"{where}[price]", status=400)
        elif "price_data" in item:
            price = store.put(_inline_price(item["price_data"], where))
        else:
            raise invalid(f"You must specify either `price` or `price_data` in `{where}`.", param=where)
        items.append(LineItem(price=price, quantity=quantity))
    recurring = [item.price["recurring"] for item in items if item.price["recurring"]]
    if mode == "payment" and recurring:
        raise invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode "
            "or use only one-time prices.",
            param="line_items",
        )
    if mode == "subscription" and len(recurring) != len(items):
        raise invalid("FakeStripe models only recurring prices in `subscription` mode.", param="line_items")
    if mode == "subscription" and len({(r["interval"], r["interval_count"]) for r in recurring}) > 1:
        raise invalid("Checkout does not support multiple prices with different billing intervals.", param="line_items")
    if len({item.price["currency"] for item in items}) > 1:
        raise invalid("All prices on a Checkout Session must use the same currency.", param="line_items")
    return items


def _inline_price(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid(f"Invalid object: {where}[price_data]", param=f"{where}[price_data]")
    amount = as_int(data, "unit_amount", minimum=0)
    if amount is None:
        raise required(f"{where}[price_data][unit_amount]")
    if not data.get("currency"):
        raise required(f"{where}[price_data][currency]")
    if not data.get("product") and not data.get("product_data", {}).get("name"):
        raise required(f"{where}[price_data][product_data][name]")
    recurring = data.get("recurring") or {}
    return make_price(
        new_id("price"),
        unit_amount=amount,
        currency=data["currency"],
        interval=recurring.get("interval"),
        interval_count=as_int(recurring, "interval_count", minimum=1) or 1,
        product=data.get("product"),
    )


def create_portal_session(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    _check(params, PortalSessionCreateParams, frozenset({"customer_account"}))
    if not params.get("customer"):
        raise required("customer")
    store.get("customer", params["customer"], param="customer", status=400)
    session = base(
        "billing_portal.session",
        "bps",
        configuration=new_id("bpc"),
        customer=params["customer"],
        flow=None,
        locale=params.get("locale"),
        on_behalf_of=None,
        return_url=params.get("return_url"),
    )
    session["url"] = f"https://billing.stripe.test/p/session/{session['id']}"
    return store.put(session)


def create_payment_intent(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    unmodelled = frozenset({"capture_method", "application_fee_amount", "transfer_data", "amount_details"})
    _check(params, PaymentIntentCreateParams, unmodelled)
    amount = as_int(params, "amount", minimum=1)
    if amount is None:
        raise required("amount")
    currency = params.get("currency") or ""
    if not currency:
        raise required("currency")
    if currency == "usd" and amount < 50:
        raise invalid("Amount must be at least $0.50 usd", param="amount", code="amount_too_small")
    customer = params.get("customer")
    if customer is not None:
        store.get("customer", customer, param="customer", status=400)
    intent = make_payment_intent(
        amount=amount,
        currency=currency,
        customer=customer,
        metadata=as_str_dict(params, "metadata"),
        setup_future_usage=params.get("setup_future_usage"),
    )
    confirm, off_session = as_bool(params, "confirm"), as_bool(params, "off_session")
    if off_session and not confirm:
        raise invalid("You can only pass `off_session` when `confirm` is true.", param="off_session")
    if "payment_method" in params:
        method = store.get("payment_method", params["payment_method"], param="payment_method", status=400)
        if method["customer"] is not None and method["customer"] != customer:
            raise invalid("The provided PaymentMethod belongs to a different Customer.", param="payment_method")
        intent.update(payment_method=method["id"], status="requires_confirmation")
    store.put(intent)
    if confirm:
        if intent["payment_method"] is None:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                param="payment_method",
                code="payment_intent_unexpected_state",
            )
        payments.confirm(store, intent)
    return intent


def update_subscription(store: Store, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    unmodelled = frozenset({
        "items", "proration_behavior", "proration_date", "trial_end", "trial_from_plan", "pause_collection",
        "cancel_at", "billing_cycle_anchor", "add_invoice_items", "discounts", "automatic_tax",
    })  # fmt: skip
    _check(params, SubscriptionUpdateParams, unmodelled)
    subscription = store.get("subscription", subscription_id)
    if subscription["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.")
    previous: dict[str, Any] = {}
    if "metadata" in params:
        previous["metadata"] = copy.deepcopy(subscription["metadata"])
        _merge_metadata(subscription, params)
    if "default_payment_method" in params:
        method = store.get(
            "payment_method", params["default_payment_method"], param="default_payment_method", status=400
        )
        previous["default_payment_method"] = subscription["default_payment_method"]
        subscription["default_payment_method"] = method["id"]
    at_period_end = as_bool(params, "cancel_at_period_end")
    if at_period_end is not None and at_period_end != subscription["cancel_at_period_end"]:
        billing.schedule_cancel(store, subscription, at_period_end, previous=previous)
    elif previous:
        store.emit("customer.subscription.updated", subscription, previous)
    return subscription


def cancel_subscription(store: Store, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    _check(params, SubscriptionCancelParams, frozenset({"invoice_now", "prorate"}))
    subscription = store.get("subscription", subscription_id)
    if subscription["status"] == "canceled":
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.")
    billing.cancel_now(store, subscription)
    return subscription


def retrieve_event(store: Store, params: dict[str, Any], event_id: str) -> dict[str, Any]:
    _only_expand(params)
    return store.stored_event(event_id).event


def list_events(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    _check(params, EventListParams)
    limit = as_int(params, "limit", minimum=1) or 10
    if limit > 100:
        raise invalid("This value must be less than or equal to 100.", param="limit")
    if "type" in params and "types" in params:
        raise invalid("You may only specify one of these parameters: type, types.", param="types")
    patterns = [params["type"]] if "type" in params else as_list(params, "types")
    if len(patterns) > 20:
        raise invalid("You may pass at most 20 event types.", param="types")
    delivered = as_bool(params, "delivery_success")
    created = _created_filter(params.get("created"))
    newest_first = list(reversed(store.events))
    ids = [stored.event["id"] for stored in newest_first]
    start, stop = 0, len(newest_first)
    for cursor, param in (
        (params.get("starting_after"), "starting_after"),
        (params.get("ending_before"), "ending_before"),
    ):
        if cursor is not None and cursor not in ids:
            raise invalid(f"No such event: '{cursor}'", param=param, code="resource_missing")
    if "starting_after" in params:
        start = ids.index(params["starting_after"]) + 1
    if "ending_before" in params:
        stop = ids.index(params["ending_before"])
    matching = [
        stored.event
        for stored in newest_first[start:stop]
        if (not patterns or any(fnmatch.fnmatchcase(stored.event["type"], p) for p in patterns))
        and (delivered is None or stored.delivered == delivered)
        and created(stored.event["created"])
    ]
    page = matching[-limit:] if "ending_before" in params and "starting_after" not in params else matching[:limit]
    return list_object(copy.deepcopy(page), url="/v1/events", has_more=len(matching) > limit)


def _created_filter(raw: Any) -> Any:
    if raw is None:
        return lambda _: True
    if isinstance(raw, str):
        exact = as_int({"created": raw}, "created")
        return lambda created: created == exact
    if not isinstance(raw, dict) or set(raw) - {"gt", "gte", "lt", "lte"}:
        raise invalid("Invalid created filter: use created[gt|gte|lt|lte].", param="created")
    bounds = {op: as_int(raw, op) for op in raw}
    checks = {
        "gt": lambda c, b: c > b,
        "gte": lambda c, b: c >= b,
        "lt": lambda c, b: c < b,
        "lte": lambda c, b: c <= b,
    }
    return lambda created: all(checks[op](created, bound) for op, bound in bounds.items())
