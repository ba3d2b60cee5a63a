//! The HTTP API under `/api/v1` (JSON), with `/healthz`, `/readyz`, `/metrics` and the OpenAPI
//! document at `/api/openapi.json`. Handlers check the caller's role and scope, change state
//! through the store (which records the case inputs the workers apply) and never do slow work
//! inline.

pub mod auth;
pub mod error;
pub mod evaluation;
pub mod exchange;
pub mod library;
pub mod monitoring;
pub mod openapi;
pub mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use self::auth::Caller;
use self::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::domain::ProjectInput;
use crate::engine::Input;
use crate::store::cases::{CaseFilter, CaseView};
use crate::store::people::{NewUser, same_secret};
use crate::store::projects::ProjectFilter;
use crate::store::tasks::{TaskFilter, TaskScope};
use crate::workflow::Role;

/// JSON body extractor whose rejections use the API's error body.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        // Read through axum's extractor, so the body limit applies.
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            let status = r.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_request" };
            ApiError::new(status, code, r.body_text())
        })?;
        require_object(&bytes)?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let status = rejection.status();
                let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid_json" };
                Err(ApiError::new(status, code, rejection.body_text()))
            }
        }
    }
}

/// Every JSON body this API takes is an object; serde would also read a struct from an array of
/// its fields in order, which no client means.
fn require_object(body: &[u8]) -> ApiResult<()> {
    if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
            "the request body must be a JSON object ({...})",
        ));
    }
    Ok(())
}

/// Pagination: `?limit=` (1–500, default 50) and `?offset=`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Page {
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<i64>,
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
}

impl Page {
    fn get(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit {limit} is outside 1–500")));
        }
        if offset < 0 {
            return Err(ApiError::bad_request("offset cannot be negative"));
        }
        Ok((limit, offset))
    }
}

pub fn router(rt: Arc<Runtime>) -> Router {
    let limit = rt.settings.body_limit_bytes;
    let timeout = Duration::from_secs(rt.settings.request_timeout_secs);
    let v1 = Router::new()
        .route("/me", get(me).patch(set_preferences))
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}/tokens", post(issue_token).delete(revoke_tokens))
        .route("/admin/users/{id}/password", post(set_password))
        .route("/departments", get(list_departments).post(create_department))
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{id}", get(get_project))
        .route("/workflows", get(list_workflows).post(publish_workflow))
        .route("/workflows/check", post(check_workflow))
        .route("/workflows/{id}/versions/{version}", get(get_workflow_version))
        .route("/cycles", post(start_cycle))
        .route("/cases", get(list_cases))
        .route("/cases/{id}", get(get_case))
        .route("/cases/{id}/retry", post(retry_case))
        .route("/tasks", get(list_tasks))
        .route("/inbox", get(inbox))
        .route("/tasks/{id}", get(get_task))
        .route("/tasks/{id}/complete", post(complete_task))
        .route("/tasks/{id}/decline", post(decline_task))
        .route("/schedules/fires", get(list_fires))
        .route("/outbox", get(list_outbox))
        .merge(monitoring::routes())
        .merge(evaluation::routes())
        .merge(exchange::routes())
        .merge(library::routes())
        .merge(report::routes())
        .route("/plugins", get(list_plugins).post(upload_plugin).layer(DefaultBodyLimit::max(PLUGIN_UPLOAD_LIMIT)))
        .layer(middleware::from_fn(json_errors));
    Router::new()
        .nest("/api/v1", v1)
        .merge(evaluation::public_routes().layer(middleware::from_fn(json_errors)))
        .merge(crate::web::routes(rt.clone()))
        .route("/api/openapi.json", get(openapi::document))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(middleware::from_fn_with_state(Arc::clone(&rt), observe))
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(rt)
}

