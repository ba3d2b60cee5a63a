-- Per-user mail preferences and the daily digest.
--
-- A user may take one digest a day instead of one mail per event (`digest`); a department user
-- may be the department's head (`department_head`), who is told first when the department's
-- work is overdue, before the bureau.
ALTER TABLE users ADD COLUMN digest BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN department_head BIGINT NOT NULL DEFAULT 0;

-- The outbox gains the status 'digested' (a mail folded into its recipient's digest instead of
-- being sent), the day a digest row is for (one per user and day, whatever the number of
-- mailers), and which digest reported a folded row.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'digested'));
ALTER TABLE outbox ADD COLUMN digest_day TEXT;     -- for kind 'digest': the bureau's day, YYYY-MM-DD
ALTER TABLE outbox ADD COLUMN digest_of BIGINT;    -- for a folded row: the digest that reported it
CREATE INDEX outbox_user ON outbox (user_id, status);
CREATE UNIQUE INDEX outbox_digest_day ON outbox (user_id, digest_day);
