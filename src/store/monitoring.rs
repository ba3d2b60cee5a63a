//! Double monitoring in the store: a run opened by each fire of a monitoring stage's schedule
//! with the report every case in the stage owes it; reports marked filled with the task that
//! filled them (and the budget at that moment); runs closed once no report is pending, the
//! lapsed ones marked "not reported"; lights evaluated in chunks of reports; summaries and CSV;
//! the budget ledger; the bureau's dispositions; cases that join a cycle mid-year.

use chrono::{Datelike, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::cases::{add_input, append_event, lock_case};
use super::projects::budget_sql;
use super::workflows::Registry;
use super::{Result, Store, StoreError};
use crate::domain::monitoring::{self as mon, Bands, Light, Progress};
use crate::domain::{Fen, FieldError, Operator};
use crate::engine::Input;

/// Tells each department with red projects in a closed run which ones, with their causes: one
/// mail per department user, listing at most 50 projects.
async fn red_light_mail(conn: &mut AnyConnection, run_id: i64, now_ms: i64) -> Result<()> {
    let (workflow_id, version, stage): (String, i64, String) =
        sqlx::query_as("SELECT workflow_id, workflow_version, stage FROM monitoring_runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(&mut *conn)
            .await?;
    let reds: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT r.department_id, p.code, p.name, l.cause, l.cause_text FROM monitoring_lights l \
         JOIN monitoring_reports r ON r.run_id = l.run_id AND r.case_id = l.case_id JOIN projects p ON p.id = r.project_id \
         WHERE l.run_id = $1 AND l.light = 'red' ORDER BY r.department_id, p.code",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_dept: std::collections::BTreeMap<i64, Vec<Value>> = Default::default();
    for (dept, code, name, cause, text) in reds {
        let cause = match (cause, text.trim()) {
            (Some(c), "") => c,
            (Some(c), t) => format!("{c}（{t}）"),
            (None, _) => String::new(),
        };
        by_dept.entry(dept).or_default().push(json!({"code": code, "name": name, "cause": cause}));
    }
    for (dept, projects) in by_dept {
        let count = projects.len();
        let listed: Vec<Value> = projects.into_iter().take(50).collect();
        let context = json!({
            "run_id": run_id, "stage": stage, "workflow_id": workflow_id, "workflow_version": version,
            "count": count, "projects": listed,
        });
        super::outbox::department_mail(conn, dept, "red_light", context, now_ms).await?;
    }
    Ok(())
}

/// Reports evaluated per read and per transaction.
pub const EVALUATE_CHUNK: i64 = 5_000;

fn invalid(path: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        message: "the request is not valid".into(),
        details: vec![FieldError { zh: None, path: path.into(), message: message.into() }],
    }
}

/// Opens the run of a fire: one report per case waiting on the stage (the same cases the fire
/// gives a `fired` input, in the same transaction).
pub(crate) async fn open_run(
    conn: &mut AnyConnection,
    workflow_id: &str,
    version: u32,
    stage: &str,
    fire_ms: i64,
    now_ms: i64,
) -> Result<i64> {
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO monitoring_runs (workflow_id, workflow_version, stage, fire_ms, status, issued, created_ms) VALUES ($1, $2, $3, $4, 'open', 0, $5) RETURNING id",
    )
    .bind(workflow_id)
    .bind(i64::from(version))
    .bind(stage)
    .bind(fire_ms)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    let issued = sqlx::query(
        "INSERT INTO monitoring_reports (run_id, case_id, project_id, department_id, sector, fiscal_year, status) \
         SELECT $1, c.id, c.project_id, c.department_id, p.sector, cy.fiscal_year, 'pending' FROM cases c \
         JOIN projects p ON p.id = c.project_id JOIN cycles cy ON cy.id = c.cycle_id \
         WHERE c.workflow_id = $2 AND c.workflow_version = $3 AND c.stage = $4 AND c.phase = 'awaiting_fire' AND c.status = 'active'",
    )
    .bind(run_id)
    .bind(workflow_id)
    .bind(i64::from(version))
    .bind(stage)
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query("UPDATE monitoring_runs SET issued = $1 WHERE id = $2")
        .bind(issued)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    Ok(run_id)
}

/// Marks the case's pending report of an open run of `stage` filled by `task_id`, with the
/// project's budget as it stands now (the execution rate is read against it).
pub(crate) async fn report_filled(
    conn: &mut AnyConnection,
    case_id: i64,
    stage: &str,
    task_id: i64,
    targets: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "UPDATE monitoring_reports SET status = 'filled', task_id = $1, filled_ms = $2, targets = $3, budget_fen = (SELECT ",
        budget_sql!(),
        " FROM projects p WHERE p.id = monitoring_reports.project_id) \
         WHERE case_id = $4 AND status = 'pending' AND run_id IN (SELECT id FROM monitoring_runs WHERE stage = $5 AND status = 'open')"
    ))
    .bind(task_id)
    .bind(now_ms)
    .bind(targets)
    .bind(case_id)
    .bind(stage)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: i64,
    pub workflow_id: String,
    pub workflow_version: u32,
    pub stage: String,
    pub fire_ms: i64,
    pub status: String,
    pub issued: i64,
    pub filled: i64,
    pub not_reported: i64,
    pub pending: i64,
    pub evaluated_ms: Option<i64>,
    pub closed_ms: Option<i64>,
}

/// A monitoring form as stored in its task.
#[derive(Deserialize)]
struct StoredReport {
    executed: Fen,
    #[serde(default)]
    progress: Vec<StoredProgress>,
    #[serde(default)]
    deviation_cause: Option<String>,
    #[serde(default)]
    deviation_text: String,
    #[serde(default)]
    likelihood: String,
}

