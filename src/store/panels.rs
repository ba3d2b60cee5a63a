//! Panel requests and drawing them: a stage that needs a panel records a request in the
//! transaction that applies the case's input; a queued job then draws every pending request
//! together (`panel::draw_batch`), so that the experts' loads balance across all the panels
//! requested meanwhile, and reports each panel (or why it cannot be staffed) to its case as an
//! input. A request is drawn once: its status guards it.

use std::collections::HashMap;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::advance::{draw_seed, due_ms, insert_task, panel_need, seat_name};
use super::cases::{add_input, append_event, lock_case};
use super::projects::load_project;
use super::workflows::Registry;
use super::{Result, Store};
use crate::domain::calendar::{Calendar, WorkDuration};
use crate::domain::panel::{self, Candidate, Conflict, ConflictKind, Seat};
use crate::engine::Input;

/// The panel candidates, loaded once per batch.
pub(crate) struct Pool {
    pub candidates: Vec<Candidate>,
}

pub(crate) async fn load_pool(conn: &mut AnyConnection, now_ms: i64) -> Result<Pool> {
    let mut candidates = Vec::new();
    // Open reviews per person, for caps and for drawing the least loaded first.
    let mut load: HashMap<i64, u32> = HashMap::new();
    for r in sqlx::query(
        "SELECT assignee_id, COUNT(*) AS n FROM tasks WHERE kind = 'review' AND status = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        load.insert(r.try_get("assignee_id")?, r.try_get::<i64, _>("n")? as u32);
    }
    let rows =
        sqlx::query("SELECT id, role, department_id FROM users WHERE active = 1 AND role IN ('finance', 'department')")
            .fetch_all(&mut *conn)
            .await?;
    for r in rows {
        let role: String = r.try_get("role")?;
        let id: i64 = r.try_get("id")?;
        candidates.push(Candidate {
            department_id: r.try_get("department_id")?,
            load: load.get(&id).copied().unwrap_or(0),
            ..Candidate::new(id, if role == "finance" { Seat::Finance } else { Seat::Department })
        });
    }
    let mut employment: HashMap<i64, Vec<(i64, i32, i32)>> = HashMap::new();
    for r in sqlx::query("SELECT expert_user_id, department_id, from_year, to_year FROM expert_employment")
        .fetch_all(&mut *conn)
        .await?
    {
        employment.entry(r.try_get("expert_user_id")?).or_default().push((
            r.try_get("department_id")?,
            r.try_get("from_year")?,
            r.try_get("to_year")?,
        ));
    }
    let mut conflicts: HashMap<i64, Vec<Conflict>> = HashMap::new();
    for r in sqlx::query("SELECT expert_user_id, kind, department_id, project_code, note FROM expert_conflicts")
        .fetch_all(&mut *conn)
        .await?
    {
        let kind: String = r.try_get("kind")?;
        let Ok(kind) = serde_json::from_value::<ConflictKind>(serde_json::Value::String(kind)) else { continue };
        conflicts.entry(r.try_get("expert_user_id")?).or_default().push(Conflict {
            kind,
            department_id: r.try_get("department_id")?,
            project_code: r.try_get("project_code")?,
            note: r.try_get("note")?,
        });
    }
    // Experts with windows, and those with a window open now.
    let mut windowed: HashMap<i64, bool> = HashMap::new();
    for r in sqlx::query("SELECT expert_user_id, from_ms, to_ms FROM expert_availability").fetch_all(&mut *conn).await?
    {
        let open = r.try_get::<i64, _>("from_ms")? <= now_ms && now_ms <= r.try_get::<i64, _>("to_ms")?;
        *windowed.entry(r.try_get("expert_user_id")?).or_insert(false) |= open;
    }
    for r in sqlx::query(
        "SELECT u.id, e.sectors, e.max_concurrent FROM users u JOIN experts e ON e.user_id = u.id WHERE u.active = 1",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let id: i64 = r.try_get("id")?;
        let sectors: Vec<String> = serde_json::from_str(&r.try_get::<String, _>("sectors")?)?;
        candidates.push(Candidate {
            sectors,
            employment: employment.remove(&id).unwrap_or_default(),
            conflicts: conflicts.remove(&id).unwrap_or_default(),
            available: windowed.get(&id).copied().unwrap_or(true),
            load: load.get(&id).copied().unwrap_or(0),
            cap: Some(r.try_get::<i64, _>("max_concurrent")?.max(0) as u32),
            ..Candidate::new(id, Seat::Expert)
        });
    }
    Ok(Pool { candidates })
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_request(
    conn: &mut AnyConnection,
    case_id: i64,
    stage: &str,
    round: u32,
    (department, finance, expert): (u32, u32, u32),
    form: &str,
    within: &str,
    now_ms: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO panel_requests (case_id, stage, round, department, finance, expert, form, within, status, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING id",
    )
    .bind(case_id)
    .bind(stage)
    .bind(i64::from(round))
    .bind(i64::from(department))
    .bind(i64::from(finance))
    .bind(i64::from(expert))
    .bind(form)
    .bind(within)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?)
}