/// Whatever refuses a request under `/api` or `/public` (a path or query value that does not
/// parse, a body over the limit, a method the route does not have), the answer is the API's error body
/// `{code, message, details}`, never axum's plain text.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "refused",
    };
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take that method".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this endpoint accepts".to_string(),
        _ if text.trim().is_empty() => status.canonical_reason().unwrap_or("refused").to_lowercase(),
        _ => text.trim().to_string(),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Headers every answer carries, pages and API alike: the browser must not guess a type
/// (`nosniff`), frame the answer or send its address elsewhere; an answer without a policy of
/// its own (JSON, CSV, public documents) may load nothing. An answer to a signed-in caller (a
/// token or a session cookie) is never stored by a cache.
async fn security_headers(req: Request, next: Next) -> Response {
    let authenticated = req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key(header::COOKIE);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            // Styles only, inline included (the public disclosure page carries its own); no scripts.
            header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        );
    }
    if authenticated && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    resp
}

/// Records each request's latency by route and status.
async fn observe(State(rt): State<Arc<Runtime>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // Labels come from closed sets (a client may send any token as a method, and every new
    // label value would be a series kept for ever): the standard methods or "other", the
    // matched route template or "unmatched".
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
    .to_string();
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let labels = crate::metrics::HttpLabels { method, route, status: resp.status().as_u16() };
    rt.metrics.http.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    resp
}

async fn readyz(State(rt): State<Arc<Runtime>>) -> Response {
    match rt.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable").into_response()
        }
    }
}

/// Who may read `/metrics`: a bearer of the `metrics_token` setting (the scraper's credential)
/// or of an admin's token. The figures name stages, queues and volumes of the county's work,
/// which are not for anyone who can reach the port.
async fn metrics_reader(rt: &Runtime, headers: &HeaderMap) -> ApiResult<()> {
    let token = auth::bearer_token(headers).ok_or_else(ApiError::unauthorized)?;
    if rt.settings.metrics_token.as_ref().is_some_and(|expected| same_secret(token, expected.expose())) {
        return Ok(());
    }
    match rt.store.user_by_token(token).await? {
        Some(u) if u.role == Role::Admin => Ok(()),
        Some(_) => Err(ApiError::forbidden("read the metrics (an admin's token or the metrics_token does)")),
        None => Err(ApiError::unauthorized()),
    }
}

async fn metrics(State(rt): State<Arc<Runtime>>, headers: HeaderMap) -> ApiResult<Response> {
    metrics_reader(&rt, &headers).await?;
    if let Some(depth) = rt.store.sqlite_queue_depth().await? {
        rt.metrics.queue_depth.set(depth);
    }
    rt.metrics.pending_inputs.set(rt.store.pending_input_count().await?);
    rt.metrics.cases.clear();
    for (stage, status, n) in rt.store.cases_per_stage().await? {
        rt.metrics.cases.get_or_create(&crate::metrics::StageLabels { stage, status }).set(n);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], rt.metrics.render()).into_response())
}

async fn me(c: Caller) -> Json<Value> {
    Json(json!(c.0))
}

/// What a user may change about themselves.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Preferences {
    #[schemars(extend("enum" = ["zh", "en", null]))]
    language: Option<String>,
    digest: Option<bool>,
}

/// Sets the caller's mail language and whether they take a daily digest.
async fn set_preferences(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(p): ApiJson<Preferences>,
) -> ApiResult<Json<Value>> {
    let user = rt.store.set_preferences(c.id(), p.language.as_deref(), p.digest, rt.clock.now_ms()).await?;
    Ok(Json(json!(user)))
}

async fn list_users(State(rt): State<Arc<Runtime>>, c: Caller, Query(p): Query<Page>) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin], "list users")?;
    let (limit, offset) = p.get()?;
    Ok(Json(json!({"items": rt.store.users(limit, offset).await?, "total": rt.store.user_count().await?})))
}

async fn create_user(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin], "create users")?;
    let user = rt.store.create_user(&u, rt.clock.now_ms(), Some(c.id())).await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordRequest {
    password: String,
}

