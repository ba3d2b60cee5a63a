//! Cycles and cases: starting a cycle, the history of a case, and the views the API shows.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::tasks::{TASK_COLUMNS, Task, task_from_row};
use super::{Result, Store, StoreError};
use crate::engine::{CaseState, Input};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CaseSummary {
    pub id: i64,
    pub cycle_id: i64,
    pub project_id: i64,
    pub project_code: String,
    pub project_name: String,
    pub department_id: i64,
    pub workflow_id: String,
    pub workflow_version: u32,
    pub stage: Option<String>,
    pub phase: String,
    pub status: String,
    pub version: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Event {
    pub seq: i64,
    pub kind: String,
    pub data: serde_json::Value,
    pub actor_id: Option<i64>,
    pub at_ms: i64,
}

/// A case with its state, open tasks and whole history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub summary: CaseSummary,
    #[schemars(with = "serde_json::Value")]
    pub state: CaseState,
    pub open_tasks: Vec<Task>,
    pub history: Vec<Event>,
    /// The plugin checks of the case's submissions with their findings, newest first.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub checks: Vec<super::checks::CheckView>,
    /// The case's monitoring reports with their lights, newest run first.
    pub monitoring: Vec<serde_json::Value>,
    /// Dispositions the bureau proposed or decided for the case.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub dispositions: Vec<super::monitoring::Disposition>,
    /// Inputs recorded but not yet applied by a worker.
    pub pending_inputs: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Cycle {
    pub id: i64,
    pub fiscal_year: i32,
    pub workflow_id: String,
    pub workflow_version: u32,
    pub cases_created: i64,
    pub projects_skipped: i64,
}

#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub department_id: Option<i64>,
    pub cycle_id: Option<i64>,
    pub stage: Option<String>,
    pub status: Option<String>,
}

const CASE_COLUMNS: &str = "c.id, c.cycle_id, c.project_id, p.code AS project_code, p.name AS project_name, c.department_id, c.workflow_id, c.workflow_version, c.stage, c.phase, c.status, c.version, c.updated_ms";

