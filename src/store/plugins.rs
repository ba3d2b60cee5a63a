//! Stored plugin components. A name and version, once stored, keep their bytes.

use serde::Serialize;
use sqlx::Row;

use super::{Result, Store, StoreError};

/// A stored plugin, without its bytes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoredPlugin {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub info: serde_json::Value,
    pub origin: String,
    pub uploaded_ms: i64,
}

impl Store {
    /// Stores a validated component. The same bytes again change nothing (returns false); other
    /// bytes under a stored name and version are refused.
    pub async fn store_plugin(&self, p: &StoredPlugin, bytes: &[u8], actor: Option<i64>) -> Result<bool> {
        let mut tx = self.write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT sha256 FROM plugins WHERE name = $1 AND version = $2")
                .bind(&p.name)
                .bind(&p.version)
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            Some(sha) if sha == p.sha256 => return Ok(false),
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "plugin {} version {} is already stored with other content; publish it as a new version",
                    p.name, p.version
                )));
            }
            None => {}
        }
        sqlx::query("INSERT INTO plugins (name, version, sha256, info, component, origin, uploaded_ms, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&p.name)
            .bind(&p.version)
            .bind(&p.sha256)
            .bind(p.info.to_string())
            .bind(bytes.to_vec())
            .bind(&p.origin)
            .bind(p.uploaded_ms)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        super::people::audit(
            &mut tx,
            "plugin_stored",
            &serde_json::json!({"name": p.name, "version": p.version, "sha256": p.sha256, "origin": p.origin}),
            actor,
            p.uploaded_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every stored component with its bytes, oldest first.
    pub async fn plugin_components(&self) -> Result<Vec<(String, String, Vec<u8>)>> {
        let rows = sqlx::query("SELECT name, version, component FROM plugins ORDER BY uploaded_ms, name, version")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("version")?, r.try_get("component")?))).collect()
    }

    pub async fn stored_plugins(&self) -> Result<Vec<StoredPlugin>> {
        let rows =
            sqlx::query("SELECT name, version, sha256, info, origin, uploaded_ms FROM plugins ORDER BY name, version")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredPlugin {
                    name: r.try_get("name")?,
                    version: r.try_get("version")?,
                    sha256: r.try_get("sha256")?,
                    info: serde_json::from_str(&r.try_get::<String, _>("info")?)?,
                    origin: r.try_get("origin")?,
                    uploaded_ms: r.try_get("uploaded_ms")?,
                })
            })
            .collect()
    }
}
