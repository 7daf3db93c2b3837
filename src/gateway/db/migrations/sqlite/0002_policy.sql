-- Customer policy: plan periods, limit overrides, key policies, audit log.

ALTER TABLE users ADD COLUMN plan_started_at REAL;
ALTER TABLE users ADD COLUMN limit_overrides TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN deleted_at REAL;

-- Spend limit and request cap are hard: `held` counts in-flight reservations, `spent`
-- settled charges, `request_count` forwarded requests; all kept while a limit is set.
ALTER TABLE api_keys ADD COLUMN spend_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0);
ALTER TABLE api_keys ADD COLUMN max_requests INTEGER;
ALTER TABLE api_keys ADD COLUMN request_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN domain_referrers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '{}';

ALTER TABLE reservations ADD COLUMN key_held INTEGER NOT NULL DEFAULT 0;

-- Append-only and hash-chained per user: each entry's MAC covers the previous entry's.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    key_id TEXT,
    actor TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at REAL NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (user_id, seq)
);
CREATE INDEX audit_by_user ON audit_log (user_id, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
