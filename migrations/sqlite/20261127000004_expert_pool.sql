-- The expert pool beyond sectors: specialities, a cap on concurrent reviews, declared
-- relationships and conflicts (recusal data), and the windows in which an expert can review.
ALTER TABLE experts ADD COLUMN specialities TEXT NOT NULL DEFAULT '[]';
ALTER TABLE experts ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 20;

-- kind: relative_heads_unit (a close relative heads department_id), took_part (helped declare,
-- argue or implement project_code), interest (any other declared interest in the department or
-- the project).
CREATE TABLE expert_conflicts (
    id              INTEGER PRIMARY KEY,
    expert_user_id  INTEGER NOT NULL REFERENCES experts (user_id),
    kind            TEXT NOT NULL,
    department_id   INTEGER REFERENCES departments (id),
    project_code    TEXT,
    note            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX expert_conflicts_expert ON expert_conflicts (expert_user_id);

-- An expert with windows is available only inside one of them; one without is always available.
CREATE TABLE expert_availability (
    id              INTEGER PRIMARY KEY,
    expert_user_id  INTEGER NOT NULL REFERENCES experts (user_id),
    from_ms         INTEGER NOT NULL,
    to_ms           INTEGER NOT NULL
);
CREATE INDEX expert_availability_expert ON expert_availability (expert_user_id);
