//! Budget projects through the shipped county workflow, end to end.

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Creates a project through the department's API and starts a one-project cycle; returns the
/// case id.
async fn start_case(app: &TestApp, c: &County, code: &str, amount: &str, is_new: bool) -> i64 {
    app.ok("/api/v1/projects", &c.dept_tokens[0], project(code, &c.dept_codes[0], amount, is_new)).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": [code]}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases?limit=500", ADMIN_TOKEN).await;
    cases["items"].as_array().unwrap().iter().find(|x| x["project_code"] == code).unwrap()["id"].as_i64().unwrap()
}

async fn submit(app: &TestApp, token: &str, view: &Value, body: Value) -> Value {
    let task = open_task(view, "submission");
    let (s, v) = app.post(&format!("/api/v1/tasks/{}/complete", task["id"]), token, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn stage_is(stage: &str, phase: &str) -> impl Fn(&Value) -> bool {
    let (stage, phase) = (stage.to_string(), phase.to_string());
    move |v: &Value| v["stage"] == stage.as_str() && v["phase"] == phase.as_str()
}

fn count_status(mail: &Value, status: &str, kind: &str) -> usize {
    mail["items"].as_array().unwrap().iter().filter(|m| m["status"] == status && m["kind"] == kind).count()
}

fn history_kinds(v: &Value) -> Vec<String> {
    v["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn targets_body() -> Value {
    let p = project("X", "D001", "1", false);
    json!({"indicators": p["indicators"]})
}

#[tokio::test]
async fn a_new_large_project_passes_every_stage() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let dept = &c.dept_tokens[0];
    let id = start_case(&app, &c, "XY2023-D001-0001", "6000000", true).await;

    // Ex-ante assessment: the department submits its report, the panel (1 department + 1
    // finance + 3 experts) scores it.
    let v = app.wait_case(id, "ex-ante report requested", stage_is("pre_assessment", "awaiting_submission")).await;
    let task = open_task(&v, "submission");
    assert_eq!(task["form"], "ex_ante_report");
    // Due 10 working days after 2023-03-01 (a Wednesday): 2023-03-15, end of day in Shanghai.
    assert_eq!(task["due_ms"], Utc.with_ymd_and_hms(2023, 3, 15, 15, 59, 59).unwrap().timestamp_millis());
    submit(
        &app,
        dept,
        &v,
        json!({"summary": "项目立项必要、投入经济、目标合理、方案可行、筹资合规。", "conclusion": "予以支持"}),
    )
    .await;
    let v = app.wait_case(id, "ex-ante panel drawn", stage_is("pre_assessment", "awaiting_reviews")).await;
    let drawn = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "panel_drawn").unwrap();
    assert_eq!(drawn["data"]["members"].as_array().unwrap().len(), 5);
    panel_scores(&app, &c, id, 88).await;

    // Target declaration and review.
    let v = app.wait_case(id, "targets requested", stage_is("target_review", "awaiting_submission")).await;
    assert!(history_kinds(&v).contains(&"decided".to_string()));
    submit(&app, dept, &v, targets_body()).await;
    app.wait_case(id, "target panel drawn", stage_is("target_review", "awaiting_reviews")).await;
    panel_scores(&app, &c, id, 92).await;

    // Monitoring waits for its schedule: 1 August, 09:00 Shanghai.
    let v = app.wait_case(id, "waiting for monitoring", stage_is("monitoring", "awaiting_fire")).await;
    assert!(v["open_tasks"].as_array().unwrap().is_empty());
    app.set_time(Utc.with_ymd_and_hms(2023, 8, 1, 1, 0, 0).unwrap().timestamp_millis());
    let v = app.wait_case(id, "monitoring task", stage_is("monitoring", "awaiting_submission")).await;
    submit(
        &app,
        dept,
        &v,
        json!({"executed": "3500000", "likelihood": "确定能", "progress": [
            {"index": 0, "cumulative": "60", "expected_full_year": "92"},
            {"index": 1, "cumulative": "50", "expected_full_year": "86"},
            {"index": 2, "cumulative": "70", "expected_full_year": "96"},
            {"index": 3, "level": "部分达成"},
            {"index": 4, "cumulative": "88", "expected_full_year": "93"}]}),
    )
    .await;

    // Self-evaluation opens on 15 January of the next year.
    app.wait_case(id, "waiting for self-evaluation", stage_is("self_evaluation", "awaiting_fire")).await;
    app.set_time(Utc.with_ymd_and_hms(2024, 1, 15, 1, 0, 0).unwrap().timestamp_millis());
    let v = app.wait_case(id, "self-evaluation task", stage_is("self_evaluation", "awaiting_submission")).await;
    submit(
        &app,
        dept,
        &v,
        json!({"executed": "5700000", "items": [
            {"index": 0, "value": "95"}, {"index": 1, "value": "90"}, {"index": 2, "value": "100"},
            {"index": 3, "value": {"level": "达成", "share": "0.9"}}, {"index": 4, "value": "93"}]}),
    )
    .await;

    // 抽查复核: the only submission waiting is drawn (15% of one rounds up to one); a finance
    // reviewer re-scores it lower, and the re-score is what the result rules read.
    app.wait_case(id, "waiting for the spot check", stage_is("self_evaluation", "awaiting_spot_check")).await;
    let draw = app
        .ok(
            "/api/v1/spot-checks",
            &c.finance_tokens[0],
            json!({"workflow_id": "county-annual-cycle", "stage": "self_evaluation", "seed": 7}),
        )
        .await;
    assert_eq!(draw["items"][0]["sample"], json!([id]), "{draw}");
    assert_eq!(draw["items"][0]["seed"], "7");
    let (s, _) = app
        .post(
            "/api/v1/spot-checks",
            &c.finance_tokens[0],
            json!({"workflow_id": "county-annual-cycle", "stage": "self_evaluation"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a submission takes part in one draw");
    let v = app.wait_case(id, "re-score", stage_is("self_evaluation", "awaiting_spot_review")).await;
    let review = open_task(&v, "review").clone();
    let token = reviewer_token(&app, &c, review["assignee_id"].as_i64().unwrap()).await;
    app.ok(
        &format!("/api/v1/tasks/{}/complete", review["id"]),
        &token,
        json!({"executed": "5700000", "items": [
            {"index": 0, "value": "80"}, {"index": 1, "value": "90"}, {"index": 2, "value": "100"},
            {"index": 3, "value": {"level": "部分达成", "share": "0.7"}}, {"index": 4, "value": "93"}]}),
    )
    .await;
    let v = app.wait_case(id, "actions proposed", stage_is("result_application", "awaiting_approval")).await;
    let (status, se) = app.get(&format!("/api/v1/cases/{id}/self-evaluation"), &c.finance_tokens[0]).await;
    assert_eq!(status, StatusCode::OK, "{se}");
    // Self: 9.5 + 50 + 27 + 10 = 96.50 (优). Re-score: 9.5 + (80/90 × 20 + 15 + 15) + 30 × 0.7
    // + 10 = 88.2777… → 88.28 (良): 8.22 points apart, within the margin, but another grade.
    let num = |k: &str| se[k].as_str().and_then(|s| s.parse::<f64>().ok());
    assert_eq!((num("self_score"), se["self_grade"].as_str()), (Some(96.5), Some("优")), "{se}");
    assert_eq!((num("reviewed_score"), se["reviewed_grade"].as_str()), (Some(88.28), Some("良")), "{se}");
    assert_eq!(se["final_source"], "spot_check", "{se}");
    assert_eq!(se["final_score"], se["reviewed_score"]);
    assert!(se["flagged"].as_str().is_some_and(|f| f.contains("优")), "a different grade is flagged: {se}");

    // Result application: the rules propose an action by the final grade, finance approves.
    assert_eq!(v["state"]["grade"], se["final_grade"], "{}", v["state"]);
    assert_eq!(v["state"]["score_source"], "spot_check");
    let proposed = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "propose_actions").unwrap();
    assert_eq!(proposed["data"]["actions"][0]["kind"], "keep", "{proposed}");
    assert_eq!(proposed["data"]["actions"][1]["kind"], "rectify", "the flag orders a rectification: {proposed}");
    assert_eq!(proposed["data"]["source"], "spot_check", "{proposed}");
    let approval = open_task(&v, "approval").clone();
    let (s, _) =
        app.post(&format!("/api/v1/tasks/{}/complete", approval["id"]), dept, json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a department cannot see or approve its own result actions");
    app.ok(
        &format!("/api/v1/tasks/{}/complete", approval["id"]),
        &c.finance_tokens[1],
        json!({"decision": "approve", "comment": "同意"}),
    )
    .await;

    // Disclosure, then the case is complete.
    let v = app.wait_case(id, "disclosure", stage_is("disclosure", "awaiting_approval")).await;
    let publish = open_task(&v, "approval").clone();
    app.ok(&format!("/api/v1/tasks/{}/complete", publish["id"]), &c.finance_tokens[0], json!({"publish": true})).await;
    let v = app.wait_case(id, "completed", |v| v["status"] == "completed").await;
    let kinds = history_kinds(&v);
    for k in [
        "case_created",
        "stage_entered",
        "panel_drawn",
        "decided",
        "waiting_for_schedule",
        "propose_actions",
        "case_finished",
    ] {
        assert!(kinds.contains(&k.to_string()), "history lacks {k}: {kinds:?}");
    }
    // The targets are published with the budget: the declared indicators, nothing internal.
    let published =
        app.ok("/api/v1/disclosures", &c.finance_tokens[0], json!({"fiscal_year": 2023, "kind": "targets"})).await;
    assert_eq!(published["rows"], 5, "{published}");
    let r = app.client.get(format!("{}/public/disclosures/2023/targets.json", app.base)).send().await.unwrap();
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["body"]["kind"], "targets");
    assert_eq!(doc["body"]["rows"][0]["project_code"], "XY2023-D001-0001");
    assert_eq!(doc["body"]["rows"][0]["budget_yuan"], "6000000.00");
    for internal in ["同意", "意见", "finance1", "expert", "@u.example.cn", "张三"] {
        assert!(!text.contains(internal), "the targets disclosure leaks '{internal}': {text}");
    }
    let seqs: Vec<i64> = v["history"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "history is gap-free");
    // The department was told of each task, each decision and the approved actions.
    let mail = app.ok_get("/api/v1/outbox?limit=1000", ADMIN_TOKEN).await;
    let to_dept: Vec<&str> = mail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to_addr"].as_str().unwrap().contains("d001@"))
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(count_status(&mail, "cancelled", "decision"), 0, "decisions are not dropped: {mail:#}");
    for kind in ["task_assigned", "decision", "action_approved"] {
        assert!(to_dept.contains(&kind), "no {kind} mail to the department: {to_dept:?}");
    }
    assert_eq!(to_dept.iter().filter(|k| **k == "decision").count(), 2, "ex-ante and target decisions: {to_dept:?}");
}

#[tokio::test]
async fn a_small_project_skips_the_ex_ante_assessment() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = start_case(&app, &c, "XY2023-D001-0002", "1000000", true).await;
    let v = app.wait_case(id, "targets requested", stage_is("target_review", "awaiting_submission")).await;
    let skipped = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "stage_skipped").expect("a skip event");
    assert_eq!(skipped["data"]["stage"], "pre_assessment");
    assert_eq!(open_task(&v, "submission")["form"], "targets");
    // A recurring project of 6,000,000 yuan is not assessed either.
    let id = start_case(&app, &c, "XY2023-D001-0003", "6000000", false).await;
    app.wait_case(id, "targets requested", stage_is("target_review", "awaiting_submission")).await;
}

#[tokio::test]
async fn revision_goes_back_to_the_department_and_the_resubmission_passes() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let dept = &c.dept_tokens[0];
    let id = start_case(&app, &c, "XY2023-D001-0004", "800000", false).await;
    let v = app.wait_case(id, "targets", stage_is("target_review", "awaiting_submission")).await;
    submit(&app, dept, &v, targets_body()).await;
    app.wait_case(id, "panel", stage_is("target_review", "awaiting_reviews")).await;
    panel_scores(&app, &c, id, 70).await; // 中: revise
    let v = app
        .wait_case(id, "revision requested", |v| {
            v["stage"] == "target_review" && v["phase"] == "awaiting_submission" && v["state"]["round"] == 1
        })
        .await;
    assert!(history_kinds(&v).contains(&"revision_requested".to_string()));
    let mail = app.ok_get("/api/v1/outbox?limit=1000", ADMIN_TOKEN).await;
    assert!(
        mail["items"].as_array().unwrap().iter().any(|m| m["kind"] == "revision_requested"
            && m["to_addr"].as_str().unwrap().contains("d001@")
            && m["task_id"] == open_task(&v, "submission")["id"]),
        "the department is asked for the revision by mail: {mail:#}"
    );
    // The department sees the opinions but not who wrote them.
    let (_, dv) = app.get(&format!("/api/v1/cases/{id}"), dept).await;
    let reviews: Vec<&Value> = dv["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task_completed" && e["data"]["kind"] == "review")
        .collect();
    assert_eq!(reviews.len(), 5);
    assert!(reviews.iter().all(|e| e["actor_id"].is_null() && e["data"]["result"]["comment"] == "意见"));
    assert!(
        dv["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "panel_drawn")
            .all(|e| e["data"].get("members").is_none())
    );
    submit(&app, dept, &v, targets_body()).await;
    app.wait_case(id, "second panel", |v| v["phase"] == "awaiting_reviews" && v["state"]["round"] == 1).await;
    panel_scores(&app, &c, id, 85).await; // 良: proceeds
    app.wait_case(id, "monitoring", stage_is("monitoring", "awaiting_fire")).await;
}

#[tokio::test]
async fn exceeding_the_allowed_rounds_rejects_the_case() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let dept = &c.dept_tokens[0];
    let id = start_case(&app, &c, "XY2023-D001-0005", "800000", false).await;
    for round in 0..=2 {
        let v =
            app.wait_case(id, "targets", |v| v["phase"] == "awaiting_submission" && v["state"]["round"] == round).await;
        submit(&app, dept, &v, targets_body()).await;
        app.wait_case(id, "panel", |v| v["phase"] == "awaiting_reviews" && v["state"]["round"] == round).await;
        panel_scores(&app, &c, id, 65).await;
    }
    let v = app.wait_case(id, "rejected", |v| v["status"] == "rejected").await;
    let fin = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "case_finished").unwrap();
    assert!(fin["data"]["reason"].as_str().unwrap().contains("2 revision round"), "{fin}");
    assert!(v["open_tasks"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_low_score_rejects_and_a_missing_panel_blocks_until_retried() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let dept = &c.dept_tokens[0];
    let id = start_case(&app, &c, "XY2023-D001-0006", "800000", false).await;
    let v = app.wait_case(id, "targets", stage_is("target_review", "awaiting_submission")).await;
    submit(&app, dept, &v, targets_body()).await;
    app.wait_case(id, "panel", stage_is("target_review", "awaiting_reviews")).await;
    panel_scores(&app, &c, id, 40).await; // 差
    app.wait_case(id, "rejected", |v| v["status"] == "rejected").await;

    // A transport project: no transport experts exist, so no panel can be drawn.
    let mut p = project("XY2023-D003-0001", "D003", "500000", false);
    p["sector"] = json!("transport");
    app.ok("/api/v1/projects", &c.dept_tokens[2], p).await;
    app.ok(
        "/api/v1/cycles",
        ADMIN_TOKEN,
        json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["XY2023-D003-0001"]}),
    )
    .await;
    let (_, list) = app.get("/api/v1/cases?department_id=3", ADMIN_TOKEN).await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(id, "targets", stage_is("target_review", "awaiting_submission")).await;
    submit(&app, &c.dept_tokens[2], &v, targets_body()).await;
    let v = app.wait_case(id, "blocked", |v| v["status"] == "blocked").await;
    let why = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "panel_infeasible").unwrap();
    assert_eq!(why["data"]["reason"], "sector transport needs 3 experts; 0 remain after recusal and caps");
    // The bureau adds experts and retries.
    for i in 0..3 {
        app.ok("/api/v1/admin/users", ADMIN_TOKEN, json!({"username": format!("road{i}"), "display_name": format!("交通专家{i}"), "role": "expert", "expert": {"sectors": ["transport"]}})).await;
    }
    let (s, _) = app.post(&format!("/api/v1/cases/{id}/retry"), &c.finance_tokens[0], json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.wait_case(id, "panel after retry", |v| {
        v["status"] == "active" && v["phase"] == "awaiting_reviews" && v["open_tasks"].as_array().unwrap().len() == 5
    })
    .await;
}