#[derive(Deserialize)]
struct StoredProgress {
    index: usize,
    #[serde(default)]
    cumulative: Option<String>,
    #[serde(default)]
    expected_full_year: Option<String>,
    #[serde(default)]
    level: Option<String>,
}

/// What the evaluation of one filled report gives.
struct Lights {
    case_id: i64,
    light: Option<Light>,
    execution: Option<mon::Reading>,
    blue: i64,
    month: u32,
    indicators: String,
    cause: Option<String>,
    cause_text: String,
    likelihood: String,
}

/// An indicator's operator and numeric target, as evaluation reads them.
type Target = (Option<Operator>, Option<Decimal>);

/// The project's indicators as a report keeps them: `[[operator, target or null], …]` in
/// position order, so a run reads what each report was measured against in one row, and later
/// target adjustments do not rewrite past runs.
pub(crate) fn targets_of(project: &crate::domain::project::Project) -> String {
    let list: Vec<Value> = project
        .indicators
        .iter()
        .map(|i| json!([i.operator.symbol(), i.value.as_number().map(|d| d.to_string())]))
        .collect();
    Value::Array(list).to_string()
}

fn parse_targets(text: Option<&str>) -> Vec<Target> {
    let Some(list) = text.and_then(|t| serde_json::from_str::<Vec<(String, Option<String>)>>(t).ok()) else {
        return Vec::new();
    };
    list.into_iter().map(|(op, v)| (operator(&op), v.and_then(|v| v.parse().ok()))).collect()
}

fn operator(s: &str) -> Option<Operator> {
    match s {
        "≥" => Some(Operator::Ge),
        "≤" => Some(Operator::Le),
        "=" => Some(Operator::Eq),
        "定性" => Some(Operator::Qualitative),
        _ => None,
    }
}

/// The lights of one report: `targets` are the project's indicators (operator, numeric target)
/// in position order.
fn evaluate_report(
    bands: &Bands,
    case_id: i64,
    month: u32,
    budget: Fen,
    report: &StoredReport,
    targets: &[Target],
) -> Lights {
    let execution = mon::execution(bands, report.executed, budget, month);
    let mut lights: Vec<Light> = execution.iter().map(|r| r.light).collect();
    let mut blue = 0;
    let mut per_indicator = Vec::with_capacity(report.progress.len());
    for p in &report.progress {
        let Some((Some(op), target)) = targets.get(p.index) else { continue };
        let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<Decimal>().ok());
        let progress = Progress {
            cumulative: parse(&p.cumulative),
            expected_full_year: parse(&p.expected_full_year),
            level: p.level.as_deref(),
        };
        if let Some(r) = mon::indicator(bands, *op, *target, &progress, month) {
            lights.push(r.light);
            blue += i64::from(r.light == Light::Blue);
            // Kept compact ([index, light, value]); `case_monitoring` spells it out.
            per_indicator.push(json!([p.index, r.light.as_str(), r.value.map(|v| v.to_string())]));
        }
    }
    Lights {
        case_id,
        light: mon::worst(lights),
        execution,
        blue,
        month,
        indicators: Value::Array(per_indicator).to_string(),
        cause: report.deviation_cause.clone(),
        cause_text: report.deviation_text.clone(),
        likelihood: report.likelihood.clone(),
    }
}

/// Minimal CSV quoting (RFC 4180).
fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// A change to a project's budget.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BudgetEntry {
    pub id: i64,
    pub project_id: i64,
    pub kind: String,
    pub amount: Fen,
    pub reason: String,
    pub disposition_id: Option<i64>,
    pub recorded_by: Option<i64>,
    pub at_ms: i64,
}

pub const BUDGET_KINDS: [&str; 4] = ["adjust_in", "adjust_out", "addition", "reduction"];
pub const DISPOSITION_KINDS: [&str; 4] = ["reduce", "adjust_targets", "suspend", "stop_disbursement"];

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Disposition {
    pub id: i64,
    pub case_id: i64,
    pub run_id: Option<i64>,
    pub kind: String,
    pub amount: Option<Fen>,
    pub reason: String,
    pub status: String,
    pub proposed_by: i64,
    pub approver_id: i64,
    pub note: String,
    pub created_ms: i64,
    pub decided_ms: Option<i64>,
}

const DISPOSITION_COLUMNS: &str =
    "id, case_id, run_id, kind, amount_fen, reason, status, proposed_by, approver_id, note, created_ms, decided_ms";

fn disposition_from_row(r: &sqlx::any::AnyRow) -> Result<Disposition> {
    Ok(Disposition {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        run_id: r.try_get("run_id")?,
        kind: r.try_get("kind")?,
        amount: r.try_get::<Option<i64>, _>("amount_fen")?.map(Fen::from_fen),
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        proposed_by: r.try_get("proposed_by")?,
        approver_id: r.try_get("approver_id")?,
        note: r.try_get("note")?,
        created_ms: r.try_get("created_ms")?,
        decided_ms: r.try_get("decided_ms")?,
    })
}

/// A disposition as the bureau proposes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisposition {
    pub case_id: i64,
    #[serde(default)]
    pub run_id: Option<i64>,
    pub kind: String,
    #[serde(default)]
    pub amount: Option<Fen>,
    pub reason: String,
    pub approver_id: i64,
}

pub(crate) async fn current_budget(conn: &mut AnyConnection, project_id: i64) -> Result<Fen> {
    let fen: Option<i64> = sqlx::query_scalar(concat!("SELECT ", budget_sql!(), " FROM projects p WHERE p.id = $1"))
        .bind(project_id)
        .fetch_optional(&mut *conn)
        .await?;
    fen.map(Fen::from_fen).ok_or_else(|| StoreError::NotFound(format!("no project {project_id}")))
}

