-- A key's spend limit and request cap become CHECK constraints, named as in PostgreSQL
-- (0002), so that both backends refuse the same writes the same way. SQLite cannot add a
-- constraint to a table: the table is rebuilt (nothing references api_keys).

CREATE TABLE api_keys_rebuilt (
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
    deleted_at REAL,
    spend_limit INTEGER,
    spent INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    max_requests INTEGER,
    request_count INTEGER NOT NULL DEFAULT 0,
    ip_allowlist TEXT NOT NULL DEFAULT '[]',
    domain_referrers TEXT NOT NULL DEFAULT '[]',
    allowed_models TEXT NOT NULL DEFAULT '[]',
    rate_limits TEXT NOT NULL DEFAULT '{}',
    -- In PostgreSQL's order (alphabetical), so that both report the same one first.
    CONSTRAINT key_held_not_negative CHECK (held >= 0),
    CONSTRAINT key_request_cap CHECK (max_requests IS NULL OR request_count <= max_requests),
    CONSTRAINT key_spend_within_limit CHECK (spend_limit IS NULL OR spent + held <= spend_limit)
);

INSERT INTO api_keys_rebuilt (id, user_id, name, environment, key_hash, mask, active, expires_at,
                              created_at, rotated_at, deleted_at, spend_limit, spent, held,
                              max_requests, request_count, ip_allowlist, domain_referrers,
                              allowed_models, rate_limits)
SELECT id, user_id, name, environment, key_hash, mask, active, expires_at, created_at, rotated_at,
       deleted_at,
       -- Before this migration SQLite let a key's counts pass its limits, and a copy that kept
       -- such a row would fail the CHECKs below (and the gateway could not start). Each key
       -- comes out exactly at its limit instead, so it stays exhausted:
       -- spend: the limit rises to spent + held, never `spent` or `held` fall. `held` must stay
       -- the sum of the key's holds in `reservations` (each one's end subtracts its amount; a
       -- lower `held` would go negative then and the hold could never end), and `spent` is the
       -- key's settled charges. So the key can spend nothing now; once its holds end (a
       -- process stopped with requests in flight), it gets back at most what they held and did
       -- not charge, never any of the old overrun. A key with no holds stays at zero for good.
       CASE WHEN spend_limit IS NOT NULL AND spent + held > spend_limit
            THEN spent + held ELSE spend_limit END,
       spent, held, max_requests,
       -- requests: the count is cut to the cap, which still refuses the next request.
       CASE WHEN max_requests IS NOT NULL AND request_count > max_requests
            THEN max_requests ELSE request_count END,
       ip_allowlist, domain_referrers, allowed_models, rate_limits
FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_rebuilt RENAME TO api_keys;
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);