/// Sets a user's password for the web pages (and ends their sessions).
async fn set_password(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(p): ApiJson<PasswordRequest>,
) -> ApiResult<StatusCode> {
    c.require(&[Role::Admin], "set passwords")?;
    rt.store.set_password(id, &p.password, rt.clock.now_ms(), Some(c.id())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    #[serde(default)]
    label: Option<String>,
}

async fn issue_token(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin], "issue tokens")?;
    let req: TokenRequest = if body.trim().is_empty() {
        TokenRequest { label: None }
    } else {
        require_object(body.as_bytes())?;
        serde_json::from_str(&body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("expected {{\"label\": \"...\"}}: {e}"))
        })?
    };
    let label = req.label.unwrap_or_else(|| "api".into());
    if label.chars().count() > 100 {
        return Err(ApiError::invalid(
            "the request is invalid",
            vec![crate::domain::FieldError {
                zh: None,
                path: "label".into(),
                message: "at most 100 characters".into(),
            }],
        ));
    }
    let token = rt.store.issue_token(id, &label, rt.clock.now_ms(), Some(c.id())).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user_id": id, "token": token, "note": "shown once; only its hash is stored"})),
    ))
}

async fn revoke_tokens(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin], "revoke tokens")?;
    let n = rt.store.revoke_tokens(id, rt.clock.now_ms(), Some(c.id())).await?;
    Ok(Json(json!({"user_id": id, "revoked": n})))
}

async fn list_departments(State(rt): State<Arc<Runtime>>, _c: Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": rt.store.departments().await?})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewDepartment {
    code: String,
    name: String,
    sector: String,
    #[serde(default)]
    head: String,
}

async fn create_department(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(d): ApiJson<NewDepartment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance], "create departments")?;
    let id = rt.store.create_department(&d.code, &d.name, &d.sector, &d.head, rt.clock.now_ms(), Some(c.id())).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "code": d.code, "name": d.name, "sector": d.sector, "head": d.head})),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ProjectQuery {
    fiscal_year: Option<i32>,
    sector: Option<String>,
    department_id: Option<i64>,
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

async fn list_projects(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    let department_id = match c.0.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => c.0.department_id,
        _ => {
            return Err(ApiError::forbidden("list projects (panel members see the projects of their tasks)"));
        }
    };
    let f = ProjectFilter { department_id, fiscal_year: q.fiscal_year, sector: q.sector };
    let (items, total) = rt.store.projects(&f, limit, offset).await?;
    Ok(Json(json!({"items": items, "total": total, "limit": limit, "offset": offset})))
}

async fn create_project(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(p): ApiJson<ProjectInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance, Role::Department], "create projects")?;
    if c.0.role == Role::Department {
        let own = rt.store.department_by_code(&p.department_code).await?;
        if own.map(|d| Some(d.id)) != Some(c.0.department_id) {
            return Err(ApiError::forbidden("create projects for another department"));
        }
    }
    let project = rt.store.create_project(&p, rt.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!(project))))
}

pub(crate) async fn get_project(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let p = rt.store.project(id).await?;
    // Panel members read the projects they review, a department user on another unit's panel
    // included.
    let visible = c.sees_department(p.department_id) || rt.store.is_assigned_to_project(c.id(), id).await?;
    if !visible {
        return Err(ApiError::not_found(format!("no project {id}")));
    }
    Ok(Json(json!(p)))
}

pub(crate) async fn list_workflows(State(rt): State<Arc<Runtime>>, _c: Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": rt.store.workflow_versions().await?})))
}

/// A workflow definition sent as JSON.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkflowSource {
    /// The definition's YAML text.
    source: String,
    /// The file name its diagnostics name (default `request`).
    #[serde(default)]
    file: Option<String>,
}

/// The definition's text: a YAML body, or JSON `{"source": "...", "file": "name"}`.
fn definition(headers: &HeaderMap, body: &str) -> ApiResult<(String, String)> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/json") {
        require_object(body.as_bytes())?;
        let d: WorkflowSource = serde_json::from_str(body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("expected {{\"source\": \"<yaml>\"}}: {e}"))
        })?;
        Ok((d.file.unwrap_or_else(|| "request".into()), d.source))
    } else {
        Ok(("request".into(), body.to_string()))
    }
}

