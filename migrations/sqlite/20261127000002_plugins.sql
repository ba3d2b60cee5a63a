-- Indicator-check plugins (WebAssembly components). A (name, version) is immutable once stored;
-- old versions stay available.
CREATE TABLE plugins (
    name              TEXT NOT NULL,
    version           TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    info              TEXT NOT NULL,
    component         BLOB NOT NULL,
    origin            TEXT NOT NULL,
    uploaded_ms       INTEGER NOT NULL,
    uploaded_by       INTEGER REFERENCES users (id),
    PRIMARY KEY (name, version)
);
