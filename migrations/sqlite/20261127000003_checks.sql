-- Plugin checks of a submission: one row per (case, stage, round) request, run by a queued job,
-- and the findings it stored. A check is done once; its findings never change afterwards.
CREATE TABLE plugin_checks (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    stage          TEXT NOT NULL,
    round          INTEGER NOT NULL,
    plugins        TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    dispatched_ms  INTEGER,
    finished_ms    INTEGER,
    errors         INTEGER NOT NULL DEFAULT 0,
    warnings       INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    ran            TEXT
);
CREATE INDEX plugin_checks_pending ON plugin_checks (dispatched_ms, id) WHERE status = 'pending';
CREATE INDEX plugin_checks_case ON plugin_checks (case_id);

CREATE TABLE check_findings (
    id               INTEGER PRIMARY KEY,
    check_id         INTEGER NOT NULL REFERENCES plugin_checks (id),
    case_id          INTEGER NOT NULL REFERENCES cases (id),
    plugin           TEXT NOT NULL,
    plugin_version   TEXT,
    code             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    indicator_index  INTEGER,
    indicator_name   TEXT,
    message_zh       TEXT NOT NULL,
    message_en       TEXT NOT NULL
);
CREATE INDEX check_findings_check ON check_findings (check_id);
