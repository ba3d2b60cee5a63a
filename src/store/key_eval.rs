//! Key evaluations (财政重点绩效评价) and the third-party institutions that carry them out.
//!
//! The bureau registers institutions with the units they are affiliated with, selects a
//! project or a department's overall spending, and assigns an institution only if it is
//! independent of both the evaluated unit and the commissioning bureau. The staged work itself
//! is [`crate::domain::key_eval::Progress`]; this module stores it (one row, guarded by a
//! version number so two parties answering at once cannot lose an answer) with every step as
//! an event.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::domain::FieldError;
use crate::domain::key_eval::{Deliverable, KeyEvalError, Party, Progress, Weights};
use crate::store::people::User;
use crate::workflow::Role;

fn invalid(details: Vec<FieldError>) -> StoreError {
    StoreError::Invalid { message: "the request is invalid".into(), details }
}

fn issue(path: &str, message: impl Into<String>) -> StoreError {
    invalid(vec![FieldError { zh: None, path: path.into(), message: message.into() }])
}

/// A third-party institution as the bureau registers it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThirdParty {
    pub code: String,
    pub name: String,
    /// Departments (units) the institution is affiliated with: it may not evaluate them.
    #[serde(default)]
    pub affiliations: Vec<i64>,
    /// Affiliated with the finance bureau itself (the commissioning body).
    #[serde(default)]
    pub bureau_affiliated: bool,
    /// Users of role third_party who work for it.
    #[serde(default)]
    pub members: Vec<i64>,
}

/// A key evaluation as the bureau commissions it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyEvaluation {
    #[serde(default)]
    pub project_id: Option<i64>,
    /// For a department's overall spending (部门整体支出).
    #[serde(default)]
    pub department_id: Option<i64>,
    pub fiscal_year: i32,
    pub third_party_id: i64,
    #[serde(default)]
    pub weights: Option<Weights>,
}

/// What a party does at the current stage.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyStep {
    Submit {
        deliverable: Deliverable,
    },
    Confirm {
        #[serde(default)]
        comment: String,
    },
    Disagree {
        comment: String,
    },
}

impl Store {
    pub async fn create_third_party(&self, t: &NewThirdParty, actor: i64, now_ms: i64) -> Result<Value> {
        let mut errs = Vec::new();
        let code = t.code.trim();
        if code.is_empty() || code.chars().count() > 64 {
            errs.push(FieldError { zh: None, path: "code".into(), message: "a code of 1–64 characters".into() });
        }
        if t.name.trim().is_empty() || t.name.chars().count() > 200 {
            errs.push(FieldError { zh: None, path: "name".into(), message: "a name of 1–200 characters".into() });
        }
        errs.extend(crate::domain::text::line_problem("name", &t.name));
        errs.extend(crate::domain::text::line_problem("code", code));
        if t.affiliations.len() > 500 || t.members.len() > 500 {
            errs.push(FieldError {
                zh: None,
                path: "affiliations".into(),
                message: "at most 500 affiliations and members".into(),
            });
        }
        if !errs.is_empty() {
            return Err(invalid(errs));
        }
        let mut tx = self.write().await?;
        for (i, d) in t.affiliations.iter().enumerate() {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments WHERE id = $1")
                .bind(d)
                .fetch_one(&mut *tx)
                .await?;
            if n == 0 {
                errs.push(FieldError {
                    zh: None,
                    path: format!("affiliations[{i}]"),
                    message: format!("no department {d}"),
                });
            }
        }
        for (i, u) in t.members.iter().enumerate() {
            let role: Option<String> =
                sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(u).fetch_optional(&mut *tx).await?;
            match role.as_deref() {
                Some("third_party") => {}
                Some(r) => errs.push(FieldError {
                    zh: None,
                    path: format!("members[{i}]"),
                    message: format!("user {u} is a {r} user; members must have the third_party role"),
                }),
                None => {
                    errs.push(FieldError { zh: None, path: format!("members[{i}]"), message: format!("no user {u}") })
                }
            }
        }
        if !errs.is_empty() {
            return Err(invalid(errs));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO third_parties (code, name, affiliations, bureau_affiliated, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(code)
        .bind(t.name.trim())
        .bind(serde_json::to_string(&t.affiliations)?)
        .bind(i64::from(t.bureau_affiliated))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                StoreError::Conflict(format!("a third party with code '{code}' exists"))
            } else {
                e.into()
            }
        })?;
        for u in &t.members {
            sqlx::query(
                "INSERT INTO third_party_members (user_id, third_party_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET third_party_id = excluded.third_party_id",
            )
            .bind(u)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        super::people::audit(&mut tx, "third_party_created", &json!({"id": id, "code": code}), Some(actor), now_ms)
            .await?;
        tx.commit().await?;
        self.third_party(id).await
    }

