-- Payments through Stripe. Amounts in cents are what Stripe collected (USD); credits stay in
-- nano-credits. Every webhook event is stored once, in the transaction that applies it.

-- A refund or dispute may take back more than the balance holds: what could not be taken is
-- recorded on the ledger row (the row's amount is what was taken).
ALTER TABLE ledger ADD COLUMN shortfall BIGINT NOT NULL DEFAULT 0;

-- The Stripe subscription whose paid invoice set the user's plan (its periods are granted by
-- its invoices, and only its own changes move the plan); NULL: an admin set it (periods
-- granted hourly by the gateway).
ALTER TABLE users ADD COLUMN plan_subscription TEXT;

CREATE TABLE payment_customers (
    user_id TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id),
    customer_id TEXT NOT NULL UNIQUE,
    payment_method TEXT,
    has_paid BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE checkouts (
    session_id TEXT PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('credits', 'plan')),
    amount_cents BIGINT,
    plan_id TEXT,
    save_card BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE topups (
    payment_intent TEXT PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    source TEXT NOT NULL CHECK (source IN ('checkout', 'auto')),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    granted BIGINT NOT NULL CHECK (granted >= 0),
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    refund_taken BIGINT NOT NULL DEFAULT 0,
    dispute_taken BIGINT NOT NULL DEFAULT 0,
    dispute_status TEXT CHECK (dispute_status IN ('lost', 'won')),
    dispute_id TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX topups_by_user ON topups (user_id);

CREATE TABLE subscriptions (
    subscription_id TEXT PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    plan_id TEXT,
    status TEXT NOT NULL,
    period_end DOUBLE PRECISION,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    event_created DOUBLE PRECISION NOT NULL
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id);

CREATE TABLE auto_topups (
    user_id TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id),
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    threshold BIGINT NOT NULL CHECK (threshold >= 0),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    disabled_reason TEXT,
    attempt_id TEXT,
    attempt_started_at DOUBLE PRECISION,
    payment_intent TEXT,
    last_outcome TEXT,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    user_id TEXT,
    amount BIGINT NOT NULL DEFAULT 0,
    shortfall BIGINT NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'deferred')),
    detail TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX stripe_events_by_time ON stripe_events (received_at, id);

-- A refund or dispute of a payment whose credits were not granted yet (its events came in
-- another order): applied when they are.
CREATE TABLE deferred_events (
    event_id TEXT PRIMARY KEY,
    payment_intent TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX deferred_events_by_payment ON deferred_events (payment_intent);
