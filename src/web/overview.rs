//! The overview pages: a department's projects, and for the bureau the dashboard, the cases,
//! a case's audit trail, the workflows with a diagram of their stages, the panels' load,
//! action approvals and disclosure publishing. Reads go through the store; every change goes
//! through the API's own handlers, so the permissions and rules are the API's.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tasks::refused;
use super::{Lang, Visitor, word};
use crate::api::ApiJson;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::app::Runtime;
use crate::store::cases::CaseFilter;
use crate::workflow::{Outcome, Role, Workflow};

const PAGE: i64 = 50;

fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    department_id: Option<i64>,
    fiscal_year: Option<i64>,
    stage: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    run: Option<i64>,
}

impl ListQuery {
    fn offset(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 100_000).saturating_sub(1) * PAGE
    }
}

fn pages(total: i64, q: &ListQuery) -> Value {
    let page = q.page.unwrap_or(1).max(1);
    json!({"page": page, "pages": ((total + PAGE - 1) / PAGE).max(1), "total": total})
}

/// A department's projects (the bureau sees every department's, or one's with a filter).
pub(super) async fn projects(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<ListQuery>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, "/projects") {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let department_id = match session.user.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => session.user.department_id,
        _ => return refused(&rt, &lang.0, &session, ApiError::forbidden("list projects")),
    };
    let (items, total) = match rt.store.project_overview(department_id, q.fiscal_year, PAGE, q.offset()).await {
        Ok(x) => x,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    let ctx = json!({"projects": items, "paging": pages(total, &q), "fiscal_year": q.fiscal_year});
    super::show(&rt, &lang, &session, "projects.html", ctx)
}

/// An SVG bar chart's bars: label, value, colour class, and the bar's width in percent of
/// the largest.
fn bars(items: &[(String, i64, &str)]) -> Vec<Value> {
    let max = items.iter().map(|(_, n, _)| *n).max().unwrap_or(0).max(1);
    items
        .iter()
        .enumerate()
        .map(|(i, (label, n, class))| {
            json!({"label": label, "value": n, "class": class, "width": (*n as f64 / max as f64 * 100.0).round(), "y": i * 28})
        })
        .collect()
}

