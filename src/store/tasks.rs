//! Human tasks: submissions by departments, reviews by panel members, approvals by the bureau.
//! Completing a task records the result and an input for the case in one transaction.

use serde::Serialize;
use sqlx::Row;

use super::cases::{add_input, append_event};
use super::people::User;
use super::projects::{load_project, write_indicators};
use super::{Result, Store, StoreError};
use crate::engine::Input;
use crate::engine::forms::{self, FormOutcome};
use crate::workflow::Role;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Task {
    pub id: i64,
    pub case_id: i64,
    pub stage: String,
    pub round: u32,
    pub kind: String,
    pub form: String,
    pub role: String,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub panel_role: Option<String>,
    pub status: String,
    pub due_ms: i64,
    pub created_ms: i64,
    pub completed_ms: Option<i64>,
    pub result: Option<serde_json::Value>,
}

pub(crate) const TASK_COLUMNS: &str = "t.id, t.case_id, t.stage, t.round, t.kind, t.form, t.role, t.department_id, t.assignee_id, t.panel_role, t.status, t.due_ms, t.created_ms, t.completed_ms, t.result";

pub(crate) fn task_from_row(r: &sqlx::any::AnyRow) -> Result<Task> {
    let result: Option<String> = r.try_get("result")?;
    Ok(Task {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        stage: r.try_get("stage")?,
        round: r.try_get::<i64, _>("round")? as u32,
        kind: r.try_get("kind")?,
        form: r.try_get("form")?,
        role: r.try_get("role")?,
        department_id: r.try_get("department_id")?,
        assignee_id: r.try_get("assignee_id")?,
        panel_role: r.try_get("panel_role")?,
        status: r.try_get("status")?,
        due_ms: r.try_get("due_ms")?,
        created_ms: r.try_get("created_ms")?,
        completed_ms: r.try_get("completed_ms")?,
        result: result.map(|s| serde_json::from_str(&s)).transpose()?,
    })
}

/// Which tasks a user may see: a department its department's tasks, a panel member the reviews
/// assigned to them, finance and admin every task.
#[derive(Debug, Clone)]
pub enum TaskScope {
    All,
    /// A department user: the department's submissions, and reviews assigned to the user.
    Department {
        department_id: i64,
        user_id: i64,
    },
    Assignee(i64),
}

impl TaskScope {
    pub fn for_user(u: &User) -> TaskScope {
        match (u.role, u.department_id) {
            (Role::Admin | Role::Finance, _) => TaskScope::All,
            (Role::Department, Some(d)) => TaskScope::Department { department_id: d, user_id: u.id },
            _ => TaskScope::Assignee(u.id),
        }
    }

    /// Whether the user may act on (complete) this task.
    pub fn may_act(u: &User, t: &Task) -> bool {
        match t.kind.as_str() {
            "submission" => {
                u.role == Role::Department && u.department_id.is_some() && u.department_id == t.department_id
            }
            // A spot-check re-score with no reviewer drawn (the bureau had no finance user then)
            // may be taken by the bureau.
            "review" => {
                t.assignee_id == Some(u.id)
                    || (t.assignee_id.is_none() && (u.role == Role::Admin || u.role.as_str() == t.role))
            }
            "approval" => u.role == Role::Admin || u.role.as_str() == t.role,
            _ => false,
        }
    }