struct PendingRequest {
    id: i64,
    case_id: i64,
    stage: String,
    round: u32,
    counts: (u32, u32, u32),
    form: String,
    within: String,
    project_id: i64,
    department_id: i64,
    workflow_id: String,
    workflow_version: u32,
}

/// The seed of a batch: derived from its requests, stored with every panel it drew.
pub fn batch_seed(request_ids: &[i64]) -> u64 {
    let mut ids = request_ids.to_vec();
    ids.sort_unstable();
    let text: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let h = Sha256::digest(format!("jixiao-panel-batch:{}", text.join(",")).as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// Panel requests drawn in one transaction. Drawing holds the writers' turn for about 4.5 ms a
/// request (claims, the expert pool, tasks, events, mail); a batch of a hundred held it for
/// half a second, and everyone completing a task waited for it.
pub const PANEL_SLICE: usize = 4;

impl Store {
    /// The largest max − min, over sectors, of the open reviews the active experts of only that
    /// sector hold (an expert of two sectors carries work of both, so is left out).
    pub async fn expert_load_spread(&self) -> Result<u32> {
        let mut load: HashMap<i64, i64> = HashMap::new();
        for r in sqlx::query(
            "SELECT assignee_id, COUNT(*) AS n FROM tasks WHERE kind = 'review' AND status = 'open' AND role = 'expert' GROUP BY assignee_id",
        )
        .fetch_all(&self.pool)
        .await?
        {
            load.insert(r.try_get("assignee_id")?, r.try_get("n")?);
        }
        let mut range: HashMap<String, (i64, i64)> = HashMap::new();
        for r in
            sqlx::query("SELECT u.id, e.sectors FROM users u JOIN experts e ON e.user_id = u.id WHERE u.active = 1")
                .fetch_all(&self.pool)
                .await?
        {
            let n = load.get(&r.try_get::<i64, _>("id")?).copied().unwrap_or(0);
            let sectors: Vec<String> = serde_json::from_str(&r.try_get::<String, _>("sectors")?)?;
            if sectors.len() != 1 {
                continue;
            }
            for s in sectors {
                let e = range.entry(s).or_insert((n, n));
                e.0 = e.0.max(n);
                e.1 = e.1.min(n);
            }
        }
        Ok(range.values().map(|(hi, lo)| (hi - lo) as u32).max().unwrap_or(0))
    }

    /// Draws the pending requests among `ids`, [`PANEL_SLICE`] at a time, each slice together
    /// in one transaction: tasks for every member, the draw (seeds, members, exclusions with
    /// their rules) in each case's history, and a `PanelDrawn` or `PanelInfeasible` input for
    /// each case. A slice reads the experts' loads as the slices before it left them. Returns
    /// how many were drawn.
    pub async fn draw_panels(&self, reg: &Registry, cal: &Calendar, ids: &[i64], now_ms: i64) -> Result<usize> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut drawn = 0;
        for slice in ids.chunks(PANEL_SLICE) {
            drawn += self.draw_panel_slice(reg, cal, slice, now_ms).await?;
        }
        Ok(drawn)
    }

    /// One slice of [`Store::draw_panels`]: `ids` sorted, without duplicates.
    async fn draw_panel_slice(&self, reg: &Registry, cal: &Calendar, ids: &[i64], now_ms: i64) -> Result<usize> {
        let mut tx = self.write().await?;
        let mut reqs = Vec::with_capacity(ids.len());
        for id in ids {
            // Claim the request first: a second delivery of this job (or a re-dispatched copy
            // running at the same time) waits here for this transaction and then finds it taken.
            let claimed = sqlx::query(
                "UPDATE panel_requests SET status = 'done', done_ms = $1 WHERE id = $2 AND status = 'pending'",
            )
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                continue;
            }
            let row = sqlx::query(
                "SELECT r.id, r.case_id, r.stage, r.round, r.department, r.finance, r.expert, r.form, r.within, c.project_id, c.department_id, c.workflow_id, c.workflow_version FROM panel_requests r JOIN cases c ON c.id = r.case_id WHERE r.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(r) = row else { continue };
            let count = |c: &str| -> Result<u32> { Ok(r.try_get::<i64, _>(c)?.max(0) as u32) };
            reqs.push(PendingRequest {
                id: r.try_get("id")?,
                case_id: r.try_get("case_id")?,
                stage: r.try_get("stage")?,
                round: count("round")?,
                counts: (count("department")?, count("finance")?, count("expert")?),
                form: r.try_get("form")?,
                within: r.try_get("within")?,
                project_id: r.try_get("project_id")?,
                department_id: r.try_get("department_id")?,
                workflow_id: r.try_get("workflow_id")?,
                workflow_version: r.try_get::<i64, _>("workflow_version")? as u32,
            });
        }
        if reqs.is_empty() {
            return Ok(0);
        }
        // One lock order for every writer.
        reqs.sort_by_key(|r| (r.case_id, r.id));
        for r in &reqs {
            lock_case(&mut tx, r.case_id).await?;
        }
        let pool = load_pool(&mut tx, now_ms).await?;
        let mut requests = Vec::with_capacity(reqs.len());
        let mut workflows = HashMap::new();
        for r in &reqs {
            let wf = self.workflow(reg, &r.workflow_id, r.workflow_version).await?;
            let project = load_project(&mut tx, r.project_id).await?;
            // A redraw (the bureau retried a blocked case) replaces the round's open reviews;
            // whoever declined in this round is not drawn again.
            sqlx::query("UPDATE tasks SET status = 'cancelled', completed_ms = $1 WHERE case_id = $2 AND stage = $3 AND round = $4 AND kind = 'review' AND status = 'open'")
                .bind(now_ms)
                .bind(r.case_id)
                .bind(&r.stage)
                .bind(i64::from(r.round))
                .execute(&mut *tx)
                .await?;
            let declined: Vec<i64> = sqlx::query_scalar(
                "SELECT assignee_id FROM tasks WHERE case_id = $1 AND stage = $2 AND round = $3 AND kind = 'review' AND status = 'declined' AND assignee_id IS NOT NULL",
            )
            .bind(r.case_id)
            .bind(&r.stage)
            .bind(i64::from(r.round))
            .fetch_all(&mut *tx)
            .await?;
            let mut need = panel_need(&wf, &r.stage, r.department_id, &project, declined);
            (need.department, need.finance, need.expert) = r.counts;
            requests.push(panel::Request { key: r.id, need, seed: draw_seed(r.case_id, &r.stage, r.round) });
            workflows.insert(r.id, wf);
        }
        let ids: Vec<i64> = reqs.iter().map(|r| r.id).collect();
        let seed = batch_seed(&ids);
        let drawn: HashMap<i64, std::result::Result<panel::Draw, String>> =
            panel::draw_batch(&pool.candidates, &requests, seed).into_iter().collect();
        let mut done = 0;
        for r in &reqs {
            let (Some(result), Some(wf)) = (drawn.get(&r.id), workflows.get(&r.id)) else { continue };
            match result {
                Ok(draw) => {
                    let within = WorkDuration::from_str(&r.within).map_err(|e| {
                        super::StoreError::Other(anyhow::anyhow!("panel request {}: bad duration: {e}", r.id))
                    })?;
                    let due = due_ms(cal, wf, now_ms, &within);
                    let mut task_ids = Vec::with_capacity(draw.members.len());
                    for m in &draw.members {
                        let seat = if m.leader { "leader" } else { seat_name(m.seat) };
                        task_ids.push(
                            insert_task(
                                &mut tx,
                                r.case_id,
                                &r.stage,
                                r.round,
                                "review",
                                &r.form,
                                seat_name(m.seat),
                                None,
                                Some(m.user_id),
                                Some(seat),
                                due,
                                now_ms,
                                &super::advance::notices(cal, wf, &r.stage, now_ms, due),
                            )
                            .await?,
                        );
                    }
                    append_event(
                        &mut tx,
                        r.case_id,
                        "panel_drawn",
                        &serde_json::json!({"stage": r.stage, "round": r.round, "seed": draw.seed.to_string(), "batch_seed": seed.to_string(), "batch_size": reqs.len(), "members": draw.members, "exclusions": draw.exclusions, "task_ids": task_ids, "due_ms": due}),
                        None,
                        now_ms,
                    )
                    .await?;
                    let input =
                        Input::PanelDrawn { stage: r.stage.clone(), round: r.round, size: draw.members.len() as u32 };
                    add_input(&mut tx, r.case_id, &input, now_ms).await?;
                }
                Err(reason) => {
                    append_event(
                        &mut tx,
                        r.case_id,
                        "panel_infeasible",
                        &serde_json::json!({"stage": r.stage, "round": r.round, "batch_seed": seed.to_string(), "reason": reason}),
                        None,
                        now_ms,
                    )
                    .await?;
                    let input =
                        Input::PanelInfeasible { stage: r.stage.clone(), round: r.round, reason: reason.clone() };
                    add_input(&mut tx, r.case_id, &input, now_ms).await?;
                }
            }
            done += 1;
        }
        tx.commit().await?;
        Ok(done)
    }
}
