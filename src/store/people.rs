//! Departments, users, API tokens and experts.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{Result, Store, StoreError, is_unique_violation};
use crate::domain::FieldError;
use crate::workflow::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub sector: String,
    pub head: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department_id: Option<i64>,
    pub email: String,
    pub language: String,
    /// One mail a day listing open tasks and the day's news, instead of one mail per event.
    pub digest: bool,
    /// The head (负责人) of their department: told first when its work is overdue.
    pub department_head: bool,
}

/// A new user as the admin API or the demo creates it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[serde(default)]
    pub department_code: Option<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default = "default_language")]
    pub language: String,
    /// For experts: their sectors, title and organisation.
    #[serde(default)]
    pub expert: Option<ExpertProfile>,
    /// Mail as one daily digest instead of one mail per event.
    #[serde(default)]
    pub digest: bool,
    /// For department users: the department's head, told first when its work is overdue.
    #[serde(default)]
    pub department_head: bool,
}

fn default_language() -> String {
    "zh".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpertProfile {
    pub sectors: Vec<String>,
    #[serde(default)]
    pub specialities: Vec<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub organisation: String,
    /// Units the expert worked for or directed, with years.
    #[serde(default)]
    pub employment: Vec<Employment>,
    /// Declared relationships and conflicts (recusal data).
    #[serde(default)]
    pub conflicts: Vec<DeclaredConflict>,
    /// Date windows (bureau time) in which the expert can review; none means always.
    #[serde(default)]
    pub availability: Vec<Window>,
    /// Most reviews the expert has open at once.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_reviews: u32,
}

fn default_max_concurrent() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Employment {
    pub department_code: String,
    pub from_year: i32,
    pub to_year: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredConflict {
    pub kind: crate::domain::panel::ConflictKind,
    #[serde(default)]
    pub department_code: Option<String>,
    #[serde(default)]
    pub project_code: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// The SHA-256 of a token, hex. Tokens carry 256 random bits, so a fast hash is enough: nobody
/// can guess a preimage, and the database never holds a usable token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether two secrets are equal, compared as digests: the time taken tells nothing about how
/// much of them matched.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// A fresh random token: `jx_` and 64 hex digits.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("jx_{}", hex::encode(bytes))
}

const USER_COLUMNS: &str = "id, username, display_name, role, department_id, email, language, digest, department_head";

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: role.parse().map_err(|e: String| StoreError::Other(anyhow::anyhow!(e)))?,
        department_id: r.try_get("department_id")?,
        email: r.try_get("email")?,
        language: r.try_get("language")?,
        digest: r.try_get::<i64, _>("digest")? != 0,
        department_head: r.try_get::<i64, _>("department_head")? != 0,
    })
}

fn invalid(path: &str, message: impl Into<String>) -> StoreError {
    let message = message.into();
    StoreError::Invalid {
        message: "the request is invalid".into(),
        details: vec![crate::domain::FieldError { zh: None, path: path.into(), message }],
    }
}

