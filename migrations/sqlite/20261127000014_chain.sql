-- The event log is hash-chained: each event carries the hash of its predecessor (the case's
-- previous event; for administrative events, the previous one) and its own hash over both.
-- Rows written before this migration are sealed in order when a process starts.
ALTER TABLE events ADD COLUMN prev_hash TEXT;
ALTER TABLE events ADD COLUMN hash TEXT;
ALTER TABLE admin_events ADD COLUMN prev_hash TEXT;
ALTER TABLE admin_events ADD COLUMN hash TEXT;
