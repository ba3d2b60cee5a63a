//! Fault tests on the scale-out shape: real `jixiao serve --api-only` and `jixiao worker`
//! processes on PostgreSQL + Redis, with workers killed, Redis restarted and PostgreSQL stopped
//! in the middle of a cycle. Built only with `--features fault-tests`; `.ci/run` runs them with
//! `JIXIAO_TEST_DATABASE_URL` and `JIXIAO_TEST_REDIS_URL` set, and they fail, never skip, when
//! those services are missing.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{PgPool, Row};

const ADMIN: &str = "jx_fault_admin_token_0123456789abcdef";

fn required(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} must be set: the fault tests run on PostgreSQL + Redis"))
}

/// One isolated installation: its own database, queue namespace and data folder.
struct Install {
    db_url: String,
    redis_url: String,
    ns: String,
    dir: tempfile::TempDir,
    pool: PgPool,
}

impl Install {
    async fn new(redis_url: Option<String>) -> Install {
        let base = required("JIXIAO_TEST_DATABASE_URL");
        let redis_url = redis_url.unwrap_or_else(|| required("JIXIAO_TEST_REDIS_URL"));
        let ns = format!("jxt_{:016x}", rand_u64());
        let db_url = jixiao::store::create_postgres_database(&base, &ns).await.expect("PostgreSQL answers");
        let pool = PgPool::connect(&db_url).await.unwrap();
        Install { db_url, redis_url, ns, dir: tempfile::tempdir().unwrap(), pool }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_jixiao"));
        c.args(args)
            .env("JIXIAO_DATABASE_URL", &self.db_url)
            .env("JIXIAO_REDIS_URL", &self.redis_url)
            .env("JIXIAO_QUEUE_NAMESPACE", &self.ns)
            .env("JIXIAO_DATA_DIR", self.dir.path())
            .env("JIXIAO_WORKFLOWS_DIR", format!("{}/workflows", env!("CARGO_MANIFEST_DIR")))
            .env("JIXIAO_PLUGINS_DIR", format!("{}/plugins/dist", env!("CARGO_MANIFEST_DIR")))
            .env("JIXIAO_PLUGIN_CACHE_DIR", format!("{}/plugin-cache", env!("CARGO_TARGET_TMPDIR")))
            .env("JIXIAO_ADMIN_TOKEN", ADMIN)
            .env("JIXIAO_REDISPATCH_AFTER_SECS", "5")
            .env("JIXIAO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Loads a demo county of `projects` projects and starts its cycle.
    fn demo(&self, projects: usize) {
        let out = self.command(&["demo", "--projects", &projects.to_string()]).stdout(Stdio::piped()).output().unwrap();
        assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stdout));
    }

    fn api(&self, port: u16) -> Proc {
        Proc(self.command(&["serve", "--api-only", "--listen", &format!("127.0.0.1:{port}")]).spawn().unwrap())
    }

    fn worker(&self) -> Proc {
        Proc(self.command(&["worker"]).spawn().unwrap())
    }

    /// The end state as the bureau sees it: per project, stage, phase and status; the panel's
    /// seats (who sits depends on which panels were drawn in the same batch, which timing
    /// decides, so the members themselves are checked apart); and how many events of each kind
    /// the case has.
    async fn fingerprint(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for r in
            sqlx::query("SELECT p.code, c.stage, c.phase, c.status FROM cases c JOIN projects p ON p.id = c.project_id")
                .fetch_all(&self.pool)
                .await
                .unwrap()
        {
            let code: String = r.get(0);
            let v = format!("{:?}/{}/{}", r.get::<Option<String>, _>(1), r.get::<String, _>(2), r.get::<String, _>(3));
            out.insert(format!("{code} state"), v);
        }
        for r in sqlx::query("SELECT p.code, string_agg(t.panel_role || ':' || (SELECT COUNT(DISTINCT t2.assignee_id) FROM tasks t2 WHERE t2.case_id = t.case_id AND t2.kind = 'review')::text, ',' ORDER BY t.panel_role) FROM tasks t JOIN cases c ON c.id = t.case_id JOIN projects p ON p.id = c.project_id WHERE t.kind = 'review' GROUP BY p.code").fetch_all(&self.pool).await.unwrap() {
            out.insert(format!("{} panel", r.get::<String, _>(0)), r.get::<String, _>(1));
        }
        for r in sqlx::query("SELECT p.code, e.data FROM events e JOIN cases c ON c.id = e.case_id JOIN projects p ON p.id = c.project_id WHERE e.kind = 'panel_infeasible'").fetch_all(&self.pool).await.unwrap() {
            let data: Value = serde_json::from_str(&r.get::<String, _>(1)).unwrap_or_default();
            out.insert(format!("{} infeasible because", r.get::<String, _>(0)), data["reason"].to_string());
        }
        for r in sqlx::query("SELECT p.code, e.kind, COUNT(*) FROM events e JOIN cases c ON c.id = e.case_id JOIN projects p ON p.id = c.project_id GROUP BY p.code, e.kind").fetch_all(&self.pool).await.unwrap() {
            out.insert(format!("{} {}", r.get::<String, _>(0), r.get::<String, _>(1)), r.get::<i64, _>(2).to_string());
        }
        out
    }

