//! Budget projects and their indicators.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Result, Store, StoreError, is_unique_violation};
pub use crate::domain::project::Project;
use crate::domain::{Fen, Indicator, ProjectInput, TargetValue};

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn enum_from<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    Ok(serde_json::from_value(serde_json::Value::String(s.to_string()))?)
}

/// SQL for the current budget of project `p`: its amount with the ledger applied.
macro_rules! budget_sql {
    () => {
        "(p.amount_fen + COALESCE(CAST((SELECT SUM(CASE WHEN b.kind IN ('adjust_out', 'reduction') THEN -b.amount_fen ELSE b.amount_fen END) FROM budget_entries b WHERE b.project_id = p.id) AS BIGINT), 0))"
    };
}
pub(crate) use budget_sql;

const PROJECT_COLUMNS: &str = concat!(
    "p.id, p.code, p.name, p.department_id, d.code AS department_code, p.sector, p.amount_fen, p.fiscal_year, p.is_new, p.funding_source, p.kind, ",
    budget_sql!(),
    " AS budget_fen"
);

fn project_from_row(r: &sqlx::any::AnyRow) -> Result<Project> {
    Ok(Project {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        department_id: r.try_get("department_id")?,
        department_code: r.try_get("department_code")?,
        sector: r.try_get("sector")?,
        amount: Fen::from_fen(r.try_get("amount_fen")?),
        budget: Fen::from_fen(r.try_get("budget_fen")?),
        fiscal_year: r.try_get("fiscal_year")?,
        is_new: r.try_get::<i64, _>("is_new")? != 0,
        funding_source: enum_from(&r.try_get::<String, _>("funding_source")?)?,
        kind: r.try_get("kind")?,
        indicators: Vec::new(),
    })
}

fn indicator_from_row(r: &sqlx::any::AnyRow) -> Result<Indicator> {
    let value: String = r.try_get("value")?;
    let kind: String = r.try_get("value_kind")?;
    let weight: String = r.try_get("weight")?;
    Ok(Indicator {
        level1: enum_from(&r.try_get::<String, _>("level1")?)?,
        level2: r.try_get("level2")?,
        name: r.try_get("name")?,
        operator: enum_from(&r.try_get::<String, _>("operator")?)?,
        value: if kind == "number" {
            TargetValue::Number(
                value
                    .parse::<Decimal>()
                    .map_err(|e| StoreError::Other(anyhow::anyhow!("stored indicator value: {e}")))?,
            )
        } else {
            TargetValue::Text(value)
        },
        unit: r.try_get("unit")?,
        weight: weight.parse().map_err(|e| StoreError::Other(anyhow::anyhow!("stored weight: {e}")))?,
        basis: enum_from(&r.try_get::<String, _>("basis")?)?,
        explanation: r.try_get("explanation")?,
        core: r.try_get::<i64, _>("core")? != 0,
    })
}

/// Filters for listing projects.
#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub department_id: Option<i64>,
    pub fiscal_year: Option<i32>,
    pub sector: Option<String>,
}

impl Store {
    pub async fn project(&self, id: i64) -> Result<Project> {
        let mut conn = self.pool.acquire().await?;
        load_project(&mut conn, id).await
    }

    /// Projects without their indicators, newest code order, paginated.
    pub async fn projects(&self, f: &ProjectFilter, limit: i64, offset: i64) -> Result<(Vec<Project>, i64)> {
        let where_sql = "p.kind = 'project' AND ($1 IS NULL OR p.department_id = $1) AND ($2 IS NULL OR p.fiscal_year = $2) AND ($3 IS NULL OR p.sector = $3)";
        let rows = sqlx::query(super::sql(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p JOIN departments d ON d.id = p.department_id WHERE {where_sql} ORDER BY p.code LIMIT $4 OFFSET $5"
        )))
        .bind(f.department_id)
        .bind(f.fiscal_year)
        .bind(&f.sector)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(super::sql(format!("SELECT COUNT(*) FROM projects p WHERE {where_sql}")))
            .bind(f.department_id)
            .bind(f.fiscal_year)
            .bind(&f.sector)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows.iter().map(project_from_row).collect::<Result<_>>()?, total))
    }

    /// Creates a project after validating it; a department user may only create its own.
    pub async fn create_project(&self, p: &ProjectInput, now_ms: i64) -> Result<Project> {
        let errs = p.validate();
        if !errs.is_empty() {
            return Err(StoreError::Invalid { message: "the project is invalid".into(), details: errs });
        }
        let mut tx = self.write().await?;
        let dept: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
            .bind(&p.department_code)
            .fetch_optional(&mut *tx)
            .await?;
        let dept = dept.ok_or_else(|| StoreError::Invalid {
            message: "the project is invalid".into(),
            details: vec![crate::domain::FieldError {
                zh: None,
                path: "department_code".into(),
                message: format!("no department has code '{}'", p.department_code),
            }],
        })?;
        let id = insert_project(&mut tx, p, dept, now_ms).await?;
        tx.commit().await?;
        self.project(id).await
    }
}

pub(crate) async fn insert_project(
    conn: &mut AnyConnection,
    p: &ProjectInput,
    department_id: i64,
    now_ms: i64,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO projects (code, name, department_id, sector, amount_fen, fiscal_year, is_new, funding_source, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(&p.code)
    .bind(&p.name)
    .bind(department_id)
    .bind(&p.sector)
    .bind(p.amount.fen())
    .bind(p.fiscal_year)
    .bind(i64::from(p.is_new))
    .bind(enum_str(&p.funding_source))
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict(format!("a project with code '{}' already exists", p.code)) } else { e.into() })?;
    insert_indicators(conn, id, &p.indicators).await?;
    Ok(id)
}

