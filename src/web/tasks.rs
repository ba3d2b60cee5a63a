//! The task page: what a task is about (the project, its indicators, the department's earlier
//! submissions, the plugin findings) and the form that completes it. Every form posts plain
//! fields named by their path in the task's JSON body (`scores.立项必要性`,
//! `progress[0].cumulative`); the page turns them into that body and completes the task through
//! the API's own handler, so the rules, the permissions and the field errors are the API's.
//! A form with mistakes comes back with what was typed and each message beside its field.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Lang, Visitor, failure, word};
use crate::api::ApiJson;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::app::Runtime;
use crate::domain::Level1;
use crate::store::people::User;
use crate::store::sessions::Session;
use crate::workflow::{RATING_SHARES, ReviewForm};

/// The posted fields, by name. Repeated names keep the last value.
pub type Fields = BTreeMap<String, String>;

/// One input of a form as the template draws it.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    pub label: String,
    /// text, number, textarea, select or checkbox.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub hint: String,
    pub error: Option<String>,
}

impl Field {
    fn new(name: impl Into<String>, label: impl Into<String>, kind: &'static str) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind,
            value: String::new(),
            options: Vec::new(),
            hint: String::new(),
            error: None,
        }
    }

    fn options(mut self, options: &[&str]) -> Field {
        self.options = options.iter().map(|o| (o.to_string(), o.to_string())).collect();
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Field {
        self.hint = hint.into();
        self
    }
}

/// A titled group of fields (one criterion, one indicator).
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub note: String,
    pub fields: Vec<Field>,
    pub findings: Vec<Value>,
}

impl Section {
    fn new(title: impl Into<String>, fields: Vec<Field>) -> Section {
        Section { title: title.into(), note: String::new(), fields, findings: Vec::new() }
    }
}

/// Fills each field's value from what was posted and its error from the API's answer.
fn settle(sections: &mut [Section], posted: &Fields, errors: &BTreeMap<String, String>) {
    for f in sections.iter_mut().flat_map(|s| s.fields.iter_mut()) {
        if let Some(v) = posted.get(&f.name) {
            f.value = v.clone();
        }
        f.error = errors.get(&f.name).cloned();
    }
}

const RATINGS: [&str; 4] = ["优", "良", "中", "差"];
const LEVELS: [&str; 3] = ["达成", "部分达成", "未达成"];
const DEVIATION_CAUSES: [&str; 5] = ["经费保障", "制度保障", "人员保障", "硬件条件保障", "其他"];
const LIKELIHOODS: [&str; 3] = ["确定能", "有可能", "完全不可能"];
const BASES: [&str; 4] = ["计划标准", "行业标准", "历史标准", "其他"];
const OPERATORS: [&str; 4] = ["≥", "≤", "=", "定性"];

/// The executed amount, then a section per indicator of the project (its target as the note)
/// with the fields `fields_for` gives it: the start of the monitoring and self-evaluation forms.
fn execution_and_indicators(
    lang: &str,
    project: &Value,
    fields_for: impl Fn(usize, &Value) -> Vec<Field>,
) -> Vec<Section> {
    let w = |k| word(lang, k);
    let executed = Field::new("executed", w("executed_yuan"), "number").hint(format!(
        "{} {}",
        w("current_budget"),
        project["budget"].as_str().unwrap_or_default()
    ));
    let mut out = vec![Section::new(w("execution"), vec![executed])];
    for (i, ind) in project["indicators"].as_array().into_iter().flatten().enumerate() {
        let mut s =
            Section::new(format!("{}. {}", i + 1, ind["name"].as_str().unwrap_or_default()), fields_for(i, ind));
        s.note = format!(
            "{} / {} · {} {} {}",
            ind["level1"].as_str().unwrap_or_default(),
            ind["level2"].as_str().unwrap_or_default(),
            ind["operator"].as_str().unwrap_or_default(),
            ind["value"].as_str().unwrap_or_default(),
            ind["unit"].as_str().unwrap_or_default()
        );
        out.push(s);
    }
    out
}

