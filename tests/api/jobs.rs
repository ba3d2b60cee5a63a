//! Jobs are idempotent and nothing is lost across restarts.

use jixiao::clock::Clock;
use jixiao::queue::Job;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_duplicated_or_redelivered_job_changes_nothing() {
    let app = TestApp::spawn().await;
    // The suite runs on the shape the environment asks for; make sure it is the one in use.
    let want = if std::env::var("JIXIAO_TEST_REDIS_URL").is_ok_and(|v| !v.is_empty()) {
        "redis"
    } else if std::env::var("JIXIAO_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(app.rt.transport.name(), want);
    let c = county(&app).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("P1", "D001", "800000", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let id = cases["items"][0]["id"].as_i64().unwrap();
    let before = app.wait_case(id, "targets", |v| v["phase"] == "awaiting_submission").await;

    // The same job applied again, directly and through the queue, finds nothing to do.
    let report =
        app.rt.store.advance_cases(&app.rt.registry, &app.rt.calendar, &[id, id], app.clock.now_ms()).await.unwrap();
    assert_eq!(report.inputs_applied, 0);
    let processed = app.rt.metrics.jobs_processed.get();
    app.rt
        .transport
        .push(vec![Job::AdvanceCases { case_ids: vec![id] }, Job::AdvanceCases { case_ids: vec![id, id] }])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.rt.metrics.jobs_processed.get() < processed + 2 {
        assert!(std::time::Instant::now() < deadline, "the duplicated jobs never ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let after = app.wait_case(id, "unchanged", |_| true).await;
    assert_eq!(before["history"], after["history"]);
    assert_eq!(before["version"], after["version"]);
    assert_eq!(before["open_tasks"], after["open_tasks"]);

    // A task completed twice is refused the second time; the case moves once.
    let task = open_task(&after, "submission")["id"].as_i64().unwrap();
    let form = json!({"indicators": project("X", "D001", "1", false)["indicators"]});
    let path = format!("/api/v1/tasks/{task}/complete");
    let (a, b) =
        tokio::join!(app.post(&path, &c.dept_tokens[0], form.clone()), app.post(&path, &c.dept_tokens[0], form));
    let mut statuses = vec![a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::CONFLICT]);
    let v = app.wait_case(id, "panel", |v| v["phase"] == "awaiting_reviews").await;
    let drawn = v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "panel_drawn").count();
    assert_eq!(drawn, 1, "one panel for one submission");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_cycle_loses_nothing() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    for i in 0..20 {
        let dept = i % 3;
        let mut p =
            project(&format!("P{i:03}"), &c.dept_codes[dept], if i == 0 { "6000000" } else { "300000" }, i == 0);
        if dept != 0 {
            p["sector"] = json!("health");
        }
        app.ok("/api/v1/projects", &c.dept_tokens[dept], p).await;
    }
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    // Stop at once: some inputs may still be pending, some jobs queued or running.
    let app = app.restart().await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases?limit=100", ADMIN_TOKEN).await;
    assert_eq!(cases["total"], 20);
    for case in cases["items"].as_array().unwrap() {
        let id = case["id"].as_i64().unwrap();
        let v = app.wait_case(id, "first task", |v| v["phase"] == "awaiting_submission").await;
        let want = if case["project_code"] == "P000" { "pre_assessment" } else { "target_review" };
        assert_eq!(v["stage"], want);
        assert_eq!(v["open_tasks"].as_array().unwrap().len(), 1, "exactly one task: {v}");
        let starts = v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "stage_entered").count();
        assert_eq!(starts, 1, "no step applied twice: {v}");
    }
    // Submissions made before a restart are applied after it.
    let (_, tasks) = app.get("/api/v1/tasks?status=open&limit=100", &c.dept_tokens[1]).await;
    for t in tasks["items"].as_array().unwrap() {
        app.ok(
            &format!("/api/v1/tasks/{}/complete", t["id"]),
            &c.dept_tokens[1],
            json!({"indicators": project("X", "D002", "1", false)["indicators"]}),
        )
        .await;
    }
    let app = app.restart().await;
    app.settle().await;
    let (_, reviewing) = app.get("/api/v1/cases?stage=target_review&limit=100", ADMIN_TOKEN).await;
    let n = reviewing["items"].as_array().unwrap().iter().filter(|c| c["phase"] == "awaiting_reviews").count();
    assert_eq!(n, tasks["items"].as_array().unwrap().len());
}

#[tokio::test]
async fn a_schedule_fires_once_per_fire_time_and_a_missed_fire_runs_once() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("P1", "D001", "800000", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(id, "targets", |v| v["phase"] == "awaiting_submission").await;
    app.ok(
        &format!("/api/v1/tasks/{}/complete", open_task(&v, "submission")["id"]),
        &c.dept_tokens[0],
        json!({"indicators": project("X", "D001", "1", false)["indicators"]}),
    )
    .await;
    app.wait_case(id, "panel", |v| v["phase"] == "awaiting_reviews").await;
    panel_scores(&app, &c, id, 95).await;
    app.wait_case(id, "monitoring", |v| v["phase"] == "awaiting_fire").await;
    // The server is down across 1 August; it comes back on 3 August and fires once.
    let mut app = app;
    app.stop().await;
    let aug3 = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2023, 8, 3, 2, 0, 0).unwrap().timestamp_millis();
    app.set_time(aug3);
    let app = TestApp::spawn_in(
        std::sync::Arc::clone(&app.dir),
        std::sync::Arc::clone(&app.env),
        std::sync::Arc::clone(&app.clock),
    )
    .await;
    app.wait_case(id, "monitoring task", |v| v["phase"] == "awaiting_submission" && v["stage"] == "monitoring").await;
    // Two more schedulers racing over the same clock record nothing new.
    let again = app.rt.store.fire_due_schedules(&app.rt.registry, aug3).await.unwrap();
    assert!(again.is_empty());
    let (_, fires) = app.get("/api/v1/schedules/fires", ADMIN_TOKEN).await;
    let fires = fires["items"].as_array().unwrap();
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(fires[0]["stage"], "monitoring");
    assert_eq!(fires[0]["outcome"], "fired");
    assert_eq!(fires[0]["cases"], 1);
}

