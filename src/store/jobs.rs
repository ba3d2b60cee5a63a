//! The job queue's table, as the store sees it: handing pending case inputs to workers as
//! queued jobs (in the same transaction that marks them dispatched), and the queue's depth.

use apalis::prelude::TaskBuilder;

use super::{Result, Store, StoreError};

/// The apalis queue all jobs go through.
pub const QUEUE: &str = "jixiao";

impl Store {
    /// Claims up to `limit` pending inputs and queues one job per `batch` of their cases, in one
    /// transaction: either the inputs are marked dispatched and their jobs exist, or neither.
    /// Inputs dispatched more than `redispatch_after_ms` ago and still unapplied are claimed
    /// again; their job was lost (a worker killed mid-job whose job was given up, a flushed
    /// queue). Returns how many cases were dispatched.
    pub async fn dispatch_pending(
        &self,
        now_ms: i64,
        redispatch_after_ms: i64,
        limit: i64,
        batch: usize,
        encode: impl Fn(&[i64]) -> Vec<u8>,
    ) -> Result<usize> {
        let mut tx = self.write().await?;
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE case_inputs SET dispatched_ms = $1 WHERE id IN ( \
               SELECT id FROM case_inputs WHERE applied_ms IS NULL AND (dispatched_ms IS NULL OR dispatched_ms < $2) ORDER BY id LIMIT $3) \
             RETURNING case_id",
        )
        .bind(now_ms)
        .bind(now_ms - redispatch_after_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        ids.sort_unstable();
        ids.dedup();
        let tasks: Vec<_> = ids
            .chunks(batch.max(1))
            .map(|chunk| TaskBuilder::new(encode(chunk)).max_attempts(3).build())
            .collect();
        apalis_sqlite::queries::push_tasks(&mut *tx, QUEUE, &tasks)
            .await
            .map_err(|e| StoreError::Other(anyhow::anyhow!("cannot queue jobs: {e}")))?;
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Makes the pending inputs of these cases eligible for dispatch again at once (after a job
    /// failed for a reason that may pass, such as a busy database).
    pub async fn release_cases(&self, case_ids: &[i64]) -> Result<()> {
        let mut tx = self.write().await?;
        for id in case_ids {
            sqlx::query("UPDATE case_inputs SET dispatched_ms = NULL WHERE case_id = $1 AND applied_ms IS NULL").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Jobs waiting or running in the queue.
    pub async fn queue_depth(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')").bind(QUEUE).fetch_one(&self.pool).await?)
    }

    /// Removes finished job records older than `keep_ms`, so the queue's table stays small
    /// (the embedded queue slows down as its table grows).
    pub async fn prune_jobs(&self, now_ms: i64, keep_ms: i64) -> Result<u64> {
        let cutoff_s = (now_ms - keep_ms) / 1000;
        Ok(sqlx::query("DELETE FROM Jobs WHERE status IN ('Done', 'Killed') AND done_at IS NOT NULL AND done_at < $1")
            .bind(cutoff_s)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