/// The form of a task, as sections of fields, before values and errors are filled in.
fn sections(lang: &str, form: &str, project: &Value) -> Vec<Section> {
    let w = |k| word(lang, k);
    let indicators = project["indicators"].as_array().cloned().unwrap_or_default();
    let qualitative = |ind: &Value| ind["operator"].as_str() == Some("定性");
    match form {
        "ex_ante_assessment" | "target_review" => {
            let rf = if form == "target_review" { ReviewForm::TargetReview } else { ReviewForm::ExAnteAssessment };
            let mut out: Vec<Section> = rf
                .criteria()
                .iter()
                .map(|(name, max)| {
                    let mut fields = vec![
                        Field::new(format!("scores.{name}"), format!("{} (0–{max})", w("points")), "number")
                            .hint(if rf.sub_items(name).is_empty() { "" } else { w("points_or_ratings") }),
                    ];
                    for sub in rf.sub_items(name) {
                        fields.push(Field::new(format!("scores.{name}.{sub}"), *sub, "select").options(&RATINGS));
                    }
                    Section::new(format!("{name}（{max}）"), fields)
                })
                .collect();
            let shares: Vec<String> = RATING_SHARES.iter().map(|(r, s)| format!("{r} {s}%")).collect();
            if let Some(first) = out.first_mut() {
                first.note = format!("{} {}", w("rating_shares"), shares.join(" · "));
            }
            out.push(Section::new(w("comment"), vec![Field::new("comment", w("comment"), "textarea")]));
            out
        }
        "monitoring" => {
            let mut out = execution_and_indicators(lang, project, |i, ind| {
                if qualitative(ind) {
                    vec![Field::new(format!("progress[{i}].level"), w("level"), "select").options(&LEVELS)]
                } else {
                    vec![
                        Field::new(format!("progress[{i}].cumulative"), w("cumulative"), "number"),
                        Field::new(format!("progress[{i}].expected_full_year"), w("expected_full_year"), "number"),
                    ]
                }
            });
            out.push(Section::new(
                w("deviation"),
                vec![
                    Field::new("deviation_cause", w("deviation_cause"), "select").options(&DEVIATION_CAUSES),
                    Field::new("deviation_text", w("deviation_text"), "textarea"),
                    Field::new("likelihood", w("likelihood"), "select").options(&LIKELIHOODS),
                    Field::new("explanation", w("explanation"), "textarea"),
                ],
            ));
            out
        }
        "self_evaluation" => {
            let mut out = execution_and_indicators(lang, project, |i, ind| {
                if qualitative(ind) {
                    vec![
                        Field::new(format!("items[{i}].level"), w("level"), "select").options(&LEVELS),
                        Field::new(format!("items[{i}].share"), w("share"), "text").hint("85%"),
                    ]
                } else {
                    vec![Field::new(format!("items[{i}].value"), w("actual"), "number")]
                }
            });
            out.push(Section::new(
                w("explanation"),
                vec![
                    Field::new("explanation", w("explanation"), "textarea"),
                    Field::new("evidence", w("evidence"), "textarea").hint(w("one_per_line")),
                ],
            ));
            out
        }
        "ex_ante_report" => vec![Section::new(
            w("ex_ante_report"),
            vec![
                Field::new("summary", w("summary"), "textarea"),
                Field::new("conclusion", w("conclusion"), "textarea"),
            ],
        )],
        "targets" => {
            let mut out = Vec::new();
            for (i, ind) in indicators.iter().enumerate() {
                let p = |f: &str| format!("indicators[{i}].{f}");
                let level1: Vec<&str> = Level1::ALL.iter().map(|l| l.label()).collect();
                let level2: Vec<&str> = Level1::ALL.iter().flat_map(|l| l.level2_names().iter().copied()).collect();
                let mut fields = vec![
                    Field::new(p("name"), w("indicator_name"), "text"),
                    Field::new(p("level1"), w("level1"), "select").options(&level1),
                    Field::new(p("level2"), w("level2"), "select").options(&level2),
                    Field::new(p("operator"), w("operator"), "select").options(&OPERATORS),
                    Field::new(p("value"), w("target_value"), "text"),
                    Field::new(p("unit"), w("unit"), "text"),
                    Field::new(p("weight"), w("weight"), "number"),
                    Field::new(p("basis"), w("basis"), "select").options(&BASES),
                ];
                for f in &mut fields {
                    let key = f.name.rsplit('.').next().unwrap_or_default();
                    f.value = match &ind[key] {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    };
                }
                out.push(Section::new(format!("{}. {}", i + 1, ind["name"].as_str().unwrap_or_default()), fields));
            }
            out
        }
        "rectification" => vec![Section::new(
            w("rectification"),
            vec![
                Field::new("report", w("rectification_report"), "textarea"),
                Field::new("evidence", w("evidence"), "textarea").hint(w("one_per_line")),
            ],
        )],
        "result_application" => vec![Section::new(
            w("decision"),
            vec![
                Field::new("decision", w("decision"), "select").options(&["approve"]),
                Field::new("comment", w("comment"), "textarea"),
            ],
        )],
        "disclosure" => vec![Section::new(
            w("disclosure"),
            vec![
                Field::new("publish", w("publish_confirm"), "checkbox"),
                Field::new("comment", w("comment"), "textarea"),
            ],
        )],
        _ => Vec::new(),
    }
}

