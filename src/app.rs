//! Wiring: open the store, publish the shipped workflows, make sure an admin can log in, then
//! run the API, the job workers, the dispatcher and the scheduler in one process until shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::calendar::Calendar;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::people::NewUser;
use crate::store::workflows::{PublishError, Registry};
use crate::workflow::Role;

/// What every part of a running server shares.
#[derive(Debug)]
pub struct Runtime {
    pub settings: Settings,
    pub store: Store,
    pub registry: Registry,
    pub calendar: Calendar,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// Where jobs travel (the embedded queue, PostgreSQL or Redis).
    pub transport: crate::queue::Transport,
    /// The sandboxed indicator-check plugins.
    pub plugins: Arc<crate::plugin_host::PluginHost>,
    /// Wakes the dispatcher when new case inputs are recorded.
    pub wake: Notify,
    /// Signalled after each job, for whoever waits for the queue to move.
    pub progress: Notify,
    /// The mail templates, checked at start-up.
    pub templates: crate::notify::Templates,
    /// Where mail goes: SMTP, or `.eml` files.
    pub mail: crate::notify::Transport,
    /// The web pages' templates, checked at start-up.
    pub pages: crate::web::Pages,
}

/// The outcome of start-up: the runtime, and the admin token if one was created now.
#[derive(Debug)]
pub struct Started {
    pub runtime: Arc<Runtime>,
    pub new_admin_token: Option<String>,
}

/// Opens everything the server needs. Fails with a clear message on a bad setting, an
/// unreadable database or a broken workflow file; a start that fails takes away what it made
/// (a new database file, new folders), so a corrected start begins from a clean slate.
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Started> {
    let made = prepare_paths(&settings)?;
    match open(settings, clock).await {
        Ok(started) => Ok(started),
        Err(e) => {
            made.undo();
            Err(e)
        }
    }
}

/// What `prepare_paths` created, so that a failed start can remove it again.
#[derive(Debug, Default)]
pub struct Made {
    /// A database file that did not exist before this start (SQLite).
    database: Option<PathBuf>,
    /// Folders that did not exist before this start, outermost first.
    folders: Vec<PathBuf>,
}

