-- Indicator-check plugins (WebAssembly components). A (name, version) is immutable once stored;
-- old versions stay available.
CREATE TABLE plugins (
    name              TEXT NOT NULL,
    version           TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    info              TEXT NOT NULL,
    component         BYTEA NOT NULL,
    origin            TEXT NOT NULL,
    uploaded_ms       BIGINT NOT NULL,
    uploaded_by       BIGINT REFERENCES users (id),
    PRIMARY KEY (name, version)
);