/// Turns the posted fields into the task's JSON body, the inverse of [`sections`]. Empty
/// inputs are left out so that the API names what is missing.
pub fn body(form: &str, project: &Value, f: &Fields) -> Value {
    let get = |k: &str| f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let text = |k: &str| json!(get(k).unwrap_or_default());
    let lines = |k: &str| -> Vec<String> {
        get(k)
            .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    };
    let count = project["indicators"].as_array().map_or(0, |a| a.len());
    let mut body = serde_json::Map::new();
    match form {
        "ex_ante_assessment" | "target_review" => {
            let rf = if form == "target_review" { ReviewForm::TargetReview } else { ReviewForm::ExAnteAssessment };
            let mut scores = serde_json::Map::new();
            for (name, _) in rf.criteria() {
                if let Some(points) = get(&format!("scores.{name}")) {
                    scores.insert(name.to_string(), json!(points));
                    continue;
                }
                let ratings: serde_json::Map<String, Value> = rf
                    .sub_items(name)
                    .iter()
                    .filter_map(|s| get(&format!("scores.{name}.{s}")).map(|r| (s.to_string(), json!(r))))
                    .collect();
                if !ratings.is_empty() {
                    scores.insert(name.to_string(), Value::Object(ratings));
                }
            }
            body.insert("scores".into(), Value::Object(scores));
            body.insert("comment".into(), text("comment"));
        }
        "monitoring" => {
            if let Some(e) = get("executed") {
                body.insert("executed".into(), json!(e));
            }
            let progress: Vec<Value> = (0..count)
                .map(|i| {
                    let mut p = json!({"index": i});
                    for k in ["cumulative", "expected_full_year", "level"] {
                        if let Some(v) = get(&format!("progress[{i}].{k}")) {
                            p[k] = json!(v);
                        }
                    }
                    p
                })
                .collect();
            body.insert("progress".into(), json!(progress));
            if let Some(c) = get("deviation_cause") {
                body.insert("deviation_cause".into(), json!(c));
            }
            body.insert("deviation_text".into(), text("deviation_text"));
            body.insert("likelihood".into(), text("likelihood"));
            body.insert("explanation".into(), text("explanation"));
        }
        "self_evaluation" => {
            if let Some(e) = get("executed") {
                body.insert("executed".into(), json!(e));
            }
            let items: Vec<Value> = (0..count)
                .filter_map(|i| {
                    if let Some(v) = get(&format!("items[{i}].value")) {
                        return Some(json!({"index": i, "value": v}));
                    }
                    let level = get(&format!("items[{i}].level"))?;
                    let share = get(&format!("items[{i}].share")).unwrap_or(match level {
                        "达成" => "100%",
                        "部分达成" => "50%",
                        _ => "0%",
                    });
                    Some(json!({"index": i, "value": {"level": level, "share": share}}))
                })
                .collect();
            body.insert("items".into(), json!(items));
            body.insert("explanation".into(), text("explanation"));
            body.insert("evidence".into(), json!(lines("evidence")));
        }
        "ex_ante_report" => {
            body.insert("summary".into(), text("summary"));
            body.insert("conclusion".into(), text("conclusion"));
            if let Some(d) = get("document_name") {
                body.insert("document_name".into(), json!(d));
            }
        }
        "targets" => {
            let mut indicators = Vec::new();
            for i in 0..200 {
                let p = |k: &str| format!("indicators[{i}].{k}");
                if !f.contains_key(&p("name")) {
                    break;
                }
                if get(&format!("indicators[{i}].remove")).is_some() {
                    continue;
                }
                let mut ind = serde_json::Map::new();
                for k in ["name", "level1", "level2", "operator", "value", "unit", "weight", "basis", "explanation"] {
                    ind.insert(k.into(), text(&p(k)));
                }
                if get(&p("weight")).is_none() {
                    ind.insert("weight".into(), json!("0"));
                }
                indicators.push(Value::Object(ind));
            }
            body.insert("indicators".into(), json!(indicators));
        }
        "rectification" => {
            body.insert("report".into(), text("report"));
            body.insert("evidence".into(), json!(lines("evidence")));
        }
        "result_application" => {
            body.insert("decision".into(), text("decision"));
            body.insert("comment".into(), text("comment"));
        }
        "disclosure" => {
            body.insert("publish".into(), json!(get("publish").is_some()));
            body.insert("comment".into(), text("comment"));
        }
        _ => {}
    }
    Value::Object(body)
}

