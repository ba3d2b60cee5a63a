# jixiao: workflow server for whole-process budget performance management.
#
#   docker build -t jixiao .
#   docker run --rm -p 8080:8080 -v jixiao-data:/var/lib/jixiao jixiao               # one process, SQLite
#   docker run --rm -p 8080:8080 jixiao serve --demo                                  # with the demo county
#
# For the scale-out shape (PostgreSQL, Redis, API and workers) see docker-compose.yml.

# ---------------------------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# 1. Dependencies only: the manifest and the lock file with stub sources, so this layer is
#    rebuilt only when Cargo.toml or Cargo.lock change. The manifest names its targets
#    explicitly (src/main.rs, src/lib.rs, tests/api/main.rs); each gets a stub so the manifest
#    always resolves, but only the binary (and the library it links) is built, never the tests.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/api \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && echo 'fn main() {}' > tests/api/main.rs \
    && cargo build --release --locked --bin jixiao

# 2. The real crate. Files read at compile time come first: sqlx::migrate!("./migrations/...")
#    embeds the migrations and include_str! embeds data-ref/calendar/*.txt.
COPY migrations ./migrations
COPY data-ref ./data-ref
COPY src ./src
# COPY keeps the files' own modification times, which may be older than the stub build above;
# forget the stub's fingerprints (and touch the roots) so Cargo rebuilds the crate itself.
RUN rm -rf target/release/.fingerprint/jixiao-* \
    && touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin jixiao \
    && install -D -m 0755 target/release/jixiao /out/jixiao

# ---------------------------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates for TLS to outside services; curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 jixiao \
    && useradd --system --uid 10001 --gid jixiao --home-dir /var/lib/jixiao --no-create-home \
       --shell /usr/sbin/nologin jixiao \
    && mkdir -p /var/lib/jixiao \
    && chown jixiao:jixiao /var/lib/jixiao

COPY --from=builder /out/jixiao /usr/local/bin/jixiao
WORKDIR /app
COPY workflows ./workflows

# Defaults that also hold when the command is replaced (e.g. `serve --api-only`, `worker`).
ENV JIXIAO_DATA_DIR=/var/lib/jixiao \
    JIXIAO_WORKFLOWS_DIR=/app/workflows \
    JIXIAO_LISTEN=0.0.0.0:8080 \
    JIXIAO_LOG=info

USER jixiao
VOLUME ["/var/lib/jixiao"]
EXPOSE 8080

# Liveness of the HTTP server (GET /readyz would also check the database).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1

# SIGTERM stops the server gracefully: the API stops accepting, running jobs finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["jixiao"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/jixiao"]
