//! The API under load: a `jixiao serve` process on the embedded default holding `cases` cases
//! (the generated county of the monitoring benchmark, every case in its monitoring stage) is
//! driven from this process over loopback at a fixed request rate (open loop: each request is
//! sent at its scheduled time, and its latency counts from that time, so a slow answer cannot
//! hide the requests queued behind it). Four endpoints, one after the other, at the same rate:
//! `/healthz` (the baseline: the HTTP stack and nothing else), a reviewer's `/api/v1/inbox`,
//! `/api/v1/cases/{id}` for random cases, and fill-and-use's
//! `/api/v1/projects/{id}/targets/proposal` for random projects (at a rate of its own: a
//! department asks for it while declaring targets). Prints p50, p99, max, errors and the rate
//! achieved.
//!
//! The generated monitoring run is open with every report filled, so the server's scheduler
//! evaluates and closes it as soon as it starts (a light per case, inputs that move each case
//! on). The phases are measured once that is done and no input is pending, with the server at
//! rest; how long it took is reported as `settle_s`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::store::Store;
use crate::store::people::NewUser;
use crate::store::workflows::Registry;
use crate::workflow::Role;

pub(super) const ADMIN_TOKEN: &str = "jx_bench_admin_token_0123456789abcdef";
const REVIEWER_TOKEN: &str = "jx_bench_reviewer_token_0123456789abcdef";
/// Open reviews in the reviewer's inbox.
const REVIEWS: i64 = 40;

/// A kept-alive HTTP/1.1 connection to the server: enough of a client for GET requests with a
/// bearer token and a Content-Length answer.
pub(super) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(super) fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn { stream, buf: Vec::with_capacity(64 * 1024) })
    }

    /// Sends one GET and reads the whole answer; the status code.
    pub(super) fn get(&mut self, path: &str, token: Option<&str>) -> std::io::Result<u16> {
        self.send("GET", path, token, None)
    }

    /// Sends one POST of a JSON body and reads the whole answer; the status code.
    pub(super) fn post(&mut self, path: &str, token: Option<&str>, json: &[u8]) -> std::io::Result<u16> {
        self.send("POST", path, token, Some(json))
    }

    /// The answer's body, as last read.
    pub(super) fn body(&self) -> &[u8] {
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(0);
        &self.buf[end..]
    }

    fn send(&mut self, method: &str, path: &str, token: Option<&str>, json: Option<&[u8]>) -> std::io::Result<u16> {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        match json {
            None => write!(self.stream, "{method} {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n")?,
            Some(body) => {
                write!(
                    self.stream,
                    "{method} {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                self.stream.write_all(body)?;
            }
        }
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let header_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the headers"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("an answer without Content-Length"))?;
        while self.buf.len() < header_end + length {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed inside the body"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(status)
    }
}

/// Figures of one phase.
pub(super) fn figures(name: &str, mut lat_ms: Vec<f64>, errors: usize, sent: usize, secs: f64) -> Value {
    lat_ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        if lat_ms.is_empty() {
            return 0.0;
        }
        let i = ((lat_ms.len() as f64 - 1.0) * p).round() as usize;
        (lat_ms[i] * 1000.0).round() / 1000.0
    };
    json!({
        "endpoint": name, "requests": sent, "errors": errors, "achieved_rps": ((sent as f64 / secs) * 10.0).round() / 10.0,
        "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": q(1.0),
    })
}

/// Sends `rate` requests per second for `secs` seconds from a pool of connections; each
/// request's latency counts from its scheduled time.
pub(super) fn drive(
    addr: &str,
    rate: u32,
    secs: f64,
    make: &(dyn Fn(&mut rand::rngs::StdRng) -> (String, Option<&'static str>) + Sync),
) -> (Vec<f64>, usize, usize) {
    let total = (rate as f64 * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let threads = 32usize;
    let start = Instant::now() + Duration::from_millis(100);
    let next = Arc::new(Mutex::new(0usize));
    let results = Arc::new(Mutex::new((Vec::with_capacity(total), 0usize)));
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (next, results) = (Arc::clone(&next), Arc::clone(&results));
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                let mut conn = Conn::open(addr).ok();
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        if *n >= total {
                            break;
                        }
                        *n += 1;
                        *n - 1
                    };
                    let due = start + interval * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let (path, token) = make(&mut rng);
                    let ok = match conn.as_mut().map(|c| c.get(&path, token)) {
                        Some(Ok(status)) => (200..300).contains(&status),
                        _ => {
                            conn = Conn::open(addr).ok();
                            false
                        }
                    };
                    let ms = due.elapsed().as_secs_f64() * 1000.0;
                    let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                    r.0.push(ms);
                    if !ok {
                        r.1 += 1;
                    }
                }
            });
        }
    });
    let (lat, errors) =
        Arc::try_unwrap(results).map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).unwrap_or_default();
    let sent = lat.len();
    (lat, errors, sent)
}

/// Loads the generated county and the reviewer with open reviews into a fresh database.
async fn prepare(url: &str, cases: usize) -> anyhow::Result<i64> {
    let store = Store::open(url).await?;
    let reg = Registry::default();
    let now = chrono::Utc::now().timestamp_millis();
    let generated = store.load_monitoring_run(&reg, cases, now).await?;
    let reviewer = NewUser {
        username: "reviewer1".into(),
        display_name: "评审专家".into(),
        role: Role::Expert,
        department_code: None,
        email: String::new(),
        language: "zh".into(),
        expert: Some(
            serde_json::from_value(json!({"sectors": ["health"], "title": "教授", "organisation": "医学院"}))
                .map_err(|e| anyhow::anyhow!("the reviewer's profile: {e}"))?,
        ),
        digest: false,
        department_head: false,
    };
    let user = store.create_user(&reviewer, now, None).await?;
    store.ensure_token(user.id, REVIEWER_TOKEN, "bench", now).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases").fetch_one(&store.pool).await?;
    for i in 0..REVIEWS {
        let case_id = 1 + (i * 7919) % total.max(1);
        sqlx::query(
            "INSERT INTO tasks (case_id, stage, round, kind, form, role, assignee_id, panel_role, status, due_ms, created_ms) \
             VALUES ($1, 'target_review', 1, 'review', 'target_review', 'expert', $2, 'member', 'open', $3, $4)",
        )
        .bind(case_id)
        .bind(user.id)
        .bind(now + (i - 5) * 86_400_000)
        .bind(now)
        .execute(&store.pool)
        .await?;
    }
    store.pool.close().await;
    Ok(generated.projects)
}