/// What a page shows when the API refused: the status and the API's message.
pub(super) fn refused(rt: &Runtime, lang: &str, session: &Session, e: ApiError) -> Response {
    let status = e.status;
    let ctx = json!({"status": status.as_u16(), "message": e.body.message});
    match rt.pages.render("error.html", lang, Some(&session.user), &session.csrf, ctx) {
        Ok(html) => {
            let mut resp = super::page(html, Vec::new());
            *resp.status_mut() = status;
            resp
        }
        Err(e) => failure(e),
    }
}

/// The pieces of a task page.
struct TaskData {
    typed: crate::store::tasks::Task,
    task: Value,
    case: Value,
    project: Value,
}

async fn load(rt: &Arc<Runtime>, user: &User, id: i64) -> Result<TaskData, ApiError> {
    let caller = || Caller(user.clone());
    let typed = rt.store.task(id).await?;
    if !crate::store::tasks::TaskScope::for_user(user).may_see(&typed) {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    let task = json!(typed);
    let case_id = task["case_id"].as_i64().unwrap_or_default();
    let case = crate::api::get_case(State(rt.clone()), caller(), Path(case_id)).await?.0;
    let project_id = case["project_id"].as_i64().unwrap_or_default();
    let project = crate::api::get_project(State(rt.clone()), caller(), Path(project_id)).await?.0;
    Ok(TaskData { typed, task, case, project })
}

/// The panel's opinions in the case (scores and comments, without who wrote them), newest
/// round first: what a department revising its submission is told.
fn opinions(case: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = case["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "task_completed" && e["data"]["kind"] == "review")
        .map(|e| json!({"stage": e["data"]["stage"], "round": e["data"]["round"], "total": e["data"]["result"]["total"], "comment": e["data"]["result"]["comment"]}))
        .collect();
    out.reverse();
    out
}

/// The department's submissions in the case, newest first, as the case documents.
fn documents(case: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = case["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "task_completed" && e["data"]["kind"] == "submission")
        .map(|e| json!({"form": e["data"]["form"], "round": e["data"]["round"], "at_ms": e["at_ms"], "result": e["data"]["result"]}))
        .collect();
    out.reverse();
    out
}

async fn render(
    rt: &Arc<Runtime>,
    lang: &Lang,
    session: &Session,
    data: &TaskData,
    posted: &Fields,
    errors: Vec<Value>,
    message: Option<(String, bool)>,
) -> Response {
    let (message, alert) = message.map_or((None, false), |(m, a)| (Some(m), a));
    let form = data.task["form"].as_str().unwrap_or_default();
    let mut sections = sections(&lang.0, form, &data.project);
    let by_path: BTreeMap<String, String> = errors
        .iter()
        .map(|e| {
            let msg =
                if lang.0 == "zh" { e["message_zh"].as_str().or(e["message"].as_str()) } else { e["message"].as_str() };
            (e["path"].as_str().unwrap_or_default().to_string(), msg.unwrap_or_default().to_string())
        })
        .collect();
    settle(&mut sections, posted, &by_path);
    // Findings of the latest check go beside the indicator they are about.
    let findings: Vec<Value> = data.case["checks"]
        .as_array()
        .and_then(|c| c.first())
        .map(|c| c["findings"].clone())
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default();
    if form == "targets" {
        for f in &findings {
            if let Some(i) = f["indicator_index"].as_u64()
                && let Some(s) = sections.get_mut(i as usize)
            {
                s.findings.push(f.clone());
            }
        }
    }
    let labels: BTreeMap<&String, &String> =
        sections.iter().flat_map(|s| s.fields.iter().map(|f| (&f.name, &f.label))).collect();
    let error_list: Vec<Value> = by_path
        .iter()
        .map(|(p, m)| json!({"field": labels.get(p).map(|l| l.as_str()).unwrap_or(p.as_str()), "message": m}))
        .collect();
    let digest = crate::store::outbox::DigestTask {
        id: data.task["id"].as_i64().unwrap_or_default(),
        case_id: data.case["id"].as_i64().unwrap_or_default(),
        stage: data.task["stage"].as_str().unwrap_or_default().into(),
        form: form.into(),
        due_ms: data.task["due_ms"].as_i64().unwrap_or_default(),
        project_code: data.project["code"].as_str().unwrap_or_default().into(),
        project_name: data.project["name"].as_str().unwrap_or_default().into(),
        workflow_id: data.case["workflow_id"].as_str().unwrap_or_default().into(),
        workflow_version: data.case["workflow_version"].as_i64().unwrap_or_default(),
    };
    let shown = crate::notify::describe_task(rt, &digest, &lang.0).await;
    let me = session.user.id;
    let open = data.task["status"] == "open";
    let may_act = open && crate::store::tasks::TaskScope::may_act(&session.user, &data.typed);
    // Fill-and-use: on the targets form, each indicator's basis and flags and the library
    // entries to add; on the panel's review, the flags the declared values raise, as the
    // department saw them before submitting.
    let mut offered = json!([]);
    let mut flagged = false;
    let mut findings = findings;
    let declaring = may_act && form == "targets";
    if (declaring || form == "target_review")
        && let Some(help) = super::library::help(rt, &data.project).await
    {
        let rows = data.project["indicators"].as_array().cloned().unwrap_or_default();
        let (notes, flags) = super::library::basis(rt, &lang.0, &help, &rows).await;
        if declaring {
            for (s, note) in sections.iter_mut().zip(notes) {
                s.note = note;
            }
            for f in &flags {
                if let Some(s) = sections.get_mut(f.index) {
                    s.findings.push(super::library::flag_finding(f));
                }
            }
            flagged = !flags.is_empty();
            offered = super::library::offer(&lang.0, &help, &rows);
        } else {
            for f in &flags {
                let mut shown = super::library::flag_finding(f);
                shown["indicator_name"] = rows.get(f.index).map(|r| r["name"].clone()).unwrap_or_default();
                findings.push(shown);
            }
        }
    }
    // A department's overall record shows its duties and key work to the panel.
    let overall = match (data.project["kind"].as_str(), data.project["id"].as_i64()) {
        (Some("department"), Some(id)) => rt.store.overall_of_project(id).await.ok().flatten(),
        _ => None,
    };
    let mut project = data.project.clone();
    project["sector_label"] =
        json!(crate::domain::project::sector_label(project["sector"].as_str().unwrap_or_default()));
    let ctx = json!({
        "task": data.task, "project": project, "case_id": data.case["id"], "shown": shown,
        "sections": sections, "errors": error_list, "message": message.unwrap_or_default(),
        "documents": documents(&data.case),
        "opinions": if data.typed.kind == "submission" || matches!(session.user.role, crate::workflow::Role::Admin | crate::workflow::Role::Finance) { json!(opinions(&data.case)) } else { json!([]) }, "findings": if form == "targets" { json!([]) } else { json!(findings) },
        "files": rt.store.case_files(data.case["id"].as_i64().unwrap_or_default()).await.unwrap_or_default(),
        "alert": alert || !by_path.is_empty(),
        "may_act": may_act, "may_decline": may_act && data.task["kind"] == "review" && data.task["assignee_id"] == me,
        "upload": may_act && form == "ex_ante_report",
        "library": offered, "flagged": flagged,
        "overall": overall.map(|(duties, work)| json!({"duties": duties, "key_work": work})),
    });
    match rt.pages.render("task.html", &lang.0, Some(&session.user), &session.csrf, ctx) {
        Ok(html) => {
            let mut resp = super::page(html, Vec::new());
            if !by_path.is_empty() {
                *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            resp
        }
        Err(e) => failure(e),
    }
}

pub(super) async fn task_page(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, &format!("/tasks/{id}")) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    match load(&rt, &session.user, id).await {
        Ok(mut data) => {
            let mut posted = Fields::new();
            if let Some(result) = data.task["result"].as_object() {
                // A completed task shows what was submitted.
                flatten("", &Value::Object(result.clone()), &mut posted);
            }
            let mut message = if q.contains_key("done") {
                Some(word(&lang.0, "submitted").to_string())
            } else {
                (data.task["status"] != "open").then(|| word(&lang.0, "task_closed").to_string())
            };
            // A recurring project's first declaration starts from last year's indicators.
            let empty = data.project["indicators"].as_array().is_none_or(|a| a.is_empty());
            if data.task["form"] == "targets"
                && data.task["status"] == "open"
                && empty
                && let Some(help) = super::library::help(&rt, &data.project).await
                && let Some(prev) =
                    help.proposal.previous.as_ref().filter(|_| help.proposal.prefill_from == "previous_year")
            {
                data.project["indicators"] = json!(help.proposal.prefill);
                message = Some(word(&lang.0, "prefilled").replace("{year}", &prev.fiscal_year.to_string()));
            }
            render(&rt, &lang, &session, &data, &posted, Vec::new(), message.map(|m| (m, false))).await
        }
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

/// A JSON body as form fields, so a completed task's answers show in its form.
fn flatten(prefix: &str, v: &Value, out: &mut Fields) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| x.is_string()) => {
            let lines: Vec<&str> = a.iter().filter_map(|x| x.as_str()).collect();
            out.insert(prefix.to_string(), lines.join("\n"));
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let i = x["index"].as_u64().map_or(i, |n| n as usize);
                let mut inner = x.clone();
                if let Some(o) = inner.as_object_mut() {
                    o.remove("index");
                }
                flatten(&format!("{prefix}[{i}]"), &inner, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

pub(super) async fn submit(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let posted: Fields = posted.into_iter().collect();
    let (session, lang) =
        match super::form_poster(session, lang, &format!("/tasks/{id}"), posted.get("csrf").map(String::as_str)) {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let mut data = match load(&rt, &session.user, id).await {
        Ok(d) => d,
        Err(e) => return refused(&rt, &lang.0, &session, e),
    };
    let form = data.task["form"].as_str().unwrap_or_default().to_string();
    // Targets: adding indicators from the library re-draws the form without submitting.
    if form == "targets" && posted.contains_key("add") {
        let mut indicators = body(&form, &data.project, &posted)["indicators"].as_array().cloned().unwrap_or_default();
        if let Some(help) = super::library::help(&rt, &data.project).await {
            indicators.extend(super::library::picked(&help, &posted));
        }
        data.project["indicators"] = json!(indicators);
        let mut fields = Fields::new();
        flatten("", &json!({"indicators": indicators}), &mut fields);
        return render(&rt, &lang, &session, &data, &fields, Vec::new(), None).await;
    }
    let body = body(&form, &data.project, &posted);
    if form == "targets" {
        // The rows as posted (some may have been removed) are the ones to redraw on error.
        data.project["indicators"] = body["indicators"].clone();
        // Values far from their basis are shown before anything is submitted; the department
        // submits them by confirming it has checked them.
        if !posted.contains_key("confirm_flags")
            && let Some(help) = super::library::help(&rt, &data.project).await
        {
            let rows = body["indicators"].as_array().cloned().unwrap_or_default();
            let (_, flags) = super::library::basis(&rt, &lang.0, &help, &rows).await;
            if !flags.is_empty() {
                let mut shown = Fields::new();
                flatten("", &body, &mut shown);
                let message = word(&lang.0, "flags_confirm").to_string();
                return render(&rt, &lang, &session, &data, &shown, Vec::new(), Some((message, true))).await;
            }
        }
    }
    let done =
        crate::api::complete_task(State(rt.clone()), Caller(session.user.clone()), Path(id), ApiJson(body.clone()))
            .await;
    match done {
        Ok(_) => Redirect::to(&format!("/tasks/{id}?done=1")).into_response(),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let mut shown = posted.clone();
            if form == "targets" {
                shown = Fields::new();
                flatten("", &body, &mut shown);
            }
            let message =
                Some(if lang.0 == "zh" { word("zh", "form_has_errors").to_string() } else { e.body.message.clone() });
            render(&rt, &lang, &session, &data, &shown, e.body.details, message.map(|m| (m, true))).await
        }
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

pub(super) async fn decline(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let posted: Fields = posted.into_iter().collect();
    let (session, lang) =
        match super::form_poster(session, lang, &format!("/tasks/{id}"), posted.get("csrf").map(String::as_str)) {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let reason = posted.get("reason").map(|r| r.trim().to_string()).unwrap_or_default();
    let data = match load(&rt, &session.user, id).await {
        Ok(d) => d,
        Err(e) => return refused(&rt, &lang.0, &session, e),
    };
    if reason.chars().count() < 2 {
        let errors =
            vec![json!({"path": "reason", "message": "give a reason", "message_zh": "请填写回避或无法评审的理由"})];
        return render(&rt, &lang, &session, &data, &posted, errors, None).await;
    }
    let req = crate::api::DeclineRequest { reason };
    match crate::api::decline_task(State(rt.clone()), Caller(session.user.clone()), Path(id), ApiJson(req)).await {
        Ok(_) => Redirect::to("/?declined=1").into_response(),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            render(&rt, &lang, &session, &data, &posted, e.body.details, Some((e.body.message, true))).await
        }
        Err(e) => refused(&rt, &lang.0, &session, e),
    }
}

/// Uploads a document to an open submission (the ex-ante report): multipart with `csrf` and
/// `file`; size and type are checked by the store.
pub(super) async fn upload(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, &format!("/tasks/{id}")) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let (mut csrf, mut file) = (None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(String::from);
                match field.bytes().await {
                    Ok(bytes) if name == "csrf" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    Ok(bytes) if name == "file" => file = Some((file_name.unwrap_or_default(), bytes)),
                    Ok(_) => {}
                    Err(e) => return (e.status(), e.body_text()).into_response(),
                }
            }
            Ok(None) => break,
            Err(e) => return (e.status(), e.body_text()).into_response(),
        }
    }
    if let Some(r) = super::csrf_refusal(&session, &lang, csrf.as_deref()) {
        return r;
    }
    let data = match load(&rt, &session.user, id).await {
        Ok(d) => d,
        Err(e) => return refused(&rt, &lang.0, &session, e),
    };
    let task = data.typed.clone();
    if !crate::store::tasks::TaskScope::may_act(&session.user, &task) {
        return refused(&rt, &lang.0, &session, ApiError::forbidden("upload documents to this task"));
    }
    let (name, bytes) = file.unwrap_or_default();
    match rt.store.add_case_file(&task, &name, &bytes, session.user.id, rt.clock.now_ms()).await {
        Ok(_) => {
            let message = Some(word(&lang.0, "uploaded").to_string());
            render(&rt, &lang, &session, &data, &Fields::new(), Vec::new(), message.map(|m| (m, false))).await
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                let message = e.body.details.first().map(|d| {
                    let zh = d["message_zh"].as_str().filter(|_| lang.0 == "zh");
                    zh.or(d["message"].as_str()).unwrap_or_default().to_string()
                });
                render(&rt, &lang, &session, &data, &Fields::new(), Vec::new(), message.map(|m| (m, true))).await
            } else {
                refused(&rt, &lang.0, &session, e)
            }
        }
    }
}

/// A case document, for whoever may see the case.
pub(super) async fn download(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Path(id): Path<i64>,
) -> Response {
    let (session, lang) = match super::signed_in(session, lang, &format!("/files/{id}")) {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
    let meta = match rt.store.case_file_meta(id).await {
        Ok(m) => m,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    // The case's own permission check decides who may read its documents.
    if let Err(e) = crate::api::get_case(State(rt.clone()), Caller(session.user.clone()), Path(meta.case_id)).await {
        return refused(&rt, &lang.0, &session, e);
    }
    let bytes = match rt.store.case_file_content(id).await {
        Ok(b) => b,
        Err(e) => return refused(&rt, &lang.0, &session, e.into()),
    };
    let encoded: String = meta
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    (
        [
            (axum::http::header::CONTENT_TYPE, meta.content_type),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename*=UTF-8''{encoded}")),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (axum::http::header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}
