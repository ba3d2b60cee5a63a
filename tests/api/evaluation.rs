//! Self-evaluation spot checks, result actions tied to money, key evaluations by a third party,
//! and public disclosures — through the API, as each party.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Self-evaluation straight away, then result application: no panels, so many cases reach the
/// spot check quickly.
const EVAL_ONLY: &str = r#"
id: eval-only
version: 1
title: 自评与结果应用
timezone: Asia/Shanghai
stages:
  - id: self_evaluation
    kind: self_evaluation
    submit: { by: department, form: self_evaluation, within: 20 workdays }
    scoring: mof_2020_10
    spot_check: { share: 34%, stratify: department, margin: 10, within: 10 workdays }
  - id: result_application
    kind: result_application
    actions:
      - { when: "grade == '优'", propose: commend }
      - { when: "grade == '良'", propose: keep }
      - { when: "grade == '中'", propose: rectify }
      - { when: "grade == '差'", propose: cut, percent: 20 }
      - { when: "flagged", propose: rectify }
    approve: { by: finance, within: 10 workdays }
    rectify: { within: 2 workdays, unrectified: cut, percent: 10 }
"#;

fn stage_is(stage: &'static str, phase: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["stage"] == stage && v["phase"] == phase
}

fn yuan(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an amount: {v}"))
}

