//! Indicator libraries and their versions, and what fill-and-use reads: the project's previous
//! year, last year's actual values and the sector's declared values.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::people::Department;
use super::projects::Project;
use super::{Result, Store, StoreError};
use crate::domain::FieldError;
use crate::domain::Indicator;
use crate::domain::library::{self, History, LibraryIndicator, LibraryVersion, Offered, Subject, ValueBasis};

/// A library with its version in use and the proposals waiting for the bureau.
#[derive(Debug, Clone, Serialize)]
pub struct LibrarySummary {
    pub code: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_code: Option<String>,
    pub name: String,
    /// The highest published version, the one fill-and-use offers.
    pub current_version: Option<i64>,
    pub entries: i64,
    pub proposed: i64,
}

/// One version of a library.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LibraryVersionRow {
    pub library: String,
    pub version: i64,
    pub status: String,
    pub origin: String,
    pub sha256: String,
    pub note: String,
    pub proposed_by: Option<i64>,
    pub proposed_ms: i64,
    pub decided_by: Option<i64>,
    pub decided_ms: Option<i64>,
    pub decision_note: String,
    pub entries: Vec<LibraryIndicator>,
}

/// What fill-and-use proposes for a project's targets.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub project: String,
    /// Last year's project this one continues, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousProject>,
    /// The indicators to start from: the declared ones; else, for a recurring project, last
    /// year's; else none.
    pub prefill: Vec<Indicator>,
    /// Where `prefill` comes from: `declared`, `previous_year` or `empty`.
    pub prefill_from: &'static str,
    /// Each prefilled indicator's basis, by position.
    pub basis: Vec<ValueBasis>,
    /// The library entries that apply, the department's first.
    pub offer: Vec<Offered>,
    /// The project type the offer was filtered by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_type: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviousProject {
    pub code: String,
    pub name: String,
    pub fiscal_year: i32,
}

fn sha(entries: &str) -> String {
    hex::encode(Sha256::digest(entries.as_bytes()))
}

fn version_from_row(r: &sqlx::any::AnyRow) -> Result<LibraryVersionRow> {
    let entries: String = r.try_get("entries")?;
    Ok(LibraryVersionRow {
        library: r.try_get("code")?,
        version: r.try_get("version")?,
        status: r.try_get("status")?,
        origin: r.try_get("origin")?,
        sha256: r.try_get("sha256")?,
        note: r.try_get("note")?,
        proposed_by: r.try_get("proposed_by")?,
        proposed_ms: r.try_get("proposed_ms")?,
        decided_by: r.try_get("decided_by")?,
        decided_ms: r.try_get("decided_ms")?,
        decision_note: r.try_get("decision_note")?,
        entries: serde_json::from_str(&entries)?,
    })
}

/// The most declarations of one indicator a sector distribution is computed from (the latest).
pub const SECTOR_SAMPLE: i64 = 300;

const VERSION_COLUMNS: &str = "l.code, v.version, v.status, v.origin, v.sha256, v.note, v.proposed_by, v.proposed_ms, v.decided_by, v.decided_ms, v.decision_note, v.entries";

/// The code of a department's library.
pub fn department_library_code(department_code: &str) -> String {
    format!("department:{department_code}")
}

/// The code of a sector's common library.
pub fn sector_library_code(sector: &str) -> String {
    format!("sector:{sector}")
}

async fn current(conn: &mut AnyConnection, code: &str) -> Result<Option<LibraryVersionRow>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {VERSION_COLUMNS} FROM library_versions v JOIN indicator_libraries l ON l.id = v.library_id \
         WHERE l.code = $1 AND v.status = 'published' ORDER BY v.version DESC LIMIT 1"
    )))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(version_from_row).transpose()
}

