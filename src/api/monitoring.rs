//! Double monitoring over HTTP: runs with their summaries and CSV, the budget ledger,
//! dispositions, and cases that join a cycle mid-year.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiJson;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::domain::Fen;
use crate::store::monitoring::NewDisposition;
use crate::workflow::Role;

const BUREAU: &[Role] = &[Role::Admin, Role::Finance];

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/monitoring/runs", get(list_runs))
        .route("/monitoring/runs/{id}", get(run_summary))
        .route("/monitoring/runs/{id}/reports.csv", get(run_csv))
        .route("/monitoring/runs/{id}/evaluate", post(evaluate_run))
        .route("/projects/{id}/budget", get(ledger).post(add_entry))
        .route("/dispositions", post(propose))
        .route("/dispositions/{id}", get(get_disposition))
        .route("/dispositions/{id}/decision", post(decide))
        .route("/cycles/{id}/cases", post(join_cycle))
}

async fn list_runs(State(rt): State<Arc<Runtime>>, c: Caller) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "see monitoring runs")?;
    Ok(Json(json!({"items": rt.store.monitoring_runs().await?})))
}

async fn run_summary(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "see monitoring runs")?;
    Ok(Json(rt.store.monitoring_summary(id).await?))
}

async fn run_csv(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<impl IntoResponse> {
    c.require(BUREAU, "see monitoring runs")?;
    let csv = rt.store.monitoring_csv(id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"monitoring-run-{id}.csv\"")),
        ],
        csv,
    ))
}

async fn evaluate_run(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "evaluate monitoring runs")?;
    rt.store.evaluate_run(&rt.registry, id, rt.clock.now_ms()).await?;
    Ok(Json(rt.store.monitoring_summary(id).await?))
}

async fn ledger(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let p = rt.store.project(id).await?;
    if !c.sees_department(p.department_id) {
        return Err(ApiError::not_found(format!("no project {id}")));
    }
    Ok(Json(rt.store.budget_ledger(id).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BudgetEntry")]
pub(crate) struct EntryRequest {
    kind: String,
    amount: Fen,
    reason: String,
}

async fn add_entry(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<EntryRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "change budgets")?;
    let entry = rt.store.add_budget_entry(id, &r.kind, r.amount, &r.reason, c.id(), rt.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!(entry))))
}

async fn propose(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(d): ApiJson<NewDisposition>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "propose dispositions")?;
    let d = rt.store.propose_disposition(&d, c.id(), rt.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!(d))))
}

async fn get_disposition(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "see dispositions")?;
    Ok(Json(json!(rt.store.disposition(id).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DispositionDecision")]
pub(crate) struct Decision {
    approve: bool,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<Decision>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "decide dispositions")?;
    let d = rt.store.disposition(id).await?;
    if d.approver_id != c.id() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("disposition {id} is for user {} to decide", d.approver_id),
        ));
    }
    Ok(Json(json!(rt.store.decide_disposition(id, r.approve, &r.note, c.id(), rt.clock.now_ms()).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinRequest {
    project_id: i64,
    stage: String,
}

async fn join_cycle(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(cycle_id): Path<i64>,
    ApiJson(r): ApiJson<JoinRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "add cases to a cycle")?;
    let cycle = rt.store.cycle(cycle_id).await?;
    let wf = rt.store.workflow(&rt.registry, &cycle.workflow_id, cycle.workflow_version).await?;
    if !wf.stages.iter().any(|s| s.id == r.stage) {
        let ids: Vec<&str> = wf.stages.iter().map(|s| s.id.as_str()).collect();
        return Err(ApiError::bad_request(format!(
            "stage: '{}' is not a stage of {} v{} (expected one of {})",
            r.stage,
            wf.id,
            wf.version,
            ids.join(", ")
        )));
    }
    let case_id = rt.store.add_case_midyear(cycle_id, r.project_id, &r.stage, c.id(), rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    Ok((StatusCode::CREATED, Json(json!({"case_id": case_id, "cycle_id": cycle_id, "stage": r.stage}))))
}
