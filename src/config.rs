//! Typed settings, layered: built-in defaults, then an optional TOML file, then `JIXIAO_`
//! environment variables, then command-line flags. A value that does not parse stops start-up
//! with a message naming the setting and what was expected; it never falls back silently.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A secret that never prints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Everything the server reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Folder for the database (when `database_url` is not set) and other files.
    pub data_dir: PathBuf,
    /// `sqlite://...`; defaults to `sqlite://<data_dir>/jixiao.db`.
    pub database_url: String,
    /// `redis://...`: the job queue in Redis (otherwise in the database).
    pub redis_url: Option<String>,
    /// Separates job queues that share a Redis or PostgreSQL server.
    pub queue_namespace: String,
    /// A fixed admin token (otherwise one is generated on first start and printed once).
    pub admin_token: Option<Secret>,
    /// A token for `/metrics` alone (e.g. Prometheus's `authorization` credentials); an admin's
    /// token is accepted too. Without either, `/metrics` answers 401.
    pub metrics_token: Option<Secret>,
    /// Reverse proxies (TLS terminators) whose `X-Forwarded-For` names the client: from them,
    /// the log-in limits count by the address the proxy saw; from anyone else the header is
    /// ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Workflow definitions loaded (published) at start.
    pub workflows_dir: PathBuf,
    /// Extra working-day calendar files (`cn-YYYY.txt`) beside the shipped years.
    pub calendar_dir: Option<PathBuf>,
    /// Plugin components (`*.wasm`) loaded at start.
    pub plugins_dir: PathBuf,
    /// Where compiled plugin code is cached (default: `plugin-cache` in the data folder).
    pub plugin_cache_dir: PathBuf,
    /// Time one plugin call may take, in milliseconds.
    pub plugin_time_ms: u64,
    /// Memory one plugin call may use, in MiB.
    pub plugin_memory_mb: u64,
    /// Jobs one worker runs at once.
    pub worker_concurrency: usize,
    /// Cases advanced by one job.
    pub job_batch: usize,
    /// Seconds after which a dispatched but unapplied input is dispatched again.
    pub redispatch_after_secs: u64,
    /// Seconds finished job records are kept in the queue before they are removed.
    pub job_retention_secs: u64,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_secs: u64,
    /// Longest a client may take to send a request's headers before its connection is closed.
    pub header_timeout_secs: u64,
    /// Fill-and-use flags a target more than this percent away from last year's actual value
    /// (or, without one, last year's target).
    pub flag_history_change_pct: u64,
    /// ...or outside the sector's Tukey fences, Q1 − k·IQR to Q3 + k·IQR, with k in percent
    /// (150 = 1.5)...
    pub flag_sector_fence_pct: u64,
    /// ...where the spread is the interquartile range but at least this percent of the median.
    pub flag_sector_min_spread_pct: u64,
    /// ...when at least this many other projects of the sector declare the indicator.
    pub flag_sector_min_projects: u64,
    /// `tracing` filter, e.g. `info` or `jixiao=debug`.
    pub log: String,
    /// The SMTP server in lettre's URL form (`smtp://`, `smtp://…?tls=required` for
    /// STARTTLS, `smtps://` for TLS, with `user:password@` for auth). Without one, mail is
    /// written as `.eml` files to `mail_dir`.
    pub smtp_url: Option<Secret>,
    /// A PEM file with the certificate authority that signed the mail server's certificate,
    /// trusted besides the public roots (a bureau's private CA).
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender of every mail, e.g. `县财政局绩效管理 <jixiao@czj.example.gov.cn>`.
    pub mail_from: String,
    /// Where mail goes when no SMTP server is configured (default: `mail` in the data folder).
    pub mail_dir: PathBuf,
    /// The address users reach jixiao at, for links in mail.
    pub public_url: String,
    /// When the daily digest goes out, in China Standard Time (Asia/Shanghai), e.g. 08:00.
    pub digest_time: chrono::NaiveTime,
    /// Each path setting as it was given (or its default), before it was resolved against the
    /// working directory: start-up names a path the way the user wrote it.
    pub given_paths: Vec<(&'static str, String)>,
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}{source_note}: {message}")]
pub struct ConfigError {
    pub name: String,
    pub source_note: String,
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    admin_token: Option<String>,
    metrics_token: Option<String>,
    trusted_proxies: Option<String>,
    redis_url: Option<String>,
    queue_namespace: Option<String>,
    workflows_dir: Option<String>,
    calendar_dir: Option<String>,
    plugins_dir: Option<String>,
    plugin_cache_dir: Option<String>,
    plugin_time_ms: Option<toml::Value>,
    plugin_memory_mb: Option<toml::Value>,
    worker_concurrency: Option<toml::Value>,
    job_batch: Option<toml::Value>,
    redispatch_after_secs: Option<toml::Value>,
    job_retention_secs: Option<toml::Value>,
    body_limit_bytes: Option<toml::Value>,
    request_timeout_secs: Option<toml::Value>,
    header_timeout_secs: Option<toml::Value>,
    flag_history_change_pct: Option<toml::Value>,
    flag_sector_fence_pct: Option<toml::Value>,
    flag_sector_min_spread_pct: Option<toml::Value>,
    flag_sector_min_projects: Option<toml::Value>,
    log: Option<String>,
    smtp_url: Option<String>,
    smtp_ca_file: Option<String>,
    mail_from: Option<String>,
    mail_dir: Option<String>,
    public_url: Option<String>,
    digest_time: Option<String>,
}

