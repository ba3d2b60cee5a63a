-- The web pages' log-in: passwords (argon2id hashes), sessions and failed attempts.
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A session is known by the SHA-256 of its cookie's value; the cookie itself is never stored.
-- It ends after `idle` without a request or at `expires_ms`, whichever comes first.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    csrf          TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed log-ins, for the rate limit (per username, over a sliding window).
CREATE TABLE login_failures (
    username  TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (username, at_ms);