    async fn pending(&self) -> i64 {
        sqlx::query_scalar(PENDING_WORK).fetch_one(&self.pool).await.unwrap_or(-1)
    }

    async fn wait_settled(&self, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pending().await == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: inputs still pending after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn rand_u64() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    t ^ (std::process::id() as u64).rotate_left(32)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Inputs not yet applied and plugin checks not yet run, counted in one snapshot.
const PENDING_WORK: &str = "SELECT (SELECT COUNT(*) FROM case_inputs WHERE applied_ms IS NULL) + (SELECT COUNT(*) FROM plugin_checks WHERE status = 'pending') + (SELECT COUNT(*) FROM panel_requests WHERE status = 'pending')";

/// A child process that is killed when dropped, so a failing test leaves no server, worker or
/// Redis running behind it.
struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // std's kill does nothing to a child already waited for, so no reused pid is hit.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kill9(c: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", &c.id().to_string()]).status();
    let _ = c.wait();
}

fn term(c: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
    let _ = c.wait();
}

async fn wait_http(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/readyz")).await.map(|r| r.status() != StatusCode::OK).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the API did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every open department submission completed through the API, as the departments would.
async fn submit_everything(base: &str) -> usize {
    let client = reqwest::Client::new();
    let get = |path: String, token: String| {
        let client = client.clone();
        async move {
            client.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    // A token per department user.
    let users = get("/api/v1/admin/users?limit=500".into(), ADMIN.into()).await;
    let mut tokens = BTreeMap::new();
    for u in users["items"].as_array().unwrap().iter().filter(|u| u["role"] == "department") {
        let t: Value = client
            .post(format!("{base}/api/v1/admin/users/{}/tokens", u["id"]))
            .bearer_auth(ADMIN)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.insert(u["department_id"].as_i64().unwrap(), t["token"].as_str().unwrap().to_string());
    }
    let mut done = 0;
    loop {
        let tasks = get("/api/v1/tasks?status=open&kind=submission&limit=500".into(), ADMIN.into()).await;
        let items = tasks["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return done;
        }
        for t in items {
            let token = tokens[&t["department_id"].as_i64().unwrap()].clone();
            let case = get(format!("/api/v1/cases/{}", t["case_id"]), token.clone()).await;
            let body = if t["form"] == "targets" {
                let p = get(format!("/api/v1/projects/{}", case["project_id"]), token.clone()).await;
                json!({"indicators": p["indicators"]})
            } else {
                json!({"summary": "项目立项必要、投入经济、目标合理、方案可行、筹资合规。"})
            };
            // A 503 while a fault is injected is expected; the department tries again.
            for _ in 0..100 {
                let r = client
                    .post(format!("{base}/api/v1/tasks/{}/complete", t["id"]))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                match r.map(|r| r.status()) {
                    Ok(s) if s.is_success() || s == StatusCode::CONFLICT => break,
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            done += 1;
        }
    }
}

/// Runs the same cycle with a fault injected (or none) and returns its end state.
async fn run_cycle(
    projects: usize,
    workers: usize,
    fault: impl AsyncFnOnce(&Install, &mut Vec<Proc>) -> (),
) -> (BTreeMap<String, String>, usize) {
    let inst = Install::new(None).await;
    inst.demo(projects);
    let port = free_port();
    let mut api = inst.api(port);
    let base = format!("http://127.0.0.1:{port}");
    wait_http(&base).await;
    let mut ws: Vec<Proc> = (0..workers).map(|_| inst.worker()).collect();
    inst.wait_settled("the cycle's first tasks", Duration::from_secs(120)).await;
    let submitting = submit_everything(&base);
    let faults = fault(&inst, &mut ws);
    let (submitted, ()) = tokio::join!(submitting, faults);
    inst.wait_settled("after the submissions", Duration::from_secs(180)).await;
    let fp = inst.fingerprint().await;
    for w in &mut ws {
        term(w);
    }
    term(&mut api);
    (fp, submitted)
}

fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut d = Vec::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            d.push(format!("{k}: {v} vs {:?}", b.get(k)));
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        d.push(format!("{k}: missing vs {:?}", b.get(k)));
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_workers_loses_and_duplicates_nothing() {
    let (calm, n1) = run_cycle(1000, 3, async |_, _| {}).await;
    let (stormy, n2) = run_cycle(1000, 3, async |inst: &Install, ws: &mut Vec<Proc>| {
        // Kill a worker every 400 ms while the submissions pour in, 24 times, and start a
        // new one each time: three workers race on the same cases throughout.
        for i in 0..24 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let k = i % ws.len();
            kill9(&mut ws[k]);
            ws[k] = inst.worker();
        }
    })
    .await;
    assert_eq!(n1, n2);
    assert!(n1 >= 1000, "every case's submission went through: {n1}");
    let d = diff(&calm, &stormy);
    assert!(d.is_empty(), "{} differences, e.g. {:?}", d.len(), &d[..d.len().min(10)]);
    // Nothing is duplicated: one panel per case and review round.
    assert!(stormy.iter().filter(|(k, _)| k.ends_with(" panel_drawn")).all(|(_, v)| v == "1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_loses_no_case() {
    // A Redis of our own, so restarting it disturbs no other test.
    let port = free_port();
    let start_redis = || {
        Proc(
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is installed"),
        )
    };
    let mut redis = start_redis();
    std::thread::sleep(Duration::from_millis(300));
    let inst = Install::new(Some(format!("redis://127.0.0.1:{port}"))).await;
    inst.demo(600);
    let api_port = free_port();
    let mut api = inst.api(api_port);
    let base = format!("http://127.0.0.1:{api_port}");
    wait_http(&base).await;
    let mut ws: Vec<Proc> = (0..2).map(|_| inst.worker()).collect();
    inst.wait_settled("first tasks", Duration::from_secs(120)).await;
    let submitting = submit_everything(&base);
    let restart = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Every job in Redis is lost here.
        kill9(&mut redis);
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis = start_redis();
    };
    let (n, ()) = tokio::join!(submitting, restart);
    assert!(n >= 600);
    // The reconciler re-dispatches what the lost jobs should have done.
    inst.wait_settled("after the Redis restart", Duration::from_secs(180)).await;
    let stuck: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE NOT (phase = 'awaiting_reviews')")
        .fetch_one(&inst.pool)
        .await
        .unwrap();
    if stuck > 0 {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT phase, status, COUNT(*) FROM cases WHERE NOT (phase = 'awaiting_reviews') GROUP BY phase, status",
        )
        .fetch_all(&inst.pool)
        .await
        .unwrap();
        panic!("{stuck} cases did not reach their panel: {rows:?}");
    }
    let dup: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT case_id FROM events WHERE kind = 'panel_drawn' GROUP BY case_id HAVING COUNT(*) > 1) x").fetch_one(&inst.pool).await.unwrap();
    assert_eq!(dup, 0);
    for w in &mut ws {
        term(w);
    }
    term(&mut api);
    kill9(&mut redis);
}

/// Restores the local PostgreSQL cluster even if the test fails half-way.
struct PgGuard;

impl PgGuard {
    fn ctl(action: &str) {
        let version = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .expect("a local PostgreSQL cluster managed by pg_ctlcluster");
        let ok = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", action])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok || action == "stop", "pg_ctlcluster {action} failed");
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        PgGuard::ctl("start");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_answers_503_and_recovers() {
    let inst = Install::new(None).await;
    inst.demo(200);
    let port = free_port();
    let mut api = inst.api(port);
    let base = format!("http://127.0.0.1:{port}");
    wait_http(&base).await;
    let mut w = inst.worker();
    inst.wait_settled("first tasks", Duration::from_secs(120)).await;
    inst.pool.close().await;
    let client = reqwest::Client::new();
    {
        let _guard = PgGuard;
        PgGuard::ctl("stop");
        let r = client.get(format!("{base}/api/v1/cases")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{body}");
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    // Back: both the API and the worker carry on by themselves.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client.get(format!("{base}/api/v1/cases?limit=1")).bearer_auth(ADMIN).send().await;
        if r.map(|r| r.status() == StatusCode::OK).unwrap_or(false) {
            break;
        }
        assert!(Instant::now() < deadline, "the API did not recover");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let n = submit_everything(&base).await;
    let pool = PgPool::connect(&inst.db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pending: i64 = sqlx::query_scalar(PENDING_WORK).fetch_one(&pool).await.unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the worker did not recover");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Every case is now with its panel: the 200 budget projects and each department's overall
    // declaration, which the demo's department-overall cycle took up.
    let waiting: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT p.kind, COUNT(*), SUM(CASE WHEN c.phase = 'awaiting_reviews' THEN 1 ELSE 0 END) \
         FROM cases c JOIN projects p ON p.id = c.project_id GROUP BY p.kind ORDER BY p.kind",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let declared: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE kind = 'department'").fetch_one(&pool).await.unwrap();
    assert!(declared > 0, "the demo declared no department's overall targets");
    assert_eq!(
        waiting,
        vec![("department".to_string(), declared, declared), ("project".to_string(), 200, 200)],
        "(kind, cases, awaiting reviews)"
    );
    assert!(n as i64 >= 200 + declared, "{n} submissions made");
    term(&mut w);
    term(&mut api);
}