/// The settings' names, in the file and (upper-cased, with `JIXIAO_`) in the environment.
pub const NAMES: [&str; 32] = [
    "plugins_dir",
    "plugin_cache_dir",
    "plugin_time_ms",
    "plugin_memory_mb",
    "job_retention_secs",
    "listen",
    "data_dir",
    "database_url",
    "redis_url",
    "queue_namespace",
    "admin_token",
    "metrics_token",
    "trusted_proxies",
    "workflows_dir",
    "calendar_dir",
    "worker_concurrency",
    "job_batch",
    "redispatch_after_secs",
    "body_limit_bytes",
    "request_timeout_secs",
    "header_timeout_secs",
    "flag_history_change_pct",
    "flag_sector_fence_pct",
    "flag_sector_min_spread_pct",
    "flag_sector_min_projects",
    "log",
    "smtp_url",
    "smtp_ca_file",
    "mail_from",
    "mail_dir",
    "public_url",
    "digest_time",
];

/// Settings given on the command line; they override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
}

impl Settings {
    /// The thresholds of fill-and-use's flags.
    pub fn flag_rules(&self) -> crate::domain::library::FlagRules {
        use rust_decimal::Decimal;
        crate::domain::library::FlagRules {
            history_change_pct: Decimal::from(self.flag_history_change_pct),
            sector_fence: Decimal::new(self.flag_sector_fence_pct as i64, 2),
            sector_min_spread_pct: Decimal::from(self.flag_sector_min_spread_pct),
            sector_min_projects: self.flag_sector_min_projects as usize,
        }
    }

