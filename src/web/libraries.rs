//! The indicator-library pages: the libraries, and one library's version in use with its
//! versions; the bureau approves or rejects a department's proposed version here, each entry
//! marked as new, changed or unchanged against the version in use. Decisions go through the
//! API's handler.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tasks::refused;
use super::{Lang, Visitor};
use crate::api::ApiJson;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::app::Runtime;
use crate::domain::library::{LibraryIndicator, squeeze};
use crate::exchange::library::{from_text, to_text};
use crate::store::sessions::Session;
use crate::workflow::Role;

pub(super) async fn libraries(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match super::signed_in(session, lang, "/libraries") {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let only = (session.user.role == Role::Department).then(|| session.user.department_id.unwrap_or(-1));
    let items = match rt.store.libraries(only).await {
        Ok(items) => items,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    // A department without a library of its own is offered to start one.
    let own = match session.user.department_id {
        Some(d) if session.user.role == Role::Department => {
            rt.store.departments().await.ok().and_then(|all| all.into_iter().find(|x| x.id == d)).map(|d| d.code)
        }
        _ => None,
    };
    let start = own.map(|c| format!("department:{c}")).filter(|code| !items.iter().any(|l| &l.code == code));
    super::show(&rt, &lang, &session, "libraries.html", json!({"libraries": items, "lib_start": start}))
}

/// Each entry of `entries` as a row, marked against the version in use.
fn rows(entries: &[LibraryIndicator], current: &[LibraryIndicator]) -> Vec<Value> {
    let by_name: BTreeMap<String, &LibraryIndicator> = current.iter().map(|e| (squeeze(&e.name), e)).collect();
    entries
        .iter()
        .map(|e| {
            let mark = match by_name.get(&squeeze(&e.name)) {
                None => "new",
                Some(c) if *c != e => "changed",
                Some(_) => "same",
            };
            let lists = [&e.applies.sectors, &e.applies.departments, &e.applies.project_types];
            let applies: Vec<String> = lists.iter().filter(|l| !l.is_empty()).map(|l| l.join("、")).collect();
            json!({
                "name": e.name, "level": format!("{} / {}", e.level1.label(), e.level2),
                "target": format!("{} {} {}", e.operator.symbol(), e.value, e.unit).trim().to_string(),
                "basis": e.basis, "source": e.source, "core": e.core, "mark": mark, "applies": applies.join("；"),
            })
        })
        .collect()
}

pub(super) async fn library(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(code): Path<String>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, &format!("/libraries/{code}")) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    page(&rt, &lang, &session, &code, None).await
}

/// A new version as posted back with what was wrong with it.
struct Draft {
    rows: String,
    note: String,
    problems: Vec<String>,
}

/// Whether the visitor may write library `code`: a department's library, by that department
/// or by the bureau (the bureau's versions are published, the department's proposed).
async fn writable(rt: &Runtime, session: &Session, code: &str) -> bool {
    let Some(dept) = code.strip_prefix("department:") else { return false };
    match rt.store.department_by_code(dept).await {
        Ok(Some(d)) => Caller(session.user.clone()).sees_department(d.id),
        _ => false,
    }
}

/// The library page: the version in use, the versions with the proposals to decide, and for
/// whoever may write it the rows to copy out, edit and paste back as a new version.
async fn page(rt: &Runtime, lang: &Lang, session: &Session, code: &str, draft: Option<Draft>) -> Response {
    let caller = Caller(session.user.clone());
    let writable = writable(rt, session, code).await;
    let versions = match crate::api::library::list_all_versions(rt, &caller, code).await {
        Ok(v) => v,
        // A department's library not written yet: its first version is written here.
        Err(e) if e.status == StatusCode::NOT_FOUND && writable => Vec::new(),
        Err(e) => return refused(rt, &lang.0, session, e),
    };
    let current = versions.iter().find(|v| v.status == "published");
    let current_entries = current.map(|v| v.entries.clone()).unwrap_or_default();
    let bureau = super::is_bureau(session);
    let shown: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "version": v.version, "status": v.status, "origin": v.origin, "note": v.note,
                "decision_note": v.decision_note, "count": v.entries.len(),
                "decidable": bureau && v.status == "proposed",
                "rows": if v.status == "proposed" { json!(rows(&v.entries, &current_entries)) } else { json!([]) },
            })
        })
        .collect();
    let failed = draft.as_ref().is_some_and(|d| !d.problems.is_empty());
    let draft =
        draft.unwrap_or_else(|| Draft { rows: to_text(&current_entries), note: String::new(), problems: Vec::new() });
    let ctx = json!({
        "lib_code": code,
        "lib_current": current.map(|v| v.version),
        "lib_entries": rows(&current_entries, &current_entries),
        "lib_versions": shown,
        "lib_writable": writable, "lib_publishes": bureau,
        "lib_rows": draft.rows, "lib_note": draft.note, "lib_problems": draft.problems,
    });
    let mut resp = super::show(rt, lang, session, "library.html", ctx);
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

