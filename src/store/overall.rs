//! Departments' overall declarations (部门整体): a `projects` row of kind `department` carries
//! the department's budget and overall indicators, so a workflow whose subject is `department`
//! reviews, monitors and self-evaluates it like a project; `department_overall` keeps the
//! duties and key work.

use serde::Serialize;
use sqlx::Row;

use super::people::Department;
use super::projects::{Project, insert_project, update_project};
use super::{Result, Store, StoreError};
use crate::domain::project::{KeyWork, OverallInput};
use crate::domain::{FieldError, ProjectInput};

/// A department's overall declaration as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Overall {
    pub department_code: String,
    pub department_name: String,
    pub fiscal_year: i32,
    pub duties: String,
    pub key_work: Vec<KeyWork>,
    /// The record the workflow works on (kind `department`), with the budget and indicators.
    pub project: Project,
    /// Whether a cycle has taken it up (then it can no longer be rewritten here).
    pub in_cycle: bool,
}

/// The code of a department's overall record for a year.
pub fn overall_code(department_code: &str, fiscal_year: i32) -> String {
    format!("ZT-{department_code}-{fiscal_year}")
}

impl Store {
    /// A department's overall declaration for a year; `NotFound` if it has none.
    pub async fn department_overall(&self, dept: &Department, fiscal_year: i32) -> Result<Overall> {
        let row = sqlx::query(
            "SELECT o.project_id, o.duties, o.key_work, (SELECT COUNT(*) FROM cases c WHERE c.project_id = o.project_id) AS cases \
             FROM department_overall o WHERE o.department_id = $1 AND o.fiscal_year = $2",
        )
        .bind(dept.id)
        .bind(fiscal_year)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("department {} has no overall declaration for {fiscal_year}", dept.code))
        })?;
        Ok(Overall {
            department_code: dept.code.clone(),
            department_name: dept.name.clone(),
            fiscal_year,
            duties: row.try_get("duties")?,
            key_work: serde_json::from_str(&row.try_get::<String, _>("key_work")?)?,
            project: self.project(row.try_get("project_id")?).await?,
            in_cycle: row.try_get::<i64, _>("cases")? > 0,
        })
    }

    /// Writes a department's overall declaration for a year: created, or rewritten while no
    /// cycle has taken it up (after that the workflow's tasks change it).
    pub async fn put_department_overall(
        &self,
        dept: &Department,
        fiscal_year: i32,
        input: &OverallInput,
        actor: Option<i64>,
        now_ms: i64,
    ) -> Result<(Overall, bool)> {
        let mut errs = input.validate();
        if !(2000..=2100).contains(&fiscal_year) {
            errs.push(FieldError::bilingual(
                "fiscal_year",
                format!("{fiscal_year} is not a fiscal year between 2000 and 2100"),
                format!("{fiscal_year} 不是 2000–2100 之间的预算年度"),
            ));
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid { message: "the overall declaration is invalid".into(), details: errs });
        }
        let project = ProjectInput {
            code: overall_code(&dept.code, fiscal_year),
            name: format!("{}{fiscal_year}年度部门整体支出", dept.name),
            department_code: dept.code.clone(),
            sector: dept.sector.clone(),
            amount: input.amount,
            fiscal_year,
            is_new: false,
            funding_source: input.funding_source,
            indicators: input.indicators.clone(),
        };
        let key_work = serde_json::to_string(&input.key_work)?;
        let mut tx = self.write().await?;
        let existing = sqlx::query(
            "SELECT o.project_id, (SELECT COUNT(*) FROM cases c WHERE c.project_id = o.project_id) AS cases \
             FROM department_overall o WHERE o.department_id = $1 AND o.fiscal_year = $2",
        )
        .bind(dept.id)
        .bind(fiscal_year)
        .fetch_optional(&mut *tx)
        .await?;
        let created = existing.is_none();
        match existing {
            Some(r) => {
                if r.try_get::<i64, _>("cases")? > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the {fiscal_year} overall declaration of {} is in a cycle; its targets change through the cycle's tasks",
                        dept.code
                    )));
                }
                let id: i64 = r.try_get("project_id")?;
                update_project(&mut tx, id, &project, dept.id, now_ms).await?;
                sqlx::query("UPDATE department_overall SET duties = $1, key_work = $2 WHERE project_id = $3")
                    .bind(&input.duties)
                    .bind(&key_work)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                let id = insert_project(&mut tx, &project, dept.id, now_ms).await?;
                sqlx::query("UPDATE projects SET kind = 'department' WHERE id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO department_overall (project_id, department_id, fiscal_year, duties, key_work) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(dept.id)
                .bind(fiscal_year)
                .bind(&input.duties)
                .bind(&key_work)
                .execute(&mut *tx)
                .await?;
            }
        }
        super::people::audit(
            &mut tx,
            "department_overall_declared",
            &serde_json::json!({"department": dept.code, "fiscal_year": fiscal_year, "amount": input.amount}),
            actor,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok((self.department_overall(dept, fiscal_year).await?, created))
    }

    /// The duties and key work of the overall record `project_id`, if it is one.
    pub async fn overall_of_project(&self, project_id: i64) -> Result<Option<(String, Vec<KeyWork>)>> {
        let row = sqlx::query("SELECT duties, key_work FROM department_overall WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("duties")?, serde_json::from_str(&r.try_get::<String, _>("key_work")?)?))).transpose()
    }
}
