//! Malformed workflow definitions are reported with line, column and what was expected, both
//! offline and through the API; published versions are immutable.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const HEAD: &str = "id: wf\nversion: 1\ntitle: 测试\ntimezone: Asia/Shanghai\nstages:\n";

fn stage(body: &str) -> String {
    format!("{HEAD}  - id: review\n    kind: target_review\n{body}")
}

const GOOD_STAGE: &str = "    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { finance: 1, expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"score >= 80\", then: next }\n      - { else: reject }\n";

#[test]
fn each_malformed_definition_is_reported_at_its_line_and_column() {
    // (definition, line, column, text the message must contain)
    let table: Vec<(String, usize, usize, &str)> = vec![
        (format!("{HEAD}  - id: a\n    kind: target_review\n    colour: red\n"), 8, 5, "unknown key 'colour'"),
        (stage("    submit: { by: department, form: targets, within: 10 weeks }\n"), 8, 54, "bad duration"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"score >= \", then: next }\n      - { else: reject }\n"), 11, 28, "bad expression"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"amount > 3\", then: next }\n      - { else: reject }\n"), 11, 18, "unknown variable 'amount'"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"score >= 80\", goto: nowhere }\n      - { else: reject }\n"), 11, 38, "unknown stage 'nowhere'"),
        (format!("{HEAD}  - id: m\n    kind: monitoring\n    schedule: {{ cron: \"0 0 9 1 5\" }}\n    submit: {{ by: department, form: monitoring, within: 10 workdays }}\n"), 8, 23, "bad cron string"),
        (format!("{HEAD}  - id: m\n    kind: monitoring\n    schedule: {{ cron: \"0 0 0 30 Feb *\" }}\n    submit: {{ by: department, form: monitoring, within: 10 workdays }}\n"), 8, 23, "never fires"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"score >= 80\", then: revise, max_rounds: 2 }\n      - { else: revise, max_rounds: 1 }\n"), 6, 9, "can never pass this stage"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays }\n    decide:\n      - { when: \"score >= 80\", then: next }\n"), 11, 17, "the last decision rule must be 'else'"),
        (format!("{HEAD}  - id: a\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {{ expert: 3, form: target_review, within: 5 workdays }}\n    decide:\n      - {{ else: next }}\n  - id: b\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {{ expert: 3, form: target_review, within: 5 workdays }}\n    decide:\n      - {{ when: \"score > 50\", goto: a }}\n      - {{ else: goto }}\n"), 18, 17, "unknown outcome 'goto'"),
        (format!("{HEAD}  - id: loop\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {{ expert: 3, form: target_review, within: 5 workdays }}\n    decide:\n      - {{ when: \"score > 50\", goto: loop }}\n      - {{ else: goto_loop }}\n"), 12, 17, "unknown outcome"),
        (format!("{HEAD}  - id: a\n    kind: target_review\n    panel: {{ expert: 4, form: target_review, within: 5 workdays }}\n"), 6, 9, "a panel reviews a submission"),
        ("id: wf\nversion: 1\ntitle: t\ntimezone: Mars/Olympus\nstages:\n  - id: a\n    kind: disclosure\n    approve: { by: finance, within: 5 workdays }\n".to_string(), 4, 11, "unknown time zone"),
        (format!("{HEAD}  - id: a\n    kind: reviewing\n    approve: {{ by: finance, within: 5 workdays }}\n"), 7, 11, "unknown stage kind 'reviewing'"),
        ("id: wf\nversion: 1\ntitle: [unclosed\n".to_string(), 4, 1, "not valid YAML"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    checks: { plugins: [common, Health!] }\n"), 9, 33, "is not a plugin reference"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    checks: { plugins: [common@one] }\n"), 9, 25, "'one' is not a plugin version"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    checks: { plugins: [common], on_error: ignore }\n"), 9, 44, "unknown check policy 'ignore'"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    checks: { plugins: [common, common] }\n"), 9, 33, "listed twice"),
        (stage("    approve: { by: finance, within: 5 workdays }\n    checks: { plugins: [common] }\n"), 9, 24, "checks run on a submission"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, recusal: { rules: [took_part, friendship], years: 0 } }\n"), 9, 96, "unknown recusal rule 'friendship'"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, recusal: { rules: [took_part, friendship], years: 0 } }\n"), 9, 116, "recusal years must be between 1 and 10"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, aggregate: median, outlier_margin: 0 }\n"), 9, 77, "unknown aggregation 'median'"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, aggregate: median, outlier_margin: 0 }\n"), 9, 101, "outlier_margin must be between 1 and 100"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, quorum: 9, on_overdue: later }\n"), 9, 74, "a quorum of 9 is not between 1 and the panel's 3 members"),
        (stage("    submit: { by: department, form: targets, within: 10 workdays }\n    panel: { expert: 3, form: target_review, within: 5 workdays, quorum: 9, on_overdue: later }\n"), 9, 89, "unknown overdue policy 'later'"),
        (format!("{HEAD}  - id: m\n    kind: monitoring\n    schedule: {{ cron: \"0 0 9 1 Aug *\" }}\n    submit: {{ by: department, form: monitoring, within: 10 workdays }}\n    lights: {{ execution: {{ red_below: 80, green_from: 60 }} }}\n"), 10, 39, "expected 0 ≤ red_below ≤ green_from"),
        (format!("{HEAD}  - id: m\n    kind: monitoring\n    schedule: {{ cron: \"0 0 9 1 Aug *\" }}\n    schedules: [ {{ cron: \"0 0 9 1 Nov *\" }} ]\n    submit: {{ by: department, form: monitoring, within: 10 workdays }}\n"), 9, 16, "not both"),
        (stage(&format!("{GOOD_STAGE}    lights: {{ blue_from: 130 }}\n")), 6, 9, "'lights' only applies to a monitoring stage"),
        (format!("{HEAD}  - id: s\n    kind: self_evaluation\n    submit: {{ by: department, form: self_evaluation, within: 20 workdays }}\n    spot_check: {{ share: 0% }}\n"), 9, 17, "'spot_check' re-scores a scored stage"),
        (format!("{HEAD}  - id: s\n    kind: self_evaluation\n    submit: {{ by: department, form: self_evaluation, within: 20 workdays }}\n    scoring: mof_2020_10\n    spot_check: {{ share: 0%, stratify: class }}\n"), 10, 26, "share '0%' is not a share"),
        (format!("{HEAD}  - id: s\n    kind: self_evaluation\n    submit: {{ by: department, form: self_evaluation, within: 20 workdays }}\n    scoring: mof_2020_10\n    spot_check: {{ share: 0%, stratify: class }}\n"), 10, 40, "unknown stratification 'class'"),
        (stage(&format!("{GOOD_STAGE}    rectify: {{ within: 5 workdays }}\n")), 13, 14, "'rectify' only applies to a result_application stage"),
        (format!("{HEAD}  - id: r\n    kind: result_application\n    approve: {{ by: finance, within: 5 workdays }}\n    rectify: {{ within: 5 workdays, unrectified: cut }}\n"), 9, 14, "needs percent"),
        (format!("{HEAD}  - id: s\n    kind: self_evaluation\n    submit: {{ by: department, form: self_evaluation, within: 20 workdays }}\n    remind: [3 workdays, -2 weeks]\n"), 9, 14, "must say how long before the deadline"),
        (format!("{HEAD}  - id: s\n    kind: self_evaluation\n    submit: {{ by: department, form: self_evaluation, within: 20 workdays }}\n    remind: [3 workdays, -2 weeks]\n"), 9, 26, "reminder '-2 weeks'"),
    ];
    for (i, (text, line, column, needle)) in table.iter().enumerate() {
        let diags = jixiao::workflow::parse("t.yaml", text).expect_err(&format!("case {i} should fail:\n{text}"));
        let hit = diags
            .iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("case {i}: no diagnostic contains {needle:?}: {diags:?}"));
        if !needle.is_empty() {
            assert_eq!((hit.line, hit.column), (*line, *column), "case {i}: {hit}");
        }
        assert_eq!(hit.file, "t.yaml");
    }
}

