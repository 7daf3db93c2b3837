-- Amounts are integers of nano-credits (1 credit = 1e9); times are Unix seconds.
-- Identifiers sort by creation time; COLLATE "C" keeps that order whatever the locale.

CREATE TABLE plans (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    price_per_month BIGINT NOT NULL DEFAULT 0,
    stripe_price_id TEXT UNIQUE,
    included_credits BIGINT NOT NULL DEFAULT 0,
    requests_per_minute BIGINT,
    requests_per_hour BIGINT,
    requests_per_day BIGINT,
    tokens_per_minute BIGINT,
    tokens_per_hour BIGINT,
    tokens_per_day BIGINT,
    max_tokens_per_request BIGINT,
    allowed_models TEXT NOT NULL DEFAULT '["*"]',
    max_api_keys BIGINT,
    max_concurrent_requests BIGINT,
    features TEXT NOT NULL DEFAULT '{"streaming": true}',
    markup NUMERIC,
    created_at DOUBLE PRECISION NOT NULL
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
    id TEXT COLLATE "C" PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    plan_id TEXT NOT NULL REFERENCES plans (id),
    plan_expires_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL
);

-- The hot row of every request lives in its own narrow table.
CREATE TABLE balances (
    user_id TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id),
    credits BIGINT NOT NULL DEFAULT 0 CHECK (credits >= 0),
    reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0)
);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'test', 'staging', 'dev')),
    key_hash TEXT NOT NULL UNIQUE,
    mask TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    rotated_at DOUBLE PRECISION,
    deleted_at DOUBLE PRECISION
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);

-- Settled movements only; append-only. Σ amount per user = credits + reserved.
CREATE TABLE ledger (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    credits_after BIGINT NOT NULL,
    reserved_after BIGINT NOT NULL,
    key_id TEXT,
    description TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX ledger_by_user ON ledger (user_id, id);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END;
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

-- What in-flight requests hold, and which process holds it (for crash recovery).
CREATE TABLE reservations (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    key_id TEXT,
    amount BIGINT NOT NULL CHECK (amount > 0),
    instance_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX reservations_by_instance ON reservations (instance_id);

CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE usage_records (
    id TEXT COLLATE "C" PRIMARY KEY,
    request_id TEXT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    key_id TEXT,
    environment TEXT NOT NULL,
    model TEXT NOT NULL,
    stream BOOLEAN NOT NULL,
    outcome TEXT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    usage_source TEXT NOT NULL,
    reserved BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    written_off BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX usage_by_user ON usage_records (user_id, created_at);