impl Made {
    /// Removes what this start created: the new database with its journal files, then the new
    /// folders (with what was put in them during the start).
    pub fn undo(&self) {
        if let Some(db) = &self.database {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = db.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
        for dir in self.folders.iter().rev() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A start-up problem with a path: the setting, the path as it was given, and why.
fn path_problem(settings: &Settings, name: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{name} = {}: {why}", settings.given_path(name))
}

/// A short reason for an I/O error, without Rust's "(os error N)" decoration.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        std::io::ErrorKind::NotADirectory => "a part of the path is a file, not a folder".into(),
        std::io::ErrorKind::StorageFull => "the disk is full".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// Makes sure the folder of setting `name` exists (creating it, readable by this user only)
/// and that this process can write in it. Records a folder it created in `made`.
fn writable_folder(settings: &Settings, name: &str, dir: &Path, made: &mut Made) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(path_problem(settings, name, "this is a file, not a folder"));
    }
    if !dir.exists() {
        // The outermost folder that does not exist yet is what a failed start removes.
        let mut first_missing = dir.to_path_buf();
        while let Some(parent) = first_missing.parent() {
            if parent.as_os_str().is_empty() || parent.exists() {
                break;
            }
            first_missing = parent.to_path_buf();
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| path_problem(settings, name, format!("cannot create the folder: {}", io_reason(&e))))?;
        made.folders.push(first_missing);
    }
    let probe = dir.join(format!(".jixiao-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| path_problem(settings, name, format!("cannot write in the folder: {}", io_reason(&e))))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks every path setting before anything is written: the data folder, the database's
/// folder, the plugin cache and the mail folder exist or are created, and are writable; the
/// CA file and the calendar folder are readable. A new SQLite file is created readable by this
/// user only (SQLite gives its journal files the same mode). Returns what it created.
pub fn prepare_paths(settings: &Settings) -> anyhow::Result<Made> {
    let mut made = Made::default();
    let result = (|| {
        let db_file = crate::config::sqlite_file(&settings.database_url);
        if db_file.is_some() {
            writable_folder(settings, "data_dir", &settings.data_dir, &mut made)?;
        }
        if let Some(db) = &db_file {
            let folder = db.parent().map(Path::to_path_buf).unwrap_or_default();
            if !folder.as_os_str().is_empty() && !folder.is_dir() {
                anyhow::bail!(
                    "database_url = {}: the folder {} does not exist",
                    crate::store::redact(&settings.database_url),
                    folder.display()
                );
            }
            if !db.exists() {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options.open(db).map_err(|e| {
                    anyhow::anyhow!(
                        "database_url = {}: cannot create the database file: {}",
                        crate::store::redact(&settings.database_url),
                        io_reason(&e)
                    )
                })?;
                made.database = Some(db.clone());
            }
        }
        writable_folder(settings, "plugin_cache_dir", &settings.plugin_cache_dir, &mut made)?;
        if settings.smtp_url.is_none() {
            writable_folder(settings, "mail_dir", &settings.mail_dir, &mut made)?;
        }
        if let Some(ca) = &settings.smtp_ca_file {
            std::fs::File::open(ca).map_err(|e| path_problem(settings, "smtp_ca_file", io_reason(&e)))?;
        }
        if let Some(dir) = &settings.calendar_dir
            && !dir.is_dir()
        {
            return Err(path_problem(settings, "calendar_dir", "does not exist or is not a folder"));
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(made),
        Err(e) => {
            made.undo();
            Err(e)
        }
    }
}

async fn open(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Started> {
    // What needs no database comes first, so a bad setting stops the start before the
    // database is touched.
    let limits = crate::plugin_host::Limits {
        time: Duration::from_millis(settings.plugin_time_ms),
        memory_bytes: (settings.plugin_memory_mb as usize) << 20,
        ..Default::default()
    };
    let plugins = Arc::new(
        crate::plugin_host::PluginHost::new(Some(&settings.plugin_cache_dir), limits)
            .map_err(|e| path_problem(&settings, "plugin_cache_dir", format!("the plugin host cannot start: {e}")))?,
    );
    let mut calendar = Calendar::builtin();
    if let Some(dir) = &settings.calendar_dir {
        calendar.merge(Calendar::load_dir(dir).map_err(|e| path_problem(&settings, "calendar_dir", e))?);
    }
    let templates = crate::notify::Templates::load()?;
    let mail = crate::notify::Transport::from_settings(
        settings.smtp_url.as_ref().map(|s| s.expose()),
        settings.smtp_ca_file.as_deref(),
        settings.mail_dir.clone(),
    )?;
    let pages = crate::web::Pages::load()?;
    let parts = Parts { settings, clock, plugins, calendar, templates, mail, pages };
    let store = Store::open(&parts.settings.database_url).await?;
    let lock = match store.startup_lock().await {
        Ok(lock) => lock,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let result = shared_start(parts, store.clone()).await;
    lock.release().await;
    if result.is_err() {
        store.close().await;
    }
    result
}

/// What start-up builds before it opens the database.
struct Parts {
    settings: Settings,
    clock: Arc<dyn Clock>,
    plugins: Arc<crate::plugin_host::PluginHost>,
    calendar: Calendar,
    templates: crate::notify::Templates,
    mail: crate::notify::Transport,
    pages: crate::web::Pages,
}

/// Start-up's writes to what every process shares, under the start-up lock.
async fn shared_start(parts: Parts, store: Store) -> anyhow::Result<Started> {
    let Parts { settings, clock, plugins, calendar, templates, mail, pages } = parts;
    let sealed = store.seal_unchained().await?;
    if sealed > 0 {
        tracing::info!(sealed, "events written before the log was hash-chained are now chained");
    }
    // The sector common libraries are the indicator plugins' data: a changed library becomes a
    // new published version, and earlier versions stay readable.
    let libraries = store.sync_sector_libraries(clock.now_ms()).await?;
    if libraries > 0 {
        tracing::info!(libraries, "sector indicator libraries published from the plugins' data");
    }
    let transport = crate::queue::Transport::connect(
        &store,
        &settings.database_url,
        settings.redis_url.as_deref(),
        &settings.queue_namespace,
    )
    .await?;
    let rt = Arc::new(Runtime {
        pages,
        templates,
        mail,
        settings,
        store,
        registry: Registry::default(),
        calendar,
        clock,
        metrics: Metrics::default(),
        transport,
        plugins,
        wake: Notify::new(),
        progress: Notify::new(),
    });
    // Plugins first: a workflow naming a plugin that is not installed is refused.
    load_plugins(&rt).await?;
    publish_dir(&rt, &rt.settings.workflows_dir.clone()).await?;
    let new_admin_token = bootstrap_admin(&rt).await?;
    Ok(Started { runtime: rt, new_admin_token })
}

/// Publishes every `*.yaml` in the folder. A broken definition stops start-up; a file whose
/// version is already published with other content is reported and the stored version kept.
pub async fn publish_dir(rt: &Runtime, dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        let name = if dir == rt.settings.workflows_dir {
            format!("workflows_dir = {}", rt.settings.given_path("workflows_dir"))
        } else {
            dir.display().to_string()
        };
        tracing::warn!("{name}: no such folder; only workflows published through the API are available");
        return Ok(());
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let name = path.display().to_string();
        match rt
            .store
            .publish_workflow(
                &rt.registry,
                &name,
                &text,
                &format!("file:{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("?")),
                None,
                rt.clock.now_ms(),
                &|n, v| rt.plugins.has(n, v),
            )
            .await
        {
            Ok(p) if p.created => {
                tracing::info!(workflow = %p.workflow_id, version = p.version, file = %name, "published")
            }
            Ok(_) => {}
            Err(PublishError::Invalid(diags)) => {
                let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                let mut hint = String::new();
                if rt.plugins.list().is_empty() && diags.iter().any(|d| d.message.contains("plugin")) {
                    hint = format!(
                        "\nno plugins are installed: plugins_dir = {} holds no plugin components (build them with `bash plugins/build.sh`, or set plugins_dir)",
                        rt.settings.given_path("plugins_dir")
                    );
                }
                anyhow::bail!("workflow {name} has errors:\n{}{hint}", lines.join("\n"));
            }
            Err(PublishError::Store(crate::store::StoreError::Conflict(m))) => {
                tracing::error!(file = %name, "{m}")
            }
            Err(PublishError::Store(e)) => return Err(anyhow::anyhow!("publishing {name}: {e}")),
        }
    }
    Ok(())
}

/// Loads the stored plugin versions, then the components in `plugins_dir` (storing those that
/// are new). A component that fails validation is reported and left out; the server starts.
async fn load_plugins(rt: &Runtime) -> anyhow::Result<()> {
    for (name, version, bytes) in rt.store.plugin_components().await? {
        let host = Arc::clone(&rt.plugins);
        match tokio::task::spawn_blocking(move || host.load(&bytes)).await? {
            Ok(_) => {}
            Err(e) => tracing::error!(plugin = %name, version = %version, "stored plugin failed to load: {e}"),
        }
    }
    let Ok(entries) = std::fs::read_dir(&rt.settings.plugins_dir) else {
        tracing::warn!(
            "plugins_dir = {}: no such folder; starting without its plugins (build them with `bash plugins/build.sh`)",
            rt.settings.given_path("plugins_dir")
        );
        return Ok(());
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f)?;
        let origin = format!("file:{}", f.file_name().and_then(|n| n.to_str()).unwrap_or("?"));
        match store_plugin(rt, bytes, &origin, None).await {
            Ok(_) => {}
            Err(e) => tracing::error!(file = %f.display(), "plugin not loaded: {e}"),
        }
    }
    Ok(())
}

/// Validates a component in the sandbox (compile, interface version, smoke check) and stores
/// it. Returns the stored record and whether it was new.
pub async fn store_plugin(
    rt: &Runtime,
    bytes: Vec<u8>,
    origin: &str,
    actor: Option<i64>,
) -> anyhow::Result<(crate::store::plugins::StoredPlugin, bool)> {
    let host = Arc::clone(&rt.plugins);
    let for_store = bytes.clone();
    let plugin = match tokio::task::spawn_blocking(move || host.load(&bytes)).await? {
        Ok(p) => p,
        Err(e) => {
            rt.metrics.plugin_failed("(upload)", e.kind());
            return Err(PluginRejected(e).into());
        }
    };
    let stored = crate::store::plugins::StoredPlugin {
        name: plugin.info.name.clone(),
        version: plugin.info.version.clone(),
        sha256: plugin.sha256.clone(),
        info: crate::plugin_host::info_json(&plugin.info),
        origin: origin.to_string(),
        uploaded_ms: rt.clock.now_ms(),
    };
    let created = rt.store.store_plugin(&stored, &for_store, actor).await?;
    Ok((stored, created))
}

/// A component refused by validation.
#[derive(Debug, thiserror::Error)]
#[error("the plugin was refused: {0}")]
pub struct PluginRejected(pub crate::plugin_host::PluginFailure);

/// Creates the first admin when there is none. Its token is `admin_token` from the settings if
/// given, otherwise a new random one that is returned (to be printed once).
async fn bootstrap_admin(rt: &Runtime) -> anyhow::Result<Option<String>> {
    let now = rt.clock.now_ms();
    let existing = rt.store.users(1, 0).await?.into_iter().find(|u| u.role == Role::Admin);
    let admin = match existing {
        Some(a) => a,
        None => {
            let u = NewUser {
                username: "admin".into(),
                display_name: "系统管理员".into(),
                role: Role::Admin,
                department_code: None,
                email: String::new(),
                language: "zh".into(),
                expert: None,
                digest: false,
                department_head: false,
            };
            rt.store.create_user(&u, now, None).await?
        }
    };
    match &rt.settings.admin_token {
        Some(t) => {
            rt.store.ensure_token(admin.id, t.expose(), "JIXIAO_ADMIN_TOKEN", now).await?;
            Ok(None)
        }
        None if rt.store.user_count().await? == 1 && !rt.store.has_tokens(admin.id).await? => {
            Ok(Some(rt.store.issue_token(admin.id, "first start", now, None).await?))
        }
        None => Ok(None),
    }
}

/// Which parts of the server this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    /// Hands recorded work to the queue; cheap, so every kind of process runs it.
    pub dispatcher: bool,
    pub workers: bool,
    pub scheduler: bool,
}

impl Roles {
    /// `jixiao serve`: everything in one process.
    pub const ALL: Roles = Roles { api: true, dispatcher: true, workers: true, scheduler: true };
    /// `jixiao serve --api-only`.
    pub const API_ONLY: Roles = Roles { api: true, dispatcher: true, workers: false, scheduler: false };
    /// `jixiao worker`: jobs and schedules. Schedules fire once per fire time however many
    /// workers run, so every worker may run the scheduler.
    pub const WORKER: Roles = Roles { api: false, dispatcher: true, workers: true, scheduler: true };
}

/// Runs until `shutdown` turns true: the API stops accepting, running jobs finish (their
/// transactions commit or roll back; unapplied inputs stay pending), then the loops end.
/// Returns once the shutdown flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Serves HTTP/1.1 on the listener until shutdown: a client that has not sent its request
/// headers within `header_timeout` is disconnected (slow clients hold no connection for
/// long; the request timeout bounds the rest). Open connections finish their request on
/// shutdown, for at most 30 seconds.
async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
    header_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // Each request carries the address it came from (the log-in limits count by it).
                let with_peer = tower::ServiceExt::map_request(app.clone(), move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    req
                });
                let service = hyper_util::service::TowerToHyperService::new(with_peer);
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "a connection ended with an error");
                    }
                });
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections were still open 30 s after shutdown began");
    }
    Ok(())
}