    pub async fn third_party(&self, id: i64) -> Result<Value> {
        let r = sqlx::query("SELECT id, code, name, affiliations, bureau_affiliated FROM third_parties WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no third party {id}")))?;
        let members: Vec<i64> =
            sqlx::query_scalar("SELECT user_id FROM third_party_members WHERE third_party_id = $1 ORDER BY user_id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(json!({
            "id": id,
            "code": r.try_get::<String, _>("code")?,
            "name": r.try_get::<String, _>("name")?,
            "affiliations": serde_json::from_str::<Value>(&r.try_get::<String, _>("affiliations")?)?,
            "bureau_affiliated": r.try_get::<i64, _>("bureau_affiliated")? != 0,
            "members": members,
        }))
    }

    pub async fn third_parties(&self) -> Result<Vec<Value>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM third_parties ORDER BY id LIMIT 1000").fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.third_party(id).await?);
        }
        Ok(out)
    }

    /// Commissions a key evaluation after the independence check.
    pub async fn create_key_evaluation(&self, k: &NewKeyEvaluation, actor: i64, now_ms: i64) -> Result<Value> {
        let weights = k.weights.clone().unwrap_or_default();
        let mut errs: Vec<FieldError> = match weights.validate() {
            Ok(()) => Vec::new(),
            Err(issues) => {
                issues.into_iter().map(|i| FieldError { zh: None, path: i.path, message: i.message }).collect()
            }
        };
        if !(2000..=2100).contains(&k.fiscal_year) {
            errs.push(FieldError {
                zh: None,
                path: "fiscal_year".into(),
                message: format!("{} is not a fiscal year (2000–2100)", k.fiscal_year),
            });
        }
        let mut tx = self.write().await?;
        let (subject, department_id) = match (k.project_id, k.department_id) {
            (Some(p), None) => {
                let d: Option<i64> = sqlx::query_scalar("SELECT department_id FROM projects WHERE id = $1")
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await?;
                match d {
                    Some(d) => ("project", d),
                    None => return Err(issue("project_id", format!("no project {p}"))),
                }
            }
            (None, Some(d)) => {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments WHERE id = $1")
                    .bind(d)
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 0 {
                    return Err(issue("department_id", format!("no department {d}")));
                }
                ("department", d)
            }
            _ => {
                return Err(issue(
                    "project_id",
                    "name exactly one subject: project_id for a project, or department_id for a department's overall spending",
                ));
            }
        };
        let tp: Option<(String, String, i64)> =
            sqlx::query_as("SELECT name, affiliations, bureau_affiliated FROM third_parties WHERE id = $1")
                .bind(k.third_party_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((tp_name, affiliations, bureau_affiliated)) = tp else {
            return Err(issue("third_party_id", format!("no third party {}", k.third_party_id)));
        };
        let affiliations: Vec<i64> = serde_json::from_str(&affiliations)?;
        if affiliations.contains(&department_id) {
            errs.push(FieldError { zh: None,
                path: "third_party_id".into(),
                message: format!("{tp_name} is affiliated with the evaluated unit (department {department_id}); a key evaluation needs an independent institution"),
            });
        }
        if bureau_affiliated != 0 {
            errs.push(FieldError { zh: None,
                path: "third_party_id".into(),
                message: format!("{tp_name} is affiliated with the commissioning body (the finance bureau); a key evaluation needs an independent institution"),
            });
        }
        if !errs.is_empty() {
            return Err(invalid(errs));
        }
        let progress = Progress::new();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO key_evaluations (subject, project_id, department_id, fiscal_year, third_party_id, weights, progress, status, created_by, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $9) RETURNING id",
        )
        .bind(subject)
        .bind(k.project_id)
        .bind(department_id)
        .bind(i64::from(k.fiscal_year))
        .bind(k.third_party_id)
        .bind(serde_json::to_string(&weights)?)
        .bind(serde_json::to_string(&progress)?)
        .bind(actor)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        key_event(
            &mut tx,
            id,
            "commissioned",
            &json!({"third_party_id": k.third_party_id, "weights": weights}),
            actor,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.key_evaluation(id).await
    }

    /// The party a user acts as in a key evaluation, if any.
    pub async fn key_party(&self, id: i64, user: &User) -> Result<Option<Party>> {
        let (department_id, third_party_id): (i64, i64) =
            sqlx::query_as("SELECT department_id, third_party_id FROM key_evaluations WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no key evaluation {id}")))?;
        Ok(match user.role {
            Role::Admin | Role::Finance => Some(Party::Finance),
            Role::Department if user.department_id == Some(department_id) => Some(Party::Unit),
            Role::ThirdParty => {
                let tp: Option<i64> =
                    sqlx::query_scalar("SELECT third_party_id FROM third_party_members WHERE user_id = $1")
                        .bind(user.id)
                        .fetch_optional(&self.pool)
                        .await?;
                (tp == Some(third_party_id)).then_some(Party::ThirdParty)
            }
            _ => None,
        })
    }

    pub async fn key_evaluation(&self, id: i64) -> Result<Value> {
        let r = sqlx::query(
            "SELECT id, subject, project_id, department_id, fiscal_year, third_party_id, weights, progress, status, final_score, grade, created_ms, updated_ms FROM key_evaluations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no key evaluation {id}")))?;
        let progress: Progress = serde_json::from_str(&r.try_get::<String, _>("progress")?)?;
        let events: Vec<(String, String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT kind, data, actor_id, at_ms FROM key_evaluation_events WHERE key_evaluation_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let events: Vec<Value> = events
            .into_iter()
            .map(|(kind, data, actor, at)| {
                json!({"kind": kind, "data": serde_json::from_str::<Value>(&data).unwrap_or(Value::Null), "actor_id": actor, "at_ms": at})
            })
            .collect();
        Ok(json!({
            "id": id,
            "subject": r.try_get::<String, _>("subject")?,
            "project_id": r.try_get::<Option<i64>, _>("project_id")?,
            "department_id": r.try_get::<i64, _>("department_id")?,
            "fiscal_year": r.try_get::<i64, _>("fiscal_year")?,
            "third_party_id": r.try_get::<i64, _>("third_party_id")?,
            "weights": serde_json::from_str::<Value>(&r.try_get::<String, _>("weights")?)?,
            "status": r.try_get::<String, _>("status")?,
            "stage": progress.stage.as_str(),
            "stage_label": progress.stage.label(),
            "round": progress.round,
            "awaiting": progress.awaiting(),
            "final_score": r.try_get::<Option<String>, _>("final_score")?,
            "grade": r.try_get::<Option<String>, _>("grade")?,
            "progress": progress,
            "events": events,
            "created_ms": r.try_get::<i64, _>("created_ms")?,
            "updated_ms": r.try_get::<i64, _>("updated_ms")?,
        }))
    }

    /// Key evaluations the user may see: all for the bureau, its own for a department, its
    /// institution's for a third party.
    pub async fn key_evaluations(&self, user: &User, fiscal_year: Option<i64>) -> Result<Vec<Value>> {
        let tp: Option<i64> = if user.role == Role::ThirdParty {
            sqlx::query_scalar("SELECT third_party_id FROM third_party_members WHERE user_id = $1")
                .bind(user.id)
                .fetch_optional(&self.pool)
                .await?
        } else {
            None
        };
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, department_id, third_party_id FROM key_evaluations WHERE ($1 IS NULL OR fiscal_year = $1) ORDER BY id LIMIT 5000",
        )
        .bind(fiscal_year)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (id, dept, third) in rows {
            let visible = match user.role {
                Role::Admin | Role::Finance => true,
                Role::Department => user.department_id == Some(dept),
                Role::ThirdParty => tp == Some(third),
                Role::Expert => false,
            };
            if visible {
                let mut v = self.key_evaluation(id).await?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("events");
                    o.remove("progress");
                }
                out.push(v);
            }
        }
        Ok(out)
    }

    /// A party submits the stage's deliverable, confirms it, or disagrees (which reopens the
    /// stage). Nothing is stored when the step does not fit.
    pub async fn key_step(&self, id: i64, party: Party, step: &KeyStep, actor: i64, now_ms: i64) -> Result<Value> {
        let mut tx = self.write().await?;
        let (progress, weights, version): (String, String, i64) =
            sqlx::query_as("SELECT progress, weights, version FROM key_evaluations WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no key evaluation {id}")))?;
        let mut progress: Progress = serde_json::from_str(&progress)?;
        let weights: Weights = serde_json::from_str(&weights)?;
        let events = match step {
            KeyStep::Submit { deliverable } => progress.submit(party, deliverable.clone()),
            KeyStep::Confirm { comment } => progress.respond(party, true, comment, &weights),
            KeyStep::Disagree { comment } => progress.respond(party, false, comment, &weights),
        }
        .map_err(|e| match e {
            KeyEvalError::Invalid(issues) => {
                invalid(issues.into_iter().map(|i| FieldError { zh: None, path: i.path, message: i.message }).collect())
            }
            other => StoreError::Conflict(other.to_string()),
        })?;
        let (status, score, grade) = match (progress.finished, progress.final_score) {
            (true, s) => ("finished", s, s.map(crate::engine::grade_for)),
            (false, s) => ("active", s, s.map(crate::engine::grade_for)),
        };
        let updated = sqlx::query(
            "UPDATE key_evaluations SET progress = $1, status = $2, final_score = $3, grade = $4, version = version + 1, updated_ms = $5 WHERE id = $6 AND version = $7",
        )
        .bind(serde_json::to_string(&progress)?)
        .bind(status)
        .bind(score.map(|s| s.to_string()))
        .bind(grade)
        .bind(now_ms)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict(format!("key evaluation {id} changed meanwhile; read it again")));
        }
        for e in &events {
            let data = serde_json::to_value(e)?;
            let kind = data["type"].as_str().unwrap_or("step").to_string();
            let mut data = data;
            data["party"] = party.as_str().into();
            if let KeyStep::Submit { deliverable } = step {
                data["deliverable"] = serde_json::to_value(deliverable)?;
            }
            key_event(&mut tx, id, &kind, &data, actor, now_ms).await?;
        }
        tx.commit().await?;
        self.key_evaluation(id).await
    }
}

async fn key_event(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    kind: &str,
    data: &Value,
    actor: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO key_evaluation_events (key_evaluation_id, kind, data, actor_id, at_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(kind)
        .bind(data.to_string())
        .bind(actor)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
