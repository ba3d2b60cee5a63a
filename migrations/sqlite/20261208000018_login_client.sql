-- The client address of each failed log-in: a username locks for the address that failed, not
-- for its owner elsewhere, and an address that fails for many usernames locks for all of them.
ALTER TABLE login_failures ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_client ON login_failures (client, at_ms);
