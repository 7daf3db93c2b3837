"""Card payments as Stripe makes them: confirming a PaymentIntent (or declining it, worded as
Stripe words declines), refunds, and disputes with their balance movements."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.stripe_store import DISPUTE_FEE, Store, base, make_charge, now, pay_intent
from tests.fakes.stripe_wire import StripeFakeError

DECLINES = {  # decline code -> (error code, message), as Stripe words them
    "insufficient_funds": ("card_declined", "Your card has insufficient funds."),
    "generic_decline": ("card_declined", "Your card was declined."),
    "lost_card": ("card_declined", "Your card was declined."),
    "expired_card": ("expired_card", "Your card has expired."),
    "authentication_required": (
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}


def confirm(store: Store, intent: dict[str, Any]) -> None:
    """Charge `intent`'s card now; raises the 402 Stripe answers when the card declines."""
    failure = attempt(store, intent)
    store.emit("payment_intent.payment_failed" if failure else "payment_intent.succeeded", intent)
    if failure:
        raise failure


def attempt(store: Store, intent: dict[str, Any], decline_code: str | None = None) -> StripeFakeError | None:
    """Charge the intent's card: None when paid, else the error of the decline (a marked card's
    code, or `decline_code`)."""
    decline_code = decline_code or store.declines.get(intent["payment_method"] or "")
    if decline_code is None:
        pay_intent(store, intent)
        return None
    code, message = DECLINES.get(decline_code, ("card_declined", "Your card was declined."))
    charge = store.put(make_charge(intent, failure=(code, message)))
    method = copy.deepcopy(store.objects.get(intent["payment_method"]))
    error = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "charge": charge["id"],
        "payment_method": method,
    }
    # A failed attempt detaches the card from the intent; the error keeps it.
    intent.update(status="requires_payment_method", latest_charge=charge["id"], payment_method=None)
    intent["last_payment_error"] = error
    return StripeFakeError(
        402,
        message,
        error_type="card_error",
        code=code,
        decline_code=decline_code,
        charge=charge["id"],
        payment_intent=copy.deepcopy(intent),
        payment_method=method,
    )


def refund(store: Store, payment_intent_id: str, amount: int | None) -> dict[str, Any]:
    charge = store.charge_of(payment_intent_id)
    left = charge["amount_captured"] - charge["amount_refunded"]
    amount = left if amount is None else amount
    if not 0 < amount <= left:
        raise ValueError(f"cannot refund {amount} of {charge['id']}: {left} left to refund")
    created = store.put(
        base(
            "refund",
            "re",
            amount=amount,
            charge=charge["id"],
            currency=charge["currency"],
            metadata={},
            payment_intent=payment_intent_id,
            reason=None,
            status="succeeded",
        )
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
    store.emit("charge.refunded", charge, previous)
    return created


def open_dispute(store: Store, payment_intent_id: str, *, amount: int | None, funds_withdrawn: bool) -> dict[str, Any]:
    charge = store.charge_of(payment_intent_id)
    dispute = base(
        "dispute",
        "du",
        amount=charge["amount"] if amount is None else amount,
        balance_transactions=[],
        charge=charge["id"],
        currency=charge["currency"],
        evidence_details={"due_by": now() + 7 * 86400, "has_evidence": False, "past_due": False, "submission_count": 0},
        is_charge_refundable=False,
        metadata={},
        payment_intent=payment_intent_id,
        reason="fraudulent",
        status="needs_response",
    )
    charge["disputed"] = True
    store.put(dispute)
    store.emit("charge.dispute.created", dispute)
    if funds_withdrawn:
        _move_funds(dispute, -dispute["amount"], fee=DISPUTE_FEE, category="dispute")
        store.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def close_dispute(store: Store, dispute_id: str, outcome: str) -> None:
    if outcome not in ("won", "lost"):
        raise ValueError(f"a dispute is won or lost, not {outcome!r}")
    dispute = store.get("dispute", dispute_id)
    if dispute["status"] in ("won", "lost"):
        raise ValueError(f"{dispute_id} is already closed ({dispute['status']})")
    dispute["status"] = outcome
    store.emit("charge.dispute.closed", dispute)
    if outcome == "won" and dispute["balance_transactions"]:
        _move_funds(dispute, dispute["amount"], fee=0, category="dispute_reversal")
        store.emit("charge.dispute.funds_reinstated", dispute)


def _move_funds(dispute: dict[str, Any], amount: int, *, fee: int, category: str) -> None:
    dispute["balance_transactions"].append(
        base(
            "balance_transaction",
            "txn",
            amount=amount,
            currency=dispute["currency"],
            fee=fee,
            net=amount - fee,
            reporting_category=category,
            status="available",
            type="adjustment",
        )
    )
