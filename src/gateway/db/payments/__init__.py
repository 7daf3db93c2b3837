"""Payments' storage: Stripe customers and checkouts, top-ups (for refunds and disputes),
subscriptions, auto top-up settings, and every webhook event, stored once."""
