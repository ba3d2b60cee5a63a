//! Publishing disclosures (信息公开): a fiscal year's targets (with the budget) or evaluation
//! results (with the final accounts), built from the stored data into
//! [`crate::domain::disclosure::Document`]s, which hold public fields only.
//!
//! A published version is stored whole with its SHA-256 and never changed (the database refuses
//! updates and deletes); a correction is the next version, naming the one it corrects.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Result, Store, StoreError};
use crate::domain::Fen;
use crate::domain::FieldError;
use crate::domain::disclosure::{Body, Document, ResultRow, TargetRow};

fn invalid(path: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        message: "the request is invalid".into(),
        details: vec![FieldError { zh: None, path: path.into(), message: message.into() }],
    }
}

/// code, name, department, sector, budget, level1, level2, indicator, operator, value, unit
type TargetDbRow = (String, String, String, String, i64, String, String, String, String, String, String);
/// code, name, department, budget, executed, self score and grade, reviewed score and grade,
/// finished key evaluations of the project
type ResultDbRow =
    (String, String, String, i64, i64, Option<String>, Option<String>, Option<String>, Option<String>, i64);
/// project code and name (none for a department's overall spending), department, budget, score,
/// grade
type KeyDbRow = (Option<String>, Option<String>, String, Option<i64>, Option<String>, Option<String>);

fn yuan(fen: i64) -> String {
    Fen::from_fen(fen).to_string()
}

impl Store {
    /// Builds what a disclosure of `kind` for `fiscal_year` would publish now.
    async fn disclosure_body(&self, fiscal_year: i64, kind: &str) -> Result<Body> {
        match kind {
            "targets" => {
                // Projects whose targets were declared and whose case was not rejected.
                let rows: Vec<TargetDbRow> =
                    sqlx::query_as(concat!(
                        "SELECT p.code, p.name, d.name, p.sector, ",
                        super::projects::budget_sql!(),
                        ", i.level1, i.level2, i.name, i.operator, i.value, i.unit \
                         FROM projects p JOIN departments d ON d.id = p.department_id JOIN indicators i ON i.project_id = p.id \
                         WHERE p.fiscal_year = $1 AND EXISTS (SELECT 1 FROM cases c JOIN tasks t ON t.case_id = c.id \
                           WHERE c.project_id = p.id AND c.status <> 'rejected' AND t.form = 'targets' AND t.status = 'completed') \
                         ORDER BY p.code, i.position"
                    ))
                    .bind(fiscal_year)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(Body::Targets(
                    rows.into_iter()
                        .map(|(code, name, dept, sector, budget, l1, l2, ind, op, value, unit)| TargetRow {
                            project_code: code,
                            project_name: name,
                            department: dept,
                            sector,
                            budget_yuan: yuan(budget),
                            level1: l1,
                            level2: l2,
                            name: ind,
                            operator: op,
                            target: value,
                            unit,
                        })
                        .collect(),
                ))
            }
            "results" => {
                let rows: Vec<ResultDbRow> =
                    sqlx::query_as(
                        "SELECT p.code, p.name, d.name, s.budget_fen, s.executed_fen, s.self_score, s.self_grade, s.reviewed_score, s.reviewed_grade, \
                         (SELECT COUNT(*) FROM key_evaluations k WHERE k.project_id = p.id AND k.status = 'finished') \
                         FROM self_evaluations s JOIN projects p ON p.id = s.project_id JOIN departments d ON d.id = p.department_id \
                         WHERE s.fiscal_year = $1 AND s.self_score IS NOT NULL ORDER BY p.code",
                    )
                    .bind(fiscal_year)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out: Vec<ResultRow> = rows
                    .into_iter()
                    .map(|(code, name, dept, budget, executed, ss, sg, rs, rg, keyed)| {
                        let reviewed = rs.is_some();
                        ResultRow {
                            project_code: code,
                            project_name: name,
                            department: dept,
                            budget_yuan: yuan(budget),
                            executed_yuan: yuan(executed),
                            execution_rate: rate(executed, budget),
                            score: rs.or(ss).unwrap_or_default(),
                            grade: rg.or(sg).unwrap_or_default(),
                            source: if reviewed { "spot_check" } else { "self_evaluation" }.into(),
                            key_evaluation: keyed > 0,
                        }
                    })
                    .collect();
                // Finished key evaluations, of projects and of departments' overall spending.
                let keyed: Vec<KeyDbRow> =
                    sqlx::query_as(concat!(
                        "SELECT p.code, p.name, d.name, CASE WHEN p.id IS NULL THEN NULL ELSE ",
                        super::projects::budget_sql!(),
                        " END, k.final_score, k.grade FROM key_evaluations k JOIN departments d ON d.id = k.department_id \
                         LEFT JOIN projects p ON p.id = k.project_id WHERE k.fiscal_year = $1 AND k.status = 'finished' ORDER BY k.id"
                    ))
                    .bind(fiscal_year)
                    .fetch_all(&self.pool)
                    .await?;
                for (code, name, dept, budget, score, grade) in keyed {
                    out.push(ResultRow {
                        project_code: code.unwrap_or_default(),
                        project_name: name.unwrap_or_else(|| format!("{dept} 部门整体支出")),
                        department: dept,
                        budget_yuan: budget.map(yuan).unwrap_or_default(),
                        executed_yuan: String::new(),
                        execution_rate: String::new(),
                        score: score.unwrap_or_default(),
                        grade: grade.unwrap_or_default(),
                        source: "key_evaluation".into(),
                        key_evaluation: true,
                    });
                }
                Ok(Body::Results(out))
            }
            other => Err(invalid("kind", format!("'{other}' is not a disclosure (expected targets or results)"))),
        }
    }