    /// Loads settings from `file` (if given, or `jixiao.toml` in the working directory if
    /// present), the environment `env` (pairs of name and value), and `overrides`.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let mut raw: Vec<(String, String, String)> = Vec::new(); // (name, value, where)
        let mut warnings = Vec::new();
        let default_file = Path::new("jixiao.toml");
        let file = file.map(Path::to_path_buf).or_else(|| default_file.exists().then(|| default_file.to_path_buf()));
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                name: "config file".into(),
                source_note: format!(" ({})", path.display()),
                message: format!("cannot read it: {e}"),
            })?;
            let fs: FileSettings = toml::from_str(&text).map_err(|e| ConfigError {
                name: "in the config file".into(),
                source_note: format!(" ({})", path.display()),
                message: format!("{} (known settings: {})", e.message(), NAMES.join(", ")),
            })?;
            let note = format!("in {}", path.display());
            let mut put = |n: &str, v: Option<String>| {
                if let Some(v) = v {
                    raw.push((n.to_string(), v, note.clone()));
                }
            };
            let num = |v: Option<toml::Value>| {
                v.map(|v| match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => format!("{other:?}"),
                })
            };
            put("listen", fs.listen);
            put("data_dir", fs.data_dir);
            put("database_url", fs.database_url);
            put("admin_token", fs.admin_token);
            put("metrics_token", fs.metrics_token);
            put("trusted_proxies", fs.trusted_proxies);
            put("redis_url", fs.redis_url);
            put("queue_namespace", fs.queue_namespace);
            put("workflows_dir", fs.workflows_dir);
            put("calendar_dir", fs.calendar_dir);
            put("plugins_dir", fs.plugins_dir);
            put("plugin_cache_dir", fs.plugin_cache_dir);
            put("plugin_time_ms", num(fs.plugin_time_ms));
            put("plugin_memory_mb", num(fs.plugin_memory_mb));
            put("worker_concurrency", num(fs.worker_concurrency));
            put("job_batch", num(fs.job_batch));
            put("redispatch_after_secs", num(fs.redispatch_after_secs));
            put("job_retention_secs", num(fs.job_retention_secs));
            put("body_limit_bytes", num(fs.body_limit_bytes));
            put("request_timeout_secs", num(fs.request_timeout_secs));
            put("header_timeout_secs", num(fs.header_timeout_secs));
            put("flag_history_change_pct", num(fs.flag_history_change_pct));
            put("flag_sector_fence_pct", num(fs.flag_sector_fence_pct));
            put("flag_sector_min_spread_pct", num(fs.flag_sector_min_spread_pct));
            put("flag_sector_min_projects", num(fs.flag_sector_min_projects));
            put("log", fs.log);
            put("smtp_url", fs.smtp_url);
            put("smtp_ca_file", fs.smtp_ca_file);
            put("mail_from", fs.mail_from);
            put("mail_dir", fs.mail_dir);
            put("public_url", fs.public_url);
            put("digest_time", fs.digest_time);
        }
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("JIXIAO_") else {
                continue;
            };
            let name = rest.to_ascii_lowercase();
            if NAMES.contains(&name.as_str()) {
                raw.push((name, v.clone(), "from the environment".into()));
            } else if name != "config" {
                warnings.push(format!("{k} is not a setting this server reads; ignored"));
            }
        }
        for (n, v) in [
            ("listen", &overrides.listen),
            ("data_dir", &overrides.data_dir),
            ("database_url", &overrides.database_url),
            ("redis_url", &overrides.redis_url),
        ] {
            if let Some(v) = v {
                raw.push((n.to_string(), v.clone(), "on the command line".into()));
            }
        }
        let get = |n: &str| raw.iter().rev().find(|(k, _, _)| k == n).map(|(_, v, w)| (v.clone(), w.clone()));
        let fail = |n: &str, w: &str, v: &str, expected: &str| ConfigError {
            name: if w == "from the environment" {
                format!("JIXIAO_{}", n.to_ascii_uppercase())
            } else {
                n.to_string()
            },
            source_note: format!(" = '{v}' ({w})"),
            message: format!("expected {expected}"),
        };
        let listen = match get("listen") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some((v, w)) => v
                .parse()
                .map_err(|_| fail("listen", &w, &v, "a socket address such as 127.0.0.1:8080 or 0.0.0.0:8080"))?,
        };
        // Every path may be relative: it is resolved against the working directory now, once,
        // so that no later part (the plugin cache, SQLite, the mail folder) sees a relative one.
        let cwd = std::env::current_dir().map_err(|e| ConfigError {
            name: "working directory".into(),
            source_note: String::new(),
            message: format!("cannot be read, so relative paths cannot be resolved: {e}"),
        })?;
        let mut given_paths: Vec<(&'static str, String)> = Vec::new();
        let mut path = |n: &'static str, default: Option<&str>| -> Result<Option<PathBuf>, ConfigError> {
            let raw = match get(n) {
                None => match default {
                    None => return Ok(None),
                    Some(d) => d.to_string(),
                },
                Some((v, w)) if v.trim().is_empty() => return Err(fail(n, &w, &v, "a path")),
                Some((v, _)) => v,
            };
            given_paths.push((n, raw.clone()));
            Ok(Some(resolve(&cwd, Path::new(&raw))))
        };
        let data_dir = path("data_dir", Some("./data"))?.unwrap_or_default();
        let workflows_dir = path("workflows_dir", Some("./workflows"))?.unwrap_or_default();
        let calendar_dir = path("calendar_dir", None)?;
        let plugins_dir = path("plugins_dir", Some("./plugins/dist"))?.unwrap_or_default();
        let in_data = |sub: &str| data_dir.join(sub).display().to_string();
        let plugin_cache_dir = path("plugin_cache_dir", Some(&in_data("plugin-cache")))?.unwrap_or_default();
        let mail_dir = path("mail_dir", Some(&in_data("mail")))?.unwrap_or_default();
        let smtp_ca_path = path("smtp_ca_file", None)?;
        let database_url = match get("database_url") {
            None => format!("sqlite://{}", data_dir.join("jixiao.db").display()),
            Some((v, w)) => {
                if !(v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://")) {
                    return Err(fail(
                        "database_url",
                        &w,
                        &v,
                        "a SQLite URL such as sqlite://./data/jixiao.db or a PostgreSQL URL such as postgres://user@host/db",
                    ));
                }
                sqlite_url_resolved(&cwd, &v)
            }
        };
        let number = |n: &str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            match get(n) {
                None => Ok(default),
                Some((v, w)) => match v.trim().parse::<u64>() {
                    Ok(x) if (min..=max).contains(&x) => Ok(x),
                    _ => Err(fail(n, &w, &v, &format!("a whole number from {min} to {max}"))),
                },
            }
        };
        let admin_token = match get("admin_token") {
            None => None,
            Some((v, w)) => {
                if v.len() < 24 || v.chars().any(char::is_whitespace) {
                    return Err(fail("admin_token", &w, "****", "at least 24 characters without spaces"));
                }
                Some(Secret(v))
            }
        };
        let metrics_token = match get("metrics_token") {
            None => None,
            Some((v, w)) => {
                if v.len() < 24 || v.chars().any(|c| !c.is_ascii_graphic()) {
                    return Err(fail("metrics_token", &w, "****", "at least 24 visible ASCII characters"));
                }
                Some(Secret(v))
            }
        };
        let trusted_proxies = match get("trusted_proxies") {
            None => Vec::new(),
            Some((v, w)) => v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| a.parse::<std::net::IpAddr>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    fail("trusted_proxies", &w, &v, "IP addresses separated by commas, e.g. 127.0.0.1, ::1")
                })?,
        };
        let redis_url = match get("redis_url") {
            None => None,
            Some((v, _)) if v.trim().is_empty() => None,
            Some((v, w)) => {
                if !(v.starts_with("redis://") || v.starts_with("rediss://")) {
                    return Err(fail("redis_url", &w, &v, "a Redis URL such as redis://127.0.0.1:6379"));
                }
                Some(v)
            }
        };
        let queue_namespace = match get("queue_namespace") {
            None => "jixiao".to_string(),
            Some((v, w)) => {
                if v.is_empty() || v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(fail("queue_namespace", &w, &v, "1–64 letters, digits, '_' or '-'"));
                }
                v
            }
        };
        let log = get("log").map(|(v, _)| v).unwrap_or_else(|| "info".into());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            let (v, w) = get("log").unwrap_or_default();
            return Err(fail("log", &w, &v, &format!("a log filter such as info or jixiao=debug ({e})")));
        }
        let smtp_url = match get("smtp_url") {
            None => None,
            Some((v, _)) if v.trim().is_empty() => None,
            Some((v, w)) => {
                if !(v.starts_with("smtp://") || v.starts_with("smtps://")) {
                    return Err(fail(
                        "smtp_url",
                        &w,
                        "****",
                        "an SMTP URL such as smtp://mail.example.org:25, smtp://user:pass@mail.example.org:587?tls=required or smtps://user:pass@mail.example.org:465",
                    ));
                }
                Some(Secret(v))
            }
        };
        let smtp_ca_file = match get("smtp_ca_file") {
            None => None,
            Some((v, w)) => {
                if smtp_url.is_none() {
                    return Err(fail(
                        "smtp_ca_file",
                        &w,
                        &v,
                        "no value without smtp_url (it names the mail server's CA)",
                    ));
                }
                smtp_ca_path
            }
        };
        let mail_from = match get("mail_from") {
            None => "jixiao <jixiao@localhost>".to_string(),
            Some((v, w)) => {
                if !crate::notify::is_mailbox(&v) {
                    return Err(fail("mail_from", &w, &v, "a mailbox such as 县财政局 <jixiao@czj.example.gov.cn>"));
                }
                v
            }
        };
        let public_url = match get("public_url") {
            None => format!("http://{listen}"),
            Some((v, w)) => {
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    return Err(fail("public_url", &w, &v, "an address such as https://jixiao.czj.example.gov.cn"));
                }
                v.trim_end_matches('/').to_string()
            }
        };
        let digest_time = match get("digest_time") {
            None => chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            Some((v, w)) => chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M")
                .map_err(|_| fail("digest_time", &w, &v, "a time of day such as 08:00"))?,
        };
        Ok((
            Settings {
                listen,
                data_dir,
                database_url,
                admin_token,
                metrics_token,
                trusted_proxies,
                redis_url,
                queue_namespace,
                workflows_dir,
                calendar_dir,
                plugins_dir,
                plugin_cache_dir,
                plugin_time_ms: number("plugin_time_ms", 50, 1, 10_000)?,
                plugin_memory_mb: number("plugin_memory_mb", 32, 1, 1024)?,
                worker_concurrency: number("worker_concurrency", 4, 1, 256)? as usize,
                job_batch: number("job_batch", 100, 1, 10_000)? as usize,
                redispatch_after_secs: number("redispatch_after_secs", 300, 5, 86_400)?,
                job_retention_secs: number("job_retention_secs", 600, 0, 30 * 86_400)?,
                body_limit_bytes: number("body_limit_bytes", 2 * 1024 * 1024, 1024, 64 * 1024 * 1024)? as usize,
                request_timeout_secs: number("request_timeout_secs", 30, 1, 3600)?,
                header_timeout_secs: number("header_timeout_secs", 15, 1, 600)?,
                flag_history_change_pct: number("flag_history_change_pct", 50, 1, 10_000)?,
                flag_sector_fence_pct: number("flag_sector_fence_pct", 150, 0, 10_000)?,
                flag_sector_min_spread_pct: number("flag_sector_min_spread_pct", 10, 0, 1000)?,
                flag_sector_min_projects: number("flag_sector_min_projects", 5, 1, 100_000)?,
                log,
                smtp_url,
                smtp_ca_file,
                mail_from,
                mail_dir,
                public_url,
                digest_time,
                given_paths,
            },
            warnings,
        ))
    }
}

