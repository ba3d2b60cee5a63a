//! Plugin checks of submissions: the request a stage's check step records, the job-side lookup
//! of requests waiting for a job, and the findings a finished check stores. A check finishes
//! once: its findings and the case input that reports them are written in one transaction,
//! guarded by the request's status, so a job delivered twice stores nothing twice.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::cases::{add_input, append_event, lock_case};
use super::{Result, Store};
use crate::engine::Input;
use crate::workflow::PluginRef;

/// A check waiting to run.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub id: i64,
    pub case_id: i64,
    pub project_id: i64,
    pub stage: String,
    pub round: u32,
    pub plugins: Vec<PluginRef>,
}

/// One stored finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    /// The plugin that reported it (or that failed).
    pub plugin: String,
    pub plugin_version: Option<String>,
    pub code: String,
    /// error, warning or info.
    pub severity: String,
    /// The indicator's position in the project's list and its name, when the finding is about one.
    pub indicator_index: Option<i64>,
    pub indicator_name: Option<String>,
    pub message_zh: String,
    pub message_en: String,
}

/// A check and its findings, as the case view shows them.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub id: i64,
    pub stage: String,
    pub round: u32,
    /// pending or done.
    pub status: String,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub errors: i64,
    pub warnings: i64,
    pub failures: i64,
    /// The plugins that ran, as name@version.
    pub ran: Vec<String>,
    pub findings: Vec<StoredFinding>,
}

/// What a finished check found, counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckCounts {
    pub errors: u32,
    pub warnings: u32,
    pub failures: u32,
}

/// Records a check request (in the transaction applying the effect that asks for it).
pub(crate) async fn insert_check(
    conn: &mut AnyConnection,
    case_id: i64,
    stage: &str,
    round: u32,
    plugins: &[PluginRef],
    now_ms: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO plugin_checks (case_id, stage, round, plugins, status, created_ms) VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
    )
    .bind(case_id)
    .bind(stage)
    .bind(i64::from(round))
    .bind(serde_json::to_string(plugins)?)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?)
}

impl Store {
    /// A check that is still to run, with its case's project; `None` when it is done already.
    pub async fn check_request(&self, id: i64) -> Result<Option<CheckRequest>> {
        let row = sqlx::query(
            "SELECT k.id, k.case_id, c.project_id, k.stage, k.round, k.plugins FROM plugin_checks k JOIN cases c ON c.id = k.case_id WHERE k.id = $1 AND k.status = 'pending'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(CheckRequest {
            id: r.try_get("id")?,
            case_id: r.try_get("case_id")?,
            project_id: r.try_get("project_id")?,
            stage: r.try_get("stage")?,
            round: r.try_get::<i64, _>("round")? as u32,
            plugins: serde_json::from_str(&r.try_get::<String, _>("plugins")?)?,
        }))
    }

    /// Stores the findings of finished checks and reports each to its case as an input, once,
    /// all in one transaction. A check already finished (by another delivery of its job) is
    /// left alone. Returns the ids of the checks finished here.
    pub async fn finish_checks(
        &self,
        done: &[(CheckRequest, Vec<String>, Vec<StoredFinding>)],
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.write().await?;
        let mut order: Vec<&(CheckRequest, Vec<String>, Vec<StoredFinding>)> = done.iter().collect();
        // Cases in ascending order, as every writer locks them.
        order.sort_by_key(|(r, _, _)| (r.case_id, r.id));
        let mut finished = Vec::new();
        for (req, ran, findings) in order {
            if finish_one(&mut tx, req, ran, findings, now_ms).await? {
                finished.push(req.id);
            }
        }
        tx.commit().await?;
        Ok(finished)
    }
}

