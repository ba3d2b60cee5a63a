//! Indicator libraries and fill-and-use: the sector libraries are the plugins' data, a
//! department's library is proposed and approved in versions and comes first; a recurring
//! project starts from last year's indicators, each value shows its basis, and values far from
//! the history or the sector's range are flagged. Departments' overall declarations go through
//! review, monitoring and self-evaluation on their own workflow.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn entry(name: &str, value: &str, basis: &str, types: &[&str]) -> Value {
    json!({"level1": "产出", "level2": "数量指标", "name": name, "operator": "≥", "value": value, "unit": "%",
           "basis": basis, "source": "县卫健局2022年工作计划", "applies": {"project_types": types}})
}

fn names(offer: &Value) -> Vec<(String, String)> {
    offer
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["library"].as_str().unwrap().to_string(), o["name"].as_str().unwrap().to_string()))
        .collect()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(reqwest::Method::PUT, path, Some(token), Some(body)).await
}

#[tokio::test]
async fn department_libraries_come_first_and_change_only_by_approved_versions() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let (d1, d2, fin) = (&c.dept_tokens[0], &c.dept_tokens[1], &c.finance_tokens[0]);
    let p = app.ok("/api/v1/projects", d1, project("H2023-1", "D001", "1000000", false)).await;
    let proposal_path = format!("/api/v1/projects/{}/targets/proposal", p["id"]);

    // The sector libraries are there from start-up, written from the plugins' data.
    let libs = app.ok_get("/api/v1/libraries", d1).await;
    let health = libs["items"].as_array().unwrap().iter().find(|l| l["code"] == "sector:health").unwrap().clone();
    assert_eq!((health["current_version"].as_i64(), health["scope"].as_str()), (Some(1), Some("sector")), "{libs}");
    let lib = app.ok_get("/api/v1/libraries/sector:health", d1).await;
    assert_eq!(lib["origin"], "plugins");
    let vaccination =
        lib["entries"].as_array().unwrap().iter().find(|e| e["name"] == "适龄儿童国家免疫规划疫苗接种率").unwrap();
    assert_eq!((vaccination["basis"].as_str(), vaccination["operator"].as_str()), (Some("行业标准"), Some("≥")));
    let (s, v) = app
        .post(
            "/api/v1/libraries/sector:health/versions",
            ADMIN_TOKEN,
            json!({"entries": [entry("x", "1", "计划标准", &[])]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a sector library comes only from the plugins: {v}");

    // The department proposes its library; nothing changes for fill-and-use until the bureau
    // approves it.
    let v1 = json!({"entries": [
        entry("适龄儿童国家免疫规划疫苗接种率", "98", "历史标准", &[]),
        entry("乡村医生培训覆盖率", "100", "计划标准", &["basic_public_health"]),
        entry("妇幼专项随访率", "95", "计划标准", &["maternal_child"]),
    ], "note": "按2022年实际完成情况设定"});
    let (s, bad) = app
        .post("/api/v1/libraries/department:D001/versions", d1, json!({"entries": [{"level1": "产出", "level2": "社会效益指标", "name": "某指标", "operator": "≥", "value": "1", "unit": "人", "basis": "计划标准"}]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["details"][0]["path"], "entries[0].level2", "{bad}");
    let (s, v) = app.post("/api/v1/libraries/department:D001/versions", d2, v1.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another department: {v}");
    let (s, proposed) = app.post("/api/v1/libraries/department:D001/versions", d1, v1.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{proposed}");
    assert_eq!((proposed["version"].as_i64(), proposed["status"].as_str()), (Some(1), Some("proposed")));
    let (s, _) = app.get("/api/v1/libraries/department:D001", d2).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another department does not see it");
    let before = app.ok_get(&proposal_path, d1).await;
    assert!(names(&before["offer"]).iter().all(|(l, _)| l == "sector:health"), "{}", before["offer"]);
    let (s, v) = app.post("/api/v1/libraries/department:D001/versions/1/decision", d1, json!({"approve": true})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a department does not approve its own library: {v}");
    let approved = app.ok("/api/v1/libraries/department:D001/versions/1/decision", fin, json!({"approve": true})).await;
    assert_eq!(approved["status"], "published");

    // Now the department's entries come first, its value replaces the sector's entry of the
    // same name, and entries for another project type are not offered.
    let after = app.ok_get(&proposal_path, d1).await;
    assert_eq!(after["project_type"], "basic_public_health", "{after}");
    let offered = names(&after["offer"]);
    assert_eq!(
        offered[..2],
        [
            ("department:D001".to_string(), "适龄儿童国家免疫规划疫苗接种率".to_string()),
            ("department:D001".to_string(), "乡村医生培训覆盖率".to_string()),
        ],
        "{offered:?}"
    );
    assert_eq!(after["offer"][0]["value"], "98");
    assert_eq!(after["offer"][0]["version"], 1);
    assert_eq!(offered.iter().filter(|(_, n)| n == "适龄儿童国家免疫规划疫苗接种率").count(), 1);
    assert!(!offered.iter().any(|(_, n)| n == "妇幼专项随访率" || n == "孕产妇死亡率"), "{offered:?}");
    assert!(offered.contains(&("sector:health".into(), "高血压患者规范管理率".into())), "{offered:?}");

    // A second proposal is rejected, a third approved: the version in use moves to 3, and
    // version 1 stays readable as it was.
    let mut v2 = v1.clone();
    v2["entries"][0]["value"] = json!("99");
    app.ok("/api/v1/libraries/department:D001/versions", d1, v2.clone()).await;
    assert_eq!(app.ok_get(&proposal_path, d1).await["offer"][0]["value"], "98", "a proposal is not in use");
    // The bureau reads the proposal on the library's page, each entry marked against the
    // version in use, and rejects it there; the department sees it but cannot decide.
    let bureau = crate::web::session_of(&app, "finance1").await;
    let page = crate::web::get(&app, "/libraries/department:D001", &bureau).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("待审核") && page.body.contains("审核通过并启用"), "{}", page.body);
    assert!(page.body.contains("<td>修改</td><td>适龄儿童国家免疫规划疫苗接种率</td>"), "{}", page.body);
    let own = crate::web::get(&app, "/libraries/department:D001", &crate::web::session_of(&app, "d001").await).await;
    assert!(own.body.contains("待审核") && !own.body.contains("审核通过并启用"), "{}", own.body);
    let done = crate::web::post(
        &app,
        "/libraries/department:D001/versions/2",
        &bureau,
        &[("csrf", &page.csrf()), ("decision", "reject"), ("note", "依据不足")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let rejected = app.ok_get("/api/v1/libraries/department:D001?version=2", fin).await;
    assert_eq!((rejected["status"].as_str(), rejected["decision_note"].as_str()), (Some("rejected"), Some("依据不足")));
    let (s, v) = app.post("/api/v1/libraries/department:D001/versions/2/decision", fin, json!({"approve": true})).await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once: {v}");
    v2["entries"].as_array_mut().unwrap().remove(1);
    app.ok("/api/v1/libraries/department:D001/versions", d1, v2).await;
    app.ok("/api/v1/libraries/department:D001/versions/3/decision", ADMIN_TOKEN, json!({"approve": true})).await;
    let now = app.ok_get(&proposal_path, d1).await;
    assert_eq!((now["offer"][0]["value"].as_str(), now["offer"][0]["version"].as_i64()), (Some("99"), Some(3)));
    assert!(!names(&now["offer"]).iter().any(|(_, n)| n == "乡村医生培训覆盖率"));
    let old = app.ok_get("/api/v1/libraries/department:D001?version=1", d1).await;
    assert_eq!((old["entries"][0]["value"].as_str(), old["entries"].as_array().unwrap().len()), (Some("98"), 3));
    let versions = app.ok_get("/api/v1/libraries/department:D001/versions", fin).await;
    let statuses: Vec<(i64, &str)> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [(3, "published"), (2, "rejected"), (1, "published")]);
    // A bureau-written version is published at once.
    let direct = app.ok("/api/v1/libraries/department:D001/versions", fin, v1).await;
    assert_eq!((direct["version"].as_i64(), direct["status"].as_str()), (Some(4), Some("published")));
}

fn named(mut p: Value, year: i32, name: &str) -> Value {
    p["name"] = json!(name);
    with_year(p, year)
}

/// Last year (2022): D001's project H2022-1 (immunisation ≥ 90%) self-evaluated at 96%
/// vaccinated and 88% of children managed, and six other health projects declaring 95–99%.
/// This year: H2023-1, the same project under this year's name, with no indicators yet.
async fn recurring(app: &TestApp, c: &County) -> Value {
    let d1 = &c.dept_tokens[0];
    publish_workflow(app, ONE_STAGE).await;

    // Last year: the project (immunisation target ≥ 90%) and six other health projects of the
    // county declaring 95–99%.
    let mut last = named(project("H2022-1", "D001", "1000000", false), 2022, "2022年基本公共卫生服务");
    last["indicators"][0]["name"] = json!("适龄儿童国家免疫规划疫苗接种率");
    app.ok("/api/v1/projects", d1, last).await;
    for (i, v) in ["95", "96", "97", "98", "99", "97"].iter().enumerate() {
        let mut other = named(
            project(&format!("H2022-O{i}"), "D001", "500000", false),
            2022,
            &format!("乡镇卫生院公共卫生服务{i}"),
        );
        other["indicators"][0]["name"] = json!("适龄儿童国家免疫规划疫苗接种率");
        other["indicators"][0]["value"] = json!(v);
        app.ok("/api/v1/projects", d1, other).await;
    }
    // Last year's self-evaluation: 96% vaccinated, 88% of children under 7 managed.
    let cycle = app
        .ok(
            "/api/v1/cycles",
            ADMIN_TOKEN,
            json!({"workflow_id": "self-only", "fiscal_year": 2022, "project_codes": ["H2022-1"]}),
        )
        .await;
    app.settle().await;
    let cases = app.ok_get(&format!("/api/v1/cases?cycle_id={}", cycle["id"]), ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(case_id, "self-evaluation open", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission")["id"].clone();
    app.ok(
        &format!("/api/v1/tasks/{task}/complete"),
        d1,
        json!({"executed": "1000000", "items": [
            {"index": 0, "value": "96"}, {"index": 1, "value": "88"}, {"index": 2, "value": "100"},
            {"index": 3, "value": {"level": "达成", "share": "0.9"}}, {"index": 4, "value": "93"}],
            "explanation": "按计划完成", "evidence": ["自评报告.pdf"]}),
    )
    .await;
    app.settle().await;

    let mut this = named(project("H2023-1", "D001", "1000000", false), 2023, "2023年基本公共卫生服务");
    this["indicators"] = json!([]);
    app.ok("/api/v1/projects", d1, this).await
}

#[tokio::test]
async fn a_recurring_project_starts_from_last_year_and_far_values_are_flagged() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let d1 = &c.dept_tokens[0];
    let p = recurring(&app, &c).await;
    // This year's project has the same name but this year's: it starts from last year's five
    // indicators, each with its basis.
    let proposal = app.ok_get(&format!("/api/v1/projects/{}/targets/proposal", p["id"]), d1).await;
    assert_eq!(proposal["prefill_from"], "previous_year", "{proposal}");
    assert_eq!(
        (proposal["previous"]["code"].as_str(), proposal["previous"]["fiscal_year"].as_i64()),
        (Some("H2022-1"), Some(2022))
    );
    assert_eq!(proposal["prefill"].as_array().unwrap().len(), 5);
    assert_eq!(proposal["prefill"][0]["name"], "适龄儿童国家免疫规划疫苗接种率");
    let b0 = &proposal["basis"][0];
    assert_eq!((b0["history"]["target"].as_str(), b0["history"]["actual"].as_str()), (Some("90"), Some("96")), "{b0}");
    // The sector's values: the six others and last year's own 90 → median 97, range 90–99.
    assert_eq!(
        (
            b0["sector"]["projects"].as_i64(),
            b0["sector"]["median"].as_str(),
            b0["sector"]["min"].as_str(),
            b0["sector"]["max"].as_str()
        ),
        (Some(7), Some("97"), Some("90"), Some("99")),
        "{b0}"
    );
    assert_eq!(b0["library"]["library"], "sector:health", "the library entry of the same name: {b0}");
    assert_eq!(proposal["basis"][1]["history"]["actual"], "88");
    // Copying last year's targets would set each below what was reached (90% against 96%
    // vaccinated, and so on). 90% is inside the sector's fences (the spread is at least 10% of
    // the median 97, so 95.5 − 1.5 × 9.7 = 80.95 to 112.05). The qualitative indicator (3) is
    // not compared.
    let kinds: Vec<(u64, &str)> = proposal["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [(0, "below_last_actual"), (1, "below_last_actual"), (2, "below_last_actual"), (4, "below_last_actual")],
        "{}",
        proposal["flags"]
    );

    // Checking values before submitting: at or above last year's actuals and inside the
    // sector's range nothing is flagged (85% for children managed is what every other project
    // declares, and 90% is within 10% of it); 60% vaccinated is below last year's 96% and far
    // below the sector's 90–99%, and 200% of children managed is far from last year's 88% and
    // the sector's 85%; nothing is stored.
    let mut rows = proposal["prefill"].clone();
    for (i, v) in [(0, "97"), (1, "90"), (2, "100"), (4, "95")] {
        rows[i]["value"] = json!(v);
    }
    let ok =
        app.ok(&format!("/api/v1/projects/{}/targets/check", p["id"]), d1, json!({"indicators": rows.clone()})).await;
    assert_eq!(ok["flags"], json!([]), "{ok}");
    rows[1]["value"] = json!("200");
    rows[0]["value"] = json!("60");
    let far = app.ok(&format!("/api/v1/projects/{}/targets/check", p["id"]), d1, json!({"indicators": rows})).await;
    let kinds: Vec<(&str, &str)> = far["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("indicators[0].value", "below_last_actual"),
            ("indicators[0].value", "outside_sector_range"),
            ("indicators[1].value", "far_from_history"),
            ("indicators[1].value", "outside_sector_range"),
        ],
        "{far}"
    );
    assert!(far["flags"][2]["message_zh"].as_str().unwrap().contains("88"), "{far}");
    let stored = app.ok_get(&format!("/api/v1/projects/{}", p["id"]), d1).await;
    assert_eq!(stored["indicators"], json!([]));
    // Another department does not see the project's basis.
    let (s, _) = app.get(&format!("/api/v1/projects/{}/targets/proposal", p["id"]), &c.dept_tokens[1]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn overall(amount: &str, work: &[(&str, &str)]) -> Value {
    json!({"duties": "负责全县卫生健康事业发展规划、公共卫生与医疗服务管理。",
           "key_work": work.iter().map(|(n, a)| json!({"name": n, "description": "", "amount": a})).collect::<Vec<_>>(),
           "amount": amount})
}

#[tokio::test]
async fn a_department_overall_declaration_is_reviewed_monitored_and_self_evaluated() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let (d1, d2, fin) = (&c.dept_tokens[0], &c.dept_tokens[1], &c.finance_tokens[0]);
    app.ok("/api/v1/projects", d1, project("H2023-1", "D001", "1000000", false)).await;

    // Declared by the department: duties, key work and its whole budget.
    let (s, v) = put(
        &app,
        "/api/v1/departments/D001/overall/2023",
        d1,
        overall("1000000", &[("基本公共卫生服务", "800000"), ("疾病预防控制", "300000")]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"][0]["path"], "key_work", "{v}");
    assert!(v["details"][0]["message_zh"].as_str().unwrap().contains("超过部门预算"), "{v}");
    let (s, _) = put(&app, "/api/v1/departments/D001/overall/2023", d2, overall("1000000", &[("x", "1")])).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another department");
    let (s, o) = put(
        &app,
        "/api/v1/departments/D001/overall/2023",
        d1,
        overall("5000000", &[("基本公共卫生服务", "3000000"), ("疾病预防控制", "1500000")]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(
        (o["project"]["kind"].as_str(), o["project"]["code"].as_str()),
        (Some("department"), Some("ZT-D001-2023"))
    );
    let (s, _) = put(
        &app,
        "/api/v1/departments/D001/overall/2023",
        fin,
        overall("5000000", &[("基本公共卫生服务", "3000000"), ("疾病预防控制", "2000000")]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "rewritten by the bureau before the cycle");
    let listed = app.ok_get("/api/v1/projects?fiscal_year=2023", fin).await;
    assert_eq!(listed["total"], 1, "the overall record is not a budget project: {listed}");

    // Its own workflow takes up the overall records only, and the project workflow only
    // projects.
    let cycle =
        app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "department-overall", "fiscal_year": 2023})).await;
    assert_eq!(cycle["cases_created"], 1, "{cycle}");
    let projects =
        app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    assert_eq!(projects["cases_created"], 1, "{projects}");
    app.settle().await;
    let cases = app.ok_get(&format!("/api/v1/cases?cycle_id={}", cycle["id"]), ADMIN_TOKEN).await;
    assert_eq!(cases["items"][0]["project_code"], "ZT-D001-2023");
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let (s, _) = put(&app, "/api/v1/departments/D001/overall/2023", d1, overall("1", &[("x", "1")])).await;
    assert_eq!(s, StatusCode::CONFLICT, "in a cycle, it changes through the cycle's tasks");

    // Overall targets, reviewed by a panel like a project's.
    let v = app
        .wait_case(case_id, "overall targets", |v| {
            v["stage"] == "overall_targets" && v["phase"] == "awaiting_submission"
        })
        .await;
    let task = open_task(&v, "submission")["id"].clone();
    // The task page shows the declaration's duties and key work beside the form.
    let page = crate::web::get(&app, &format!("/tasks/{task}"), &crate::web::session_of(&app, "d001").await).await;
    assert!(page.body.contains("部门职能职责") && page.body.contains("负责全县卫生健康事业发展规划"), "{}", page.body);
    assert!(page.body.contains("疾病预防控制") && page.body.contains("2000000.00"), "{}", page.body);
    // The bureau's pages name the stage as the workflow does (in English, by its kind), and
    // offer it as a filter.
    let bureau = crate::web::session_of(&app, "finance1").await;
    let list = crate::web::get(&app, "/cases?stage=overall_targets", &bureau).await;
    assert!(list.body.contains("部门整体绩效目标申报与审核"), "{}", list.body);
    assert!(
        list.body.contains("<option value=\"overall_targets\" selected>部门整体绩效目标申报与审核"),
        "{}",
        list.body
    );
    let case_page = crate::web::get(&app, &format!("/cases/{case_id}?lang=en"), &bureau).await;
    assert!(case_page.body.contains("· Target review ·"), "{}", case_page.body);
    let indicators = project("x", "D001", "1", false)["indicators"].clone();
    app.ok(&format!("/api/v1/tasks/{task}/complete"), d1, json!({"indicators": indicators})).await;
    app.wait_case(case_id, "panel", |v| v["phase"] == "awaiting_reviews").await;
    panel_scores(&app, &c, case_id, 92).await;
    app.wait_case(case_id, "monitoring", |v| v["stage"] == "overall_monitoring").await;

    // Monitored on 1 August.
    app.set_time(at(2023, 8, 1, 1));
    let v = app.wait_case(case_id, "monitoring task", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission")["id"].clone();
    let progress: Vec<Value> = [(0, "60"), (1, "55"), (2, "60"), (4, "55")]
        .iter()
        .map(|(i, x)| json!({"index": i, "cumulative": x, "expected_full_year": "95"}))
        .chain([json!({"index": 3, "level": "达成"})])
        .collect();
    app.ok(
        &format!("/api/v1/tasks/{task}/complete"),
        d1,
        json!({"executed": "3000000", "progress": progress, "likelihood": "确定能"}),
    )
    .await;

    // Self-evaluated after the year under the scheme the workflow names (once the run has
    // closed and the case waits for January's fire).
    app.wait_case(case_id, "run closed", |v| v["stage"] == "overall_self_evaluation" && v["phase"] == "awaiting_fire")
        .await;
    app.set_time(at(2024, 1, 15, 2));
    let v = app
        .wait_case(case_id, "self-evaluation", |v| {
            v["stage"] == "overall_self_evaluation" && v["phase"] == "awaiting_submission"
        })
        .await;
    let task = open_task(&v, "submission")["id"].clone();
    app.ok(
        &format!("/api/v1/tasks/{task}/complete"),
        d1,
        json!({"executed": "5000000", "items": [
            {"index": 0, "value": "95"}, {"index": 1, "value": "90"}, {"index": 2, "value": "100"},
            {"index": 3, "value": {"level": "达成", "share": "0.9"}}, {"index": 4, "value": "93"}],
            "explanation": "全年重点工作完成", "evidence": ["部门整体自评报告.pdf"]}),
    )
    .await;
    app.settle().await;
    let se = app.ok_get(&format!("/api/v1/cases/{case_id}/self-evaluation"), fin).await;
    assert_eq!(se["scheme"], "mof_2020_10", "{se}");
    assert_eq!(se["self_grade"], "优", "{se}");

    // A key evaluation can take the department's overall spending as its subject.
    let firm = evaluation_firm(&app, fin).await;
    let d001 = department_id(&app, "D001").await;
    let (s, ke) = app
        .post(
            "/api/v1/key-evaluations",
            fin,
            json!({"department_id": d001, "fiscal_year": 2023, "third_party_id": firm["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ke}");
    assert_eq!(ke["subject"], "department", "{ke}");
}

#[tokio::test]
async fn the_targets_page_starts_from_last_year_and_asks_before_submitting_flagged_values() {
    use crate::web::{get, post, session_of, shown_fields};
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let p = recurring(&app, &c).await;
    let cycle = app
        .ok(
            "/api/v1/cycles",
            ADMIN_TOKEN,
            json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["H2023-1"]}),
        )
        .await;
    app.settle().await;
    let cases = app.ok_get(&format!("/api/v1/cases?cycle_id={}", cycle["id"]), ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(case_id, "targets requested", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission")["id"].as_i64().unwrap();
    let dept = session_of(&app, "d001").await;

    // The page starts from last year's indicators, with each one's basis and flags beside it.
    let page = get(&app, &format!("/tasks/{task}"), &dept).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("已按 2022 年申报的指标预填"), "{}", page.body);
    assert!(
        page.body.contains("name=\"indicators[0].name\" value=\"适龄儿童国家免疫规划疫苗接种率\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("2022 年目标 ≥ 90%，实际完成 96"), "{}", page.body);
    assert!(page.body.contains("行业：中位数 97，范围 90–99（7 个项目）"), "{}", page.body);
    assert!(page.body.contains("低于本项目 2022 年自评的实际完成值 96%"), "{}", page.body);

    // Submitted as pre-filled: nothing is stored; the page asks to check the flagged values.
    let csrf = page.csrf();
    let fields = shown_fields(&page.body);
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form.push(("csrf", &csrf));
    let asked = post(&app, &format!("/tasks/{task}"), &dept, &form).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(
        asked.body.contains("请核实；确认无误后勾选") && asked.body.contains("name=\"confirm_flags\""),
        "{}",
        asked.body
    );
    assert_eq!(app.ok_get(&format!("/api/v1/tasks/{task}"), ADMIN_TOKEN).await["status"], "open");

    // Vaccination raised to last year's 96% (its flag goes); the rest kept as they are once
    // the department confirms it has checked them.
    let mut checked = shown_fields(&asked.body);
    for (k, v) in checked.iter_mut() {
        if k == "indicators[0].value" {
            *v = "96".into();
        }
    }
    let again = {
        let mut form: Vec<(&str, &str)> = checked.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        form.push(("csrf", &csrf));
        post(&app, &format!("/tasks/{task}"), &dept, &form).await
    };
    assert!(again.body.contains("name=\"confirm_flags\""), "still three flagged: {}", again.body);
    assert!(!again.body.contains("低于本项目 2022 年自评的实际完成值 96%"), "{}", again.body);
    let mut form: Vec<(&str, &str)> = checked.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form.push(("csrf", &csrf));
    form.push(("confirm_flags", "1"));
    let done = post(&app, &format!("/tasks/{task}"), &dept, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let stored = app.ok_get(&format!("/api/v1/projects/{}", p["id"]), ADMIN_TOKEN).await;
    let values: Vec<&str> =
        stored["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["96", "85", "95", "有效提升", "90"], "{stored}");

    // The panel's review page shows the flags the stored values still raise, by indicator.
    let v = app.wait_case(case_id, "with the panel", |v| v["phase"] == "awaiting_reviews").await;
    let check = app
        .ok(
            &format!("/api/v1/projects/{}/targets/check", p["id"]),
            ADMIN_TOKEN,
            json!({"indicators": stored["indicators"]}),
        )
        .await;
    let flags = check["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 3, "{check}");
    let users = app.ok_get("/api/v1/admin/users?limit=500", ADMIN_TOKEN).await;
    let expert_review = |t: &&Value| {
        t["kind"] == "review"
            && users["items"].as_array().unwrap().iter().any(|u| u["id"] == t["assignee_id"] && u["role"] == "expert")
    };
    let review = v["open_tasks"].as_array().unwrap().iter().find(expert_review).expect("an expert on the panel");
    let expert = users["items"].as_array().unwrap().iter().find(|u| u["id"] == review["assignee_id"]).unwrap();
    let session = session_of(&app, expert["username"].as_str().unwrap()).await;
    let page = get(&app, &format!("/tasks/{}", review["id"]), &session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for f in flags {
        let name = &stored["indicators"][f["index"].as_u64().unwrap() as usize]["name"];
        let shown = format!("<b>{}</b>：{}", name.as_str().unwrap(), f["message_zh"].as_str().unwrap());
        assert!(page.body.contains(&shown), "{shown} not in {}", page.body);
    }
}

/// The sector libraries and the sector plugins are one source: every entry of each library, as
/// served by the API and declared at its suggested value, passes its real compiled plugin
/// without a mismatch or limit finding, and names a programme the plugin recognises.
#[tokio::test]
async fn every_sector_library_entry_passes_its_compiled_plugin() {
    use jixiao::domain::library::LibraryIndicator;
    let app = TestApp::spawn().await;
    let host = crate::plugins::host();
    for (sector, plugin) in [
        ("education", "education"),
        ("health", "health"),
        ("agriculture", "agriculture"),
        ("transport", "transport"),
        ("social_security", "social-security"),
    ] {
        host.load(&crate::plugins::wasm(plugin)).unwrap();
        let lib = app.ok_get(&format!("/api/v1/libraries/sector:{sector}"), ADMIN_TOKEN).await;
        let entries: Vec<LibraryIndicator> = serde_json::from_value(lib["entries"].clone()).unwrap();
        assert!(entries.len() >= 10, "{sector}: {}", entries.len());
        let project = jixiao::domain::project::Project {
            id: 1,
            code: format!("LIB-{sector}"),
            name: "指标库核对".into(),
            department_id: 1,
            department_code: "D001".into(),
            sector: sector.into(),
            amount: jixiao::domain::Fen::from_yuan(100_000_000),
            budget: jixiao::domain::Fen::from_yuan(100_000_000),
            fiscal_year: 2023,
            is_new: false,
            funding_source: jixiao::domain::FundingSource::GeneralBudget,
            kind: "project".into(),
            indicators: entries.iter().map(|e| e.as_indicator()).collect(),
        };
        let findings = host.check(plugin, None, &jixiao::plugin_host::project_for_plugins(&project)).unwrap();
        let wrong: Vec<(&str, Option<u32>)> = findings
            .iter()
            .filter(|f| {
                [
                    "operator_mismatch",
                    "unit_mismatch",
                    "target_too_low",
                    "target_too_high",
                    "no_programme_match",
                    "not_marked_core",
                    "missing_core",
                ]
                .iter()
                .any(|rule| f.code.ends_with(rule))
            })
            .map(|f| (f.code.as_str(), f.indicator))
            .collect();
        assert!(wrong.is_empty(), "{sector}: {wrong:?}");
    }
}

/// The text of a page's `rows` textarea, unescaped.
fn textarea(body: &str) -> String {
    let inner = body.split("<textarea name=\"rows\"").nth(1).expect("a rows textarea");
    let text = inner.split_once('>').unwrap().1.split("</textarea>").next().unwrap();
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// A department keeps its library in a spreadsheet: it starts the library on the page by
/// pasting rows; each problem is named at its line and nothing is stored; the proposal waits
/// for the bureau, whose own edit is published at once; the page gives the version in use back
/// as rows that read as the same entries.
#[tokio::test]
async fn a_department_pastes_its_library_from_a_spreadsheet_and_the_bureau_publishes_an_edit() {
    use crate::web::{get, post, session_of};
    use jixiao::domain::library::LibraryIndicator;
    let app = TestApp::spawn().await;
    county(&app).await;
    let dept = session_of(&app, "d001").await;
    let list = get(&app, "/libraries", &dept).await;
    assert!(
        list.body.contains("href=\"/libraries/department:D001\"") && list.body.contains("建立本单位指标库"),
        "{}",
        list.body
    );
    let page = get(&app, "/libraries/department:D001", &dept).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("提交财政局审核"), "{}", page.body);
    let csrf = page.csrf();
    let paste = async |rows: &str, note: &str| {
        post(&app, "/libraries/department:D001", &dept, &[("csrf", &csrf), ("rows", rows), ("note", note)]).await
    };
    let stored = async || app.get("/api/v1/libraries/department:D001/versions", ADMIN_TOKEN).await;

    // Copied from Excel with its header row: an operator no one can read, and a level 2 that
    // is not under its level 1.
    let header = "一级指标\t二级指标\t三级指标\t指标性质\t指标值\t度量单位\n";
    let bad_operator = format!(
        "{header}产出\t数量指标\t家庭医生签约人数\t大约\t5000\t人\n产出\t社会效益指标\t居民健康素养水平\t≥\t30\t%\n"
    );
    let refused = paste(&bad_operator, "").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("第 2 行（指标性质）") && refused.body.contains("大约"), "{}", refused.body);
    assert!(textarea(&refused.body).contains("家庭医生签约人数\t大约"), "the rows are kept: {}", refused.body);
    let bad_level = bad_operator.replace("大约", "≥");
    let refused = paste(&bad_level, "").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("第 3 行（二级指标）"), "{}", refused.body);
    assert_eq!(stored().await.0, StatusCode::NOT_FOUND, "nothing stored");

    let good = bad_level.replace("产出\t社会效益指标", "效益\t社会效益指标");
    let done = paste(&good, "按2023年工作计划").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (_, versions) = stored().await;
    let v1 = &versions["items"][0];
    assert_eq!(
        (v1["version"].as_i64(), v1["status"].as_str(), v1["note"].as_str()),
        (Some(1), Some("proposed"), Some("按2023年工作计划"))
    );
    let v1 = app.ok_get("/api/v1/libraries/department:D001?version=1", ADMIN_TOKEN).await;
    let names: Vec<&str> = v1["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["家庭医生签约人数", "居民健康素养水平"]);
    assert_eq!(
        (&v1["entries"][0]["value"], &v1["entries"][0]["unit"], &v1["entries"][0]["basis"]),
        (&json!("5000"), &json!("人"), &json!("计划标准"))
    );

    // The bureau's edit (a value with its source, set from history) is published at once.
    let bureau = session_of(&app, "finance1").await;
    let page = get(&app, "/libraries/department:D001", &bureau).await;
    assert!(page.body.contains("发布并启用"), "{}", page.body);
    let edited =
        good.replace("家庭医生签约人数\t≥\t5000\t人", "家庭医生签约人数\t≥\t6000\t人\t\t历史标准\t2022年签约5600人");
    let published =
        post(&app, "/libraries/department:D001", &bureau, &[("csrf", &page.csrf()), ("rows", &edited), ("note", "")])
            .await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.body);
    let current = app.ok_get("/api/v1/libraries/department:D001", ADMIN_TOKEN).await;
    assert_eq!((current["version"].as_i64(), current["status"].as_str()), (Some(2), Some("published")));
    assert_eq!(
        (&current["entries"][0]["value"], &current["entries"][0]["basis"], &current["entries"][0]["source"]),
        (&json!("6000"), &json!("历史标准"), &json!("2022年签约5600人"))
    );

    // The department's page now gives version 2 back as rows, which read as its entries; the
    // same rows pasted back unchanged are not a new version.
    let page = get(&app, "/libraries/department:D001", &dept).await;
    let rows = textarea(&page.body);
    let (entries, _) = jixiao::exchange::library::from_text(&rows).unwrap();
    let expected: Vec<LibraryIndicator> = serde_json::from_value(current["entries"].clone()).unwrap();
    assert_eq!(entries, expected);
    let again =
        post(&app, "/libraries/department:D001", &dept, &[("csrf", &page.csrf()), ("rows", &rows), ("note", "")]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.body);
    assert!(again.body.contains("in use: nothing to write"), "{}", again.body);
    assert_eq!(stored().await.1["items"].as_array().unwrap().len(), 2);
}