/// Waits until the server has closed every monitoring run and applied every case input: the
/// work its start set off. Reads the database beside the server; returns the seconds taken.
pub(super) async fn settled(url: &str, limit: Duration) -> anyhow::Result<f64> {
    let store = Store::open(url).await?;
    let t0 = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitoring_runs WHERE status = 'open'")
            .fetch_one(&store.pool)
            .await?;
        if open == 0 && store.pending_work_count().await? == 0 {
            break;
        }
        anyhow::ensure!(t0.elapsed() < limit, "the server's background work was not done after {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    store.pool.close().await;
    Ok(t0.elapsed().as_secs_f64())
}

/// What a phase asks for: a path and the token to send, given a random source.
type Request = dyn Fn(&mut rand::rngs::StdRng) -> (String, Option<&'static str>) + Sync;

pub(super) struct Server(pub(super) std::process::Child);

/// Starts this binary with `args` (`serve`, `serve --demo`) as a server process of its own on a
/// free loopback port, its data in `dir` and its database at `url`, with the benchmarks' admin
/// token; waits until `/readyz` answers, at most `limit`. The process and its address.
pub(super) fn start_server(
    args: &[&str],
    dir: &std::path::Path,
    url: &str,
    shipped: &super::Shipped,
    limit: Duration,
) -> anyhow::Result<(Server, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(args)
        .env("JIXIAO_LISTEN", &addr)
        .env("JIXIAO_DATA_DIR", dir)
        .env("JIXIAO_DATABASE_URL", url)
        .env("JIXIAO_ADMIN_TOKEN", ADMIN_TOKEN)
        .envs(shipped.env())
        .env("JIXIAO_LOG", std::env::var("JIXIAO_LOG").unwrap_or_else(|_| "warn".into()));
    // JIXIAO_BENCH_SERVER_LOG=FILE keeps the server's output there (its log at JIXIAO_LOG).
    match std::env::var_os("JIXIAO_BENCH_SERVER_LOG") {
        Some(path) => {
            let file = std::fs::File::create(path)?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        None => {
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        }
    }
    let server = Server(cmd.spawn()?);
    let ready = Instant::now();
    while !Conn::open(&addr).and_then(|mut c| c.get("/readyz", None)).is_ok_and(|s| s == 200) {
        anyhow::ensure!(ready.elapsed() < limit, "the server did not become ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok((server, addr))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Requests per second: the page reads, and fill-and-use's proposals.
pub struct Rates {
    pub reads: u32,
    pub proposals: u32,
}

/// The read phases; their figures.
pub async fn run(cases: usize, rates: Rates, seconds: f64, shipped: &super::Shipped) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("jixiao.db").display());
    let t0 = Instant::now();
    let projects = prepare(&url, cases).await?;
    let load_s = t0.elapsed().as_secs_f64();
    let (_server, addr) = start_server(&["serve"], dir.path(), &url, shipped, Duration::from_secs(120))?;
    let settle_s = settled(&url, Duration::from_secs(3600)).await?;
    let total = projects.max(1) as u64;
    let rate = rates.reads;
    let phases: [(&str, u32, Box<Request>); 4] = [
        ("healthz", rate, Box::new(|_| ("/healthz".to_string(), None))),
        ("reviewer_inbox", rate, Box::new(|_| ("/api/v1/inbox".to_string(), Some(REVIEWER_TOKEN)))),
        (
            "case_view",
            rate,
            Box::new(move |rng| (format!("/api/v1/cases/{}", rng.random_range(1..=total)), Some(ADMIN_TOKEN))),
        ),
        (
            // Fill-and-use: the library offer, each indicator's basis and the sector's
            // distribution of the same 8 indicators, declared by every project of the sector.
            "targets_proposal",
            rates.proposals,
            Box::new(move |rng| {
                (format!("/api/v1/projects/{}/targets/proposal", rng.random_range(1..=total)), Some(ADMIN_TOKEN))
            }),
        ),
    ];
    let mut results = Vec::new();
    for (name, rate, make) in &phases {
        let rate = *rate;
        // A short warm-up at the same rate, then the measured run.
        let addr2 = addr.clone();
        let warm = tokio::task::block_in_place(|| drive(&addr2, rate, 1.0, make.as_ref()));
        drop(warm);
        let (lat, errors, sent) = tokio::task::block_in_place(|| drive(&addr, rate, seconds, make.as_ref()));
        let mut f = figures(name, lat, errors, sent, seconds);
        f["rate_rps"] = json!(rate);
        eprintln!("{f}");
        results.push(f);
    }
    Ok(json!({
        "backend": "sqlite", "cases": projects, "rate_rps": rate, "seconds": seconds,
        "load_s": (load_s * 10.0).round() / 10.0, "settle_s": (settle_s * 10.0).round() / 10.0, "proposal_rate_rps": rates.proposals, "goal": "p99 <= 20 ms, 0 errors at 500 requests/s",
        "phases": results,
    }))
}
