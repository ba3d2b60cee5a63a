//! Who may see and do what: departments only their own, panel members only their tasks, admin
//! endpoints only for admins, and no token no entry.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn roles_and_scopes_are_enforced() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let (d1, d2) = (&c.dept_tokens[0], &c.dept_tokens[1]);
    let p = app.ok("/api/v1/projects", d1, project("XY2023-D001-0100", "D001", "900000", false)).await;
    let pid = p["id"].as_i64().unwrap();
    app.ok("/api/v1/cycles", ADMIN_TOKEN, json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})).await;
    app.settle().await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let (_, tasks) = app.get("/api/v1/tasks?status=open", d1).await;
    let task_id = tasks["items"][0]["id"].as_i64().unwrap();

    // Anonymous and bad tokens.
    let (s, v) = app.call(Method::GET, "/api/v1/cases", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "unauthorized");
    let (s, _) = app.get("/api/v1/me", "jx_not_a_token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Another department sees nothing of D001's.
    let table: Vec<(&str, StatusCode)> = vec![
        (&*format!("/api/v1/projects/{pid}"), StatusCode::NOT_FOUND),
        (&*format!("/api/v1/cases/{case_id}"), StatusCode::NOT_FOUND),
        (&*format!("/api/v1/tasks/{task_id}"), StatusCode::NOT_FOUND),
    ]
    .into_iter()
    .map(|(p, s)| (Box::leak(p.to_string().into_boxed_str()) as &str, s))
    .collect();
    for (path, want) in &table {
        let (s, v) = app.get(path, d2).await;
        assert_eq!(s, *want, "{path}: {v}");
        let (s, _) = app.get(path, d1).await;
        assert_eq!(s, StatusCode::OK, "the owner sees {path}");
    }
    let (_, list) = app.get("/api/v1/cases", d2).await;
    assert_eq!(list["total"], 0, "D002 lists no D001 cases");
    let (_, list) = app.get("/api/v1/projects?department_id=1", d2).await;
    assert_eq!(list["total"], 0, "a department cannot widen its scope with a filter");
    let (s, _) = app.post(&format!("/api/v1/tasks/{task_id}/complete"), d2, json!({"indicators": []})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.post("/api/v1/projects", d2, project("XY2023-D001-0101", "D001", "1", false)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Experts see only what is assigned to them.
    let (_, e1) = &c.expert_tokens[0];
    for path in ["/api/v1/cases", "/api/v1/projects", "/api/v1/admin/users", "/api/v1/schedules/fires"] {
        let (s, _) = app.get(path, e1).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app.get(&format!("/api/v1/cases/{case_id}"), e1).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not assigned yet");
    let (_, mine) = app.get("/api/v1/tasks", e1).await;
    assert_eq!(mine["total"], 0);

    // Role-restricted actions.
    let attempts = [
        (d1, Method::POST, "/api/v1/admin/users", json!({"username": "x", "display_name": "x", "role": "admin"})),
        (d1, Method::POST, "/api/v1/cycles", json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023})),
        (
            &c.finance_tokens[0],
            Method::POST,
            "/api/v1/admin/users",
            json!({"username": "x", "display_name": "x", "role": "admin"}),
        ),
        (
            &c.third_party_token,
            Method::POST,
            "/api/v1/departments",
            json!({"code": "D9", "name": "x", "sector": "health"}),
        ),
        (&c.finance_tokens[0], Method::POST, "/api/v1/workflows", json!({"source": "id: x"})),
    ];
    for (token, method, path, body) in attempts {
        let (s, v) = app.call(method, path, Some(token), Some(body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["code"], "forbidden");
    }

    // Once drawn onto the panel, an expert sees that case and their own review only.
    let form = json!({"indicators": project("X", "D001", "1", false)["indicators"]});
    app.ok(&format!("/api/v1/tasks/{task_id}/complete"), d1, form).await;
    app.wait_case(case_id, "panel", |v| v["phase"] == "awaiting_reviews").await;
    let (_, full) = app.get(&format!("/api/v1/cases/{case_id}"), ADMIN_TOKEN).await;
    let members: Vec<i64> =
        full["history"].as_array().unwrap().iter().find(|e| e["kind"] == "panel_drawn").unwrap()["data"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_i64().unwrap())
            .collect();
    let (in_id, in_token) = c.expert_tokens.iter().find(|(id, _)| members.contains(id)).unwrap();
    let (_, out_token) = c.expert_tokens.iter().find(|(id, _)| !members.contains(id)).unwrap();
    let (s, v) = app.get(&format!("/api/v1/cases/{case_id}"), in_token).await;
    assert_eq!(s, StatusCode::OK);
    let open = v["open_tasks"].as_array().unwrap();
    assert_eq!(open.len(), 1, "an expert sees only their own task: {v}");
    assert_eq!(open[0]["assignee_id"], *in_id);
    let (s, _) = app.get(&format!("/api/v1/cases/{case_id}"), out_token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let review_id = open[0]["id"].as_i64().unwrap();
    let (s, _) =
        app.post(&format!("/api/v1/tasks/{review_id}/complete"), out_token, review_form("target_review", 90)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another expert cannot submit this review");
    let (s, _) = app.post(&format!("/api/v1/tasks/{review_id}/complete"), d1, review_form("target_review", 90)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the department cannot review its own project");
    let (s, _) = app.get(&format!("/api/v1/projects/{pid}"), in_token).await;
    assert_eq!(s, StatusCode::OK, "a panel member reads the project under review");
    let (s, v) = app
        .post(
            &format!("/api/v1/tasks/{review_id}/complete"),
            in_token,
            json!({"scores": {"完整性": 30}, "comment": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let paths: Vec<&str> = v["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"scores.完整性") && paths.contains(&"scores.相关性"), "{v}");
    app.ok(&format!("/api/v1/tasks/{review_id}/complete"), in_token, review_form("target_review", 90)).await;
    let (s, v) =
        app.post(&format!("/api/v1/tasks/{review_id}/complete"), in_token, review_form("target_review", 90)).await;
    assert_eq!(s, StatusCode::CONFLICT, "a task is completed once: {v}");
}

#[tokio::test]
async fn errors_are_stable_json_and_inputs_are_bounded() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    // Validation errors carry field paths.
    let mut bad = project("bad code!", "D001", "12.345", false);
    bad["indicators"][0]["unit"] = json!("");
    bad["indicators"][1]["level2"] = json!("效益指标");
    let (s, v) = app.post("/api/v1/projects", &c.dept_tokens[0], bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "invalid_json", "a bad amount fails while reading the body: {v}");
    assert!(v["message"].as_str().unwrap().contains("more than two decimals"), "{v}");
    let mut bad = project("bad code!", "D001", "12.34", false);
    bad["indicators"][0]["unit"] = json!("");
    bad["indicators"][1]["level2"] = json!("效益指标");
    let (s, v) = app.post("/api/v1/projects", &c.dept_tokens[0], bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let paths: Vec<&str> = v["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["code", "indicators[0].unit", "indicators[1].level2"], "{v}");
    // Unknown endpoints, oversized bodies, bad pagination.
    let (s, v) = app.get("/api/v1/nothing", ADMIN_TOKEN).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let huge = json!({"summary": "x".repeat(3 * 1024 * 1024)});
    let (s, _) = app.post("/api/v1/tasks/1/complete", ADMIN_TOKEN, huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, v) = app.get("/api/v1/cases?limit=100000", ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Health, readiness and the OpenAPI document need no token.
    for path in ["/healthz", "/readyz", "/api/openapi.json"] {
        let (s, _) = app.call(Method::GET, path, None, None).await;
        assert_eq!(s, StatusCode::OK, "{path}");
    }
    let (_, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/tasks/{id}/complete"]["post"].is_object());
    let (_, m) = app.call(Method::GET, "/metrics", Some(ADMIN_TOKEN), None).await;
    let m = m.as_str().unwrap().to_string();
    for name in [
        "jixiao_http_request_duration_seconds",
        "jixiao_jobs_processed_total",
        "jixiao_jobs_failed_total",
        "jixiao_queue_depth",
        "jixiao_pending_case_inputs",
    ] {
        assert!(m.contains(name), "metrics lack {name}");
    }
}

/// `/metrics` answers the scraper's `metrics_token` and an admin's token; nobody else.
#[tokio::test]
async fn metrics_answer_only_the_metrics_token_and_admins() {
    let scraper = "prometheus-scrape-token-0123456789";
    let app = TestApp::spawn_with(&[("JIXIAO_METRICS_TOKEN", scraper.to_string())]).await;
    let c = county(&app).await;
    let (s, v) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{v}");
    let (s, _) = app.call(Method::GET, "/metrics", Some("prometheus-scrape-token-0123456788"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app.call(Method::GET, "/metrics", Some(&c.finance_tokens[0]), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for token in [scraper, ADMIN_TOKEN] {
        let (s, m) = app.call(Method::GET, "/metrics", Some(token), None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(m.as_str().unwrap().contains("jixiao_pending_case_inputs"), "{m}");
    }
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(&[("JIXIAO_HEADER_TIMEOUT_SECS", "1".to_string())]).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // Half a request, then silence: the server hangs up (or answers 408) after the timeout.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: jixiao\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), slow.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "the connection was still open after 20 s");
    assert!(answer.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    // A client that sends its request in time is served as usual.
    let (s, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// The document's schemas are generated from the types the server reads: every JSON request
/// body has a schema with its properties (or a union of such schemas), and the project's says
/// what the server requires.
#[tokio::test]
async fn the_openapi_document_describes_every_body_with_a_generated_schema() {
    let app = TestApp::spawn().await;
    let (s, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    // A schema, following a `$ref` into components.schemas.
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => v.clone(),
        }
    };
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else { continue };
            let Some(json_body) = content.get("application/json") else { continue };
            let schema = resolve(&json_body["schema"]);
            let parts: Vec<serde_json::Value> = match schema["oneOf"].as_array() {
                Some(forms) => forms.iter().map(&resolve).collect(),
                None => vec![schema.clone()],
            };
            for part in parts {
                let props = part["properties"].as_object();
                assert!(props.is_some_and(|p| !p.is_empty()), "{method} {path}: no generated properties in {part}");
                assert_eq!(part["type"], "object", "{method} {path}: {part}");
            }
            bodies += 1;
        }
        // Every operation documents its refusals with the error body.
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(
                op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                "{method} {path}"
            );
        }
    }
    assert!(bodies >= 25, "only {bodies} JSON bodies documented");
    let project = &schemas["ProjectInput"];
    let required: Vec<&str> = project["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(required.contains(&"code") && required.contains(&"amount"), "{project}");
    assert!(!required.contains(&"indicators"), "indicators default to none: {project}");
    assert_eq!(project["properties"]["indicators"]["type"], "array", "{project}");
    assert_eq!(project["additionalProperties"], false, "the server refuses unknown fields: {project}");
    let indicator = resolve(&project["properties"]["indicators"]["items"]);
    let operator = resolve(&indicator["properties"]["operator"]);
    assert!(operator["enum"].as_array().is_some_and(|e| e.contains(&json!("≥"))), "{indicator}");
    // The task form is the union of the forms by task kind.
    let form =
        &doc["paths"]["/api/v1/tasks/{id}/complete"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(form["oneOf"].as_array().is_some_and(|f| f.len() >= 8), "{form}");
    // Ids in paths are integers; list endpoints document their query parameters.
    let get_case = &doc["paths"]["/api/v1/cases/{id}"]["get"];
    assert_eq!(get_case["parameters"][0]["schema"]["type"], "integer");
    let params = doc["paths"]["/api/v1/cases"]["get"]["parameters"].as_array().unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").expect("limit documented");
    assert_eq!((limit["in"].as_str(), limit["schema"]["type"].as_str()), (Some("query"), Some("integer")));
    // Typed answers reference their schema.
    let me = &doc["paths"]["/api/v1/me"]["get"]["responses"]["2XX"]["content"]["application/json"]["schema"];
    assert_eq!(resolve(&resolve(me)["properties"]["role"])["enum"].as_array().map(|r| r.len()), Some(5), "{me}");
}

/// The bodies read outside the JSON extractor (a token's label, a workflow sent as JSON) are
/// objects too: an array of the fields in order is refused, not read as the struct.
#[tokio::test]
async fn json_bodies_read_by_hand_must_be_objects() {
    let app = TestApp::spawn().await;
    let (s, me) = app.get("/api/v1/me", ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::OK);
    let tokens = format!("/api/v1/admin/users/{}/tokens", me["id"]);
    let (s, v) = app.call(Method::POST, &tokens, Some(ADMIN_TOKEN), Some(json!([]))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_json")), "{v}");
    let (s, v) = app.call(Method::POST, "/api/v1/workflows/check", Some(ADMIN_TOKEN), Some(json!(["id: x"]))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_json")), "{v}");
    // An empty body still issues a token labelled "api"; an object still names it.
    let (s, v) = app.call(Method::POST, &tokens, Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app.call(Method::POST, &tokens, Some(ADMIN_TOKEN), Some(json!({"label": "ci"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}
