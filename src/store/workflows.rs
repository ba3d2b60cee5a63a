//! Published workflow versions. A version is immutable: publishing the same id and version
//! again with the same text changes nothing, with other text it is refused. Parsed versions are
//! cached in a `Registry` shared by the API and the workers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::workflow::{self, Workflow};

/// The parsed versions this process knows, by (id, version).
#[derive(Debug, Default)]
pub struct Registry {
    // A std lock: it is held only to clone an `Arc`, never across an await.
    map: RwLock<HashMap<(String, u32), Arc<Workflow>>>,
}

/// How a publication went.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Published {
    pub workflow_id: String,
    pub version: u32,
    pub title: String,
    pub source_sha256: String,
    /// False when the same text was already published under this version.
    pub created: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub workflow_id: String,
    pub version: u32,
    pub title: String,
    pub source_sha256: String,
    pub origin: String,
    pub published_ms: i64,
}

impl Registry {
    pub fn get(&self, id: &str, version: u32) -> Option<Arc<Workflow>> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).get(&(id.to_string(), version)).cloned()
    }

    fn insert(&self, wf: Workflow) -> Arc<Workflow> {
        let wf = Arc::new(wf);
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert((wf.id.clone(), wf.version), Arc::clone(&wf));
        wf
    }
}

/// Publication failed because the definition has errors, or the version is taken.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the workflow definition has {} error(s)", .0.len())]
    Invalid(Vec<workflow::Diagnostic>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Checks and publishes a definition. `origin` says where it came from (a file, the API).
    pub async fn publish_workflow(
        &self,
        reg: &Registry,
        file: &str,
        source: &str,
        origin: &str,
        actor: Option<i64>,
        now_ms: i64,
        plugins: &(dyn Fn(&str, Option<&str>) -> bool + Sync),
    ) -> Result<Published, PublishError> {
        let wf = workflow::parse(file, source).map_err(PublishError::Invalid)?;
        let unknown = workflow::check_plugins(file, &wf, plugins);
        if !unknown.is_empty() {
            return Err(PublishError::Invalid(unknown));
        }
        let sha = hex::encode(Sha256::digest(source.as_bytes()));
        let mut tx = self.write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT source_sha256 FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
                .bind(&wf.id)
                .bind(i64::from(wf.version))
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        let published = Published {
            workflow_id: wf.id.clone(),
            version: wf.version,
            title: wf.title.clone(),
            source_sha256: sha.clone(),
            created: existing.is_none(),
        };
        match existing {
            Some(old) if old == sha => {}
            Some(_) => {
                let latest: i64 =
                    sqlx::query_scalar("SELECT MAX(version) FROM workflow_versions WHERE workflow_id = $1")
                        .bind(&wf.id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                return Err(StoreError::Conflict(format!(
                    "version {} of workflow '{}' is already published with different content and cannot change; publish it as version {}",
                    wf.version,
                    wf.id,
                    latest + 1
                ))
                .into());
            }
            None => {
                sqlx::query(
                    "INSERT INTO workflow_versions (workflow_id, version, title, source, source_sha256, origin, published_ms, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&wf.id)
                .bind(i64::from(wf.version))
                .bind(&wf.title)
                .bind(source)
                .bind(&sha)
                .bind(origin)
                .bind(now_ms)
                .bind(actor)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
                super::people::audit(
                    &mut tx,
                    "workflow_published",
                    &serde_json::json!({"workflow_id": wf.id, "version": wf.version, "sha256": sha, "origin": origin}),
                    actor,
                    now_ms,
                )
                .await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        reg.insert(wf);
        Ok(published)
    }

    /// Returns a version from the registry, loading and parsing it from the database if this
    /// process has not seen it yet (another process may have published it).
    pub async fn workflow(&self, reg: &Registry, id: &str, version: u32) -> Result<Arc<Workflow>> {
        if let Some(wf) = reg.get(id, version) {
            return Ok(wf);
        }
        let row = sqlx::query("SELECT source FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
            .bind(id)
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("workflow '{id}' has no version {version}")))?;
        let source: String = row.try_get("source")?;
        let wf = workflow::parse(&format!("{id}@{version}"), &source).map_err(|d| {
            StoreError::Other(anyhow::anyhow!(
                "stored workflow {id}@{version} no longer parses: {}",
                d.first().map(|d| d.to_string()).unwrap_or_default()
            ))
        })?;
        Ok(reg.insert(wf))
    }

    pub async fn latest_workflow_version(&self, id: &str) -> Result<Option<u32>> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM workflow_versions WHERE workflow_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(v.map(|v| v as u32))
    }

    pub async fn workflow_versions(&self) -> Result<Vec<VersionInfo>> {
        let rows = sqlx::query("SELECT workflow_id, version, title, source_sha256, origin, published_ms FROM workflow_versions ORDER BY workflow_id, version")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(VersionInfo {
                    workflow_id: r.try_get("workflow_id")?,
                    version: r.try_get::<i64, _>("version")? as u32,
                    title: r.try_get("title")?,
                    source_sha256: r.try_get("source_sha256")?,
                    origin: r.try_get("origin")?,
                    published_ms: r.try_get("published_ms")?,
                })
            })
            .collect()
    }

    pub async fn workflow_source(&self, id: &str, version: u32) -> Result<String> {
        sqlx::query_scalar("SELECT source FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
            .bind(id)
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("workflow '{id}' has no version {version}")))
    }
}