async fn next_version(conn: &mut AnyConnection, library_id: i64) -> Result<i64> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM library_versions WHERE library_id = $1")
        .bind(library_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(max.unwrap_or(0) + 1)
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    conn: &mut AnyConnection,
    library_id: i64,
    status: &str,
    entries: &str,
    origin: &str,
    note: &str,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<i64> {
    let version = next_version(conn, library_id).await?;
    let decided = (status == "published").then_some(now_ms);
    sqlx::query(
        "INSERT INTO library_versions (library_id, version, status, entries, sha256, origin, note, proposed_by, proposed_ms, decided_by, decided_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(library_id)
    .bind(version)
    .bind(status)
    .bind(entries)
    .bind(sha(entries))
    .bind(origin)
    .bind(note)
    .bind(actor)
    .bind(now_ms)
    .bind(decided.and(actor))
    .bind(decided)
    .execute(&mut *conn)
    .await?;
    Ok(version)
}

/// Whose a library is.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Sector(&'a str),
    Department(i64),
}

/// The id of library `code`, created for `owner` if it does not exist yet.
async fn library_id(conn: &mut AnyConnection, code: &str, owner: Owner<'_>, name: &str, now_ms: i64) -> Result<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM indicator_libraries WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(id) = id {
        return Ok(id);
    }
    let (scope, sector, department) = match owner {
        Owner::Sector(s) => ("sector", Some(s), None),
        Owner::Department(d) => ("department", None, Some(d)),
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO indicator_libraries (code, scope, sector, department_id, name, created_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(code)
    .bind(scope)
    .bind(sector)
    .bind(department)
    .bind(name)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?)
}

fn view(v: &LibraryVersionRow) -> LibraryVersion<'_> {
    LibraryVersion { code: &v.library, version: v.version, entries: &v.entries }
}

fn invalid(details: Vec<FieldError>) -> StoreError {
    StoreError::Invalid { message: "the library version is invalid".into(), details }
}

