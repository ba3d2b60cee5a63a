//! The OpenAPI 3.1 document at `/api/openapi.json`, built from one table of routes that also
//! names the roles allowed on each.

use axum::Json;
use serde_json::{Value, json};

/// One documented endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Roles allowed; empty means no authentication.
    pub roles: &'static [&'static str],
    pub body: Option<&'static str>,
}

const ALL: &[&str] = &["admin", "finance", "department", "expert", "third_party"];
const BUREAU: &[&str] = &["admin", "finance"];

pub const ROUTES: &[RouteDoc] = &[
    RouteDoc { method: "get", path: "/healthz", summary: "Liveness: the process answers", roles: &[], body: None },
    RouteDoc { method: "get", path: "/readyz", summary: "Readiness: the database answers", roles: &[], body: None },
    RouteDoc {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (an admin's token or the metrics_token setting)",
        roles: &["admin"],
        body: None,
    },
    RouteDoc { method: "get", path: "/api/openapi.json", summary: "This document", roles: &[], body: None },
    RouteDoc { method: "get", path: "/api/v1/me", summary: "The caller's user record", roles: ALL, body: None },
    RouteDoc {
        method: "patch",
        path: "/api/v1/me",
        summary: "Set the caller's mail language and daily digest",
        roles: ALL,
        body: Some("Preferences"),
    },
    RouteDoc { method: "get", path: "/api/v1/admin/users", summary: "List users", roles: &["admin"], body: None },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users",
        summary: "Create a user (experts with their profile)",
        roles: &["admin"],
        body: Some("NewUser"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users/{id}/password",
        summary: "Set a user's password for the web pages (10 characters or more); ends their sessions",
        roles: &["admin"],
        body: Some("PasswordRequest"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/users/{id}/tokens",
        summary: "Issue an API token (shown once)",
        roles: &["admin"],
        body: Some("TokenRequest"),
    },
    RouteDoc {
        method: "delete",
        path: "/api/v1/admin/users/{id}/tokens",
        summary: "Revoke a user's tokens",
        roles: &["admin"],
        body: None,
    },
    RouteDoc { method: "get", path: "/api/v1/departments", summary: "List departments", roles: ALL, body: None },
    RouteDoc {
        method: "post",
        path: "/api/v1/departments",
        summary: "Create a department",
        roles: BUREAU,
        body: Some("NewDepartment"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects",
        summary: "List projects (a department sees its own)",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects",
        summary: "Create a project with its indicators",
        roles: &["admin", "finance", "department"],
        body: Some("ProjectInput"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}",
        summary: "A project with its indicators",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/workflows",
        summary: "Published workflow versions",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/workflows",
        summary: "Publish a workflow version (YAML body)",
        roles: &["admin"],
        body: Some("WorkflowYaml"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/workflows/check",
        summary: "Check a definition without publishing it",
        roles: BUREAU,
        body: Some("WorkflowYaml"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/workflows/{id}/versions/{version}",
        summary: "One version: stages and source",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cycles",
        summary: "Start a cycle: one case per project of the fiscal year",
        roles: BUREAU,
        body: Some("CycleRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases",
        summary: "List cases (a department sees its own)",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases/{id}",
        summary: "A case: stage, open tasks, history, plugin checks with their findings",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cases/{id}/retry",
        summary: "Retry a blocked case",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/tasks",
        summary: "The caller's tasks (inbox), with overdue flags",
        roles: ALL,
        body: None,
    },
    RouteDoc { method: "get", path: "/api/v1/tasks/{id}", summary: "One task", roles: ALL, body: None },
    RouteDoc {
        method: "post",
        path: "/api/v1/tasks/{id}/complete",
        summary: "Complete a task with its form",
        roles: ALL,
        body: Some("TaskForm"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/inbox",
        summary: "The caller's open tasks with counts: pending, due_soon (3 days), overdue; ?state=&kind=",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/tasks/{id}/decline",
        summary: "Decline an assigned review with a reason; a replacement is drawn",
        roles: &["finance", "department", "expert"],
        body: Some("DeclineRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/schedules/fires",
        summary: "Recorded schedule fires",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/imports",
        summary: "Import an XLSX or CSV file sent as the body (?file=NAME.xlsx&dry_run=true): departments, users and experts (admin), projects with indicators; all or nothing, every problem at its sheet, row and column",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/{file}",
        summary: "projects.xlsx|csv, self-evaluations.xlsx|csv or actions.xlsx|csv for ?fiscal_year= (a department gets its own)",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/monitoring-runs/{file}",
        summary: "A monitoring run: {id}.xlsx (its summary per department and every report with its lights) or {id}.csv (the reports)",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/exports/disclosures/{year}/{file}",
        summary: "A published disclosure as targets|results.xlsx or .csv (?version=N)",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/outbox",
        summary: "The mail outbox, newest first (status, limit), with counts per status",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs",
        summary: "Monitoring runs with their completion",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs/{id}",
        summary: "A run's summary: completion, lights per department and sector, red projects with causes",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/monitoring/runs/{id}/reports.csv",
        summary: "Every report of a run with its lights, as CSV",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/monitoring/runs/{id}/evaluate",
        summary: "Evaluate the run's lights now (also done when it closes)",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}/budget",
        summary: "A project's budget ledger: original, changes, current",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects/{id}/budget",
        summary: "Record an adjustment (调剂), a mid-year addition (追加) or a reduction",
        roles: BUREAU,
        body: Some("BudgetEntry"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/dispositions",
        summary: "Propose a disposition for a monitored case, naming its approver",
        roles: BUREAU,
        body: Some("NewDisposition"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/dispositions/{id}",
        summary: "One disposition",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/dispositions/{id}/decision",
        summary: "The named approver approves or rejects a disposition",
        roles: BUREAU,
        body: Some("DispositionDecision"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/cycles/{id}/cases",
        summary: "Add a project funded mid-year to a cycle at a stage",
        roles: BUREAU,
        body: Some("JoinRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/plugins",
        summary: "Installed indicator-check plugins and their versions",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/plugins",
        summary: "Upload a plugin component (validated in the sandbox before it is accepted)",
        roles: &["admin"],
        body: Some("PluginWasm"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/spot-checks",
        summary: "Draw a seeded spot check (抽查复核) over the self-evaluations waiting for one",
        roles: BUREAU,
        body: Some("SpotCheckRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/spot-checks/{id}",
        summary: "A draw: seed, population, sample, whether it reproduces, the re-scores",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/cases/{id}/self-evaluation",
        summary: "A case's self-evaluation: self score, re-score, flag, final score",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/self-evaluations/score",
        summary: "Score a year's stored self-evaluations again from their forms (reproducible: unchanged data changes nothing)",
        roles: BUREAU,
        body: Some("ScoreRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/actions",
        summary: "Result actions (filters: fiscal_year, department_id, case_id, status)",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/actions/{id}",
        summary: "One result action",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/actions/{id}/decision",
        summary: "Approve or reject a proposed action outside a case's approval task (an escalation)",
        roles: BUREAU,
        body: Some("ActionDecision"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/actions/{id}/done",
        summary: "Mark an approved action done (suspension lifted, cut or cancellation applied)",
        roles: BUREAU,
        body: Some("ActionDone"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/actions",
        summary: "Next year's budget implications per department: cuts, suspended, recovered, cancelled",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/third-parties",
        summary: "Third-party evaluation institutions",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/third-parties",
        summary: "Register a third-party institution with its affiliations and staff",
        roles: BUREAU,
        body: Some("NewThirdParty"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/key-evaluations",
        summary: "Key evaluations the caller takes part in",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations",
        summary: "Commission a key evaluation (independence checked)",
        roles: BUREAU,
        body: Some("NewKeyEvaluation"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/key-evaluations/{id}",
        summary: "A key evaluation: stage, round, who must act, history",
        roles: &["admin", "finance", "department", "third_party"],
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations/{id}/steps",
        summary: "Submit the stage's deliverable (third party), confirm it or disagree (each party)",
        roles: &["admin", "finance", "department", "third_party"],
        body: Some("KeyStep"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/key-evaluations/{id}/actions",
        summary: "Propose a result action from a finished key evaluation (decided at /actions/{id}/decision)",
        roles: BUREAU,
        body: Some("KeyAction"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/disclosures",
        summary: "Published disclosure versions",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/disclosures",
        summary: "Publish a fiscal year's targets or results (a new version corrects the last)",
        roles: BUREAU,
        body: Some("PublishRequest"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries",
        summary: "Indicator libraries: the sector common libraries (the plugins' data) and departments' (a department sees its own)",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries/{code}",
        summary: "A library's version in use, or ?version=N (code sector:<sector> or department:<code>)",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/libraries/{code}/versions",
        summary: "Every version of a library with its status (proposed, published, rejected)",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/libraries/{code}/versions",
        summary: "A new version of a department's library: published when the bureau writes it, proposed when the department does; 409 when the entries are those of the version in use",
        roles: &["admin", "finance", "department"],
        body: Some("LibraryVersion"),
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/libraries/{code}/versions/{version}/decision",
        summary: "Approve (publish) or reject a department's proposed library version",
        roles: BUREAU,
        body: Some("DispositionDecision"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/projects/{id}/targets/proposal",
        summary: "Fill-and-use: applicable library entries (department first), last year's indicators for a recurring project, each value's basis and flags",
        roles: ALL,
        body: None,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/projects/{id}/targets/check",
        summary: "The flags targets would raise (far from the project's history or the sector's range); stores nothing",
        roles: ALL,
        body: Some("Targets"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/departments/{code}/overall/{year}",
        summary: "A department's overall declaration (部门整体) for a year",
        roles: &["admin", "finance", "department"],
        body: None,
    },
    RouteDoc {
        method: "put",
        path: "/api/v1/departments/{code}/overall/{year}",
        summary: "Declare a department's overall duties, key work and budget for a year (until a cycle takes it up)",
        roles: &["admin", "finance", "department"],
        body: Some("Overall"),
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}",
        summary: "The annual report: each figure's count and amount, ?compare=N earlier years (default 2), and its list's URL",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}/figures/{key}",
        summary: "The rows a figure of the annual report counts (?limit, ?offset)",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/reports/annual/{year}/report.xlsx",
        summary: "The annual report as a workbook: the figures with earlier years, and a sheet per figure's list",
        roles: BUREAU,
        body: None,
    },
    RouteDoc {
        method: "get",
        path: "/public/disclosures/{year}/{file}",
        summary: "A published disclosure to anyone: targets|results .json|.csv|.html, ?version=N",
        roles: &[],
        body: None,
    },
];

pub async fn document() -> Json<Value> {
    Json(build())
}

pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": if name == "id" || name == "version" { "integer" } else { "string" }}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}_{}", r.method, r.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "x-roles": r.roles,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if r.roles.is_empty() {
            op["security"] = json!([]);
        }
        if let Some(body) = r.body {
            let media = match body {
                "WorkflowYaml" => "application/yaml",
                "PluginWasm" => "application/wasm",
                _ => "application/json",
            };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(r.method.to_string(), op));
    }
    let object = |desc: &str| json!({"type": "object", "description": desc});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "jixiao", "version": env!("CARGO_PKG_VERSION"), "description": "Whole-process budget performance management (全过程预算绩效管理)"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message", "details"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "description": "{path, message} for fields; {file, line, column, message} for workflow definitions"}}}},
                "PasswordRequest": object("password (10 to 1000 characters)"),
                "Preferences": object("language (zh|en), digest (true: one mail a day listing open tasks and news instead of one mail per event)"),
                "NewUser": object("username, display_name, role, department_code (department users), email, language (zh|en), digest (one mail a day), department_head (department users: told first when the department's work is overdue), expert {sectors, specialities, title, organisation, employment[] {department_code, from_year, to_year}, conflicts[] {kind (relative_heads_unit|took_part|interest), department_code, project_code, note}, availability[] {from, to} (dates), max_concurrent_reviews (default 20)}"),
                "TokenRequest": object("label"),
                "NewDepartment": object("code, name, sector, head"),
                "ProjectInput": object("code, name, department_code, sector, amount (yuan as a decimal string), fiscal_year, is_new, funding_source, indicators[] {level1, level2, name, operator (≥ ≤ = 定性), value, unit, weight, basis, explanation, core}"),
                "WorkflowYaml": {"type": "string", "description": "A workflow definition in YAML (see workflows/county-annual-cycle.yaml)"},
                "PluginWasm": {"type": "string", "format": "binary", "description": "A WebAssembly component implementing wit/indicator.wit (jixiao:indicator@1.0.0)"},
                "CycleRequest": object("workflow_id, version (default: latest), fiscal_year, project_codes (default: every project of the year)"),
                "DeclineRequest": object("reason"),
                "BudgetEntry": object("kind (adjust_in|adjust_out|addition|reduction), amount (yuan), reason"),
                "NewDisposition": object("case_id, run_id (optional), kind (reduce|adjust_targets|suspend|stop_disbursement), amount (yuan, reductions only), reason, approver_id"),
                "DispositionDecision": object("approve (bool), note"),
                "JoinRequest": object("project_id, stage"),
                "SpotCheckRequest": object("workflow_id, stage, seed (optional u64; random when absent)"),
                "ActionDecision": object("decision (approve|reject), comment"),
                "ActionDone": object("note"),
                "ScoreRequest": object("fiscal_year"),
                "KeyAction": object("kind (commend|keep|rectify|cut|suspend|recover|cancel), percent (cut), amount (yuan, recover), note"),
                "NewThirdParty": object("code, name, affiliations[] (department ids), bureau_affiliated (bool), members[] (third_party user ids)"),
                "NewKeyEvaluation": object("project_id or department_id, fiscal_year, third_party_id, weights {decision, process, output, benefit} (percent; default 20/20/30/30; output + benefit ≥ 60)"),
                "LibraryVersion": object("entries[] {level1, level2, name, operator, value, unit, weight?, basis (计划标准|行业标准|历史标准|其他), source, explanation, core, applies {sectors[], departments[], project_types[]}}, note"),
                "Targets": object("indicators[]: level-3 indicators as in a targets task"),
                "Overall": object("duties, key_work[] {name, description, amount}, amount, funding_source?, indicators[]?"),
                "KeyStep": object("action (submit|confirm|disagree); submit: deliverable {title, summary, documents[], indicators[] (work plan), scores {decision, process, output, benefit} (final report), findings[]}; confirm: comment; disagree: comment"),
                "PublishRequest": object("fiscal_year, kind (targets|results), title, correction_note (required from the second version on)"),
                "TaskForm": object("The form of the task's kind: ex_ante_report, targets, monitoring, self_evaluation, rectification, ex_ante_assessment, target_review, result_application, disclosure (see README)")
            }
        }
    })
}
