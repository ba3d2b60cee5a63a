-- Documents a department uploads with a submission (the ex-ante assessment report), kept in
-- the database beside the case so a backup of the database is a backup of everything.
CREATE TABLE case_files (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    task_id BIGINT NOT NULL REFERENCES tasks(id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users(id),
    uploaded_ms BIGINT NOT NULL
);
CREATE INDEX case_files_case ON case_files (case_id);
