-- The spine: reference data, projects with their indicators, workflow versions, cycles, cases,
-- their inputs, tasks and history. Times are UTC milliseconds since the epoch; money is integer
-- fen; decimals (weights, scores) are exact decimal strings.

CREATE TABLE departments (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    sector      TEXT NOT NULL,
    head        TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'finance', 'department', 'expert', 'third_party')),
    department_id INTEGER REFERENCES departments (id),
    email         TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_ms    INTEGER NOT NULL,
    CHECK ((role = 'department') = (department_id IS NOT NULL))
);
CREATE INDEX users_role ON users (role, active);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);

CREATE TABLE experts (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id),
    sectors       TEXT NOT NULL,   -- JSON array of sector codes
    title         TEXT NOT NULL DEFAULT '',
    organisation  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE expert_employment (
    id             INTEGER PRIMARY KEY,
    expert_user_id INTEGER NOT NULL REFERENCES experts (user_id),
    department_id  INTEGER NOT NULL REFERENCES departments (id),
    from_year      INTEGER NOT NULL,
    to_year        INTEGER NOT NULL
);
CREATE INDEX expert_employment_expert ON expert_employment (expert_user_id);

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    department_id   INTEGER NOT NULL REFERENCES departments (id),
    sector          TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL CHECK (amount_fen >= 0),
    fiscal_year     INTEGER NOT NULL,
    is_new          INTEGER NOT NULL,
    funding_source  TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX projects_department ON projects (department_id, fiscal_year);
CREATE INDEX projects_year ON projects (fiscal_year);

CREATE TABLE indicators (
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    level1       TEXT NOT NULL,
    level2       TEXT NOT NULL,
    name         TEXT NOT NULL,
    operator     TEXT NOT NULL,
    value        TEXT NOT NULL,
    value_kind   TEXT NOT NULL CHECK (value_kind IN ('number', 'text')),
    unit         TEXT NOT NULL,
    weight       TEXT NOT NULL,
    basis        TEXT NOT NULL,
    explanation  TEXT NOT NULL,
    core         INTEGER NOT NULL,
    PRIMARY KEY (project_id, position)
);

CREATE TABLE workflow_versions (
    workflow_id   TEXT NOT NULL,
    version       INTEGER NOT NULL,
    title         TEXT NOT NULL,
    source        TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    origin        TEXT NOT NULL,
    published_ms  INTEGER NOT NULL,
    published_by  INTEGER REFERENCES users (id),
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE cycles (
    id                INTEGER PRIMARY KEY,
    fiscal_year       INTEGER NOT NULL,
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    started_ms        INTEGER NOT NULL,
    started_by        INTEGER REFERENCES users (id),
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflow_versions (workflow_id, version)
);

CREATE TABLE cases (
    id                INTEGER PRIMARY KEY,
    cycle_id          INTEGER NOT NULL REFERENCES cycles (id),
    project_id        INTEGER NOT NULL REFERENCES projects (id),
    department_id     INTEGER NOT NULL REFERENCES departments (id),
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    stage             TEXT,
    phase             TEXT NOT NULL,
    status            TEXT NOT NULL,
    state             TEXT NOT NULL,   -- JSON engine::CaseState
    version           INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    UNIQUE (cycle_id, project_id)
);
CREATE INDEX cases_department ON cases (department_id);
CREATE INDEX cases_stage ON cases (workflow_id, workflow_version, stage, phase);

-- What happened to a case and has not yet been applied by the engine. A row is written in the
-- same transaction as the change that caused it; the dispatcher hands pending rows to workers,
-- and a worker marks them applied in the transaction that saves the case's new state.
CREATE TABLE case_inputs (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    input          TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    dispatched_ms  INTEGER,
    applied_ms     INTEGER
);
CREATE INDEX case_inputs_pending ON case_inputs (dispatched_ms, id) WHERE applied_ms IS NULL;
CREATE INDEX case_inputs_case ON case_inputs (case_id) WHERE applied_ms IS NULL;

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    stage          TEXT NOT NULL,
    round          INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('submission', 'review', 'approval')),
    form           TEXT NOT NULL,
    role           TEXT NOT NULL,
    department_id  INTEGER REFERENCES departments (id),
    assignee_id    INTEGER REFERENCES users (id),
    panel_role     TEXT,
    status         TEXT NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
    due_ms         INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    completed_ms   INTEGER,
    completed_by   INTEGER REFERENCES users (id),
    result         TEXT
);
CREATE INDEX tasks_case ON tasks (case_id, status);
CREATE INDEX tasks_department ON tasks (department_id, status);
CREATE INDEX tasks_assignee ON tasks (assignee_id, status);
CREATE INDEX tasks_role_open ON tasks (role, status);

-- Every change to a case, in order. `seq` counts from 1 per case.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    case_id   INTEGER NOT NULL REFERENCES cases (id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users (id),
    at_ms     INTEGER NOT NULL,
    UNIQUE (case_id, seq)
);

-- Administrative changes (users, tokens, workflow publication) for the audit trail.
CREATE TABLE admin_events (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users (id),
    at_ms     INTEGER NOT NULL
);

-- One row per (schedule, fire time): the primary key makes each fire happen once however many
-- processes look at the clock.
CREATE TABLE schedule_fires (
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    stage             TEXT NOT NULL,
    fire_ms           INTEGER NOT NULL,
    outcome           TEXT NOT NULL CHECK (outcome IN ('fired', 'skipped')),
    cases             INTEGER NOT NULL,
    recorded_ms       INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, workflow_version, stage, fire_ms)
);

CREATE TABLE schedule_cursors (
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    stage             TEXT NOT NULL,
    last_fire_ms      INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, workflow_version, stage)
);
