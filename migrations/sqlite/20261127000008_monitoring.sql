-- Double monitoring: the budget ledger, monitoring runs with the report each case owes, the
-- lights an evaluation gave, and the bureau's dispositions.

-- Changes to a project's budget after it was set: 调剂 in and out, mid-year additions (追加)
-- and reductions (from dispositions or result actions). The current budget is the project's
-- amount plus the ins and additions minus the outs and reductions.
CREATE TABLE budget_entries (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects (id),
    kind            TEXT NOT NULL CHECK (kind IN ('adjust_in', 'adjust_out', 'addition', 'reduction')),
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    reason          TEXT NOT NULL,
    disposition_id  INTEGER,
    recorded_by     INTEGER REFERENCES users (id),
    at_ms           INTEGER NOT NULL
);
CREATE INDEX budget_entries_project ON budget_entries (project_id);

-- One run per fire of a monitoring stage's schedule (created with the fire, so once).
CREATE TABLE monitoring_runs (
    id                INTEGER PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    stage             TEXT NOT NULL,
    fire_ms           INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    issued            INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    evaluated_ms      INTEGER,
    closed_ms         INTEGER,
    UNIQUE (workflow_id, workflow_version, stage, fire_ms)
);
CREATE INDEX monitoring_runs_open ON monitoring_runs (status);

-- The report each case in the stage owes a run.
CREATE TABLE monitoring_reports (
    run_id         INTEGER NOT NULL REFERENCES monitoring_runs (id),
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    department_id  INTEGER NOT NULL REFERENCES departments (id),
    sector         TEXT NOT NULL,
    fiscal_year    INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'filled', 'not_reported')),
    task_id        INTEGER REFERENCES tasks (id),
    budget_fen     INTEGER,   -- the adjusted budget when the report was filled
    filled_ms      INTEGER,
    targets        TEXT,      -- the indicators' operators and targets when it was filled (JSON)
    PRIMARY KEY (run_id, case_id)
);
CREATE INDEX monitoring_reports_case ON monitoring_reports (case_id, status);
CREATE INDEX monitoring_reports_status ON monitoring_reports (run_id, status);

-- The lights of a filled report, as the latest evaluation of its run gave them.
CREATE TABLE monitoring_lights (
    run_id           INTEGER NOT NULL REFERENCES monitoring_runs (id),
    case_id          INTEGER NOT NULL REFERENCES cases (id),
    light            TEXT,
    execution_light  TEXT,
    execution_pct    TEXT,
    blue             INTEGER NOT NULL,
    month            INTEGER NOT NULL,
    indicators       TEXT NOT NULL,   -- JSON [{index, light, value}]
    cause            TEXT,
    cause_text       TEXT NOT NULL,
    likelihood       TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id)
);

CREATE TABLE dispositions (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES cases (id),
    run_id        INTEGER REFERENCES monitoring_runs (id),
    kind          TEXT NOT NULL CHECK (kind IN ('reduce', 'adjust_targets', 'suspend', 'stop_disbursement')),
    amount_fen    INTEGER,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    proposed_by   INTEGER NOT NULL REFERENCES users (id),
    approver_id   INTEGER NOT NULL REFERENCES users (id),
    note          TEXT NOT NULL DEFAULT '',
    created_ms    INTEGER NOT NULL,
    decided_ms    INTEGER
);
CREATE INDEX dispositions_case ON dispositions (case_id);
