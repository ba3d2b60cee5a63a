//! What the job transport needs from the database: which cases have inputs waiting for a job,
//! marking them dispatched, and (for the embedded queue) the depth and upkeep of apalis's table.

use super::{Backend, Result, Store};

/// The queue all jobs go through (a table's `job_type` on SQLite, a key prefix on Redis).
pub const QUEUE: &str = "jixiao";

/// Work recorded as rows of its own and run by jobs of its own: plugin checks and panel
/// requests. Both tables have `status` ('pending' until done) and `dispatched_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requests {
    Checks,
    Panels,
}

impl Requests {
    fn table(self) -> &'static str {
        match self {
            Requests::Checks => "plugin_checks",
            Requests::Panels => "panel_requests",
        }
    }
}

impl Store {
    /// Requests of this kind no job has been queued for, or whose job was queued more than
    /// `redispatch_after_ms` ago and has not finished them (the job was lost).
    pub async fn pending_requests(
        &self,
        kind: Requests,
        now_ms: i64,
        redispatch_after_ms: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT id FROM {} WHERE status = 'pending' AND (dispatched_ms IS NULL OR dispatched_ms < $1) ORDER BY id LIMIT $2",
            kind.table()
        );
        Ok(sqlx::query_scalar(super::sql(sql))
            .bind(now_ms - redispatch_after_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records that a job was queued for these requests (`Some(now)`), or makes them eligible for
    /// dispatch again at once because their job failed (`None`).
    pub async fn set_requests_dispatched(&self, kind: Requests, ids: &[i64], at_ms: Option<i64>) -> Result<()> {
        let sql = format!("UPDATE {} SET dispatched_ms = $1 WHERE id = $2 AND status = 'pending'", kind.table());
        let mut tx = self.write().await?;
        for id in ids {
            sqlx::query(super::sql(sql.clone())).bind(at_ms).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Cases with inputs that no job has been queued for, or whose job was queued more than
    /// `redispatch_after_ms` ago and has not applied them (the job was lost: a worker killed and
    /// its job given up, a flushed Redis). Returns (case id, highest pending input id) pairs in
    /// case order; the input id bounds what `mark_dispatched` may mark.
    pub async fn pending_cases(&self, now_ms: i64, redispatch_after_ms: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT case_id, id FROM case_inputs WHERE applied_ms IS NULL AND (dispatched_ms IS NULL OR dispatched_ms < $1) ORDER BY id LIMIT $2",
        )
        .bind(now_ms - redispatch_after_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut by_case: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        for (case_id, id) in rows {
            let e = by_case.entry(case_id).or_insert(id);
            *e = (*e).max(id);
        }
        Ok(by_case.into_iter().collect())
    }

    /// Records that jobs were queued for these cases' pending inputs up to the given input id.
    /// Called after the jobs are queued: a crash in between queues them again later, which is
    /// harmless. Inputs recorded after the dispatcher looked are left undispatched, so a job is
    /// queued for them too (marking every pending input would strand one that arrived meanwhile
    /// until the re-dispatch timeout).
    pub async fn mark_dispatched(&self, cases: &[(i64, i64)], now_ms: i64) -> Result<()> {
        let mut tx = self.write().await?;
        for (case_id, up_to) in cases {
            sqlx::query(
                "UPDATE case_inputs SET dispatched_ms = $1 WHERE case_id = $2 AND id <= $3 AND applied_ms IS NULL",
            )
            .bind(now_ms)
            .bind(case_id)
            .bind(up_to)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes the pending inputs of these cases eligible for dispatch again at once (after a job
    /// failed for a reason that may pass, such as a busy database).
    pub async fn release_cases(&self, case_ids: &[i64]) -> Result<()> {
        let mut tx = self.write().await?;
        for id in case_ids {
            sqlx::query("UPDATE case_inputs SET dispatched_ms = NULL WHERE case_id = $1 AND applied_ms IS NULL")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Jobs waiting or running in the embedded queue (SQLite only; other queues report their own).
    pub async fn sqlite_queue_depth(&self) -> Result<Option<i64>> {
        match (&self.backend, &self.sqlite) {
            (Backend::Sqlite, Some(p)) => Ok(Some(
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM Jobs WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')",
                )
                .bind(QUEUE)
                .fetch_one(p)
                .await?,
            )),
            _ => Ok(None),
        }
    }

    /// Removes finished job records older than `keep_ms` from the embedded queue, so its table
    /// stays small (apalis-sqlite slows down as its table grows).
    pub async fn prune_sqlite_jobs(&self, now_ms: i64, keep_ms: i64) -> Result<u64> {
        let Some(p) = &self.sqlite else { return Ok(0) };
        let cutoff_s = (now_ms - keep_ms) / 1000;
        Ok(sqlx::query("DELETE FROM Jobs WHERE status IN ('Done', 'Killed') AND done_at IS NOT NULL AND done_at < $1")
            .bind(cutoff_s)
            .execute(p)
            .await?
            .rows_affected())
    }
}

impl Store {
    /// Removes finished job records older than `keep_ms` from apalis-postgres's table (the
    /// PostgreSQL queue, used when no Redis is configured).
    pub async fn prune_postgres_jobs(&self, queue: &str, keep_ms: i64) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let secs = (keep_ms / 1000).max(0);
        Ok(sqlx::query(
            "DELETE FROM apalis.jobs WHERE job_type = $1 AND status IN ('Done', 'Killed') AND done_at IS NOT NULL AND done_at < now() - make_interval(secs => $2)",
        )
        .bind(queue)
        .bind(secs)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
