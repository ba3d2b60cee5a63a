//! Panels from the expert pool: the records an admin keeps on each expert (employment,
//! declared conflicts, availability, a cap) decide who may sit, and every exclusion is recorded
//! with its rule and reason in the case's history.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn expert(app: &TestApp, username: &str, profile: Value) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/admin/users",
            ADMIN_TOKEN,
            json!({"username": username, "display_name": username, "role": "expert", "expert": profile}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// A D001 health project through target declaration to its target-review panel; the case id.
async fn case_at_panel(app: &TestApp, c: &County, code: &str) -> i64 {
    case_at_workflow_panel(app, c, "county-annual-cycle", code).await
}

/// Publishes a one-stage workflow (`id`) whose stage `review` has the given panel line and
/// takes a D001 project to that panel; the case id.
async fn case_at_own_panel(app: &TestApp, c: &County, id: &str, panel: &str, pass: u32, code: &str) -> i64 {
    let wf = format!(
        "id: {id}\nversion: 1\ntitle: 评审\ntimezone: Asia/Shanghai\nstages:\n  - id: review\n    kind: target_review\n    submit: {{ by: department, form: targets, within: 10 workdays }}\n    panel: {panel}\n    decide:\n      - {{ when: \"score >= {pass}\", then: next }}\n      - {{ else: reject }}\n"
    );
    let (s, v) = app.post("/api/v1/workflows", ADMIN_TOKEN, json!({"source": wf})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    case_at_workflow_panel(app, c, id, code).await
}

async fn case_at_workflow_panel(app: &TestApp, c: &County, workflow: &str, code: &str) -> i64 {
    app.ok("/api/v1/projects", &c.dept_tokens[0], project(code, "D001", "800000", false)).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": workflow, "fiscal_year": 2023, "project_codes": [code]}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(id, "targets requested", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission");
    let indicators = project("X", "D001", "1", false)["indicators"].clone();
    app.ok(&format!("/api/v1/tasks/{}/complete", task["id"]), &c.dept_tokens[0], json!({"indicators": indicators}))
        .await;
    app.wait_case(id, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    id
}

#[tokio::test]
async fn expert_records_drive_recusal_and_every_exclusion_is_recorded() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let code = "XY2023-D001-0301";
    let took_part = expert(
        &app,
        "took_part",
        json!({"sectors": ["health"], "conflicts": [{"kind": "took_part", "project_code": code, "note": "参与项目申报论证"}]}),
    )
    .await;
    let relative = expert(
        &app,
        "relative",
        json!({"sectors": ["health"], "conflicts": [{"kind": "relative_heads_unit", "department_code": "D001"}]}),
    )
    .await;
    let worked = expert(
        &app,
        "worked",
        json!({"sectors": ["health"], "specialities": ["公共卫生"], "title": "主任医师", "organisation": "县人民医院",
               "employment": [{"department_code": "D001", "from_year": 2018, "to_year": 2021}]}),
    )
    .await;
    let away = expert(
        &app,
        "away",
        json!({"sectors": ["health"], "availability": [{"from": "2022-01-01", "to": "2022-12-31"}], "max_concurrent_reviews": 3}),
    )
    .await;
    // Bad records are refused with the field at fault.
    let (s, v) = app
        .post("/api/v1/admin/users", ADMIN_TOKEN, json!({"username": "bad", "display_name": "bad", "role": "expert",
            "expert": {"sectors": ["health"], "employment": [{"department_code": "D999", "from_year": 2020, "to_year": 2021}]}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"][0]["path"], "expert.employment[0].department_code", "{v}");
    let (s, v) = app
        .post(
            "/api/v1/admin/users",
            ADMIN_TOKEN,
            json!({"username": "bad2", "display_name": "bad", "role": "expert",
            "expert": {"sectors": ["health"], "conflicts": [{"kind": "interest"}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"][0]["path"], "expert.conflicts[0]", "{v}");

    let id = case_at_panel(&app, &c, code).await;
    let v = app.wait_case(id, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    let drawn = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "panel_drawn").unwrap();
    let members: Vec<i64> =
        drawn["data"]["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_i64().unwrap()).collect();
    let exclusions = drawn["data"]["exclusions"].as_array().unwrap();
    let rule_of =
        |user: i64| exclusions.iter().find(|x| x["user_id"] == user).map(|x| x["rule"].as_str().unwrap().to_string());
    for (user, rule) in [
        (took_part, "took_part"),
        (relative, "relative_heads_unit"),
        (worked, "worked_for_unit"),
        (away, "unavailable"),
    ] {
        assert_eq!(rule_of(user).as_deref(), Some(rule), "{user}: {exclusions:?}");
        assert!(!members.contains(&user), "{user} was drawn despite {rule}");
    }
    let worked_reason = exclusions.iter().find(|x| x["user_id"] == worked).unwrap()["reason"].as_str().unwrap();
    assert!(worked_reason.contains("2018–2021"), "{worked_reason}");
    // The department's own reviewer stood aside too.
    assert!(exclusions.iter().any(|x| x["rule"] == "own_department"), "{exclusions:?}");
    // The stored seed is the case's, stage's and round's: a redraw of this panel is reproducible.
    assert_eq!(drawn["data"]["seed"], jixiao::store::advance::draw_seed(id, "target_review", 0).to_string());
}

/// The open review tasks of a case, as (task id, assignee, panel role).
async fn open_reviews(app: &TestApp, case_id: i64) -> Vec<(i64, i64, String)> {
    let v = app.wait_case(case_id, "settled", |_| true).await;
    v["open_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "review")
        .map(|t| {
            (t["id"].as_i64().unwrap(), t["assignee_id"].as_i64().unwrap(), t["panel_role"].as_str().unwrap().into())
        })
        .collect()
}

#[tokio::test]
async fn a_member_who_declines_is_replaced_under_the_same_rules_until_none_is_left() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let code = "XY2023-D001-0302";
    let id = case_at_panel(&app, &c, code).await;

    // The county has 5 health experts; the panel took 3, so 2 replacements are possible.
    let mut ever_drawn: Vec<i64> = open_reviews(&app, id).await.iter().map(|(_, u, _)| *u).collect();
    for n in 1..=3 {
        let reviews = open_reviews(&app, id).await;
        assert_eq!(reviews.len(), 5, "the panel keeps its size: {reviews:?}");
        let (task_id, user, seat) =
            reviews.iter().find(|(_, u, _)| c.expert_tokens.iter().any(|(e, _)| e == u)).cloned().unwrap();
        let token = reviewer_token(&app, &c, user).await;
        if n == 1 {
            // A reason is required, and only the assignee may decline.
            let (s, v) = app.post(&format!("/api/v1/tasks/{task_id}/decline"), &token, json!({"reason": " "})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
            assert_eq!(v["details"][0]["path"], "reason");
            let (s, _) =
                app.post(&format!("/api/v1/tasks/{task_id}/decline"), &c.dept_tokens[0], json!({"reason": "x"})).await;
            assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
        }
        let (s, v) = app
            .post(&format!("/api/v1/tasks/{task_id}/decline"), &token, json!({"reason": "出差，无法按期评审"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "declined");
        let (s, _) = app.post(&format!("/api/v1/tasks/{task_id}/decline"), &token, json!({"reason": "again"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "a declined review cannot be declined again");
        if n < 3 {
            let v = app
                .wait_case(id, "replaced", |v| {
                    v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "member_replaced").count() == n
                })
                .await;
            let replaced = v["history"].as_array().unwrap().iter().rfind(|e| e["kind"] == "member_replaced").unwrap();
            let new = replaced["data"]["replacement"].as_i64().unwrap();
            assert_eq!(replaced["data"]["declined_user"], user);
            assert_eq!(replaced["data"]["reason"], "出差，无法按期评审");
            assert!(!ever_drawn.contains(&new), "{new} sat on this panel before");
            let reviews = open_reviews(&app, id).await;
            let (_, _, new_seat) = reviews.iter().find(|(_, u, _)| *u == new).unwrap();
            assert_eq!(*new_seat, seat, "the replacement takes the seat as it was");
            ever_drawn.push(new);
            // The department sees that a member was replaced, not who, nor why.
            let (_, own) = app.get(&format!("/api/v1/cases/{id}"), &c.dept_tokens[0]).await;
            let hidden = own["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "member_replaced" || e["kind"] == "review_declined")
                .all(|e| {
                    e["actor_id"].is_null()
                        && e["data"].get("replacement").is_none()
                        && e["data"].get("reason").is_none()
                });
            assert!(hidden, "{own}");
        } else {
            let v = app.wait_case(id, "blocked", |v| v["status"] == "blocked").await;
            let last = v["history"].as_array().unwrap().iter().rfind(|e| e["kind"] == "panel_infeasible").unwrap();
            assert_eq!(
                last["data"]["reason"],
                "no replacement for the member who declined: sector health needs 1 experts; 0 remain after recusal and caps"
            );
        }
    }
}

#[tokio::test]
async fn a_panel_member_has_an_inbox_of_their_own_with_due_soon_and_overdue_counts() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = case_at_panel(&app, &c, "XY2023-D001-0303").await;
    let reviews = open_reviews(&app, id).await;
    let (task_id, member, _) = reviews.iter().find(|(_, u, _)| c.expert_tokens.iter().any(|(e, _)| e == u)).unwrap();
    let token = reviewer_token(&app, &c, *member).await;
    let outsider = c.expert_tokens.iter().find(|(e, _)| !reviews.iter().any(|(_, u, _)| u == e)).unwrap();

    let (s, inbox) = app.get("/api/v1/inbox", &token).await;
    assert_eq!(s, StatusCode::OK, "{inbox}");
    assert_eq!(inbox["counts"], json!({"pending": 1, "due_soon": 0, "overdue": 0}), "{inbox}");
    assert_eq!(inbox["items"][0]["id"], *task_id);
    let due = inbox["items"][0]["due_ms"].as_i64().unwrap();
    let (_, other) = app.get("/api/v1/inbox", &outsider.1).await;
    assert_eq!(other["counts"]["pending"], 0, "only one's own assignments: {other}");
    assert!(other["items"].as_array().unwrap().is_empty());
    // The department's inbox holds its own submissions only; it has none open now.
    let (_, dept) = app.get("/api/v1/inbox?kind=review", &c.dept_tokens[0]).await;
    assert_eq!(dept["counts"]["pending"], 0, "{dept}");

    app.set_time(due - 24 * 3600 * 1000);
    let (_, soon) = app.get("/api/v1/inbox?state=due_soon", &token).await;
    assert_eq!(soon["counts"], json!({"pending": 1, "due_soon": 1, "overdue": 0}), "{soon}");
    assert_eq!(soon["items"][0]["due_soon"], true);
    app.set_time(due + 1);
    let (_, late) = app.get("/api/v1/inbox?state=overdue", &token).await;
    assert_eq!(late["counts"], json!({"pending": 1, "due_soon": 0, "overdue": 1}), "{late}");
    assert_eq!(late["items"][0]["overdue"], true);
    let (s, v) = app.get("/api/v1/inbox?state=later", &token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("pending, due_soon or overdue"));
}

#[tokio::test]
async fn the_leaders_conclusion_decides_and_a_far_off_score_is_flagged() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = case_at_own_panel(
        &app,
        &c,
        "leader-panel",
        "{ expert: 3, form: target_review, within: 5 workdays, aggregate: leader, outlier_margin: 10 }",
        80,
        "XY2023-D001-0304",
    )
    .await;
    let reviews = open_reviews(&app, id).await;
    assert_eq!(reviews.len(), 3);
    let mut leader_task = 0;
    let mut others = [90, 95].into_iter();
    for (task_id, user, seat) in &reviews {
        let total = if seat == "leader" {
            leader_task = *task_id;
            70
        } else {
            others.next().unwrap()
        };
        let token = reviewer_token(&app, &c, *user).await;
        app.ok(&format!("/api/v1/tasks/{task_id}/complete"), &token, review_form("target_review", total)).await;
    }
    let v = app.wait_case(id, "decided", |v| v["status"] == "rejected").await;
    let history = v["history"].as_array().unwrap();
    let flagged = history.iter().find(|e| e["kind"] == "outliers_flagged").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(flagged["data"]["outliers"], json!([[leader_task, "70"]]), "{flagged}");
    assert_eq!(flagged["data"]["median"], "90");
    let decided = history.iter().find(|e| e["kind"] == "decided").unwrap();
    assert_eq!(decided["data"]["score"], "70", "the leader's conclusion, not the mean of 85: {decided}");
    assert_eq!(decided["data"]["outcome"], "reject");
}

#[tokio::test]
async fn members_who_miss_the_deadline_are_replaced_when_the_stage_says_so() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = case_at_own_panel(
        &app,
        &c,
        "replace-late",
        "{ expert: 3, form: target_review, within: 5 workdays, on_overdue: replace }",
        60,
        "XY2023-D001-0305",
    )
    .await;
    let v = app.wait_case(id, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    let due = v["open_tasks"][0]["due_ms"].as_i64().unwrap();
    let reviews = open_reviews(&app, id).await;
    // One member scores in time; the other two let the deadline pass.
    let (first_task, first_user, _) = reviews[0].clone();
    let token = reviewer_token(&app, &c, first_user).await;
    app.ok(&format!("/api/v1/tasks/{first_task}/complete"), &token, review_form("target_review", 80)).await;
    app.set_time(due + 60_000);
    let v = app
        .wait_case(id, "two replaced", |v| {
            v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "member_replaced").count() == 2
        })
        .await;
    let late: Vec<&Value> =
        v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "review_declined").collect();
    assert_eq!(late.len(), 2);
    assert!(late.iter().all(|e| e["data"]["overdue"] == true && e["data"]["reason"] == "missed the deadline"));
    let now_open = open_reviews(&app, id).await;
    assert_eq!(now_open.len(), 2, "{now_open:?}");
    assert!(now_open.iter().all(|(_, u, _)| !reviews.iter().any(|(_, r, _)| r == u)), "new people");
    assert!(now_open.iter().all(|(t, _, _)| *t != first_task));
    for (task_id, user, _) in now_open {
        let token = reviewer_token(&app, &c, user).await;
        app.ok(&format!("/api/v1/tasks/{task_id}/complete"), &token, review_form("target_review", 70)).await;
    }
    let v = app.wait_case(id, "decided", |v| v["status"] == "completed").await;
    let decided = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "decided").unwrap();
    assert_eq!(decided["data"]["score"], "73.33", "the first member's 80 and the replacements' 70s: {decided}");
}

#[tokio::test]
async fn with_a_quorum_in_at_the_deadline_the_panel_decides_without_the_rest() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = case_at_own_panel(
        &app,
        &c,
        "quorum-panel",
        "{ expert: 3, form: target_review, within: 5 workdays, quorum: 2 }",
        60,
        "XY2023-D001-0306",
    )
    .await;
    let v = app.wait_case(id, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    let due = v["open_tasks"][0]["due_ms"].as_i64().unwrap();
    let reviews = open_reviews(&app, id).await;
    // Before the deadline one review is not a quorum, and the deadline does nothing yet.
    for (i, (task_id, user, _)) in reviews.iter().take(2).enumerate() {
        let token = reviewer_token(&app, &c, *user).await;
        app.ok(&format!("/api/v1/tasks/{task_id}/complete"), &token, review_form("target_review", 70 + 10 * i as u32))
            .await;
    }
    let v = app.wait_case(id, "still waiting", |v| v["phase"] == "awaiting_reviews").await;
    assert_eq!(v["status"], "active");
    app.set_time(due + 60_000);
    let v = app.wait_case(id, "decided at the deadline", |v| v["status"] == "completed").await;
    let history = v["history"].as_array().unwrap();
    let deadline = history.iter().find(|e| e["kind"] == "review_deadline").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(deadline["data"]["reviews"], 2);
    assert_eq!(deadline["data"]["closed"], 1);
    let decided = history.iter().find(|e| e["kind"] == "decided").unwrap();
    assert_eq!(decided["data"]["score"], "75", "the mean of the two reviews in: {decided}");
    assert!(open_reviews(&app, id).await.is_empty(), "the third review was closed");
}

#[tokio::test]
async fn a_department_member_of_another_units_panel_reads_the_project_under_review() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let case_id = case_at_panel(&app, &c, "PM2023-1").await;
    let view = app.wait_case(case_id, "panel drawn", |_| true).await;
    let project_id = view["project_id"].as_i64().unwrap();
    let member = view["open_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "review" && t["role"] == "department")
        .unwrap_or_else(|| panic!("a department member on the panel: {view}"));
    let token = reviewer_token(&app, &c, member["assignee_id"].as_i64().unwrap()).await;
    let (s, v) = app.get(&format!("/api/v1/projects/{project_id}"), &token).await;
    assert_eq!(s, StatusCode::OK, "the reviewer reads the project: {v}");
    assert_eq!(v["code"], "PM2023-1");
    let (s, _) = app.get(&format!("/api/v1/tasks/{}", member["id"]), &token).await;
    assert_eq!(s, StatusCode::OK);
    // A department user with no seat on the panel still sees nothing of it.
    let member_user = member["assignee_id"].as_i64().unwrap();
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    let outsider = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "department" && u["id"] != member_user && u["username"] != "d001")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let token = reviewer_token(&app, &c, outsider).await;
    let (s, _) = app.get(&format!("/api/v1/projects/{project_id}"), &token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Blind review: until a member has scored, neither the API's case view nor the review page
/// shows them another member's score or comment, whatever their role; once they have scored,
/// they see the panel's opinions (without names), as the department does.
#[tokio::test]
async fn a_member_who_has_not_scored_sees_no_other_score_or_comment() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let id = case_at_panel(&app, &c, "BLIND1").await;
    let reviews = open_reviews(&app, id).await;
    assert_eq!(reviews.len(), 5, "{reviews:?}");
    // Everyone but the finance member and one expert scores, with a telling comment.
    let finance = reviews.iter().find(|r| r.2 == "finance").unwrap().clone();
    let waiting_expert = reviews.iter().find(|r| r.2 == "expert").unwrap().clone();
    for (task, user, _) in reviews.iter().filter(|r| r.0 != finance.0 && r.0 != waiting_expert.0) {
        let token = reviewer_token(&app, &c, *user).await;
        let mut form = review_form("target_review", 85);
        form["comment"] = json!("SECRET-OPINION 指标偏低");
        let (s, v) = app.post(&format!("/api/v1/tasks/{task}/complete"), &token, form).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let view = app.wait_case(id, "three scored", |_| true).await;
    assert!(view.to_string().contains("SECRET-OPINION"), "the bureau sees the opinions: {view}");
    let scored_reviews = |v: &Value| {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "task_completed" && e["data"]["kind"] == "review")
            .map(|e| e["data"].get("result").is_some())
            .collect::<Vec<bool>>()
    };
    for (_, user, role) in [&finance, &waiting_expert] {
        let token = reviewer_token(&app, &c, *user).await;
        let (s, v) = app.get(&format!("/api/v1/cases/{id}"), &token).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(!v.to_string().contains("SECRET-OPINION"), "{role} before scoring sees: {v}");
        assert_eq!(scored_reviews(&v), [false, false, false], "{role} sees the reviews happened, not what they say");
    }
    // After scoring, the expert sees the panel's opinions, still without names.
    let token = reviewer_token(&app, &c, waiting_expert.1).await;
    let (s, v) = app
        .post(&format!("/api/v1/tasks/{}/complete", waiting_expert.0), &token, review_form("target_review", 80))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app.get(&format!("/api/v1/cases/{id}"), &token).await;
    assert!(v.to_string().contains("SECRET-OPINION"), "{v}");
    // The finance member has still not scored: still blind.
    let token = reviewer_token(&app, &c, finance.1).await;
    let (_, v) = app.get(&format!("/api/v1/cases/{id}"), &token).await;
    assert!(!v.to_string().contains("SECRET-OPINION"), "{v}");
}
