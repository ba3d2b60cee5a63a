//! The bureau's annual report over HTTP: the year's figures with earlier years beside them,
//! each figure's list, and the whole as a workbook.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Page;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app::Runtime;
use crate::exchange::write::{Column, ColumnKind, Table, Value as Cell};
use crate::store::report::{self, FIGURES};
use crate::workflow::Role;

const BUREAU: &[Role] = &[Role::Admin, Role::Finance];

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/reports/annual/{year}", get(annual))
        .route("/reports/annual/{year}/figures/{key}", get(items))
        .route("/reports/annual/{year}/report.xlsx", get(workbook))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Compare {
    compare: Option<i32>,
}

fn year_ok(year: i32) -> ApiResult<()> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{year} is not a fiscal year between 2000 and 2100")))
    }
}

/// The report for `year` with `compare` earlier years (default 2, at most 10).
pub(crate) async fn build(rt: &Runtime, year: i32, compare: Option<i32>) -> ApiResult<Value> {
    year_ok(year)?;
    let compare = compare.unwrap_or(2);
    if !(0..=10).contains(&compare) {
        return Err(ApiError::bad_request(format!("compare {compare} is outside 0–10 earlier years")));
    }
    let years: Vec<i32> = (0..=compare).map(|k| year - k).collect();
    let mut figures = Vec::new();
    let mut issued = vec![0i64; years.len()];
    for f in FIGURES {
        let mut values = Vec::new();
        for y in &years {
            values.push(rt.store.figure_value(f, *y).await?);
        }
        if f.key == "monitoring_issued" {
            issued = values.iter().map(|v| v.count).collect();
        }
        let with_rate = |i: usize, v: &report::Value| {
            let mut out = json!(v);
            if f.key == "monitoring_filled" {
                out["rate"] = json!(report::rate(v.count, issued[i]).map(|r| r.to_string()));
            }
            out
        };
        let mut row = with_rate(0, &values[0]);
        row["key"] = json!(f.key);
        row["label"] = json!(f.label_zh);
        row["label_en"] = json!(f.label_en);
        row["list"] = json!(format!("/api/v1/reports/annual/{year}/figures/{}", f.key));
        row["previous"] = json!(values.iter().enumerate().skip(1).map(|(i, v)| with_rate(i, v)).collect::<Vec<_>>());
        figures.push(row);
    }
    Ok(json!({"fiscal_year": year, "compared_with": &years[1..], "figures": figures}))
}

async fn annual(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(year): Path<i32>,
    Query(q): Query<Compare>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "read the annual report")?;
    Ok(Json(build(&rt, year, q.compare).await?))
}

async fn items(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path((year, key)): Path<(i32, String)>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    c.require(BUREAU, "read the annual report")?;
    year_ok(year)?;
    let (limit, offset) = page.get()?;
    let (items, total) = rt.store.figure_items(&key, year, limit, offset).await?;
    Ok(Json(json!({"fiscal_year": year, "figure": key, "items": items, "total": total})))
}

/// The report as a workbook: the figures with the earlier years and each figure's list URL,
/// then a sheet per figure with the rows it counts.
async fn workbook(
    State(rt): State<Arc<Runtime>>,
    c: Caller,
    Path(year): Path<i32>,
    Query(q): Query<Compare>,
) -> ApiResult<Response> {
    c.require(BUREAU, "read the annual report")?;
    let bytes = xlsx(&rt, year, q.compare).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"annual-report-{year}.xlsx\"")),
        ],
        bytes,
    )
        .into_response())
}

/// The workbook's bytes.
pub(crate) async fn xlsx(rt: &Runtime, year: i32, compare: Option<i32>) -> ApiResult<Vec<u8>> {
    let report = build(rt, year, compare).await?;
    let earlier: Vec<i64> =
        report["compared_with"].as_array().into_iter().flatten().filter_map(|y| y.as_i64()).collect();
    let mut columns =
        vec![Column::text("指标"), Column::text("Figure"), Column::new(format!("{year}年"), ColumnKind::Integer)];
    columns.push(Column::new(format!("{year}年金额（元）"), ColumnKind::Money));
    for y in &earlier {
        columns.push(Column::new(format!("{y}年"), ColumnKind::Integer));
        columns.push(Column::new(format!("{y}年金额（元）"), ColumnKind::Money));
    }
    columns.push(Column::new("完成率", ColumnKind::Percent));
    columns.push(Column::text("清单"));
    columns.push(Column::text("本工作簿中的清单"));
    let money = |v: &Value| match v["amount"].as_str().and_then(|a| a.parse().ok()) {
        Some(f) => Cell::Money(f),
        None => Cell::Empty,
    };
    let figures: Vec<&Value> = report["figures"].as_array().into_iter().flatten().collect();
    // A sheet for each non-empty list; the summary links to it by the name to_xlsx gives it.
    let summary = format!("{year}年度绩效管理情况");
    let mut sheets = Vec::new();
    let mut sheet_of = Vec::new();
    for f in &figures {
        let key = f["key"].as_str().unwrap_or_default();
        let (items, _) = rt.store.figure_items(key, year, i64::MAX / 2, 0).await?;
        sheet_of.push((!items.is_empty()).then(|| sheets.len() + 1));
        if !items.is_empty() {
            sheets.push(Table {
                sheet: f["label"].as_str().unwrap_or(key).to_string(),
                columns: vec![
                    Column::text("编码"),
                    Column::text("名称"),
                    Column::text("部门"),
                    Column::new("金额（元）", ColumnKind::Money),
                    Column::text("说明"),
                ],
                rows: items
                    .into_iter()
                    .map(|i| {
                        vec![
                            Cell::Text(i.code),
                            Cell::Text(i.name),
                            Cell::Text(i.department),
                            Cell::Money(i.amount),
                            Cell::Text(i.detail),
                        ]
                    })
                    .collect(),
            });
        }
    }
    let mut wanted = vec![summary.as_str()];
    wanted.extend(sheets.iter().map(|t: &Table| t.sheet.as_str()));
    let names = crate::exchange::sheet_names(&wanted);
    let mut rows = Vec::new();
    for (f, sheet) in figures.iter().zip(sheet_of) {
        let mut row = vec![
            Cell::Text(f["label"].as_str().unwrap_or_default().into()),
            Cell::Text(f["label_en"].as_str().unwrap_or_default().into()),
            Cell::Int(f["count"].as_i64().unwrap_or(0)),
            money(f),
        ];
        for p in f["previous"].as_array().into_iter().flatten() {
            row.push(Cell::Int(p["count"].as_i64().unwrap_or(0)));
            row.push(money(p));
        }
        row.push(match f["rate"].as_str().and_then(|r| r.parse().ok()) {
            Some(r) => Cell::Decimal(r),
            None => Cell::Empty,
        });
        let url = format!("{}{}", rt.settings.public_url, f["list"].as_str().unwrap_or_default());
        row.push(Cell::Link { text: url.clone(), url });
        row.push(match sheet.map(|i| &names[i]) {
            Some(name) => Cell::Link { text: name.clone(), url: format!("internal:'{}'!A1", name.replace('\'', "''")) },
            None => Cell::Empty,
        });
        rows.push(row);
    }
    let mut tables = vec![Table { sheet: summary.clone(), columns, rows }];
    tables.extend(sheets);
    crate::exchange::to_xlsx(&tables).map_err(ApiError::internal)
}
