-- Notifications: every mail is a row written in the transaction of the change that causes it,
-- then delivered by the mailer (SMTP, or .eml files when no server is configured). A row is
-- claimed before it is sent, so several processes never send one row twice.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    user_id          INTEGER REFERENCES users (id),
    to_addr          TEXT NOT NULL,
    language         TEXT NOT NULL,
    subject          TEXT,
    context          TEXT NOT NULL,   -- JSON the templates render at delivery
    case_id          INTEGER REFERENCES cases (id),
    task_id          INTEGER REFERENCES tasks (id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    claimed_by       TEXT,
    claimed_ms       INTEGER,
    last_error       TEXT,
    message_id       TEXT,
    created_ms       INTEGER NOT NULL,
    sent_ms          INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_task ON outbox (task_id);