#[tokio::test]
async fn spot_checks_rescore_a_stratified_sample_and_results_move_money() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": EVAL_ONLY})).await;
    // Nine projects, three per department; department 1 has a 中 and a 差 among them.
    let grades = ["优", "中", "差", "优", "优", "优", "优", "优", "优"];
    let mut codes = Vec::new();
    for (i, _) in grades.iter().enumerate() {
        let d = i / 3;
        let code = format!("E2023-{}-{i}", c.dept_codes[d]);
        app.ok("/api/v1/projects", &c.dept_tokens[d], project(&code, &c.dept_codes[d], "1000000", false)).await;
        codes.push(code);
    }
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "eval-only", "fiscal_year": 2023, "project_codes": codes}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases?limit=500", ADMIN_TOKEN).await;
    let id_of = |code: &str| {
        cases["items"].as_array().unwrap().iter().find(|x| x["project_code"] == code).unwrap()["id"].as_i64().unwrap()
    };
    let ids: Vec<i64> = codes.iter().map(|c| id_of(c)).collect();
    for (i, id) in ids.iter().enumerate() {
        let v = app.wait_case(*id, "self-evaluation", stage_is("self_evaluation", "awaiting_submission")).await;
        complete(&app, &c.dept_tokens[i / 3], open_task(&v, "submission"), self_eval(grades[i], "1000000")).await;
    }
    for id in &ids {
        app.wait_case(*id, "waiting for the draw", stage_is("self_evaluation", "awaiting_spot_check")).await;
    }

    // The draw: ceil(34% × 9) = 4, at least one per department (floor(1.02) each, one more by
    // the largest remainder). It reproduces from its stored seed and population.
    let (s, v) = app
        .post("/api/v1/spot-checks", &c.dept_tokens[0], json!({"workflow_id": "eval-only", "stage": "self_evaluation"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "departments do not draw their own checks: {v}");
    let draw = app
        .ok(
            "/api/v1/spot-checks",
            &c.finance_tokens[0],
            json!({"workflow_id": "eval-only", "stage": "self_evaluation", "seed": 2023}),
        )
        .await;
    let draw = &draw["items"][0];
    let sample: Vec<i64> = draw["sample"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    assert_eq!(sample.len(), 4, "{draw}");
    let mut per_dept = BTreeMap::new();
    for id in &sample {
        let i = ids.iter().position(|x| x == id).unwrap();
        *per_dept.entry(i / 3).or_insert(0) += 1;
    }
    assert_eq!(per_dept.len(), 3, "every department is sampled: {per_dept:?}");
    assert!(per_dept.values().all(|n| (1..=2).contains(n)), "{per_dept:?}");
    let stored = app.ok_get(&format!("/api/v1/spot-checks/{}", draw["id"]), &c.finance_tokens[1]).await;
    assert_eq!(stored["reproduced"], true, "{stored}");
    assert_eq!(stored["seed"], "2023");
    assert_eq!(stored["population"].as_array().unwrap().len(), 9);

    // Sampled cases are re-scored by a finance reviewer; the others go straight on.
    for (i, id) in ids.iter().enumerate() {
        if sample.contains(id) {
            let v = app.wait_case(*id, "re-score", stage_is("self_evaluation", "awaiting_spot_review")).await;
            let task = open_task(&v, "review").clone();
            let token = reviewer_token(&app, &c, task["assignee_id"].as_i64().unwrap()).await;
            let (s, _) =
                app.post(&format!("/api/v1/tasks/{}/decline", task["id"]), &token, json!({"reason": "忙"})).await;
            assert_eq!(s, StatusCode::CONFLICT, "a re-score cannot be declined");
            complete(&app, &token, &task, self_eval(grades[i], "1000000")).await;
        }
    }
    let mut approval = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let v = app.wait_case(*id, "approval", stage_is("result_application", "awaiting_approval")).await;
        let want = if sample.contains(id) { "spot_check" } else { "self_evaluation" };
        assert_eq!(v["state"]["score_source"], want, "case {i}");
        assert_eq!(v["state"]["grade"], grades[i], "case {i}");
        approval.insert(i, open_task(&v, "approval").clone());
    }
    let stored = app.ok_get(&format!("/api/v1/spot-checks/{}", draw["id"]), &c.finance_tokens[1]).await;
    let reviews = stored["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 4, "{stored}");
    assert!(reviews.iter().all(|r| r["flagged"].is_null() && r["reviewed_score"] == r["self_score"]), "{stored}");

    // 优 → commend, approved as proposed: done at once.
    let f = &c.finance_tokens[1];
    complete(&app, f, &approval[&0], json!({"decision": "approve", "comment": "内部意见：同意"})).await;
    // 差 → cut 20%, amended to add a recovery of idle funds, which enters the ledger.
    let (s, v) = app
        .post(
            &format!("/api/v1/tasks/{}/complete", approval[&2]["id"]),
            f,
            json!({"decision": "amend", "amended_actions": [{"kind": "recover"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a recovery needs its amount: {v}");
    assert_eq!(v["details"][0]["path"], "amended_actions[0].amount", "{v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/tasks/{}/complete", approval[&2]["id"]),
            f,
            json!({"decision": "amend", "amended_actions": [{"kind": "cut", "percent": 20}, {"kind": "recover", "amount": "2000000"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "more than the budget cannot be recovered: {v}");
    assert_eq!(v["details"][0]["path"], "amended_actions[1].amount", "{v}");
    complete(
        &app,
        f,
        &approval[&2],
        json!({"decision": "amend", "amended_actions": [{"kind": "cut", "percent": 20}, {"kind": "recover", "amount": "50000"}]}),
    )
    .await;
    // 中 → rectify: a department task with a deadline; left undone, it escalates.
    complete(&app, f, &approval[&1], json!({"decision": "approve"})).await;
    // Another project is amended to a rectification, which the department reports.
    complete(&app, f, &approval[&3], json!({"decision": "amend", "amended_actions": [{"kind": "rectify"}]})).await;
    for i in [0, 1, 2, 3] {
        app.wait_case(ids[i], "applied", |v| v["stage"] != "result_application").await;
    }
    let budget = app.ok_get(&format!("/api/v1/projects/{}/budget", id_project(&app, ids[2]).await), f).await;
    assert_eq!(yuan(&budget["current"]), 950_000.0, "{budget}");
    let actions = app.ok_get(&format!("/api/v1/actions?case_id={}", ids[2]), f).await;
    let kinds: Vec<(&str, &str)> = actions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("cut", "superseded"), ("cut", "approved"), ("recover", "done")]);

    let rect = |case: i64| {
        let app = &app;
        async move {
            let a = app.ok_get(&format!("/api/v1/actions?case_id={case}&status=in_progress"), ADMIN_TOKEN).await;
            a["items"][0].clone()
        }
    };
    let order = rect(ids[3]).await;
    assert_eq!(order["kind"], "rectify", "{order}");
    let task = app.ok_get(&format!("/api/v1/tasks/{}", order["task_id"]), &c.dept_tokens[1]).await;
    assert_eq!(task["form"], "rectification");
    let (s, v) =
        app.post(&format!("/api/v1/tasks/{}/complete", task["id"]), &c.dept_tokens[1], json!({"report": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    complete(&app, &c.dept_tokens[1], &task, json!({"report": "已建立资金拨付台账", "evidence": ["台账.xlsx"]})).await;
    assert_eq!(app.ok_get(&format!("/api/v1/actions/{}", order["id"]), f).await["status"], "done");

    // The unrectified order passes its deadline: the bureau is proposed a 10% cut and approves.
    let overdue = rect(ids[1]).await;
    app.set_time(overdue["deadline_ms"].as_i64().unwrap() + 60_000);
    let escalated = loop {
        let a = app.ok_get(&format!("/api/v1/actions?case_id={}&status=proposed", ids[1]), f).await;
        if let Some(x) = a["items"].as_array().unwrap().first() {
            break x.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(
        (escalated["kind"].as_str(), escalated["escalated_from"].as_i64()),
        (Some("cut"), overdue["id"].as_i64())
    );
    assert_eq!(yuan(&escalated["amount"]), 100_000.0);
    let closed = app.ok_get(&format!("/api/v1/tasks/{}", overdue["task_id"]), ADMIN_TOKEN).await;
    assert_eq!(closed["status"], "cancelled");
    let decided = app
        .ok(
            &format!("/api/v1/actions/{}/decision", escalated["id"]),
            f,
            json!({"decision": "approve", "comment": "未整改"}),
        )
        .await;
    assert_eq!(decided["status"], "approved");

    // Next year's budget implications: department 1 has two cuts (200,000 + 100,000) and the
    // recovery; a department sees only its own.
    let report = app.ok_get("/api/v1/reports/actions?fiscal_year=2023", f).await;
    let d1 = report["departments"].as_array().unwrap().iter().find(|d| d["department"] == "县卫生健康局").unwrap();
    assert_eq!((yuan(&d1["cut"]), yuan(&d1["recovered"])), (300_000.0, 50_000.0), "{report}");
    assert_eq!(yuan(&report["totals"]["cut"]), 300_000.0);
    let own = app.ok_get("/api/v1/reports/actions?fiscal_year=2023", &c.dept_tokens[1]).await;
    assert!(own["departments"].as_array().unwrap().iter().all(|d| d["department"] == "县教育局"), "{own}");

    // Scoring the stored forms again reproduces every stored score.
    let rescored = app.ok("/api/v1/self-evaluations/score", f, json!({"fiscal_year": 2023})).await;
    assert_eq!(rescored, json!({"scored": 9, "changed": 0, "failed": 0}));

    // Disclosure of the results: public, in three formats, with no internal field.
    let (s, _) =
        app.post("/api/v1/disclosures", &c.dept_tokens[0], json!({"fiscal_year": 2023, "kind": "results"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let published = app.ok("/api/v1/disclosures", f, json!({"fiscal_year": 2023, "kind": "results"})).await;
    assert_eq!((published["version"].as_i64(), published["rows"].as_i64()), (Some(1), Some(9)), "{published}");
    let url = |fmt: &str| format!("{}/public/disclosures/2023/results.{fmt}", app.base);
    let client = reqwest::Client::new();
    let mut bodies = Vec::new();
    for fmt in ["json", "csv", "html"] {
        let r = client.get(url(fmt)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{fmt}");
        bodies.push(r.text().await.unwrap());
    }
    for body in &bodies {
        for internal in [
            "finance1",
            "finance2",
            "@u.example.cn",
            "内部意见",
            "reviewed_by",
            "assignee",
            "自评报告.pdf",
            "按计划完成",
        ] {
            assert!(!body.contains(internal), "the disclosure leaks '{internal}': {body}");
        }
    }
    let doc: Value = serde_json::from_str(&bodies[0]).unwrap();
    let rows = doc["body"]["rows"].as_array().unwrap();
    let sampled_code = &codes[ids.iter().position(|x| *x == sample[0]).unwrap()];
    let row = rows.iter().find(|r| &r["project_code"] == sampled_code).unwrap();
    assert_eq!(row["source"], "spot_check", "{row}");
    assert!(bodies[1].starts_with('\u{feff}') && bodies[1].contains("评价等级"), "CSV with BOM and Chinese headers");
    assert!(bodies[2].contains("<table") && bodies[2].contains("抽查复核"));

    // Published versions are immutable; a correction is a new version with a note.
    let (s, v) = app.post("/api/v1/disclosures", f, json!({"fiscal_year": 2023, "kind": "results"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"][0]["path"], "correction_note");
    let v2 = app
        .ok(
            "/api/v1/disclosures",
            f,
            json!({"fiscal_year": 2023, "kind": "results", "correction_note": "更正一处金额"}),
        )
        .await;
    assert_eq!(v2["version"], 2);
    let first: Value = client.get(format!("{}?version=1", url("json"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(first, doc, "version 1 is unchanged");
    let latest: Value = client.get(url("json")).send().await.unwrap().json().await.unwrap();
    assert_eq!((latest["version"].as_i64(), latest["correction_of"].as_i64()), (Some(2), Some(1)));
    let tampered =
        sqlx::query("UPDATE disclosures SET document = '{}' WHERE version = 1").execute(&app.rt.store.pool).await;
    assert!(tampered.is_err(), "the database refuses to change a published disclosure");
}

async fn id_project(app: &TestApp, case_id: i64) -> i64 {
    app.ok_get(&format!("/api/v1/cases/{case_id}"), ADMIN_TOKEN).await["project_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_key_evaluation_is_independent_staged_and_confirmed_by_three_parties() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let f = &c.finance_tokens[0];
    let p = app.ok("/api/v1/projects", &c.dept_tokens[0], project("K2023-1", "D001", "3000000", false)).await;
    let me = app.ok_get("/api/v1/me", &c.third_party_token).await;
    let (_, depts) = app.get("/api/v1/departments", ADMIN_TOKEN).await;
    let dept_id = |code: &str| {
        depts["items"].as_array().unwrap().iter().find(|d| d["code"] == code).unwrap()["id"].as_i64().unwrap()
    };
    let tied = app
        .ok(
            "/api/v1/third-parties",
            f,
            json!({"code": "TP1", "name": "县审计服务中心", "affiliations": [dept_id("D001")], "members": []}),
        )
        .await;
    let firm = app
        .ok(
            "/api/v1/third-parties",
            f,
            json!({"code": "TP2", "name": "某会计师事务所", "affiliations": [dept_id("D002")], "members": [me["id"]]}),
        )
        .await;
    let bureau_firm = app
        .ok("/api/v1/third-parties", f, json!({"code": "TP3", "name": "财政评审中心", "bureau_affiliated": true}))
        .await;

    // Independence: not affiliated with the evaluated unit, nor with the commissioning bureau.
    for (tp, why) in [(&tied, "evaluated unit"), (&bureau_firm, "commissioning body")] {
        let (s, v) = app
            .post(
                "/api/v1/key-evaluations",
                f,
                json!({"project_id": p["id"], "fiscal_year": 2023, "third_party_id": tp["id"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["details"][0]["message"].as_str().unwrap().contains(why), "{v}");
    }
    // 产出 + 效益 must carry at least 60%.
    let (s, v) = app
        .post(
            "/api/v1/key-evaluations",
            f,
            json!({"project_id": p["id"], "fiscal_year": 2023, "third_party_id": firm["id"],
                   "weights": {"decision": "25", "process": "20", "output": "30", "benefit": "25"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("at least 60"), "{v}");
    let k = app
        .ok(
            "/api/v1/key-evaluations",
            f,
            json!({"project_id": p["id"], "fiscal_year": 2023, "third_party_id": firm["id"],
                   "weights": {"decision": "15", "process": "25", "output": "30", "benefit": "30"}}),
        )
        .await;
    let steps = format!("/api/v1/key-evaluations/{}/steps", k["id"]);
    let (s, _) = app.get(&format!("/api/v1/key-evaluations/{}", k["id"]), &c.dept_tokens[1]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another department does not see it");

    let tp = &c.third_party_token;
    let unit = &c.dept_tokens[0];
    let (s, v) = app.post(&steps, unit, json!({"action": "submit", "deliverable": {"title": "方案"}})).await;
    assert_eq!(s, StatusCode::CONFLICT, "only the third party submits: {v}");
    let (s, v) = app.post(&steps, tp, json!({"action": "submit", "deliverable": {"title": "评价工作方案"}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a work plan needs its indicator system: {v}");

    let deliverable = |stage: &str| {
        let mut d =
            json!({"title": format!("{stage} 成果"), "summary": "见附件", "documents": [format!("{stage}.pdf")]});
        match stage {
            "work_plan" => d["indicators"] = json!(["决策-项目立项", "过程-资金管理", "产出-数量", "效益-社会效益"]),
            "final_report" => d["scores"] = json!({"decision": "80", "process": "90", "output": "95", "benefit": "85"}),
            _ => {}
        }
        d
    };
    for stage in ["work_plan", "site_verification", "draft", "feedback", "final_report", "rectification"] {
        let v = app.ok(&steps, tp, json!({"action": "submit", "deliverable": deliverable(stage)})).await;
        assert_eq!(v["stage"], stage, "{v}");
        if stage == "draft" {
            // The unit disagrees with the draft: the stage reopens with its comment.
            let v = app.ok(&steps, unit, json!({"action": "disagree", "comment": "产出数据有误，应为 95%"})).await;
            assert_eq!((v["stage"].as_str(), v["round"].as_i64()), (Some("draft"), Some(1)), "{v}");
            let (s, _) = app.post(&steps, f, json!({"action": "confirm"})).await;
            assert_eq!(s, StatusCode::CONFLICT, "nothing to confirm until it is resubmitted");
            app.ok(&steps, tp, json!({"action": "submit", "deliverable": deliverable(stage)})).await;
        }
        app.ok(&steps, unit, json!({"action": "confirm"})).await;
        let (s, _) = app.post(&steps, unit, json!({"action": "confirm"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "a party answers once per round");
        app.ok(&steps, f, json!({"action": "confirm", "comment": "同意"})).await;
        let v = app.ok(&steps, tp, json!({"action": "confirm"})).await;
        if stage != "rectification" {
            assert_ne!(v["stage"], stage, "confirmed by all three, the next stage opens: {v}");
        }
    }
    let v = app.ok_get(&format!("/api/v1/key-evaluations/{}", k["id"]), f).await;
    // 15 × 80% + 25 × 90% + 30 × 95% + 30 × 85% = 12 + 22.5 + 28.5 + 25.5.
    assert_eq!(
        (v["status"].as_str(), v["final_score"].as_str(), v["grade"].as_str()),
        (Some("finished"), Some("88.50"), Some("良")),
        "{v}"
    );
    let kinds: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"reopened") && kinds.contains(&"finished"), "{kinds:?}");
    let listed = app.ok_get("/api/v1/key-evaluations", tp).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // The result becomes a tracked budget action: a 10% cut of the 3,000,000 budget.
    let (s, _) = app
        .post(&format!("/api/v1/key-evaluations/{}/actions", k["id"]), unit, json!({"kind": "cut", "percent": 10}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let a = app
        .ok(
            &format!("/api/v1/key-evaluations/{}/actions", k["id"]),
            f,
            json!({"kind": "cut", "percent": 10, "note": "效益未达预期"}),
        )
        .await;
    assert_eq!(
        (a["source"].as_str(), a["status"].as_str(), yuan(&a["amount"])),
        (Some("key_evaluation"), Some("proposed"), 300_000.0),
        "{a}"
    );
    let a = app.ok(&format!("/api/v1/actions/{}/decision", a["id"]), f, json!({"decision": "approve"})).await;
    assert_eq!(a["status"], "approved");
    let report = app.ok_get("/api/v1/reports/actions?fiscal_year=2023", f).await;
    assert_eq!(yuan(&report["totals"]["cut"]), 300_000.0, "{report}");
}
