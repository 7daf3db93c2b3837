-- Web console sessions. The browser holds a random token; only its hash is stored. A session
-- lives only as long as the key it was opened with (`key_hash`, the key's own HMAC): rotating,
-- revoking or deleting the key ends it on every process, because each page looks the key up.
CREATE TABLE console_sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('key', 'admin')),
    key_hash TEXT NOT NULL,
    user_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX console_sessions_key ON console_sessions (key_hash);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
