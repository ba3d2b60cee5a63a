//! The check step of the shipped workflow and of published ones: plugins run as a queued job on
//! each targets submission, their findings are stored per indicator and shown in the case view,
//! errors send the targets back, and a plugin that fails is a finding the stage's policy rules on.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn start_case(app: &TestApp, c: &County, workflow: &str, code: &str) -> i64 {
    app.ok("/api/v1/projects", &c.dept_tokens[0], project(code, &c.dept_codes[0], "800000", false)).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": workflow, "fiscal_year": 2023, "project_codes": [code]}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases?limit=500", ADMIN_TOKEN).await;
    cases["items"].as_array().unwrap().iter().find(|x| x["project_code"] == code).unwrap()["id"].as_i64().unwrap()
}

async fn submit_targets(app: &TestApp, token: &str, view: &Value, indicators: Value) {
    let task = open_task(view, "submission");
    assert_eq!(task["form"], "targets");
    let (s, v) =
        app.post(&format!("/api/v1/tasks/{}/complete", task["id"]), token, json!({"indicators": indicators})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

fn phase(stage: &'static str, phase: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["stage"] == stage && v["phase"] == phase
}

fn kinds(v: &Value) -> Vec<String> {
    v["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn targets_with_errors_go_back_with_their_findings_and_pass_once_fixed() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let dept = &c.dept_tokens[0];
    let id = start_case(&app, &c, "county-annual-cycle", "XY2023-D001-0101").await;
    let v = app.wait_case(id, "targets requested", phase("target_review", "awaiting_submission")).await;

    // A vaccination target under the national 90%, a rate above 100% and a satisfaction target
    // under 80% (a warning).
    let mut bad = project("X", "D001", "1", false)["indicators"].clone();
    bad[0]["value"] = json!("80");
    bad[2]["value"] = json!("120");
    bad[4]["value"] = json!("70");
    submit_targets(&app, dept, &v, bad).await;
    let v = app
        .wait_case(id, "targets returned", |v| {
            v["stage"] == "target_review" && v["phase"] == "awaiting_submission" && v["state"]["round"] == 1
        })
        .await;
    let k = kinds(&v);
    for kind in ["checks_requested", "checks_finished", "checks_concluded", "revision_requested"] {
        assert!(k.contains(&kind.to_string()), "{kind} in {k:?}");
    }
    assert!(!k.contains(&"panel_drawn".to_string()), "no panel sees targets with errors");
    let check = &v["checks"][0];
    assert_eq!(check["status"], "done");
    assert_eq!(check["stage"], "target_review");
    let ran: Vec<&str> = check["ran"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(ran.contains(&"common@1.0.0") && ran.contains(&"health@1.0.0"), "{ran:?}");
    assert!(check["errors"].as_i64().unwrap() >= 2, "{check}");
    let findings = check["findings"].as_array().unwrap();
    let on = |name: &str, plugin: &str| {
        findings.iter().find(|f| f["indicator_name"] == name && f["plugin"] == plugin && f["severity"] == "error")
    };
    let vaccination = on("适龄儿童免疫规划疫苗接种率", "health").unwrap_or_else(|| panic!("{check}"));
    assert_eq!(vaccination["indicator_index"], 0);
    assert!(vaccination["message_zh"].as_str().unwrap().contains("90"), "{vaccination}");
    assert!(!vaccination["message_en"].as_str().unwrap().is_empty());
    assert!(on("资金拨付及时率", "common").is_some(), "{check}");
    let satisfaction = findings.iter().find(|f| f["indicator_name"] == "服务对象满意度").unwrap();
    assert_eq!(satisfaction["severity"], "warning");
    let concluded = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "checks_concluded").unwrap();
    assert_eq!(concluded["data"]["outcome"], "return");

    // The check's job delivered again stores nothing again.
    let check_id = check["id"].as_i64().unwrap();
    assert_eq!(jixiao::checks::run_jobs(&app.rt, &[check_id]).await.unwrap(), 0);
    let again = app.wait_case(id, "unchanged", |_| true).await;
    assert_eq!(again["checks"].as_array().unwrap().len(), 1);
    assert_eq!(again["checks"][0]["findings"], check["findings"]);
    assert_eq!(again["history"].as_array().unwrap().len(), v["history"].as_array().unwrap().len());

    // The department sees the findings on its own case; another department does not see the case.
    let (s, own) = app.get(&format!("/api/v1/cases/{id}"), dept).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(own["checks"][0]["findings"], check["findings"]);
    let (s, _) = app.get(&format!("/api/v1/cases/{id}"), &c.dept_tokens[1]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Fixed targets pass the checks and go to the panel.
    let good = project("X", "D001", "1", false)["indicators"].clone();
    submit_targets(&app, dept, &v, good).await;
    let v = app.wait_case(id, "target panel drawn", phase("target_review", "awaiting_reviews")).await;
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "one check per submission");
    assert_eq!(checks[0]["round"], 1);
    assert_eq!(checks[0]["errors"], 0, "{}", checks[0]);
    assert_eq!(checks[0]["failures"], 0, "{}", checks[0]);
    assert!(kinds(&v).contains(&"panel_drawn".to_string()));
}

/// A one-stage workflow whose check step runs `plugins` with the given failure policy.
fn policy_workflow(id: &str, version: u32, plugins: &str, on_failure: &str) -> String {
    format!(
        "id: {id}\nversion: {version}\ntitle: 插件策略\ntimezone: Asia/Shanghai\nstages:\n  - id: targets\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 5 workdays }}\n    checks:\n      plugins: [{plugins}]\n      on_error: proceed\n      on_failure: {on_failure}\n"
    )
}

#[tokio::test]
async fn a_failing_plugin_is_a_finding_and_the_stage_policy_decides_what_it_means() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    // The buggy plugin passes the upload's smoke check and fails on real projects.
    let (s, v) = app.upload_plugin(ADMIN_TOKEN, crate::plugins::wasm("buggy")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Unknown plugins and versions are definition errors, where they were written.
    let (s, v) = app
        .post(
            "/api/v1/workflows",
            ADMIN_TOKEN,
            json!({"source": policy_workflow("plugin-policy", 1, "common, nonexistent", "block")}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let d = &v["details"][0];
    assert_eq!((d["line"].as_i64(), d["column"].as_i64()), (Some(10), Some(25)), "{v}");
    assert!(d["message"].as_str().unwrap().contains("unknown plugin 'nonexistent'"), "{v}");
    let (s, v) = app
        .post(
            "/api/v1/workflows",
            ADMIN_TOKEN,
            json!({"source": policy_workflow("plugin-policy", 1, "common@9.9.9", "block")}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["details"][0]["message"].as_str().unwrap().contains("no version 9.9.9"), "{v}");

    // Version 1 blocks the case when a plugin fails.
    let (s, v) = app
        .post(
            "/api/v1/workflows",
            ADMIN_TOKEN,
            json!({"source": policy_workflow("plugin-policy", 1, "common@1.0.0, buggy, $sector", "block")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, shown) = app.get("/api/v1/workflows/plugin-policy/versions/1", ADMIN_TOKEN).await;
    assert_eq!(shown["stages"][0]["checks"]["plugins"], json!(["common@1.0.0", "buggy", "$sector"]));
    let id = start_case(&app, &c, "plugin-policy", "XY2023-D001-0201").await;
    let v = app.wait_case(id, "targets requested", phase("targets", "awaiting_submission")).await;
    submit_targets(&app, &c.dept_tokens[0], &v, project("X", "D001", "1", false)["indicators"].clone()).await;
    let v = app.wait_case(id, "blocked by the failure", |v| v["status"] == "blocked").await;
    let check = &v["checks"][0];
    assert_eq!(check["failures"], 1, "{check}");
    let ran: Vec<&str> = check["ran"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(ran, ["common@1.0.0", "health@1.0.0"], "the other plugins still ran");
    let failed = check["findings"].as_array().unwrap().iter().find(|f| f["code"] == "host.plugin_failed").unwrap();
    assert_eq!(failed["plugin"], "buggy");
    let msg = failed["message_en"].as_str().unwrap();
    assert!(msg.starts_with("plugin buggy failed: trapped"), "{msg}");
    assert!(failed["message_zh"].as_str().unwrap().contains("插件 buggy 运行失败"));

    // The failure is counted, and the server goes on serving.
    let (_, m) = app.call(reqwest::Method::GET, "/metrics", Some(ADMIN_TOKEN), None).await;
    assert!(m.as_str().unwrap().contains(r#"jixiao_plugin_failures_total{plugin="buggy",reason="trap"} 1"#), "{m}");
    let (s, _) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);

    // The bureau's retry runs the checks again (a new check, the same failure).
    app.ok(&format!("/api/v1/cases/{id}/retry"), ADMIN_TOKEN, json!({})).await;
    let v = app
        .wait_case(id, "blocked again", |v| {
            v["status"] == "blocked" && v["checks"].as_array().unwrap().len() == 2 && v["checks"][0]["status"] == "done"
        })
        .await;
    assert_eq!(v["checks"][0]["failures"], 1);

    // Version 2 lets the case proceed despite the failure; the finding stays on record.
    let (s, v) = app
        .post(
            "/api/v1/workflows",
            ADMIN_TOKEN,
            json!({"source": policy_workflow("plugin-policy", 2, "buggy", "proceed")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = start_case(&app, &c, "plugin-policy", "XY2023-D001-0202").await;
    let v = app.wait_case(id, "targets requested", phase("targets", "awaiting_submission")).await;
    submit_targets(&app, &c.dept_tokens[0], &v, project("X", "D001", "1", false)["indicators"].clone()).await;
    let v = app.wait_case(id, "completed", |v| v["status"] == "completed").await;
    assert_eq!(v["checks"][0]["failures"], 1);
    let concluded = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "checks_concluded").unwrap();
    assert_eq!(concluded["data"]["outcome"], "proceed");
}
