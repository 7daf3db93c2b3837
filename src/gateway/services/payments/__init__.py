"""Payments through Stripe: top-ups, plan subscriptions, refunds and disputes, auto top-up.
Credits granted here go through `services.billing` like every other movement of money."""
