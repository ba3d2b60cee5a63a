//! Indicator libraries over HTTP (the versions, a department's proposals and the bureau's
//! decisions), fill-and-use for a project's targets (the proposal and the flags), and
//! departments' overall declarations (部门整体).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiJson;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::domain::Indicator;
use crate::domain::library::{self, LibraryIndicator};
use crate::domain::project::OverallInput;
use crate::store::libraries::LibraryVersionRow;
use crate::store::people::Department;
use crate::store::projects::Project;
use crate::workflow::Role;

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/libraries", get(list_libraries))
        .route("/libraries/{code}", get(get_library))
        .route("/libraries/{code}/versions", get(list_versions).post(write_version))
        .route("/libraries/{code}/versions/{version}/decision", post(decide))
        .route("/projects/{id}/targets/proposal", get(proposal))
        .route("/projects/{id}/targets/check", post(check_targets))
        .route("/departments/{code}/overall/{year}", get(get_overall).put(put_overall))
}

async fn list_libraries(State(rt): State<Arc<Runtime>>, c: Caller) -> ApiResult<Json<Value>> {
    // A department sees the sector libraries and its own; everyone else sees all.
    let only = if c.0.role == Role::Department { Some(c.0.department_id.unwrap_or(-1)) } else { None };
    Ok(Json(json!({"items": rt.store.libraries(only).await?})))
}

/// Whether the caller may read library `code`: a department's library is not shown to other
/// departments.
async fn readable(rt: &Runtime, c: &Caller, code: &str) -> ApiResult<()> {
    let owner = rt.store.library_department(code).await?;
    match owner {
        Some(d) if c.0.role == Role::Department && c.0.department_id != Some(d) => {
            Err(ApiError::not_found(format!("no indicator library '{code}'")))
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct VersionQuery {
    version: Option<i64>,
}

async fn get_library(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(code): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    readable(&rt, &c, &code).await?;
    Ok(Json(json!(rt.store.library_version(&code, q.version).await?)))
}

/// Every version of a library the caller may read, newest first.
pub(crate) async fn list_all_versions(rt: &Runtime, c: &Caller, code: &str) -> ApiResult<Vec<LibraryVersionRow>> {
    readable(rt, c, code).await?;
    Ok(rt.store.library_versions(code).await?)
}

async fn list_versions(State(rt): State<Arc<Runtime>>, c: Caller, Path(code): Path<String>) -> ApiResult<Json<Value>> {
    let versions = list_all_versions(&rt, &c, &code).await?;
    let items: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            let n = v.entries.len();
            let mut row = json!(v);
            row["entries"] = json!(n);
            row
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LibraryVersion")]
pub(crate) struct NewVersion {
    pub entries: Vec<LibraryIndicator>,
    #[serde(default)]
    pub note: String,
}

/// The department a library code names (`department:<code>`).
async fn library_owner(rt: &Runtime, code: &str) -> ApiResult<Department> {
    if code.starts_with("sector:") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "'{code}' is a sector common library: its only source is the indicator plugins' data, updated with the plugins; write a department's library (department:<code>) instead"
            ),
        ));
    }
    let Some(dept_code) = code.strip_prefix("department:") else {
        return Err(ApiError::not_found(format!(
            "no indicator library '{code}' (expected sector:<sector> or department:<department code>)"
        )));
    };
    rt.store
        .department_by_code(dept_code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no department '{dept_code}' for library '{code}'")))
}

/// A new version of a department's library: the bureau's is published at once; the
/// department's own is proposed and waits for the bureau.
pub(crate) async fn write_version(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<NewVersion>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance, Role::Department], "write indicator libraries")?;
    let dept = library_owner(&rt, &code).await?;
    if !c.sees_department(dept.id) {
        return Err(ApiError::forbidden("write another department's indicator library"));
    }
    let publish = c.is_bureau();
    let v = rt
        .store
        .write_department_library(&dept, &body.entries, &body.note, publish, Some(c.id()), rt.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(v))))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LibraryDecision")]
pub(crate) struct Decision {
    pub approve: bool,
    #[serde(default)]
    pub note: String,
}

pub(crate) async fn decide(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path((code, version)): Path<(String, i64)>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin, Role::Finance], "approve indicator libraries")?;
    let v = rt.store.decide_library(&code, version, d.approve, &d.note, Some(c.id()), rt.clock.now_ms()).await?;
    Ok(Json(json!(v)))
}

/// The project, if the caller may see it (its department, the bureau, its panel members).
pub(crate) async fn visible_project(rt: &Runtime, c: &Caller, id: i64) -> ApiResult<Project> {
    let p = rt.store.project(id).await?;
    if c.sees_department(p.department_id) || rt.store.is_assigned_to_project(c.id(), id).await? {
        Ok(p)
    } else {
        Err(ApiError::not_found(format!("no project {id}")))
    }
}

/// Fill-and-use: the library entries that apply, the indicators to start from, and each
/// one's basis with its flags.
async fn proposal(State(rt): State<Arc<Runtime>>, c: Caller, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let p = visible_project(&rt, &c, id).await?;
    let proposal = rt.store.targets_proposal(&p).await?;
    let flags = library::flags(&proposal.prefill, &proposal.basis, &rt.settings.flag_rules());
    let mut out = json!(proposal);
    out["flags"] = json!(flags);
    Ok(Json(out))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Targets")]
pub(crate) struct TargetsBody {
    indicators: Vec<Indicator>,
}

/// The flags a set of targets would raise, before they are submitted: values far from the
/// project's history or from the sector's range. Warnings; nothing is stored.
async fn check_targets(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<TargetsBody>,
) -> ApiResult<Json<Value>> {
    let p = visible_project(&rt, &c, id).await?;
    if body.indicators.len() > 200 {
        return Err(ApiError::bad_request("at most 200 indicators"));
    }
    let basis = rt.store.value_basis(&p, &body.indicators).await?;
    let flags = library::flags(&body.indicators, &basis, &rt.settings.flag_rules());
    Ok(Json(json!({"flags": flags, "basis": basis})))
}

async fn department_for(rt: &Runtime, c: &Caller, code: &str) -> ApiResult<Department> {
    let dept = rt.store.department_by_code(code).await?;
    match dept {
        Some(d) if c.sees_department(d.id) => Ok(d),
        _ => Err(ApiError::not_found(format!("no department '{code}'"))),
    }
}

async fn get_overall(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path((code, year)): Path<(String, i32)>,
) -> ApiResult<Json<Value>> {
    c.require(&[Role::Admin, Role::Finance, Role::Department], "read departments' overall declarations")?;
    let dept = department_for(&rt, &c, &code).await?;
    Ok(Json(json!(rt.store.department_overall(&dept, year).await?)))
}

/// A department's overall declaration for a year, by the department or the bureau.
async fn put_overall(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path((code, year)): Path<(String, i32)>,
    ApiJson(body): ApiJson<OverallInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    c.require(&[Role::Admin, Role::Finance, Role::Department], "declare departments' overall targets")?;
    let dept = department_for(&rt, &c, &code).await?;
    let (overall, created) =
        rt.store.put_department_overall(&dept, year, &body, Some(c.id()), rt.clock.now_ms()).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(json!(overall))))
}