/// `path` made absolute against `cwd` (without touching the file system: the path need not
/// exist yet).
fn resolve(cwd: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    // Drop "." components so that messages and URLs read cleanly; ".." is kept, since a
    // symbolic link may make it mean something else than the lexical parent.
    joined.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// The file of a SQLite URL (`sqlite:///abs/x.db`, `sqlite://x.db?mode=rwc`) and its query, if
/// it names a file (not PostgreSQL, not `sqlite::memory:`).
fn sqlite_parts(url: &str) -> Option<(&str, Option<&str>)> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (file, query) = match rest.split_once('?') {
        Some((f, q)) => (f, Some(q)),
        None => (rest, None),
    };
    (!file.is_empty() && !file.starts_with(':')).then_some((file, query))
}

/// The file a SQLite URL names, if it names one.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    sqlite_parts(url).map(|(file, _)| PathBuf::from(file))
}

/// A SQLite URL whose file path is relative (`sqlite://./data/x.db`, `sqlite:data/x.db`) with
/// the path made absolute; other URLs (PostgreSQL, `sqlite::memory:`, absolute paths) as given.
fn sqlite_url_resolved(cwd: &Path, url: &str) -> String {
    match sqlite_parts(url) {
        Some((file, query)) if !file.starts_with('/') => {
            let abs = resolve(cwd, Path::new(file));
            match query {
                Some(q) => format!("sqlite://{}?{q}", abs.display()),
                None => format!("sqlite://{}", abs.display()),
            }
        }
        _ => url.to_string(),
    }
}

