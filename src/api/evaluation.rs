//! Evaluation over HTTP: spot-check draws and self-evaluation scores, result actions and the
//! per-department report of their budget effect, third parties and key evaluations, and
//! disclosures (published by the bureau, read by anyone).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiJson;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::domain::disclosure;
use crate::store::evaluation::ActionFilter;
use crate::store::key_eval::{KeyStep, NewKeyEvaluation, NewThirdParty};
use crate::workflow::Role;

const BUREAU: &[Role] = &[Role::Admin, Role::Finance];

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/spot-checks", post(draw_spot_check))
        .route("/spot-checks/{id}", get(get_spot_check))
        .route("/cases/{id}/self-evaluation", get(get_self_evaluation))
        .route("/self-evaluations/score", post(score_self_evaluations))
        .route("/actions", get(list_actions))
        .route("/actions/{id}", get(get_action))
        .route("/actions/{id}/decision", post(decide_action))
        .route("/actions/{id}/done", post(finish_action))
        .route("/reports/actions", get(action_report))
        .route("/third-parties", get(list_third_parties).post(create_third_party))
        .route("/key-evaluations", get(list_key_evaluations).post(create_key_evaluation))
        .route("/key-evaluations/{id}", get(get_key_evaluation))
        .route("/key-evaluations/{id}/steps", post(key_step))
        .route("/key-evaluations/{id}/actions", post(propose_key_action))
        .route("/disclosures", get(list_disclosures).post(publish_disclosure))
}

/// The public, unauthenticated routes (outside `/api/v1`).
pub fn public_routes() -> Router<Arc<Runtime>> {
    Router::new().route("/public/disclosures/{year}/{file}", get(public_disclosure))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SpotCheckRequest")]
pub(crate) struct DrawRequest {
    workflow_id: String,
    stage: String,
    /// A seed to draw with (a draw can be repeated exactly); random when absent.
    #[serde(default)]
    seed: Option<u64>,
}

async fn draw_spot_check(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(r): ApiJson<DrawRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "draw spot checks")?;
    let draws =
        rt.store.draw_spot_check(&rt.registry, &r.workflow_id, &r.stage, r.seed, c.id(), rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    Ok((StatusCode::CREATED, Json(json!({"items": draws}))))
}

async fn get_spot_check(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "see spot checks")?;
    Ok(Json(rt.store.spot_check(id).await?))
}

async fn get_self_evaluation(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let case = rt.store.case_summary(id).await?;
    if !c.sees_department(case.department_id) {
        return Err(ApiError::not_found(format!("no case {id}")));
    }
    let mut v = rt
        .store
        .self_evaluation(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id} has no self-evaluation yet")))?;
    if c.0.role == Role::Department
        && let Some(o) = v.as_object_mut()
    {
        // Who re-scored is the bureau's business.
        o.remove("reviewed_by");
    }
    Ok(Json(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScoreRequest {
    fiscal_year: i64,
}

/// Scores a year's stored self-evaluations again; on unchanged data nothing changes.
async fn score_self_evaluations(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(r): ApiJson<ScoreRequest>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "score self-evaluations")?;
    Ok(Json(json!(rt.store.score_self_evaluations(r.fiscal_year).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionQuery {
    fiscal_year: Option<i64>,
    department_id: Option<i64>,
    case_id: Option<i64>,
    status: Option<String>,
}

async fn list_actions(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<ActionQuery>,
) -> ApiResult<Json<Value>> {
    let department_id = match c.0.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => c.0.department_id,
        _ => return Err(ApiError::forbidden("see result actions")),
    };
    let f = ActionFilter { fiscal_year: q.fiscal_year, department_id, case_id: q.case_id, status: q.status };
    Ok(Json(json!({"items": rt.store.result_actions(&f).await?})))
}

async fn get_action(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let a = rt.store.result_action(id).await?;
    if !a["department_id"].as_i64().is_some_and(|d| c.sees_department(d)) {
        return Err(ApiError::not_found(format!("no result action {id}")));
    }
    Ok(Json(a))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionDecision {
    pub(crate) decision: String,
    #[serde(default)]
    pub(crate) comment: String,
}

pub(crate) async fn decide_action(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<ActionDecision>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "decide result actions")?;
    let approve = match r.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "decision: '{other}' is not a decision (expected approve or reject)"
            )));
        }
    };
    let a =
        rt.store.decide_action(&rt.registry, &rt.calendar, id, approve, &r.comment, c.id(), rt.clock.now_ms()).await?;
    Ok(Json(a))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ActionDone")]
pub(crate) struct Done {
    note: String,
}

async fn finish_action(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<Done>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "complete result actions")?;
    Ok(Json(rt.store.finish_action(id, &r.note, c.id(), rt.clock.now_ms()).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    fiscal_year: i64,
    department_id: Option<i64>,
}

async fn action_report(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    let department_id = match c.0.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => c.0.department_id,
        _ => return Err(ApiError::forbidden("see the result-application report")),
    };
    Ok(Json(rt.store.action_report(q.fiscal_year, department_id).await?))
}

async fn list_third_parties(State(rt): State<Arc<Runtime>>, c: Caller) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "see third parties")?;
    Ok(Json(json!({"items": rt.store.third_parties().await?})))
}

