//! Double monitoring: runs per fire, lights on the adjusted budget, summaries and CSV,
//! dispositions feeding the ledger, mid-year cases, lapsed reports, missed fires.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Monitoring only: runs on 1 August and 1 November (each once), reports due in 10 workdays.
pub(crate) const MONITORING_WF: &str = r#"
id: monitoring-only
version: 1
title: 运行监控
timezone: Asia/Shanghai
stages:
  - id: monitoring
    kind: monitoring
    schedules:
      - { cron: "0 0 9 1 Aug *", missed: run_once }
      - { cron: "0 0 9 1 Nov *", missed: skip }
    submit: { by: department, form: monitoring, within: 10 workdays }
    lights:
      execution: { red_below: 60, green_from: 80 }
      indicator: { red_below: 60, green_from: 80 }
      blue_from: 120
"#;

/// A monitoring form: `executed` yuan, every quantitative indicator at `share` of its target by
/// now and on track for the year, the qualitative one at `level`.
pub(crate) fn report(executed: &str, share: &str, level: &str, cause: Option<&str>) -> Value {
    let share: f64 = share.parse().unwrap();
    let targets = [90.0, 85.0, 95.0, 0.0, 90.0];
    let progress: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 3 {
                json!({"index": i, "level": level})
            } else {
                json!({"index": i, "cumulative": format!("{:.2}", t * share), "expected_full_year": format!("{t}")})
            }
        })
        .collect();
    let mut f = json!({"executed": executed, "progress": progress, "likelihood": "有可能"});
    if let Some(c) = cause {
        f["deviation_cause"] = json!(c);
        f["deviation_text"] = json!("资金下达滞后");
    }
    f
}

pub(crate) async fn case_of(app: &TestApp, code: &str) -> i64 {
    let (_, cases) = app.get("/api/v1/cases?limit=100", ADMIN_TOKEN).await;
    cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["project_code"] == code)
        .unwrap_or_else(|| panic!("{code}: {cases}"))["id"]
        .as_i64()
        .unwrap()
}

async fn project_id(app: &TestApp, code: &str) -> i64 {
    let (_, ps) = app.get("/api/v1/projects?limit=100", ADMIN_TOKEN).await;
    ps["items"].as_array().unwrap().iter().find(|p| p["code"] == code).unwrap()["id"].as_i64().unwrap()
}

pub(crate) async fn submit_report(app: &TestApp, token: &str, case_id: i64, form: Value) -> (StatusCode, Value) {
    let v = app.wait_case(case_id, "monitoring task", |v| v["phase"] == "awaiting_submission").await;
    app.post(&format!("/api/v1/tasks/{}/complete", open_task(&v, "submission")["id"]), token, form).await
}

