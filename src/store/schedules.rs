//! Once-only cron fires. Each (workflow version, stage, fire time) is a row whose primary key
//! makes the fire happen once however many processes look at the clock; a fire inserts a
//! `fired` input for every case waiting on that stage, in the same transaction.

use chrono::{TimeZone, Utc};
use serde::Serialize;
use sqlx::Row;

use super::workflows::Registry;
use super::{Result, Store};
use crate::engine::Input;
use crate::workflow::MissedPolicy;

/// A fire time that passed more than this long ago counts as missed (the server was down).
pub const MISSED_AFTER_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FireRecord {
    pub workflow_id: String,
    pub workflow_version: u32,
    pub stage: String,
    pub fire_ms: i64,
    pub outcome: String,
    pub cases: i64,
}

impl Store {
    /// Fires every schedule that is due at `now_ms`. Returns the fires this call recorded (fires
    /// another process recorded first are not repeated).
    pub async fn fire_due_schedules(&self, reg: &Registry, now_ms: i64) -> Result<Vec<FireRecord>> {
        let versions = sqlx::query("SELECT DISTINCT workflow_id, workflow_version FROM cases WHERE status = 'active'")
            .fetch_all(&self.pool)
            .await?;
        let mut records = Vec::new();
        for v in versions {
            let id: String = v.try_get("workflow_id")?;
            let version = v.try_get::<i64, _>("workflow_version")? as u32;
            let wf = self.workflow(reg, &id, version).await?;
            for stage in &wf.stages {
                if stage.schedules.is_empty() {
                    continue;
                }
                let cursor: Option<i64> = sqlx::query_scalar("SELECT last_fire_ms FROM schedule_cursors WHERE workflow_id = $1 AND workflow_version = $2 AND stage = $3")
                    .bind(&id)
                    .bind(i64::from(version))
                    .bind(&stage.id)
                    .fetch_optional(&self.pool)
                    .await?;
                // A schedule starts counting from the first cycle on this version.
                let start = match cursor {
                    Some(c) => c,
                    None => sqlx::query_scalar("SELECT COALESCE(MIN(started_ms), $3) FROM cycles WHERE workflow_id = $1 AND workflow_version = $2")
                        .bind(&id)
                        .bind(i64::from(version))
                        .bind(now_ms)
                        .fetch_one(&self.pool)
                        .await?,
                };
                let from = Utc.timestamp_millis_opt(start).single().unwrap_or_else(Utc::now);
                let until = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_else(Utc::now);
                // Each schedule's own missed-fire policy decides its times; a time two schedules
                // share is one fire (it fires if either says so).
                let mut due: std::collections::BTreeMap<i64, bool> = std::collections::BTreeMap::new();
                for schedule in &stage.schedules {
                    let times = schedule.fires_between(wf.timezone, from, until);
                    let last = times.len().saturating_sub(1);
                    for (i, t) in times.iter().enumerate() {
                        let fire_ms = t.timestamp_millis();
                        let late = now_ms - fire_ms > MISSED_AFTER_MS;
                        let fire = match schedule.missed {
                            MissedPolicy::RunOnce => i == last,
                            MissedPolicy::Skip => !late,
                        };
                        *due.entry(fire_ms).or_default() |= fire;
                    }
                }
                let monitoring = stage.kind == crate::workflow::StageKind::Monitoring;
                for (fire_ms, fire) in due {
                    if let Some(r) =
                        self.record_fire(&id, version, &stage.id, fire_ms, fire, monitoring, now_ms).await?
                    {
                        records.push(r);
                    }
                }
            }
        }
        Ok(records)
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_fire(
        &self,
        id: &str,
        version: u32,
        stage: &str,
        fire_ms: i64,
        fire: bool,
        monitoring: bool,
        now_ms: i64,
    ) -> Result<Option<FireRecord>> {
        let mut tx = self.write().await?;
        let outcome = if fire { "fired" } else { "skipped" };
        let inserted = sqlx::query(
            "INSERT INTO schedule_fires (workflow_id, workflow_version, stage, fire_ms, outcome, cases, recorded_ms) VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(i64::from(version))
        .bind(stage)
        .bind(fire_ms)
        .bind(outcome)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let mut cases = 0;
        if inserted == 1 && fire && monitoring {
            // The run and the report each waiting case owes it, with the fire itself.
            super::monitoring::open_run(&mut tx, id, version, stage, fire_ms, now_ms).await?;
        }
        if inserted == 1 && fire {
            let input = serde_json::to_string(&Input::Fired { stage: stage.to_string(), fire_time_ms: fire_ms })?;
            cases = sqlx::query(
                "INSERT INTO case_inputs (case_id, input, created_ms) SELECT id, $1, $2 FROM cases \
                 WHERE workflow_id = $3 AND workflow_version = $4 AND stage = $5 AND phase = 'awaiting_fire' AND status = 'active' ORDER BY id",
            )
            .bind(&input)
            .bind(now_ms)
            .bind(id)
            .bind(i64::from(version))
            .bind(stage)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
            sqlx::query("UPDATE schedule_fires SET cases = $1 WHERE workflow_id = $2 AND workflow_version = $3 AND stage = $4 AND fire_ms = $5")
                .bind(cases)
                .bind(id)
                .bind(i64::from(version))
                .bind(stage)
                .bind(fire_ms)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO schedule_cursors (workflow_id, workflow_version, stage, last_fire_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workflow_id, workflow_version, stage) DO UPDATE SET last_fire_ms = CASE WHEN excluded.last_fire_ms > schedule_cursors.last_fire_ms THEN excluded.last_fire_ms ELSE schedule_cursors.last_fire_ms END",
        )
        .bind(id)
        .bind(i64::from(version))
        .bind(stage)
        .bind(fire_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((inserted == 1).then(|| FireRecord {
            workflow_id: id.to_string(),
            workflow_version: version,
            stage: stage.to_string(),
            fire_ms,
            outcome: outcome.to_string(),
            cases,
        }))
    }

    pub async fn schedule_fires(&self) -> Result<Vec<FireRecord>> {
        let rows = sqlx::query("SELECT workflow_id, workflow_version, stage, fire_ms, outcome, cases FROM schedule_fires ORDER BY fire_ms, workflow_id, stage").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(FireRecord {
                    workflow_id: r.try_get("workflow_id")?,
                    workflow_version: r.try_get::<i64, _>("workflow_version")? as u32,
                    stage: r.try_get("stage")?,
                    fire_ms: r.try_get("fire_ms")?,
                    outcome: r.try_get("outcome")?,
                    cases: r.try_get("cases")?,
                })
            })
            .collect()
    }
}
