# jixiao: workflow server for whole-process budget performance management.
#
#   docker build -t jixiao .
#   docker run --rm -p 8080:8080 -v jixiao-data:/var/lib/jixiao jixiao               # one process, SQLite
#   docker run --rm -p 8080:8080 jixiao serve --demo                                  # with the demo county
#
# For the scale-out shape (PostgreSQL, Redis, API and workers) see docker-compose.yml.
#
# The image holds the server (/usr/local/bin/jixiao), the shipped workflows (/app/workflows) and
# the shipped indicator-check plugins (/app/plugins/*.wasm), and its settings point at them. The
# runtime stage below is also read by the integration test tests/api/image.rs, which rebuilds its
# file layout (WORKDIR, ENV, COPY, VOLUME, ENTRYPOINT) in a temporary folder and starts the
# server there: keep the builder's outputs under /out/ and name new ones in that test.

# ---------------------------------------------------------------------------------------------
# Build stage: the server (release) and the WebAssembly plugins
# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# The plugins are WebAssembly components (wasm32-wasip2); plugins/build.sh needs the target.
RUN rustup target add wasm32-wasip2

# 1. The server's dependencies only: the manifest and the lock file with stub sources, so this
#    layer is rebuilt only when a manifest or a lock file changes. The server depends on the
#    plugins' rule crate by path (plugins/rules), whose manifest takes its version and edition
#    from the plugins' workspace (plugins/Cargo.toml), so both manifests come too, with an empty
#    library. The manifest's test targets are not built (only --bin jixiao), so they need no stub.
COPY Cargo.toml Cargo.lock ./
COPY plugins/Cargo.toml plugins/Cargo.lock ./plugins/
COPY plugins/rules/Cargo.toml ./plugins/rules/
RUN mkdir -p src plugins/rules/src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && : > plugins/rules/src/lib.rs \
    && cargo build --release --locked --bin jixiao

# 2. The plugins: their own Cargo workspace under plugins/ (target dir plugins/target). The
#    interface they implement is wit/indicator.wit. build.sh writes the six shipped plugins to
#    plugins/dist/*.wasm and the misbehaving test plugins to plugins/dist/test/, which the image
#    does not take.
COPY wit ./wit
COPY plugins ./plugins
RUN bash plugins/build.sh \
    && install -d /out/plugins \
    && install -m 0644 plugins/dist/*.wasm /out/plugins/

# 3. The server itself. Files read at compile time come first: sqlx::migrate!("./migrations/...")
#    embeds the migrations, include_str! embeds data-ref/calendar/*.txt and the shipped workflow
#    (for the benchmarks), and the plugin host's bindings are generated from wit/indicator.wit.
COPY migrations ./migrations
COPY data-ref ./data-ref
COPY workflows ./workflows
COPY src ./src
# COPY keeps the files' own modification times, which may be older than the stub build above;
# forget the stubs' fingerprints (the server's and the rule crate's) and touch their roots so
# Cargo rebuilds both.
RUN rm -rf target/release/.fingerprint/jixiao-* target/release/.fingerprint/rules-* \
    && touch src/main.rs src/lib.rs plugins/rules/src/lib.rs \
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

WORKDIR /app
COPY --from=builder /out/jixiao /usr/local/bin/jixiao
# Read-only for the server (owned by root): it reads the workflows and plugins at start and
# stores what it loaded in its database; compiled plugin code is cached in the data folder.
COPY --from=builder /out/plugins /app/plugins
COPY workflows /app/workflows

# Defaults that also hold when the command is replaced (e.g. `serve --api-only`, `worker`).
ENV JIXIAO_DATA_DIR=/var/lib/jixiao \
    JIXIAO_WORKFLOWS_DIR=/app/workflows \
    JIXIAO_PLUGINS_DIR=/app/plugins \
    JIXIAO_LISTEN=0.0.0.0:8080 \
    JIXIAO_LOG=info

USER jixiao
VOLUME ["/var/lib/jixiao"]
EXPOSE 8080

# Liveness of the HTTP server (GET /readyz would also check the database; docker-compose.yml's
# api uses that one).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1

# SIGTERM stops the server gracefully: the API stops accepting, running jobs finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["jixiao"]
# The listen address and the data folder come from the settings above, so `-e JIXIAO_...`
# changes them for the default command too.
CMD ["serve"]