async fn finish_one(
    tx: &mut AnyConnection,
    req: &CheckRequest,
    ran: &[String],
    findings: &[StoredFinding],
    now_ms: i64,
) -> Result<bool> {
    let counts = count(findings);
    lock_case(&mut *tx, req.case_id).await?;
    let updated = sqlx::query(
            "UPDATE plugin_checks SET status = 'done', finished_ms = $1, errors = $2, warnings = $3, failures = $4, ran = $5 WHERE id = $6 AND status = 'pending'",
        )
        .bind(now_ms)
        .bind(i64::from(counts.errors))
        .bind(i64::from(counts.warnings))
        .bind(i64::from(counts.failures))
        .bind(serde_json::to_string(ran)?)
        .bind(req.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated != 1 {
        return Ok(false);
    }
    for f in findings {
        sqlx::query(
                "INSERT INTO check_findings (check_id, case_id, plugin, plugin_version, code, severity, indicator_index, indicator_name, message_zh, message_en) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(req.id)
            .bind(req.case_id)
            .bind(&f.plugin)
            .bind(&f.plugin_version)
            .bind(&f.code)
            .bind(&f.severity)
            .bind(f.indicator_index)
            .bind(&f.indicator_name)
            .bind(&f.message_zh)
            .bind(&f.message_en)
            .execute(&mut *tx)
            .await?;
    }
    append_event(
            &mut *tx,
            req.case_id,
            "checks_finished",
            &serde_json::json!({"stage": req.stage, "round": req.round, "check_id": req.id, "ran": ran, "errors": counts.errors, "warnings": counts.warnings, "failures": counts.failures}),
            None,
            now_ms,
        )
        .await?;
    let input = Input::Checked {
        stage: req.stage.clone(),
        round: req.round,
        check_id: req.id,
        errors: counts.errors,
        warnings: counts.warnings,
        failures: counts.failures,
    };
    add_input(&mut *tx, req.case_id, &input, now_ms).await?;
    Ok(true)
}

impl Store {
    /// Every check of a case with its findings, newest first.
    pub async fn case_checks(&self, case_id: i64) -> Result<Vec<CheckView>> {
        let rows = sqlx::query(
            "SELECT id, stage, round, status, created_ms, finished_ms, errors, warnings, failures, ran FROM plugin_checks WHERE case_id = $1 ORDER BY id DESC",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let finding_rows = sqlx::query(
            "SELECT check_id, plugin, plugin_version, code, severity, indicator_index, indicator_name, message_zh, message_en FROM check_findings WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let ran: Option<String> = r.try_get("ran")?;
            let mut findings = Vec::new();
            for f in finding_rows.iter() {
                if f.try_get::<i64, _>("check_id")? != id {
                    continue;
                }
                findings.push(StoredFinding {
                    plugin: f.try_get("plugin")?,
                    plugin_version: f.try_get("plugin_version")?,
                    code: f.try_get("code")?,
                    severity: f.try_get("severity")?,
                    indicator_index: f.try_get("indicator_index")?,
                    indicator_name: f.try_get("indicator_name")?,
                    message_zh: f.try_get("message_zh")?,
                    message_en: f.try_get("message_en")?,
                });
            }
            out.push(CheckView {
                id,
                stage: r.try_get("stage")?,
                round: r.try_get::<i64, _>("round")? as u32,
                status: r.try_get("status")?,
                created_ms: r.try_get("created_ms")?,
                finished_ms: r.try_get("finished_ms")?,
                errors: r.try_get("errors")?,
                warnings: r.try_get("warnings")?,
                failures: r.try_get("failures")?,
                ran: ran.map(|t| serde_json::from_str(&t)).transpose()?.unwrap_or_default(),
                findings,
            });
        }
        Ok(out)
    }
}

/// Counts a check's findings: plugin failures apart from the errors plugins reported.
pub fn count(findings: &[StoredFinding]) -> CheckCounts {
    let mut c = CheckCounts::default();
    for f in findings {
        if f.code == FAILED_CODE {
            c.failures += 1;
        } else {
            match f.severity.as_str() {
                "error" => c.errors += 1,
                "warning" => c.warnings += 1,
                _ => {}
            }
        }
    }
    c
}

/// The code of the finding that stands for a plugin that could not run.
pub const FAILED_CODE: &str = "host.plugin_failed";