#[derive(Deserialize)]
pub(super) struct VersionForm {
    csrf: String,
    rows: String,
    #[serde(default)]
    note: String,
}

/// What an entry's field is called in the pasted rows.
fn column_of(field: &str) -> &'static str {
    match field {
        "level1" => "一级指标",
        "level2" => "二级指标",
        "name" => "三级指标",
        "operator" => "指标性质",
        "value" => "指标值",
        "unit" => "度量单位",
        "weight" => "分值",
        "basis" => "取值依据",
        "source" => "依据来源",
        "explanation" => "指标解释",
        "core" => "核心指标",
        _ => "适用范围",
    }
}

/// A problem placed at its line (and column) of the pasted rows.
fn at_line(zh: bool, line: Option<usize>, column: Option<&str>, message: &str) -> String {
    match (zh, line, column) {
        (true, Some(l), Some(c)) => format!("第 {l} 行（{c}）：{message}"),
        (true, Some(l), None) => format!("第 {l} 行：{message}"),
        (false, Some(l), Some(c)) => format!("line {l} ({c}): {message}"),
        (false, Some(l), None) => format!("line {l}: {message}"),
        (_, None, _) => message.to_string(),
    }
}

/// A new version of a department's library from pasted rows, written through the API's
/// handler: proposed when the department writes it, published when the bureau does.
pub(super) async fn write(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(code): Path<String>,
    Form(f): Form<VersionForm>,
) -> Response {
    let back = format!("/libraries/{code}");
    let (session, lang) = match super::form_poster(session, lang, &back, Some(&f.csrf)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    // Who may write the library is the API handler's to decide, below.
    let zh = lang.0 == "zh";
    let (entries, lines) = match from_text(&f.rows) {
        Ok(x) => x,
        Err(problems) => {
            let problems = problems.iter().map(|p| at_line(zh, Some(p.line), p.column, &p.message)).collect();
            return page(&rt, &lang, &session, &code, Some(Draft { rows: f.rows, note: f.note, problems })).await;
        }
    };
    let body = crate::api::library::NewVersion { entries, note: f.note.clone() };
    match crate::api::library::write_version(
        State(rt.clone()),
        Caller(session.user.clone()),
        Path(code.clone()),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            // Field errors name `entries[i].field`: each is shown at the line entry i came from.
            let mut problems: Vec<String> = e
                .body
                .details
                .iter()
                .map(|d| {
                    let path = d["path"].as_str().unwrap_or_default();
                    let index = path.strip_prefix("entries[").and_then(|r| r.split(']').next()?.parse::<usize>().ok());
                    let field = path.split('.').nth(1).map(|f| column_of(f.split('[').next().unwrap_or(f)));
                    let message =
                        if zh { d["message_zh"].as_str() } else { None }.or(d["message"].as_str()).unwrap_or_default();
                    at_line(zh, index.and_then(|i| lines.get(i).copied()), field, message)
                })
                .collect();
            if problems.is_empty() {
                problems.push(e.body.message.clone());
            }
            page(&rt, &lang, &session, &code, Some(Draft { rows: f.rows, note: f.note, problems })).await
        }
        Err(e) if e.status == StatusCode::CONFLICT => {
            let problems = vec![e.body.message.clone()];
            page(&rt, &lang, &session, &code, Some(Draft { rows: f.rows, note: f.note, problems })).await
        }
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn decide(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path((code, version)): Path<(String, i64)>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let back = format!("/libraries/{code}");
    let (session, lang) = match super::form_poster(session, lang, &back, Some(&f.csrf)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            let e = ApiError::bad_request(format!("'{other}' is not a decision (approve or reject)"));
            return refused(&rt, &lang.0, &session, e);
        }
    };
    let body = crate::api::library::Decision { approve, note: f.note };
    match crate::api::library::decide(
        State(rt.clone()),
        Caller(session.user.clone()),
        Path((code, version)),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}