    /// Publishes the next version of a disclosure. A version after the first is a correction
    /// and must say what it corrects.
    pub async fn publish_disclosure(
        &self,
        fiscal_year: i64,
        kind: &str,
        title: Option<&str>,
        correction_note: &str,
        actor: i64,
        now_ms: i64,
    ) -> Result<Value> {
        if !(2000..=2100).contains(&fiscal_year) {
            return Err(invalid("fiscal_year", format!("{fiscal_year} is not a fiscal year (2000–2100)")));
        }
        if correction_note.chars().count() > 2000
            || title.is_some_and(|t| t.trim().is_empty() || t.chars().count() > 200)
        {
            return Err(invalid("title", "a title of 1–200 characters and a correction note of at most 2000"));
        }
        let body = self.disclosure_body(fiscal_year, kind).await?;
        let mut tx = self.write().await?;
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM disclosures WHERE fiscal_year = $1 AND kind = $2")
                .bind(fiscal_year)
                .bind(kind)
                .fetch_one(&mut *tx)
                .await?;
        if last.is_some() && correction_note.trim().is_empty() {
            return Err(invalid(
                "correction_note",
                format!(
                    "version {} is published; a new version is a correction: say what it corrects",
                    last.unwrap_or(0)
                ),
            ));
        }
        let version = last.unwrap_or(0) + 1;
        let default_title = match kind {
            "targets" => format!("{fiscal_year}年度项目绩效目标公开"),
            _ => format!("{fiscal_year}年度绩效评价结果公开"),
        };
        let published_at = chrono::DateTime::from_timestamp_millis(now_ms).map(|t| t.to_rfc3339()).unwrap_or_default();
        let doc = Document {
            fiscal_year: fiscal_year as i32,
            version: version as u32,
            published_at,
            title: title.map(|t| t.trim().to_string()).unwrap_or(default_title),
            body,
            correction_of: last.map(|v| v as u32),
            correction_note: correction_note.trim().to_string(),
        };
        let text = serde_json::to_string(&doc)?;
        let sha = hex::encode(Sha256::digest(text.as_bytes()));
        sqlx::query(
            "INSERT INTO disclosures (fiscal_year, kind, version, document, sha256, published_by, published_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(fiscal_year)
        .bind(kind)
        .bind(version)
        .bind(&text)
        .bind(&sha)
        .bind(actor)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                StoreError::Conflict(format!("version {version} of the {fiscal_year} {kind} disclosure was published meanwhile"))
            } else {
                e.into()
            }
        })?;
        super::people::audit(
            &mut tx,
            "disclosure_published",
            &json!({"fiscal_year": fiscal_year, "kind": kind, "version": version, "sha256": sha}),
            Some(actor),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(
            json!({"fiscal_year": fiscal_year, "kind": kind, "version": version, "sha256": sha, "rows": row_count(&doc.body)}),
        )
    }

    /// A published version (the latest unless one is named).
    pub async fn disclosure(&self, fiscal_year: i64, kind: &str, version: Option<i64>) -> Result<(Document, String)> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT document, sha256 FROM disclosures WHERE fiscal_year = $1 AND kind = $2 AND ($3 IS NULL OR version = $3) ORDER BY version DESC LIMIT 1",
        )
        .bind(fiscal_year)
        .bind(kind)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        let Some((text, sha)) = row else {
            return Err(StoreError::NotFound(match version {
                Some(v) => format!("no version {v} of the {fiscal_year} {kind} disclosure"),
                None => format!("no {kind} disclosure is published for {fiscal_year}"),
            }));
        };
        Ok((serde_json::from_str(&text)?, sha))
    }

    /// Every published version, newest first.
    pub async fn disclosures(&self) -> Result<Vec<Value>> {
        let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(
            "SELECT fiscal_year, kind, version, sha256, published_ms FROM disclosures ORDER BY fiscal_year DESC, kind, version DESC LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(y, k, v, sha, at)| json!({"fiscal_year": y, "kind": k, "version": v, "sha256": sha, "published_ms": at}))
            .collect())
    }
}

fn row_count(b: &Body) -> usize {
    match b {
        Body::Targets(r) => r.len(),
        Body::Results(r) => r.len(),
    }
}

/// Execution as a percentage with two decimals; empty for a zero budget.
fn rate(executed: i64, budget: i64) -> String {
    if budget <= 0 {
        return String::new();
    }
    let r = Decimal::from(executed) * Decimal::from(100) / Decimal::from(budget);
    format!("{}%", r.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}
