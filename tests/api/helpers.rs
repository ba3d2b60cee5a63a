//! Starting the real server in-process on a random port, with a fresh SQLite database in a
//! temporary folder and a manual clock, and talking to it over HTTP as each role.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use jixiao::app::{self, Roles, Runtime};
use jixiao::clock::ManualClock;
use jixiao::config::{Overrides, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

pub const ADMIN_TOKEN: &str = "jx_test_admin_token_0123456789abcdef";

pub struct TestApp {
    /// The settings' environment, kept so a restart opens the same database and queue.
    pub env: Arc<Vec<(String, String)>>,
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub rt: Arc<Runtime>,
    pub dir: Arc<tempfile::TempDir>,
    shutdown: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A port nothing listens on now, for a server process a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// 2023-03-01 09:00 in Asia/Shanghai.
pub fn start_ms() -> i64 {
    Utc.with_ymd_and_hms(2023, 3, 1, 1, 0, 0).unwrap().timestamp_millis()
}

/// The environment of a test server. With `JIXIAO_TEST_DATABASE_URL` (a PostgreSQL URL) each
/// test gets a database of its own on that server, and with `JIXIAO_TEST_REDIS_URL` a queue
/// namespace of its own on that Redis; otherwise a SQLite file in the test's folder.
pub async fn test_env(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("JIXIAO_DATA_DIR".to_string(), dir.display().to_string()),
        ("JIXIAO_WORKFLOWS_DIR".to_string(), format!("{}/workflows", env!("CARGO_MANIFEST_DIR"))),
        ("JIXIAO_ADMIN_TOKEN".to_string(), ADMIN_TOKEN.to_string()),
        ("JIXIAO_REDISPATCH_AFTER_SECS".to_string(), "5".to_string()),
        // The freshly built plugins (the shipped workflow names them), their compiled code
        // cached once for every test.
        ("JIXIAO_PLUGINS_DIR".to_string(), crate::plugins::plugin_dist().display().to_string()),
        ("JIXIAO_PLUGIN_CACHE_DIR".to_string(), format!("{}/plugin-cache", env!("CARGO_TARGET_TMPDIR"))),
    ];
    let unique = format!("jxt_{}", &jixiao::store::people::new_token()[3..19]);
    if let Some(base) = std::env::var("JIXIAO_TEST_DATABASE_URL").ok().filter(|v| !v.is_empty()) {
        env.push((
            "JIXIAO_DATABASE_URL".to_string(),
            jixiao::store::create_postgres_database(&base, &unique)
                .await
                .expect("JIXIAO_TEST_DATABASE_URL names a PostgreSQL that answers"),
        ));
    }
    if let Some(redis) = std::env::var("JIXIAO_TEST_REDIS_URL").ok().filter(|v| !v.is_empty()) {
        env.push(("JIXIAO_REDIS_URL".to_string(), redis));
    }
    env.push(("JIXIAO_QUEUE_NAMESPACE".to_string(), unique));
    env
}

pub fn settings(env: &[(String, String)]) -> Settings {
    Settings::load(None, env, &Overrides::default()).expect("test settings").0
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let env = Arc::new(test_env(dir.path()).await);
        Self::spawn_in(dir, env, Arc::new(ManualClock::new(start_ms()))).await
    }

    /// Like `spawn`, with extra settings (e.g. `JIXIAO_SMTP_URL`).
    pub async fn spawn_with(extra: &[(&str, String)]) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut env = test_env(dir.path()).await;
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        Self::spawn_in(dir, Arc::new(env), Arc::new(ManualClock::new(start_ms()))).await
    }

    pub async fn spawn_in(
        dir: Arc<tempfile::TempDir>,
        env: Arc<Vec<(String, String)>>,
        clock: Arc<ManualClock>,
    ) -> TestApp {
        // RUST_LOG=jixiao=debug shows the server's log in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let started = app::start(settings(&env), clock.clone()).await.expect("start");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = watch::channel(false);
        let rt = Arc::clone(&started.runtime);
        let handle = tokio::spawn(app::serve(started.runtime, Some(listener), Roles::ALL, rx));
        TestApp { env, base, client: reqwest::Client::new(), clock, rt, dir, shutdown: tx, handle: Some(handle) }
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let dir = Arc::clone(&self.dir);
        let env = Arc::clone(&self.env);
        let clock = Arc::clone(&self.clock);
        drop(self);
        TestApp::spawn_in(dir, env, clock).await
    }

    /// Kills the server where it stands (no graceful shutdown: running jobs and sends are
    /// dropped mid-way, as in a crash) and starts a new one on the same database.
    pub async fn crash(mut self) -> TestApp {
        if let Some(h) = self.handle.take() {
            h.abort();
            let _ = h.await;
        }
        let dir = Arc::clone(&self.dir);
        let env = Arc::clone(&self.env);
        let clock = Arc::clone(&self.clock);
        drop(self);
        TestApp::spawn_in(dir, env, clock).await
    }

    pub async fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server stopped cleanly");
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// POSTs raw bytes (a file) as the body.
    pub async fn upload(&self, path: &str, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// GETs a file: its status, content type and bytes.
    pub async fn download(&self, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = self.client.get(format!("{}{}", self.base, path)).bearer_auth(token).send().await.expect("request");
        let status = resp.status();
        let kind = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, kind, resp.bytes().await.expect("body").to_vec())
    }

    /// GETs `path` and asserts 200 OK.
    pub async fn ok_get(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// Posts and insists on a 2xx answer.
    pub async fn ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, v) = self.post(path, token, body).await;
        assert!(s.is_success(), "POST {path}: {s} {v}");
        v
    }

    /// Uploads a plugin component as `token`.
    pub async fn upload_plugin(&self, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/plugins", self.base))
            .bearer_auth(token)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("request");
        let s = r.status();
        (s, r.json().await.expect("JSON body"))
    }

    /// Moves the manual clock (the scheduler looks at once).
    pub fn set_time(&self, ms: i64) {
        self.clock.set_ms(ms);
    }

    /// Waits until the case has no pending input and `pred` holds on its view.
    pub async fn wait_case(&self, case_id: i64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (s, v) = self.get(&format!("/api/v1/cases/{case_id}"), ADMIN_TOKEN).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            if v["pending_inputs"] == 0 && pred(&v) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("case {case_id} never reached: {what}\n{}", serde_json::to_string_pretty(&v).unwrap());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until nothing is pending anywhere.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.rt.store.pending_work_count().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "inputs still pending after 30 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A small county set up through the admin API: three departments (one per sector used), a
/// department user with a token for each, two finance users, five health experts and three
/// education experts, each with a token.
pub struct County {
    pub dept_tokens: Vec<String>,
    pub dept_codes: Vec<String>,
    pub finance_tokens: Vec<String>,
    pub expert_tokens: Vec<(i64, String)>,
    pub third_party_token: String,
}

pub async fn county(app: &TestApp) -> County {
    let a = ADMIN_TOKEN;
    let mut c = County {
        dept_tokens: vec![],
        dept_codes: vec![],
        finance_tokens: vec![],
        expert_tokens: vec![],
        third_party_token: String::new(),
    };
    for (code, name, sector) in
        [("D001", "县卫生健康局", "health"), ("D002", "县教育局", "education"), ("D003", "县交通运输局", "transport")]
    {
        app.ok("/api/v1/departments", a, json!({"code": code, "name": name, "sector": sector, "head": "张三"})).await;
        let u = app.ok("/api/v1/admin/users", a, json!({"username": code.to_lowercase(), "display_name": format!("{name}绩效员"), "role": "department", "department_code": code, "email": format!("{}@u.example.cn", code.to_lowercase())})).await;
        let t = app.ok(&format!("/api/v1/admin/users/{}/tokens", u["id"]), a, json!({"label": "test"})).await;
        c.dept_tokens.push(t["token"].as_str().unwrap().to_string());
        c.dept_codes.push(code.to_string());
    }
    for i in 1..=2 {
        let u = app
            .ok(
                "/api/v1/admin/users",
                a,
                json!({"username": format!("finance{i}"), "display_name": format!("财政{i}"), "role": "finance"}),
            )
            .await;
        let t = app.ok(&format!("/api/v1/admin/users/{}/tokens", u["id"]), a, json!({})).await;
        c.finance_tokens.push(t["token"].as_str().unwrap().to_string());
    }
    for i in 1..=8 {
        let sector = if i <= 5 { "health" } else { "education" };
        let u = app
            .ok("/api/v1/admin/users", a, json!({"username": format!("expert{i}"), "display_name": format!("专家{i}"), "role": "expert", "expert": {"sectors": [sector], "title": "教授", "organisation": "长治医学院"}}))
            .await;
        let t = app.ok(&format!("/api/v1/admin/users/{}/tokens", u["id"]), a, json!({})).await;
        c.expert_tokens.push((u["id"].as_i64().unwrap(), t["token"].as_str().unwrap().to_string()));
    }
    let u = app
        .ok(
            "/api/v1/admin/users",
            a,
            json!({"username": "thirdparty1", "display_name": "某会计师事务所", "role": "third_party"}),
        )
        .await;
    let t = app.ok(&format!("/api/v1/admin/users/{}/tokens", u["id"]), a, json!({})).await;
    c.third_party_token = t["token"].as_str().unwrap().to_string();
    c
}

/// A project with realistic health indicators.
pub fn project(code: &str, dept: &str, amount_yuan: &str, is_new: bool) -> Value {
    json!({
        "code": code, "name": "基本公共卫生服务项目", "department_code": dept, "sector": "health",
        "amount": amount_yuan, "fiscal_year": 2023, "is_new": is_new, "funding_source": "general_budget",
        "indicators": [
            {"level1": "产出", "level2": "数量指标", "name": "适龄儿童免疫规划疫苗接种率", "operator": "≥", "value": "90", "unit": "%", "weight": "20", "basis": "行业标准", "core": true},
            {"level1": "产出", "level2": "数量指标", "name": "7岁以下儿童健康管理率", "operator": "≥", "value": "85", "unit": "%", "weight": "15", "basis": "行业标准"},
            {"level1": "产出", "level2": "时效指标", "name": "资金拨付及时率", "operator": "≥", "value": "95", "unit": "%", "weight": "15", "basis": "计划标准"},
            {"level1": "效益", "level2": "社会效益指标", "name": "居民健康水平", "operator": "定性", "value": "有效提升", "unit": "", "weight": "30", "basis": "其他"},
            {"level1": "满意度", "level2": "服务对象满意度指标", "name": "服务对象满意度", "operator": "≥", "value": "90", "unit": "%", "weight": "10", "basis": "计划标准"}
        ]
    })
}

/// Opens the only open task of `kind` on the case and returns it.
pub fn open_task<'a>(view: &'a Value, kind: &str) -> &'a Value {
    view["open_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap_or_else(|| panic!("no open {kind} task: {view}"))
}

