//! The indicator-library pages: the libraries, and one library's version in use with its
//! versions; the bureau approves or rejects a department's proposed version here, each entry
//! marked as new, changed or unchanged against the version in use. Decisions go through the
//! API's handler.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
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
use crate::workflow::Role;

pub(super) async fn libraries(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match super::signed_in(session, lang, "/libraries") {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let only = (session.user.role == Role::Department).then(|| session.user.department_id.unwrap_or(-1));
    match rt.store.libraries(only).await {
        Ok(items) => super::show(&rt, &lang, &session, "libraries.html", json!({"libraries": items})),
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
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
    let caller = Caller(session.user.clone());
    let versions = match crate::api::library::list_all_versions(&rt, &caller, &code).await {
        Ok(v) => v,
        Err(e) => return refused(&rt, &lang.0, &session, e),
    };
    let current = versions.iter().find(|v| v.status == "published");
    let current_entries = current.map(|v| v.entries.clone()).unwrap_or_default();
    let bureau = super::is_bureau(&session);
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
    let ctx = json!({
        "lib_code": code,
        "lib_current": current.map(|v| v.version),
        "lib_entries": rows(&current_entries, &current_entries),
        "lib_versions": shown,
    });
    super::show(&rt, &lang, &session, "library.html", ctx)
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
    let (session, lang) = match super::signed_in(session, lang, &back) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    if let Some(r) = super::csrf_refusal(&session, &lang, Some(&f.csrf)) {
        return r;
    }
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