/// Inserts a ledger entry after checking it, with a `budget_changed` event on the project's open
/// cases.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_entry(
    conn: &mut AnyConnection,
    project_id: i64,
    kind: &str,
    amount: Fen,
    reason: &str,
    disposition_id: Option<i64>,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<BudgetEntry> {
    if !BUDGET_KINDS.contains(&kind) {
        return Err(invalid(
            "kind",
            format!("'{kind}' is not a budget change (expected one of {})", BUDGET_KINDS.join(", ")),
        ));
    }
    if amount <= Fen::ZERO {
        return Err(invalid("amount", "the amount must be above zero"));
    }
    if reason.trim().is_empty() || reason.chars().count() > 1000 {
        return Err(invalid("reason", "a reason of 1–1000 characters is required"));
    }
    let before = current_budget(conn, project_id).await?;
    if matches!(kind, "adjust_out" | "reduction") && amount > before {
        return Err(invalid("amount", format!("{amount} yuan is more than the current budget of {before} yuan")));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO budget_entries (project_id, kind, amount_fen, reason, disposition_id, recorded_by, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(project_id)
    .bind(kind)
    .bind(amount.fen())
    .bind(reason.trim())
    .bind(disposition_id)
    .bind(actor)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    let after = current_budget(conn, project_id).await?;
    let cases: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM cases WHERE project_id = $1 AND status IN ('active', 'blocked') ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    for case_id in cases {
        lock_case(conn, case_id).await?;
        append_event(
            conn,
            case_id,
            "budget_changed",
            &json!({"entry_id": id, "kind": kind, "amount": amount, "reason": reason.trim(), "budget_before": before, "budget_after": after}),
            actor,
            now_ms,
        )
        .await?;
    }
    Ok(BudgetEntry {
        id,
        project_id,
        kind: kind.into(),
        amount,
        reason: reason.trim().into(),
        disposition_id,
        recorded_by: actor,
        at_ms: now_ms,
    })
}

impl Store {
    pub async fn cycle(&self, id: i64) -> Result<super::cases::Cycle> {
        let row: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT fiscal_year, workflow_id, workflow_version FROM cycles WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let (year, workflow_id, version) = row.ok_or_else(|| StoreError::NotFound(format!("no cycle {id}")))?;
        let cases: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE cycle_id = $1").bind(id).fetch_one(&self.pool).await?;
        Ok(super::cases::Cycle {
            id,
            fiscal_year: year as i32,
            workflow_id,
            workflow_version: version as u32,
            cases_created: cases,
            projects_skipped: 0,
        })
    }

    pub async fn monitoring_runs(&self) -> Result<Vec<Run>> {
        self.runs_where(None).await
    }

    /// The newest 500 runs, or the one run `id`, with their report counts.
    async fn runs_where(&self, id: Option<i64>) -> Result<Vec<Run>> {
        let rows = sqlx::query(
            "SELECT m.id, m.workflow_id, m.workflow_version, m.stage, m.fire_ms, m.status, m.issued, m.evaluated_ms, m.closed_ms, \
             (SELECT COUNT(*) FROM monitoring_reports r WHERE r.run_id = m.id AND r.status = 'filled') AS filled, \
             (SELECT COUNT(*) FROM monitoring_reports r WHERE r.run_id = m.id AND r.status = 'not_reported') AS not_reported \
             FROM monitoring_runs m WHERE ($1 IS NULL OR m.id = $1) ORDER BY m.fire_ms DESC, m.id DESC LIMIT 500",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let issued: i64 = r.try_get("issued")?;
                let filled: i64 = r.try_get("filled")?;
                let not_reported: i64 = r.try_get("not_reported")?;
                Ok(Run {
                    id: r.try_get("id")?,
                    workflow_id: r.try_get("workflow_id")?,
                    workflow_version: r.try_get::<i64, _>("workflow_version")? as u32,
                    stage: r.try_get("stage")?,
                    fire_ms: r.try_get("fire_ms")?,
                    status: r.try_get("status")?,
                    issued,
                    filled,
                    not_reported,
                    pending: issued - filled - not_reported,
                    evaluated_ms: r.try_get("evaluated_ms")?,
                    closed_ms: r.try_get("closed_ms")?,
                })
            })
            .collect()
    }

    pub async fn monitoring_run(&self, id: i64) -> Result<Run> {
        self.runs_where(Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("no monitoring run {id}")))
    }

    /// Closes what is due: reports whose task passed its due date unfilled become "not
    /// reported" (the task is closed and the case told, so it goes on), and a run with no
    /// pending report left is evaluated and closed. Returns the runs closed.
    pub async fn close_due_runs(&self, reg: &Registry, now_ms: i64) -> Result<Vec<i64>> {
        let open: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, stage FROM monitoring_runs WHERE status = 'open' ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut closed = Vec::new();
        for (run_id, stage) in open {
            loop {
                let mut tx = self.write().await?;
                let lapsed: Vec<(i64, i64, i64)> = sqlx::query_as(
                    "SELECT r.case_id, t.id, t.round FROM monitoring_reports r JOIN tasks t ON t.case_id = r.case_id \
                     WHERE r.run_id = $1 AND r.status = 'pending' AND t.stage = $2 AND t.kind = 'submission' AND t.status = 'open' AND t.due_ms < $3 \
                     ORDER BY r.case_id LIMIT 500",
                )
                .bind(run_id)
                .bind(&stage)
                .bind(now_ms)
                .fetch_all(&mut *tx)
                .await?;
                for (case_id, task_id, round) in &lapsed {
                    lock_case(&mut tx, *case_id).await?;
                    let n = sqlx::query(
                        "UPDATE tasks SET status = 'cancelled', completed_ms = $1 WHERE id = $2 AND status = 'open'",
                    )
                    .bind(now_ms)
                    .bind(task_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n != 1 {
                        continue;
                    }
                    sqlx::query("UPDATE monitoring_reports SET status = 'not_reported' WHERE run_id = $1 AND case_id = $2 AND status = 'pending'")
                        .bind(run_id)
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                    add_input(&mut tx, *case_id, &Input::Lapsed { stage: stage.clone(), round: *round as u32 }, now_ms)
                        .await?;
                    append_event(
                        &mut tx,
                        *case_id,
                        "task_lapsed",
                        &json!({"task_id": task_id, "stage": stage, "run_id": run_id}),
                        None,
                        now_ms,
                    )
                    .await?;
                }
                tx.commit().await?;
                if lapsed.len() < 500 {
                    break;
                }
            }
            // A case that left the stage some other way (cancelled, rejected) reports nothing.
            sqlx::query("UPDATE monitoring_reports SET status = 'not_reported' WHERE run_id = $1 AND status = 'pending' \
                 AND EXISTS (SELECT 1 FROM cases c WHERE c.id = monitoring_reports.case_id AND c.status NOT IN ('active', 'blocked'))")
                .bind(run_id)
                .execute(&self.pool)
                .await?;
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM monitoring_reports WHERE run_id = $1 AND status = 'pending'")
                    .bind(run_id)
                    .fetch_one(&self.pool)
                    .await?;
            if pending == 0 {
                self.evaluate_run(reg, run_id, now_ms).await?;
                let mut tx = self.write().await?;
                let n = sqlx::query(
                    "UPDATE monitoring_runs SET status = 'closed', closed_ms = $1 WHERE id = $2 AND status = 'open'",
                )
                .bind(now_ms)
                .bind(run_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    red_light_mail(&mut tx, run_id, now_ms).await?;
                    closed.push(run_id);
                }
                tx.commit().await?;
            }
        }
        Ok(closed)
    }

    /// The next chunk of a run's filled reports after case `after`, with their forms.
    async fn filled_reports(&self, run_id: i64, after: i64) -> Result<Vec<sqlx::any::AnyRow>> {
        Ok(sqlx::query(
            "SELECT r.case_id, r.fiscal_year, r.budget_fen, r.targets, t.result FROM monitoring_reports r JOIN tasks t ON t.id = r.task_id \
             WHERE r.run_id = $1 AND r.status = 'filled' AND r.case_id > $2 ORDER BY r.case_id LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(EVALUATE_CHUNK)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Computes the lights of every filled report of a run (again, if it was evaluated before),
    /// a chunk of reports per read and per transaction. Returns how many reports it evaluated.
    pub async fn evaluate_run(&self, reg: &Registry, run_id: i64, now_ms: i64) -> Result<i64> {
        let (workflow_id, version, stage, fire_ms): (String, i64, String, i64) =
            sqlx::query_as("SELECT workflow_id, workflow_version, stage, fire_ms FROM monitoring_runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no monitoring run {run_id}")))?;
        let wf = self.workflow(reg, &workflow_id, version as u32).await?;
        let bands = wf.stages.iter().find(|s| s.id == stage).and_then(|s| s.lights).unwrap_or_default();
        let fire = Utc.timestamp_millis_opt(fire_ms).single().unwrap_or_else(Utc::now).with_timezone(&wf.timezone);
        let mut evaluated = 0i64;
        let joined = |e: tokio::task::JoinError| StoreError::Other(anyhow::anyhow!("evaluating run {run_id}: {e}"));
        let mut rows = self.filled_reports(run_id, 0).await?;
        // Three things overlap: the next chunk is read (on a connection of its own) while this
        // one is computed, and each computed chunk is written by a task of its own.
        // PostgreSQL takes two writers at once; SQLite has one writer at a time anyway.
        let writers = if self.backend == super::Backend::Postgres { 2 } else { 1 };
        let mut writing: std::collections::VecDeque<tokio::task::JoinHandle<Result<()>>> = Default::default();
        while let Some(last) = rows.last() {
            let hi: i64 = last.try_get("case_id")?;
            let store = self.clone();
            let next = tokio::spawn(async move { store.filled_reports(run_id, hi).await });
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let case_id: i64 = r.try_get("case_id")?;
                let fiscal_year = r.try_get::<i64, _>("fiscal_year")? as i32;
                let budget = Fen::from_fen(r.try_get::<Option<i64>, _>("budget_fen")?.unwrap_or(0));
                let result: Option<String> = r.try_get("result")?;
                let Some(report) = result.as_deref().and_then(|s| serde_json::from_str::<StoredReport>(s).ok()) else {
                    continue;
                };
                let month = mon::period_month(fiscal_year, fire.year(), fire.month());
                let targets = parse_targets(r.try_get::<Option<String>, _>("targets")?.as_deref());
                out.push(evaluate_report(&bands, case_id, month, budget, &report, &targets));
            }
            if writing.len() >= writers
                && let Some(w) = writing.pop_front()
            {
                w.await.map_err(joined)??;
            }
            evaluated += out.len() as i64;
            let store = self.clone();
            writing.push_back(tokio::spawn(async move { store.write_lights(run_id, &out).await }));
            rows = next.await.map_err(joined)??;
        }
        for w in writing {
            w.await.map_err(joined)??;
        }
        sqlx::query("UPDATE monitoring_runs SET evaluated_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(evaluated)
    }

    /// Stores the lights of a chunk of reports in one transaction (replacing an earlier
    /// evaluation's), as many rows per statement as the bound-parameter limits allow.
    async fn write_lights(&self, run_id: i64, out: &[Lights]) -> Result<()> {
        const COLS: usize = 11;
        let mut tx = self.write().await?;
        if self.backend == super::Backend::Postgres {
            // One statement per chunk, its rows passed as one JSON document: PostgreSQL plans it
            // once instead of parsing tens of thousands of placeholders.
            let rows: Vec<Value> = out
                .iter()
                .map(|l| {
                    json!({
                        "c": l.case_id,
                        "l": l.light.map(|x| x.as_str()),
                        "el": l.execution.map(|x| x.light.as_str()),
                        "ep": l.execution.and_then(|x| x.value).map(|v| v.to_string()),
                        "b": l.blue,
                        "m": l.month,
                        "i": l.indicators,
                        "ca": l.cause,
                        "ct": l.cause_text,
                        "lk": l.likelihood,
                    })
                })
                .collect();
            sqlx::query(
                "INSERT INTO monitoring_lights (run_id, case_id, light, execution_light, execution_pct, blue, month, indicators, cause, cause_text, likelihood) \
                 SELECT $1, c, l, el, ep, b, m, i, ca, ct, lk FROM json_to_recordset($2::json) \
                 AS x(c BIGINT, l TEXT, el TEXT, ep TEXT, b BIGINT, m BIGINT, i TEXT, ca TEXT, ct TEXT, lk TEXT) \
                 ON CONFLICT (run_id, case_id) DO UPDATE SET light = excluded.light, execution_light = excluded.execution_light, \
                 execution_pct = excluded.execution_pct, blue = excluded.blue, month = excluded.month, indicators = excluded.indicators, \
                 cause = excluded.cause, cause_text = excluded.cause_text, likelihood = excluded.likelihood",
            )
            .bind(run_id)
            .bind(Value::Array(rows).to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        for batch in out.chunks(30_000 / COLS) {
            let sql = format!(
                "INSERT INTO monitoring_lights (run_id, case_id, light, execution_light, execution_pct, blue, month, indicators, cause, cause_text, likelihood) VALUES {} \
                 ON CONFLICT (run_id, case_id) DO UPDATE SET light = excluded.light, execution_light = excluded.execution_light, \
                 execution_pct = excluded.execution_pct, blue = excluded.blue, month = excluded.month, indicators = excluded.indicators, \
                 cause = excluded.cause, cause_text = excluded.cause_text, likelihood = excluded.likelihood",
                super::value_groups(self.backend, batch.len(), COLS)
            );
            let mut q = sqlx::query(super::sql(sql));
            for l in batch {
                q = q
                    .bind(run_id)
                    .bind(l.case_id)
                    .bind(l.light.map(|x| x.as_str()))
                    .bind(l.execution.map(|x| x.light.as_str()))
                    .bind(l.execution.and_then(|x| x.value).map(|v| v.to_string()))
                    .bind(l.blue)
                    .bind(i64::from(l.month))
                    .bind(l.indicators.as_str())
                    .bind(l.cause.as_deref())
                    .bind(l.cause_text.as_str())
                    .bind(l.likelihood.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads what an evaluation reads, without computing or writing (the benchmark's baseline).
    /// Returns the reports read and the bytes of their forms and targets.
    pub async fn read_run_reports(&self, run_id: i64) -> Result<(i64, i64)> {
        let mut after = 0i64;
        let (mut reports, mut bytes) = (0i64, 0i64);
        loop {
            let rows = self.filled_reports(run_id, after).await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("case_id")?;
            for r in &rows {
                let targets: Option<String> = r.try_get("targets")?;
                let result: Option<String> = r.try_get("result")?;
                bytes += (targets.map_or(0, |t| t.len()) + result.map_or(0, |t| t.len())) as i64;
            }
            reports += rows.len() as i64;
        }
        Ok((reports, bytes))
    }

    /// The run's summary: completion, lights overall, per department and per sector, and the
    /// red projects with their causes.
    pub async fn monitoring_summary(&self, run_id: i64) -> Result<Value> {
        let run = self.monitoring_run(run_id).await?;
        let light_counts: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT light, COUNT(*), COALESCE(SUM(CASE WHEN blue > 0 THEN 1 ELSE 0 END), 0) FROM monitoring_lights WHERE run_id = $1 GROUP BY light",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let mut lights = json!({"green": 0, "yellow": 0, "red": 0, "none": 0});
        let mut blue = 0;
        for (l, n, b) in light_counts {
            lights[l.unwrap_or_else(|| "none".into())] = json!(n);
            blue += b;
        }
        let group = |by: &str| {
            format!(
                "SELECT {by} AS key, COUNT(*) AS issued, \
                 COALESCE(SUM(CASE WHEN r.status = 'filled' THEN 1 ELSE 0 END), 0) AS filled, \
                 COALESCE(SUM(CASE WHEN r.status = 'not_reported' THEN 1 ELSE 0 END), 0) AS not_reported, \
                 COALESCE(SUM(CASE WHEN l.light = 'red' THEN 1 ELSE 0 END), 0) AS red, \
                 COALESCE(SUM(CASE WHEN l.light = 'yellow' THEN 1 ELSE 0 END), 0) AS yellow, \
                 COALESCE(SUM(CASE WHEN l.light = 'green' THEN 1 ELSE 0 END), 0) AS green \
                 FROM monitoring_reports r LEFT JOIN monitoring_lights l ON l.run_id = r.run_id AND l.case_id = r.case_id \
                 JOIN departments d ON d.id = r.department_id WHERE r.run_id = $1 GROUP BY {by} ORDER BY {by}"
            )
        };
        let mut groups = Vec::new();
        for by in ["d.code", "r.sector"] {
            let rows = sqlx::query(super::sql(group(by))).bind(run_id).fetch_all(&self.pool).await?;
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    Ok(json!({
                        "key": r.try_get::<String, _>("key")?,
                        "issued": r.try_get::<i64, _>("issued")?,
                        "filled": r.try_get::<i64, _>("filled")?,
                        "not_reported": r.try_get::<i64, _>("not_reported")?,
                        "red": r.try_get::<i64, _>("red")?,
                        "yellow": r.try_get::<i64, _>("yellow")?,
                        "green": r.try_get::<i64, _>("green")?,
                    }))
                })
                .collect::<Result<_>>()?;
            groups.push(list);
        }
        let reds = sqlx::query(
            "SELECT r.case_id, p.code, p.name, d.code AS department, l.execution_pct, l.cause, l.cause_text, l.likelihood \
             FROM monitoring_lights l JOIN monitoring_reports r ON r.run_id = l.run_id AND r.case_id = l.case_id \
             JOIN projects p ON p.id = r.project_id JOIN departments d ON d.id = r.department_id \
             WHERE l.run_id = $1 AND l.light = 'red' ORDER BY p.code LIMIT 1000",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let red: Vec<Value> = reds
            .iter()
            .map(|r| {
                Ok(json!({
                    "case_id": r.try_get::<i64, _>("case_id")?,
                    "project_code": r.try_get::<String, _>("code")?,
                    "project_name": r.try_get::<String, _>("name")?,
                    "department": r.try_get::<String, _>("department")?,
                    "execution_pct": r.try_get::<Option<String>, _>("execution_pct")?,
                    "cause": r.try_get::<Option<String>, _>("cause")?,
                    "cause_text": r.try_get::<String, _>("cause_text")?,
                    "likelihood": r.try_get::<String, _>("likelihood")?,
                }))
            })
            .collect::<Result<_>>()?;
        let completion = if run.issued > 0 {
            format!("{:.1}", (Decimal::from(run.filled) * Decimal::from(100) / Decimal::from(run.issued)).round_dp(1))
        } else {
            "0".into()
        };
        let by_sector = groups.pop().unwrap_or_default();
        let by_department = groups.pop().unwrap_or_default();
        Ok(json!({
            "run": run,
            "tasks_issued": run.issued,
            "filled": run.filled,
            "not_reported": run.not_reported,
            "pending": run.pending,
            "completion_rate": completion,
            "lights": lights,
            "blue_projects": blue,
            "by_department": by_department,
            "by_sector": by_sector,
            "red_projects": red,
        }))
    }

    /// Every report of a run as CSV, one row per case.
    pub async fn monitoring_csv(&self, run_id: i64) -> Result<String> {
        self.monitoring_run(run_id).await?;
        let mut out = String::from(
            "project_code,project_name,department,sector,status,light,execution_light,execution_pct,budget_yuan,blue_indicators,cause,cause_text,likelihood\r\n",
        );
        self.for_each_report(run_id, |r| {
            let text = |c: &str| -> Result<String> { Ok(r.try_get::<Option<String>, _>(c)?.unwrap_or_default()) };
            let budget =
                r.try_get::<Option<i64>, _>("budget_fen")?.map(|f| Fen::from_fen(f).to_string()).unwrap_or_default();
            let blue = r.try_get::<Option<i64>, _>("blue")?.map(|b| b.to_string()).unwrap_or_default();
            let fields = [
                text("code")?,
                text("name")?,
                text("department")?,
                text("sector")?,
                text("status")?,
                text("light")?,
                text("execution_light")?,
                text("execution_pct")?,
                budget,
                blue,
                text("cause")?,
                text("cause_text")?,
                text("likelihood")?,
            ];
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_field(&mut out, f);
            }
            out.push_str("\r\n");
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Calls `f` with every report of a run and its lights (columns code, name, department,
    /// sector, status, budget_fen, light, execution_light, execution_pct, blue, cause,
    /// cause_text, likelihood), in case order, reading a chunk at a time.
    pub(crate) async fn for_each_report(
        &self,
        run_id: i64,
        mut f: impl FnMut(&sqlx::any::AnyRow) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT r.case_id, p.code, p.name, d.code AS department, r.sector, r.status, r.budget_fen, l.light, l.execution_light, l.execution_pct, l.blue, l.cause, l.cause_text, l.likelihood \
                 FROM monitoring_reports r JOIN projects p ON p.id = r.project_id JOIN departments d ON d.id = r.department_id \
                 LEFT JOIN monitoring_lights l ON l.run_id = r.run_id AND l.case_id = r.case_id \
                 WHERE r.run_id = $1 AND r.case_id > $2 ORDER BY r.case_id LIMIT $3",
            )
            .bind(run_id)
            .bind(after)
            .bind(EVALUATE_CHUNK)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.try_get("case_id")?;
            for r in &rows {
                f(r)?;
            }
        }
    }

    /// The monitoring reports of one case with their lights, newest run first.
    pub async fn case_monitoring(&self, case_id: i64) -> Result<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT r.run_id, m.fire_ms, r.status, r.budget_fen, l.light, l.execution_light, l.execution_pct, l.blue, l.month, l.indicators \
             FROM monitoring_reports r JOIN monitoring_runs m ON m.id = r.run_id LEFT JOIN monitoring_lights l ON l.run_id = r.run_id AND l.case_id = r.case_id \
             WHERE r.case_id = $1 ORDER BY m.fire_ms DESC",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let indicators: Option<String> = r.try_get("indicators")?;
                Ok(json!({
                    "run_id": r.try_get::<i64, _>("run_id")?,
                    "fire_ms": r.try_get::<i64, _>("fire_ms")?,
                    "status": r.try_get::<String, _>("status")?,
                    "budget": r.try_get::<Option<i64>, _>("budget_fen")?.map(Fen::from_fen),
                    "light": r.try_get::<Option<String>, _>("light")?,
                    "execution_light": r.try_get::<Option<String>, _>("execution_light")?,
                    "execution_pct": r.try_get::<Option<String>, _>("execution_pct")?,
                    "blue_indicators": r.try_get::<Option<i64>, _>("blue")?,
                    "month": r.try_get::<Option<i64>, _>("month")?,
                    "indicators": indicators
                        .map(|s| serde_json::from_str::<Vec<(usize, String, Option<String>)>>(&s))
                        .transpose()?
                        .map(|list| {
                            list.into_iter()
                                .map(|(index, light, value)| json!({"index": index, "light": light, "value": value}))
                                .collect::<Vec<_>>()
                        }),
                }))
            })
            .collect()
    }

    /// A project's budget: as first set, every change, and now.
    pub async fn budget_ledger(&self, project_id: i64) -> Result<Value> {
        let mut conn = self.pool.acquire().await?;
        let current = current_budget(&mut conn, project_id).await?;
        let original: i64 = sqlx::query_scalar("SELECT amount_fen FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(
            "SELECT id, project_id, kind, amount_fen, reason, disposition_id, recorded_by, at_ms FROM budget_entries WHERE project_id = $1 ORDER BY id",
        )
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?;
        let entries: Vec<BudgetEntry> = rows
            .iter()
            .map(|r| {
                Ok(BudgetEntry {
                    id: r.try_get("id")?,
                    project_id: r.try_get("project_id")?,
                    kind: r.try_get("kind")?,
                    amount: Fen::from_fen(r.try_get("amount_fen")?),
                    reason: r.try_get("reason")?,
                    disposition_id: r.try_get("disposition_id")?,
                    recorded_by: r.try_get("recorded_by")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(
            json!({"project_id": project_id, "original": Fen::from_fen(original), "entries": entries, "current": current}),
        )
    }

    /// Records an adjustment (调剂 in or out), a mid-year addition or a reduction.
    pub async fn add_budget_entry(
        &self,
        project_id: i64,
        kind: &str,
        amount: Fen,
        reason: &str,
        actor: i64,
        now_ms: i64,
    ) -> Result<BudgetEntry> {
        let mut tx = self.write().await?;
        let entry = insert_entry(&mut tx, project_id, kind, amount, reason, None, Some(actor), now_ms).await?;
        super::people::audit(&mut tx, "budget_changed", &json!(entry), Some(actor), now_ms).await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub async fn disposition(&self, id: i64) -> Result<Disposition> {
        let row = sqlx::query(super::sql(format!("SELECT {DISPOSITION_COLUMNS} FROM dispositions WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no disposition {id}")))?;
        disposition_from_row(&row)
    }

    pub async fn case_dispositions(&self, case_id: i64) -> Result<Vec<Disposition>> {
        let rows = sqlx::query(super::sql(format!(
            "SELECT {DISPOSITION_COLUMNS} FROM dispositions WHERE case_id = $1 ORDER BY id"
        )))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(disposition_from_row).collect()
    }

    /// The bureau proposes a disposition for a case; the named approver decides it.
    pub async fn propose_disposition(&self, d: &NewDisposition, proposer: i64, now_ms: i64) -> Result<Disposition> {
        if !DISPOSITION_KINDS.contains(&d.kind.as_str()) {
            return Err(invalid(
                "kind",
                format!("'{}' is not a disposition (expected one of {})", d.kind, DISPOSITION_KINDS.join(", ")),
            ));
        }
        match (d.kind.as_str(), d.amount) {
            ("reduce", Some(a)) if a > Fen::ZERO => {}
            ("reduce", _) => return Err(invalid("amount", "a reduction needs an amount above zero")),
            (_, Some(_)) => return Err(invalid("amount", "only a reduction carries an amount")),
            _ => {}
        }
        if d.reason.trim().is_empty() || d.reason.chars().count() > 2000 {
            return Err(invalid("reason", "a reason of 1–2000 characters is required"));
        }
        if d.approver_id == proposer {
            return Err(invalid("approver_id", "the approver must be someone other than the proposer"));
        }
        let approver: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND active = 1")
            .bind(d.approver_id)
            .fetch_optional(&self.pool)
            .await?;
        if !matches!(approver.as_deref(), Some("finance" | "admin")) {
            return Err(invalid(
                "approver_id",
                format!("user {} is not an active finance or admin user", d.approver_id),
            ));
        }
        let mut tx = self.write().await?;
        let project_id: Option<i64> = sqlx::query_scalar("SELECT project_id FROM cases WHERE id = $1")
            .bind(d.case_id)
            .fetch_optional(&mut *tx)
            .await?;
        let project_id = project_id.ok_or_else(|| StoreError::NotFound(format!("no case {}", d.case_id)))?;
        if let Some(run) = d.run_id {
            let owed: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM monitoring_reports WHERE run_id = $1 AND case_id = $2")
                    .bind(run)
                    .bind(d.case_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owed.is_none() {
                return Err(invalid("run_id", format!("case {} is not in monitoring run {run}", d.case_id)));
            }
        }
        if let Some(a) = d.amount {
            let budget = current_budget(&mut tx, project_id).await?;
            if a > budget {
                return Err(invalid("amount", format!("{a} yuan is more than the current budget of {budget} yuan")));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dispositions (case_id, run_id, kind, amount_fen, reason, status, proposed_by, approver_id, note, created_ms) VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7, '', $8) RETURNING id",
        )
        .bind(d.case_id)
        .bind(d.run_id)
        .bind(&d.kind)
        .bind(d.amount.map(Fen::fen))
        .bind(d.reason.trim())
        .bind(proposer)
        .bind(d.approver_id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        lock_case(&mut tx, d.case_id).await?;
        append_event(
            &mut tx,
            d.case_id,
            "disposition_proposed",
            &json!({"disposition_id": id, "kind": d.kind, "amount": d.amount, "reason": d.reason.trim(), "run_id": d.run_id, "approver_id": d.approver_id}),
            Some(proposer),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.disposition(id).await
    }

    /// The approver approves or rejects a proposed disposition. An approved reduction enters
    /// the ledger, so the next run reads the reduced budget.
    pub async fn decide_disposition(
        &self,
        id: i64,
        approve: bool,
        note: &str,
        actor: i64,
        now_ms: i64,
    ) -> Result<Disposition> {
        if note.chars().count() > 2000 {
            return Err(invalid("note", "at most 2000 characters"));
        }
        let d = self.disposition(id).await?;
        let mut tx = self.write().await?;
        let status = if approve { "approved" } else { "rejected" };
        let n = sqlx::query(
            "UPDATE dispositions SET status = $1, note = $2, decided_ms = $3 WHERE id = $4 AND status = 'proposed'",
        )
        .bind(status)
        .bind(note.trim())
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(format!("disposition {id} was already decided")));
        }
        let project_id: i64 = sqlx::query_scalar("SELECT project_id FROM cases WHERE id = $1")
            .bind(d.case_id)
            .fetch_one(&mut *tx)
            .await?;
        lock_case(&mut tx, d.case_id).await?;
        append_event(
            &mut tx,
            d.case_id,
            if approve { "disposition_approved" } else { "disposition_rejected" },
            &json!({"disposition_id": id, "kind": d.kind, "amount": d.amount, "note": note.trim()}),
            Some(actor),
            now_ms,
        )
        .await?;
        if approve
            && d.kind == "reduce"
            && let Some(a) = d.amount
        {
            let reason = format!("disposition {id}: {}", d.reason);
            insert_entry(&mut tx, project_id, "reduction", a, &reason, Some(id), Some(actor), now_ms).await?;
        }
        tx.commit().await?;
        self.disposition(id).await
    }

    /// A case for a project funded mid-year (待分资金 allocated, 年中追加): it joins the cycle
    /// at `stage`, so it is monitored and self-evaluated with the others.
    pub async fn add_case_midyear(
        &self,
        cycle_id: i64,
        project_id: i64,
        stage: &str,
        actor: i64,
        now_ms: i64,
    ) -> Result<i64> {
        let mut tx = self.write().await?;
        let cycle: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT fiscal_year, workflow_id, workflow_version FROM cycles WHERE id = $1")
                .bind(cycle_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (year, workflow_id, version) = cycle.ok_or_else(|| StoreError::NotFound(format!("no cycle {cycle_id}")))?;
        let project: Option<(i64, i64)> =
            sqlx::query_as("SELECT department_id, fiscal_year FROM projects WHERE id = $1")
                .bind(project_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (department_id, project_year) =
            project.ok_or_else(|| StoreError::NotFound(format!("no project {project_id}")))?;
        if project_year != year {
            return Err(invalid(
                "project_id",
                format!("the project is of fiscal year {project_year}, the cycle of {year}"),
            ));
        }
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE project_id = $1 AND workflow_id = $2 AND status IN ('active', 'blocked')",
        )
        .bind(project_id)
        .bind(&workflow_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(c) = open {
            return Err(StoreError::Conflict(format!("the project already has an open case ({c}) on this workflow")));
        }
        let state = serde_json::to_string(&crate::engine::CaseState::default())?;
        let case_id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (cycle_id, project_id, department_id, workflow_id, workflow_version, stage, phase, status, state, version, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, NULL, 'not_started', 'active', $6, 0, $7, $7) RETURNING id",
        )
        .bind(cycle_id)
        .bind(project_id)
        .bind(department_id)
        .bind(&workflow_id)
        .bind(version)
        .bind(&state)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                StoreError::Conflict(format!("the project already has a case in cycle {cycle_id}"))
            } else {
                e.into()
            }
        })?;
        add_input(&mut tx, case_id, &Input::Join { stage: stage.into() }, now_ms).await?;
        append_event(
            &mut tx,
            case_id,
            "case_created",
            &json!({"cycle_id": cycle_id, "workflow_id": workflow_id, "workflow_version": version, "joined_at": stage}),
            Some(actor),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(case_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_as_bad_as_its_worst_light() {
        let report: StoredReport = serde_json::from_value(json!({
            "executed": "600000", "likelihood": "有可能", "deviation_cause": "经费保障", "deviation_text": "",
            "progress": [
                {"index": 0, "cumulative": "70", "expected_full_year": "95"},
                {"index": 1, "cumulative": "90", "expected_full_year": "130"},
                {"index": 2, "level": "部分达成"},
                {"index": 3, "cumulative": "2", "expected_full_year": "3"}
            ]
        }))
        .unwrap();
        let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
        let targets = [
            (Some(Operator::Ge), d("100")),
            (Some(Operator::Ge), d("100")),
            (Some(Operator::Qualitative), None),
            (Some(Operator::Le), d("5")),
        ];
        // Month 12, 600,000 of 1,000,000: execution 60 → yellow; 70 → yellow; 90 → green;
        // 部分达成 → yellow; 3 ≤ 5 → green.
        let l = evaluate_report(&Bands::default(), 7, 12, Fen::from_yuan(1_000_000), &report, &targets);
        assert_eq!(l.light, Some(Light::Yellow));
        assert_eq!(l.execution.map(|r| r.light), Some(Light::Yellow));
        assert_eq!(l.blue, 0);
        // The same report against a budget adjusted down to 700,000 executes at 85.71: green.
        let adjusted = evaluate_report(&Bands::default(), 7, 12, Fen::from_yuan(700_000), &report, &targets);
        assert_eq!(adjusted.execution.map(|r| r.light), Some(Light::Green));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut s = String::new();
        csv_field(&mut s, "a,b \"c\"");
        assert_eq!(s, "\"a,b \"\"c\"\"\"");
    }
}
