//! The OpenAPI 3.1 document at `/api/openapi.json`, built from one table of routes that also
//! names the roles allowed on each. The schemas of request bodies, query parameters and typed
//! answers are generated from the Rust types the handlers read and write (schemars, in its
//! deserialize contract: a field with a default is optional, `deny_unknown_fields` closes the
//! object); answers the handlers build ad hoc are described by the top-level properties they
//! always have.

use axum::Json;
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::{evaluation, exchange, library, monitoring, report};
use crate::domain::ProjectInput;
use crate::domain::project::{OverallInput, Project};
use crate::store::cases::{CaseSummary, CaseView, Cycle};
use crate::store::evaluation::ScoreRun;
use crate::store::exchange::ImportReport;
use crate::store::key_eval::{KeyStep, NewKeyEvaluation, NewThirdParty};
use crate::store::libraries::LibraryVersionRow;
use crate::store::monitoring::{BudgetEntry, Disposition, NewDisposition};
use crate::store::overall::Overall;
use crate::store::people::{NewUser, User};
use crate::store::plugins::StoredPlugin;
use crate::store::tasks::Task;
use crate::store::workflows::Published;

/// Writes a schema into the generator's definitions and answers it (usually a `$ref`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, a reference to `#/components/schemas/<name>` for a named type.
fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The schema of `T` itself (for query structs, whose properties become parameters).
fn fields<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// What a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// A JSON object of the generated schema.
    Json(SchemaFn),
    /// The same, or no body at all (the fields' defaults).
    OptionalJson(SchemaFn),
    /// A workflow definition in YAML (or its text in JSON, `WorkflowSource`).
    Yaml,
    /// A WebAssembly component.
    Wasm,
    /// A file of one of these media types.
    File(&'static [&'static str]),
}

const fn json(f: SchemaFn) -> Body {
    Body::Json(f)
}

/// The type of one top-level property of an answer built ad hoc.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Any,
    Integer,
    String,
    Boolean,
    Array,
    Object,
    /// An array of a generated schema.
    List(SchemaFn),
}

const ANY: Shape = Shape::Any;
const INTEGER: Shape = Shape::Integer;
const STRING: Shape = Shape::String;
const BOOLEAN: Shape = Shape::Boolean;
const ARRAY: Shape = Shape::Array;
const OBJECT: Shape = Shape::Object;
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a success answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// JSON of a generated schema.
    Json(SchemaFn),
    /// A JSON object with these properties, always present (others may be).
    Object(&'static [(&'static str, Shape)]),
    /// Plain text.
    Text,
    /// A download of one of these media types.
    File(&'static [&'static str]),
    /// 204, no body.
    NoContent,
}

/// One documented endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Roles allowed; empty means no authentication.
    pub roles: &'static [&'static str],
    pub body: Option<Body>,
    /// The handler's query struct: its fields are the query parameters.
    pub query: Option<SchemaFn>,
    pub answer: Answer,
}

/// The properties a result action always has (`store::evaluation::action_json`).
const ACTION: &[(&str, Shape)] = &[
    ("id", INTEGER),
    ("department_id", INTEGER),
    ("fiscal_year", INTEGER),
    ("stage", STRING),
    ("source", STRING),
    ("kind", STRING),
    ("status", STRING),
];
/// The properties a key evaluation always has (`Store::key_evaluation`).
const KEY_EVALUATION: &[(&str, Shape)] = &[
    ("id", INTEGER),
    ("subject", STRING),
    ("department_id", INTEGER),
    ("fiscal_year", INTEGER),
    ("third_party_id", INTEGER),
    ("status", STRING),
    ("stage", STRING),
    ("round", INTEGER),
];
/// A monitoring run's summary (`Store::monitoring_summary`).
const RUN_SUMMARY: &[(&str, Shape)] = &[
    ("run", OBJECT),
    ("tasks_issued", INTEGER),
    ("filled", INTEGER),
    ("not_reported", INTEGER),
    ("pending", INTEGER),
    ("completion_rate", STRING),
    ("lights", ANY),
    ("by_department", ANY),
    ("by_sector", ANY),
    ("red_projects", ANY),
];

const ALL: &[&str] = &["admin", "finance", "department", "expert", "third_party"];
const BUREAU: &[&str] = &["admin", "finance"];

pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/healthz",
        summary: "Liveness: the process answers",
        roles: &[],
        body: None,
        query: None,
        answer: Answer::Text,
    },
    RouteDoc {
        method: "get",
        path: "/readyz",
        summary: "Readiness: the database answers",
        roles: &[],
        body: None,
        query: None,
        answer: Answer::Text,
    },
    RouteDoc {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (an admin's token or the metrics_token setting)",
        roles: &["admin"],
        body: None,
        query: None,
        answer: Answer::Text,
    },
    RouteDoc {
        method: "get",
        path: "/api/openapi.json",
        summary: "This document",
        roles: &[],
        body: None,
        query: None,
        answer: Answer::Object(&[("openapi", STRING), ("paths", OBJECT), ("components", OBJECT)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/me",
        summary: "The caller's user record",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Json(of::<User>),
    },
    RouteDoc {
        method: "patch",
        path: "/api/v1/me",
        summary: "Set the caller's mail language and daily digest",
        roles: ALL,
        body: Some(json(of::<super::Preferences>)),
        query: None,
        answer: Answer::Json(of::<User>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/users",
        summary: "List users",
        roles: &["admin"],
        body: None,
        query: Some(fields::<super::Page>),
        answer: Answer::Object(&[("items", Shape::List(of::<User>)), ("total", INTEGER)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users",
        summary: "Create a user (experts with their profile)",
        roles: &["admin"],
        body: Some(json(of::<NewUser>)),
        query: None,
        answer: Answer::Json(of::<User>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users/{id}/password",
        summary: "Set a user's password for the web pages (10 characters or more); ends their sessions",
        roles: &["admin"],
        body: Some(json(of::<super::PasswordRequest>)),
        query: None,
        answer: Answer::NoContent,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users/{id}/tokens",
        summary: "Issue an API token (shown once)",
        roles: &["admin"],
        body: Some(Body::OptionalJson(of::<super::TokenRequest>)),
        query: None,
        answer: Answer::Object(&[("user_id", INTEGER), ("token", STRING), ("note", STRING)]),
    },
    RouteDoc {
        method: "delete",
        path: "/api/v1/admin/users/{id}/tokens",
        summary: "Revoke a user's tokens",
        roles: &["admin"],
        body: None,
        query: None,
        answer: Answer::Object(&[("user_id", INTEGER), ("revoked", INTEGER)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/departments",
        summary: "List departments",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/departments",
        summary: "Create a department",
        roles: BUREAU,
        body: Some(json(of::<super::NewDepartment>)),
        query: None,
        answer: Answer::Object(&[
            ("id", INTEGER),
            ("code", STRING),
            ("name", STRING),
            ("sector", STRING),
            ("head", STRING),
        ]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects",
        summary: "List projects (a department sees its own)",
        roles: &["admin", "finance", "department"],
        body: None,
        query: Some(fields::<super::ProjectQuery>),
        answer: Answer::Object(&[
            ("items", Shape::List(of::<Project>)),
            ("total", INTEGER),
            ("limit", INTEGER),
            ("offset", INTEGER),
        ]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects",
        summary: "Create a project with its indicators",
        roles: &["admin", "finance", "department"],
        body: Some(json(of::<ProjectInput>)),
        query: None,
        answer: Answer::Json(of::<Project>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}",
        summary: "A project with its indicators",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Json(of::<Project>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/workflows",
        summary: "Published workflow versions",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/workflows",
        summary: "Publish a workflow version (YAML body)",
        roles: &["admin"],
        body: Some(Body::Yaml),
        query: None,
        answer: Answer::Json(of::<Published>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/workflows/check",
        summary: "Check a definition without publishing it",
        roles: BUREAU,
        body: Some(Body::Yaml),
        query: None,
        answer: Answer::Object(&[("ok", BOOLEAN), ("workflow_id", STRING), ("version", INTEGER), ("stages", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/workflows/{id}/versions/{version}",
        summary: "One version: stages and source",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[
            ("workflow_id", STRING),
            ("version", INTEGER),
            ("title", STRING),
            ("timezone", STRING),
            ("stages", ARRAY),
            ("source", STRING),
        ]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cycles",
        summary: "Start a cycle: one case per project of the fiscal year",
        roles: BUREAU,
        body: Some(json(of::<super::CycleRequest>)),
        query: None,
        answer: Answer::Json(of::<Cycle>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases",
        summary: "List cases (a department sees its own)",
        roles: &["admin", "finance", "department"],
        body: None,
        query: Some(fields::<super::CaseQuery>),
        answer: Answer::Object(&[
            ("items", Shape::List(of::<CaseSummary>)),
            ("total", INTEGER),
            ("limit", INTEGER),
            ("offset", INTEGER),
        ]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases/{id}",
        summary: "A case: stage, open tasks, history, plugin checks with their findings",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Json(of::<CaseView>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cases/{id}/retry",
        summary: "Retry a blocked case",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[("case_id", INTEGER), ("retry", STRING)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/tasks",
        summary: "The caller's tasks (inbox), with overdue flags",
        roles: ALL,
        body: None,
        query: Some(fields::<super::TaskQuery>),
        answer: Answer::Object(&[
            ("items", Shape::List(of::<Task>)),
            ("total", INTEGER),
            ("limit", INTEGER),
            ("offset", INTEGER),
        ]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/tasks/{id}",
        summary: "One task",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Json(of::<Task>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/tasks/{id}/complete",
        summary: "Complete a task with its form",
        roles: ALL,
        body: Some(json(crate::engine::forms::task_form_schema)),
        query: None,
        answer: Answer::Json(of::<Task>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/inbox",
        summary: "The caller's open tasks with counts: pending, due_soon (3 days), overdue; ?state=&kind=",
        roles: ALL,
        body: None,
        query: Some(fields::<super::InboxQuery>),
        answer: Answer::Object(&[
            ("state", STRING),
            ("counts", OBJECT),
            ("items", Shape::List(of::<Task>)),
            ("total", INTEGER),
            ("limit", INTEGER),
            ("offset", INTEGER),
        ]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/tasks/{id}/decline",
        summary: "Decline an assigned review with a reason; a replacement is drawn",
        roles: &["finance", "department", "expert"],
        body: Some(json(of::<super::DeclineRequest>)),
        query: None,
        answer: Answer::Json(of::<Task>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/schedules/fires",
        summary: "Recorded schedule fires",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/imports",
        summary: "Import an XLSX or CSV file sent as the body (?file=NAME.xlsx&dry_run=true): departments, users and experts (admin), projects with indicators; all or nothing, every problem at its sheet, row and column",
        roles: &["admin", "finance", "department"],
        body: Some(Body::File(&[XLSX, "text/csv"])),
        query: Some(fields::<exchange::ImportQuery>),
        answer: Answer::Json(of::<ImportReport>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/{file}",
        summary: "projects.xlsx|csv, self-evaluations.xlsx|csv or actions.xlsx|csv for ?fiscal_year= (a department gets its own)",
        roles: &["admin", "finance", "department"],
        body: None,
        query: Some(fields::<exchange::ExportQuery>),
        answer: Answer::File(&[XLSX, "text/csv"]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/monitoring-runs/{file}",
        summary: "A monitoring run: {id}.xlsx (its summary per department and every report with its lights) or {id}.csv (the reports)",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::File(&[XLSX, "text/csv"]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/disclosures/{year}/{file}",
        summary: "A published disclosure as targets|results.xlsx or .csv (?version=N)",
        roles: ALL,
        body: None,
        query: Some(fields::<exchange::ExportQuery>),
        answer: Answer::File(&[XLSX, "text/csv"]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/outbox",
        summary: "The mail outbox, newest first (status, limit), with counts per status",
        roles: BUREAU,
        body: None,
        query: Some(fields::<super::OutboxQuery>),
        answer: Answer::Object(&[("transport", STRING), ("counts", OBJECT), ("items", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs",
        summary: "Monitoring runs with their completion",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs/{id}",
        summary: "A run's summary: completion, lights per department and sector, red projects with causes",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(RUN_SUMMARY),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs/{id}/reports.csv",
        summary: "Every report of a run with its lights, as CSV",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::File(&["text/csv"]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/monitoring/runs/{id}/evaluate",
        summary: "Evaluate the run's lights now (also done when it closes)",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(RUN_SUMMARY),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}/budget",
        summary: "A project's budget ledger: original, changes, current",
        roles: &["admin", "finance", "department"],
        body: None,
        query: None,
        answer: Answer::Object(&[
            ("project_id", INTEGER),
            ("original", STRING),
            ("entries", ARRAY),
            ("current", STRING),
        ]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects/{id}/budget",
        summary: "Record an adjustment (调剂), a mid-year addition (追加) or a reduction",
        roles: BUREAU,
        body: Some(json(of::<monitoring::EntryRequest>)),
        query: None,
        answer: Answer::Json(of::<BudgetEntry>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/dispositions",
        summary: "Propose a disposition for a monitored case, naming its approver",
        roles: BUREAU,
        body: Some(json(of::<NewDisposition>)),
        query: None,
        answer: Answer::Json(of::<Disposition>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/dispositions/{id}",
        summary: "One disposition",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Json(of::<Disposition>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/dispositions/{id}/decision",
        summary: "The named approver approves or rejects a disposition",
        roles: BUREAU,
        body: Some(json(of::<monitoring::Decision>)),
        query: None,
        answer: Answer::Json(of::<Disposition>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cycles/{id}/cases",
        summary: "Add a project funded mid-year to a cycle at a stage",
        roles: BUREAU,
        body: Some(json(of::<monitoring::JoinRequest>)),
        query: None,
        answer: Answer::Object(&[("case_id", INTEGER), ("cycle_id", INTEGER), ("stage", STRING)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/plugins",
        summary: "Installed indicator-check plugins and their versions",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY), ("interface_version", STRING)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/plugins",
        summary: "Upload a plugin component (validated in the sandbox before it is accepted)",
        roles: &["admin"],
        body: Some(Body::Wasm),
        query: None,
        answer: Answer::Json(of::<StoredPlugin>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/spot-checks",
        summary: "Draw a seeded spot check (抽查复核) over the self-evaluations waiting for one",
        roles: BUREAU,
        body: Some(json(of::<evaluation::DrawRequest>)),
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/spot-checks/{id}",
        summary: "A draw: seed, population, sample, whether it reproduces, the re-scores",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases/{id}/self-evaluation",
        summary: "A case's self-evaluation: self score, re-score, flag, final score",
        roles: &["admin", "finance", "department"],
        body: None,
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/self-evaluations/score",
        summary: "Score a year's stored self-evaluations again from their forms (reproducible: unchanged data changes nothing)",
        roles: BUREAU,
        body: Some(json(of::<evaluation::ScoreRequest>)),
        query: None,
        answer: Answer::Json(of::<ScoreRun>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/actions",
        summary: "Result actions (filters: fiscal_year, department_id, case_id, status)",
        roles: &["admin", "finance", "department"],
        body: None,
        query: Some(fields::<evaluation::ActionQuery>),
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/actions/{id}",
        summary: "One result action",
        roles: &["admin", "finance", "department"],
        body: None,
        query: None,
        answer: Answer::Object(ACTION),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/actions/{id}/decision",
        summary: "Approve or reject a proposed action outside a case's approval task (an escalation)",
        roles: BUREAU,
        body: Some(json(of::<evaluation::ActionDecision>)),
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/actions/{id}/done",
        summary: "Mark an approved action done (suspension lifted, cut or cancellation applied)",
        roles: BUREAU,
        body: Some(json(of::<evaluation::Done>)),
        query: None,
        answer: Answer::Object(ACTION),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/actions",
        summary: "Next year's budget implications per department: cuts, suspended, recovered, cancelled",
        roles: &["admin", "finance", "department"],
        body: None,
        query: Some(fields::<evaluation::ReportQuery>),
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/third-parties",
        summary: "Third-party evaluation institutions",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/third-parties",
        summary: "Register a third-party institution with its affiliations and staff",
        roles: BUREAU,
        body: Some(json(of::<NewThirdParty>)),
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/key-evaluations",
        summary: "Key evaluations the caller takes part in",
        roles: ALL,
        body: None,
        query: Some(fields::<evaluation::YearQuery>),
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations",
        summary: "Commission a key evaluation (independence checked)",
        roles: BUREAU,
        body: Some(json(of::<NewKeyEvaluation>)),
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/key-evaluations/{id}",
        summary: "A key evaluation: stage, round, who must act, history",
        roles: &["admin", "finance", "department", "third_party"],
        body: None,
        query: None,
        answer: Answer::Object(KEY_EVALUATION),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations/{id}/steps",
        summary: "Submit the stage's deliverable (third party), confirm it or disagree (each party)",
        roles: &["admin", "finance", "department", "third_party"],
        body: Some(json(of::<KeyStep>)),
        query: None,
        answer: Answer::Object(KEY_EVALUATION),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations/{id}/actions",
        summary: "Propose a result action from a finished key evaluation (decided at /actions/{id}/decision)",
        roles: BUREAU,
        body: Some(json(of::<evaluation::KeyActionRequest>)),
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/disclosures",
        summary: "Published disclosure versions",
        roles: BUREAU,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/disclosures",
        summary: "Publish a fiscal year's targets or results (a new version corrects the last)",
        roles: BUREAU,
        body: Some(json(of::<evaluation::PublishRequest>)),
        query: None,
        answer: Answer::Object(&[]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries",
        summary: "Indicator libraries: the sector common libraries (the plugins' data) and departments' (a department sees its own)",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries/{code}",
        summary: "A library's version in use, or ?version=N (code sector:<sector> or department:<code>)",
        roles: ALL,
        body: None,
        query: Some(fields::<library::VersionQuery>),
        answer: Answer::Json(of::<LibraryVersionRow>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries/{code}/versions",
        summary: "Every version of a library with its status (proposed, published, rejected)",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("items", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/libraries/{code}/versions",
        summary: "A new version of a department's library: published when the bureau writes it, proposed when the department does; 409 when the entries are those of the version in use",
        roles: &["admin", "finance", "department"],
        body: Some(json(of::<library::NewVersion>)),
        query: None,
        answer: Answer::Json(of::<LibraryVersionRow>),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/libraries/{code}/versions/{version}/decision",
        summary: "Approve (publish) or reject a department's proposed library version",
        roles: BUREAU,
        body: Some(json(of::<monitoring::Decision>)),
        query: None,
        answer: Answer::Json(of::<LibraryVersionRow>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}/targets/proposal",
        summary: "Fill-and-use: applicable library entries (department first), last year's indicators for a recurring project, each value's basis and flags",
        roles: ALL,
        body: None,
        query: None,
        answer: Answer::Object(&[("flags", ARRAY)]),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects/{id}/targets/check",
        summary: "The flags targets would raise (far from the project's history or the sector's range); stores nothing",
        roles: ALL,
        body: Some(json(of::<library::TargetsBody>)),
        query: None,
        answer: Answer::Object(&[("flags", ARRAY), ("basis", ANY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/departments/{code}/overall/{year}",
        summary: "A department's overall declaration (部门整体) for a year",
        roles: &["admin", "finance", "department"],
        body: None,
        query: None,
        answer: Answer::Json(of::<Overall>),
    },
    RouteDoc {
        method: "put",
        path: "/api/v1/departments/{code}/overall/{year}",
        summary: "Declare a department's overall duties, key work and budget for a year (until a cycle takes it up)",
        roles: &["admin", "finance", "department"],
        body: Some(json(of::<OverallInput>)),
        query: None,
        answer: Answer::Json(of::<Overall>),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}",
        summary: "The annual report: each figure's count and amount, ?compare=N earlier years (default 2), and its list's URL",
        roles: BUREAU,
        body: None,
        query: Some(fields::<report::Compare>),
        answer: Answer::Object(&[("fiscal_year", INTEGER), ("compared_with", ARRAY), ("figures", ANY)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}/figures/{key}",
        summary: "The rows a figure of the annual report counts (?limit, ?offset)",
        roles: BUREAU,
        body: None,
        query: Some(fields::<super::Page>),
        answer: Answer::Object(&[("fiscal_year", INTEGER), ("figure", STRING), ("items", ARRAY), ("total", INTEGER)]),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}/report.xlsx",
        summary: "The annual report as a workbook: the figures with earlier years, and a sheet per figure's list",
        roles: BUREAU,
        body: None,
        query: Some(fields::<report::Compare>),
        answer: Answer::File(&[XLSX]),
    },
    RouteDoc {
        method: "get",
        path: "/public/disclosures/{year}/{file}",
        summary: "A published disclosure to anyone: targets|results .json|.csv|.html, ?version=N",
        roles: &[],
        body: None,
        query: Some(fields::<evaluation::VersionQuery>),
        answer: Answer::File(&["application/json", "text/csv", "text/html"]),
    },
];

pub async fn document() -> Json<Value> {
    Json(build())
}

/// A path parameter's schema: ids, versions and years are integers (in the range of the type
/// the handler reads them as), the rest strings.
fn path_param(path: &str, name: &str) -> Value {
    match name {
        // A workflow's id is its name.
        "id" if path.starts_with("/api/v1/workflows/") => json!({"type": "string"}),
        "id" => json!({"type": "integer", "format": "int64"}),
        "version" => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
        "year" => json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}),
        _ => json!({"type": "string"}),
    }
}

/// A query struct's fields as parameters. A query value is never null: an absent parameter is
/// the `None` of an optional field.
fn query_params(g: &mut SchemaGenerator, f: SchemaFn) -> Vec<Value> {
    let schema = f(g).to_value();
    let required: Vec<&str> =
        schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else { return Vec::new() };
    props
        .iter()
        .map(|(name, s)| {
            let mut s = s.clone();
            if let Some(types) = s.get("type").and_then(Value::as_array) {
                let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                s["type"] = if types.len() == 1 { types[0].clone() } else { Value::Array(types) };
            }
            let description = s.as_object_mut().and_then(|o| o.remove("description"));
            let mut p =
                json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": s});
            if let Some(d) = description {
                p["description"] = d;
            }
            p
        })
        .collect()
}

fn shape(g: &mut SchemaGenerator, s: Shape) -> Value {
    match s {
        Shape::Any => json!({}),
        Shape::Integer => json!({"type": "integer"}),
        Shape::String => json!({"type": "string"}),
        Shape::Boolean => json!({"type": "boolean"}),
        Shape::Array => json!({"type": "array"}),
        Shape::Object => json!({"type": "object"}),
        Shape::List(f) => json!({"type": "array", "items": f(g)}),
    }
}

fn success(g: &mut SchemaGenerator, a: Answer) -> (&'static str, Value) {
    let content =
        |media: &str, schema: Value| json!({"description": "Success", "content": {media: {"schema": schema}}});
    match a {
        Answer::Json(f) => ("2XX", content("application/json", f(g).to_value())),
        Answer::Object(props) => {
            let properties: Map<String, Value> = props.iter().map(|(k, s)| (k.to_string(), shape(g, *s))).collect();
            let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
            (
                "2XX",
                content("application/json", json!({"type": "object", "required": required, "properties": properties})),
            )
        }
        Answer::Text => ("2XX", content("text/plain", json!({"type": "string"}))),
        Answer::File(media) => {
            let by_type: Map<String, Value> = media
                .iter()
                .map(|m| {
                    let schema =
                        if *m == "application/json" { json!({"type": "object"}) } else { json!({"type": "string"}) };
                    (m.to_string(), json!({"schema": schema}))
                })
                .collect();
            ("2XX", json!({"description": "Success", "content": by_type}))
        }
        Answer::NoContent => ("204", json!({"description": "Done; no body"})),
    }
}

pub fn build() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator();
    let error = json!({"description": "Refused: {code, message, details}", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut paths = Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.split('}').next()))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": path_param(r.path, name)}))
            .collect();
        if let Some(q) = r.query {
            params.extend(query_params(&mut g, q));
        }
        let (status, ok) = success(&mut g, r.answer);
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}_{}", r.method, r.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "x-roles": r.roles,
            "responses": {status: ok, "4XX": error, "default": error},
        });
        if r.roles.is_empty() {
            op["security"] = json!([]);
        }
        if let Some(body) = r.body {
            let content = match body {
                Body::Json(f) | Body::OptionalJson(f) => json!({"application/json": {"schema": f(&mut g).to_value()}}),
                Body::Yaml => json!({
                    "application/yaml": {"schema": {"$ref": "#/components/schemas/WorkflowYaml"}},
                    "application/json": {"schema": of::<super::WorkflowSource>(&mut g).to_value()},
                }),
                // The upload reads the body's bytes whatever its type says.
                Body::Wasm => json!({
                    "application/wasm": {"schema": {"$ref": "#/components/schemas/PluginWasm"}},
                    "application/octet-stream": {"schema": {"$ref": "#/components/schemas/PluginWasm"}},
                }),
                Body::File(media) => Value::Object(
                    media
                        .iter()
                        .map(|m| (m.to_string(), json!({"schema": {"type": "string", "format": "binary"}})))
                        .collect(),
                ),
            };
            let required = !matches!(body, Body::OptionalJson(_));
            op["requestBody"] = json!({"required": required, "content": content});
        }
        if r.path == "/api/v1/imports" {
            // A file with problems is refused with the import's report, every problem at its place.
            op["responses"]["422"] = json!({"description": "The file has problems: the import's report, nothing stored", "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/ImportReport"}]}}}});
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(r.method.to_string(), op));
    }
    let mut schemas = g.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["code", "message", "details"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object", "description": "{path, message} for fields; {file, line, column, message} for workflow definitions"}}}}),
    );
    schemas.insert(
        "WorkflowYaml".into(),
        json!({"type": "string", "description": "A workflow definition in YAML (see workflows/county-annual-cycle.yaml)"}),
    );
    schemas.insert(
        "PluginWasm".into(),
        json!({"type": "string", "format": "binary", "description": "A WebAssembly component implementing wit/indicator.wit (jixiao:indicator@1.0.0)"}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "jixiao", "version": env!("CARGO_PKG_VERSION"), "description": "Whole-process budget performance management (全过程预算绩效管理)"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        }
    })
}
