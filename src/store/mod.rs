//! Persistence: the only module that speaks SQL. One SQLite file (WAL mode) holds the state and
//! the job queue on the embedded default.
//!
//! # Layout
//! - `people`: departments, users, API tokens, experts.
//! - `projects`: projects and their indicators.
//! - `workflows`: published workflow versions (immutable) and the in-memory registry.
//! - `cases`: cycles, cases, their history and the views the API shows.
//! - `tasks`: human tasks and their completion.
//! - `advance`: applying the engine to pending inputs, in one transaction per batch.
//! - `schedules`: once-only cron fires.

pub mod advance;
pub mod bulk;
pub mod cases;
pub mod chain;
pub mod checks;
pub mod disclosure;
pub mod evaluation;
pub mod exchange;
pub mod files;
pub mod jobs;
pub mod key_eval;
pub mod libraries;
pub mod monitoring;
pub mod outbox;
pub mod overall;
pub mod overview;
pub mod panels;
pub mod people;
pub mod plugins;
pub mod projects;
pub mod report;
pub mod schedules;
pub mod sessions;
pub mod tasks;
pub mod workflows;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

/// A store error: either something the caller asked for that the data refuses (`Conflict`,
/// `NotFound`, `Invalid`), or a database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid { message: String, details: Vec<crate::domain::FieldError> },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) => {
                StoreError::Unavailable(e.to_string())
            }
            // A sum past 64 bits (SQLite's "integer overflow", PostgreSQL's 22003). Every amount
            // is bounded at its field, so only an absurd number of rows can get here; the
            // answer says so instead of a bare 500, and no total is ever wrapped round.
            sqlx::Error::Database(d)
                if d.code().is_some_and(|c| c == "22003") || d.message().contains("integer overflow") =>
            {
                StoreError::Conflict(
                    "a total of the stored amounts is beyond what can be counted (about 92 thousand trillion yuan); \
                     check the amounts and entries recorded"
                        .into(),
                )
            }
            _ => StoreError::Db(e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Other(anyhow::Error::new(e).context("stored JSON could not be read"))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Writes `rows` groups of `cols` bound parameters, "(…), (…)", for a multi-row statement.
/// SQLite gets positional `?` (sqlx looks up every `$N` by name, which grows with the square of
/// the parameters a statement has); PostgreSQL gets `$1 …`.
pub(crate) fn value_groups(backend: Backend, rows: usize, cols: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(rows * cols * 6);
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${}", i * cols + c + 1);
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by the API, the workers and the scheduler. The same SQL text runs
/// on both databases through sqlx's `Any` driver (placeholders `$1`, `RETURNING`, `ON
/// CONFLICT`); where the dialects differ the code asks `backend`.
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// On SQLite, a typed pool on the same file for the embedded job queue (apalis-sqlite).
    pub sqlite: Option<SqlitePool>,
    /// On SQLite, this process's writers take turns here, in arrival order, before they take a
    /// connection: SQLite has one writer at a time, and a writer waiting for it inside SQLite
    /// holds a pooled connection and sleeps in SQLite's busy handler (up to 100 ms a try), so
    /// a few waiting writers held every connection and page reads queued behind them.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction ([`Store::write`]): the transaction, and on SQLite this process's turn
/// to write, held until it commits or is dropped. It dereferences to the connection, as a
/// transaction does.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Where the transaction was begun, and when: a transaction that holds the writers' turn
    /// long is logged with its place, since every other writer waited for it.
    at: &'static std::panic::Location<'static>,
    since: std::time::Instant,
}

/// A write transaction held longer than this is logged (at `info`) with where it began.
const SLOW_WRITE: Duration = Duration::from_millis(100);

impl WriteTx {
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        let (at, since) = (self.at, self.since);
        let done = self.tx.commit().await;
        let held = since.elapsed();
        if held >= SLOW_WRITE {
            tracing::info!(held_ms = held.as_millis() as u64, at = %at, "a write transaction held the writers' turn long");
        }
        done
    }

    pub async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://...` or `postgres://...`), creating a SQLite file
    /// if needed, and applies migrations: ours, recorded in `jixiao_migrations`, and, on SQLite,
    /// the embedded job queue's own.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL at {}: {e}", redact(url)))?;
            let mut ours = sqlx::migrate!("./migrations/postgres");
            ours.dangerous_set_table_name("jixiao_migrations");
            ours.run(&pool).await.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
            return Ok(Store { pool, backend: Backend::Postgres, sqlite: None, writer: Arc::default() });
        }
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("JIXIAO_DATABASE_URL '{url}' is not a SQLite or PostgreSQL URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash; only an OS crash or power loss can
            // lose the last commits, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // The typed pool creates the file, sets WAL and runs the queue's migrations.
        let sqlite = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))?;
        apalis_sqlite::SqliteStorage::<()>::migrations()
            .run(&sqlite)
            .await
            .map_err(|e| anyhow::anyhow!("job queue migration failed: {e}"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))?;
        let mut ours = sqlx::migrate!("./migrations/sqlite");
        ours.dangerous_set_table_name("jixiao_migrations");
        ours.run(&pool).await.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        Ok(Store { pool, backend: Backend::Sqlite, sqlite: Some(sqlite), writer: Arc::default() })
    }

    /// A write transaction. On SQLite it waits for this process's turn to write (see
    /// `writer`), then takes SQLite's write lock at once, so two writers never deadlock on
    /// upgrading a read lock (SQLite answers that with SQLITE_BUSY at once, whatever the
    /// timeout); PostgreSQL locks rows as they are written.
    #[track_caller]
    pub fn write(&self) -> impl std::future::Future<Output = Result<WriteTx>> + Send + '_ {
        let at = std::panic::Location::caller();
        async move {
            Ok(match self.backend {
                Backend::Sqlite => {
                    let turn = Arc::clone(&self.writer).lock_owned().await;
                    let since = std::time::Instant::now();
                    WriteTx { tx: self.pool.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn), at, since }
                }
                Backend::Postgres => {
                    let since = std::time::Instant::now();
                    WriteTx { tx: self.pool.begin().await?, _turn: None, at, since }
                }
            })
        }
    }

    /// Holds start-up's shared writes (sealing the log, the sector libraries, plugins, shipped
    /// workflows, the first admin) to one process at a time: an api and its workers started
    /// together on an empty PostgreSQL otherwise race to create the same rows, and the loser
    /// stops ("the username 'admin' is taken"). On SQLite one process serves the file.
    /// The lock ends when the returned guard's `release` is called or its connection closes.
    pub async fn startup_lock(&self) -> Result<StartupLock> {
        match self.backend {
            Backend::Sqlite => Ok(StartupLock(None)),
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)").bind(STARTUP_LOCK_KEY).execute(&mut *conn).await?;
                Ok(StartupLock(Some(conn)))
            }
        }
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(p) = &self.sqlite {
            p.close().await;
        }
    }
}