impl Store {
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE active = 1 AND id = (SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked_ms IS NULL)"
        );
        let row = sqlx::query(super::sql(sql)).bind(hash_token(token)).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        let row = sqlx::query(super::sql(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user {id}")))?;
        user_from_row(&row)
    }

    pub async fn users(&self, limit: i64, offset: i64) -> Result<Vec<User>> {
        let rows = sqlx::query(super::sql(format!("SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2")))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub async fn departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query("SELECT id, code, name, sector, head FROM departments ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    sector: r.try_get("sector")?,
                    head: r.try_get("head")?,
                })
            })
            .collect()
    }

    pub async fn department_by_code(&self, code: &str) -> Result<Option<Department>> {
        let r = sqlx::query("SELECT id, code, name, sector, head FROM departments WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            Ok(Department {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                sector: r.try_get("sector")?,
                head: r.try_get("head")?,
            })
        })
        .transpose()
    }

    /// Creates a department; the code must be new.
    pub async fn create_department(
        &self,
        code: &str,
        name: &str,
        sector: &str,
        head: &str,
        now_ms: i64,
        actor: Option<i64>,
    ) -> Result<i64> {
        if code.is_empty()
            || code.len() > 32
            || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "code",
                format!("'{code}' is not a department code (1–32 letters, digits, '-' or '_')"),
            ));
        }
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(invalid("name", "a department name of 1–100 characters is required"));
        }
        let text_problems: Vec<FieldError> = [("name", name), ("head", head)]
            .iter()
            .filter_map(|(path, text)| crate::domain::text::line_problem(path, text))
            .collect();
        if !text_problems.is_empty() {
            return Err(StoreError::Invalid { message: "the department is invalid".into(), details: text_problems });
        }
        if crate::domain::project::sector_label(sector).is_none() {
            return Err(invalid("sector", format!("'{sector}' is not a sector")));
        }
        let mut tx = self.write().await?;
        let id = insert_department(&mut tx, code, name, sector, head, now_ms).await?;
        audit(&mut tx, "department_created", &serde_json::json!({"id": id, "code": code, "name": name}), actor, now_ms)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a user (and their expert profile) and audits it.
    pub async fn create_user(&self, u: &NewUser, now_ms: i64, actor: Option<i64>) -> Result<User> {
        let mut tx = self.write().await?;
        let user = insert_user(&mut tx, u, now_ms).await?;
        audit(
            &mut tx,
            "user_created",
            &serde_json::json!({"id": user.id, "username": user.username, "role": user.role}),
            actor,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes a user's own mail preferences (language, daily digest) and audits it.
    pub async fn set_preferences(
        &self,
        user_id: i64,
        language: Option<&str>,
        digest: Option<bool>,
        now_ms: i64,
    ) -> Result<User> {
        if let Some(l) = language
            && l != "zh"
            && l != "en"
        {
            return Err(invalid("language", format!("'{l}' is not a language (expected zh or en)")));
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET language = COALESCE($1, language), digest = COALESCE($2, digest) WHERE id = $3")
            .bind(language)
            .bind(digest.map(i64::from))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            "preferences_changed",
            &serde_json::json!({"id": user_id, "language": language, "digest": digest}),
            Some(user_id),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        self.user(user_id).await
    }

    /// Issues a new token for a user; returns the token, which is shown once and stored only as
    /// its hash.
    pub async fn issue_token(&self, user_id: i64, label: &str, now_ms: i64, actor: Option<i64>) -> Result<String> {
        let mut tx = self.write().await?;
        let token = insert_token(&mut tx, user_id, label, now_ms).await?;
        audit(&mut tx, "token_issued", &serde_json::json!({"user_id": user_id, "label": label}), actor, now_ms).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Stores a token the operator chose (e.g. `JIXIAO_ADMIN_TOKEN`) for a user, unless present.
    pub async fn ensure_token(&self, user_id: i64, token: &str, label: &str, now_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING")
            .bind(user_id)
            .bind(hash_token(token))
            .bind(label)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn revoke_tokens(&self, user_id: i64, now_ms: i64, actor: Option<i64>) -> Result<u64> {
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE api_tokens SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL")
            .bind(now_ms)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        audit(&mut tx, "tokens_revoked", &serde_json::json!({"user_id": user_id, "count": n}), actor, now_ms).await?;
        tx.commit().await?;
        Ok(n)
    }
}

pub(crate) async fn insert_department(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    sector: &str,
    head: &str,
    now_ms: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO departments (code, name, sector, head, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(sector)
    .bind(head)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a department with code '{code}' already exists"))
        } else {
            e.into()
        }
    })
}

pub(crate) async fn insert_user(conn: &mut AnyConnection, u: &NewUser, now_ms: i64) -> Result<User> {
    let uname_ok = !u.username.is_empty()
        && u.username.len() <= 64
        && u.username.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !uname_ok {
        return Err(invalid(
            "username",
            format!("'{}' is not a username (1–64 letters, digits, '-', '_', '.', '@')", u.username),
        ));
    }
    if u.display_name.trim().is_empty() || u.display_name.chars().count() > 100 {
        return Err(invalid("display_name", "a display name of 1–100 characters is required"));
    }
    let text_problems: Vec<FieldError> = crate::domain::text::line_problem("display_name", &u.display_name)
        .into_iter()
        .chain((!u.email.is_empty()).then(|| crate::domain::text::email_problem("email", &u.email)).flatten())
        .collect();
    if !text_problems.is_empty() {
        return Err(StoreError::Invalid { message: "the user is invalid".into(), details: text_problems });
    }
    if u.language != "zh" && u.language != "en" {
        return Err(invalid("language", format!("'{}' is not a language (expected zh or en)", u.language)));
    }
    let department_id = match (&u.role, &u.department_code) {
        (Role::Department, Some(code)) => Some(
            sqlx::query_scalar::<_, i64>("SELECT id FROM departments WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| invalid("department_code", format!("no department has code '{code}'")))?,
        ),
        (Role::Department, None) => {
            return Err(invalid("department_code", "a department user needs department_code"));
        }
        (_, Some(_)) => {
            return Err(invalid("department_code", "only department users belong to a department"));
        }
        (_, None) => None,
    };
    if u.department_head && u.role != Role::Department {
        return Err(invalid("department_head", "only a department user can be a department's head"));
    }
    if u.role == Role::Expert && u.expert.is_none() {
        return Err(invalid("expert", "an expert needs a profile with sectors"));
    }
    if u.role != Role::Expert && u.expert.is_some() {
        return Err(invalid("expert", "only experts have an expert profile"));
    }
    if let Some(p) = &u.expert {
        if p.sectors.is_empty() {
            return Err(invalid("expert.sectors", "an expert needs at least one sector"));
        }
        for (i, s) in p.sectors.iter().enumerate() {
            if crate::domain::project::sector_label(s).is_none() {
                return Err(invalid(&format!("expert.sectors[{i}]"), format!("'{s}' is not a sector")));
            }
        }
        if p.max_concurrent_reviews == 0 || p.max_concurrent_reviews > 200 {
            return Err(invalid("expert.max_concurrent_reviews", "must be between 1 and 200"));
        }
        for (i, e) in p.employment.iter().enumerate() {
            if e.from_year > e.to_year || e.from_year < 1950 || e.to_year > 2100 {
                return Err(invalid(
                    &format!("expert.employment[{i}]"),
                    format!(
                        "years {}–{} are not a period (expected from_year ≤ to_year, 1950–2100)",
                        e.from_year, e.to_year
                    ),
                ));
            }
        }
        for (i, c) in p.conflicts.iter().enumerate() {
            if c.department_code.is_none() && c.project_code.is_none() {
                return Err(invalid(
                    &format!("expert.conflicts[{i}]"),
                    "a conflict names the department_code, the project_code, or both",
                ));
            }
        }
        for (i, w) in p.availability.iter().enumerate() {
            if w.from > w.to {
                return Err(invalid(&format!("expert.availability[{i}]"), format!("{} is after {}", w.from, w.to)));
            }
        }
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, role, department_id, email, language, digest, department_head, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(&u.username)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(department_id)
    .bind(&u.email)
    .bind(&u.language)
    .bind(i64::from(u.digest))
    .bind(i64::from(u.department_head))
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("the username '{}' is taken", u.username))
        } else {
            e.into()
        }
    })?;
    if let Some(p) = &u.expert {
        insert_expert(conn, id, p).await?;
    }
    Ok(User {
        id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: u.role,
        department_id,
        email: u.email.clone(),
        language: u.language.clone(),
        digest: u.digest,
        department_head: u.department_head,
    })
}