impl Store {
    /// Writes each sector library of the indicator plugins as a new published version when it
    /// differs from the one in use, so the database's sector libraries are always the plugins'
    /// own data, with every earlier version kept. Returns the number of versions written.
    pub async fn sync_sector_libraries(&self, now_ms: i64) -> Result<usize> {
        let mut written = 0;
        for lib in indicator_rules::sectors::ALL {
            match self.sync_sector_library(lib, now_ms).await {
                Ok(true) => written += 1,
                Ok(false) => {}
                // Another process starting at the same moment wrote the same version.
                Err(StoreError::Db(e)) if super::is_unique_violation(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    async fn sync_sector_library(&self, lib: &indicator_rules::sector::Library, now_ms: i64) -> Result<bool> {
        let code = sector_library_code(lib.sector);
        let entries = serde_json::to_string(&library::from_sector(lib))?;
        let mut tx = self.write().await?;
        let owner = Owner::Sector(lib.sector);
        let id = library_id(&mut tx, &code, owner, &format!("{}行业共性指标库", lib.name_zh), now_ms).await?;
        if current(&mut tx, &code).await?.is_some_and(|v| v.sha256 == sha(&entries)) {
            return Ok(false);
        }
        let version = insert_version(&mut tx, id, "published", &entries, "plugins", "", None, now_ms).await?;
        super::people::audit(
            &mut tx,
            "library_published",
            &serde_json::json!({"library": code, "version": version, "origin": "plugins"}),
            None,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The libraries: every sector library and the departments' (only `department_id`'s when
    /// given).
    pub async fn libraries(&self, department_id: Option<i64>) -> Result<Vec<LibrarySummary>> {
        let rows = sqlx::query(
            "SELECT l.code, l.scope, l.sector, d.code AS department_code, l.name, \
             (SELECT MAX(v.version) FROM library_versions v WHERE v.library_id = l.id AND v.status = 'published') AS current_version, \
             (SELECT COUNT(*) FROM library_versions v WHERE v.library_id = l.id AND v.status = 'proposed') AS proposed \
             FROM indicator_libraries l LEFT JOIN departments d ON d.id = l.department_id \
             WHERE l.scope = 'sector' OR $1 IS NULL OR l.department_id = $1 ORDER BY l.scope DESC, l.code",
        )
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let code: String = r.try_get("code")?;
            let entries = match self.library_version(&code, None).await {
                Ok(v) => v.entries.len() as i64,
                Err(StoreError::NotFound(_)) => 0,
                Err(e) => return Err(e),
            };
            out.push(LibrarySummary {
                scope: r.try_get("scope")?,
                sector: r.try_get("sector")?,
                department_code: r.try_get("department_code")?,
                name: r.try_get("name")?,
                current_version: r.try_get("current_version")?,
                entries,
                proposed: r.try_get("proposed")?,
                code,
            });
        }
        Ok(out)
    }

    /// The department a library belongs to (`None` for a sector library); `NotFound` for no
    /// such library.
    pub async fn library_department(&self, code: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT department_id FROM indicator_libraries WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no indicator library '{code}'")))?;
        Ok(row.try_get("department_id")?)
    }

    /// A version of a library; `None` for the one in use (the highest published).
    pub async fn library_version(&self, code: &str, version: Option<i64>) -> Result<LibraryVersionRow> {
        let mut conn = self.pool.acquire().await?;
        let row = match version {
            None => current(&mut conn, code).await?,
            Some(v) => sqlx::query(super::sql(format!(
                "SELECT {VERSION_COLUMNS} FROM library_versions v JOIN indicator_libraries l ON l.id = v.library_id WHERE l.code = $1 AND v.version = $2"
            )))
            .bind(code)
            .bind(v)
            .fetch_optional(&mut *conn)
            .await?
            .as_ref()
            .map(version_from_row)
            .transpose()?,
        };
        row.ok_or_else(|| match version {
            None => StoreError::NotFound(format!("indicator library '{code}' has no published version")),
            Some(v) => StoreError::NotFound(format!("indicator library '{code}' has no version {v}")),
        })
    }

    /// Every version of a library, newest first.
    pub async fn library_versions(&self, code: &str) -> Result<Vec<LibraryVersionRow>> {
        let rows = sqlx::query(super::sql(format!(
            "SELECT {VERSION_COLUMNS} FROM library_versions v JOIN indicator_libraries l ON l.id = v.library_id WHERE l.code = $1 ORDER BY v.version DESC"
        )))
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            self.library_department(code).await?;
        }
        rows.iter().map(version_from_row).collect()
    }

    /// A new version of a department's library: published at once when the bureau writes it
    /// (`publish`), or proposed for the bureau's approval when the department does. The library
    /// is created with its first version.
    pub async fn write_department_library(
        &self,
        dept: &Department,
        entries: &[LibraryIndicator],
        note: &str,
        publish: bool,
        actor: Option<i64>,
        now_ms: i64,
    ) -> Result<LibraryVersionRow> {
        let mut errs = library::validate(entries);
        if note.chars().count() > 2000 {
            errs.push(FieldError::bilingual("note", "at most 2000 characters", "说明最多 2000 字"));
        }
        if !errs.is_empty() {
            return Err(invalid(errs));
        }
        let code = department_library_code(&dept.code);
        match self.library_version(&code, None).await {
            Ok(current) if current.entries == entries => {
                return Err(StoreError::Conflict(format!(
                    "the entries are those of version {} of '{code}', in use: nothing to write",
                    current.version
                )));
            }
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let json = serde_json::to_string(entries)?;
        let mut tx = self.write().await?;
        let owner = Owner::Department(dept.id);
        let id = library_id(&mut tx, &code, owner, &format!("{}指标库", dept.name), now_ms).await?;
        let status = if publish { "published" } else { "proposed" };
        let version = insert_version(&mut tx, id, status, &json, "api", note, actor, now_ms).await?;
        let kind = if publish { "library_published" } else { "library_proposed" };
        super::people::audit(&mut tx, kind, &serde_json::json!({"library": code, "version": version}), actor, now_ms)
            .await?;
        tx.commit().await?;
        self.library_version(&code, Some(version)).await
    }

    /// The bureau's decision on a proposed version: published (it becomes the version in use)
    /// or rejected.
    pub async fn decide_library(
        &self,
        code: &str,
        version: i64,
        approve: bool,
        note: &str,
        actor: Option<i64>,
        now_ms: i64,
    ) -> Result<LibraryVersionRow> {
        if note.chars().count() > 2000 {
            return Err(invalid(vec![FieldError::bilingual("note", "at most 2000 characters", "说明最多 2000 字")]));
        }
        let mut tx = self.write().await?;
        let status = if approve { "published" } else { "rejected" };
        let changed = sqlx::query(
            "UPDATE library_versions SET status = $1, decided_by = $2, decided_ms = $3, decision_note = $4 \
             WHERE library_id = (SELECT id FROM indicator_libraries WHERE code = $5) AND version = $6 AND status = 'proposed'",
        )
        .bind(status)
        .bind(actor)
        .bind(now_ms)
        .bind(note)
        .bind(code)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            drop(tx);
            let v = self.library_version(code, Some(version)).await?;
            return Err(StoreError::Conflict(format!(
                "version {version} of '{code}' is {}, not waiting for a decision",
                v.status
            )));
        }
        let kind = if approve { "library_published" } else { "library_rejected" };
        super::people::audit(&mut tx, kind, &serde_json::json!({"library": code, "version": version}), actor, now_ms)
            .await?;
        tx.commit().await?;
        self.library_version(code, Some(version)).await
    }

    /// Last year's project that `p` continues: the same department and kind, the year before,
    /// and the same name once years are taken out of both names.
    pub async fn previous_project(&self, p: &Project) -> Result<Option<Project>> {
        let rows = sqlx::query(
            "SELECT id, name FROM projects WHERE department_id = $1 AND fiscal_year = $2 AND kind = (SELECT kind FROM projects WHERE id = $3) ORDER BY id",
        )
        .bind(p.department_id)
        .bind(p.fiscal_year - 1)
        .bind(p.id)
        .fetch_all(&self.pool)
        .await?;
        let wanted = library::name_without_year(&p.name);
        for r in &rows {
            let name: String = r.try_get("name")?;
            if library::name_without_year(&name) == wanted {
                return Ok(Some(self.project(r.try_get("id")?).await?));
            }
        }
        Ok(None)
    }

    /// The actual values of `project_id`'s latest self-evaluation, by indicator name: a number
    /// as written, or a qualitative level.
    pub async fn self_evaluated_actuals(&self, project_id: i64) -> Result<HashMap<String, String>> {
        let row = sqlx::query(
            "SELECT form, indicators FROM self_evaluations WHERE project_id = $1 ORDER BY submitted_ms DESC LIMIT 1",
        )
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?;
        let mut out = HashMap::new();
        let Some(r) = row else { return Ok(out) };
        let form: Value = serde_json::from_str(&r.try_get::<String, _>("form")?)?;
        let indicators: Vec<Indicator> = serde_json::from_str(&r.try_get::<String, _>("indicators")?)?;
        for item in form["items"].as_array().into_iter().flatten() {
            let Some(ind) = item["index"].as_u64().and_then(|i| indicators.get(i as usize)) else { continue };
            let actual = match &item["value"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(o) => o.get("level").and_then(|l| l.as_str()).map(str::to_string),
                _ => None,
            };
            if let Some(a) = actual {
                out.insert(library::squeeze(&ind.name), a);
            }
        }
        Ok(out)
    }

    /// The numeric targets the sector's other projects of this year and last year declare for
    /// each (name, unit): the latest [`SECTOR_SAMPLE`] declarations, read from the (sector,
    /// name, project) index, so the cost of a proposal does not grow with the number of
    /// projects in a province.
    pub async fn sector_values(
        &self,
        p: &Project,
        wanted: &[(String, String)],
    ) -> Result<HashMap<(String, String), Vec<Decimal>>> {
        let mut out: HashMap<(String, String), Vec<Decimal>> = HashMap::new();
        let mut wanted: Vec<&(String, String)> = wanted.iter().collect();
        wanted.sort();
        wanted.dedup();
        let mut conn = self.pool.acquire().await?;
        for (name, unit) in wanted.into_iter().take(400) {
            let values: Vec<String> = sqlx::query_scalar(
                "SELECT i.value FROM indicators i JOIN projects p ON p.id = i.project_id \
                 WHERE i.sector = $1 AND i.name = $2 AND i.unit = $3 AND i.fiscal_year BETWEEN $4 AND $5 AND i.project_id <> $6 \
                 AND i.value_kind = 'number' AND p.kind = 'project' ORDER BY i.project_id DESC LIMIT $7",
            )
            .bind(&p.sector)
            .bind(name.as_str())
            .bind(unit.as_str())
            .bind(p.fiscal_year - 1)
            .bind(p.fiscal_year)
            .bind(p.id)
            .bind(SECTOR_SAMPLE)
            .fetch_all(&mut *conn)
            .await?;
            let entry = out.entry((library::squeeze(name), unit.clone())).or_default();
            entry.extend(values.iter().filter_map(|v| v.parse::<Decimal>().ok()));
        }
        Ok(out)
    }

    /// The library versions in use for a project: its department's library and its sector's.
    pub async fn libraries_for(&self, p: &Project) -> Result<(Option<LibraryVersionRow>, Option<LibraryVersionRow>)> {
        let mut conn = self.pool.acquire().await?;
        let dept = current(&mut conn, &department_library_code(&p.department_code)).await?;
        let sector = current(&mut conn, &sector_library_code(&p.sector)).await?;
        Ok((dept, sector))
    }

    /// What each of `indicators` can be compared with: last year's declaration and actual,
    /// the sector's values, and the library entry of the same name.
    pub async fn value_basis(&self, p: &Project, indicators: &[Indicator]) -> Result<Vec<ValueBasis>> {
        let previous = self.previous_project(p).await?;
        let offer = self.offer_for(p).await?.0;
        self.basis_with(p, indicators, previous.as_ref(), &offer).await
    }

    /// [`Store::value_basis`] with last year's project and the offer already read.
    async fn basis_with(
        &self,
        p: &Project,
        indicators: &[Indicator],
        previous: Option<&Project>,
        offer: &[Offered],
    ) -> Result<Vec<ValueBasis>> {
        let actuals = match previous {
            Some(prev) => self.self_evaluated_actuals(prev.id).await?,
            None => HashMap::new(),
        };
        // Each (name, unit) as declared, and without the name's spaces where that differs.
        let mut wanted: Vec<(String, String)> = Vec::new();
        for i in indicators.iter().filter(|i| i.operator.is_quantitative()) {
            wanted.push((i.name.clone(), i.unit.clone()));
            let squeezed = library::squeeze(&i.name);
            if squeezed != i.name {
                wanted.push((squeezed, i.unit.clone()));
            }
        }
        let sector = self.sector_values(p, &wanted).await?;
        Ok(indicators
            .iter()
            .map(|ind| {
                let key = library::squeeze(&ind.name);
                let history = previous.and_then(|prev| {
                    prev.indicators.iter().find(|i| library::squeeze(&i.name) == key).map(|i| History {
                        fiscal_year: prev.fiscal_year,
                        project_code: prev.code.clone(),
                        operator: i.operator,
                        target: i.value.clone(),
                        unit: i.unit.clone(),
                        actual: actuals.get(&key).cloned(),
                    })
                });
                let values = sector.get(&(key.clone(), ind.unit.clone()));
                ValueBasis {
                    history,
                    sector: values.and_then(|v| library::distribution(v)),
                    library: offer.iter().find(|o| library::squeeze(&o.entry.name) == key).cloned(),
                }
            })
            .collect())
    }

    /// The library entries that apply to a project, and the project type they were filtered by.
    async fn offer_for(&self, p: &Project) -> Result<(Vec<Offered>, Option<String>)> {
        let (dept, sector) = self.libraries_for(p).await?;
        let declared: Vec<&str> = p.indicators.iter().map(|i| i.name.as_str()).collect();
        let project_type = indicator_rules::sectors::ALL
            .iter()
            .find(|l| l.applies_to(&p.sector))
            .and_then(|l| library::project_type(l, &p.name, &declared));
        let subject = Subject { sector: &p.sector, department_code: &p.department_code, name: &p.name, project_type };
        Ok((
            library::offer(&subject, dept.as_ref().map(view), sector.as_ref().map(view)),
            project_type.map(str::to_string),
        ))
    }

    /// Fill-and-use for a project: the applicable library entries, the indicators to start from
    /// (a recurring project's are last year's) and each one's basis.
    pub async fn targets_proposal(&self, p: &Project) -> Result<Proposal> {
        let previous = self.previous_project(p).await?;
        let (prefill, prefill_from) = if !p.indicators.is_empty() {
            (p.indicators.clone(), "declared")
        } else if let Some(prev) = previous.as_ref().filter(|prev| !prev.indicators.is_empty()) {
            (prev.indicators.clone(), "previous_year")
        } else {
            (Vec::new(), "empty")
        };
        let mut typed = p.clone();
        if typed.indicators.is_empty() {
            typed.indicators = prefill.clone();
        }
        let (offer, project_type) = self.offer_for(&typed).await?;
        let basis = self.basis_with(p, &prefill, previous.as_ref(), &offer).await?;
        Ok(Proposal {
            project: p.code.clone(),
            previous: previous.map(|prev| PreviousProject {
                code: prev.code,
                name: prev.name,
                fiscal_year: prev.fiscal_year,
            }),
            prefill,
            prefill_from,
            basis,
            offer,
            project_type,
        })
    }
}
