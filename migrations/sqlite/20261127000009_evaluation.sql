-- Evaluation and its consequences: self-evaluation scores with their spot checks, result
-- actions tied to money, third-party institutions and key evaluations, public disclosures.

-- One self-evaluation per case: the form as filled, the budget it was scored against, the self
-- score and, when sampled, the reviewer's re-score. The final score is the re-score if there
-- is one; both are kept.
CREATE TABLE self_evaluations (
    case_id          INTEGER PRIMARY KEY REFERENCES cases (id),
    project_id       INTEGER NOT NULL REFERENCES projects (id),
    department_id    INTEGER NOT NULL REFERENCES departments (id),
    fiscal_year      INTEGER NOT NULL,
    stage            TEXT NOT NULL,
    scheme           TEXT NOT NULL,
    budget_fen       INTEGER NOT NULL,
    executed_fen     INTEGER NOT NULL,
    form             TEXT NOT NULL,   -- JSON: executed, items, explanation, evidence
    indicators       TEXT NOT NULL,   -- JSON: the indicators as scored
    self_score       TEXT,
    self_grade       TEXT,
    card             TEXT,            -- JSON score card
    spot_check_id    INTEGER,
    reviewed_score   TEXT,
    reviewed_grade   TEXT,
    reviewed_card    TEXT,
    reviewed_by      INTEGER REFERENCES users (id),
    flagged          TEXT,
    submitted_ms     INTEGER NOT NULL,
    reviewed_ms      INTEGER
);
CREATE INDEX self_evaluations_year ON self_evaluations (fiscal_year, department_id);

-- A spot-check draw: the seed, the population it was drawn from and the sample, so anyone can
-- draw it again and get the same cases.
CREATE TABLE spot_checks (
    id                INTEGER PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    stage             TEXT NOT NULL,
    seed              TEXT NOT NULL,   -- u64 as decimal text
    share             TEXT NOT NULL,
    stratified        INTEGER NOT NULL,
    margin            TEXT NOT NULL,
    population        TEXT NOT NULL,   -- JSON [[case_id, stratum], ...]
    sample            TEXT NOT NULL,   -- JSON [case_id, ...]
    drawn_by          INTEGER REFERENCES users (id),
    created_ms        INTEGER NOT NULL
);

-- What a result leads to, from proposal to completion.
CREATE TABLE result_actions (
    id              INTEGER PRIMARY KEY,
    case_id         INTEGER REFERENCES cases (id),
    project_id      INTEGER REFERENCES projects (id),
    department_id   INTEGER NOT NULL REFERENCES departments (id),
    fiscal_year     INTEGER NOT NULL,
    stage           TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('commend', 'keep', 'rectify', 'cut', 'suspend', 'recover', 'cancel')),
    percent         INTEGER,
    amount_fen      INTEGER,
    score           TEXT,
    grade           TEXT,
    status          TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'in_progress', 'done', 'escalated', 'superseded', 'rejected')),
    deadline_ms     INTEGER,
    task_id         INTEGER REFERENCES tasks (id),
    escalated_from  INTEGER REFERENCES result_actions (id),
    proposed_ms     INTEGER NOT NULL,
    approver_id     INTEGER REFERENCES users (id),
    approved_ms     INTEGER,
    completed_ms    INTEGER,
    note            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX result_actions_case ON result_actions (case_id, status);
CREATE INDEX result_actions_year ON result_actions (fiscal_year, department_id);
CREATE INDEX result_actions_due ON result_actions (status, deadline_ms);

ALTER TABLE budget_entries ADD COLUMN action_id INTEGER REFERENCES result_actions (id);

-- Third-party evaluation institutions, the units they are affiliated with (for the
-- independence check) and their staff's accounts.
CREATE TABLE third_parties (
    id                 INTEGER PRIMARY KEY,
    code               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    affiliations       TEXT NOT NULL,   -- JSON [department_id, ...]
    bureau_affiliated  INTEGER NOT NULL,
    created_ms         INTEGER NOT NULL
);
CREATE TABLE third_party_members (
    user_id         INTEGER PRIMARY KEY REFERENCES users (id),
    third_party_id  INTEGER NOT NULL REFERENCES third_parties (id)
);

-- A key evaluation (财政重点绩效评价) of a project or of a department's overall spending.
CREATE TABLE key_evaluations (
    id              INTEGER PRIMARY KEY,
    subject         TEXT NOT NULL CHECK (subject IN ('project', 'department')),
    project_id      INTEGER REFERENCES projects (id),
    department_id   INTEGER NOT NULL REFERENCES departments (id),
    fiscal_year     INTEGER NOT NULL,
    third_party_id  INTEGER NOT NULL REFERENCES third_parties (id),
    weights         TEXT NOT NULL,   -- JSON
    progress        TEXT NOT NULL,   -- JSON: stage, round, deliverable, confirmations, comments
    status          TEXT NOT NULL CHECK (status IN ('active', 'finished')),
    final_score     TEXT,
    grade           TEXT,
    version         INTEGER NOT NULL DEFAULT 0,
    created_by      INTEGER REFERENCES users (id),
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    CHECK ((subject = 'project') = (project_id IS NOT NULL))
);
CREATE INDEX key_evaluations_year ON key_evaluations (fiscal_year);

CREATE TABLE key_evaluation_events (
    id                 INTEGER PRIMARY KEY,
    key_evaluation_id  INTEGER NOT NULL REFERENCES key_evaluations (id),
    kind               TEXT NOT NULL,
    data               TEXT NOT NULL,
    actor_id           INTEGER REFERENCES users (id),
    at_ms              INTEGER NOT NULL
);
CREATE INDEX key_evaluation_events_eval ON key_evaluation_events (key_evaluation_id);

-- Published disclosures: immutable; a correction is a new version.
CREATE TABLE disclosures (
    id             INTEGER PRIMARY KEY,
    fiscal_year    INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('targets', 'results')),
    version        INTEGER NOT NULL,
    document       TEXT NOT NULL,   -- JSON, public fields only
    sha256         TEXT NOT NULL,
    published_by   INTEGER REFERENCES users (id),
    published_ms   INTEGER NOT NULL,
    UNIQUE (fiscal_year, kind, version)
);
CREATE TRIGGER disclosures_immutable BEFORE UPDATE ON disclosures
BEGIN
    SELECT RAISE(ABORT, 'a published disclosure is immutable; publish a correction as a new version');
END;
CREATE TRIGGER disclosures_kept BEFORE DELETE ON disclosures
BEGIN
    SELECT RAISE(ABORT, 'a published disclosure is immutable; publish a correction as a new version');
END;
