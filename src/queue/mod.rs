//! Jobs and the loops that run them: the dispatcher (pending case inputs → queued jobs), the
//! workers (apalis, on the SQLite queue), and the scheduler (cron fires, once per fire time).
//!
//! The database is the source of truth. A job only says which cases to look at; what to do is
//! in the cases' pending inputs, so a lost job is re-dispatched and a duplicated job finds
//! nothing left to do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::app::Runtime;
use crate::store::jobs::Requests;
use crate::store::{Backend, Store};

/// A queued job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Apply the pending inputs of these cases.
    AdvanceCases { case_ids: Vec<i64> },
    /// Run these plugin checks and report their findings to their cases.
    RunChecks { check_ids: Vec<i64> },
    /// Draw these panels together (balancing the experts' loads across them).
    DrawPanels { request_ids: Vec<i64> },
}

impl Job {
    pub fn encode_advance(case_ids: &[i64]) -> Vec<u8> {
        serde_json::to_vec(&Job::AdvanceCases { case_ids: case_ids.to_vec() }).unwrap_or_default()
    }
}

async fn handle(job: Job, rt: Data<Arc<Runtime>>) -> Result<(), BoxDynError> {
    match job {
        Job::DrawPanels { request_ids } => {
            let now = rt.clock.now_ms();
            match rt.store.draw_panels(&rt.registry, &rt.calendar, &request_ids, now).await {
                Ok(n) => {
                    rt.metrics.jobs_processed.inc();
                    tracing::debug!(panels = n, "drew panels");
                    rt.wake.notify_one();
                    Ok(())
                }
                Err(e) => {
                    rt.metrics.jobs_failed.inc();
                    tracing::warn!(error = %e, panels = request_ids.len(), "drawing panels failed; they go back to the dispatcher");
                    if let Err(e2) = rt.store.set_requests_dispatched(Requests::Panels, &request_ids, None).await {
                        tracing::warn!(error = %e2, "could not release the panel requests; they will be re-dispatched after the timeout");
                    }
                    rt.wake.notify_one();
                    Err(e.into())
                }
            }
        }
        Job::RunChecks { check_ids } => match crate::checks::run_jobs(&rt, &check_ids).await {
            Ok(n) => {
                rt.metrics.jobs_processed.inc();
                tracing::debug!(checks = n, "ran plugin checks");
                // The findings became case inputs: dispatch them now.
                rt.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                rt.metrics.jobs_failed.inc();
                tracing::warn!(error = %e, checks = check_ids.len(), "running plugin checks failed; they go back to the dispatcher");
                if let Err(e2) = rt.store.set_requests_dispatched(Requests::Checks, &check_ids, None).await {
                    tracing::warn!(error = %e2, "could not release the checks; they will be re-dispatched after the timeout");
                }
                rt.wake.notify_one();
                Err(e.into())
            }
        },
        Job::AdvanceCases { case_ids } => {
            let now = rt.clock.now_ms();
            match rt.store.advance_cases(&rt.registry, &rt.calendar, &case_ids, now).await {
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

/// Where jobs travel: the embedded SQLite queue, PostgreSQL (apalis-postgres) when the database
/// is PostgreSQL and no Redis is configured, or Redis (apalis-redis). The database stays the
/// source of truth in every case: a job only names cases.
#[derive(Clone)]
pub enum Transport {
    Sqlite(SqliteStorage<Job>),
    Postgres(PostgresStorage<Job>),
    Redis(RedisStorage<Job>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Transport {
    /// Connects the transport the settings ask for. `namespace` separates queues that share a
    /// Redis or PostgreSQL server (tests give each test its own).
    pub async fn connect(
        store: &Store,
        database_url: &str,
        redis_url: Option<&str>,
        namespace: &str,
    ) -> anyhow::Result<Transport> {
        if let Some(url) = redis_url {
            let conn = apalis_redis::connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to Redis at {}: {e}", crate::store::redact(url)))?;
            let config = apalis_redis::Config::default()
                .queue(namespace)
                .batch_size(16)
                .heartbeat_interval(Duration::from_secs(5))
                .missed_heartbeats(3);
            return Ok(Transport::Redis(RedisStorage::new(conn).with_config(config)));
        }
        match store.backend {
            Backend::Sqlite => {
                let pool =
                    store.sqlite.as_ref().ok_or_else(|| anyhow::anyhow!("the SQLite queue needs the SQLite pool"))?;
                let config = apalis_sqlite::Config::default()
                    .queue(namespace)
                    .batch_size(16)
                    .heartbeat_interval(Duration::from_secs(10))
                    .missed_heartbeats(3);
                Ok(Transport::Sqlite(SqliteStorage::new(pool).with_config(config)))
            }
            Backend::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(database_url)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot connect the job queue to PostgreSQL: {e}"))?;
                PostgresStorage::<()>::setup(&pool)
                    .await
                    .map_err(|e| anyhow::anyhow!("job queue migration failed: {e}"))?;
                let config = apalis_postgres::Config::default()
                    .queue(namespace)
                    .batch_size(100)
                    .heartbeat_interval(Duration::from_secs(5))
                    .missed_heartbeats(3);
                Ok(Transport::Postgres(PostgresStorage::new(&pool).with_config(config)))
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transport::Sqlite(_) => "sqlite",
            Transport::Postgres(_) => "postgres",
            Transport::Redis(_) => "redis",
        }
    }

    /// Removes records of finished jobs older than `keep`, so no queue grows without bound.
    /// apalis-redis's own vacuum deletes a finished job's data but leaves its id in the `done`
    /// and `dead` sets, which then grow for ever (apalis-redis issue 10); those ids are removed
    /// here too. Returns how many records went.
    pub async fn prune(&self, store: &Store, namespace: &str, keep: Duration) -> anyhow::Result<u64> {
        let keep_ms = keep.as_millis() as i64;
        match self.clone() {
            Transport::Sqlite(_) => Ok(store.prune_sqlite_jobs(chrono::Utc::now().timestamp_millis(), keep_ms).await?),
            Transport::Postgres(_) => Ok(store.prune_postgres_jobs(namespace, keep_ms).await?),
            Transport::Redis(mut s) => {
                let vacuumed = apalis_core::backend::Vacuum::vacuum_before(&mut s, keep)
                    .await
                    .map_err(|e| anyhow::anyhow!("vacuum: {e}"))?;
                let config = s.get_config().clone();
                let meta_prefix = config.job_meta_hash();
                let mut conn = s.get_connection().clone();
                let script = redis::Script::new(PRUNE_SET_LUA);
                let mut removed = 0u64;
                for set in [config.done_jobs_set(), config.dead_jobs_set()] {
                    let mut cursor = 0u64;
                    loop {
                        let (next, n): (u64, u64) =
                            script.key(&set).key(&meta_prefix).arg(cursor).invoke_async(&mut conn).await?;
                        removed += n;
                        cursor = next;
                        if cursor == 0 {
                            break;
                        }
                    }
                }
                Ok(vacuumed as u64 + removed)
            }
        }
    }

    /// Queues one job per batch of cases.
    pub async fn push(&self, jobs: Vec<Job>) -> anyhow::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        match self.clone() {
            Transport::Sqlite(mut s) => s.push_bulk(jobs).await.map_err(|e| anyhow::anyhow!("queueing jobs: {e}")),
            Transport::Postgres(mut s) => s.push_bulk(jobs).await.map_err(|e| anyhow::anyhow!("queueing jobs: {e}")),
            Transport::Redis(mut s) => {
                // One push per job: apalis-redis's bulk push goes through its scheduled set, whose
                // promotion fails beyond ~8,000 due jobs; single pushes go straight to the queue.
                for j in jobs {
                    s.push(j).await.map_err(|e| anyhow::anyhow!("queueing jobs: {e}"))?;
                }
                Ok(())
            }
        }
    }
}

/// Removes from a set (KEYS[1]) the ids whose metadata hash (KEYS[2]:id) no longer exists,
/// scanning 1,000 members per call from cursor ARGV[1]; returns {next cursor, removed}.
const PRUNE_SET_LUA: &str = r#"
local scan = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', 1000)
local removed = 0
for _, id in ipairs(scan[2]) do
  if redis.call('EXISTS', KEYS[2] .. ':' .. id) == 0 then
    redis.call('SREM', KEYS[1], id)
    removed = removed + 1
  end
end
return {tonumber(scan[1]), removed}
"#;

/// Runs one apalis worker until shutdown, restarting it (with a fresh name) if it stops on a
/// backend error; apalis stops a worker on any storage error.
pub async fn run_workers(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let mut generation = 0u32;
    let mut failures = 0u32;
    let instance = format!("{}-{}", std::process::id(), crate::store::people::new_token().get(3..11).unwrap_or("0"));
    loop {
        if *shutdown.borrow() {
            return;
        }
        generation += 1;
        let name = format!("jixiao-{instance}-{generation}");
        let mut stop = shutdown.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        // apalis parks an idle worker until something wakes it; poll the queue every 50 ms so
        // jobs queued by this or another process start promptly (one indexed query when idle).
        let poll = Duration::from_millis(50);
        macro_rules! run {
            ($storage:expr) => {
                WorkerBuilder::new(name)
                    .backend($storage.poll_with_interval(poll))
                    .data(Arc::clone(&rt))
                    .concurrency(rt.settings.worker_concurrency)
                    .build(handle)
                    .run_until(signal)
                    .await
            };
        }
        let result = match rt.transport.clone() {
            Transport::Sqlite(s) => run!(s),
            Transport::Postgres(s) => run!(s),
            Transport::Redis(s) => run!(s),
        };
        let started = Instant::now();
        match result {
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
        // Back off while the queue or the database stays down (1 s, 2 s, 4 s ... 30 s); a worker
        // that ran for a minute starts the count again.
        failures = if started.elapsed() > Duration::from_secs(60) { 1 } else { (failures + 1).min(5) };
        let delay = Duration::from_secs((1u64 << (failures - 1)).min(30));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Turns pending case inputs into jobs whenever something is recorded (`wake`) and at least
/// every second (inputs recorded by other processes, lost jobs to re-dispatch). Also keeps the
/// embedded job table small.
pub async fn run_dispatcher(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let mut last_prune = 0i64;
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut pause = Duration::from_millis(1000);
        match dispatch_once(&rt).await {
            Ok(_) => failures = 0,
            Err(e) => {
                // The database or the queue is down: back off (1 s, 2 s ... 30 s) and retry.
                failures = (failures + 1).min(5);
                pause = Duration::from_secs((1u64 << (failures - 1)).min(30));
                tracing::warn!(error = %e, retry_in_s = pause.as_secs(), "dispatching failed");
            }
        }
        let wall = chrono::Utc::now().timestamp_millis();
        if wall - last_prune > 60_000 {
            last_prune = wall;
            let keep = Duration::from_secs(rt.settings.job_retention_secs);
            match rt.transport.prune(&rt.store, &rt.settings.queue_namespace, keep).await {
                Ok(n) if n > 0 => tracing::debug!(jobs = n, "pruned finished jobs"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning finished jobs failed"),
            }
        }
        tokio::select! {
            _ = rt.wake.notified(), if failures == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Queues jobs for every case with undispatched inputs and every check waiting to run; returns
/// how many cases and checks.
pub async fn dispatch_once(rt: &Runtime) -> anyhow::Result<usize> {
    let redispatch = (rt.settings.redispatch_after_secs * 1000) as i64;
    let mut total = 0;
    loop {
        // Every panel waiting now goes into one job, so the batch balances them all.
        let now = chrono::Utc::now().timestamp_millis();
        let panels = rt.store.pending_requests(Requests::Panels, now, redispatch, 5000).await?;
        if panels.is_empty() {
            break;
        }
        rt.transport.push(vec![Job::DrawPanels { request_ids: panels.clone() }]).await?;
        rt.metrics.jobs_queued.inc();
        rt.store.set_requests_dispatched(Requests::Panels, &panels, Some(now)).await?;
        total += panels.len();
    }
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let checks = rt.store.pending_requests(Requests::Checks, now, redispatch, 1000).await?;
        if checks.is_empty() {
            break;
        }
        // Checks take well under a millisecond of plugin time each; a job runs up to 64 and
        // stores them in one transaction.
        let jobs: Vec<Job> = checks.chunks(64).map(|c| Job::RunChecks { check_ids: c.to_vec() }).collect();
        let n = jobs.len() as u64;
        rt.transport.push(jobs).await?;
        rt.metrics.jobs_queued.inc_by(n);
        rt.store.set_requests_dispatched(Requests::Checks, &checks, Some(now)).await?;
        total += checks.len();
    }
    loop {
        // Dispatch bookkeeping is operational, not business time: it runs on the wall clock even
        // when the business clock is driven by hand (tests, replays).
        let now = chrono::Utc::now().timestamp_millis();
        let pending = rt.store.pending_cases(now, redispatch, 5000).await?;
        if pending.is_empty() {
            return Ok(total);
        }
        let ids: Vec<i64> = pending.iter().map(|(c, _)| *c).collect();
        let jobs: Vec<Job> =
            ids.chunks(rt.settings.job_batch.max(1)).map(|c| Job::AdvanceCases { case_ids: c.to_vec() }).collect();
        let n = jobs.len() as u64;
        rt.transport.push(jobs).await?;
        rt.metrics.jobs_queued.inc_by(n);
        rt.store.mark_dispatched(&pending, now).await?;
        total += ids.len();
    }
}

/// Fires due schedules every second, and at once when a manual clock moves.
/// Waits for the next tick of a periodic loop: a second, a move of the clock, or shutdown.
pub async fn tick(rt: &Runtime, shutdown: &mut watch::Receiver<bool>) {
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

pub async fn run_scheduler(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match rt.store.replace_overdue_reviews(&rt.registry, rt.clock.now_ms()).await {
            Ok(n) if n > 0 => {
                tracing::info!(reviews = n, "overdue reviews handed to replacements");
                rt.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "replacing overdue reviews failed; retrying"),
        }
        match rt.store.fire_due_schedules(&rt.registry, rt.clock.now_ms()).await {
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
        match rt.store.close_due_runs(&rt.registry, rt.clock.now_ms()).await {
            Ok(closed) => {
                for run in &closed {
                    tracing::info!(run, "monitoring run closed and evaluated");
                }
                // Lapsed reports gave their cases inputs.
                rt.wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "closing monitoring runs failed; retrying"),
        }
        match rt.store.escalate_unrectified(&rt.registry, rt.clock.now_ms()).await {
            Ok(proposed) => {
                for action in &proposed {
                    tracing::info!(action, "rectification overdue; escalation proposed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "escalating overdue rectifications failed; retrying"),
        }
        tick(&rt, &mut shutdown).await;
    }
}
