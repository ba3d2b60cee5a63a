//! The annual report's pages for the bureau: the year's figures beside earlier years, each a
//! link to the list it counts, and the workbook.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde_json::json;

use super::tasks::refused;
use super::{Lang, Visitor};
use crate::api::error::ApiError;
use crate::app::Runtime;

pub(super) async fn report(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/report", "open the annual report") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let this_year = chrono::DateTime::from_timestamp_millis(rt.clock.now_ms()).map_or(2023, |t| t.year());
    let year = match q.get("year").map(|y| y.trim().parse::<i32>()) {
        None => this_year,
        Some(Ok(y)) => y,
        Some(Err(_)) => return refused(&rt, &lang.0, &session, ApiError::bad_request("the year is not a number")),
    };
    match crate::api::report::build(&rt, year, Some(2)).await {
        Ok(r) => super::show(&rt, &lang, &session, "report.html", json!({"report": r, "year": year})),
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

pub(super) async fn figure(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path((year, key)): Path<(i32, String)>,
) -> Response {
    let (session, lang) =
        match super::bureau_visitor(&rt, session, lang, &format!("/report/{year}/{key}"), "open the annual report") {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let Some(f) = crate::store::report::figure(&key) else {
        return refused(&rt, &lang.0, &session, ApiError::not_found(format!("no figure '{key}'")));
    };
    match rt.store.figure_items(&key, year, 1000, 0).await {
        Ok((items, total)) => super::show(
            &rt,
            &lang,
            &session,
            "report_list.html",
            json!({"year": year, "label": if lang.0 == "en" { f.label_en } else { f.label_zh }, "items": items, "total": total}),
        ),
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

pub(super) async fn workbook(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(year): Path<i32>,
) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/report", "open the annual report") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match crate::api::report::xlsx(&rt, year, Some(2)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"annual-report-{year}.xlsx\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}