/// The advisory lock key of start-up ("jixiao" in ASCII).
const STARTUP_LOCK_KEY: i64 = 0x6a69_7869_616f;

/// Start-up's lock on PostgreSQL (see `Store::startup_lock`).
#[derive(Debug)]
pub struct StartupLock(Option<sqlx::pool::PoolConnection<Any>>);

impl StartupLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.0.take() {
            // If the unlock fails the connection is closed instead, which ends the lock too.
            if sqlx::query("SELECT pg_advisory_unlock($1)").bind(STARTUP_LOCK_KEY).execute(&mut *conn).await.is_err() {
                let _ = conn.close().await;
            }
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:****@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Whether an error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Marks SQL text assembled from this module's constants (column lists, fixed WHERE clauses) as
/// safe; user input never reaches SQL text, only bind parameters.
pub(crate) fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

/// Creates the PostgreSQL database `name` on the server of `server_url` (a URL ending in
/// `/DATABASE` that can connect) and returns the new database's URL. Used by the benchmarks and
/// the tests, which give every run a database of its own. `name` must be a plain identifier.
pub async fn create_postgres_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "'{name}' is not a plain database name"
    );
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL at {}: {e}", redact(server_url)))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    let (head, _) = server_url.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("a database URL ends with /DATABASE"))?;
    Ok(format!("{head}/{name}"))
}

/// Drops a database made by `create_postgres_database`.
pub async fn drop_postgres_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "'{name}' is not a plain database name"
    );
    let mut conn = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await?;
    Ok(())
}
