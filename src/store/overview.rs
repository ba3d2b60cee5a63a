//! What the bureau's and the departments' overview pages read: projects with their case's stage
//! and latest light, overdue tasks, grades, and the panels' load. Reads only.

use serde_json::{Value, json};
use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// Projects (of one department, or all) with the stage and status of their latest case and
    /// the light of their latest monitoring report; newest fiscal year first.
    pub async fn project_overview(
        &self,
        department_id: Option<i64>,
        fiscal_year: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Value>, i64)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM projects WHERE ($1 IS NULL OR department_id = $1) AND ($2 IS NULL OR fiscal_year = $2)",
        )
        .bind(department_id)
        .bind(fiscal_year)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT p.id, p.code, p.name, p.fiscal_year, p.amount_fen, d.name AS department, c.id AS case_id, c.stage, c.status, \
             (SELECT l.light FROM monitoring_lights l WHERE l.case_id = c.id ORDER BY l.run_id DESC LIMIT 1) AS light, \
             (SELECT COUNT(*) FROM tasks t WHERE t.case_id = c.id AND t.status = 'open' AND t.kind = 'submission') AS open_tasks \
             FROM projects p JOIN departments d ON d.id = p.department_id \
             LEFT JOIN cases c ON c.id = (SELECT MAX(id) FROM cases WHERE project_id = p.id) \
             WHERE ($1 IS NULL OR p.department_id = $1) AND ($2 IS NULL OR p.fiscal_year = $2) \
             ORDER BY p.fiscal_year DESC, p.code LIMIT $3 OFFSET $4",
        )
        .bind(department_id)
        .bind(fiscal_year)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(json!({
                    "id": r.try_get::<i64, _>("id")?,
                    "code": r.try_get::<String, _>("code")?,
                    "name": r.try_get::<String, _>("name")?,
                    "fiscal_year": r.try_get::<i64, _>("fiscal_year")?,
                    "amount": crate::domain::Fen::from_fen(r.try_get::<i64, _>("amount_fen")?),
                    "department": r.try_get::<String, _>("department")?,
                    "case_id": r.try_get::<Option<i64>, _>("case_id")?,
                    "stage": r.try_get::<Option<String>, _>("stage")?,
                    "status": r.try_get::<Option<String>, _>("status")?,
                    "light": r.try_get::<Option<String>, _>("light")?,
                    "open_tasks": r.try_get::<i64, _>("open_tasks")?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }

    /// Open tasks past their deadline, oldest deadline first, with their project and assignee.
    pub async fn overdue_tasks(&self, now_ms: i64, limit: i64) -> Result<(Vec<Value>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE status = 'open' AND due_ms < $1")
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT t.id, t.case_id, t.stage, t.form, t.kind, t.due_ms, p.code, p.name, d.name AS department, u.display_name AS assignee \
             FROM tasks t JOIN cases c ON c.id = t.case_id JOIN projects p ON p.id = c.project_id \
             JOIN departments d ON d.id = p.department_id LEFT JOIN users u ON u.id = t.assignee_id \
             WHERE t.status = 'open' AND t.due_ms < $1 ORDER BY t.due_ms, t.id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(json!({
                    "id": r.try_get::<i64, _>("id")?, "case_id": r.try_get::<i64, _>("case_id")?,
                    "stage": r.try_get::<String, _>("stage")?, "form": r.try_get::<String, _>("form")?,
                    "kind": r.try_get::<String, _>("kind")?, "due_ms": r.try_get::<i64, _>("due_ms")?,
                    "project_code": r.try_get::<String, _>("code")?, "project_name": r.try_get::<String, _>("name")?,
                    "department": r.try_get::<String, _>("department")?,
                    "assignee": r.try_get::<Option<String>, _>("assignee")?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }

    /// Self-evaluation grades of a fiscal year (the re-scored grade where a spot check re-scored).
    pub async fn grade_counts(&self, fiscal_year: Option<i64>) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT COALESCE(reviewed_grade, self_grade) AS grade, COUNT(*) FROM self_evaluations \
             WHERE ($1 IS NULL OR fiscal_year = $1) GROUP BY COALESCE(reviewed_grade, self_grade)",
        )
        .bind(fiscal_year)
        .fetch_all(&self.pool)
        .await?;
        Ok(["优", "良", "中", "差"]
            .iter()
            .map(|g| {
                let n = rows.iter().filter(|(r, _)| r.as_deref() == Some(*g)).map(|(_, n)| *n).sum();
                (g.to_string(), n)
            })
            .collect())
    }

    /// Review tasks per panel member: open, overdue, completed and declined.
    pub async fn panel_load(&self, now_ms: i64) -> Result<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, u.role, \
             COALESCE(SUM(CASE WHEN t.status = 'open' THEN 1 ELSE 0 END), 0) AS open, \
             COALESCE(SUM(CASE WHEN t.status = 'open' AND t.due_ms < $1 THEN 1 ELSE 0 END), 0) AS overdue, \
             COALESCE(SUM(CASE WHEN t.status = 'completed' THEN 1 ELSE 0 END), 0) AS completed, \
             COALESCE(SUM(CASE WHEN t.status = 'declined' THEN 1 ELSE 0 END), 0) AS declined \
             FROM tasks t JOIN users u ON u.id = t.assignee_id WHERE t.kind = 'review' \
             GROUP BY u.id, u.display_name, u.role ORDER BY 4 DESC, u.display_name LIMIT 500",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({
                    "id": r.try_get::<i64, _>("id")?, "name": r.try_get::<String, _>("display_name")?,
                    "role": r.try_get::<String, _>("role")?, "open": r.try_get::<i64, _>("open")?,
                    "overdue": r.try_get::<i64, _>("overdue")?, "completed": r.try_get::<i64, _>("completed")?,
                    "declined": r.try_get::<i64, _>("declined")?,
                }))
            })
            .collect()
    }
}