pub fn review_form(form: &str, total: u32) -> Value {
    // Spread `total` over the criteria of the form.
    let names: &[&str] = if form == "ex_ante_assessment" {
        &["立项必要性", "投入经济性", "绩效目标合理性", "实施方案可行性", "筹资合规性"]
    } else {
        &["完整性", "相关性", "适当性", "可行性"]
    };
    let per = total / names.len() as u32;
    let mut rest = total - per * names.len() as u32;
    let mut scores = serde_json::Map::new();
    for n in names {
        let extra = if rest > 0 { 1 } else { 0 };
        rest -= extra;
        scores.insert(n.to_string(), json!(per + extra));
    }
    json!({"scores": scores, "comment": "意见"})
}

/// Every reviewer assigned on the case's open review tasks submits `total` points.
pub async fn panel_scores(app: &TestApp, county: &County, case_id: i64, total: u32) {
    let tasks = app
        .rt
        .store
        .tasks(
            &jixiao::store::tasks::TaskScope::All,
            &jixiao::store::tasks::TaskFilter {
                status: Some("open".into()),
                case_id: Some(case_id),
                kind: Some("review".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap()
        .0;
    assert!(!tasks.is_empty(), "no open reviews on case {case_id}");
    for t in tasks {
        let token = reviewer_token(app, county, t.assignee_id.unwrap()).await;
        let (s, v) = app.post(&format!("/api/v1/tasks/{}/complete", t.id), &token, review_form(&t.form, total)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

/// A token for a panel member: experts have theirs; finance and department members get one.
pub async fn reviewer_token(app: &TestApp, county: &County, user_id: i64) -> String {
    if let Some((_, t)) = county.expert_tokens.iter().find(|(id, _)| *id == user_id) {
        return t.clone();
    }
    let (s, v) =
        app.post(&format!("/api/v1/admin/users/{user_id}/tokens"), ADMIN_TOKEN, json!({"label": "panel"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// Publishes a workflow definition as the admin.
pub async fn publish_workflow(app: &TestApp, source: &str) {
    let r = app
        .client
        .post(format!("{}/api/v1/workflows", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .body(source.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "publish: {}", r.text().await.unwrap());
}

/// A workflow of one stage: the department's self-evaluation, scored under mof_2020_10.
pub const ONE_STAGE: &str = r#"
id: self-only
version: 1
title: 单位自评
timezone: Asia/Shanghai
stages:
  - id: self_evaluation
    kind: self_evaluation
    title: 单位绩效自评
    submit: { by: department, form: self_evaluation, within: 20 workdays }
    scoring: mof_2020_10
"#;

/// A time of day in UTC, as the manual clock counts it.
pub fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp_millis()
}

/// A project body of another fiscal year.
pub fn with_year(mut p: Value, year: i32) -> Value {
    p["fiscal_year"] = json!(year);
    p
}

/// Completes a task as `token`, expecting 200, and returns the answer.
pub async fn complete(app: &TestApp, token: &str, task: &Value, body: Value) -> Value {
    let (s, v) = app.post(&format!("/api/v1/tasks/{}/complete", task["id"]), token, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// A self-evaluation of a [`project`] body with `executed` yuan spent, for a grade under
/// mof_2020_10 when all of its 1,000,000 is spent: 优 10 + 50 + 27 + 10 = 97;
/// 中 10 + 50 + 9 + 10 = 79; 差 10 + 15 + 3 + 10 = 38.
pub fn self_eval(grade: &str, executed: &str) -> Value {
    let (a, b, level, share) = match grade {
        "优" => ("95", "90", "达成", "0.9"),
        "中" => ("95", "90", "未达成", "0.3"),
        _ => ("0", "0", "未达成", "0.1"),
    };
    json!({"executed": executed, "items": [
        {"index": 0, "value": a}, {"index": 1, "value": b}, {"index": 2, "value": "100"},
        {"index": 3, "value": {"level": level, "share": share}}, {"index": 4, "value": "93"}],
        "explanation": "按计划完成", "evidence": ["自评报告.pdf"]})
}

/// The id of the department with this code.
pub async fn department_id(app: &TestApp, code: &str) -> i64 {
    let depts = app.ok_get("/api/v1/departments", ADMIN_TOKEN).await;
    let found = depts["items"].as_array().unwrap().iter().find(|d| d["code"] == code);
    found.unwrap_or_else(|| panic!("no department {code}: {depts}"))["id"].as_i64().unwrap()
}

/// An independent evaluation firm (TP1, tied to no unit), registered by `finance`.
pub async fn evaluation_firm(app: &TestApp, finance: &str) -> Value {
    let body = json!({"code": "TP1", "name": "某会计师事务所", "affiliations": [], "members": []});
    app.ok("/api/v1/third-parties", finance, body).await
}
