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
pub mod jobs;
pub mod people;
pub mod projects;
pub mod schedules;
pub mod tasks;
pub mod workflows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// A store error: either something the caller asked for that the data refuses (`Conflict`,
/// `NotFound`, `Invalid`), or a database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<crate::domain::FieldError>,
    },
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
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
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

/// The database handle shared by the API, the workers and the scheduler.
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `url` and applies migrations: ours,
    /// recorded in `jixiao_migrations`, and the job queue's own.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("JIXIAO_DATABASE_URL '{url}' is not a SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash; only an OS crash or power loss can
            // lose the last commits, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("temp_store", "MEMORY")
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))?;
        let mut ours = sqlx::migrate!("./migrations/sqlite");
        ours.dangerous_set_table_name("jixiao_migrations");
        ours.run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        apalis_sqlite::SqliteStorage::<()>::migrations()
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("job queue migration failed: {e}"))?;
        Ok(Store { pool })
    }

    /// A write transaction that takes the write lock at once, so two writers never deadlock on
    /// upgrading a read lock (SQLite answers that with SQLITE_BUSY at once, whatever the timeout).
    pub async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
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
