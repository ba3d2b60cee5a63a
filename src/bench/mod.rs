//! Benchmarks (`jixiao bench ...`). Each prints progress lines and, on its last line, one JSON
//! object with its figures. Runs are repeated and medians reported, since machines are shared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Subcommand;

pub mod bombs;
mod flood;
pub mod import;
mod load;
mod monitoring;
mod panels;
mod scoring;
mod writes;
use futures::StreamExt;
use serde_json::json;

use crate::app::{self, Roles};
use crate::clock::SystemClock;
use crate::config::{Overrides, Settings};
use crate::store::Store;
use crate::store::tasks::{TaskFilter, TaskScope};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Build the demo county in a fresh database and push every case to target-review panel
    /// assignment on the embedded default.
    ///
    /// With `--database-url postgres://...` (and `--redis-url`), the same benchmark also runs on
    /// PostgreSQL (+ Redis) with separate `jixiao worker` processes, once per count in
    /// `--workers`, in a fresh database each time, beside the embedded default in the same run.
    Cycle {
        #[arg(long, default_value_t = 3244)]
        projects: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// A PostgreSQL URL; each run creates and drops a database of its own on that server.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        redis_url: Option<String>,
        /// Worker process counts for the scale-out runs, e.g. 1,2,4.
        #[arg(long, default_value = "1,2,4", value_delimiter = ',')]
        workers: Vec<usize>,
    },
    /// Indicator-check calls per second on one core: the `common` and `health` plugins as
    /// sandboxed components, and the same rules compiled natively, on a 10-indicator project.
    Plugins {
        /// Folder of the built components (default: the `plugins_dir` setting, as `serve`
        /// reads it; plugins/build.sh writes plugins/dist).
        #[arg(long)]
        dist: Option<std::path::PathBuf>,
        /// Seconds each side is measured for, per run.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// One monitoring run over `projects` projects × 8 indicators with every report filled:
    /// evaluating its lights beside a bare read of the same rows, with the peak RSS, on SQLite
    /// and, with `--database-url postgres://...`, on PostgreSQL in a fresh database.
    Monitoring {
        #[arg(long, default_value_t = 350_000)]
        projects: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Scoring `evaluations` stored self-evaluations of 8 indicators each under mof_2020_10 on
    /// the embedded default (SQLite): read the forms, score exactly, store score, grade and card.
    Scoring {
        #[arg(long, default_value_t = 350_000)]
        evaluations: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Importing a county's project file: `projects` projects × 8 indicators as one XLSX sheet
    /// (one row per indicator), read, checked and stored in a fresh SQLite database, then
    /// imported again (idempotent: every project unchanged).
    Import {
        #[arg(long, default_value_t = 3244)]
        projects: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The API under load from this process (a second process to the server it starts): a
    /// server on the embedded default holding `cases` cases (every case in monitoring, its
    /// report filled), settled, then driven open-loop for `seconds` per endpoint: /healthz as
    /// the baseline, a reviewer's inbox and the case view at `rate` requests per second, and
    /// fill-and-use's proposal at `proposal_rate`. Then the write phase: the demo county in a
    /// server of its own, `clients` departments' clients reading their inboxes and completing
    /// their tasks for `write_seconds`, every completion checked to be applied exactly once.
    /// Prints p50, p99, max and errors per endpoint.
    Load {
        #[arg(long, default_value_t = 350_000)]
        cases: usize,
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The rate of the fill-and-use proposal phase: a department's request while it
        /// declares targets, heavier than a page read.
        #[arg(long, default_value_t = 100)]
        proposal_rate: u32,
        /// The write phase's concurrent clients: departments of the demo county reading their
        /// inboxes and completing their tasks.
        #[arg(long, default_value_t = 200)]
        clients: usize,
        /// Seconds of the write phase.
        #[arg(long, default_value_t = 60.0)]
        write_seconds: f64,
        /// Which phases run: reads (the generated county's pages), writes (the demo county's
        /// clients), flood (`/api/v1/me` quiet and during a flood of wrong log-ins).
        #[arg(long, default_value = "reads,writes,flood", value_delimiter = ',')]
        phases: Vec<String>,
    },
    /// Spreadsheet bombs: an XLSX of about 1 MB holding one cell of 1 GiB, and one of about
    /// 1 MB holding 50 million shared strings, read as an import reads them, beside a county's
    /// honest project workbook: the time to the answer and the peak memory added by each.
    Bombs {
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Assigning experts to a whole cycle's target reviews at once (balanced batch assignment
    /// with recusal and caps), beside drawing the same panels one at a time.
    Panels {
        #[arg(long, default_value_t = 3244)]
        cases: usize,
        #[arg(long, default_value_t = 200)]
        experts: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

/// Where the shipped workflows and plugins are: the `workflows_dir` and `plugins_dir` settings
/// as `serve` reads them (settings file, `JIXIAO_` variables, defaults against the working
/// directory), made absolute, for the servers a benchmark starts.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub workflows_dir: std::path::PathBuf,
    pub plugins_dir: std::path::PathBuf,
}

impl Shipped {
    pub fn from_settings(config: Option<&std::path::Path>) -> anyhow::Result<Shipped> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (s, _) = Settings::load(config, &env, &Overrides::default())?;
        if !s.workflows_dir.is_dir() {
            anyhow::bail!(
                "workflows_dir = {}: no such folder (the benchmarks publish the shipped workflows; run them from the repository or set JIXIAO_WORKFLOWS_DIR)",
                s.given_path("workflows_dir")
            );
        }
        Ok(Shipped { workflows_dir: s.workflows_dir, plugins_dir: s.plugins_dir })
    }

    /// The settings that point a server at them.
    fn env(&self) -> [(String, String); 2] {
        [
            ("JIXIAO_WORKFLOWS_DIR".to_string(), self.workflows_dir.display().to_string()),
            ("JIXIAO_PLUGINS_DIR".to_string(), self.plugins_dir.display().to_string()),
        ]
    }
}

pub async fn run(cmd: BenchCommand, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Cycle { projects, runs, database_url, redis_url, workers } => {
            let shipped = Shipped::from_settings(config)?;
            cycle(projects, runs.max(1), database_url, redis_url, workers, &shipped).await
        }
        BenchCommand::Plugins { dist, seconds, runs } => {
            let dist = match dist {
                Some(d) => d,
                None => Shipped::from_settings(config)?.plugins_dir,
            };
            plugins(&dist, seconds, runs.max(1))
        }
        BenchCommand::Monitoring { projects, runs, database_url } => {
            monitoring::run(projects.max(1), runs.max(1), database_url).await
        }
        BenchCommand::Scoring { evaluations, runs } => scoring::run(evaluations.max(1), runs.max(1)).await,
        BenchCommand::Import { projects, runs } => import::run(projects.max(1), runs.max(1)).await,
        BenchCommand::Load { cases, rate, seconds, proposal_rate, clients, write_seconds, phases } => {
            let shipped = Shipped::from_settings(config)?;
            if let Some(p) = phases.iter().find(|p| !matches!(p.as_str(), "reads" | "writes" | "flood")) {
                anyhow::bail!("--phases: '{p}' is not a phase (expected reads, writes, flood)");
            }
            let mut out = json!({"bench": "load"});
            if phases.iter().any(|p| p == "reads") {
                let rates = load::Rates { reads: rate.clamp(1, 100_000), proposals: proposal_rate.clamp(1, 100_000) };
                out["reads"] = load::run(cases.max(1), rates, seconds.max(1.0), &shipped).await?;
            }
            if phases.iter().any(|p| p == "writes") {
                out["writes"] = writes::run(clients.clamp(1, 2_000), write_seconds.max(1.0), &shipped).await?;
            }
            if phases.iter().any(|p| p == "flood") {
                out["flood"] = flood::run(100, seconds.max(1.0), &shipped).await?;
            }
            println!("{out}");
            Ok(())
        }
        BenchCommand::Bombs { runs } => bombs::run(runs.max(1)),
        BenchCommand::Panels { cases, experts, runs } => panels::run(cases, experts.max(6), runs.max(1)),
    }
}

/// Where a run happens.
#[derive(Debug, Clone)]
enum Shape {
    /// SQLite with in-process workers.
    Embedded,
    /// PostgreSQL (+ Redis) with `workers` separate worker processes.
    ScaleOut { server_url: String, redis_url: Option<String>, workers: usize },
}

/// Resets the process's peak resident set size (Linux), so the figure covers the run, not the
/// generation of its data.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

struct CycleRun {
    wall_s: f64,
    load_s: f64,
    cases: i64,
    jobs: u64,
    /// The largest max − min of the experts' open target reviews within a sector.
    spread: u32,
}

async fn cycle(
    projects: usize,
    runs: usize,
    database_url: Option<String>,
    redis_url: Option<String>,
    workers: Vec<usize>,
    shipped: &Shipped,
) -> anyhow::Result<()> {
    let embedded = series(projects, runs, Shape::Embedded, "sqlite", shipped).await?;
    let mut out = json!({
        "bench": "cycle",
        "projects": projects,
        "runs": runs,
        "store": "sqlite",
        "wall_s": embedded["wall_s"],
        "build_county_s": embedded["build_county_s"],
        "cases_per_s": embedded["cases_per_s"],
        "jobs_per_s": embedded["jobs_per_s"],
        "expert_load_spread": embedded["expert_load_spread"],
    });
    if let Some(url) = database_url {
        let mut scale = serde_json::Map::new();
        let mut base_cps = None;
        for n in workers {
            let shape = Shape::ScaleOut { server_url: url.clone(), redis_url: redis_url.clone(), workers: n };
            let label = format!("{}_{n}_workers", if redis_url.is_some() { "postgres_redis" } else { "postgres" });
            let r = series(projects, runs, shape, &label, shipped).await?;
            let cps = r["cases_per_s"].as_f64().unwrap_or(0.0);
            let base = *base_cps.get_or_insert(cps);
            let mut r = r;
            r["scaling_vs_first"] = json!(if base > 0.0 { (cps / base * 100.0).round() / 100.0 } else { 0.0 });
            scale.insert(label, r);
        }
        out["scale_out"] = serde_json::Value::Object(scale);
    }
    out["peak_rss_mb"] = json!((peak_rss_mb() * 10.0).round() / 10.0);
    println!("{out}");
    Ok(())
}

/// Several runs of one shape; their medians.
async fn series(
    projects: usize,
    runs: usize,
    shape: Shape,
    label: &str,
    shipped: &Shipped,
) -> anyhow::Result<serde_json::Value> {
    let mut results = Vec::new();
    for i in 0..runs {
        let r = cycle_once(projects, &shape, shipped).await?;
        println!(
            "{label} run {}: {} cases to target-review assignment in {:.2} s (county built in {:.2} s), {} jobs, expert load spread {}",
            i + 1,
            r.cases,
            r.wall_s,
            r.load_s,
            r.jobs,
            r.spread
        );
        results.push(r);
    }
    let mut wall: Vec<f64> = results.iter().map(|r| r.wall_s).collect();
    let mut load: Vec<f64> = results.iter().map(|r| r.load_s).collect();
    let mut cps: Vec<f64> = results.iter().map(|r| r.cases as f64 / r.wall_s).collect();
    let mut jps: Vec<f64> = results.iter().map(|r| r.jobs as f64 / r.wall_s).collect();
    Ok(json!({
        "wall_s": (median(&mut wall) * 1000.0).round() / 1000.0,
        "build_county_s": (median(&mut load) * 1000.0).round() / 1000.0,
        "cases_per_s": median(&mut cps).round(),
        "jobs_per_s": median(&mut jps).round(),
        "expert_load_spread": results.iter().map(|r| r.spread).max().unwrap_or(0),
    }))
}

/// Worker processes of a run, stopped with SIGTERM when the run ends (or fails).
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = std::process::Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

/// One run: a fresh data folder, the county, a cycle, the department submissions, and the
/// panel reviews of the ex-ante assessments, until every case waits for its target-review panel.
async fn cycle_once(projects: usize, shape: &Shape, shipped: &Shipped) -> anyhow::Result<CycleRun> {
    let dir = tempfile::tempdir()?;
    let mut env = vec![
        ("JIXIAO_DATA_DIR".to_string(), dir.path().display().to_string()),
        ("JIXIAO_LOG".to_string(), "warn".to_string()),
    ];
    env.extend(shipped.env());
    let unique = format!("jxb_{}", &crate::store::people::new_token()[3..15]);
    let mut drop_db = None;
    let mut worker_count = 0;
    if let Shape::ScaleOut { server_url, redis_url, workers } = shape {
        env.push((
            "JIXIAO_DATABASE_URL".to_string(),
            crate::store::create_postgres_database(server_url, &unique).await?,
        ));
        drop_db = Some(server_url.clone());
        if let Some(r) = redis_url {
            env.push(("JIXIAO_REDIS_URL".to_string(), r.clone()));
        }
        env.push(("JIXIAO_QUEUE_NAMESPACE".to_string(), unique.clone()));
        worker_count = *workers;
    }
    let (settings, _) = Settings::load(None, &env, &Overrides::default())?;
    let t0 = Instant::now();
    let started = app::start(settings, Arc::new(SystemClock)).await?;
    let rt = started.runtime;
    crate::demo_setup::load(&rt, projects).await?;
    let load_s = t0.elapsed().as_secs_f64();
    // Worker processes for the scale-out shape; in-process workers for the embedded one.
    let mut children = Children(Vec::new());
    for _ in 0..worker_count {
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.arg("worker").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        children.0.push(cmd.spawn()?);
    }
    let roles = if worker_count > 0 {
        Roles { api: false, dispatcher: true, workers: false, scheduler: false }
    } else {
        Roles::WORKER
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(app::serve(Arc::clone(&rt), None, roles, rx));
    let wf = crate::demo_setup::DEMO_WORKFLOW;
    let version =
        rt.store.latest_workflow_version(wf).await?.ok_or_else(|| anyhow::anyhow!("{wf} is not published"))?;
    let cycle = rt.store.start_cycle(wf, version, crate::demo_setup::DEMO_YEAR, None, None, rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    let expected = cycle.cases_created;
    let users = rt.store.users(100_000, 0).await?;
    let admin = users
        .iter()
        .find(|u| u.role == crate::workflow::Role::Admin)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no admin"))?;
    let by_department: std::collections::HashMap<i64, crate::store::people::User> =
        users.iter().filter_map(|u| u.department_id.map(|d| (d, u.clone()))).collect();
    let by_id: std::collections::HashMap<i64, crate::store::people::User> =
        users.iter().map(|u| (u.id, u.clone())).collect();
    let mut round = 0;
    loop {
        let ts = Instant::now();
        settle(&rt.store).await?;
        round += 1;
        tracing::info!(round, settle_s = ts.elapsed().as_secs_f64(), total_s = t0.elapsed().as_secs_f64(), "settled");
        // Complete every open submission and review; stop when every case waits for its
        // target-review panel.
        let (tasks, _) = rt
            .store
            .tasks(&TaskScope::All, &TaskFilter { status: Some("open".into()), ..Default::default() }, 100_000, 0)
            .await?;
        let actionable: Vec<_> =
            tasks.into_iter().filter(|t| !(t.stage == "target_review" && t.kind == "review")).collect();
        if actionable.is_empty() {
            break;
        }
        // Departments and reviewers work at the same time: complete tasks from several
        // concurrent callers, as the API would receive them.
        let work: Vec<_> = actionable
            .into_iter()
            .map(|t| {
                let user = match t.kind.as_str() {
                    "submission" => t.department_id.and_then(|d| by_department.get(&d)).unwrap_or(&admin).clone(),
                    "review" => t.assignee_id.and_then(|a| by_id.get(&a)).unwrap_or(&admin).clone(),
                    _ => admin.clone(),
                };
                (t, user)
            })
            .collect();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(work)
            .map(|(t, user)| {
                let rt = Arc::clone(&rt);
                async move {
                    let body = crate::demo_setup::sample_form(&rt.store, &t).await?;
                    rt.store.complete_task(&rt.registry, t.id, &user, &body, rt.clock.now_ms()).await?;
                    Ok(())
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        tracing::info!(round, total_s = t0.elapsed().as_secs_f64(), "tasks completed");
        rt.wake.notify_one();
    }
    let wall_s = t0.elapsed().as_secs_f64();
    let waiting: i64 = rt
        .store
        .cases(
            &crate::store::cases::CaseFilter {
                stage: Some("target_review".into()),
                status: Some("active".into()),
                ..Default::default()
            },
            1,
            0,
        )
        .await?
        .1;
    if waiting != expected {
        anyhow::bail!("only {waiting} of {expected} cases reached target-review assignment");
    }
    let jobs = rt.metrics.jobs_queued.get();
    let spread = rt.store.expert_load_spread().await?;
    let _ = tx.send(true);
    server.await??;
    drop(children);
    if let Some(server_url) = drop_db {
        crate::store::drop_postgres_database(&server_url, &unique).await?;
    }
    Ok(CycleRun { wall_s, load_s, cases: expected, jobs, spread })
}

/// Waits until no case input is pending (every job done).
async fn settle(store: &Store) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.pending_work_count().await? > 0 {
        if Instant::now() > deadline {
            anyhow::bail!("inputs still pending after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A health project of ten indicators, as the plugins see it.
fn bench_project() -> crate::plugin_host::Project {
    use crate::plugin_host::{Indicator, Level1, Operator, Project};
    let ind = |level1, level2: &str, name: &str, operator, value: &str, unit: &str, weight: &str, core| Indicator {
        level1,
        level2: level2.into(),
        name: name.into(),
        operator,
        value: value.into(),
        unit: unit.into(),
        weight: weight.into(),
        basis: "行业标准".into(),
        core,
    };
    Project {
        code: "BENCH-0001".into(),
        sector: "health".into(),
        amount_fen: 350_000_000,
        fiscal_year: 2023,
        is_new: false,
        indicators: vec![
            ind(Level1::Output, "数量指标", "适龄儿童免疫规划疫苗接种率", Operator::Ge, "90", "%", "10", true),
            ind(Level1::Output, "数量指标", "7岁以下儿童健康管理率", Operator::Ge, "85", "%", "10", false),
            ind(Level1::Output, "数量指标", "孕产妇系统管理率", Operator::Ge, "90", "%", "10", false),
            ind(Level1::Output, "质量指标", "高血压患者规范管理率", Operator::Ge, "65", "%", "10", false),
            ind(Level1::Output, "时效指标", "资金拨付及时率", Operator::Ge, "95", "%", "5", false),
            ind(Level1::Output, "成本指标", "人均基本公共卫生服务经费补助标准", Operator::Ge, "89", "元", "5", false),
            ind(Level1::Benefit, "社会效益指标", "居民健康素养水平", Operator::Ge, "25", "%", "15", false),
            ind(
                Level1::Benefit,
                "可持续影响指标",
                "基层医疗服务能力",
                Operator::Qualitative,
                "持续提升",
                "",
                "15",
                false,
            ),
            ind(Level1::Satisfaction, "服务对象满意度指标", "服务对象满意度", Operator::Ge, "90", "%", "5", false),
            ind(Level1::Satisfaction, "服务对象满意度指标", "城乡居民满意度", Operator::Ge, "85", "%", "5", false),
        ],
    }
}

fn native_project(p: &crate::plugin_host::Project) -> indicator_rules::Project {
    use crate::plugin_host::{Level1 as L, Operator as O};
    indicator_rules::Project {
        code: p.code.clone(),
        sector: p.sector.clone(),
        amount_fen: p.amount_fen,
        fiscal_year: p.fiscal_year,
        is_new: p.is_new,
        indicators: p
            .indicators
            .iter()
            .map(|i| indicator_rules::Indicator {
                level1: match i.level1 {
                    L::Output => indicator_rules::Level1::Output,
                    L::Benefit => indicator_rules::Level1::Benefit,
                    L::Satisfaction => indicator_rules::Level1::Satisfaction,
                    L::Cost => indicator_rules::Level1::Cost,
                },
                level2: i.level2.clone(),
                name: i.name.clone(),
                operator: match i.operator {
                    O::Ge => indicator_rules::Operator::Ge,
                    O::Le => indicator_rules::Operator::Le,
                    O::Eq => indicator_rules::Operator::Eq,
                    O::Qualitative => indicator_rules::Operator::Qualitative,
                },
                value: i.value.clone(),
                unit: i.unit.clone(),
                weight: i.weight.clone(),
                basis: i.basis.clone(),
                core: i.core,
            })
            .collect(),
    }
}

/// Calls per second of `f` over `seconds`, on this thread.
fn rate(seconds: f64, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let mut calls = 0u64;
    let mut findings = 0;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..50 {
            findings = f();
            calls += 1;
        }
    }
    (calls as f64 / start.elapsed().as_secs_f64(), findings)
}

fn plugins(dist: &std::path::Path, seconds: f64, runs: usize) -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    // The server's configuration (warm instances serve many calls), and one that instantiates
    // afresh for every call, to show what instance reuse is worth.
    let host = crate::plugin_host::PluginHost::new(Some(cache.path()), crate::plugin_host::Limits::default())?;
    let fresh_limits = crate::plugin_host::Limits { reuse_calls: 1, ..Default::default() };
    let fresh = crate::plugin_host::PluginHost::new(Some(cache.path()), fresh_limits)?;
    for name in ["common", "health"] {
        let path = dist.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e} (build the plugins with plugins/build.sh)", path.display()))?;
        host.load(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        fresh.load(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let project = bench_project();
    let native = native_project(&project);
    let health = indicator_rules::sectors::ALL
        .iter()
        .find(|l| l.sector == "health")
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no health library"))?;
    let (mut wasm, mut nat, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        // One "call" is one plugin invocation; each round calls common and health.
        let pair = |h: &crate::plugin_host::PluginHost| {
            let a = h.check("common", None, &project).map(|f| f.len()).unwrap_or(0);
            let b = h.check("health", None, &project).map(|f| f.len()).unwrap_or(0);
            a + b
        };
        let (w, wf) = rate(seconds, || pair(&host));
        let (c, cf) = rate(seconds, || pair(&fresh));
        let (n, nf) = rate(seconds, || {
            indicator_rules::common::check(&native).len() + indicator_rules::sector::check(health, &native).len()
        });
        anyhow::ensure!(
            wf == nf && cf == nf,
            "the component and the native rules disagree: {wf}/{cf} vs {nf} findings"
        );
        println!(
            "run {}: wasm {:.0} calls/s (fresh instance per call {:.0}), native {:.0} calls/s ({wf} findings per pair)",
            i + 1,
            w * 2.0,
            c * 2.0,
            n * 2.0
        );
        wasm.push(w * 2.0);
        cold.push(c * 2.0);
        nat.push(n * 2.0);
    }
    let w = median(&mut wasm);
    let n = median(&mut nat);
    let c = median(&mut cold);
    // The floor: calls on a project without indicators (crossing into the sandbox and back).
    let empty = crate::plugin_host::Project { indicators: Vec::new(), ..project.clone() };
    let (floor, _) = rate(seconds, || host.check("common", None, &empty).map(|f| f.len()).unwrap_or(0));
    println!(
        "{}",
        json!({
            "bench": "plugins",
            "plugins": ["common", "health"],
            "indicators": project.indicators.len(),
            "wasm_calls_per_s_per_core": w.round(),
            "native_calls_per_s_per_core": n.round(),
            "wasm_fresh_instance_calls_per_s_per_core": c.round(),
            "wasm_empty_project_calls_per_s_per_core": floor.round(),
            "ratio": ((n / w) * 100.0).round() / 100.0,
            "runs": runs,
        })
    );
    Ok(())
}