    pub fn may_see(&self, t: &Task) -> bool {
        match self {
            TaskScope::All => true,
            TaskScope::Department { department_id, user_id } => {
                (t.department_id == Some(*department_id) && t.kind == "submission") || t.assignee_id == Some(*user_id)
            }
            TaskScope::Assignee(u) => t.assignee_id == Some(*u),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub case_id: Option<i64>,
    pub kind: Option<String>,
    /// Due at or after this time (UTC ms).
    pub due_from: Option<i64>,
    /// Due before this time (UTC ms).
    pub due_before: Option<i64>,
}

/// Which tasks a scope covers, on `$1` (department) and `$2` (user). Written out for each kind
/// of caller, so that the assignee's and the department's indexes are used (one condition with
/// NULL-able parameters for all three made every inbox scan the whole table). Every parameter
/// is still referenced, as PostgreSQL needs to type each one.
fn scope_condition(scope: &TaskScope) -> &'static str {
    match scope {
        TaskScope::All => "($1 IS NULL AND $2 IS NULL)",
        TaskScope::Department { .. } => "((t.department_id = $1 AND t.kind = 'submission') OR t.assignee_id = $2)",
        TaskScope::Assignee(_) => "($1 IS NULL AND t.assignee_id = $2)",
    }
}

/// The scope's department (`$1`) and user (`$2`).
fn scope_ids(scope: &TaskScope) -> (Option<i64>, Option<i64>) {
    match scope {
        TaskScope::All => (None, None),
        TaskScope::Department { department_id, user_id } => (Some(*department_id), Some(*user_id)),
        TaskScope::Assignee(u) => (None, Some(*u)),
    }
}

/// The scope's condition and a [`TaskFilter`]'s, on `$1` to `$7`.
fn filter_condition(scope: &TaskScope) -> String {
    format!(
        "{} AND ($3 IS NULL OR t.status = $3) AND ($4 IS NULL OR t.case_id = $4) AND ($5 IS NULL OR t.kind = $5) \
         AND ($6 IS NULL OR t.due_ms >= $6) AND ($7 IS NULL OR t.due_ms < $7)",
        scope_condition(scope)
    )
}

impl Store {
    pub async fn task(&self, id: i64) -> Result<Task> {
        let row = sqlx::query(super::sql(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no task {id}")))?;
        task_from_row(&row)
    }

    /// The scope's open tasks (of `kind`, if given) counted three ways at once: all, due from
    /// `now` until `soon_until`, and past `now`. One statement: an inbox asks on every visit.
    pub async fn open_task_counts(
        &self,
        scope: &TaskScope,
        kind: Option<&str>,
        now_ms: i64,
        soon_until_ms: i64,
    ) -> Result<(i64, i64, i64)> {
        let (dept, assignee) = scope_ids(scope);
        let scope_sql = scope_condition(scope);
        let (all, soon, overdue): (i64, i64, i64) = sqlx::query_as(super::sql(format!(
            "SELECT COUNT(*), \
                    COALESCE(SUM(CASE WHEN t.due_ms >= $4 AND t.due_ms < $5 THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN t.due_ms < $4 THEN 1 ELSE 0 END), 0) \
             FROM tasks t WHERE {scope_sql} AND t.status = 'open' AND ($3 IS NULL OR t.kind = $3)"
        )))
        .bind(dept)
        .bind(assignee)
        .bind(kind)
        .bind(now_ms)
        .bind(soon_until_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok((all, soon, overdue))
    }

    pub async fn tasks(&self, scope: &TaskScope, f: &TaskFilter, limit: i64, offset: i64) -> Result<(Vec<Task>, i64)> {
        let rows = self.task_page(scope, f, limit, offset).await?;
        let total = self.task_count(scope, f).await?;
        Ok((rows, total))
    }

    /// One page of the scope's tasks that pass the filter, by due time.
    pub async fn task_page(&self, scope: &TaskScope, f: &TaskFilter, limit: i64, offset: i64) -> Result<Vec<Task>> {
        let (dept, assignee) = scope_ids(scope);
        let where_sql = filter_condition(scope);
        let rows = sqlx::query(super::sql(format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE {where_sql} ORDER BY t.due_ms, t.id LIMIT $8 OFFSET $9"
        )))
        .bind(dept)
        .bind(assignee)
        .bind(&f.status)
        .bind(f.case_id)
        .bind(&f.kind)
        .bind(f.due_from)
        .bind(f.due_before)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    async fn task_count(&self, scope: &TaskScope, f: &TaskFilter) -> Result<i64> {
        let (dept, assignee) = scope_ids(scope);
        let where_sql = filter_condition(scope);
        Ok(sqlx::query_scalar(super::sql(format!("SELECT COUNT(*) FROM tasks t WHERE {where_sql}")))
            .bind(dept)
            .bind(assignee)
            .bind(&f.status)
            .bind(f.case_id)
            .bind(&f.kind)
            .bind(f.due_from)
            .bind(f.due_before)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Completes a task with a form. The form is checked against the task's form kind; the task,
    /// the project (for target declarations), the case's input and its history change together.
    pub async fn complete_task(
        &self,
        reg: &super::workflows::Registry,
        task_id: i64,
        user: &User,
        body: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Task> {
        let mut tx = self.write().await?;
        let row = sqlx::query(super::sql(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1")))
            .bind(task_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no task {task_id}")))?;
        let task = task_from_row(&row)?;
        if !TaskScope::may_act(user, &task) {
            // The API checks visibility first; this guards every other caller.
            return Err(StoreError::NotFound(format!("no task {task_id}")));
        }
        if task.status != "open" {
            return Err(StoreError::Conflict(format!("task {task_id} is already {}", task.status)));
        }
        // Events of one case are appended by one writer at a time (a worker may be advancing it).
        super::cases::lock_case(&mut tx, task.case_id).await?;
        let case = sqlx::query("SELECT project_id, workflow_id, workflow_version FROM cases WHERE id = $1")
            .bind(task.case_id)
            .fetch_one(&mut *tx)
            .await?;
        let project = load_project(&mut tx, case.try_get("project_id")?).await?;
        let wf = self
            .workflow(
                reg,
                &case.try_get::<String, _>("workflow_id")?,
                case.try_get::<i64, _>("workflow_version")? as u32,
            )
            .await?;
        let scheme = wf.stage_index(&task.stage).and_then(|i| wf.stages[i].scoring.clone());
        if task.form == "rectification" {
            // A rectification order answers a result action, not the case's workflow.
            let result = super::evaluation::check_rectification(body).map_err(|details| StoreError::Invalid {
                message: "the rectification form is invalid".into(),
                details,
            })?;
            let updated = sqlx::query("UPDATE tasks SET status = 'completed', completed_ms = $1, completed_by = $2, result = $3 WHERE id = $4 AND status = 'open'")
                .bind(now_ms)
                .bind(user.id)
                .bind(result.to_string())
                .bind(task_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated != 1 {
                return Err(StoreError::Conflict(format!("task {task_id} is no longer open")));
            }
            super::evaluation::rectified(&mut tx, task_id, &result, user.id, now_ms).await?;
            tx.commit().await?;
            return self.task(task_id).await;
        }
        let outcome = forms::check(&task.form, &project, scheme.as_deref(), body).map_err(|details| {
            StoreError::Invalid { message: format!("the {} form is invalid", task.form), details }
        })?;
        let (input, result) = match outcome {
            FormOutcome::Targets { indicators, result } => {
                // A resubmission of the declared targets as they stand changes nothing.
                if indicators != project.indicators {
                    write_indicators(&mut tx, project.id, &indicators).await?;
                    sqlx::query("UPDATE projects SET updated_ms = $1 WHERE id = $2")
                        .bind(now_ms)
                        .bind(project.id)
                        .execute(&mut *tx)
                        .await?;
                }
                (
                    Input::Submitted {
                        stage: task.stage.clone(),
                        round: task.round,
                        task_id,
                        score: None,
                        grade: None,
                    },
                    result,
                )
            }
            FormOutcome::Submission { score, grade, result } if task.kind == "review" => {
                // A spot check's re-score of a sampled self-evaluation.
                let (Some(score), Some(grade)) = (score, grade) else {
                    return Err(StoreError::Conflict(format!("task {task_id} re-scores a form that has no score")));
                };
                super::evaluation::record_spot_review(&mut tx, task.case_id, &result, score, &grade, user.id, now_ms)
                    .await?;
                (Input::SpotReviewed { stage: task.stage.clone(), task_id, score, grade }, result)
            }
            FormOutcome::Submission { score, grade, result } => {
                if task.form == "self_evaluation" {
                    super::evaluation::record_self_evaluation(
                        &mut tx,
                        task.case_id,
                        &project,
                        &task.stage,
                        &result,
                        score,
                        grade.as_deref(),
                        now_ms,
                    )
                    .await?;
                }
                (Input::Submitted { stage: task.stage.clone(), round: task.round, task_id, score, grade }, result)
            }
            FormOutcome::Review { score, result } => (
                Input::Reviewed {
                    stage: task.stage.clone(),
                    round: task.round,
                    task_id,
                    score,
                    leader: task.panel_role.as_deref() == Some("leader"),
                },
                result,
            ),
            FormOutcome::Approval { result } => {
                if task.form == "result_application" {
                    super::evaluation::check_actions_approval(&mut tx, task.case_id, &project, &task.stage, &result)
                        .await?;
                }
                (Input::Approved { stage: task.stage.clone(), task_id }, result)
            }
        };
        let updated = sqlx::query("UPDATE tasks SET status = 'completed', completed_ms = $1, completed_by = $2, result = $3 WHERE id = $4 AND status = 'open'")
            .bind(now_ms)
            .bind(user.id)
            .bind(result.to_string())
            .bind(task_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict(format!("task {task_id} is no longer open")));
        }
        add_input(&mut tx, task.case_id, &input, now_ms).await?;
        if task.form == "monitoring" {
            let targets = super::monitoring::targets_of(&project);
            super::monitoring::report_filled(&mut tx, task.case_id, &task.stage, task_id, &targets, now_ms).await?;
        }
        append_event(
            &mut tx,
            task.case_id,
            "task_completed",
            &serde_json::json!({"task_id": task_id, "stage": task.stage, "round": task.round, "kind": task.kind, "form": task.form, "result": result}),
            Some(user.id),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.task(task_id).await
    }
}

impl Store {
    /// A panel member declines their open review with a reason; the case is told, and a
    /// replacement is drawn under the same rules by the worker that applies it.
    pub async fn decline_task(&self, task_id: i64, user: &User, reason: &str, now_ms: i64) -> Result<Task> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(StoreError::Invalid {
                message: "the request is invalid".into(),
                details: vec![crate::domain::FieldError {
                    zh: None,
                    path: "reason".into(),
                    message: "give the reason for declining (1 to 500 characters)".into(),
                }],
            });
        }
        let mut tx = self.write().await?;
        let row = sqlx::query(super::sql(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1")))
            .bind(task_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no task {task_id}")))?;
        let task = task_from_row(&row)?;
        if task.assignee_id != Some(user.id) {
            return Err(StoreError::NotFound(format!("no task {task_id}")));
        }
        if task.kind != "review" {
            return Err(StoreError::Conflict(format!(
                "task {task_id} is a {}; only reviews can be declined",
                task.kind
            )));
        }
        if task.panel_role.as_deref() == Some("spot_check") {
            return Err(StoreError::Conflict(format!(
                "task {task_id} is a spot-check re-score; it cannot be declined (the bureau may reassign it)"
            )));
        }
        super::cases::lock_case(&mut tx, task.case_id).await?;
        let updated = sqlx::query("UPDATE tasks SET status = 'declined', completed_ms = $1, completed_by = $2, result = $3 WHERE id = $4 AND status = 'open'")
            .bind(now_ms)
            .bind(user.id)
            .bind(serde_json::json!({"declined": reason}).to_string())
            .bind(task_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict(format!("task {task_id} is already {}", task.status)));
        }
        let input = Input::Declined {
            stage: task.stage.clone(),
            round: task.round,
            task_id,
            user_id: user.id,
            reason: reason.to_string(),
        };
        add_input(&mut tx, task.case_id, &input, now_ms).await?;
        append_event(
            &mut tx,
            task.case_id,
            "review_declined",
            &serde_json::json!({"task_id": task_id, "stage": task.stage, "round": task.round, "reason": reason}),
            Some(user.id),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.task(task_id).await
    }

    /// Handles open reviews past their deadline, per their panel: with a quorum of reviews in,
    /// the round's open reviews are closed and the panel decides with what it has; otherwise,
    /// when the panel replaces overdue members, the review is closed and a replacement asked for
    /// (as if the member had declined). Returns how many reviews were closed.
    pub async fn replace_overdue_reviews(&self, reg: &super::workflows::Registry, now_ms: i64) -> Result<usize> {
        // The stages whose panels replace overdue members or have a quorum, in the versions
        // cases are on.
        let versions: Vec<(String, i64)> =
            sqlx::query_as("SELECT DISTINCT workflow_id, workflow_version FROM cases WHERE status = 'active'")
                .fetch_all(&self.pool)
                .await?;
        let mut rows = Vec::new();
        for (id, version) in versions {
            let wf = self.workflow(reg, &id, version as u32).await?;
            for st in wf.stages.iter() {
                let Some(panel) = st.panel.as_ref() else { continue };
                let quorum = panel.quorum;
                let replace = panel.on_overdue == crate::workflow::OverduePolicy::Replace;
                if quorum.is_none() && !replace {
                    continue;
                }
                rows.extend(
                    sqlx::query(
                        "SELECT t.id, t.case_id, t.stage, t.round, t.assignee_id FROM tasks t JOIN cases c ON c.id = t.case_id WHERE t.status = 'open' AND t.due_ms < $1 AND t.kind = 'review' AND t.stage = $2 AND c.workflow_id = $3 AND c.workflow_version = $4 ORDER BY t.id LIMIT 1000",
                    )
                    .bind(now_ms)
                    .bind(&st.id)
                    .bind(&id)
                    .bind(version)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|r| (r, quorum, replace)),
                );
            }
        }
        let mut replaced = 0;
        for (r, quorum, replace) in rows {
            let stage: String = r.try_get("stage")?;
            let (task_id, case_id): (i64, i64) = (r.try_get("id")?, r.try_get("case_id")?);
            let round = r.try_get::<i64, _>("round")? as u32;
            if let Some(q) = quorum {
                let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE case_id = $1 AND stage = $2 AND round = $3 AND kind = 'review' AND status = 'completed'")
                    .bind(case_id)
                    .bind(&stage)
                    .bind(i64::from(round))
                    .fetch_one(&self.pool)
                    .await?;
                if done >= i64::from(q) {
                    let mut tx = self.write().await?;
                    super::cases::lock_case(&mut tx, case_id).await?;
                    let closed = sqlx::query("UPDATE tasks SET status = 'cancelled', completed_ms = $1 WHERE case_id = $2 AND stage = $3 AND round = $4 AND kind = 'review' AND status = 'open'")
                        .bind(now_ms)
                        .bind(case_id)
                        .bind(&stage)
                        .bind(i64::from(round))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if closed == 0 {
                        continue;
                    }
                    add_input(&mut tx, case_id, &Input::ReviewDeadline { stage: stage.clone(), round }, now_ms).await?;
                    append_event(
                        &mut tx,
                        case_id,
                        "review_deadline",
                        &serde_json::json!({"stage": stage, "round": round, "reviews": done, "quorum": q, "closed": closed}),
                        None,
                        now_ms,
                    )
                    .await?;
                    tx.commit().await?;
                    replaced += closed as usize;
                    continue;
                }
            }
            if !replace {
                continue;
            }
            let mut tx = self.write().await?;
            super::cases::lock_case(&mut tx, case_id).await?;
            let updated = sqlx::query("UPDATE tasks SET status = 'declined', completed_ms = $1, result = $2 WHERE id = $3 AND status = 'open'")
                .bind(now_ms)
                .bind(serde_json::json!({"declined": "missed the deadline", "overdue": true}).to_string())
                .bind(task_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated != 1 {
                continue;
            }

            let input = Input::Declined {
                stage: stage.clone(),
                round,
                task_id,
                user_id: r.try_get::<Option<i64>, _>("assignee_id")?.unwrap_or_default(),
                reason: "missed the deadline".into(),
            };
            add_input(&mut tx, case_id, &input, now_ms).await?;
            append_event(
                &mut tx,
                case_id,
                "review_declined",
                &serde_json::json!({"task_id": task_id, "stage": stage, "round": round, "reason": "missed the deadline", "overdue": true}),
                None,
                now_ms,
            )
            .await?;
            tx.commit().await?;
            replaced += 1;
        }
        Ok(replaced)
    }

    /// Whether the user has (or had) a task assigned to them in the case.
    pub async fn is_assigned_to_case(&self, user_id: i64, case_id: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE case_id = $1 AND assignee_id = $2")
            .bind(case_id)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Whether the user has a task in any case of the project.
    pub async fn is_assigned_to_project(&self, user_id: i64, project_id: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks t JOIN cases c ON c.id = t.case_id WHERE c.project_id = $1 AND t.assignee_id = $2")
            .bind(project_id)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}