fn summary_from_row(r: &sqlx::any::AnyRow) -> Result<CaseSummary> {
    Ok(CaseSummary {
        id: r.try_get("id")?,
        cycle_id: r.try_get("cycle_id")?,
        project_id: r.try_get("project_id")?,
        project_code: r.try_get("project_code")?,
        project_name: r.try_get("project_name")?,
        department_id: r.try_get("department_id")?,
        workflow_id: r.try_get("workflow_id")?,
        workflow_version: r.try_get::<i64, _>("workflow_version")? as u32,
        stage: r.try_get("stage")?,
        phase: r.try_get("phase")?,
        status: r.try_get("status")?,
        version: r.try_get("version")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

impl Store {
    /// Starts a cycle: one case per project of the fiscal year (optionally only the listed
    /// project codes) on the given workflow version, each with a `start` input for the workers.
    /// Projects that already have an active case on this workflow are skipped.
    pub async fn start_cycle(
        &self,
        workflow_id: &str,
        version: u32,
        fiscal_year: i32,
        project_codes: Option<&[String]>,
        actor: Option<i64>,
        now_ms: i64,
    ) -> Result<Cycle> {
        let mut tx = self.write().await?;
        let source: Option<String> =
            sqlx::query_scalar("SELECT source FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
                .bind(workflow_id)
                .bind(i64::from(version))
                .fetch_optional(&mut *tx)
                .await?;
        let Some(source) = source else {
            return Err(StoreError::NotFound(format!("workflow '{workflow_id}' has no version {version}")));
        };
        // A workflow takes up the records of its subject: budget projects, or departments'
        // overall spending.
        let kind = crate::workflow::parse(workflow_id, &source)
            .map_err(|_| {
                StoreError::Other(anyhow::anyhow!("stored workflow '{workflow_id}' v{version} does not parse"))
            })?
            .subject
            .as_str();
        let cycle_id: i64 = sqlx::query_scalar("INSERT INTO cycles (fiscal_year, workflow_id, workflow_version, started_ms, started_by) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(fiscal_year)
            .bind(workflow_id)
            .bind(i64::from(version))
            .bind(now_ms)
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("CREATE TEMP TABLE IF NOT EXISTS cycle_codes (code TEXT PRIMARY KEY)").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM cycle_codes").execute(&mut *tx).await?;
        if let Some(codes) = project_codes {
            for code in codes {
                sqlx::query("INSERT INTO cycle_codes (code) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            let unknown: Option<String> = sqlx::query_scalar("SELECT code FROM cycle_codes WHERE code NOT IN (SELECT code FROM projects WHERE fiscal_year = $1 AND kind = $2) LIMIT 1")
                .bind(fiscal_year)
                .bind(kind)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(code) = unknown {
                return Err(StoreError::Invalid {
                    message: "the cycle cannot start".into(),
                    details: vec![crate::domain::FieldError {
                        zh: None,
                        path: "project_codes".into(),
                        message: format!("no {kind} record '{code}' in fiscal year {fiscal_year}"),
                    }],
                });
            }
        }
        let only_listed = project_codes.is_some();
        let candidates: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE fiscal_year = $1 AND ($2 = 0 OR code IN (SELECT code FROM cycle_codes)) AND kind = $3")
            .bind(fiscal_year)
            .bind(i64::from(only_listed))
            .bind(kind)
            .fetch_one(&mut *tx)
            .await?;
        let state = serde_json::to_string(&CaseState::default())?;
        let created = sqlx::query(
            "INSERT INTO cases (cycle_id, project_id, department_id, workflow_id, workflow_version, stage, phase, status, state, version, created_ms, updated_ms) \
             SELECT $1, p.id, p.department_id, $2, $3, NULL, 'not_started', 'active', $4, 0, $5, $5 FROM projects p \
             WHERE p.fiscal_year = $6 AND ($7 = 0 OR p.code IN (SELECT code FROM cycle_codes)) AND p.kind = $8 \
             AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.project_id = p.id AND c.workflow_id = $2 AND c.status IN ('active', 'blocked')) \
             ORDER BY p.id",
        )
        .bind(cycle_id)
        .bind(workflow_id)
        .bind(i64::from(version))
        .bind(&state)
        .bind(now_ms)
        .bind(fiscal_year)
        .bind(i64::from(only_listed))
        .bind(kind)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        let start = serde_json::to_string(&Input::Start)?;
        sqlx::query("INSERT INTO case_inputs (case_id, input, created_ms) SELECT id, $1, $2 FROM cases WHERE cycle_id = $3 ORDER BY id")
            .bind(&start)
            .bind(now_ms)
            .bind(cycle_id)
            .execute(&mut *tx)
            .await?;
        let data = serde_json::json!({"cycle_id": cycle_id, "workflow_id": workflow_id, "workflow_version": version})
            .to_string();
        // Each case's chain starts with its creation; the hashes are computed here, the rows
        // written in batches.
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE cycle_id = $1 ORDER BY id")
            .bind(cycle_id)
            .fetch_all(&mut *tx)
            .await?;
        for chunk in ids.chunks(500) {
            let sql = format!(
                "INSERT INTO events (case_id, seq, kind, data, actor_id, at_ms, prev_hash, hash) VALUES {}",
                super::value_groups(self.backend, chunk.len(), 8)
            );
            let mut q = sqlx::query(super::sql(sql));
            for id in chunk {
                let hash = super::chain::event_hash("", *id, 1, "case_created", actor, now_ms, &data);
                q = q
                    .bind(*id)
                    .bind(1i64)
                    .bind("case_created")
                    .bind(&data)
                    .bind(actor)
                    .bind(now_ms)
                    .bind("")
                    .bind(hash);
            }
            q.execute(&mut *tx).await?;
        }
        super::people::audit(&mut tx, "cycle_started", &serde_json::json!({"cycle_id": cycle_id, "fiscal_year": fiscal_year, "workflow_id": workflow_id, "version": version, "cases": created}), actor, now_ms).await?;
        tx.commit().await?;
        Ok(Cycle {
            id: cycle_id,
            fiscal_year,
            workflow_id: workflow_id.into(),
            workflow_version: version,
            cases_created: created,
            projects_skipped: candidates - created,
        })
    }

    pub async fn case_summary(&self, id: i64) -> Result<CaseSummary> {
        let row = sqlx::query(super::sql(format!(
            "SELECT {CASE_COLUMNS} FROM cases c JOIN projects p ON p.id = c.project_id WHERE c.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no case {id}")))?;
        summary_from_row(&row)
    }

    /// The whole case: state, open tasks, history.
    pub async fn case_view(&self, id: i64) -> Result<CaseView> {
        let summary = self.case_summary(id).await?;
        let state: String =
            sqlx::query_scalar("SELECT state FROM cases WHERE id = $1").bind(id).fetch_one(&self.pool).await?;
        let tasks = sqlx::query(super::sql(format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.case_id = $1 AND t.status = 'open' ORDER BY t.id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let events = sqlx::query("SELECT seq, kind, data, actor_id, at_ms FROM events WHERE case_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let pending_inputs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM case_inputs WHERE case_id = $1 AND applied_ms IS NULL")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(CaseView {
            summary,
            state: serde_json::from_str(&state)?,
            open_tasks: tasks.iter().map(task_from_row).collect::<Result<_>>()?,
            history: events
                .iter()
                .map(|r| {
                    Ok(Event {
                        seq: r.try_get("seq")?,
                        kind: r.try_get("kind")?,
                        data: serde_json::from_str(&r.try_get::<String, _>("data")?)?,
                        actor_id: r.try_get("actor_id")?,
                        at_ms: r.try_get("at_ms")?,
                    })
                })
                .collect::<Result<_>>()?,
            checks: self.case_checks(id).await?,
            monitoring: self.case_monitoring(id).await?,
            dispositions: self.case_dispositions(id).await?,
            pending_inputs,
        })
    }

    pub async fn cases(&self, f: &CaseFilter, limit: i64, offset: i64) -> Result<(Vec<CaseSummary>, i64)> {
        let where_sql = "($1 IS NULL OR c.department_id = $1) AND ($2 IS NULL OR c.cycle_id = $2) AND ($3 IS NULL OR c.stage = $3) AND ($4 IS NULL OR c.status = $4)";
        let rows = sqlx::query(super::sql(format!("SELECT {CASE_COLUMNS} FROM cases c JOIN projects p ON p.id = c.project_id WHERE {where_sql} ORDER BY c.id LIMIT $5 OFFSET $6")))
            .bind(f.department_id)
            .bind(f.cycle_id)
            .bind(&f.stage)
            .bind(&f.status)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar(super::sql(format!("SELECT COUNT(*) FROM cases c WHERE {where_sql}")))
            .bind(f.department_id)
            .bind(f.cycle_id)
            .bind(&f.stage)
            .bind(&f.status)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows.iter().map(summary_from_row).collect::<Result<_>>()?, total))
    }

    /// Cases per (stage, status), for the dashboard and /metrics.
    pub async fn cases_per_stage(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT COALESCE(stage, '-') AS stage, status, COUNT(*) AS n FROM cases GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("stage")?, r.try_get("status")?, r.try_get("n")?))).collect()
    }

    /// Records an input for a case (the bureau's retry of a blocked case, for example).
    pub async fn add_case_input(&self, case_id: i64, input: &Input, actor: Option<i64>, now_ms: i64) -> Result<()> {
        let mut tx = self.write().await?;
        lock_case(&mut tx, case_id).await?;
        add_input(&mut tx, case_id, input, now_ms).await?;
        append_event(&mut tx, case_id, "input_recorded", &serde_json::to_value(input)?, actor, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn pending_input_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM case_inputs WHERE applied_ms IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Work the workers still have to do: unapplied inputs and checks not yet run.
    pub async fn pending_work_count(&self) -> Result<i64> {
        // One statement, so one snapshot: a check finishing in between cannot hide its input.
        Ok(sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM case_inputs WHERE applied_ms IS NULL) + (SELECT COUNT(*) FROM plugin_checks WHERE status = 'pending') + (SELECT COUNT(*) FROM panel_requests WHERE status = 'pending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

pub(crate) async fn add_input(conn: &mut AnyConnection, case_id: i64, input: &Input, now_ms: i64) -> Result<()> {
    sqlx::query("INSERT INTO case_inputs (case_id, input, created_ms) VALUES ($1, $2, $3)")
        .bind(case_id)
        .bind(serde_json::to_string(input)?)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks a case's row for the rest of the transaction (PostgreSQL; SQLite's write transaction
/// already excludes other writers), so events of one case are appended by one writer at a time.
pub(crate) async fn lock_case(conn: &mut AnyConnection, case_id: i64) -> Result<bool> {
    Ok(sqlx::query("UPDATE cases SET version = version WHERE id = $1")
        .bind(case_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Appends an event to a case's history with the next sequence number.
pub(crate) async fn append_event(
    conn: &mut AnyConnection,
    case_id: i64,
    kind: &str,
    data: &serde_json::Value,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    super::chain::append_case_event(conn, case_id, kind, &data.to_string(), actor, now_ms).await
}
