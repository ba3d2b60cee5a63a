//! The tamper-evident event log: every case's events and the administrative events are
//! hash-chained; `jixiao audit verify` finds a row changed or removed directly in the database
//! and names the first broken link.

use std::process::Command;

use serde_json::json;

use crate::helpers::*;

/// Runs `jixiao audit verify` on the database; its exit status and output.
fn verify(url: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jixiao"))
        .args(["audit", "verify", "--database-url", url])
        .env_remove("JIXIAO_CONFIG")
        .output()
        .expect("the jixiao binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn a_row_changed_in_the_database_breaks_the_chain_and_verify_names_it() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": ONE_STAGE})).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("A2023-1", "D001", "1000000", false)).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("A2023-2", "D001", "1000000", false)).await;
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "self-only", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let view = app.wait_case(case_id, "self-evaluation task", |v| v["phase"] == "awaiting_submission").await;
    let history = view["history"].as_array().unwrap().len();
    assert!(history >= 2, "{view}");
    let url = app.rt.settings.database_url.clone();

    let (code, out) = verify(&url);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the event log is intact") && out.contains("in 2 cases"), "{out}");

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    // A database from before the chain (no hashes) is chained in order at start-up.
    sqlx::query("UPDATE events SET prev_hash = NULL, hash = NULL").execute(&pool).await.unwrap();
    sqlx::query("UPDATE admin_events SET prev_hash = NULL, hash = NULL").execute(&pool).await.unwrap();
    let (code, out) = verify(&url);
    assert!(code == 1 && out.contains("not chained"), "{out}");
    assert!(app.rt.store.seal_unchained().await.unwrap() > 0);
    let (code, out) = verify(&url);
    assert_eq!(code, 0, "{out}");

    // An administrative event changed directly is caught too.
    let (id, data): (i64, String) =
        sqlx::query_as("SELECT id, data FROM admin_events WHERE kind = 'token_issued' ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("UPDATE admin_events SET data = '{}' WHERE id = $1").bind(id).execute(&pool).await.unwrap();
    let (code, out) = verify(&url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("BROKEN: administrative event {id} (token_issued)")), "{out}");
    sqlx::query("UPDATE admin_events SET data = $1 WHERE id = $2").bind(&data).bind(id).execute(&pool).await.unwrap();
    assert_eq!(verify(&url).0, 0);

    let original: String = sqlx::query_scalar("SELECT data FROM events WHERE case_id = $1 AND seq = 2")
        .bind(case_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Changing what an event says is caught at that event.
    sqlx::query("UPDATE events SET data = $1 WHERE case_id = $2 AND seq = 2")
        .bind(original.replace('}', ",\"note\":\"added later\"}"))
        .bind(case_id)
        .execute(&pool)
        .await
        .unwrap();
    let (code, out) = verify(&url);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("BROKEN: case {case_id}, event 2")) && out.contains("changed after it was written"),
        "{out}"
    );
    // Recomputing the row's own hash does not hide it: the next event carries the old one.
    sqlx::query("UPDATE events SET data = $1 WHERE case_id = $2 AND seq = 2")
        .bind(&original)
        .bind(case_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(verify(&url).0, 0, "the original content verifies again");
    // A forger who rewrites an event and its hash, chained onto the right predecessor, is
    // caught at the next event, which still carries the old hash.
    assert!(history >= 3, "{view}");
    let h1: String = sqlx::query_scalar("SELECT hash FROM events WHERE case_id = $1 AND seq = 1")
        .bind(case_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let forged = jixiao::store::chain::event_hash(&h1, case_id, 2, "forged", None, 0, "{}");
    sqlx::query("UPDATE events SET kind = 'forged', data = '{}', actor_id = NULL, at_ms = 0, hash = $1 WHERE case_id = $2 AND seq = 2")
        .bind(&forged)
        .bind(case_id)
        .execute(&pool)
        .await
        .unwrap();
    let (code, out) = verify(&url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("BROKEN: case {case_id}, event 3")) && out.contains("predecessor's hash"), "{out}");
    // Removing an event from the middle of a chain is caught at the gap.
    sqlx::query("DELETE FROM events WHERE case_id = $1 AND seq = 2").bind(case_id).execute(&pool).await.unwrap();
    let (code, out) = verify(&url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("BROKEN: case {case_id}, event 3")) && out.contains("event 2 is missing"), "{out}");

    // Administrative actions are chained too: tokens, users, workflows, cycles.
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM admin_events ORDER BY id").fetch_all(&pool).await.unwrap();
    for kind in ["user_created", "token_issued", "workflow_published", "cycle_started"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}
