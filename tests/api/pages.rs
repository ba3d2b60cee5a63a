//! The web pages in a real browser (headless Chromium through chromedriver): a panel member
//! reviews an ex-ante assessment and the case advances; a department's monitoring form shows
//! its mistake in Chinese, is corrected and submitted; the bureau's dashboard shows the run's
//! lights; a forged CSRF token and an expired session are refused. Screenshots of the main pages
//! go to target/screenshots.
//!
//! Without chromedriver these tests say so and pass, unless JIXIAO_REQUIRE_BROWSER=1 (as in CI).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::*;

const PASSWORD: &str = "县财政局-2023-绩效";
const WAIT: Duration = Duration::from_secs(10);

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots").join(format!("{name}.png"))
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    users["items"].as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"].as_i64().unwrap()
}

async fn set_password(app: &TestApp, user_id: i64) {
    let (s, v) =
        app.post(&format!("/api/v1/admin/users/{user_id}/password"), ADMIN_TOKEN, json!({"password": PASSWORD})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

async fn log_in(b: &Browser, app: &TestApp, username: &str) {
    b.delete_cookies().await.unwrap();
    b.goto(&format!("{}/login", app.base)).await.unwrap();
    b.fill("input[name=username]", username).await.unwrap();
    b.fill("input[name=password]", PASSWORD).await.unwrap();
    submit(b, "button[type=submit]").await;
    b.wait_for("nav.main", WAIT).await.unwrap_or_else(|e| panic!("{username} did not get in: {e}"));
}

/// Clicks what submits a form and waits until the next page has loaded.
async fn submit(b: &Browser, css: &str) {
    b.execute("window.__jx_before = true;", vec![]).await.unwrap();
    b.click(css).await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let fresh =
            b.execute("return window.__jx_before === undefined && document.readyState === 'complete';", vec![]).await;
        if matches!(fresh, Ok(Value::Bool(true))) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "clicking {css} never loaded a page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's notice (what a form's submission answered).
async fn notice_of(b: &Browser) -> String {
    match b.wait_for("p.notice", WAIT).await {
        Ok(e) => e.text().await.unwrap(),
        Err(e) => panic!("{e}: the page at {} says:\n{}", b.url().await.unwrap(), body_text(b).await),
    }
}

/// The page's visible text.
async fn body_text(b: &Browser) -> String {
    b.text("body").await.unwrap()
}

#[tokio::test]
async fn a_panel_member_reviews_in_the_browser_and_the_case_advances() {
    let Some(b) = Browser::start().await.expect("the browser") else { return };
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    // A new project of 6,000,000 yuan: ex-ante assessment first.
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("EA2023-1", "D001", "6000000", true)).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["EA2023-1"]}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(case_id, "ex-ante report requested", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission")["id"].as_i64().unwrap();

    // The department uploads its report in the browser (a text file renamed .pdf is refused by
    // its content) and submits the summary.
    set_password(&app, user_id(&app, "d001").await).await;
    log_in(&b, &app, "d001").await;
    b.goto(&format!("{}/tasks/{task}", app.base)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("评估报告.pdf");
    std::fs::write(&fake, "not a pdf").unwrap();
    b.find("input[type=file]").await.unwrap().send_keys(fake.to_str().unwrap()).await.unwrap();
    submit(&b, "form.upload button").await;
    let notice = notice_of(&b).await;
    assert!(notice.contains("不是 PDF"), "{notice}");
    let real = dir.path().join("事前绩效评估报告.pdf");
    std::fs::write(&real, b"%PDF-1.4\n% a report\n").unwrap();
    b.find("input[type=file]").await.unwrap().send_keys(real.to_str().unwrap()).await.unwrap();
    submit(&b, "form.upload button").await;
    let notice = notice_of(&b).await;
    assert!(notice.contains("文件已上传"), "{notice}");
    assert!(b.text("ul.files").await.unwrap().contains("事前绩效评估报告.pdf"));
    b.fill("[name=summary]", "项目符合县域医疗卫生规划，需求迫切，投入测算依据充分。").await.unwrap();
    b.fill("[name=conclusion]", "建议予以支持").await.unwrap();
    submit(&b, "#submit").await;
    notice_of(&b).await;
    let v = app.wait_case(case_id, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    assert_eq!(v["stage"], "pre_assessment", "{v}");

    // One expert of the panel reviews in the browser.
    let reviews = app.ok_get(&format!("/api/v1/tasks?case_id={case_id}&kind=review&status=open"), ADMIN_TOKEN).await;
    let (expert_task, expert_id) = reviews["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "expert")
        .map(|t| (t["id"].as_i64().unwrap(), t["assignee_id"].as_i64().unwrap()))
        .expect("an expert on the panel");
    set_password(&app, expert_id).await;
    let username = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == expert_id)
        .unwrap()["username"]
        .as_str()
        .unwrap()
        .to_string();
    log_in(&b, &app, &username).await;
    let inbox = body_text(&b).await;
    assert!(inbox.contains("EA2023-1") && inbox.contains("事前绩效评估"), "{inbox}");
    b.screenshot(&shot("inbox-expert")).await.unwrap();
    b.click(&format!("a[href=\"/tasks/{expert_task}\"]")).await.unwrap();
    b.wait_for("#task-form", WAIT).await.unwrap();
    let page = body_text(&b).await;
    for criterion in ["立项必要性", "投入经济性", "绩效目标合理性", "实施方案可行性", "筹资合规性"]
    {
        assert!(page.contains(criterion), "the form lacks {criterion}");
    }
    // The case documents: the department's summary and its uploaded report.
    assert!(page.contains("需求迫切") && page.contains("事前绩效评估报告.pdf"), "{page}");
    // 立项必要性 rated by sub-item (优 优 良 优: 19 points); the rest in points.
    for (sub, rating) in [("政策相符性", "优"), ("需求迫切性", "优"), ("职能相关性", "良"), ("与其他项目不重复", "优")]
    {
        b.select(&format!("select[name=\"scores.立项必要性.{sub}\"]"), rating).await.unwrap();
    }
    for (criterion, points) in [("投入经济性", "17"), ("绩效目标合理性", "16"), ("实施方案可行性", "18")]
    {
        b.fill(&format!("input[name=\"scores.{criterion}\"]"), points).await.unwrap();
    }
    b.fill("[name=comment]", "方案可行，建议细化产出指标。").await.unwrap();
    b.screenshot(&shot("review-form")).await.unwrap();
    // A criterion left empty is named, in Chinese, beside its field.
    submit(&b, "#submit").await;
    let missing = b.wait_for("em.field-error[data-field=\"scores.筹资合规性\"]", WAIT).await.unwrap();
    assert!(missing.text().await.unwrap().contains("请为“筹资合规性”打分"), "{}", missing.text().await.unwrap());
    // What was typed is still there.
    let kept = b.find("input[name=\"scores.投入经济性\"]").await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("17"));
    b.fill("input[name=\"scores.筹资合规性\"]", "18").await.unwrap();
    submit(&b, "#submit").await;
    let done = notice_of(&b).await;
    assert!(done.contains("已提交"), "{done}");
    let t = app.ok_get(&format!("/api/v1/tasks/{expert_task}"), ADMIN_TOKEN).await;
    assert_eq!(t["status"], "completed", "{t}");
    let total: f64 = t["result"]["total"].as_str().unwrap().parse().unwrap();
    assert_eq!(total, 88.0, "19 + 17 + 16 + 18 + 18: {t}");
    // The page of a phone: the form still works on a narrow screen.
    b.set_window_size(390, 844).await.unwrap();
    b.screenshot(&shot("review-done-phone")).await.unwrap();
    b.set_window_size(1366, 768).await.unwrap();

    // The rest of the panel scores through the API; the case moves on to target declaration.
    panel_scores(&app, &c, case_id, 90).await;
    let v = app.wait_case(case_id, "past the assessment", |v| v["stage"] == "target_review").await;
    assert_eq!(v["phase"], "awaiting_submission", "{v}");

    // The bureau sees the case's audit trail with the review and the upload.
    let admin = user_id(&app, "admin").await;
    set_password(&app, admin).await;
    log_in(&b, &app, "admin").await;
    b.goto(&format!("{}/cases/{case_id}", app.base)).await.unwrap();
    let trail = b.text("#history").await.unwrap();
    for what in ["上传附件", "抽取评审组", "提交"] {
        assert!(trail.contains(what), "the trail lacks {what}: {trail}");
    }
    b.screenshot(&shot("case-audit-trail")).await.unwrap();
    b.goto(&format!("{}/workflows/county-annual-cycle/5", app.base)).await.unwrap();
    let diagram = b.find_all("svg.diagram g.stage").await.unwrap();
    assert_eq!(diagram.len(), 6, "one box per stage");
    b.screenshot(&shot("workflow-diagram")).await.unwrap();
    b.quit().await.unwrap();
}

/// Monitoring only: one run on 1 August, reports due in 10 workdays.
const MONITORING_WF: &str = r#"
id: monitoring-only
version: 1
title: 运行监控
timezone: Asia/Shanghai
stages:
  - id: monitoring
    kind: monitoring
    title: 绩效运行监控
    schedule: { cron: "0 0 9 1 Aug *", runs: 1, missed: run_once }
    submit: { by: department, form: monitoring, within: 10 workdays }
"#;

async fn monitoring_task(app: &TestApp, code: &str) -> (i64, i64) {
    let (_, cases) = app.get("/api/v1/cases?limit=100", ADMIN_TOKEN).await;
    let case_id =
        cases["items"].as_array().unwrap().iter().find(|c| c["project_code"] == code).unwrap()["id"].as_i64().unwrap();
    let v = app.wait_case(case_id, "monitoring task", |v| v["phase"] == "awaiting_submission").await;
    (case_id, open_task(&v, "submission")["id"].as_i64().unwrap())
}

#[tokio::test]
async fn a_department_corrects_its_monitoring_form_and_the_bureau_sees_the_lights() {
    let Some(b) = Browser::start().await.expect("the browser") else { return };
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": MONITORING_WF})).await;
    for code in ["M1", "M2"] {
        app.ok("/api/v1/projects", &c.dept_tokens[0], project(code, "D001", "1000000", false)).await;
    }
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "monitoring-only", "fiscal_year": 2023})).await;
    app.settle().await;
    app.set_time(at(2023, 8, 1, 1));
    let (_, m1_task) = monitoring_task(&app, "M1").await;
    let (m2_case, m2_task) = monitoring_task(&app, "M2").await;

    // M1 through the API: 100,000 of 1,000,000 yuan by July, a red light.
    let progress: Vec<Value> = [90.0, 85.0, 95.0, 0.0, 90.0]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 3 {
                json!({"index": i, "level": "未达成"})
            } else {
                json!({"index": i, "cumulative": format!("{:.2}", t * 0.2), "expected_full_year": format!("{t}")})
            }
        })
        .collect();
    let report = json!({"executed": "100000", "progress": progress, "likelihood": "有可能", "deviation_cause": "经费保障", "deviation_text": "资金下达滞后"});
    app.ok(&format!("/api/v1/tasks/{m1_task}/complete"), &c.dept_tokens[0], report).await;

    // M2 in the browser, from the inbox.
    set_password(&app, user_id(&app, "d001").await).await;
    log_in(&b, &app, "d001").await;
    b.click(&format!("a[href=\"/tasks/{m2_task}\"]")).await.unwrap();
    b.wait_for("#task-form", WAIT).await.unwrap();
    b.fill("[name=executed]", "500000").await.unwrap();
    let values = [("60", "90"), ("55", "85"), ("70", "95"), ("", ""), ("80", "90")];
    for (i, (cum, year)) in values.iter().enumerate() {
        if i == 3 {
            b.select("select[name=\"progress[3].level\"]", "部分达成").await.unwrap();
            continue;
        }
        b.fill(&format!("[name=\"progress[{i}].cumulative\"]"), cum).await.unwrap();
        // The first indicator's full-year value is below what it has already reached: a mistake.
        let year = if i == 0 { "50" } else { year };
        b.fill(&format!("[name=\"progress[{i}].expected_full_year\"]"), year).await.unwrap();
    }
    b.select("select[name=likelihood]", "确定能").await.unwrap();
    submit(&b, "#submit").await;
    let message = b.wait_for("em.field-error[data-field=\"progress[0].expected_full_year\"]", WAIT).await.unwrap();
    let text = message.text().await.unwrap();
    assert!(text.contains("全年预计值 50 不能低于已累计完成值 60"), "{text}");
    assert!(b.text("#errors").await.unwrap().contains("请修改以下内容"));
    b.screenshot(&shot("monitoring-form-error")).await.unwrap();
    // Nothing was lost: the other values are as typed; the task is still open.
    let kept = b.find("[name=\"progress[4].cumulative\"]").await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("80"));
    assert_eq!(app.ok_get(&format!("/api/v1/tasks/{m2_task}"), ADMIN_TOKEN).await["status"], "open");
    b.fill("[name=\"progress[0].expected_full_year\"]", "90").await.unwrap();
    submit(&b, "#submit").await;
    let done = notice_of(&b).await;
    assert!(done.contains("已提交"), "{done}");
    let v = app.wait_case(m2_case, "report stored", |v| !v["monitoring"].as_array().unwrap().is_empty()).await;
    assert_eq!(v["monitoring"][0]["status"], "filled", "{v}");

    // The department's projects page shows each project's stage.
    b.goto(&format!("{}/projects", app.base)).await.unwrap();
    let projects = b.text("#projects").await.unwrap();
    assert!(projects.contains("M1") && projects.contains("M2"), "{projects}");
    b.screenshot(&shot("department-projects")).await.unwrap();

    // The run closes once both reports are in; the bureau's dashboard shows its lights.
    let run_id = v["monitoring"][0]["run_id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = app.ok_get(&format!("/api/v1/monitoring/runs/{run_id}"), ADMIN_TOKEN).await;
        if s["run"]["status"] == "closed" {
            assert_eq!(s["lights"]["red"], 1, "{s}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "run never closed: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finance = user_id(&app, "finance1").await;
    set_password(&app, finance).await;
    log_in(&b, &app, "finance1").await;
    b.goto(&format!("{}/dashboard", app.base)).await.unwrap();
    let red = b.find("#lights rect[data-light=red]").await.unwrap().attr("data-value").await.unwrap();
    assert_eq!(red.as_deref(), Some("1"));
    let lights = b.text("#lights").await.unwrap();
    assert!(lights.contains("M1") && lights.contains("填报率 100.0%"), "the red project and the rate: {lights}");
    b.screenshot(&shot("bureau-dashboard")).await.unwrap();
    b.goto(&format!("{}/projects", app.base)).await.unwrap();
    let row = b.text("#projects").await.unwrap();
    assert!(row.contains("红灯"), "{row}");

    // English on request, remembered.
    b.goto(&format!("{}/dashboard?lang=en", app.base)).await.unwrap();
    assert!(b.text("h1").await.unwrap().contains("Dashboard"));
    b.goto(&format!("{}/cases", app.base)).await.unwrap();
    assert!(b.text("h1").await.unwrap().contains("Cases"));
    b.screenshot(&shot("cases-en")).await.unwrap();
    b.quit().await.unwrap();
}

#[tokio::test]
async fn a_forged_form_and_an_expired_session_are_refused_in_the_browser() {
    let Some(b) = Browser::start().await.expect("the browser") else { return };
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": ONE_STAGE})).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("S2023-1", "D001", "1000000", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "self-only", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, task) = monitoring_task(&app, "S2023-1").await;
    set_password(&app, user_id(&app, "d001").await).await;
    b.goto(&format!("{}/login", app.base)).await.unwrap();
    b.screenshot(&shot("login")).await.unwrap();
    log_in(&b, &app, "d001").await;
    b.goto(&format!("{}/tasks/{task}", app.base)).await.unwrap();
    b.wait_for("#task-form", WAIT).await.unwrap();
    b.screenshot(&shot("self-evaluation-form")).await.unwrap();

    // A form whose token is not the session's is refused and changes nothing.
    b.execute("document.querySelector('#task-form input[name=csrf]').value = 'forged';", vec![]).await.unwrap();
    b.fill("[name=executed]", "900000").await.unwrap();
    submit(&b, "#submit").await;
    let refused = body_text(&b).await;
    assert!(refused.contains("表单已失效"), "{refused}");
    assert_eq!(app.ok_get(&format!("/api/v1/tasks/{task}"), ADMIN_TOKEN).await["status"], "open");

    // Thirty-one idle minutes later the session is over: the page asks to log in again.
    app.set_time(start_ms() + 31 * 60_000);
    b.goto(&format!("{}/tasks/{task}", app.base)).await.unwrap();
    let url = b.url().await.unwrap();
    assert!(url.contains("/login?next=/tasks/"), "{url}");
    assert!(b.find("input[name=password]").await.is_ok());
    // Another department's user cannot open the task.
    set_password(&app, user_id(&app, "d002").await).await;
    log_in(&b, &app, "d002").await;
    b.goto(&format!("{}/tasks/{task}", app.base)).await.unwrap();
    assert!(b.text("h1").await.unwrap().contains("未找到"));
    b.quit().await.unwrap();
}