/// Finished job records do not pile up: pruning with no retention leaves none behind, in
/// whichever queue the suite runs on (apalis-redis's `done` set included).
#[tokio::test]
async fn finished_jobs_are_pruned() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    for i in 0..5 {
        app.ok("/api/v1/projects", &c.dept_tokens[0], project(&format!("R{i}"), "D001", "300000", false)).await;
    }
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    app.settle().await;
    // Completions are acknowledged to the queue in batches; let them land.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let ns = app.rt.settings.queue_namespace.clone();
    let finished = finished_records(&app, &ns).await;
    assert!(finished > 0, "the cycle's jobs left finished records to prune");
    let pruned = app.rt.transport.prune(&app.rt.store, &ns, std::time::Duration::ZERO).await.unwrap();
    assert!(pruned > 0);
    assert_eq!(finished_records(&app, &ns).await, 0, "finished job records remain after pruning");
}

async fn finished_records(app: &TestApp, ns: &str) -> i64 {
    match app.rt.transport.name() {
        "redis" => {
            let url = app.rt.settings.redis_url.clone().unwrap();
            let client = redis::Client::open(url).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let done: i64 = redis::cmd("SCARD").arg(format!("{ns}:done")).query_async(&mut conn).await.unwrap();
            let metas: Vec<String> =
                redis::cmd("KEYS").arg(format!("{ns}:meta:*")).query_async(&mut conn).await.unwrap();
            done + metas.len() as i64
        }
        "postgres" => sqlx::query_scalar("SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'")
            .bind(ns)
            .fetch_one(&app.rt.store.pool)
            .await
            .unwrap(),
        _ => sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE job_type = $1 AND status = 'Done'")
            .bind(ns)
            .fetch_one(app.rt.store.sqlite.as_ref().unwrap())
            .await
            .unwrap(),
    }
}

/// Panel members submit at the same moment, while a worker may be advancing the same case: every
/// review is accepted, the history has no gap or duplicate, and the panel decides once.
#[tokio::test]
async fn concurrent_reviews_of_one_case_are_all_recorded_once() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("P1", "D001", "800000", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(id, "targets", |v| v["phase"] == "awaiting_submission").await;
    let form = json!({"indicators": project("X", "D001", "1", false)["indicators"]});
    app.ok(&format!("/api/v1/tasks/{}/complete", open_task(&v, "submission")["id"]), &c.dept_tokens[0], form).await;
    app.wait_case(id, "panel", |v| v["phase"] == "awaiting_reviews").await;
    let filter = jixiao::store::tasks::TaskFilter {
        status: Some("open".into()),
        case_id: Some(id),
        kind: Some("review".into()),
        ..Default::default()
    };
    let tasks = app.rt.store.tasks(&jixiao::store::tasks::TaskScope::All, &filter, 100, 0).await.unwrap().0;
    let mut calls = Vec::new();
    for t in &tasks {
        let token = reviewer_token(&app, &c, t.assignee_id.unwrap()).await;
        calls.push((format!("/api/v1/tasks/{}/complete", t.id), token));
    }
    let results = futures::future::join_all(
        calls.iter().map(|(path, token)| app.post(path, token, review_form("target_review", 92))),
    )
    .await;
    for (s, v) in &results {
        assert_eq!(*s, StatusCode::OK, "{v}");
    }
    let v = app.wait_case(id, "decided", |v| v["stage"] == "monitoring").await;
    let history = v["history"].as_array().unwrap();
    let seqs: Vec<i64> = history.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(history.iter().filter(|e| e["kind"] == "decided").count(), 1);
    assert_eq!(history.iter().filter(|e| e["kind"] == "task_completed" && e["data"]["kind"] == "review").count(), 5);
}
