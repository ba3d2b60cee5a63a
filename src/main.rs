//! The `jixiao` command: parse the command line, load settings, run.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use jixiao::app::{self, Roles};
use jixiao::clock::SystemClock;
use jixiao::config::{Overrides, Settings};

#[derive(Parser)]
#[command(name = "jixiao", version, about = "Whole-process budget performance management (全过程预算绩效管理)")]
struct Cli {
    /// A TOML settings file (default: ./jixiao.toml if present). Also JIXIAO_CONFIG.
    #[arg(long, global = true, env = "JIXIAO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the job workers and the scheduler in one process.
    Serve {
        /// Address to listen on (JIXIAO_LISTEN), e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Data folder (JIXIAO_DATA_DIR); the database defaults to DIR/jixiao.db.
        #[arg(long)]
        data_dir: Option<String>,
        /// Database URL (JIXIAO_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Redis URL for the job queue (JIXIAO_REDIS_URL); without it jobs queue in the database.
        #[arg(long)]
        redis_url: Option<String>,
        /// Run only the API (and the dispatcher); jobs run in `jixiao worker` processes.
        #[arg(long)]
        api_only: bool,
        /// Fill an empty instance with the demo county and start its cycle.
        #[arg(long)]
        demo: bool,
    },
    /// Run job workers and the scheduler without the API (scale-out).
    Worker {
        #[arg(long)]
        data_dir: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        redis_url: Option<String>,
    },
    /// Fill an empty instance with the demo county and start its cycle, then exit.
    Demo {
        #[arg(long)]
        data_dir: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
        /// How many projects (the seed county has 3,244).
        #[arg(long, default_value_t = 3244)]
        projects: usize,
    },
    /// Import departments, users, experts and projects from an XLSX or CSV file. Every problem is
    /// printed with its sheet, row and column; with any problem nothing is stored.
    Import {
        file: PathBuf,
        /// Report what the import would do and every problem, store nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        data_dir: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The audit trail: `jixiao audit verify` recomputes the hash chains of the event log and
    /// names the first broken link (exit status 1), or prints what it checked.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Workflow definitions.
    Workflow {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
    /// Benchmarks; each prints its figures as one JSON object on its last line.
    Bench {
        #[command(subcommand)]
        command: jixiao::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks every case's chain of events and the administrative chain.
    Verify {
        #[arg(long)]
        data_dir: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Check definitions offline; prints each problem as FILE:LINE:COLUMN: message. Plugin
    /// references are checked against the components in --plugins-dir.
    Check {
        files: Vec<PathBuf>,
        /// Where the plugin components (*.wasm) are.
        #[arg(long, default_value = "plugins/dist")]
        plugins_dir: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn settings(config: Option<&PathBuf>, overrides: Overrides) -> anyhow::Result<Settings> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (s, warnings) = Settings::load(config.map(|p| p.as_path()), &env, &overrides)?;
    let filter =
        tracing_subscriber::EnvFilter::try_new(&s.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(s)
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve { listen, data_dir, database_url, redis_url, api_only, demo } => {
            let s = settings(cli.config.as_ref(), Overrides { listen, data_dir, database_url, redis_url })?;
            let listen = s.listen;
            let started = app::start(s, Arc::new(SystemClock)).await?;
            if let Some(token) = &started.new_admin_token {
                println!("admin token (shown once; keep it): {token}");
            }
            if demo {
                jixiao::demo_setup::fill(&started.runtime, 3_244, true, started.new_admin_token.as_deref()).await?;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            println!(
                "jixiao listening on http://{} ({} queue)",
                listener.local_addr()?,
                started.runtime.transport.name()
            );
            let roles = if api_only { Roles::API_ONLY } else { Roles::ALL };
            app::serve(started.runtime, Some(listener), roles, shutdown_channel()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Worker { data_dir, database_url, redis_url } => {
            let s = settings(cli.config.as_ref(), Overrides { listen: None, data_dir, database_url, redis_url })?;
            let started = app::start(s, Arc::new(SystemClock)).await?;
            if let Some(token) = &started.new_admin_token {
                println!("admin token (shown once; keep it): {token}");
            }
            println!("jixiao worker running ({} queue)", started.runtime.transport.name());
            app::serve(started.runtime, None, Roles::WORKER, shutdown_channel()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Demo { data_dir, database_url, projects } => {
            let s = settings(cli.config.as_ref(), Overrides { listen: None, data_dir, database_url, redis_url: None })?;
            let started = app::start(s, Arc::new(SystemClock)).await?;
            if let Some(token) = &started.new_admin_token {
                println!("admin token (shown once; keep it): {token}");
            }
            jixiao::demo_setup::fill(&started.runtime, projects, true, started.new_admin_token.as_deref()).await?;
            println!("the cycle's jobs run when `jixiao serve` or `jixiao worker` starts");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { data_dir, database_url } } => {
            // Run inside the data folder itself, it checks the database there.
            let data_dir = match (&data_dir, &database_url) {
                (None, None) if std::path::Path::new("jixiao.db").is_file() => Some(".".to_string()),
                _ => data_dir,
            };
            let s = settings(cli.config.as_ref(), Overrides { listen: None, data_dir, database_url, redis_url: None })?;
            // Verifying never creates a database: a wrong folder is an error, not an empty log.
            if let Some(db) = jixiao::config::sqlite_file(&s.database_url)
                && !db.is_file()
            {
                anyhow::bail!(
                    "no database at {} (data_dir = {}; run this in the data folder or give --data-dir)",
                    db.display(),
                    s.given_path("data_dir")
                );
            }
            let store = jixiao::store::Store::open(&s.database_url).await?;
            let v = store.verify_chains().await?;
            match &v.broken {
                None => {
                    println!(
                        "the event log is intact: {} events in {} cases, {} administrative events (head {})",
                        v.events,
                        v.cases,
                        v.admin_events,
                        if v.admin_head.is_empty() { "-" } else { &v.admin_head }
                    );
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Some(b) => {
                    match b.case_id {
                        Some(case) => println!("BROKEN: case {case}, event {} ({}): {}", b.position, b.kind, b.problem),
                        None => println!("BROKEN: administrative event {} ({}): {}", b.position, b.kind, b.problem),
                    }
                    println!(
                        "checked before it: {} events in {} cases, {} administrative events",
                        v.events.saturating_sub(1),
                        v.cases,
                        v.admin_events
                    );
                    Ok(std::process::ExitCode::from(1))
                }
            }
        }
        Command::Import { file, dry_run, data_dir, database_url } => {
            let s = settings(cli.config.as_ref(), Overrides { listen: None, data_dir, database_url, redis_url: None })?;
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A missing data folder is created (with a new database), and said so; a run that
            // stores nothing takes away what it created.
            let fresh = jixiao::config::sqlite_file(&s.database_url).is_some_and(|db| !db.exists());
            let made = app::prepare_paths(&s)?;
            if fresh {
                println!(
                    "{}: no database yet in data_dir = {}; a new one is created there",
                    file.display(),
                    s.given_path("data_dir")
                );
            }
            let imported = async {
                let store = jixiao::store::Store::open(&s.database_url).await?;
                let parsed = store.parse_spreadsheet(&name, bytes).await?;
                let now = chrono::Utc::now().timestamp_millis();
                let report = store.import_parsed(&name, &parsed, dry_run, now, None).await;
                store.close().await;
                anyhow::Ok(report?)
            }
            .await;
            let report = match imported {
                Ok(r) if r.stored || !fresh => r,
                Ok(r) => {
                    made.undo();
                    r
                }
                Err(e) => {
                    if fresh {
                        made.undo();
                    }
                    return Err(e);
                }
            };
            for p in &report.problems {
                println!("{}: {p}", file.display());
            }
            let counts = |c: &jixiao::store::exchange::Counts| {
                format!("{} created, {} updated, {} unchanged", c.created, c.updated, c.unchanged)
            };
            println!(
                "{}: {} rows; departments {}; users {}; projects {}; {}",
                file.display(),
                report.rows_read,
                counts(&report.departments),
                counts(&report.users),
                counts(&report.projects),
                match (report.stored, report.problems.len()) {
                    (true, _) => "stored".to_string(),
                    (false, 0) => "dry run: nothing stored".to_string(),
                    (false, n) => format!("{n} problem(s): nothing stored"),
                }
            );
            Ok(if report.problems.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }
        Command::Workflow { command: WorkflowCommand::Check { files, plugins_dir } } => {
            if files.is_empty() {
                anyhow::bail!("name at least one workflow file");
            }
            let mut failed = false;
            let mut host: Option<jixiao::plugin_host::PluginHost> = None;
            for f in files {
                let text =
                    std::fs::read_to_string(&f).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
                let file = f.display().to_string();
                let parsed = jixiao::workflow::parse(&file, &text).and_then(|wf| {
                    if wf.stages.iter().all(|s| s.checks.is_none()) {
                        return Ok(wf);
                    }
                    let host = match &mut host {
                        Some(h) => h,
                        None => {
                            let h = jixiao::plugin_host::PluginHost::new(None, Default::default()).map_err(|e| {
                                vec![jixiao::workflow::Diagnostic {
                                    file: file.clone(),
                                    line: 1,
                                    column: 1,
                                    message: format!("cannot start the plugin host: {e}"),
                                }]
                            })?;
                            for (path, e) in h.load_dir(&plugins_dir).1 {
                                eprintln!("{}: plugin not loaded: {e}", path.display());
                            }
                            host.insert(h)
                        }
                    };
                    let unknown = jixiao::workflow::check_plugins(&file, &wf, &|n, v| host.has(n, v));
                    if unknown.is_empty() { Ok(wf) } else { Err(unknown) }
                });
                match parsed {
                    Ok(wf) => {
                        println!("{}: ok ({} version {}, {} stages)", f.display(), wf.id, wf.version, wf.stages.len())
                    }
                    Err(diags) => {
                        failed = true;
                        for d in diags {
                            println!("{d}");
                        }
                    }
                }
            }
            Ok(if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS })
        }
        Command::Bench { command } => {
            let filter = std::env::var("JIXIAO_LOG").unwrap_or_else(|_| "warn".into());
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_new(filter)
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
                )
                .try_init();
            jixiao::bench::run(command, cli.config.as_deref()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// A channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_channel() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
