-- Amounts are integers of nano-credits (1 credit = 1e9); times are Unix seconds.

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_per_month INTEGER NOT NULL DEFAULT 0,
    stripe_price_id TEXT UNIQUE,
    included_credits INTEGER NOT NULL DEFAULT 0,
    requests_per_minute INTEGER,
    requests_per_hour INTEGER,
    requests_per_day INTEGER,
    tokens_per_minute INTEGER,
    tokens_per_hour INTEGER,
    tokens_per_day INTEGER,
    max_tokens_per_request INTEGER,
    allowed_models TEXT NOT NULL DEFAULT '["*"]',
    max_api_keys INTEGER,
    max_concurrent_requests INTEGER,
    features TEXT NOT NULL DEFAULT '{"streaming": true}',
    markup TEXT,
    created_at REAL NOT NULL
);

INSERT INTO plans (id, name, price_per_month, included_credits,
                   requests_per_minute, requests_per_hour, requests_per_day,
                   tokens_per_minute, tokens_per_hour, tokens_per_day,
                   max_api_keys, max_concurrent_requests, created_at)
VALUES
    ('free', 'Free', 0, 0, 60, 1000, 10000, 100000, 1000000, 5000000, 10, 20, 0),
    ('pro', 'Pro', 0, 0, 600, 20000, 500000, 1000000, 20000000, 200000000, 50, 100, 0),
    ('enterprise', 'Enterprise', 0, 0, 6000, 200000, 5000000, 10000000, 200000000, 2000000000,
     NULL, 1000, 0);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    plan_id TEXT NOT NULL REFERENCES plans (id),
    plan_expires_at REAL,
    created_at REAL NOT NULL
);

-- The hot row of every request lives in its own narrow table.
CREATE TABLE balances (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    credits INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'test', 'staging', 'dev')),
    key_hash TEXT NOT NULL UNIQUE,
    mask TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    expires_at REAL,
    created_at REAL NOT NULL,
    rotated_at REAL,
    deleted_at REAL
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);

-- Settled movements only; append-only. Σ amount per user = credits + reserved.
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    credits_after INTEGER NOT NULL,
    reserved_after INTEGER NOT NULL,
    key_id TEXT,
    description TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX ledger_by_user ON ledger (user_id, id);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

-- What in-flight requests hold, and which process holds it (for crash recovery).
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    key_id TEXT,
    amount INTEGER NOT NULL CHECK (amount > 0),
    instance_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX reservations_by_instance ON reservations (instance_id);

CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);

CREATE TABLE usage_records (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    key_id TEXT,
    environment TEXT NOT NULL,
    model TEXT NOT NULL,
    stream INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    usage_source TEXT NOT NULL,
    reserved INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    written_off INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX usage_by_user ON usage_records (user_id, created_at);