/// The stored projects with these codes, with their indicators and whether a cycle has taken
/// them up (a case exists), by code.
pub(crate) async fn load_by_codes(
    conn: &mut AnyConnection,
    backend: super::Backend,
    codes: &[&str],
) -> Result<HashMap<String, (Project, bool)>> {
    let mut out = HashMap::new();
    for chunk in codes.chunks(500) {
        let list = super::value_groups(backend, chunk.len(), 1);
        let mut q = sqlx::query(super::sql(format!(
            "SELECT {PROJECT_COLUMNS}, (SELECT COUNT(*) FROM cases c WHERE c.project_id = p.id) AS cases \
             FROM projects p JOIN departments d ON d.id = p.department_id WHERE p.code IN ({list})"
        )));
        for c in chunk {
            q = q.bind(c.to_string());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut by_id = HashMap::new();
        for r in &rows {
            let p = project_from_row(r)?;
            let in_cycle = r.try_get::<i64, _>("cases")? > 0;
            by_id.insert(p.id, (p, in_cycle));
        }
        if by_id.is_empty() {
            continue;
        }
        let ids: Vec<i64> = by_id.keys().copied().collect();
        let list = super::value_groups(backend, ids.len(), 1);
        let mut q = sqlx::query(super::sql(format!(
            "SELECT project_id, level1, level2, name, operator, value, value_kind, unit, weight, basis, explanation, core \
             FROM indicators WHERE project_id IN ({list}) ORDER BY project_id, position"
        )));
        for id in &ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let id: i64 = r.try_get("project_id")?;
            if let Some((p, _)) = by_id.get_mut(&id) {
                p.indicators.push(indicator_from_row(&r)?);
            }
        }
        out.extend(by_id.into_values().map(|(p, c)| (p.code.clone(), (p, c))));
    }
    Ok(out)
}

/// Whether a stored project already says what `p` says.
pub(crate) fn same_project(stored: &Project, p: &ProjectInput) -> bool {
    stored.name == p.name
        && stored.department_code == p.department_code
        && stored.sector == p.sector
        && stored.amount == p.amount
        && stored.fiscal_year == p.fiscal_year
        && stored.is_new == p.is_new
        && stored.funding_source == p.funding_source
        && stored.indicators == p.indicators
}

/// Overwrites a project not yet taken up by a cycle with `p` (its code stays).
pub(crate) async fn update_project(
    conn: &mut AnyConnection,
    id: i64,
    p: &ProjectInput,
    department_id: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE projects SET name = $1, department_id = $2, sector = $3, amount_fen = $4, fiscal_year = $5, is_new = $6, \
         funding_source = $7, updated_ms = $8 WHERE id = $9",
    )
    .bind(&p.name)
    .bind(department_id)
    .bind(&p.sector)
    .bind(p.amount.fen())
    .bind(p.fiscal_year)
    .bind(i64::from(p.is_new))
    .bind(enum_str(&p.funding_source))
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    write_indicators(conn, id, &p.indicators).await
}

/// Replaces a project's indicators (a target declaration or revision).
pub(crate) async fn write_indicators(
    conn: &mut AnyConnection,
    project_id: i64,
    indicators: &[Indicator],
) -> Result<()> {
    sqlx::query("DELETE FROM indicators WHERE project_id = $1").bind(project_id).execute(&mut *conn).await?;
    insert_indicators(conn, project_id, indicators).await
}

/// Inserts indicators in one statement per 64 rows (a statement per row costs a round trip to
/// SQLite's worker thread each).
async fn insert_indicators(conn: &mut AnyConnection, project_id: i64, indicators: &[Indicator]) -> Result<()> {
    const COLS: usize = 13;
    for (chunk_no, chunk) in indicators.chunks(64).enumerate() {
        let mut text = String::from(
            "INSERT INTO indicators (project_id, position, level1, level2, name, operator, value, value_kind, unit, weight, basis, explanation, core) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                text.push_str(", ");
            }
            let params: Vec<String> = (1..=COLS).map(|c| format!("${}", i * COLS + c)).collect();
            text.push('(');
            text.push_str(&params.join(", "));
            text.push(')');
        }
        let mut q = sqlx::query(super::sql(text));
        for (i, ind) in chunk.iter().enumerate() {
            let (value, kind) = match &ind.value {
                TargetValue::Number(d) => (d.to_string(), "number"),
                TargetValue::Text(t) => (t.clone(), "text"),
            };
            q = q
                .bind(project_id)
                .bind((chunk_no * 64 + i) as i64)
                .bind(enum_str(&ind.level1))
                .bind(ind.level2.clone())
                .bind(ind.name.clone())
                .bind(enum_str(&ind.operator))
                .bind(value)
                .bind(kind)
                .bind(ind.unit.clone())
                .bind(ind.weight.to_string())
                .bind(enum_str(&ind.basis))
                .bind(ind.explanation.clone())
                .bind(i64::from(ind.core));
        }
        q.execute(&mut *conn).await?;
    }
    // The project's sector and year, copied for the sector distribution's index.
    sqlx::query(
        "UPDATE indicators SET sector = (SELECT p.sector FROM projects p WHERE p.id = $1), \
         fiscal_year = (SELECT p.fiscal_year FROM projects p WHERE p.id = $1) WHERE project_id = $1",
    )
    .bind(project_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn load_project(conn: &mut AnyConnection, id: i64) -> Result<Project> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p JOIN departments d ON d.id = p.department_id WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("no project {id}")))?;
    let mut p = project_from_row(&row)?;
    let rows = sqlx::query(
        "SELECT level1, level2, name, operator, value, value_kind, unit, weight, basis, explanation, core FROM indicators WHERE project_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    p.indicators = rows.iter().map(indicator_from_row).collect::<Result<_>>()?;
    Ok(p)
}