async fn department_id(conn: &mut AnyConnection, path: &str, code: &str) -> Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM departments WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| invalid(path, format!("no department has code '{code}'")))
}

/// Stores an expert's profile: the pool record, employment, conflicts and availability.
/// What an import did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// Creates a department or brings the one with its code up to date.
pub(crate) async fn upsert_department(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    sector: &str,
    head: &str,
    now_ms: i64,
) -> Result<Change> {
    let old: Option<(String, String, String)> =
        sqlx::query_as("SELECT name, sector, head FROM departments WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?;
    match old {
        None => {
            insert_department(conn, code, name, sector, head, now_ms).await?;
            Ok(Change::Created)
        }
        Some((n, s, h)) if n == name && s == sector && h == head => Ok(Change::Unchanged),
        Some(_) => {
            sqlx::query("UPDATE departments SET name = $1, sector = $2, head = $3 WHERE code = $4")
                .bind(name)
                .bind(sector)
                .bind(head)
                .bind(code)
                .execute(&mut *conn)
                .await?;
            Ok(Change::Updated)
        }
    }
}

/// Creates a user or brings the one with its username up to date: name, address, language,
/// department and, for an expert, the profile's sectors, specialities, title, organisation,
/// review limit and employment (declared conflicts and availability are kept). A role is never
/// changed this way.
pub(crate) async fn upsert_user(conn: &mut AnyConnection, u: &NewUser, now_ms: i64) -> Result<Change> {
    let old = sqlx::query(super::sql(format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1")))
        .bind(&u.username)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(old) = old.as_ref().map(user_from_row).transpose()? else {
        insert_user(conn, u, now_ms).await?;
        return Ok(Change::Created);
    };
    if old.role != u.role {
        return Err(invalid(
            "role",
            format!("the user '{}' exists as {}; an import does not change a role", u.username, old.role.as_str()),
        ));
    }
    let department = match &u.department_code {
        Some(code) => Some(department_id(conn, "department_code", code).await?),
        None => None,
    };
    let expert_before: Option<String> = match &u.expert {
        Some(_) => Some(expert_fingerprint(conn, old.id).await?),
        None => None,
    };
    let same_user = old.display_name == u.display_name
        && old.email == u.email
        && old.language == u.language
        && old.department_id == department
        && old.department_head == u.department_head;
    if !same_user {
        sqlx::query(
            "UPDATE users SET display_name = $1, email = $2, language = $3, department_id = $4, department_head = $5 WHERE id = $6",
        )
        .bind(&u.display_name)
        .bind(&u.email)
        .bind(&u.language)
        .bind(department)
        .bind(i64::from(u.department_head))
        .bind(old.id)
        .execute(&mut *conn)
        .await?;
    }
    let mut expert_changed = false;
    if let (Some(p), Some(before)) = (&u.expert, expert_before) {
        sqlx::query(
            "UPDATE experts SET sectors = $1, title = $2, organisation = $3, specialities = $4, max_concurrent = $5 WHERE user_id = $6",
        )
        .bind(serde_json::to_string(&p.sectors)?)
        .bind(&p.title)
        .bind(&p.organisation)
        .bind(serde_json::to_string(&p.specialities)?)
        .bind(i64::from(p.max_concurrent_reviews))
        .bind(old.id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM expert_employment WHERE expert_user_id = $1").bind(old.id).execute(&mut *conn).await?;
        insert_employment(conn, old.id, &p.employment).await?;
        expert_changed = expert_fingerprint(conn, old.id).await? != before;
    }
    Ok(if same_user && !expert_changed { Change::Unchanged } else { Change::Updated })
}

/// What an import may change of an expert's profile, as text to compare.
async fn expert_fingerprint(conn: &mut AnyConnection, id: i64) -> Result<String> {
    let profile: Option<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT sectors, title, organisation, specialities, max_concurrent FROM experts WHERE user_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let employment: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT department_id, from_year, to_year FROM expert_employment WHERE expert_user_id = $1 ORDER BY department_id, from_year, to_year",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(format!("{profile:?}{employment:?}"))
}

async fn insert_employment(conn: &mut AnyConnection, id: i64, employment: &[Employment]) -> Result<()> {
    for (i, e) in employment.iter().enumerate() {
        let dept = department_id(conn, &format!("expert.employment[{i}].department_code"), &e.department_code).await?;
        sqlx::query(
            "INSERT INTO expert_employment (expert_user_id, department_id, from_year, to_year) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(dept)
        .bind(e.from_year)
        .bind(e.to_year)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_expert(conn: &mut AnyConnection, id: i64, p: &ExpertProfile) -> Result<()> {
    sqlx::query(
        "INSERT INTO experts (user_id, sectors, title, organisation, specialities, max_concurrent) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(serde_json::to_string(&p.sectors)?)
    .bind(&p.title)
    .bind(&p.organisation)
    .bind(serde_json::to_string(&p.specialities)?)
    .bind(i64::from(p.max_concurrent_reviews))
    .execute(&mut *conn)
    .await?;
    insert_employment(conn, id, &p.employment).await?;
    for (i, c) in p.conflicts.iter().enumerate() {
        let dept = match &c.department_code {
            Some(code) => Some(department_id(conn, &format!("expert.conflicts[{i}].department_code"), code).await?),
            None => None,
        };
        let kind = serde_json::to_value(c.kind)?.as_str().unwrap_or_default().to_string();
        sqlx::query(
            "INSERT INTO expert_conflicts (expert_user_id, kind, department_id, project_code, note) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(kind)
        .bind(dept)
        .bind(&c.project_code)
        .bind(&c.note)
        .execute(&mut *conn)
        .await?;
    }
    let tz = chrono_tz::Asia::Shanghai;
    for w in &p.availability {
        use chrono::TimeZone;
        let start = w.from.and_hms_opt(0, 0, 0).and_then(|t| tz.from_local_datetime(&t).earliest());
        let end = w.to.and_hms_opt(23, 59, 59).and_then(|t| tz.from_local_datetime(&t).latest());
        let (Some(start), Some(end)) = (start, end) else { continue };
        sqlx::query("INSERT INTO expert_availability (expert_user_id, from_ms, to_ms) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(start.timestamp_millis())
            .bind(end.timestamp_millis())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn insert_token(conn: &mut AnyConnection, user_id: i64, label: &str, now_ms: i64) -> Result<String> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *conn).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("no user {user_id}")));
    }
    let token = new_token();
    sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(hash_token(&token))
        .bind(label)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(token)
}

/// Appends an administrative event.
pub(crate) async fn audit(
    conn: &mut AnyConnection,
    kind: &str,
    data: &serde_json::Value,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    super::chain::append_admin_event(conn, kind, &data.to_string(), actor, now_ms).await
}

impl Store {
    pub async fn has_tokens(&self, user_id: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Whether the user has a password for the pages.
    pub async fn has_password(&self, user_id: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}