/// Waits until the scheduler has closed (and so evaluated) the run; returns its summary.
async fn closed_run(app: &TestApp, token: &str, run_id: i64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, s) = app.get(&format!("/api/v1/monitoring/runs/{run_id}"), token).await;
        if s["run"]["status"] == "closed" {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "run {run_id} never closed: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_monitoring_run_lights_projects_on_their_adjusted_budgets() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    publish_workflow(&app, MONITORING_WF).await;
    let dept = &c.dept_tokens[0];
    for code in ["M1", "M2"] {
        app.ok("/api/v1/projects", dept, project(code, "D001", "1000000", false)).await;
    }
    let cycle =
        app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "monitoring-only", "fiscal_year": 2023})).await;
    app.settle().await;
    let (m1, m2) = (case_of(&app, "M1").await, case_of(&app, "M2").await);

    // M1 gave 600,000 yuan away by 调剂 before the run: its budget is now 400,000.
    let p1 = project_id(&app, "M1").await;
    let (s, v) = app
        .post(
            &format!("/api/v1/projects/{p1}/budget"),
            dept,
            json!({"kind": "adjust_out", "amount": "600000", "reason": "调剂"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a department does not change budgets: {v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/projects/{p1}/budget"),
            &c.finance_tokens[0],
            json!({"kind": "adjust_out", "amount": "1000001", "reason": "调剂"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"][0]["path"], "amount", "{v}");
    app.ok(
        &format!("/api/v1/projects/{p1}/budget"),
        &c.finance_tokens[0],
        json!({"kind": "adjust_out", "amount": "600000", "reason": "调剂至疫情防控项目"}),
    )
    .await;
    let (_, ledger) = app.get(&format!("/api/v1/projects/{p1}/budget"), dept).await;
    assert_eq!(ledger["original"], "1000000.00", "{ledger}");
    assert_eq!(ledger["current"], "400000.00", "{ledger}");

    // 1 August, 09:00 in Shanghai: one run, a task per case.
    app.set_time(at(2023, 8, 1, 1));
    let form_errors = submit_report(
        &app,
        dept,
        m2,
        json!({"executed": "1500000", "likelihood": "也许", "deviation_cause": "天气",
               "progress": [{"index": 0, "cumulative": "abc", "expected_full_year": "90"},
                            {"index": 3, "cumulative": "1"},
                            {"index": 9, "cumulative": "1", "expected_full_year": "1"}]}),
    )
    .await;
    assert_eq!(form_errors.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", form_errors.1);
    let paths: Vec<&str> =
        form_errors.1["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    for p in [
        "executed",
        "likelihood",
        "deviation_cause",
        "progress[0].cumulative",
        "progress[1].level",
        "progress[2].index",
    ] {
        assert!(paths.contains(&p), "no error at {p}: {}", form_errors.1);
    }
    // Against 400,000, 200,000 by July is 85.71% of time progress: green (against the original
    // 1,000,000 it would be 34.29%: red).
    let (s, v) = submit_report(&app, dept, m1, report("200000", "0.6", "达成", None)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = submit_report(&app, dept, m2, report("100000", "0.3", "部分达成", Some("经费保障"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.settle().await;

    // Both filled: the scheduler closes and evaluates the run.
    let (_, runs) = app.get("/api/v1/monitoring/runs", &c.finance_tokens[0]).await;
    let run = &runs["items"][0];
    assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
    let run_id = run["id"].as_i64().unwrap();
    let summary = closed_run(&app, &c.finance_tokens[0], run_id).await;
    assert_eq!(summary["tasks_issued"], 2, "{summary}");
    assert_eq!(summary["filled"], 2);
    assert_eq!(summary["completion_rate"], "100.0");
    assert_eq!(summary["lights"]["green"], 1, "{summary}");
    assert_eq!(summary["lights"]["red"], 1, "{summary}");
    assert_eq!(summary["red_projects"][0]["project_code"], "M2");
    assert_eq!(summary["red_projects"][0]["cause"], "经费保障");
    assert_eq!(summary["by_department"][0]["key"], "D001");
    assert_eq!(summary["by_sector"][0]["key"], "health");
    assert_eq!(summary["by_sector"][0]["red"], 1);
    // The department is told of its red project, with the cause, once the run closes.
    let mail = app.ok_get("/api/v1/outbox?limit=1000", ADMIN_TOKEN).await;
    let red: Vec<&Value> = mail["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "red_light").collect();
    assert_eq!(red.len(), 1, "one red-light mail to the department's one user: {mail:#}");
    assert!(red[0]["to_addr"].as_str().unwrap().contains("d001@"), "{}", red[0]);
    let id = red[0]["id"].clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mail = app.ok_get("/api/v1/outbox?limit=1000", ADMIN_TOKEN).await;
        let m = mail["items"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap().clone();
        if m["status"] == "sent" {
            assert!(m["subject"].as_str().unwrap().contains("红灯预警：1 个项目"), "{m}");
            break;
        }
        assert!(std::time::Instant::now() < deadline && m["status"] != "cancelled", "the red-light mail is sent: {m}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let v1 = app.wait_case(m1, "lights", |v| v["monitoring"][0]["light"] == "green").await;
    assert_eq!(v1["monitoring"][0]["execution_pct"], "85.71", "{}", v1["monitoring"]);
    assert_eq!(v1["monitoring"][0]["month"], 7);
    // The department sees its own lights; the bureau's summary is not for it.
    let (s, _) = app.get(&format!("/api/v1/monitoring/runs/{run_id}"), dept).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let csv = app
        .client
        .get(format!("{}/api/v1/monitoring/runs/{run_id}/reports.csv", app.base))
        .bearer_auth(&c.finance_tokens[0])
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("M1,") && lines[1].contains(",filled,green,green,85.71,400000.00,"), "{csv}");
    assert!(lines[2].starts_with("M2,") && lines[2].contains(",red,") && lines[2].contains("经费保障"), "{csv}");
    // The same run as a workbook: read back with a spreadsheet reader, the rate and the budget
    // are number cells.
    let (s, _, xlsx) =
        app.download(&format!("/api/v1/exports/monitoring-runs/{run_id}.xlsx"), &c.finance_tokens[0]).await;
    assert_eq!(s, StatusCode::OK);
    let sheets = jixiao::exchange::read("run.xlsx", &xlsx).unwrap();
    use jixiao::exchange::Cell;
    // The summary: the whole run, then each department (issued, filled, not reported, rate, red,
    // yellow, green).
    let total = &sheets[0].rows[1].cells;
    assert_eq!(total[0], Cell::Text("合计".into()), "{:?}", sheets[0]);
    assert_eq!(&total[1..4], &[Cell::Number(2.0), Cell::Number(2.0), Cell::Number(0.0)], "{:?}", sheets[0]);
    assert_eq!(&total[5..8], &[Cell::Number(1.0), Cell::Number(0.0), Cell::Number(1.0)], "{:?}", sheets[0]);
    let row = sheets[1].rows.iter().find(|r| r.cells[0] == Cell::Text("M1".into())).expect("M1's row");
    assert_eq!(row.cells[5], Cell::Text("green".into()), "{row:?}");
    assert!(matches!(row.cells[7], Cell::Percent(p) if (p - 0.8571).abs() < 1e-9), "{row:?}");
    assert!(matches!(row.cells[8], Cell::Number(n) if n == 400_000.0), "{row:?}");

    // The bureau cuts M2 by 500,000; finance2 must approve, nobody else may.
    let (_, me2) = app.get("/api/v1/me", &c.finance_tokens[1]).await;
    let d = app
        .ok(
            "/api/v1/dispositions",
            &c.finance_tokens[0],
            json!({"case_id": m2, "run_id": run_id, "kind": "reduce", "amount": "500000", "reason": "执行进度严重滞后", "approver_id": me2["id"]}),
        )
        .await;
    let (s, v) = app
        .post(&format!("/api/v1/dispositions/{}/decision", d["id"]), &c.finance_tokens[0], json!({"approve": true}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let decided = app
        .ok(
            &format!("/api/v1/dispositions/{}/decision", d["id"]),
            &c.finance_tokens[1],
            json!({"approve": true, "note": "同意"}),
        )
        .await;
    assert_eq!(decided["status"], "approved");
    let (s, _) = app
        .post(&format!("/api/v1/dispositions/{}/decision", d["id"]), &c.finance_tokens[1], json!({"approve": false}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once");
    let p2 = project_id(&app, "M2").await;
    let (_, ledger) = app.get(&format!("/api/v1/projects/{p2}/budget"), &c.finance_tokens[0]).await;
    assert_eq!(ledger["current"], "500000.00", "{ledger}");
    assert_eq!(ledger["entries"][0]["kind"], "reduction");
    let v2 = app.wait_case(m2, "disposition", |v| v["dispositions"][0]["status"] == "approved").await;
    let kinds: Vec<&str> = v2["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["disposition_proposed", "disposition_approved", "budget_changed"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }

    // Money allocated mid-year: a new project joins the cycle at monitoring.
    app.ok("/api/v1/projects", dept, project("M3", "D001", "300000", true)).await;
    let p3 = project_id(&app, "M3").await;
    let (s, v) = app
        .post(
            &format!("/api/v1/cycles/{}/cases", cycle["id"]),
            ADMIN_TOKEN,
            json!({"project_id": p3, "stage": "nowhere"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let joined = app
        .ok(
            &format!("/api/v1/cycles/{}/cases", cycle["id"]),
            ADMIN_TOKEN,
            json!({"project_id": p3, "stage": "monitoring"}),
        )
        .await;
    let m3 = joined["case_id"].as_i64().unwrap();
    app.wait_case(m3, "waiting for the next run", |v| v["stage"] == "monitoring" && v["phase"] == "awaiting_fire")
        .await;

    // 1 November: the second run reads M2's reduced budget, and includes M3.
    app.set_time(at(2023, 11, 1, 1));
    let (s, v) = submit_report(&app, dept, m2, report("600000", "0.8", "达成", None)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["details"][0]["message"].as_str().unwrap().contains("current budget of 500000"), "{v}");
    let (s, v) = submit_report(&app, dept, m3, report("250000", "0.9", "达成", None)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = submit_report(&app, dept, m1, report("390000", "0.9", "达成", None)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // M2 never reports; after its due date it is "not reported" and its case goes on.
    app.settle().await;
    app.set_time(at(2023, 11, 30, 1));
    let v2 = app.wait_case(m2, "lapsed", |v| v["status"] == "completed").await;
    assert!(v2["history"].as_array().unwrap().iter().any(|e| e["kind"] == "not_reported"), "{}", v2["history"]);
    let (_, runs) = app.get("/api/v1/monitoring/runs", &c.finance_tokens[0]).await;
    let second = runs["items"][0]["id"].as_i64().unwrap();
    let summary = closed_run(&app, &c.finance_tokens[0], second).await;
    assert_eq!(summary["tasks_issued"], 3, "{summary}");
    assert_eq!(summary["filled"], 2);
    assert_eq!(summary["not_reported"], 1);
    assert_eq!(summary["completion_rate"], "66.7");
    assert_eq!(summary["lights"]["none"], 0, "{summary}");
}

#[tokio::test]
async fn two_engines_fire_one_run_and_skipped_fires_are_recorded() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    publish_workflow(&app, MONITORING_WF).await;
    for code in ["S1", "S2", "S3"] {
        app.ok("/api/v1/projects", &c.dept_tokens[0], project(code, "D001", "500000", false)).await;
    }
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "monitoring-only", "fiscal_year": 2023})).await;
    app.settle().await;
    // The server is down from July to 10 November: the August fire (run_once) runs late, once;
    // the 1 November fire (skip) is past the missed-fire margin and is recorded as skipped.
    let mut app = app;
    app.stop().await;
    let url = settings(&app.env).database_url.clone();
    let nov10 = at(2023, 11, 10, 1);
    // Two engine instances on one database look at the same clock together.
    let a = jixiao::store::Store::open(&url).await.unwrap();
    let b = jixiao::store::Store::open(&url).await.unwrap();
    let reg = jixiao::store::workflows::Registry::default();
    let (ra, rb) = tokio::join!(a.fire_due_schedules(&reg, nov10), b.fire_due_schedules(&reg, nov10));
    let mut fires: Vec<_> = ra.unwrap().into_iter().chain(rb.unwrap()).collect();
    fires.sort_by_key(|f| f.fire_ms);
    assert_eq!(fires.len(), 2, "{fires:?}");
    assert_eq!((fires[0].outcome.as_str(), fires[0].cases), ("fired", 3));
    assert_eq!((fires[1].outcome.as_str(), fires[1].cases), ("skipped", 0));
    let runs = a.monitoring_runs().await.unwrap();
    assert_eq!(runs.len(), 1, "one run per fire: {runs:?}");
    assert_eq!(runs[0].issued, 3);
    assert_eq!(runs[0].fire_ms, at(2023, 8, 1, 1));
    // Again, from both: nothing new.
    let (ra, rb) = tokio::join!(a.fire_due_schedules(&reg, nov10), b.fire_due_schedules(&reg, nov10));
    assert!(ra.unwrap().is_empty() && rb.unwrap().is_empty());
    assert_eq!(a.monitoring_runs().await.unwrap().len(), 1);
}
