"""Payments' running parts, made at start-up when STRIPE_SECRET_KEY is set (without it, the
payment routes answer 503 and the rest of the gateway works as before)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Database
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.format import hashing_key
from gateway.services.payments.auto_topup import AutoTopUps
from gateway.services.payments.config import Payments
from gateway.services.payments.inbox import Inbox
from gateway.services.payments.stripe_api import StripeApi
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class PaymentParts:
    config: Payments
    auto_topups: AutoTopUps
    inbox: Inbox

    async def stop(self) -> None:
        await self.auto_topups.stop()
        await self.config.api.close()


def payment_config(settings: Settings) -> Payments | None:
    if settings.stripe_secret_key is None:
        return None
    secret = settings.stripe_webhook_secret
    return Payments(
        api=StripeApi(secret_key=settings.stripe_secret_key.get_secret_value(), api_base=settings.stripe_api_base),
        webhook_secret=secret.get_secret_value() if secret else None,
        fee_rate=settings.topup_fee_rate,
        public_base_url=settings.public_base_url,
    )


def command_inbox(settings: Settings, *, db: Database, config: Payments) -> Inbox:
    """An inbox for a one-off command (reconcile), beside the running gateways: no auto top-up
    job of its own, and their caches of a changed plan expire on their own within seconds."""
    auth = KeyAuthenticator(db=db, pepper=hashing_key(settings.secret()), admin_key=None)
    return Inbox(db=db, payments=config, auth=auth, auto_topups=AutoTopUps(db, config))


async def start_payments(settings: Settings, *, db: Database, auth: KeyAuthenticator) -> PaymentParts | None:
    config = payment_config(settings)
    if config is None:
        return None
    auto_topups = AutoTopUps(db, config)
    await auto_topups.start()
    inbox = Inbox(db=db, payments=config, auth=auth, auto_topups=auto_topups)
    return PaymentParts(config=config, auto_topups=auto_topups, inbox=inbox)
