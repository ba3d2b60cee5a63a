//! Spreadsheets over HTTP: imports (XLSX or CSV, with a dry run that reports every problem at
//! its sheet, row and column) and exports of the bureau's lists as XLSX or CSV.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::exchange::{Table, to_csv, to_xlsx};
use crate::workflow::Role;

/// The largest spreadsheet an import takes (a county's 26,000 indicator rows are about 2 MB).
pub const IMPORT_LIMIT: usize = 32 << 20;

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/imports", post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)))
        .route("/exports/{file}", get(export_list))
        .route("/exports/monitoring-runs/{file}", get(export_run))
        .route("/exports/disclosures/{year}/{file}", get(export_disclosure))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// The file's name, e.g. 2024年项目绩效目标.xlsx (its extension helps tell the format).
    file: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Imports a spreadsheet sent as the request body. The bureau imports anything; an admin alone
/// imports users and experts; a department imports its own projects. A dry run, or a file with
/// any problem, stores nothing and answers with every problem (422 for a file with problems).
async fn import(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    c.require(&[Role::Admin, Role::Finance, Role::Department], "import spreadsheets")?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "send the XLSX or CSV file as the request body, with ?file=NAME.xlsx (or .csv)",
        ));
    }
    let name = q.file.unwrap_or_else(|| "upload.xlsx".into());
    let parsed = rt.store.parse_spreadsheet(&name, body.to_vec()).await?;
    if !parsed.users.is_empty() && c.0.role != Role::Admin {
        return Err(ApiError::forbidden("import users and experts (an admin does)"));
    }
    if c.0.role == Role::Department {
        let own = rt.store.department_code(c.0.department_id.unwrap_or_default()).await?;
        if !parsed.departments.is_empty() {
            return Err(ApiError::forbidden("import departments (the bureau does)"));
        }
        if let Some(p) = parsed.projects.iter().find(|p| p.record.department_code != own) {
            return Err(ApiError::forbidden(&format!(
                "import projects of another department ('{}' at {} row {} belongs to {})",
                p.record.code, p.origin.sheet, p.origin.row, p.record.department_code
            )));
        }
    }
    let report = rt.store.import_parsed(&name, &parsed, q.dry_run, rt.clock.now_ms(), Some(c.id())).await?;
    let status = if report.problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    fiscal_year: Option<i32>,
    department_id: Option<i64>,
    version: Option<i64>,
}

/// Splits `name.xlsx` or `name.csv`.
fn split_format(file: &str) -> ApiResult<(&str, &str)> {
    match file.rsplit_once('.') {
        Some((stem, ext @ ("xlsx" | "csv"))) => Ok((stem, ext)),
        _ => Err(ApiError::not_found(format!("no export '{file}' (expected NAME.xlsx or NAME.csv)"))),
    }
}

/// Tables as an XLSX download (a sheet each) or the first as CSV.
fn download(tables: &[Table], stem: &str, ext: &str) -> ApiResult<Response> {
    let (content_type, body) = match (ext, tables.first()) {
        ("csv", Some(first)) => ("text/csv; charset=utf-8", to_csv(first).into_bytes()),
        _ => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            to_xlsx(tables).map_err(ApiError::internal)?,
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{stem}.{ext}\"")),
        ],
        body,
    )
        .into_response())
}

/// A year's lists: `projects`, `self-evaluations`, `actions`. The bureau sees every
/// department (or one with `department_id`); a department sees its own.
async fn export_list(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(file): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (stem, ext) = split_format(&file)?;
    c.require(&[Role::Admin, Role::Finance, Role::Department], "export lists")?;
    let department = if c.is_bureau() { q.department_id } else { c.0.department_id };
    let year = q.fiscal_year.ok_or_else(|| ApiError::bad_request("fiscal_year is required, e.g. ?fiscal_year=2024"))?;
    let table = match stem {
        "projects" => rt.store.export_projects(year, department).await?,
        "self-evaluations" => rt.store.export_self_evaluations(year, department).await?,
        "actions" => rt.store.export_actions(year, department).await?,
        other => {
            return Err(ApiError::not_found(format!(
                "no export '{other}' (expected projects, self-evaluations or actions)"
            )));
        }
    };
    download(&[table], &format!("{stem}-{year}"), ext)
}

/// One monitoring run (the bureau): as XLSX its summary per department and every report with
/// its lights on a second sheet; as CSV the reports.
async fn export_run(State(rt): State<Arc<Runtime>>, c: Caller, Path(file): Path<String>) -> ApiResult<Response> {
    let (stem, ext) = split_format(&file)?;
    c.require(&[Role::Admin, Role::Finance], "export monitoring runs")?;
    let id: i64 = stem.parse().map_err(|_| ApiError::not_found(format!("no monitoring run '{stem}'")))?;
    let reports = rt.store.export_monitoring(id).await?;
    if ext == "csv" {
        return download(&[reports], &format!("monitoring-run-{id}"), ext);
    }
    let summary = rt.store.export_monitoring_summary(id).await?;
    download(&[summary, reports], &format!("monitoring-run-{id}"), ext)
}

/// A published disclosure (`targets` or `results`), the latest version or `?version=N`.
async fn export_disclosure(
    State(rt): State<Arc<Runtime>>,
    _c: Caller,
    Path((year, file)): Path<(i64, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (kind, ext) = split_format(&file)?;
    if kind != "targets" && kind != "results" {
        return Err(ApiError::not_found(format!("no disclosure '{kind}' (expected targets or results)")));
    }
    let table = rt.store.export_disclosure(year, kind, q.version).await?;
    download(&[table], &format!("disclosure-{year}-{kind}"), ext)
}
