//! Jobs and the loops that run them: the dispatcher (pending case inputs → queued jobs), the
//! workers (apalis, on the SQLite queue), and the scheduler (cron fires, once per fire time).
//!
//! The database is the source of truth. A job only says which cases to look at; what to do is
//! in the cases' pending inputs, so a lost job is re-dispatched and a duplicated job finds
//! nothing left to do.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_sqlite::{Config, SqliteStorage};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::app::Runtime;
use crate::store::jobs::QUEUE;

/// A queued job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Apply the pending inputs of these cases.
    AdvanceCases { case_ids: Vec<i64> },
}

impl Job {
    pub fn encode_advance(case_ids: &[i64]) -> Vec<u8> {
        serde_json::to_vec(&Job::AdvanceCases {
            case_ids: case_ids.to_vec(),
        })
        .unwrap_or_default()
    }
}

async fn handle(job: Job, rt: Data<Arc<Runtime>>) -> Result<(), BoxDynError> {
    match job {
        Job::AdvanceCases { case_ids } => {
            let now = rt.clock.now_ms();
            match rt
                .store
                .advance_cases(&rt.registry, &rt.calendar, &case_ids, now)
                .await
            {
                Ok(report) => {
                    rt.metrics.jobs_processed.inc();
                    tracing::debug!(
                        cases = report.cases,
                        inputs = report.inputs_applied,
                        tasks = report.tasks_opened,
                        "advanced cases"
                    );
                    // New inputs may have been produced for other cases (none today), and
                    // waiting tests want to know the queue moved.
                    rt.progress.notify_waiters();
                    Ok(())
                }
                Err(e) => {
                    rt.metrics.jobs_failed.inc();
                    tracing::warn!(error = %e, cases = case_ids.len(), "advancing cases failed; their inputs go back to the dispatcher");
                    if let Err(e2) = rt.store.release_cases(&case_ids).await {
                        tracing::warn!(error = %e2, "could not release the cases; they will be re-dispatched after the timeout");
                    }
                    rt.wake.notify_one();
                    Err(e.into())
                }
            }
        }
    }
}

/// Runs one apalis worker until shutdown, restarting it (with a fresh name) if it stops on a
/// backend error; apalis stops a worker on any storage error.
pub async fn run_workers(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let mut generation = 0u32;
    let instance = format!(
        "{}-{}",
        std::process::id(),
        crate::store::people::new_token().get(3..11).unwrap_or("0")
    );
    loop {
        if *shutdown.borrow() {
            return;
        }
        generation += 1;
        let config = Config::default()
            .queue(QUEUE)
            .batch_size(16)
            .heartbeat_interval(Duration::from_secs(10))
            .missed_heartbeats(3);
        // apalis parks an idle worker until something wakes it; poll the queue every 50 ms so
        // jobs queued by this or another process start promptly (one indexed query when idle).
        let storage = SqliteStorage::<Job>::new(&rt.store.pool)
            .with_config(config)
            .poll_with_interval(Duration::from_millis(50));
        let worker = WorkerBuilder::new(format!("jixiao-{instance}-{generation}"))
            .backend(storage)
            .data(Arc::clone(&rt))
            .concurrency(rt.settings.worker_concurrency)
            .build(handle);
        let mut stop = shutdown.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        match worker.run_until(signal).await {
            Ok(()) => {
                if *shutdown.borrow() {
                    return;
                }
            }
            Err(e) => {
                rt.metrics.worker_restarts.inc();
                tracing::warn!(error = %e, generation, "job worker stopped; restarting");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Turns pending case inputs into jobs whenever something is recorded (`wake`) and at least
/// every second (inputs recorded by other processes, lost jobs to re-dispatch). Also keeps the
/// job table small.
pub async fn run_dispatcher(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let mut last_prune = 0i64;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = rt.clock.now_ms();
        let redispatch = (rt.settings.redispatch_after_secs * 1000) as i64;
        loop {
            match rt
                .store
                .dispatch_pending(
                    now,
                    redispatch,
                    5000,
                    rt.settings.job_batch,
                    Job::encode_advance,
                )
                .await
            {
                Ok(0) => break,
                Ok(n) => tracing::debug!(cases = n, "dispatched"),
                Err(e) => {
                    tracing::warn!(error = %e, "dispatching failed; retrying");
                    break;
                }
            }
        }
        let wall = chrono::Utc::now().timestamp_millis();
        if wall - last_prune > 60_000 {
            last_prune = wall;
            match rt.store.prune_jobs(wall, 10 * 60 * 1000).await {
                Ok(n) if n > 0 => tracing::debug!(jobs = n, "pruned finished jobs"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning finished jobs failed"),
            }
        }
        tokio::select! {
            _ = rt.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Fires due schedules every second, and at once when a manual clock moves.
pub async fn run_scheduler(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match rt
            .store
            .fire_due_schedules(&rt.registry, rt.clock.now_ms())
            .await
        {
            Ok(fires) => {
                for f in &fires {
                    rt.metrics.schedule_fires.inc();
                    tracing::info!(workflow = %f.workflow_id, version = f.workflow_version, stage = %f.stage, fire_ms = f.fire_ms, outcome = %f.outcome, cases = f.cases, "schedule");
                }
                if !fires.is_empty() {
                    rt.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "firing schedules failed; retrying"),
        }
        let changed = async {
            match rt.clock.changed() {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            _ = shutdown.changed() => {}
        }
    }
}
