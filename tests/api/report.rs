//! The annual report: a year constructed through the API whose counts are known — targets,
//! overall declarations, an ex-ante assessment, a monitoring run with a red light and a
//! re-budgeting, self-evaluations with spot checks, result actions, key evaluations and a
//! disclosure — and a previous year; every figure, its comparison, its list and the workbook.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::monitoring::{MONITORING_WF, case_of, report, submit_report};

const REPORT_YEAR: &str = r#"
id: report-year
version: 1
title: 自评、抽查与结果应用
timezone: Asia/Shanghai
stages:
  - id: self_evaluation
    kind: self_evaluation
    submit: { by: department, form: self_evaluation, within: 20 workdays }
    scoring: mof_2020_10
    spot_check: { share: 100%, stratify: department, margin: 10, within: 10 workdays }
  - id: result_application
    kind: result_application
    actions:
      - { when: "grade == '优'", propose: commend }
      - { when: "grade == '差'", propose: cut, percent: 20 }
      - { when: "flagged", propose: rectify }
    approve: { by: finance, within: 10 workdays }
    rectify: { within: 30 workdays, unrectified: cut, percent: 10 }
"#;

async fn project_id(app: &TestApp, code: &str) -> i64 {
    let ps = app.ok_get("/api/v1/projects?limit=100", ADMIN_TOKEN).await;
    ps["items"].as_array().unwrap().iter().find(|p| p["code"] == code).unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_annual_report_counts_a_constructed_year_and_lists_each_figure() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let (d1, fin) = (&c.dept_tokens[0], &c.finance_tokens[0]);
    for wf in [MONITORING_WF, REPORT_YEAR] {
        publish_workflow(&app, wf).await;
    }

    // 2022: two projects with targets, 300,000 yuan each.
    for code in ["Y2022-1", "Y2022-2"] {
        app.ok("/api/v1/projects", d1, with_year(project(code, "D001", "300000", false), 2022)).await;
    }
    // 2023: three projects with targets (P1 new and of 6,000,000: ex-ante assessed), one
    // without, and D001's overall declaration with indicators (D002's has none).
    app.ok("/api/v1/projects", d1, project("P1", "D001", "6000000", true)).await;
    app.ok("/api/v1/projects", d1, project("P2", "D001", "1000000", false)).await;
    app.ok("/api/v1/projects", d1, project("P3", "D001", "2000000", false)).await;
    let mut p4 = project("P4", "D001", "700000", false);
    p4["indicators"] = json!([]);
    app.ok("/api/v1/projects", d1, p4).await;
    let overall = |amount: &str, with_indicators: bool| {
        json!({"duties": "负责本部门职能范围内的各项工作。", "key_work": [{"name": "重点工作", "amount": "100000"}],
               "amount": amount, "indicators": if with_indicators { project("x", "D001", "1", false)["indicators"].clone() } else { json!([]) }})
    };
    for (dept, token, amount, with) in [("D001", d1, "5000000", true), ("D002", &c.dept_tokens[1], "800000", false)] {
        let (s, v) = app
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/departments/{dept}/overall/2023"),
                Some(token),
                Some(overall(amount, with)),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }

    // Ex-ante assessment: P1's report submitted on the county cycle.
    app.ok(
        "/api/v1/cycles",
        fin,
        json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["P1"]}),
    )
    .await;
    app.settle().await;
    let p1 = case_of(&app, "P1").await;
    let v = app.wait_case(p1, "ex-ante report", |v| v["phase"] == "awaiting_submission").await;
    complete(&app, d1, open_task(&v, "submission"), json!({"summary": "项目必要性充分，资金测算合理，绩效目标明确。"}))
        .await;

    // Self-evaluations of P2 (优) and P3 (优 by itself, 差 on the spot check: flagged), then
    // result actions: P2's commendation amended to a recovery of 50,000; P3's 20% cut and
    // rectification approved.
    let cycle = app
        .ok(
            "/api/v1/cycles",
            fin,
            json!({"workflow_id": "report-year", "fiscal_year": 2023, "project_codes": ["P2", "P3"]}),
        )
        .await;
    app.settle().await;
    let cases = app.ok_get(&format!("/api/v1/cases?cycle_id={}", cycle["id"]), ADMIN_TOKEN).await;
    let id_of = |code: &str| {
        cases["items"].as_array().unwrap().iter().find(|x| x["project_code"] == code).unwrap()["id"].as_i64().unwrap()
    };
    let (e2, e3) = (id_of("P2"), id_of("P3"));
    for (case, executed) in [(e2, "1000000"), (e3, "2000000")] {
        let v = app.wait_case(case, "self-evaluation", |v| v["phase"] == "awaiting_submission").await;
        complete(&app, d1, open_task(&v, "submission"), self_eval("优", executed)).await;
        app.wait_case(case, "the draw", |v| v["phase"] == "awaiting_spot_check").await;
    }
    app.ok("/api/v1/spot-checks", fin, json!({"workflow_id": "report-year", "stage": "self_evaluation", "seed": 7}))
        .await;
    for (case, grade, executed) in [(e2, "优", "1000000"), (e3, "差", "2000000")] {
        let v = app.wait_case(case, "re-score", |v| v["phase"] == "awaiting_spot_review").await;
        let task = open_task(&v, "review").clone();
        let token = reviewer_token(&app, &c, task["assignee_id"].as_i64().unwrap()).await;
        complete(&app, &token, &task, self_eval(grade, executed)).await;
    }
    for (case, body) in [
        (e2, json!({"decision": "amend", "amended_actions": [{"kind": "recover", "amount": "50000"}]})),
        (e3, json!({"decision": "approve"})),
    ] {
        let v = app.wait_case(case, "approval", |v| v["phase"] == "awaiting_approval").await;
        complete(&app, fin, open_task(&v, "approval"), body).await;
        app.wait_case(case, "applied", |v| v["stage"] != "result_application").await;
    }

    // Monitoring on 1 August: P2 and P3 are issued a report; P2 reports 10% spent by July (red)
    // and is re-budgeted by 100,000 yuan; P3 does not report.
    app.ok(
        "/api/v1/cycles",
        fin,
        json!({"workflow_id": "monitoring-only", "fiscal_year": 2023, "project_codes": ["P2", "P3"]}),
    )
    .await;
    app.settle().await;
    app.set_time(at(2023, 8, 1, 1));
    let m2 = {
        let cases = app.ok_get("/api/v1/cases?limit=100", ADMIN_TOKEN).await;
        cases["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["project_code"] == "P2" && x["workflow_id"] == "monitoring-only")
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (s, v) = submit_report(&app, d1, m2, report("100000", "0.6", "达成", Some("经费保障"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let runs = app.ok_get("/api/v1/monitoring/runs", fin).await;
    let run_id = runs["items"][0]["id"].as_i64().unwrap();
    app.ok(&format!("/api/v1/monitoring/runs/{run_id}/evaluate"), fin, json!({})).await;
    let admin_id = app.ok_get("/api/v1/me", ADMIN_TOKEN).await["id"].clone();
    let d = app
        .ok("/api/v1/dispositions", fin, json!({"case_id": m2, "run_id": run_id, "kind": "reduce", "amount": "100000", "reason": "执行进度严重滞后", "approver_id": admin_id}))
        .await;
    app.ok(&format!("/api/v1/dispositions/{}/decision", d["id"]), ADMIN_TOKEN, json!({"approve": true})).await;

    // Key evaluations of P2 and of D001's overall spending; the targets disclosed.
    let firm = evaluation_firm(&app, fin).await;
    let d001 = department_id(&app, "D001").await;
    let p2 = project_id(&app, "P2").await;
    for body in [json!({"project_id": p2}), json!({"department_id": d001})] {
        let mut body = body;
        body["fiscal_year"] = json!(2023);
        body["third_party_id"] = firm["id"].clone();
        app.ok("/api/v1/key-evaluations", fin, body).await;
    }
    app.ok("/api/v1/disclosures", fin, json!({"fiscal_year": 2023, "kind": "targets"})).await;
    app.settle().await;

    // The figures, against 2022.
    let (s, v) = app.get("/api/v1/reports/annual/2023", d1).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the bureau's report: {v}");
    let r = app.ok_get("/api/v1/reports/annual/2023?compare=1", fin).await;
    assert_eq!(r["compared_with"], json!([2022]));
    let got: Vec<(String, i64, Option<String>)> = r["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["count"].as_i64().unwrap(),
                f["amount"].as_str().map(str::to_string),
            )
        })
        .collect();
    let want: Vec<(&str, i64, Option<&str>)> = vec![
        ("projects_with_targets", 3, Some("9000000.00")),
        ("departments_with_overall_targets", 1, Some("5000000.00")),
        ("ex_ante_assessments", 1, Some("6000000.00")),
        ("monitoring_issued", 2, None),
        ("monitoring_filled", 1, None),
        ("monitoring_red", 1, None),
        ("monitoring_yellow", 0, None),
        ("monitoring_budget_adjusted", 1, Some("100000.00")),
        ("self_evaluations", 2, Some("3000000.00")),
        ("spot_checked", 2, Some("3000000.00")),
        ("spot_check_flagged", 1, Some("2000000.00")),
        ("key_evaluations_project", 1, Some("1000000.00")),
        ("key_evaluations_department", 1, Some("5000000.00")),
        ("actions_cut", 1, Some("400000.00")),
        ("actions_suspend", 0, Some("0.00")),
        ("actions_recover", 1, Some("50000.00")),
        ("actions_rectify", 1, None),
        ("disclosures", 1, None),
    ];
    let want: Vec<(String, i64, Option<String>)> =
        want.into_iter().map(|(k, n, a)| (k.to_string(), n, a.map(str::to_string))).collect();
    assert_eq!(got, want, "{r}");
    let filled = r["figures"].as_array().unwrap().iter().find(|f| f["key"] == "monitoring_filled").unwrap();
    assert_eq!(filled["rate"], "50", "{filled}");
    let targets = &r["figures"][0];
    assert_eq!(
        (targets["previous"][0]["fiscal_year"].as_i64(), targets["previous"][0]["count"].as_i64()),
        (Some(2022), Some(2))
    );
    assert_eq!(targets["previous"][0]["amount"], "600000.00");
    assert!(r["figures"].as_array().unwrap().iter().skip(1).all(|f| f["previous"][0]["count"] == 0), "{r}");

    // Each figure's list holds exactly the rows it counts.
    for f in r["figures"].as_array().unwrap() {
        let list = app.ok_get(&format!("{}?limit=500", f["list"].as_str().unwrap()), fin).await;
        assert_eq!(list["total"], f["count"], "{f} {list}");
        assert_eq!(list["items"].as_array().unwrap().len() as i64, f["count"].as_i64().unwrap(), "{list}");
    }
    let codes = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_string()).collect()
    };
    let targets = app.ok_get("/api/v1/reports/annual/2023/figures/projects_with_targets", fin).await;
    assert_eq!(codes(&targets), ["P1", "P2", "P3"]);
    let red = app.ok_get("/api/v1/reports/annual/2023/figures/monitoring_red", fin).await;
    assert_eq!(codes(&red), ["P2"]);
    let flagged = app.ok_get("/api/v1/reports/annual/2023/figures/spot_check_flagged", fin).await;
    assert_eq!(codes(&flagged), ["P3"]);
    let (s, v) = app.get("/api/v1/reports/annual/2023/figures/nothing", fin).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["message"].as_str().unwrap().contains("projects_with_targets"), "the keys that exist: {v}");

    // The workbook: the summary with numbers as numbers, and a sheet per non-empty list.
    let (s, ct, bytes) = app.download("/api/v1/reports/annual/2023/report.xlsx?compare=1", fin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let sheets = jixiao::exchange::read("report.xlsx", &bytes).unwrap();
    assert_eq!(sheets[0].name, "2023年度绩效管理情况");
    let summary = &sheets[0];
    let row = summary.rows.iter().find(|r| r.get(0).to_text() == "编报绩效目标项目").unwrap();
    assert_eq!(*row.get(2), jixiao::exchange::Cell::Number(3.0));
    assert_eq!(*row.get(3), jixiao::exchange::Cell::Number(9_000_000.0));
    assert_eq!(*row.get(4), jixiao::exchange::Cell::Number(2.0));
    assert!(
        row.get(7).to_text().ends_with("/api/v1/reports/annual/2023/figures/projects_with_targets"),
        "{:?}",
        row.get(7)
    );
    let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"红灯预警项目") && !names.contains(&"暂缓拨付"), "{names:?}");
    // Each figure links to its list: the web page's address, and the list's own sheet.
    assert_eq!(row.get(8).to_text(), "编报绩效目标项目");
    let empty = summary.rows.iter().find(|r| r.get(0).to_text() == "暂缓拨付").unwrap();
    assert_eq!(empty.get(8).to_text(), "", "an empty list has no sheet to link to");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    assert!(
        xml.contains("location=\"&apos;编报绩效目标项目&apos;!A1\"")
            || xml.contains("location=\"'编报绩效目标项目'!A1\""),
        "{xml}"
    );
    let mut rels = String::new();
    zip.by_name("xl/worksheets/_rels/sheet1.xml.rels").unwrap().read_to_string(&mut rels).unwrap();
    assert!(rels.contains("/api/v1/reports/annual/2023/figures/projects_with_targets\""), "{rels}");

    // The page: the figures beside 2022's, each linking to its list.
    let bureau = crate::web::session_of(&app, "finance1").await;
    let page = crate::web::get(&app, "/report?year=2023", &bureau).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<a href=\"/report/2023/monitoring_red\">红灯预警项目</a>"), "{}", page.body);
    assert!(page.body.contains("data-figure=\"projects_with_targets\">3<br><small>9000000.00"), "{}", page.body);
    assert!(page.body.contains("50%"), "the completion rate: {}", page.body);
    let list = crate::web::get(&app, "/report/2023/monitoring_red", &bureau).await;
    assert!(list.body.contains("<td class=\"code\">P2</td>") && !list.body.contains(">P3<"), "{}", list.body);
    let dept = crate::web::session_of(&app, "d001").await;
    assert_eq!(crate::web::get(&app, "/report", &dept).await.status, StatusCode::FORBIDDEN);
}