async fn publish_workflow(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    headers: HeaderMap,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin], "publish workflows")?;
    let (file, source) = definition(&headers, &body)?;
    let now = rt.clock.now_ms();
    let installed = |n: &str, v: Option<&str>| rt.plugins.has(n, v);
    let p = rt.store.publish_workflow(&rt.registry, &file, &source, "api", Some(c.id()), now, &installed).await?;
    let status = if p.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!(p))))
}

async fn check_workflow(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin, Role::Finance], "check workflows")?;
    let (file, source) = definition(&headers, &body)?;
    let parsed = crate::workflow::parse(&file, &source).and_then(|wf| {
        let unknown = crate::workflow::check_plugins(&file, &wf, &|n, v| rt.plugins.has(n, v));
        if unknown.is_empty() { Ok(wf) } else { Err(unknown) }
    });
    match parsed {
        Ok(wf) => Ok(Json(
            json!({"ok": true, "workflow_id": wf.id, "version": wf.version, "stages": wf.stages.iter().map(|s| &s.id).collect::<Vec<_>>()}),
        )),
        Err(d) => Err(crate::store::workflows::PublishError::Invalid(d).into()),
    }
}

pub(crate) async fn get_workflow_version(
    State(rt): State<Arc<Runtime>>,
    _c: Caller,
    Path((id, version)): Path<(String, u32)>,
) -> ApiResult<Json<Value>> {
    let wf = rt.store.workflow(&rt.registry, &id, version).await?;
    let stages: Vec<Value> = wf
        .stages
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "kind": s.kind, "title": s.title,
                "when": s.when.as_ref().map(|e| e.source()),
                "schedules": s.schedules.iter().map(|x| json!({"cron": x.source, "runs": x.runs, "missed": x.missed})).collect::<Vec<_>>(),
                "lights": s.lights,
                "submit": s.submit.as_ref().map(|x| json!({"by": x.by, "form": x.form, "within": x.within.to_string()})),
                "checks": s.checks.as_ref().map(|c| json!({"plugins": c.plugins.iter().map(|p| p.plugin.to_string()).collect::<Vec<_>>(), "on_error": c.on_error, "on_failure": c.on_failure})),
                "panel": s.panel.as_ref().map(|p| json!({"department": p.department, "finance": p.finance, "expert": p.expert, "form": p.form, "within": p.within.to_string(), "aggregate": p.aggregate})),
                "scoring": s.scoring,
                "decide": s.decide.iter().map(|r| json!({"when": r.when.as_ref().map(|e| e.source()), "outcome": format!("{:?}", r.outcome)})).collect::<Vec<_>>(),
                "actions": s.actions.iter().map(|a| json!({"when": a.when.as_ref().map(|e| e.source()), "propose": a.kind, "percent": a.percent})).collect::<Vec<_>>(),
                "approve": s.approve.as_ref().map(|a| json!({"by": a.by, "within": a.within.to_string()})),
            })
        })
        .collect();
    Ok(Json(
        json!({"workflow_id": wf.id, "version": wf.version, "title": wf.title, "timezone": wf.timezone.name(), "stages": stages, "source": wf.source}),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CycleRequest {
    workflow_id: String,
    #[serde(default)]
    version: Option<u32>,
    fiscal_year: i32,
    #[serde(default)]
    project_codes: Option<Vec<String>>,
}

async fn start_cycle(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(r): ApiJson<CycleRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance], "start cycles")?;
    if r.project_codes.as_ref().is_some_and(|v| v.len() > 100_000) {
        return Err(ApiError::bad_request("at most 100000 project codes per cycle"));
    }
    let version = match r.version {
        Some(v) => v,
        None => rt
            .store
            .latest_workflow_version(&r.workflow_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no workflow '{}'", r.workflow_id)))?,
    };
    let cycle = rt
        .store
        .start_cycle(
            &r.workflow_id,
            version,
            r.fiscal_year,
            r.project_codes.as_deref(),
            Some(c.id()),
            rt.clock.now_ms(),
        )
        .await?;
    rt.wake.notify_one();
    Ok((StatusCode::CREATED, Json(json!(cycle))))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct CaseQuery {
    cycle_id: Option<i64>,
    stage: Option<String>,
    status: Option<String>,
    department_id: Option<i64>,
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

async fn list_cases(State(rt): State<Arc<Runtime>>, c: Caller, Query(q): Query<CaseQuery>) -> ApiResult<Json<Value>> {
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    let department_id = match c.0.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => c.0.department_id,
        _ => {
            return Err(ApiError::forbidden("list cases (panel members reach cases through their tasks)"));
        }
    };
    let f = CaseFilter { department_id, cycle_id: q.cycle_id, stage: q.stage, status: q.status };
    let (items, total) = rt.store.cases(&f, limit, offset).await?;
    Ok(Json(json!({"items": items, "total": total, "limit": limit, "offset": offset})))
}

/// Reviewers' identities are the bureau's business: departments and other panel members see
/// the opinions, not who wrote them.
fn redact_reviewers(view: &mut CaseView) {
    for e in &mut view.history {
        match e.kind.as_str() {
            "panel_drawn" => {
                if let Some(obj) = e.data.as_object_mut() {
                    obj.remove("members");
                    obj.remove("exclusions");
                    obj.remove("task_ids");
                }
            }
            "task_completed" if e.data.get("kind").and_then(|k| k.as_str()) == Some("review") => {
                e.actor_id = None;
                if let Some(obj) = e.data.as_object_mut() {
                    obj.remove("task_id");
                }
            }
            // Who declined, why, and who replaced them are the bureau's to know.
            "review_declined" | "member_replaced" => {
                e.actor_id = None;
                if let Some(obj) = e.data.as_object_mut() {
                    for k in ["task_id", "reason", "declined_task", "declined_user", "replacement", "exclusions"] {
                        obj.remove(k);
                    }
                }
            }
            _ => {}
        }
    }
    view.open_tasks.retain(|t| t.kind != "review");
}

/// Blind review: a panel member who has not yet scored sees no other member's score or
/// comment, whatever their role (the bureau's own member included).
fn blind(view: &mut CaseView) {
    for e in &mut view.history {
        if e.kind == "task_completed"
            && e.data.get("kind").and_then(|k| k.as_str()) == Some("review")
            && let Some(obj) = e.data.as_object_mut()
        {
            obj.remove("result");
        }
    }
}

pub(crate) async fn get_case(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let mut view = rt.store.case_view(id).await?;
    let me = c.id();
    if view.open_tasks.iter().any(|t| t.kind == "review" && t.assignee_id == Some(me)) {
        blind(&mut view);
    }
    match c.0.role {
        Role::Admin | Role::Finance => {}
        Role::Department if c.0.department_id == Some(view.summary.department_id) => redact_reviewers(&mut view),
        Role::Expert | Role::ThirdParty | Role::Department if rt.store.is_assigned_to_case(c.id(), id).await? => {
            let mine: Vec<_> = view.open_tasks.iter().filter(|t| t.assignee_id == Some(me)).cloned().collect();
            redact_reviewers(&mut view);
            view.open_tasks = mine;
        }
        _ => return Err(ApiError::not_found(format!("no case {id}"))),
    }
    Ok(Json(json!(view)))
}

async fn retry_case(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance], "retry cases")?;
    let summary = rt.store.case_summary(id).await?;
    if summary.status != "blocked" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("case {id} is {}, not blocked", summary.status),
        ));
    }
    rt.store.add_case_input(id, &Input::Retry, Some(c.id()), rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"case_id": id, "retry": "queued"}))))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct TaskQuery {
    #[schemars(extend("enum" = ["open", "completed", "cancelled", "declined"]))]
    status: Option<String>,
    case_id: Option<i64>,
    kind: Option<String>,
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

async fn list_tasks(State(rt): State<Arc<Runtime>>, c: Caller, Query(q): Query<TaskQuery>) -> ApiResult<Json<Value>> {
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(s) = &q.status
        && !["open", "completed", "cancelled", "declined"].contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!("status '{s}' is not open, completed, cancelled or declined")));
    }
    let scope = TaskScope::for_user(&c.0);
    let f = TaskFilter { status: q.status, case_id: q.case_id, kind: q.kind, ..Default::default() };
    let (items, total) = rt.store.tasks(&scope, &f, limit, offset).await?;
    let now = rt.clock.now_ms();
    let items: Vec<Value> = items
        .into_iter()
        .map(|t| {
            let overdue = t.status == "open" && t.due_ms < now;
            let mut v = json!(t);
            v["overdue"] = overdue.into();
            v
        })
        .collect();
    Ok(Json(json!({"items": items, "total": total, "limit": limit, "offset": offset})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct InboxQuery {
    #[schemars(extend("enum" = ["pending", "due_soon", "overdue"]))]
    state: Option<String>,
    #[schemars(extend("enum" = ["submission", "review", "approval"]))]
    kind: Option<String>,
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

/// How far ahead a deadline counts as due soon (the API's inbox and the inbox page).
pub const DUE_SOON_MS: i64 = 3 * 24 * 3600 * 1000;

/// The caller's open tasks with counts: all open (`pending`), due within three days
/// (`due_soon`), past their deadline (`overdue`); `state` picks which to list.
async fn inbox(State(rt): State<Arc<Runtime>>, c: Caller, Query(q): Query<InboxQuery>) -> ApiResult<Json<Value>> {
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(k) = &q.kind
        && !["submission", "review", "approval"].contains(&k.as_str())
    {
        return Err(ApiError::bad_request(format!("kind '{k}' is not submission, review or approval")));
    }
    let now = rt.clock.now_ms();
    let open = TaskFilter { status: Some("open".into()), kind: q.kind.clone(), ..Default::default() };
    let overdue = TaskFilter { due_before: Some(now), ..open.clone() };
    let soon = TaskFilter { due_from: Some(now), due_before: Some(now + DUE_SOON_MS), ..open.clone() };
    let state = q.state.unwrap_or_else(|| "pending".into());
    let chosen = match state.as_str() {
        "pending" => open.clone(),
        "due_soon" => soon.clone(),
        "overdue" => overdue.clone(),
        other => {
            return Err(ApiError::bad_request(format!("state '{other}' is not pending, due_soon or overdue")));
        }
    };
    let scope = TaskScope::for_user(&c.0);
    let (pending, due_soon, overdue_count) =
        rt.store.open_task_counts(&scope, q.kind.as_deref(), now, now + DUE_SOON_MS).await?;
    let counts = json!({"pending": pending, "due_soon": due_soon, "overdue": overdue_count});
    let total = match state.as_str() {
        "due_soon" => due_soon,
        "overdue" => overdue_count,
        _ => pending,
    };
    let items = rt.store.task_page(&scope, &chosen, limit, offset).await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|t| {
            let mut v = json!(t);
            v["overdue"] = (t.due_ms < now).into();
            v["due_soon"] = (t.due_ms >= now && t.due_ms < now + DUE_SOON_MS).into();
            v
        })
        .collect();
    Ok(Json(
        json!({"state": state, "counts": counts, "items": items, "total": total, "limit": limit, "offset": offset}),
    ))
}

pub(crate) async fn get_task(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let t = rt.store.task(id).await?;
    if !TaskScope::for_user(&c.0).may_see(&t) {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    Ok(Json(json!(t)))
}

pub(crate) async fn complete_task(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let t = rt.store.task(id).await?;
    if !TaskScope::for_user(&c.0).may_see(&t) {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    if !TaskScope::may_act(&c.0, &t) {
        return Err(ApiError::forbidden("complete this task"));
    }
    let done = rt.store.complete_task(&rt.registry, id, &c.0, &body, rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    Ok(Json(json!(done)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeclineRequest {
    pub(crate) reason: String,
}

pub(crate) async fn decline_task(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DeclineRequest>,
) -> ApiResult<Json<Value>> {
    let t = rt.store.task(id).await?;
    if !TaskScope::for_user(&c.0).may_see(&t) {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    if t.assignee_id != Some(c.id()) {
        return Err(ApiError::forbidden("decline a review assigned to someone else"));
    }
    let done = rt.store.decline_task(id, &c.0, &body.reason, rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    Ok(Json(json!(done)))
}

async fn list_fires(State(rt): State<Arc<Runtime>>, c: Caller) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin, Role::Finance], "read schedules")?;
    Ok(Json(json!({"items": rt.store.schedule_fires().await?})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    #[schemars(extend("enum" = ["queued", "sending", "sent", "failed", "cancelled", "digested"]))]
    status: Option<String>,
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
}

/// The mail outbox, newest first, with counts per status (the demo's mail without a server).
async fn list_outbox(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin, Role::Finance], "read the mail outbox")?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} is outside 1–1000")));
    }
    if let Some(s) = q.status.as_deref()
        && !["queued", "sending", "sent", "failed", "cancelled", "digested"].contains(&s)
    {
        return Err(ApiError::bad_request(format!(
            "status: '{s}' is not a mail status (expected queued, sending, sent, failed, cancelled or digested)"
        )));
    }
    // Counts first: mail only moves forward, so the rows read after them are at least as far
    // along as the counts say.
    let counts = rt.store.outbox_counts().await?;
    let items = rt.store.outbox(q.status.as_deref(), limit).await?;
    let transport = match &rt.mail {
        crate::notify::Transport::Smtp(_) => "smtp".to_string(),
        // Where on the server's disk is the operator's business, not the API's.
        crate::notify::Transport::Files(_) => "files in the mail folder (mail_dir)".to_string(),
    };
    Ok(Json(json!({"transport": transport, "counts": counts, "items": items})))
}

/// Largest plugin component accepted by upload.
const PLUGIN_UPLOAD_LIMIT: usize = 16 << 20;

async fn list_plugins(State(rt): State<Arc<Runtime>>, _c: Caller) -> ApiResult<Json<Value>> {
    let stored = rt.store.stored_plugins().await?;
    let loaded: Vec<(String, String)> =
        rt.plugins.list().iter().map(|p| (p.info.name.clone(), p.info.version.clone())).collect();
    let items: Vec<Value> = stored
        .into_iter()
        .map(|p| {
            let active = loaded.contains(&(p.name.clone(), p.version.clone()));
            json!({
                "name": p.name, "version": p.version, "sha256": p.sha256,
                "sectors": p.info["sectors"], "interface_version": p.info["interface_version"],
                "origin": p.origin, "uploaded_ms": p.uploaded_ms, "loaded": active,
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "interface_version": crate::plugin_host::INTERFACE_VERSION})))
}

/// Uploads a component (the request body, `application/wasm`). It is validated in the sandbox
/// before it is accepted: it must compile, implement interface 1.0.0, and check a sample project
/// within the limits.
async fn upload_plugin(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin], "upload plugins")?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "send the component's bytes as the request body (Content-Type: application/wasm)",
        ));
    }
    match crate::app::store_plugin(&rt, body.to_vec(), "api", Some(c.id())).await {
        Ok((p, created)) => Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(json!(p)))),
        Err(e) => match e.downcast::<crate::app::PluginRejected>() {
            Ok(rejected) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_plugin",
                format!("plugin refused: {}", rejected.0),
            )),
            Err(e) => match e.downcast::<crate::store::StoreError>() {
                Ok(se) => Err(se.into()),
                Err(e) => Err(ApiError::internal(e)),
            },
        },
    }
}