pub async fn serve(
    rt: Arc<Runtime>,
    listener: Option<TcpListener>,
    roles: Roles,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = tokio::task::JoinSet::new();
    if roles.workers {
        background.spawn(crate::queue::run_workers(Arc::clone(&rt), stop_rx.clone()));
    }
    if roles.dispatcher {
        background.spawn(crate::queue::run_dispatcher(Arc::clone(&rt), stop_rx.clone()));
    }
    if roles.scheduler {
        background.spawn(crate::queue::run_scheduler(Arc::clone(&rt), stop_rx.clone()));
    }
    if roles.workers {
        background.spawn(crate::notify::run_mailer(Arc::clone(&rt), stop_rx.clone()));
    }
    let api = if let (true, Some(listener)) = (roles.api, listener) {
        let app = crate::api::router(Arc::clone(&rt));
        let header_timeout = Duration::from_secs(rt.settings.header_timeout_secs);
        Some(tokio::spawn(serve_http(listener, app, shutdown.clone(), header_timeout)))
    } else {
        None
    };
    let _ = shutdown.wait_for(|s| *s).await;
    tracing::info!("shutting down: the API stops accepting, running jobs finish");
    if let Some(api) = api {
        match api.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the API stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the API task failed"),
        }
    }
    let _ = stop_tx.send(true);
    let drain = async { while background.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain).await.is_err() {
        tracing::warn!(
            "background work did not stop within 30 s; unapplied inputs stay pending and are dispatched at the next start"
        );
    }
    rt.store.close().await;
    Ok(())
}