pub(super) async fn dashboard(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<ListQuery>,
) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/dashboard", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let now = rt.clock.now_ms();
    let w = |k| word(&lang.0, k);
    let names = super::StageNames::load(&rt).await;
    let result: Result<Value, crate::store::StoreError> = async {
        let mut stages: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (stage, status, n) in rt.store.cases_per_stage().await? {
            *stages.entry(stage).or_default().entry(status).or_default() += n;
        }
        let stage_rows: Vec<Value> = stages
            .iter()
            .map(|(stage, by)| {
                let label = names.label(&lang.0, stage);
                json!({"stage": stage, "label": label, "total": by.values().sum::<i64>(), "by_status": by})
            })
            .collect();
        let (overdue, overdue_total) = rt.store.overdue_tasks(now, 10).await?;
        let overdue: Vec<Value> = overdue
            .into_iter()
            .map(|mut t| {
                t["due"] = json!(local_time(t["due_ms"].as_i64().unwrap_or_default()));
                t["stage_label"] = json!(names.label(&lang.0, t["stage"].as_str().unwrap_or_default()));
                t
            })
            .collect();
        let runs = rt.store.monitoring_runs().await?;
        let run = match q.run {
            Some(id) => runs.iter().find(|r| r.id == id),
            None => runs.iter().max_by_key(|r| r.fire_ms),
        };
        let lights = match run {
            Some(r) => {
                let s = rt.store.monitoring_summary(r.id).await?;
                let n = |k: &str| s["lights"][k].as_i64().unwrap_or(0);
                json!({
                    "run_id": r.id, "fired": local_time(r.fire_ms), "issued": r.issued, "filled": r.filled,
                    "completion_rate": s["completion_rate"], "red_projects": s["red_projects"],
                    "bars": bars(&[
                        (w("light_red").to_string(), n("red"), "red"),
                        (w("light_yellow").to_string(), n("yellow"), "yellow"),
                        (w("light_green").to_string(), n("green"), "green"),
                        (w("light_blue").to_string(), s["blue_projects"].as_i64().unwrap_or(0), "blue"),
                        (w("not_reported").to_string(), r.not_reported, "none"),
                    ]),
                })
            }
            None => Value::Null,
        };
        let runs: Vec<Value> = runs.iter().map(|r| json!({"id": r.id, "fired": local_time(r.fire_ms)})).collect();
        let grades = rt.store.grade_counts(q.fiscal_year).await?;
        let grade_bars: Vec<(String, i64, &str)> =
            grades.iter().map(|(g, n)| (g.clone(), *n, if g == "差" { "red" } else { "grade" })).collect();
        Ok(json!({
            "stages": stage_rows, "overdue_list": overdue, "overdue_total": overdue_total, "lights": lights, "runs": runs,
            "grades": bars(&grade_bars), "graded": grades.iter().map(|(_, n)| n).sum::<i64>(),
        }))
    }
    .await;
    match result {
        Ok(ctx) => super::show(&rt, &lang, &session, "dashboard.html", ctx),
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

pub(super) async fn cases(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<ListQuery>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, "/cases") {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let department_id = match session.user.role {
        Role::Admin | Role::Finance => q.department_id,
        Role::Department => session.user.department_id,
        _ => return refused(&rt, &lang.0, &session, ApiError::forbidden("list cases")),
    };
    let blank = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let f = CaseFilter { department_id, cycle_id: None, stage: blank(&q.stage), status: blank(&q.status) };
    let listed = async {
        let (items, total) = rt.store.cases(&f, PAGE, q.offset()).await?;
        let departments = rt.store.departments().await?;
        Ok::<_, crate::store::StoreError>((items, total, departments))
    }
    .await;
    let (items, total, departments) = match listed {
        Ok(x) => x,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    let names = super::StageNames::load(&rt).await;
    let items: Vec<Value> = items
        .into_iter()
        .map(|c| {
            let mut v = json!(c);
            v["stage_label"] = json!(names.label(&lang.0, c.stage.as_deref().unwrap_or("-")));
            v["updated"] = json!(local_time(c.updated_ms));
            v
        })
        .collect();
    let stages = names.options(&lang.0);
    let ctx = json!({
        "cases": items, "paging": pages(total, &q), "departments": if super::is_bureau(&session) { json!(departments) } else { json!([]) },
        "filter": {"department_id": q.department_id, "stage": q.stage.clone().unwrap_or_default(), "status": q.status.clone().unwrap_or_default()},
        "stage_options": stages, "statuses": ["active", "waiting", "blocked", "finished", "rejected"],
    });
    super::show(&rt, &lang, &session, "cases.html", ctx)
}

/// A case with its whole history: the audit trail.
pub(super) async fn case(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, &format!("/cases/{id}")) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let view = match crate::api::get_case(State(rt.clone()), Caller(session.user.clone()), Path(id)).await {
        Ok(v) => v.0,
        Err(e) => return refused(&rt, &lang.0, &session, e),
    };
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    let mut history = Vec::new();
    for e in view["history"].as_array().into_iter().flatten() {
        let actor = match e["actor_id"].as_i64() {
            Some(a) => {
                if let std::collections::btree_map::Entry::Vacant(slot) = names.entry(a) {
                    let name = rt.store.user(a).await.map(|u| u.display_name).unwrap_or_else(|_| format!("#{a}"));
                    slot.insert(name);
                }
                names.get(&a).cloned()
            }
            None => None,
        };
        history.push(json!({
            "seq": e["seq"], "kind": e["kind"], "label": super::event_label(&lang.0, e["kind"].as_str().unwrap_or_default()),
            "at": local_time(e["at_ms"].as_i64().unwrap_or_default()), "actor": actor,
            "data": serde_json::to_string_pretty(&e["data"]).unwrap_or_default(),
        }));
    }
    let files = rt.store.case_files(id).await.unwrap_or_default();
    let (workflow, version) = (view["workflow_id"].as_str().unwrap_or_default(), view["workflow_version"].as_u64());
    let stages = super::StageNames::of(&rt, workflow, version.unwrap_or_default() as u32).await;
    let ctx = json!({
        "case": view, "history": history, "files": files,
        "stage_label": stages.label(&lang.0, view["stage"].as_str().unwrap_or("-")),
    });
    super::show(&rt, &lang, &session, "case.html", ctx)
}

pub(super) async fn workflows(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/workflows", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match rt.store.workflow_versions().await {
        Ok(list) => {
            let items: Vec<Value> = list
                .iter()
                .rev()
                .map(|v| {
                    let mut j = json!(v);
                    j["published"] = json!(local_time(v.published_ms));
                    j
                })
                .collect();
            super::show(&rt, &lang, &session, "workflows.html", json!({"versions": items}))
        }
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

/// The boxes and arrows of a workflow's stage diagram, laid out top to bottom.
fn diagram(lang: &str, wf: &Workflow) -> Value {
    let w = |k| word(lang, k);
    let boxes: Vec<Value> = wf
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut lines = Vec::new();
            if let Some(when) = &s.when {
                lines.push(format!("{} {}", w("only_when"), when.source()));
            }
            if !s.schedules.is_empty() {
                lines.push(format!("{} {}", w("schedule"), s.cron_sources()));
            }
            if let Some(sub) = &s.submit {
                lines.push(format!("{} {} · {}", w("submit_by"), sub.by.as_str(), sub.within));
            }
            if let Some(p) = &s.panel {
                lines.push(format!(
                    "{} {}+{}+{} · {}",
                    w("panel_of"),
                    p.department,
                    p.finance,
                    p.expert,
                    p.within
                ));
            }
            if let Some(a) = &s.approve {
                lines.push(format!("{} {} · {}", w("approve_by"), a.by.as_str(), a.within));
            }
            let revise = s.decide.iter().any(|r| matches!(r.outcome, Outcome::Revise { .. }));
            let reject = s.decide.iter().any(|r| matches!(r.outcome, Outcome::Reject));
            json!({"y": i * 110 + 10, "title": s.title, "kind": s.kind.as_str(), "lines": lines, "revise": revise, "reject": reject,
                   "optional": s.when.is_some(), "last": i + 1 == wf.stages.len()})
        })
        .collect();
    json!({"boxes": boxes, "height": wf.stages.len() * 110 + 20})
}

