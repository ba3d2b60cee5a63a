-- Panels waiting to be drawn. A stage that needs a panel records a request; a queued job draws
-- every pending request together, so experts' loads are balanced across a whole batch.
CREATE TABLE panel_requests (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    stage          TEXT NOT NULL,
    round          INTEGER NOT NULL,
    department     INTEGER NOT NULL,
    finance        INTEGER NOT NULL,
    expert         INTEGER NOT NULL,
    form           TEXT NOT NULL,
    within         TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    dispatched_ms  INTEGER,
    done_ms        INTEGER
);
CREATE INDEX panel_requests_pending ON panel_requests (dispatched_ms, id) WHERE status = 'pending';