#[test]
fn a_stage_whose_every_outcome_loops_can_never_finish() {
    let two_stages = |b_rules: &str| {
        format!(
            "{HEAD}  - id: a\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {{ expert: 3, form: target_review, within: 5 workdays }}\n    decide:\n      - {{ when: \"score > 50\", goto: b }}\n      - {{ else: next }}\n  - id: b\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {{ expert: 3, form: target_review, within: 5 workdays }}\n    decide:\n{b_rules}"
        )
    };
    // b can reject, so both stages can finish.
    let ok = two_stages("      - { when: \"score > 50\", goto: a }\n      - { else: reject }\n");
    assert!(jixiao::workflow::parse("ok.yaml", &ok).is_ok());
    // Every outcome of b jumps back into a or b, and a's only exits lead to b: neither ends.
    let trapped = two_stages("      - { when: \"score > 50\", goto: a }\n      - { goto: b }\n");
    let diags = jixiao::workflow::parse("loop.yaml", &trapped).expect_err("a loop without exit");
    let at: Vec<(usize, usize)> =
        diags.iter().filter(|d| d.message.contains("can never finish")).map(|d| (d.line, d.column)).collect();
    assert_eq!(at, vec![(6, 9), (13, 9)], "{diags:?}");
}

#[tokio::test]
async fn publication_is_checked_versioned_and_immutable() {
    let app = TestApp::spawn().await;
    let bad = stage("    submit: { by: department, form: targets, within: 10 weeks }\n");
    let (s, v) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": bad, "file": "wf.yaml"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["code"], "invalid_workflow");
    assert_eq!(v["details"][0]["line"], 8);
    assert_eq!(v["details"][0]["file"], "wf.yaml");

    let v1 = stage(GOOD_STAGE);
    let (s, v) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": v1})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": v1})).await;
    assert_eq!(s, StatusCode::OK, "the same text again changes nothing");
    let changed = v1.replace("score >= 80", "score >= 70");
    let (s, v) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": changed})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["message"].as_str().unwrap().contains("publish it as version 2"), "{v}");

    // A case started on version 1 stays on it after version 2 is published.
    let c = county(&app).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("P1", "D001", "100", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "wf", "fiscal_year": 2023, "project_codes": ["P1"]}))
        .await;
    let v2 = changed.replace("version: 1", "version: 2");
    let (s, _) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": v2})).await;
    assert_eq!(s, StatusCode::CREATED);
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("P2", "D001", "100", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "wf", "fiscal_year": 2023, "project_codes": ["P2"]}))
        .await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let versions: Vec<(String, i64)> = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["project_code"].as_str().unwrap().to_string(), c["workflow_version"].as_i64().unwrap()))
        .collect();
    assert_eq!(versions, vec![("P1".to_string(), 1), ("P2".to_string(), 2)]);
    let (_, wf) = app.get("/api/v1/workflows/wf/versions/1", ADMIN_TOKEN).await;
    assert!(wf["source"].as_str().unwrap().contains("score >= 80"));
    // YAML can be sent as is.
    let v3 = v2.replace("version: 2", "version: 3");
    let resp = app
        .client
        .post(format!("{}/api/v1/workflows", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .body(v3)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}
