//! Applying the engine: for each case with pending inputs, read its state, run `engine::step`
//! on each input in order, carry out the effects (tasks, panels, events) and save the new state,
//! all in one transaction per batch of cases. An input is marked applied in the same
//! transaction, so a job delivered twice finds nothing left to do.

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::cases::append_event;
use super::panels::{Pool, load_pool};
use super::projects::{Project, load_project};
use super::workflows::Registry;
use super::{Result, Store, StoreError};
use crate::domain::calendar::{Calendar, WorkDuration};
use crate::domain::panel::{self, Need, Seat};
use crate::engine::{self, CaseState, Effect, Input, Status};
use crate::workflow::{Role, Workflow};

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AdvanceReport {
    pub cases: u64,
    pub inputs_applied: u64,
    pub tasks_opened: u64,
}

/// The seed of a panel draw: derived from the case, stage and round so a redraw of the same
/// panel is reproducible, and stored with the draw.
pub fn draw_seed(case_id: i64, stage: &str, round: u32) -> u64 {
    let h = Sha256::digest(format!("jixiao-panel:{case_id}:{stage}:{round}").as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// The mail a task of `stage` due at `due_ms` will send while it stays open: the stage's
/// reminders before the deadline (none before the task exists), and with `escalate` the
/// overdue notice at the deadline and the bureau's escalation after it.
pub(crate) fn notices(
    cal: &Calendar,
    wf: &Workflow,
    stage: &str,
    now_ms: i64,
    due_ms: i64,
) -> Vec<super::outbox::Notice> {
    use super::outbox::{Audience, Notice};
    let Some(st) = wf.stages.iter().find(|s| s.id == stage) else { return Vec::new() };
    let Some(due) = Utc.timestamp_millis_opt(due_ms).single() else { return Vec::new() };
    let mut out = Vec::new();
    for r in &st.remind {
        let at = match *r {
            WorkDuration::Workdays(n) => cal.reminder_time(due, wf.timezone, n).timestamp_millis(),
            WorkDuration::Days(n) => due_ms - i64::from(n) * 86_400_000,
            WorkDuration::Hours(n) => due_ms - i64::from(n) * 3_600_000,
        };
        if at > now_ms && at < due_ms {
            out.push(Notice { kind: "reminder", at_ms: at, to: Audience::Task });
        }
    }
    if let Some(after) = st.escalate {
        // Overdue: the people who must act are told at the deadline, the department's head
        // `after` it, and the bureau `after` that.
        out.push(Notice { kind: "overdue", at_ms: due_ms, to: Audience::Task });
        let head = cal.deadline(due, wf.timezone, after);
        out.push(Notice { kind: "escalation", at_ms: head.timestamp_millis(), to: Audience::Head });
        let bureau = cal.deadline(head, wf.timezone, after).timestamp_millis();
        out.push(Notice { kind: "escalation", at_ms: bureau, to: Audience::Bureau });
    }
    out
}

pub(crate) fn due_ms(cal: &Calendar, wf: &Workflow, now_ms: i64, within: &WorkDuration) -> i64 {
    let now: DateTime<Utc> = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_else(Utc::now);
    cal.deadline(now, wf.timezone, *within).timestamp_millis()
}

struct CaseRow {
    id: i64,
    project_id: i64,
    department_id: i64,
    workflow_id: String,
    workflow_version: u32,
    state: CaseState,
    version: i64,
}

/// How long a batch of cases holds the write lock before it commits and lets other writers in.
const WRITE_SLICE: std::time::Duration = std::time::Duration::from_millis(20);

impl Store {
    /// Applies every pending input of the given cases. Cases without pending inputs are left
    /// alone, so duplicated or redelivered jobs change nothing.
    pub async fn advance_cases(
        &self,
        reg: &Registry,
        cal: &Calendar,
        case_ids: &[i64],
        now_ms: i64,
    ) -> Result<AdvanceReport> {
        let mut report = AdvanceReport::default();
        let mut tx = self.write().await?;
        let mut began = std::time::Instant::now();
        let mut pool: Option<Pool> = None;
        let mut ids = case_ids.to_vec();
        // One lock order for every worker, so two batches sharing cases cannot deadlock.
        ids.sort_unstable();
        ids.dedup();
        for case_id in ids {
            // Each case is applied whole, and a batch is one transaction while it is short; a
            // long one commits what it has and takes a new turn, so a person completing a task
            // waits for one slice, not for a hundred cases (the expert pool is read again).
            if began.elapsed() >= WRITE_SLICE {
                tx.commit().await?;
                tx = self.write().await?;
                began = std::time::Instant::now();
                pool = None;
            }
            if !super::cases::lock_case(&mut tx, case_id).await? {
                continue;
            }
            let inputs = sqlx::query(
                "SELECT id, input, created_ms FROM case_inputs WHERE case_id = $1 AND applied_ms IS NULL ORDER BY id",
            )
            .bind(case_id)
            .fetch_all(&mut *tx)
            .await?;
            if inputs.is_empty() {
                continue;
            }
            // A job's clock reading may be older than an input it finds (it waited for the write
            // lock while the clock moved and the input was recorded); nothing is applied, and no
            // deadline counted, from before the input happened.
            let mut now_ms = now_ms;
            for r in &inputs {
                now_ms = now_ms.max(r.try_get::<i64, _>("created_ms")?);
            }
            let row = sqlx::query("SELECT id, project_id, department_id, workflow_id, workflow_version, state, version FROM cases WHERE id = $1")
                .bind(case_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no case {case_id}")))?;
            let case = CaseRow {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                department_id: row.try_get("department_id")?,
                workflow_id: row.try_get("workflow_id")?,
                workflow_version: row.try_get::<i64, _>("workflow_version")? as u32,
                state: serde_json::from_str(&row.try_get::<String, _>("state")?)?,
                version: row.try_get("version")?,
            };
            let wf = self.workflow(reg, &case.workflow_id, case.workflow_version).await?;
            let project = load_project(&mut tx, case.project_id).await?;
            let mut state = case.state.clone();
            let mut queue: Vec<Input> = Vec::new();
            for r in &inputs {
                let text: String = r.try_get("input")?;
                match serde_json::from_str::<Input>(&text) {
                    Ok(i) => queue.push(i),
                    Err(e) => {
                        append_event(
                            &mut tx,
                            case.id,
                            "input_ignored",
                            &serde_json::json!({"reason": format!("unreadable input: {e}")}),
                            None,
                            now_ms,
                        )
                        .await?;
                    }
                }
            }
            // Inputs the store itself produces while applying effects (panel drawn) are applied
            // at once, after the input that caused them.
            let mut i = 0;
            while i < queue.len() {
                let input = queue[i].clone();
                i += 1;
                let (next, effects) = match engine::step(&wf, &state, &engine::project_vars(&project), &input) {
                    Ok(x) => x,
                    Err(e) => {
                        let mut blocked = state.clone();
                        blocked.status = Status::Blocked;
                        (
                            blocked,
                            vec![Effect::Blocked { reason: format!("the engine could not apply {input:?}: {e}") }],
                        )
                    }
                };
                state = next;
                for fx in effects {
                    if let Some(more) = self
                        .apply_effect(&mut tx, &mut pool, cal, &wf, &case, &project, fx, now_ms, &mut report)
                        .await?
                    {
                        queue.push(more);
                    }
                }
            }
            let stage = state.stage.and_then(|i| wf.stages.get(i)).map(|s| s.id.clone());
            let phase = serde_json::to_value(state.phase)?.as_str().unwrap_or_default().to_string();
            let updated = sqlx::query("UPDATE cases SET state = $1, stage = $2, phase = $3, status = $4, version = version + 1, updated_ms = $5 WHERE id = $6 AND version = $7")
                .bind(serde_json::to_string(&state)?)
                .bind(stage)
                .bind(phase)
                .bind(state.status.as_str())
                .bind(now_ms)
                .bind(case.id)
                .bind(case.version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated != 1 {
                return Err(StoreError::Conflict(format!("case {} changed while it was being advanced", case.id)));
            }
            let ids: Vec<i64> = inputs.iter().map(|r| r.try_get("id")).collect::<std::result::Result<_, _>>()?;
            for id in &ids {
                sqlx::query("UPDATE case_inputs SET applied_ms = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            report.cases += 1;
            report.inputs_applied += ids.len() as u64;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn apply_effect(
        &self,
        tx: &mut AnyConnection,
        pool: &mut Option<Pool>,
        cal: &Calendar,
        wf: &Workflow,
        case: &CaseRow,
        project: &Project,
        fx: Effect,
        now_ms: i64,
        report: &mut AdvanceReport,
    ) -> Result<Option<Input>> {
        let data = serde_json::to_value(&fx)?;
        let kind = data.get("type").and_then(|t| t.as_str()).unwrap_or("effect").to_string();
        match &fx {
            Effect::OpenSubmission { stage, round, by, form, within } => {
                let due = due_ms(cal, wf, now_ms, within);
                let dept = (*by == Role::Department).then_some(case.department_id);
                let task_id = insert_task(
                    tx,
                    case.id,
                    stage,
                    *round,
                    "submission",
                    form.as_str(),
                    by.as_str(),
                    dept,
                    None,
                    None,
                    due,
                    now_ms,
                    &notices(cal, wf, stage, now_ms, due),
                )
                .await?;
                report.tasks_opened += 1;
                let mut d = data.clone();
                d["task_id"] = task_id.into();
                d["due_ms"] = due.into();
                let kind = if *round > 0 { "revision_requested" } else { "submission_opened" };
                append_event(tx, case.id, kind, &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::Decided { stage, score, grade, outcome, .. } => {
                append_event(tx, case.id, &kind, &data, None, now_ms).await?;
                let extra =
                    serde_json::json!({"outcome": outcome, "score": score.map(|s| s.to_string()), "grade": grade});
                super::outbox::case_mail(tx, case.id, case.department_id, stage, "decision", extra, now_ms).await?;
                Ok(None)
            }
            Effect::OpenApproval { stage, by, within } => {
                let due = due_ms(cal, wf, now_ms, within);
                let form = wf.stage_index(stage).map(|i| wf.stages[i].kind.as_str()).unwrap_or("approval");
                let task_id = insert_task(
                    tx,
                    case.id,
                    stage,
                    0,
                    "approval",
                    form,
                    by.as_str(),
                    Some(case.department_id),
                    None,
                    None,
                    due,
                    now_ms,
                    &notices(cal, wf, stage, now_ms, due),
                )
                .await?;
                report.tasks_opened += 1;
                let mut d = data.clone();
                d["task_id"] = task_id.into();
                d["due_ms"] = due.into();
                append_event(tx, case.id, "approval_opened", &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::OpenSpotReview { stage, spot_check_id, within } => {
                let due = due_ms(cal, wf, now_ms, within);
                let seed = (*spot_check_id as u64).rotate_left(32) ^ case.id as u64;
                let reviewer = super::evaluation::pick_reviewer(tx, seed).await?;
                let task_id = insert_task(
                    tx,
                    case.id,
                    stage,
                    case.state.round,
                    "review",
                    "self_evaluation",
                    "finance",
                    None,
                    reviewer,
                    Some("spot_check"),
                    due,
                    now_ms,
                    &notices(cal, wf, stage, now_ms, due),
                )
                .await?;
                report.tasks_opened += 1;
                let mut d = data.clone();
                d["task_id"] = task_id.into();
                d["assignee_id"] = reviewer.into();
                d["due_ms"] = due.into();
                append_event(tx, case.id, "spot_review_opened", &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::SpotChecked { flagged, .. } => {
                super::evaluation::record_spot_flag(tx, case.id, flagged.as_deref()).await?;
                append_event(tx, case.id, &kind, &data, None, now_ms).await?;
                Ok(None)
            }
            Effect::ProposeActions { stage, actions, score, grade, source } => {
                let ids = super::evaluation::propose_actions(
                    tx,
                    case.id,
                    project,
                    stage,
                    actions,
                    *score,
                    grade.as_deref(),
                    source.as_deref(),
                    now_ms,
                )
                .await?;
                let mut d = data.clone();
                d["action_ids"] = ids.into();
                append_event(tx, case.id, &kind, &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::ActionsDecided { stage, task_id } => {
                let carried =
                    super::evaluation::carry_out_approval(tx, cal, wf, case.id, project, stage, *task_id, now_ms)
                        .await?;
                let mut d = data.clone();
                d["actions"] = serde_json::to_value(&carried.actions)?;
                append_event(tx, case.id, &kind, &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::ReplaceMember { stage, round, declined_task, user_id, reason, form, within } => {
                if pool.is_none() {
                    *pool = Some(load_pool(tx, now_ms).await?);
                }
                let declined: Option<(String, String)> =
                    sqlx::query_as("SELECT role, COALESCE(panel_role, role) FROM tasks WHERE id = $1")
                        .bind(declined_task)
                        .fetch_optional(&mut *tx)
                        .await?;
                let (role, panel_role) = declined.unwrap_or_else(|| ("expert".into(), "expert".into()));
                let seat = match role.as_str() {
                    "department" => Seat::Department,
                    "finance" => Seat::Finance,
                    _ => Seat::Expert,
                };
                // Nobody who is or was on this panel round is drawn again.
                let exclude: Vec<i64> = sqlx::query_scalar(
                    "SELECT assignee_id FROM tasks WHERE case_id = $1 AND stage = $2 AND round = $3 AND kind = 'review' AND assignee_id IS NOT NULL",
                )
                .bind(case.id)
                .bind(stage)
                .bind(i64::from(*round))
                .fetch_all(&mut *tx)
                .await?;
                let mut need = panel_need(wf, stage, case.department_id, project, exclude);
                (need.department, need.finance, need.expert) = match seat {
                    Seat::Department => (1, 0, 0),
                    Seat::Finance => (0, 1, 0),
                    Seat::Expert => (0, 0, 1),
                };
                let seed = replacement_seed(case.id, stage, *round, *declined_task);
                let candidates = pool.as_ref().map(|p| &p.candidates[..]).unwrap_or(&[]);
                match panel::draw(seed, candidates, &need) {
                    Ok(draw) => {
                        let Some(m) = draw.members.first().cloned() else {
                            return Ok(None);
                        };
                        if let Some(c) =
                            pool.as_mut().and_then(|p| p.candidates.iter_mut().find(|c| c.user_id == m.user_id))
                        {
                            c.load += 1;
                        }
                        let due = due_ms(cal, wf, now_ms, within);
                        // The replacement takes the seat as it was, leadership included.
                        let task_id = insert_task(
                            tx,
                            case.id,
                            stage,
                            *round,
                            "review",
                            form.as_str(),
                            &role,
                            None,
                            Some(m.user_id),
                            Some(&panel_role),
                            due,
                            now_ms,
                            &notices(cal, wf, stage, now_ms, due),
                        )
                        .await?;
                        report.tasks_opened += 1;
                        append_event(
                            tx,
                            case.id,
                            "member_replaced",
                            &serde_json::json!({"stage": stage, "round": round, "declined_task": declined_task, "declined_user": user_id, "reason": reason, "replacement": m.user_id, "seat": panel_role, "task_id": task_id, "seed": seed.to_string(), "exclusions": draw.exclusions, "due_ms": due}),
                            None,
                            now_ms,
                        )
                        .await?;
                        Ok(None)
                    }
                    Err(why) => {
                        let reason = format!("no replacement for the member who declined: {why}");
                        append_event(tx, case.id, "panel_infeasible", &serde_json::json!({"stage": stage, "round": round, "seed": seed.to_string(), "reason": reason}), None, now_ms).await?;
                        Ok(Some(Input::PanelInfeasible { stage: stage.clone(), round: *round, reason }))
                    }
                }
            }
            Effect::DrawPanel { stage, round, department, finance, expert, form, within } => {
                // Panels are drawn in batches by their own job, so that experts' loads balance
                // across every panel requested meanwhile.
                let request_id = super::panels::insert_request(
                    tx,
                    case.id,
                    stage,
                    *round,
                    (*department, *finance, *expert),
                    form.as_str(),
                    &within.to_string(),
                    now_ms,
                )
                .await?;
                let mut d = data.clone();
                d["request_id"] = request_id.into();
                append_event(tx, case.id, "panel_requested", &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::RunChecks { stage, round, plugins } => {
                let check_id = super::checks::insert_check(tx, case.id, stage, *round, plugins, now_ms).await?;
                let mut d = data.clone();
                d["check_id"] = check_id.into();
                append_event(tx, case.id, "checks_requested", &d, None, now_ms).await?;
                Ok(None)
            }
            Effect::Finished { .. } => {
                // Rectification orders outlive the workflow: they answer result actions.
                sqlx::query(
                    "UPDATE tasks SET status = 'cancelled', completed_ms = $1 WHERE case_id = $2 AND status = 'open' AND form <> 'rectification'",
                )
                .bind(now_ms)
                .bind(case.id)
                .execute(&mut *tx)
                .await?;
                append_event(tx, case.id, "case_finished", &data, None, now_ms).await?;
                Ok(None)
            }
            _ => {
                append_event(tx, case.id, &kind, &data, None, now_ms).await?;
                Ok(None)
            }
        }
    }
}

/// What a panel of the stage needs from the pool for this case (the counts are set by the caller).
pub(crate) fn panel_need(wf: &Workflow, stage: &str, department_id: i64, project: &Project, exclude: Vec<i64>) -> Need {
    Need {
        department: 0,
        finance: 0,
        expert: 0,
        sector: project.sector.clone(),
        project_department_id: department_id,
        project_code: project.code.clone(),
        fiscal_year: project.fiscal_year,
        policy: wf
            .stage_index(stage)
            .and_then(|i| wf.stages[i].panel.as_ref())
            .map(|p| p.recusal.clone())
            .unwrap_or_default(),
        exclude,
    }
}

/// The seed of the draw replacing the member of `declined_task`; stored with the draw.
pub fn replacement_seed(case_id: i64, stage: &str, round: u32, declined_task: i64) -> u64 {
    let h = Sha256::digest(format!("jixiao-panel-replace:{case_id}:{stage}:{round}:{declined_task}").as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

pub(crate) fn seat_name(s: Seat) -> &'static str {
    match s {
        Seat::Department => "department",
        Seat::Finance => "finance",
        Seat::Expert => "expert",
    }
}

pub(crate) async fn insert_task(
    conn: &mut AnyConnection,
    case_id: i64,
    stage: &str,
    round: u32,
    kind: &str,
    form: &str,
    role: &str,
    department_id: Option<i64>,
    assignee_id: Option<i64>,
    panel_role: Option<&str>,
    due_ms: i64,
    now_ms: i64,
    notices: &[super::outbox::Notice],
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (case_id, stage, round, kind, form, role, department_id, assignee_id, panel_role, status, due_ms, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11) RETURNING id",
    )
    .bind(case_id)
    .bind(stage)
    .bind(i64::from(round))
    .bind(kind)
    .bind(form)
    .bind(role)
    .bind(department_id)
    .bind(assignee_id)
    .bind(panel_role)
    .bind(due_ms)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    // Whoever must act is told, in the same transaction.
    let task = super::outbox::TaskMail {
        task_id: id,
        case_id,
        stage,
        round,
        kind,
        form,
        role,
        department_id,
        assignee_id,
        due_ms,
    };
    super::outbox::task_opened(conn, &task, now_ms, notices).await?;
    Ok(id)
}
