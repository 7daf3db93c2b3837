-- Customer policy: plan periods, limit overrides, key policies, audit log.

-- Decimal text in both dialects, read back exactly.
ALTER TABLE plans ALTER COLUMN markup TYPE TEXT USING markup::text;

ALTER TABLE users ADD COLUMN plan_started_at DOUBLE PRECISION;
ALTER TABLE users ADD COLUMN limit_overrides TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN deleted_at DOUBLE PRECISION;

-- Spend limit and request cap are hard: `held` counts in-flight reservations, `spent`
-- settled charges, `request_count` forwarded requests; all kept while a limit is set.
-- The named CHECKs make a hold or settlement that would break them abort as a whole.
ALTER TABLE api_keys ADD COLUMN spend_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN spent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN max_requests BIGINT;
ALTER TABLE api_keys ADD COLUMN request_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN domain_referrers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD CONSTRAINT key_held_not_negative CHECK (held >= 0);
ALTER TABLE api_keys ADD CONSTRAINT key_spend_within_limit
    CHECK (spend_limit IS NULL OR spent + held <= spend_limit);
ALTER TABLE api_keys ADD CONSTRAINT key_request_cap
    CHECK (max_requests IS NULL OR request_count <= max_requests);

ALTER TABLE reservations ADD COLUMN key_held BOOLEAN NOT NULL DEFAULT FALSE;

-- Append-only and hash-chained per user: each entry's MAC covers the previous entry's.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    action TEXT NOT NULL,
    key_id TEXT,
    actor TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (user_id, seq)
);
CREATE INDEX audit_by_user ON audit_log (user_id, id);

CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
