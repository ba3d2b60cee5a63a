-- A panel member may decline a review: the task ends 'declined' and a replacement is drawn.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows.
CREATE TABLE tasks_new (
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
    status         TEXT NOT NULL CHECK (status IN ('open', 'completed', 'cancelled', 'declined')),
    due_ms         INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    completed_ms   INTEGER,
    completed_by   INTEGER REFERENCES users (id),
    result         TEXT
);
INSERT INTO tasks_new SELECT id, case_id, stage, round, kind, form, role, department_id, assignee_id, panel_role, status, due_ms, created_ms, completed_ms, completed_by, result FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_case ON tasks (case_id, status);
CREATE INDEX tasks_department ON tasks (department_id, status);
CREATE INDEX tasks_assignee ON tasks (assignee_id, status);
CREATE INDEX tasks_role_open ON tasks (role, status);
