"""Payments through Stripe: buying credits and plans with Checkout (`checkout`), the Billing
Portal, the webhook inbox that applies each event once (`inbox`, `events_*`), auto top-up
(`auto_topup`), the operators' history and reconcile (`history`, `reconcile`), and Stripe's
API as the gateway uses it (`stripe_api`). Every credit granted or taken back goes through
`services.billing`, in the transaction that stores its event."""