impl Settings {
    /// The path setting `name` as it was given, for messages ("data_dir = ./data: …").
    pub fn given_path(&self, name: &str) -> String {
        self.given_paths.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_layers() {
        let (s, _) = Settings::load(None, &env(&[("JIXIAO_DATA_DIR", "/srv/jx")]), &Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite:///srv/jx/jixiao.db");
        let o = Overrides { listen: Some("0.0.0.0:9000".into()), ..Default::default() };
        let (s, _) = Settings::load(None, &env(&[("JIXIAO_LISTEN", "127.0.0.1:1")]), &o).unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let table = [
            (
                ("JIXIAO_LISTEN", "abc"),
                "invalid setting JIXIAO_LISTEN = 'abc' (from the environment): expected a socket address",
            ),
            (("JIXIAO_WORKER_CONCURRENCY", "0"), "JIXIAO_WORKER_CONCURRENCY = '0'"),
            (("JIXIAO_DATABASE_URL", "mysql://x"), "expected a SQLite URL"),
            (("JIXIAO_ADMIN_TOKEN", "short"), "at least 24 characters"),
        ];
        for ((k, v), want) in table {
            let e = Settings::load(None, &env(&[(k, v)]), &Overrides::default()).unwrap_err().to_string();
            assert!(e.contains(want), "{k}: {e}");
            assert!(!e.contains("short") || k != "JIXIAO_ADMIN_TOKEN", "a secret must not be printed: {e}");
        }
    }

    #[test]
    fn file_errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jixiao.toml");
        std::fs::write(&p, "listn = \"1.2.3.4:5\"\n").unwrap();
        let e = Settings::load(Some(&p), &[], &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("unknown field `listn`"), "{e}");
        std::fs::write(&p, "job_batch = \"many\"\n").unwrap();
        let e = Settings::load(Some(&p), &[], &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("invalid setting job_batch = 'many'"), "{e}");
    }

    #[test]
    fn relative_paths_are_resolved_against_the_working_directory() {
        let cwd = std::env::current_dir().unwrap();
        let (s, _) = Settings::load(
            None,
            &env(&[("JIXIAO_DATA_DIR", "./var/jx"), ("JIXIAO_PLUGINS_DIR", "plugins/dist")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.data_dir, cwd.join("var/jx"));
        assert_eq!(s.plugins_dir, cwd.join("plugins/dist"));
        assert_eq!(s.workflows_dir, cwd.join("workflows"));
        assert_eq!(s.plugin_cache_dir, cwd.join("var/jx/plugin-cache"));
        assert_eq!(s.mail_dir, cwd.join("var/jx/mail"));
        assert_eq!(s.database_url, format!("sqlite://{}", cwd.join("var/jx/jixiao.db").display()));
        assert_eq!(s.given_path("data_dir"), "./var/jx");
        for p in [&s.data_dir, &s.plugins_dir, &s.workflows_dir, &s.plugin_cache_dir, &s.mail_dir] {
            assert!(p.is_absolute(), "{}", p.display());
        }
        let (s, _) = Settings::load(
            None,
            &env(&[("JIXIAO_DATABASE_URL", "sqlite://./db/x.db?mode=rwc")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.database_url, format!("sqlite://{}?mode=rwc", cwd.join("db/x.db").display()));
        for url in ["sqlite:///srv/x.db", "sqlite::memory:", "postgres://u@h/db"] {
            let (s, _) = Settings::load(None, &env(&[("JIXIAO_DATABASE_URL", url)]), &Overrides::default()).unwrap();
            assert_eq!(s.database_url, url);
        }
        let e = Settings::load(None, &env(&[("JIXIAO_MAIL_DIR", " ")]), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("JIXIAO_MAIL_DIR"), "{e}");
    }
}
