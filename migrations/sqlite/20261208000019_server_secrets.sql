-- Secrets the server keeps for itself, made on first use: the key that signs log-in forms'
-- tokens (every API process of an installation shares it through the database).
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