async fn create_third_party(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(t): ApiJson<NewThirdParty>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "register third parties")?;
    Ok((StatusCode::CREATED, Json(rt.store.create_third_party(&t, c.id(), rt.clock.now_ms()).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct YearQuery {
    fiscal_year: Option<i64>,
}

async fn list_key_evaluations(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<YearQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": rt.store.key_evaluations(&c.0, q.fiscal_year).await?})))
}

async fn create_key_evaluation(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(k): ApiJson<NewKeyEvaluation>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "commission key evaluations")?;
    Ok((StatusCode::CREATED, Json(rt.store.create_key_evaluation(&k, c.id(), rt.clock.now_ms()).await?)))
}

async fn get_key_evaluation(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    if rt.store.key_party(id, &c.0).await?.is_none() {
        return Err(ApiError::not_found(format!("no key evaluation {id}")));
    }
    Ok(Json(rt.store.key_evaluation(id).await?))
}

async fn key_step(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(step): ApiJson<KeyStep>,
) -> ApiResult<Json<Value>> {
    let party =
        rt.store.key_party(id, &c.0).await?.ok_or_else(|| ApiError::not_found(format!("no key evaluation {id}")))?;
    Ok(Json(rt.store.key_step(id, party, &step, c.id(), rt.clock.now_ms()).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyAction")]
pub(crate) struct KeyActionRequest {
    kind: crate::workflow::ActionKind,
    #[serde(default)]
    percent: Option<u32>,
    #[serde(default)]
    amount: Option<crate::domain::Fen>,
    #[serde(default)]
    note: String,
}

/// The bureau turns a finished key evaluation's result into a proposed action, decided at
/// `/actions/{id}/decision`.
async fn propose_key_action(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<KeyActionRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "propose result actions")?;
    let a = rt.store.propose_key_action(id, r.kind, r.percent, r.amount, &r.note, rt.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn list_disclosures(State(rt): State<Arc<Runtime>>, c: Caller) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "list disclosures")?;
    Ok(Json(json!({"items": rt.store.disclosures().await?})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishRequest {
    pub(crate) fiscal_year: i64,
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) title: Option<String>,
    /// Required from the second version on: what the correction changes.
    #[serde(default)]
    pub(crate) correction_note: String,
}

pub(crate) async fn publish_disclosure(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    ApiJson(r): ApiJson<PublishRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(BUREAU, "publish disclosures")?;
    let v = rt
        .store
        .publish_disclosure(r.fiscal_year, &r.kind, r.title.as_deref(), &r.correction_note, c.id(), rt.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionQuery {
    version: Option<i64>,
}

/// `GET /public/disclosures/{year}/{kind}.{json|csv|html}`: a published disclosure, to anyone.
async fn public_disclosure(
    State(rt): State<Arc<Runtime>>,
    Path((year, file)): Path<(i64, String)>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Response> {
    let Some((kind, format)) = file.rsplit_once('.') else {
        return Err(ApiError::not_found(format!(
            "no disclosure '{file}' (expected targets or results with .json, .csv or .html)"
        )));
    };
    if !matches!(kind, "targets" | "results") || !matches!(format, "json" | "csv" | "html") {
        return Err(ApiError::not_found(format!(
            "no disclosure '{file}' (expected targets or results with .json, .csv or .html)"
        )));
    }
    let (doc, sha) = rt.store.disclosure(year, kind, q.version).await?;
    let etag = format!("\"{sha}\"");
    let name = format!("{kind}-{year}-v{}.{format}", doc.version);
    Ok(match format {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                (header::ETAG, etag),
            ],
            disclosure::to_csv(&doc),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()), (header::ETAG, etag)],
            disclosure::to_html(&doc),
        )
            .into_response(),
        _ => ([(header::ETAG, etag)], Json(json!(doc))).into_response(),
    })
}
