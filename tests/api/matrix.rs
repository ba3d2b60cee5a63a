//! The access matrix: every endpoint and every page, called by each of eight callers, against
//! one table of expected answers. The routes are read from the router sources, so an endpoint
//! or page added without a row fails here, as does a row whose route is gone; and the roles the
//! OpenAPI document names for each endpoint are held against the table.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The callers, in the order of the table's columns.
const CALLERS: [&str; 8] =
    ["admin", "finance", "dept_a", "dept_b", "expert_assigned", "expert_other", "third_party", "anonymous"];

/// Each column's role as the OpenAPI document names it (none for the anonymous caller).
const DOC_ROLES: [&str; 8] = ["admin", "finance", "department", "department", "expert", "expert", "third_party", ""];

/// What a row sends.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// No body.
    Nothing,
    /// JSON, with `{name}` placeholders filled from the fixture.
    Json(&'static str),
    /// A page's urlencoded form; `{csrf}` is the caller's form token.
    Form(&'static str),
    /// A page's multipart upload: the caller's form token and a small PDF.
    Pdf,
}

use Body::*;

/// The matrix: one row per route, the status each caller gets, columns in the order of
/// `CALLERS`:
///
/// admin, finance (a finance user with no seat on the panel), dept_a (D001, whose projects
/// these are), dept_b (another unit with no part in them), expert_assigned (drawn onto the
/// target-review panel), expert_other (an expert not drawn), third_party (a member of the
/// institution doing the key evaluation), anonymous (no token, no cookie).
///
/// `{name}` in a path or body is one of the fixture's values (see `fixture`); `{missing}` is
/// an id that exists nowhere. API rows are called with the callers' bearer tokens, page rows
/// with their session cookies. Bodies are valid in shape, so the role checks are reached, but
/// most would be refused by the rules after them (422, 409, 400): rows run top to bottom,
/// callers left to right, and only change what no later row reads.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, Body, [u16; 8])] = &[
    // Probes and the API document: anyone.
    ("GET",    "/healthz",                                         Nothing, [200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",    "/readyz",                                          Nothing, [200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",    "/metrics",                                         Nothing, [200, 403, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/openapi.json",                                Nothing, [200, 200, 200, 200, 200, 200, 200, 200]),
    // The caller and the admin's user records.
    ("GET",    "/api/v1/me",                                       Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("PATCH",  "/api/v1/me",                                       Json(r#"{"language": "zh"}"#),
                                                                            [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/admin/users",                              Nothing, [200, 403, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/admin/users",                              Json(r#"{"username": "matrix_new", "display_name": "新用户", "role": "third_party"}"#),
                                                                            [201, 403, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/admin/users/{spare}/tokens",               Json(r#"{"label": "matrix"}"#),
                                                                            [201, 403, 403, 403, 403, 403, 403, 401]),
    ("DELETE", "/api/v1/admin/users/{spare}/tokens",               Nothing, [200, 403, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/admin/users/{spare}/password",             Json(r#"{"password": "matrix-password-0001"}"#),
                                                                            [204, 403, 403, 403, 403, 403, 403, 401]),
    // Departments and projects.
    ("GET",    "/api/v1/departments",                              Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/departments",                              Json(r#"{"code": "bad code!", "name": "某局", "sector": "health"}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/projects",                                 Nothing, [200, 200, 200, 200, 403, 403, 403, 401]),
    ("POST",   "/api/v1/projects",                                 Json(r#"{"code": "bad code!", "name": "某项目", "department_code": "D001", "sector": "health", "amount": "1000", "fiscal_year": 2023, "is_new": false, "funding_source": "general_budget", "indicators": []}"#),
                                                                            [422, 422, 422, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/projects/{project}",                       Nothing, [200, 200, 200, 404, 200, 404, 404, 401]),
    ("GET",    "/api/v1/projects/{project}/budget",                Nothing, [200, 200, 200, 404, 404, 404, 404, 401]),
    ("POST",   "/api/v1/projects/{project}/budget",                Json(r#"{"kind": "bogus", "amount": "1", "reason": "矩阵"}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    // Workflows and cycles.
    ("GET",    "/api/v1/workflows",                                Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/workflows",                                Json(r#"{"source": "id: x"}"#),
                                                                            [422, 403, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/workflows/check",                          Json(r#"{"source": "id: x"}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/workflows/{workflow}/versions/{version}",  Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/cycles",                                   Json(r#"{"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["NO-SUCH-PROJECT"]}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/cycles/{cycle}/cases",                     Json(r#"{"project_id": {project}, "stage": "no_such_stage"}"#),
                                                                            [400, 400, 403, 403, 403, 403, 403, 401]),
    // Cases.
    ("GET",    "/api/v1/cases",                                    Nothing, [200, 200, 200, 200, 403, 403, 403, 401]),
    ("GET",    "/api/v1/cases/{case}",                             Nothing, [200, 200, 200, 404, 200, 404, 404, 401]),
    ("GET",    "/api/v1/cases/{self_case}/self-evaluation",        Nothing, [200, 200, 200, 404, 404, 404, 404, 401]),
    ("POST",   "/api/v1/cases/{case}/retry",                       Nothing, [409, 409, 403, 403, 403, 403, 403, 401]),
    // Tasks: the review is the assigned expert's.
    ("GET",    "/api/v1/tasks",                                    Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/inbox",                                    Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/tasks/{review}",                           Nothing, [200, 200, 404, 404, 200, 404, 404, 401]),
    ("POST",   "/api/v1/tasks/{review}/complete",                  Json("{}"),
                                                                            [403, 403, 404, 404, 422, 404, 404, 401]),
    ("POST",   "/api/v1/tasks/{review}/decline",                   Json(r#"{"reason": ""}"#),
                                                                            [403, 403, 404, 404, 422, 404, 404, 401]),
    ("GET",    "/api/v1/schedules/fires",                          Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/outbox",                                   Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    // Monitoring runs (none yet) and dispositions (one, decided by the admin).
    ("GET",    "/api/v1/monitoring/runs",                          Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/monitoring/runs/{missing}",                Nothing, [404, 404, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/monitoring/runs/{missing}/reports.csv",    Nothing, [404, 404, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/monitoring/runs/{missing}/evaluate",       Nothing, [404, 404, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/dispositions",                             Json(r#"{"case_id": {case}, "kind": "bogus", "reason": "矩阵", "approver_id": {admin_id}}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/dispositions/{disposition}",               Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/dispositions/{disposition}/decision",      Json(r#"{"approve": true}"#),
                                                                            [409, 403, 403, 403, 403, 403, 403, 401]),
    // Spot checks, self-evaluations and result actions (one proposed, awaiting approval).
    ("POST",   "/api/v1/spot-checks",                              Json(r#"{"workflow_id": "matrix-results", "stage": "self_evaluation", "seed": 1}"#),
                                                                            [409, 409, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/spot-checks/{missing}",                    Nothing, [404, 404, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/self-evaluations/score",                   Json(r#"{"fiscal_year": 2023}"#),
                                                                            [200, 200, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/actions",                                  Nothing, [200, 200, 200, 200, 403, 403, 403, 401]),
    ("GET",    "/api/v1/actions/{action}",                         Nothing, [200, 200, 200, 404, 404, 404, 404, 401]),
    ("POST",   "/api/v1/actions/{action}/decision",                Json(r#"{"decision": "maybe"}"#),
                                                                            [400, 400, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/actions/{action}/done",                    Json(r#"{"note": ""}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/reports/actions?fiscal_year=2023",         Nothing, [200, 200, 200, 200, 403, 403, 403, 401]),
    // Third parties and key evaluations.
    ("GET",    "/api/v1/third-parties",                            Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/third-parties",                            Json(r#"{"code": "", "name": ""}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/key-evaluations",                          Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/key-evaluations",                          Json(r#"{"project_id": {project}, "fiscal_year": 1999, "third_party_id": {institution}}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/key-evaluations/{key}",                    Nothing, [200, 200, 200, 404, 404, 404, 200, 401]),
    ("POST",   "/api/v1/key-evaluations/{key}/steps",              Json(r#"{"action": "disagree", "comment": ""}"#),
                                                                            [409, 409, 409, 404, 404, 404, 409, 401]),
    ("POST",   "/api/v1/key-evaluations/{key}/actions",            Json(r#"{"kind": "keep"}"#),
                                                                            [409, 409, 403, 403, 403, 403, 403, 401]),
    // Disclosures: the 2023 targets are published.
    ("GET",    "/api/v1/disclosures",                              Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/disclosures",                              Json(r#"{"fiscal_year": 1999, "kind": "targets"}"#),
                                                                            [422, 422, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/public/disclosures/{year}/{disclosure}",          Nothing, [200, 200, 200, 200, 200, 200, 200, 200]),
    // Spreadsheets and plugins (an upload without a body is refused after the role check).
    ("POST",   "/api/v1/imports",                                  Nothing, [400, 400, 400, 400, 403, 403, 403, 401]),
    ("GET",    "/api/v1/exports/{export}?fiscal_year=2023",        Nothing, [200, 200, 200, 200, 403, 403, 403, 401]),
    ("GET",    "/api/v1/exports/monitoring-runs/{run_export}",     Nothing, [404, 404, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/exports/disclosures/{year}/{disclosure}",  Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/plugins",                                  Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/plugins",                                  Nothing, [400, 403, 403, 403, 403, 403, 403, 401]),
    // Indicator libraries, fill-and-use and departments' overall declarations.
    ("GET",    "/api/v1/libraries",                                Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/libraries/{sector_library}",               Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("GET",    "/api/v1/libraries/{sector_library}/versions",      Nothing, [200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/v1/libraries/{dept_library}/versions",        Json(r#"{"entries": []}"#),
                                                                            [422, 422, 422, 403, 403, 403, 403, 401]),
    ("POST",   "/api/v1/libraries/{dept_library}/versions/{first}/decision", Json(r#"{"approve": true}"#),
                                                                            [404, 404, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/projects/{project}/targets/proposal",      Nothing, [200, 200, 200, 404, 200, 404, 404, 401]),
    ("POST",   "/api/v1/projects/{project}/targets/check",         Json(r#"{"indicators": []}"#),
                                                                            [200, 200, 200, 404, 200, 404, 404, 401]),
    ("GET",    "/api/v1/departments/{dept}/overall/{year}",        Nothing, [404, 404, 404, 404, 403, 403, 403, 401]),
    ("PUT",    "/api/v1/departments/{dept}/overall/{year}",        Json(r#"{"duties": "", "key_work": [], "amount": "1"}"#),
                                                                            [422, 422, 422, 404, 403, 403, 403, 401]),
    // The annual report: the bureau's.
    ("GET",    "/api/v1/reports/annual/{year}",                    Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/reports/annual/{year}/figures/{figure}",   Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    ("GET",    "/api/v1/reports/annual/{year}/report.xlsx",        Nothing, [200, 200, 403, 403, 403, 403, 403, 401]),
    // Pages: a visitor without a session is sent to log in (303).
    ("GET",    "/login",                                           Nothing, [303, 303, 303, 303, 303, 303, 303, 200]),
    ("POST",   "/login",                                           Form("username=admin&password=matrix-wrong-0001&csrf=forged"),
                                                                            [403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET",    "/assets/app.css",                                  Nothing, [200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",    "/",                                                Nothing, [200, 200, 200, 200, 200, 200, 200, 303]),
    ("GET",    "/projects",                                        Nothing, [200, 200, 200, 200, 403, 403, 403, 303]),
    ("GET",    "/dashboard",                                       Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/cases",                                           Nothing, [200, 200, 200, 200, 403, 403, 403, 303]),
    ("GET",    "/cases/{case}",                                    Nothing, [200, 200, 200, 404, 200, 404, 404, 303]),
    ("GET",    "/workflows",                                       Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/workflows/{workflow}/{version}",                  Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/panels",                                          Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/actions",                                         Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/disclosures",                                     Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/tasks/{review}",                                  Nothing, [200, 200, 404, 404, 200, 404, 404, 303]),
    ("POST",   "/tasks/{review}",                                  Form("csrf={csrf}"),
                                                                            [403, 403, 404, 404, 422, 404, 404, 303]),
    ("POST",   "/tasks/{review}/decline",                          Form("csrf={csrf}&reason="),
                                                                            [422, 422, 404, 404, 422, 404, 404, 303]),
    ("POST",   "/tasks/{report}/files",                            Pdf,     [403, 403, 200, 404, 404, 404, 404, 303]),
    ("GET",    "/files/{document}",                                Nothing, [200, 200, 200, 404, 404, 404, 404, 303]),
    ("POST",   "/actions/{action}",                                Form("csrf={csrf}&decision=maybe"),
                                                                            [400, 400, 403, 403, 403, 403, 403, 303]),
    ("POST",   "/disclosures",                                     Form("csrf={csrf}&fiscal_year=1999&kind=targets"),
                                                                            [422, 422, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/report",                                          Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/report/{year}/{figure}",                          Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/report/{year}/report.xlsx",                       Nothing, [200, 200, 403, 403, 403, 403, 403, 303]),
    ("GET",    "/libraries",                                       Nothing, [200, 200, 200, 200, 200, 200, 200, 303]),
    ("GET",    "/libraries/{sector_library}",                      Nothing, [200, 200, 200, 200, 200, 200, 200, 303]),
    ("POST",   "/libraries/{dept_library}",                        Form("csrf={csrf}&rows="),
                                                                            [422, 422, 422, 403, 403, 403, 403, 303]),
    ("POST",   "/libraries/{sector_library}/versions/{first}",     Form("csrf={csrf}&decision=approve"),
                                                                            [409, 409, 403, 403, 403, 403, 403, 303]),
    ("POST",   "/logout",                                          Form("csrf=forged"),
                                                                            [403, 403, 403, 403, 403, 403, 403, 303]),
];

/// Cells where a role the OpenAPI document allows is refused because of the object, not the
/// role: the role does this elsewhere. The documentation check does not count them.
const REFUSED_FOR_THE_OBJECT: &[(&str, &str, &str, &str)] = &[
    ("POST", "/api/v1/tasks/{review}/complete", "admin", "a review is its reviewer's; the admin completes approvals"),
    ("POST", "/api/v1/tasks/{review}/complete", "finance", "a review is its reviewer's; finance completes approvals"),
    ("POST", "/api/v1/tasks/{review}/decline", "finance", "only the assignee declines, and finance sits on panels"),
    ("POST", "/api/v1/dispositions/{disposition}/decision", "finance", "the disposition names the admin as approver"),
];

/// The router sources, compiled in so that the matrix follows the code it is built with.
const SOURCES: [(&str, &str); 7] = [
    ("src/api/mod.rs", include_str!("../../src/api/mod.rs")),
    ("src/api/report.rs", include_str!("../../src/api/report.rs")),
    ("src/api/library.rs", include_str!("../../src/api/library.rs")),
    ("src/api/evaluation.rs", include_str!("../../src/api/evaluation.rs")),
    ("src/api/monitoring.rs", include_str!("../../src/api/monitoring.rs")),
    ("src/api/exchange.rs", include_str!("../../src/api/exchange.rs")),
    ("src/web/mod.rs", include_str!("../../src/web/mod.rs")),
];

/// Where the pages are registered.
const WEB_SOURCE: &str = "src/web/mod.rs";

/// A route the router registers: method, path, and whether it is a page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    path: String,
    page: bool,
}

/// A path template with every `{name}` written `{}` and without its query, so that a row's
/// placeholders (named after the fixture's values) compare with the router's.
fn shape(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let mut out = String::new();
    let mut inside = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(ch),
        }
    }
    out
}

/// Source text with a mark on each character that is code, not a comment or the inside of a
/// string or character literal; brackets and names are only looked for in code.
struct Code {
    text: Vec<char>,
    code: Vec<bool>,
}

impl Code {
    fn new(src: &str) -> Code {
        let text: Vec<char> = src.chars().collect();
        let n = text.len();
        let mut code = vec![true; n];
        let at = |i: usize| text.get(i).copied().unwrap_or('\0');
        let mut i = 0;
        while i < n {
            let c = text[i];
            if c == '/' && at(i + 1) == '/' {
                while i < n && text[i] != '\n' {
                    code[i] = false;
                    i += 1;
                }
            } else if c == '/' && at(i + 1) == '*' {
                while i < n && !(text[i] == '*' && at(i + 1) == '/') {
                    code[i] = false;
                    i += 1;
                }
                code[i.min(n - 1)] = false;
                if i + 1 < n {
                    code[i + 1] = false;
                }
                i += 2;
            } else if c == 'r'
                && (at(i + 1) == '"' || (at(i + 1) == '#' && matches!(at(i + 2), '"' | '#')))
                && !(i > 0 && (text[i - 1].is_alphanumeric() || text[i - 1] == '_'))
            {
                // A raw string: r"…" or r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while at(j) == '#' {
                    hashes += 1;
                    j += 1;
                }
                j += 1;
                while j < n && !(text[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#')) {
                    code[j] = false;
                    j += 1;
                }
                i = j + hashes + 1;
            } else if c == '"' {
                let mut j = i + 1;
                while j < n && text[j] != '"' {
                    code[j] = false;
                    if text[j] == '\\' && j + 1 < n {
                        code[j + 1] = false;
                        j += 1;
                    }
                    j += 1;
                }
                i = j + 1;
            } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
                // A character literal ('x', '\n', '\u{..}'); a lone quote is a lifetime.
                let end = if at(i + 1) == '\\' { (i + 3..n).find(|&j| text[j] == '\'').unwrap_or(n) } else { i + 2 };
                for mark in &mut code[i + 1..end] {
                    *mark = false;
                }
                i = end + 1;
            } else {
                i += 1;
            }
        }
        Code { text, code }
    }

    /// Where `pat` first occurs as code in `from..to`.
    fn find(&self, pat: &str, from: usize, to: usize) -> Option<usize> {
        let pat: Vec<char> = pat.chars().collect();
        (from..to.saturating_sub(pat.len() - 1))
            .find(|&i| pat.iter().enumerate().all(|(k, p)| self.text[i + k] == *p && self.code[i + k]))
    }

    /// Every place `pat` occurs as code in `from..to`.
    fn find_all(&self, pat: &str, from: usize, to: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = from;
        while let Some(i) = self.find(pat, at, to) {
            out.push(i);
            at = i + 1;
        }
        out
    }

    /// The bracket that closes the one at `open`.
    fn close(&self, open: usize) -> usize {
        let mut depth = 0;
        for i in open..self.text.len() {
            if !self.code[i] {
                continue;
            }
            match self.text[i] {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced brackets from {}", self.slice(open, (open + 60).min(self.text.len())))
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.text[from..to].iter().collect()
    }

    /// The string literal starting at `from` (after blanks): its text and where it ends.
    fn literal(&self, from: usize) -> Option<(String, usize)> {
        let start = (from..self.text.len()).find(|&i| !self.text[i].is_whitespace())?;
        if self.text[start] != '"' {
            return None;
        }
        let end = (start + 1..self.text.len()).find(|&i| self.code[i])?;
        Some((self.slice(start + 1, end), end + 1))
    }

    /// The body of `fn name(…) … { … }`: the range inside its braces.
    fn fn_body(&self, name: &str) -> Option<(usize, usize)> {
        let at = self.find(&format!("fn {name}("), 0, self.text.len())?;
        let open = self.find("{", at, self.text.len())?;
        Some((open + 1, self.close(open)))
    }

    /// The arguments of every `.name(…)` call in `from..to`: (open bracket, close bracket).
    fn calls(&self, name: &str, from: usize, to: usize) -> Vec<(usize, usize)> {
        let pat = format!(".{name}(");
        self.find_all(&pat, from, to)
            .into_iter()
            .map(|i| {
                let open = i + pat.chars().count() - 1;
                (open, self.close(open))
            })
            .collect()
    }

    /// The calls made at the top level of the expression in `from..to` (`get(…).post(…)`
    /// gives get and post; what is inside the brackets is not looked at).
    fn top_level_calls(&self, from: usize, to: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = from;
        while i < to {
            let c = self.text[i];
            if !self.code[i] {
                i += 1;
            } else if c == '(' || c == '[' || c == '{' {
                i = self.close(i) + 1;
            } else if c.is_alphabetic() || c == '_' {
                let start = i;
                while i < to && (self.text[i].is_alphanumeric() || self.text[i] == '_') {
                    i += 1;
                }
                let after = (i..to).find(|&j| !self.text[j].is_whitespace()).unwrap_or(to);
                if after < to && self.text[after] == '(' {
                    out.push(self.slice(start, i));
                }
            } else {
                i += 1;
            }
        }
        out
    }
}

/// The file a merged router comes from: `crate::web` is the pages, a bare name an API module.
fn file_of(module: &str) -> String {
    match module.rsplit("::").next().unwrap_or(module) {
        "web" => WEB_SOURCE.to_string(),
        name => format!("src/api/{name}.rs"),
    }
}

fn source(file: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(f, _)| *f == file).map(|(_, s)| *s)
}

/// The routes registered, and the merges made, in `from..to` of `file`, outside `skip`.
fn collect(
    code: &Code,
    file: &str,
    from: usize,
    to: usize,
    skip: &[(usize, usize)],
    prefix: &str,
    out: &mut Vec<Route>,
    problems: &mut Vec<String>,
) {
    let kept = |i: &usize| !skip.iter().any(|(a, b)| (*a..*b).contains(i));
    for (open, close) in code.calls("route", from, to).into_iter().filter(|(o, _)| kept(o)) {
        let Some((path, after)) = code.literal(open + 1) else {
            problems.push(format!("{file}: a .route( without a literal path: {}", code.slice(open, close)));
            continue;
        };
        for call in code.top_level_calls(after, close) {
            match call.as_str() {
                "get" | "post" | "put" | "patch" | "delete" => out.push(Route {
                    method: call.to_uppercase(),
                    path: format!("{prefix}{path}"),
                    page: file == WEB_SOURCE,
                }),
                "layer" | "route_layer" => {}
                other => problems.push(format!("{file}: route {path} uses {other}(…), which the matrix cannot read")),
            }
        }
    }
    for (open, close) in code.calls("merge", from, to).into_iter().filter(|(o, _)| kept(o)) {
        let inner = code.slice(open + 1, close);
        let callee = inner.split('(').next().unwrap_or_default().trim().to_string();
        let Some((module, function)) = callee.rsplit_once("::") else {
            problems.push(format!("{file}: .merge({inner}) is not a module's router function"));
            continue;
        };
        let merged = file_of(module);
        let Some(src) = source(&merged) else {
            problems.push(format!("{file}: the router merges {callee}, from {merged}, which the matrix does not read"));
            continue;
        };
        let merged_code = Code::new(src);
        match merged_code.fn_body(function) {
            Some((a, b)) => collect(&merged_code, &merged, a, b, &[], prefix, out, problems),
            None => problems.push(format!("{merged}: no fn {function}")),
        }
    }
}

/// Every route of the server, read from `router` in src/api/mod.rs: the routers it nests get
/// their prefix, and the routers merged anywhere are read from their own files.
fn routes() -> Result<Vec<Route>, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let file = "src/api/mod.rs";
    let code = Code::new(source(file).unwrap_or_default());
    let Some((from, to)) = code.fn_body("router") else {
        return Err(vec![format!("{file}: no fn router")]);
    };
    // `let v1 = Router::new()…;` and later `.nest("/api/v1", v1)`.
    let mut nested = Vec::new();
    for (open, close) in code.calls("nest", from, to) {
        let inner = code.slice(open + 1, close);
        let Some((prefix, after)) = code.literal(open + 1) else {
            problems.push(format!("{file}: .nest({inner}) without a literal prefix"));
            continue;
        };
        let name = code.slice(after, close).trim_start_matches([',', ' ', '\n']).trim().to_string();
        let Some(start) = code.find(&format!("let {name} ="), from, to) else {
            problems.push(format!("{file}: .nest({inner}) nests a router not built in fn router"));
            continue;
        };
        let mut end = start;
        while end < to && !(code.code[end] && code.text[end] == ';') {
            if code.code[end] && matches!(code.text[end], '(' | '[' | '{') {
                end = code.close(end);
            }
            end += 1;
        }
        collect(&code, file, start, end, &[], &prefix, &mut out, &mut problems);
        nested.push((start, end));
    }
    collect(&code, file, from, to, &nested, "", &mut out, &mut problems);
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// The table's (method, path shape) keys, checked to be unique.
fn table_keys() -> BTreeMap<(String, String), usize> {
    let mut keys = BTreeMap::new();
    for (i, (method, path, ..)) in MATRIX.iter().enumerate() {
        let old = keys.insert((method.to_string(), shape(path)), i);
        assert!(old.is_none(), "two rows for {method} {path}");
    }
    keys
}

#[test]
fn every_route_and_page_has_a_row_in_the_access_matrix() {
    let routes = routes().unwrap_or_else(|p| panic!("the router sources could not be read:\n{}", p.join("\n")));
    assert!(routes.len() > 60, "only {} routes found; is the reading of the router sources broken?", routes.len());
    let keys = table_keys();
    let real: BTreeSet<(String, String)> = routes.iter().map(|r| (r.method.clone(), shape(&r.path))).collect();
    assert_eq!(real.len(), routes.len(), "a route is registered twice: {routes:#?}");
    let mut problems = Vec::new();
    for r in &routes {
        if !keys.contains_key(&(r.method.clone(), shape(&r.path))) {
            problems.push(format!("{} {} has no row in the access matrix", r.method, r.path));
        }
    }
    for (method, path, ..) in MATRIX {
        if !real.contains(&(method.to_string(), shape(path))) {
            problems.push(format!("the row {method} {path} names no route the server has"));
        }
    }
    // Every API route is documented, and the document names no route the server lacks.
    let documented: BTreeSet<(String, String)> =
        jixiao::api::openapi::ROUTES.iter().map(|d| (d.method.to_uppercase(), shape(d.path))).collect();
    for r in routes.iter().filter(|r| !r.page) {
        if !documented.contains(&(r.method.clone(), shape(&r.path))) {
            problems.push(format!("{} {} is missing from openapi::ROUTES", r.method, r.path));
        }
    }
    for (method, path) in &documented {
        if !real.contains(&(method.clone(), path.clone())) {
            problems.push(format!("openapi::ROUTES documents {method} {path}, which the server does not route"));
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Whether a status says the caller got past the role check: done, or refused by the rules
/// that come after it (a bad request, a conflict, an invalid body).
fn let_in(status: u16) -> bool {
    (200..300).contains(&status) || matches!(status, 400 | 409 | 422)
}

#[test]
fn the_roles_openapi_documents_are_the_roles_the_matrix_lets_in() {
    let routes = routes().unwrap_or_else(|p| panic!("the router sources could not be read:\n{}", p.join("\n")));
    let pages: BTreeSet<(String, String)> =
        routes.iter().filter(|r| r.page).map(|r| (r.method.clone(), shape(&r.path))).collect();
    let mut problems = Vec::new();
    for (method, path, who, why) in REFUSED_FOR_THE_OBJECT {
        let column = CALLERS.iter().position(|c| c == who);
        let row = MATRIX.iter().find(|(m, p, ..)| m == method && p == path);
        if !matches!((row, column), (Some((.., want)), Some(i)) if want[i] == 403) {
            problems.push(format!("the excuse for {who} on {method} {path} ({why}) names no 403 of the matrix"));
        }
    }
    for (method, path, _, want) in MATRIX {
        if pages.contains(&(method.to_string(), shape(path))) {
            continue;
        }
        let Some(doc) = jixiao::api::openapi::ROUTES
            .iter()
            .find(|d| d.method.eq_ignore_ascii_case(method) && shape(d.path) == shape(path))
        else {
            continue; // reported by the route test
        };
        if doc.roles.is_empty() {
            if want[7] == 401 {
                problems.push(format!("{method} {path}: documented as open to anyone, but refuses the anonymous"));
            }
            continue;
        }
        if want[7] != 401 {
            problems.push(format!(
                "{method} {path}: documented for {:?}, but answers the anonymous {}",
                doc.roles, want[7]
            ));
        }
        for role in ["admin", "finance", "department", "expert", "third_party"] {
            let cells: Vec<(usize, u16)> = (0..7).filter(|&i| DOC_ROLES[i] == role).map(|i| (i, want[i])).collect();
            let excused = |i: usize| {
                REFUSED_FOR_THE_OBJECT.iter().any(|(m, p, who, _)| m == method && p == path && *who == CALLERS[i])
            };
            let allowed = cells.iter().any(|(_, s)| let_in(*s));
            let refused = cells.iter().all(|(i, s)| matches!(s, 401 | 403) && !excused(*i));
            let named = doc.roles.contains(&role);
            if named && refused {
                problems.push(format!("{method} {path}: documented for {role}, but the matrix refuses it ({cells:?})"));
            }
            if !named && allowed {
                problems.push(format!(
                    "{method} {path}: the matrix lets {role} in ({cells:?}), but the document names only {:?}",
                    doc.roles
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} difference(s) between openapi::ROUTES and the matrix:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The fixture's projects (all D001's) each caller has no part in, by code: no answer to them
/// may show one, whatever its status. The assigned expert reviews MX2023-01 and the third
/// party evaluates it; the other two are D001's alone.
const UNSEEN: [&[&str]; 8] = [
    &[],
    &[],
    &[],
    &["MX2023-01", "MX2023-02", "MX2023-03"],
    &["MX2023-02", "MX2023-03"],
    &["MX2023-01", "MX2023-02", "MX2023-03"],
    &["MX2023-02", "MX2023-03"],
    &["MX2023-01", "MX2023-02", "MX2023-03"],
];

/// Rows whose answer is published to everyone: the disclosed targets list every project.
const PUBLISHED: &[&str] =
    &["/public/disclosures/{year}/{disclosure}", "/api/v1/exports/disclosures/{year}/{disclosure}"];

/// One caller: an API token and a page session, or neither.
struct Caller {
    name: &'static str,
    token: Option<String>,
    cookie: Option<String>,
    csrf: String,
}

/// What the rows run against.
struct Fixture {
    /// Values for the `{name}` placeholders of paths and bodies.
    values: BTreeMap<&'static str, String>,
    callers: Vec<Caller>,
}

/// A workflow that takes a project from its self-evaluation to a proposed result action.
const RESULTS: &str = r#"
id: matrix-results
version: 1
title: 自评与结果应用
timezone: Asia/Shanghai
stages:
  - id: self_evaluation
    kind: self_evaluation
    submit: { by: department, form: self_evaluation, within: 20 workdays }
    scoring: mof_2020_10
  - id: result_application
    kind: result_application
    actions:
      - { propose: keep }
    approve: { by: finance, within: 10 workdays }
"#;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The value a response's Set-Cookie gives `name`.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The hidden `csrf` field of a page.
fn csrf_field(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf field in {page}")) + 19;
    page[at..].split('"').next().unwrap_or_default().to_string()
}

/// Gives `username` a password, logs in through the form, and returns the session cookie
/// with the session's form token.
async fn session(app: &TestApp, username: &str, user_id: i64) -> (String, String) {
    let password = "matrix-password-2023";
    let (s, v) =
        app.post(&format!("/api/v1/admin/users/{user_id}/password"), ADMIN_TOKEN, json!({"password": password})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let http = client();
    let login = http.get(format!("{}/login", app.base)).send().await.expect("login page");
    let pre = set_cookie(&login, "jx_login").expect("a jx_login cookie");
    let csrf = csrf_field(&login.text().await.expect("body"));
    let done = http
        .post(format!("{}/login", app.base))
        .header(COOKIE, format!("jx_login={pre}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("username={username}&password={password}&csrf={csrf}&next=/"))
        .send()
        .await
        .expect("log-in");
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{username} logs in");
    let cookie = format!("jx_session={}", set_cookie(&done, "jx_session").expect("a session cookie"));
    let inbox = http.get(format!("{}/", app.base)).header(COOKIE, &cookie).send().await.expect("inbox");
    assert_eq!(inbox.status(), StatusCode::OK);
    (cookie, csrf_field(&inbox.text().await.expect("body")))
}

/// A multipart body with the form token and a small PDF, and its content type.
fn pdf_upload(csrf: &str) -> (String, Vec<u8>) {
    let boundary = "matrix-boundary-7d1c";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"%PDF-1.4\n% matrix\n%%EOF\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The case of the project `code`.
fn case_of(cases: &Value, code: &str) -> i64 {
    cases["items"].as_array().unwrap().iter().find(|c| c["project_code"] == code).unwrap()["id"].as_i64().unwrap()
}

/// The county, three D001 projects and what they lead to: a case at its target-review panel,
/// a case waiting for its ex-ante report (with a document uploaded), a case whose
/// self-evaluation proposed a result action; a key evaluation of the first project by the
/// third party's institution; a decided disposition; the 2023 targets published. Then a
/// token and a session for each caller.
async fn fixture(app: &TestApp) -> Fixture {
    let c = county(app).await;
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    let user = |name: &str| -> i64 {
        users["items"].as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_i64().unwrap()
    };
    let username = |id: i64| -> String {
        users["items"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap()["username"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let dept_a = &c.dept_tokens[0];
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": RESULTS})).await;
    let reviewed = app.ok("/api/v1/projects", dept_a, project("MX2023-01", "D001", "800000", false)).await;
    app.ok("/api/v1/projects", dept_a, project("MX2023-02", "D001", "6000000", true)).await;
    app.ok("/api/v1/projects", dept_a, project("MX2023-03", "D001", "1000000", false)).await;
    let cycle = app
        .ok(
            "/api/v1/cycles",
            &c.finance_tokens[0],
            json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["MX2023-01", "MX2023-02"]}),
        )
        .await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "matrix-results", "fiscal_year": 2023, "project_codes": ["MX2023-03"]}),
    )
    .await;
    let cases = app.ok_get("/api/v1/cases?limit=100", ADMIN_TOKEN).await;
    let (case, report_case, self_case) =
        (case_of(&cases, "MX2023-01"), case_of(&cases, "MX2023-02"), case_of(&cases, "MX2023-03"));

    // Targets declared and the panel drawn.
    let v = app.wait_case(case, "targets requested", |v| v["phase"] == "awaiting_submission").await;
    let indicators = project("X", "D001", "1", false)["indicators"].clone();
    let targets = open_task(&v, "submission")["id"].clone();
    app.ok(&format!("/api/v1/tasks/{targets}/complete"), dept_a, json!({"indicators": indicators})).await;
    let v = app.wait_case(case, "panel drawn", |v| v["phase"] == "awaiting_reviews").await;
    let version = v["workflow_version"].to_string();
    let drawn = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "panel_drawn").unwrap();
    let members: Vec<i64> =
        drawn["data"]["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_i64().unwrap()).collect();
    let (expert_in, expert_in_token) = c.expert_tokens.iter().find(|(id, _)| members.contains(id)).unwrap().clone();
    let (expert_out, expert_out_token) = c.expert_tokens.iter().find(|(id, _)| !members.contains(id)).unwrap().clone();
    let review = v["open_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "review" && t["assignee_id"] == expert_in)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // Finance and the other unit are callers with no seat on the panel.
    let finance = (1..=2).map(|i| format!("finance{i}")).position(|n| !members.contains(&user(&n))).unwrap();
    let dept_b = (1..=2).find(|&i| !members.contains(&user(&c.dept_codes[i].to_lowercase()))).unwrap();

    // The ex-ante report: requested, and a document uploaded (below, once D001 has a session).
    let v = app.wait_case(report_case, "report requested", |v| v["phase"] == "awaiting_submission").await;
    let report = open_task(&v, "submission")["id"].as_i64().unwrap();

    // A self-evaluation that leads to a proposed action.
    let v = app.wait_case(self_case, "self-evaluation requested", |v| v["phase"] == "awaiting_submission").await;
    let form = json!({"executed": "1000000", "items": [
        {"index": 0, "value": "96"}, {"index": 1, "value": "90"}, {"index": 2, "value": "100"},
        {"index": 3, "value": {"level": "达成", "share": "0.95"}}, {"index": 4, "value": "94"}],
        "explanation": "年度目标全部完成", "evidence": ["年度自评报告.pdf"]});
    app.ok(&format!("/api/v1/tasks/{}/complete", open_task(&v, "submission")["id"]), dept_a, form).await;
    app.wait_case(self_case, "action proposed", |v| {
        v["stage"] == "result_application" && v["phase"] == "awaiting_approval"
    })
    .await;
    let actions = app.ok_get(&format!("/api/v1/actions?case_id={self_case}"), ADMIN_TOKEN).await;
    let action = actions["items"][0]["id"].as_i64().unwrap();

    // The third party's institution evaluates the reviewed project.
    let institution = app
        .ok(
            "/api/v1/third-parties",
            ADMIN_TOKEN,
            json!({"code": "TP-MX", "name": "某会计师事务所", "members": [user("thirdparty1")]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let key = app
        .ok(
            "/api/v1/key-evaluations",
            ADMIN_TOKEN,
            json!({"project_id": reviewed["id"], "fiscal_year": 2023, "third_party_id": institution}),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    // A disposition the finance caller proposed and the admin rejected.
    let admin_id = user("admin");
    let disposition = app
        .ok(
            "/api/v1/dispositions",
            &c.finance_tokens[finance],
            json!({"case_id": case, "kind": "suspend", "reason": "执行进度滞后", "approver_id": admin_id}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.ok(&format!("/api/v1/dispositions/{disposition}/decision"), ADMIN_TOKEN, json!({"approve": false})).await;
    app.ok("/api/v1/disclosures", ADMIN_TOKEN, json!({"fiscal_year": 2023, "kind": "targets"})).await;
    let spare = app
        .ok(
            "/api/v1/admin/users",
            ADMIN_TOKEN,
            json!({"username": "matrix_spare", "display_name": "备用", "role": "third_party"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    // A token and a session for each caller.
    let dept_b_user = c.dept_codes[dept_b].to_lowercase();
    let people: [(&str, String, String); 7] = [
        ("admin", ADMIN_TOKEN.to_string(), "admin".to_string()),
        ("finance", c.finance_tokens[finance].clone(), format!("finance{}", finance + 1)),
        ("dept_a", dept_a.clone(), "d001".to_string()),
        ("dept_b", c.dept_tokens[dept_b].clone(), dept_b_user),
        ("expert_assigned", expert_in_token, username(expert_in)),
        ("expert_other", expert_out_token, username(expert_out)),
        ("third_party", c.third_party_token.clone(), "thirdparty1".to_string()),
    ];
    let mut callers = Vec::new();
    for (name, token, login) in people {
        let (cookie, csrf) = session(app, &login, user(&login)).await;
        callers.push(Caller { name, token: Some(token), cookie: Some(cookie), csrf });
    }
    callers.push(Caller { name: "anonymous", token: None, cookie: None, csrf: String::new() });

    // D001 uploads the report's document through the page.
    let (kind, body) = pdf_upload(&callers[2].csrf);
    let resp = client()
        .post(format!("{}/tasks/{report}/files", app.base))
        .header(COOKIE, callers[2].cookie.clone().unwrap())
        .header(CONTENT_TYPE, kind)
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap_or_default());
    let document = app.rt.store.case_files(report_case).await.unwrap()[0].id;

    let values = BTreeMap::from([
        ("admin_id", admin_id.to_string()),
        ("spare", spare.to_string()),
        ("project", reviewed["id"].to_string()),
        ("workflow", "county-annual-cycle".to_string()),
        ("version", version),
        ("cycle", cycle["id"].to_string()),
        ("case", case.to_string()),
        ("self_case", self_case.to_string()),
        ("review", review.to_string()),
        ("report", report.to_string()),
        ("document", document.to_string()),
        ("action", action.to_string()),
        ("disposition", disposition.to_string()),
        ("institution", institution.to_string()),
        ("key", key.to_string()),
        ("missing", "999999".to_string()),
        ("run_export", "999999.csv".to_string()),
        ("export", "projects.csv".to_string()),
        ("year", "2023".to_string()),
        ("disclosure", "targets.csv".to_string()),
        ("sector_library", "sector:health".to_string()),
        ("dept_library", "department:D001".to_string()),
        ("dept", "D001".to_string()),
        ("first", "1".to_string()),
        ("figure", "projects_with_targets".to_string()),
    ]);
    Fixture { values, callers }
}

/// `template` with each `{name}` replaced by the fixture's value for it; `{csrf}` by `csrf`.
fn fill(template: &str, values: &BTreeMap<&'static str, String>, csrf: &str) -> String {
    let mut out = template.replace("{csrf}", csrf);
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// What one call answered: the status, and the body (after where a redirect goes).
async fn call(
    app: &TestApp,
    http: &reqwest::Client,
    method: &str,
    path: &str,
    page: bool,
    body: Body,
    who: &Caller,
    values: &BTreeMap<&'static str, String>,
) -> (u16, String) {
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = http.request(method, format!("{}{path}", app.base));
    if page {
        if let Some(cookie) = &who.cookie {
            req = req.header(COOKIE, cookie);
        }
    } else if let Some(token) = &who.token {
        req = req.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    req = match body {
        Nothing => req,
        Json(text) => {
            let text = fill(text, values, "");
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("the body of {path} is not JSON ({e}): {text}"));
            req.header(CONTENT_TYPE, "application/json").body(text)
        }
        Form(text) => req.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(fill(text, values, &who.csrf)),
        Pdf => {
            let (kind, bytes) = pdf_upload(&who.csrf);
            req.header(CONTENT_TYPE, kind).body(bytes)
        }
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let location = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok()).map(|l| format!("→ {l} "));
    (status, format!("{}{}", location.unwrap_or_default(), resp.text().await.unwrap_or_default()))
}

/// The start of an answer, on one line, for a report.
fn short(text: &str) -> String {
    text.chars().take(300).collect::<String>().replace('\n', " ")
}

#[tokio::test]
async fn every_caller_gets_the_declared_answer_from_every_endpoint_and_page() {
    let started = Instant::now();
    let routes = routes().unwrap_or_else(|p| panic!("the router sources could not be read:\n{}", p.join("\n")));
    let pages: BTreeSet<(String, String)> =
        routes.iter().filter(|r| r.page).map(|r| (r.method.clone(), shape(&r.path))).collect();
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    let ready = started.elapsed();
    let http = client();
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (method, template, body, want) in MATRIX {
        let page = pages.contains(&(method.to_string(), shape(template)));
        let path = fill(template, &fx.values, "");
        assert!(!path.contains('{'), "a placeholder of {template} has no value in the fixture");
        for (column, (who, expected)) in fx.callers.iter().zip(want).enumerate() {
            cells += 1;
            let (got, text) = call(&app, &http, method, &path, page, *body, who, &fx.values).await;
            if got != *expected {
                mismatches.push(format!(
                    "{method} {path} as {}: expected {expected}, got {got}: {}",
                    who.name,
                    short(&text)
                ));
            }
            let published = PUBLISHED.contains(template);
            for code in UNSEEN[column].iter().filter(|c| !published && text.contains(*c)) {
                mismatches.push(format!(
                    "{method} {path} as {}: the answer ({got}) shows {code}: {}",
                    who.name,
                    short(&text)
                ));
            }
        }
    }
    assert_eq!(cells, MATRIX.len() * CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ from the matrix ({} rows; fixture {ready:.1?}, all {:.1?}):\n{}",
        mismatches.len(),
        MATRIX.len(),
        started.elapsed(),
        mismatches.join("\n")
    );
}
