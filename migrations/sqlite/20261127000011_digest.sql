-- Per-user mail preferences and the daily digest.
--
-- A user may take one digest a day instead of one mail per event (`digest`); a department user
-- may be the department's head (`department_head`), who is told first when the department's
-- work is overdue, before the bureau.
ALTER TABLE users ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN department_head INTEGER NOT NULL DEFAULT 0;

-- The outbox gains the status 'digested' (a mail folded into its recipient's digest instead of
-- being sent), the day a digest row is for (one per user and day, whatever the number of
-- mailers), and which digest reported a folded row. SQLite cannot change a CHECK, so the table
-- is rebuilt with its rows.
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    user_id          INTEGER REFERENCES users (id),
    to_addr          TEXT NOT NULL,
    language         TEXT NOT NULL,
    subject          TEXT,
    context          TEXT NOT NULL,   -- JSON the templates render at delivery
    case_id          INTEGER REFERENCES cases (id),
    task_id          INTEGER REFERENCES tasks (id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'digested')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    claimed_by       TEXT,
    claimed_ms       INTEGER,
    last_error       TEXT,
    message_id       TEXT,
    created_ms       INTEGER NOT NULL,
    sent_ms          INTEGER,
    digest_day       TEXT,             -- for kind 'digest': the bureau's day, YYYY-MM-DD
    digest_of        INTEGER           -- for a folded row: the digest that reported it
);
INSERT INTO outbox_new (id, kind, user_id, to_addr, language, subject, context, case_id, task_id, status, attempts,
                        next_attempt_ms, claimed_by, claimed_ms, last_error, message_id, created_ms, sent_ms)
SELECT id, kind, user_id, to_addr, language, subject, context, case_id, task_id, status, attempts,
       next_attempt_ms, claimed_by, claimed_ms, last_error, message_id, created_ms, sent_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_task ON outbox (task_id);
CREATE INDEX outbox_user ON outbox (user_id, status);
CREATE UNIQUE INDEX outbox_digest_day ON outbox (user_id, digest_day);