pub(super) async fn workflow(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path((id, version)): Path<(String, u32)>,
) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/workflows", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let wf = match rt.store.workflow(&rt.registry, &id, version).await {
        Ok(wf) => wf,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    let ctx = json!({"id": wf.id, "version": wf.version, "title": wf.title, "source": wf.source, "diagram": diagram(&lang.0, &wf)});
    super::show(&rt, &lang, &session, "workflow.html", ctx)
}

pub(super) async fn panels(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/panels", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match rt.store.panel_load(rt.clock.now_ms()).await {
        Ok(members) => super::show(&rt, &lang, &session, "panels.html", json!({"members": members})),
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

pub(super) async fn actions(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<ListQuery>,
) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/actions", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let status = q.status.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "proposed".into());
    let f = crate::store::evaluation::ActionFilter {
        fiscal_year: q.fiscal_year,
        department_id: q.department_id,
        case_id: None,
        status: (status != "all").then(|| status.clone()),
    };
    match rt.store.result_actions(&f).await {
        Ok(items) => {
            let items: Vec<Value> = items
                .into_iter()
                .map(|mut a| {
                    a["label"] = json!(super::action_label(&lang.0, a["kind"].as_str().unwrap_or_default()));
                    a
                })
                .collect();
            let ctx = json!({"actions": items, "selected": status, "statuses": ["proposed", "approved", "in_progress", "escalated", "done", "rejected", "all"]});
            super::show(&rt, &lang, &session, "actions.html", ctx)
        }
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

pub(super) async fn decide_action(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let (session, lang) = match super::form_poster(session, lang, "/actions", Some(&f.csrf)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let body = crate::api::evaluation::ActionDecision { decision: f.decision, comment: f.comment };
    match crate::api::evaluation::decide_action(
        State(rt.clone()),
        Caller(session.user.clone()),
        Path(id),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to("/actions?decided=1").into_response(),
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

pub(super) async fn disclosures(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match super::bureau_visitor(&rt, session, lang, "/disclosures", "open the bureau's pages") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match rt.store.disclosures().await {
        Ok(items) => super::show(&rt, &lang, &session, "disclosures.html", json!({"disclosures": items})),
        Err(e) => refused(&rt, &lang.0, &session, e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct PublishForm {
    csrf: String,
    fiscal_year: String,
    kind: String,
    #[serde(default)]
    correction_note: String,
}

pub(super) async fn publish(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Form(f): Form<PublishForm>,
) -> Response {
    let (session, lang) = match super::form_poster(session, lang, "/disclosures", Some(&f.csrf)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Ok(fiscal_year) = f.fiscal_year.trim().parse::<i64>() else {
        let e = ApiError::bad_request(format!("'{}' is not a fiscal year", f.fiscal_year));
        return refused(&rt, &lang.0, &session, e);
    };
    let body = crate::api::evaluation::PublishRequest {
        fiscal_year,
        kind: f.kind,
        title: None,
        correction_note: f.correction_note,
    };
    match crate::api::evaluation::publish_disclosure(State(rt.clone()), Caller(session.user.clone()), ApiJson(body))
        .await
    {
        Ok(_) => Redirect::to("/disclosures?published=1").into_response(),
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}
