//! What evaluation leads to: self-evaluation scores with their spot checks (抽查复核), and
//! result actions (结果应用) from proposal through approval to completion, with their effect on
//! the budget ledger and a report of next year's budget implications per department.
//!
//! A self-evaluation is recorded with the case's submission; the bureau draws a seeded spot
//! check over the submissions waiting for it, the sampled ones are re-scored by a finance
//! reviewer and the re-score supersedes the self score (both kept). Actions are proposed by the
//! result-application stage's rules, approved or amended by the bureau in its approval task,
//! and carried out when the case applies the approval: a rectification becomes a department
//! task with a deadline, recovered funds enter the ledger, an unrectified order escalates.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::cases::{add_input, append_event};
use super::projects::Project;
use super::workflows::Registry;
use super::{Result, Store, StoreError};
use crate::domain::calendar::Calendar;
use crate::domain::spot_check::{self, Member};
use crate::domain::{Fen, FieldError};
use crate::engine::{Input, ProposedAction};
use crate::workflow::{ActionKind, Rectify, Workflow};

/// case, self score and grade, reviewed score and grade, flag
type ReviewDbRow = (i64, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
/// project, department, fiscal year, status, final score, grade of a key evaluation
type KeyResultDbRow = (Option<i64>, i64, i64, String, Option<String>, Option<String>);
/// case, project, department, fiscal year, stage, task, score, grade
type OverdueDbRow = (Option<i64>, Option<i64>, i64, i64, String, Option<i64>, Option<String>, Option<String>);

fn invalid(path: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        message: "the request is invalid".into(),
        details: vec![FieldError { zh: None, path: path.into(), message: message.into() }],
    }
}

/// Records a case's self-evaluation as submitted (a resubmission replaces it and clears an
/// earlier spot check's re-score).
pub(crate) async fn record_self_evaluation(
    conn: &mut AnyConnection,
    case_id: i64,
    project: &Project,
    stage: &str,
    result: &Value,
    score: Option<Decimal>,
    grade: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    let form = json!({
        "executed": result["executed"],
        "items": result["items"],
        "explanation": result["explanation"],
        "evidence": result["evidence"],
    });
    let executed = result["executed"].as_str().and_then(|s| s.parse::<Fen>().ok()).unwrap_or(Fen::ZERO);
    sqlx::query(
        "INSERT INTO self_evaluations (case_id, project_id, department_id, fiscal_year, stage, scheme, budget_fen, executed_fen, form, indicators, self_score, self_grade, card, submitted_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (case_id) DO UPDATE SET stage = excluded.stage, scheme = excluded.scheme, budget_fen = excluded.budget_fen, \
         executed_fen = excluded.executed_fen, form = excluded.form, indicators = excluded.indicators, self_score = excluded.self_score, \
         self_grade = excluded.self_grade, card = excluded.card, submitted_ms = excluded.submitted_ms, spot_check_id = NULL, \
         reviewed_score = NULL, reviewed_grade = NULL, reviewed_card = NULL, reviewed_by = NULL, flagged = NULL, reviewed_ms = NULL",
    )
    .bind(case_id)
    .bind(project.id)
    .bind(project.department_id)
    .bind(i64::from(project.fiscal_year))
    .bind(stage)
    .bind(result["scheme"].as_str().unwrap_or_default())
    .bind(project.budget.fen())
    .bind(executed.fen())
    .bind(form.to_string())
    .bind(serde_json::to_string(&project.indicators)?)
    .bind(score.map(|s| s.to_string()))
    .bind(grade)
    .bind(result["score_card"].to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a reviewer's re-score of a sampled self-evaluation.
pub(crate) async fn record_spot_review(
    conn: &mut AnyConnection,
    case_id: i64,
    result: &Value,
    score: Decimal,
    grade: &str,
    reviewer: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE self_evaluations SET reviewed_score = $1, reviewed_grade = $2, reviewed_card = $3, reviewed_by = $4, reviewed_ms = $5 WHERE case_id = $6",
    )
    .bind(score.to_string())
    .bind(grade)
    .bind(result["score_card"].to_string())
    .bind(reviewer)
    .bind(now_ms)
    .bind(case_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records why a re-score was flagged (or that it was not).
pub(crate) async fn record_spot_flag(conn: &mut AnyConnection, case_id: i64, flagged: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE self_evaluations SET flagged = $1 WHERE case_id = $2")
        .bind(flagged)
        .bind(case_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The finance reviewer for a sampled submission: the active finance user with the fewest open
/// reviews, ties broken by a seeded order; `None` when the bureau has no finance user (then
/// any finance user or admin may take the task).
pub(crate) async fn pick_reviewer(conn: &mut AnyConnection, seed: u64) -> Result<Option<i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT u.id, (SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.status = 'open') \
         FROM users u WHERE u.role = 'finance' AND u.active = 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .min_by_key(|(id, load)| (*load, (*id as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .map(|(id, _)| id))
}

/// A spot-check draw as stored.
#[derive(Debug, Clone, Serialize)]
pub struct SpotCheckDraw {
    pub id: i64,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub stage: String,
    /// The seed as text (a u64 does not fit every JSON reader's numbers).
    pub seed: String,
    pub share: Decimal,
    pub stratified: bool,
    pub margin: Decimal,
    pub population: Vec<(i64, i64)>,
    pub sample: Vec<i64>,
    pub drawn_by: Option<i64>,
    pub created_ms: i64,
}

impl Store {
    /// Draws a spot check over the submissions of `stage` waiting for one, per workflow
    /// version (each version's stage says the share, stratification and margin). Each
    /// submission takes part in one draw: it is claimed by the draw in the same transaction.
    pub async fn draw_spot_check(
        &self,
        reg: &Registry,
        workflow_id: &str,
        stage: &str,
        seed: Option<u64>,
        actor: i64,
        now_ms: i64,
    ) -> Result<Vec<SpotCheckDraw>> {
        let seed = seed.unwrap_or_else(rand::random);
        let mut tx = self.write().await?;
        let versions: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT c.workflow_version FROM cases c JOIN self_evaluations s ON s.case_id = c.id \
             WHERE c.workflow_id = $1 AND c.stage = $2 AND c.phase = 'awaiting_spot_check' AND c.status = 'active' AND s.spot_check_id IS NULL \
             ORDER BY c.workflow_version",
        )
        .bind(workflow_id)
        .bind(stage)
        .fetch_all(&mut *tx)
        .await?;
        if versions.is_empty() {
            let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow_versions WHERE workflow_id = $1")
                .bind(workflow_id)
                .fetch_one(&mut *tx)
                .await?;
            if known == 0 {
                return Err(StoreError::NotFound(format!("no workflow '{workflow_id}'")));
            }
            return Err(StoreError::Conflict(format!(
                "no submission of stage '{stage}' of workflow '{workflow_id}' is waiting for a spot check"
            )));
        }
        let mut draws = Vec::new();
        for version in versions {
            let wf = self.workflow(reg, workflow_id, version as u32).await?;
            let Some(sc) = wf.stages.iter().find(|s| s.id == stage).and_then(|s| s.spot_check) else {
                continue;
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO spot_checks (workflow_id, workflow_version, stage, seed, share, stratified, margin, population, sample, drawn_by, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', '[]', $8, $9) RETURNING id",
            )
            .bind(workflow_id)
            .bind(version)
            .bind(stage)
            .bind(seed.to_string())
            .bind(sc.share.to_string())
            .bind(i64::from(sc.stratify_by_department))
            .bind(sc.margin.to_string())
            .bind(actor)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE self_evaluations SET spot_check_id = $1 WHERE spot_check_id IS NULL AND case_id IN \
                 (SELECT id FROM cases WHERE workflow_id = $2 AND workflow_version = $3 AND stage = $4 AND phase = 'awaiting_spot_check' AND status = 'active')",
            )
            .bind(id)
            .bind(workflow_id)
            .bind(version)
            .bind(stage)
            .execute(&mut *tx)
            .await?;
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT case_id, department_id FROM self_evaluations WHERE spot_check_id = $1 ORDER BY case_id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let population: Vec<Member> = rows
                .iter()
                .map(|(c, d)| Member { case_id: *c, stratum: if sc.stratify_by_department { *d } else { 0 } })
                .collect();
            let sample = spot_check::sample(seed, &population, sc.share).map_err(|e| invalid("share", e))?;
            let pop: Vec<(i64, i64)> = population.iter().map(|m| (m.case_id, m.stratum)).collect();
            sqlx::query("UPDATE spot_checks SET population = $1, sample = $2 WHERE id = $3")
                .bind(serde_json::to_string(&pop)?)
                .bind(serde_json::to_string(&sample)?)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for m in &population {
                let selected = sample.binary_search(&m.case_id).is_ok();
                add_input(
                    &mut tx,
                    m.case_id,
                    &Input::SpotCheckDrawn { stage: stage.into(), spot_check_id: id, selected },
                    now_ms,
                )
                .await?;
            }
            draws.push(SpotCheckDraw {
                id,
                workflow_id: workflow_id.into(),
                workflow_version: version,
                stage: stage.into(),
                seed: seed.to_string(),
                share: sc.share,
                stratified: sc.stratify_by_department,
                margin: sc.margin,
                population: pop,
                sample,
                drawn_by: Some(actor),
                created_ms: now_ms,
            });
        }
        tx.commit().await?;
        Ok(draws)
    }

    /// A stored draw, with whether drawing again from its seed and population gives the same
    /// sample, and the re-scores of its sampled cases.
    pub async fn spot_check(&self, id: i64) -> Result<Value> {
        let r = sqlx::query(
            "SELECT id, workflow_id, workflow_version, stage, seed, share, stratified, margin, population, sample, drawn_by, created_ms FROM spot_checks WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no spot check {id}")))?;
        let dec =
            |s: String| s.parse::<Decimal>().map_err(|e| StoreError::Other(anyhow::anyhow!("stored decimal: {e}")));
        let seed_text: String = r.try_get("seed")?;
        let seed: u64 = seed_text.parse().map_err(|e| StoreError::Other(anyhow::anyhow!("stored seed: {e}")))?;
        let population: Vec<(i64, i64)> = serde_json::from_str(&r.try_get::<String, _>("population")?)?;
        let sample: Vec<i64> = serde_json::from_str(&r.try_get::<String, _>("sample")?)?;
        let share = dec(r.try_get("share")?)?;
        let members: Vec<Member> = population.iter().map(|(c, s)| Member { case_id: *c, stratum: *s }).collect();
        let reproduced = spot_check::sample(seed, &members, share).map(|s| s == sample).unwrap_or(false);
        let draw = SpotCheckDraw {
            id,
            workflow_id: r.try_get("workflow_id")?,
            workflow_version: r.try_get("workflow_version")?,
            stage: r.try_get("stage")?,
            seed: seed_text,
            share,
            stratified: r.try_get::<i64, _>("stratified")? != 0,
            margin: dec(r.try_get("margin")?)?,
            population,
            sample,
            drawn_by: r.try_get("drawn_by")?,
            created_ms: r.try_get("created_ms")?,
        };
        let reviews: Vec<ReviewDbRow> =
            sqlx::query_as(
                "SELECT case_id, self_score, self_grade, reviewed_score, reviewed_grade, flagged FROM self_evaluations WHERE spot_check_id = $1 ORDER BY case_id",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let reviews: Vec<Value> = reviews
            .into_iter()
            .filter(|r| draw.sample.binary_search(&r.0).is_ok())
            .map(|(case_id, ss, sg, rs, rg, f)| {
                json!({"case_id": case_id, "self_score": ss, "self_grade": sg, "reviewed_score": rs, "reviewed_grade": rg, "flagged": f})
            })
            .collect();
        let mut v = serde_json::to_value(&draw)?;
        v["reproduced"] = reproduced.into();
        v["reviews"] = reviews.into();
        Ok(v)
    }

    /// A case's self-evaluation: the form, the self score and, if it was sampled, the
    /// reviewer's re-score and whether it was flagged; `final_score` is what results use.
    pub async fn self_evaluation(&self, case_id: i64) -> Result<Option<Value>> {
        let r = sqlx::query(
            "SELECT case_id, project_id, department_id, fiscal_year, stage, scheme, budget_fen, executed_fen, form, self_score, self_grade, card, \
             spot_check_id, reviewed_score, reviewed_grade, reviewed_card, flagged, submitted_ms, reviewed_ms FROM self_evaluations WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok()).unwrap_or(Value::Null);
        let self_score: Option<String> = r.try_get("self_score")?;
        let reviewed: Option<String> = r.try_get("reviewed_score")?;
        let self_grade: Option<String> = r.try_get("self_grade")?;
        let reviewed_grade: Option<String> = r.try_get("reviewed_grade")?;
        Ok(Some(json!({
            "case_id": case_id,
            "project_id": r.try_get::<i64, _>("project_id")?,
            "fiscal_year": r.try_get::<i64, _>("fiscal_year")?,
            "stage": r.try_get::<String, _>("stage")?,
            "scheme": r.try_get::<String, _>("scheme")?,
            "budget": Fen::from_fen(r.try_get("budget_fen")?),
            "executed": Fen::from_fen(r.try_get("executed_fen")?),
            "form": parse(r.try_get("form")?),
            "self_score": self_score,
            "self_grade": self_grade,
            "card": parse(r.try_get("card")?),
            "spot_check_id": r.try_get::<Option<i64>, _>("spot_check_id")?,
            "reviewed_score": reviewed,
            "reviewed_grade": reviewed_grade,
            "reviewed_card": parse(r.try_get("reviewed_card")?),
            "flagged": r.try_get::<Option<String>, _>("flagged")?,
            "final_score": reviewed.clone().or(self_score),
            "final_grade": reviewed_grade.or(self_grade),
            "final_source": if reviewed.is_some() { "spot_check" } else { "self_evaluation" },
            "submitted_ms": r.try_get::<i64, _>("submitted_ms")?,
            "reviewed_ms": r.try_get::<Option<i64>, _>("reviewed_ms")?,
        })))
    }
}

/// A proposed action as stored: who and what it concerns, and where it came from.
struct NewAction<'a> {
    case_id: Option<i64>,
    project_id: Option<i64>,
    department_id: i64,
    fiscal_year: i64,
    stage: &'a str,
    source: &'a str,
    kind: ActionKind,
    percent: Option<u32>,
    amount: Option<Fen>,
    score: Option<&'a str>,
    grade: Option<&'a str>,
    escalated_from: Option<i64>,
    note: &'a str,
}

/// Stores a proposed action; returns its id.
async fn insert_action(conn: &mut AnyConnection, a: &NewAction<'_>, now_ms: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO result_actions (case_id, project_id, department_id, fiscal_year, stage, source, kind, percent, amount_fen, score, grade, status, escalated_from, proposed_ms, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'proposed', $12, $13, $14) RETURNING id",
    )
    .bind(a.case_id)
    .bind(a.project_id)
    .bind(a.department_id)
    .bind(a.fiscal_year)
    .bind(a.stage)
    .bind(a.source)
    .bind(a.kind.as_str())
    .bind(a.percent.map(i64::from))
    .bind(a.amount.map(|f| f.fen()))
    .bind(a.score)
    .bind(a.grade)
    .bind(a.escalated_from)
    .bind(now_ms)
    .bind(a.note)
    .fetch_one(&mut *conn)
    .await?)
}

/// Inserts the actions a result-application stage proposed, with the amount a cut means on the
/// project's current budget.
pub(crate) async fn propose_actions(
    conn: &mut AnyConnection,
    case_id: i64,
    project: &Project,
    stage: &str,
    actions: &[ProposedAction],
    score: Option<Decimal>,
    grade: Option<&str>,
    source: Option<&str>,
    now_ms: i64,
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for a in actions {
        let score = score.map(|s| s.to_string());
        let new = NewAction {
            case_id: Some(case_id),
            project_id: Some(project.id),
            department_id: project.department_id,
            fiscal_year: i64::from(project.fiscal_year),
            stage,
            source: source.unwrap_or("self_evaluation"),
            kind: a.kind,
            percent: a.percent,
            amount: amount_of(a.kind, a.percent, None, project.budget),
            score: score.as_deref(),
            grade,
            escalated_from: None,
            note: "",
        };
        let id = insert_action(conn, &new, now_ms).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// The money an action moves: a cut's share of the budget (rounded to the fen), the whole
/// budget for a cancellation, the stated amount for recovered funds.
fn amount_of(kind: ActionKind, percent: Option<u32>, amount: Option<Fen>, budget: Fen) -> Option<Fen> {
    match kind {
        ActionKind::Cut => percent.map(|p| {
            let fen = Decimal::from(budget.fen()) * Decimal::from(p) / Decimal::from(100);
            Fen::from_fen(
                fen.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                    .try_into()
                    .unwrap_or(i64::MAX),
            )
        }),
        ActionKind::Cancel => Some(budget),
        ActionKind::Recover => amount,
        _ => None,
    }
}

/// Checks an approval of proposed actions before it is recorded: approving as proposed needs
/// every recovery to have an amount (otherwise the bureau amends with one), and an amended
/// recovery cannot exceed the project's current budget.
pub(crate) async fn check_actions_approval(
    conn: &mut AnyConnection,
    case_id: i64,
    project: &Project,
    stage: &str,
    result: &Value,
) -> Result<()> {
    if result["decision"].as_str() == Some("amend") {
        for (i, a) in result["amended_actions"].as_array().into_iter().flatten().enumerate() {
            let amount = a["amount"].as_str().and_then(|s| s.parse::<Fen>().ok());
            if a["kind"] == "recover"
                && let Some(m) = amount
                && m > project.budget
            {
                return Err(invalid(
                    &format!("amended_actions[{i}].amount"),
                    format!("{m} yuan is more than the project's current budget of {} yuan", project.budget),
                ));
            }
        }
        return Ok(());
    }
    if result["decision"].as_str() != Some("approve") {
        return Ok(());
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM result_actions WHERE case_id = $1 AND stage = $2 AND status = 'proposed' AND kind = 'recover' AND amount_fen IS NULL",
    )
    .bind(case_id)
    .bind(stage)
    .fetch_one(&mut *conn)
    .await?;
    if open > 0 {
        return Err(invalid(
            "decision",
            "a proposed recovery of idle funds has no amount: decide 'amend' and give the amount to recover",
        ));
    }
    Ok(())
}

/// What carrying out approved actions did, for the case's history.
#[derive(Debug, Default, Serialize)]
pub struct Carried {
    pub actions: Vec<Value>,
}

/// Carries out the bureau's decision on a case's proposed actions (the approval task's
/// result): approve them as proposed, or replace them with the amended list.
pub(crate) async fn carry_out_approval(
    conn: &mut AnyConnection,
    cal: &Calendar,
    wf: &Workflow,
    case_id: i64,
    project: &Project,
    stage: &str,
    task_id: i64,
    now_ms: i64,
) -> Result<Carried> {
    let (result, approver): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT result, completed_by FROM tasks WHERE id = $1")
            .bind(task_id)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or((None, None));
    let result: Value = result.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or(Value::Null);
    let comment = result["comment"].as_str().unwrap_or_default().to_string();
    let ids: Vec<i64> = if result["decision"].as_str() == Some("amend") {
        let (score, grade, source): (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT MAX(score), MAX(grade), MAX(source) FROM result_actions WHERE case_id = $1 AND stage = $2 AND status = 'proposed'",
        )
        .bind(case_id)
        .bind(stage)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE result_actions SET status = 'superseded' WHERE case_id = $1 AND stage = $2 AND status = 'proposed'",
        )
        .bind(case_id)
        .bind(stage)
        .execute(&mut *conn)
        .await?;
        let mut ids = Vec::new();
        for a in result["amended_actions"].as_array().into_iter().flatten() {
            let kind: ActionKind = serde_json::from_value(a["kind"].clone())?;
            let percent = a["percent"].as_u64().map(|p| p as u32);
            let amount = a["amount"].as_str().and_then(|s| s.parse::<Fen>().ok());
            let new = NewAction {
                case_id: Some(case_id),
                project_id: Some(project.id),
                department_id: project.department_id,
                fiscal_year: i64::from(project.fiscal_year),
                stage,
                source: source.as_deref().unwrap_or("self_evaluation"),
                kind,
                percent,
                amount: amount_of(kind, percent, amount, project.budget),
                score: score.as_deref(),
                grade: grade.as_deref(),
                escalated_from: None,
                note: "",
            };
            let id = insert_action(conn, &new, now_ms).await?;
            ids.push(id);
        }
        ids
    } else {
        sqlx::query_scalar(
            "SELECT id FROM result_actions WHERE case_id = $1 AND stage = $2 AND status = 'proposed' ORDER BY id",
        )
        .bind(case_id)
        .bind(stage)
        .fetch_all(&mut *conn)
        .await?
    };
    let rectify = wf.stages.iter().find(|s| s.id == stage).and_then(|s| s.rectify).unwrap_or_default();
    let mut carried = Carried::default();
    for id in ids {
        let done = execute(conn, cal, wf.timezone, &rectify, id, approver, &comment, now_ms).await?;
        carried.actions.push(done);
    }
    Ok(carried)
}

/// Approves one action and does what it says. Returns the action as carried out.
async fn execute(
    conn: &mut AnyConnection,
    cal: &Calendar,
    tz: chrono_tz::Tz,
    rectify: &Rectify,
    id: i64,
    approver: Option<i64>,
    note: &str,
    now_ms: i64,
) -> Result<Value> {
    let (case_id, project_id, department_id, stage, kind, amount): (
        Option<i64>,
        Option<i64>,
        i64,
        String,
        String,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT case_id, project_id, department_id, stage, kind, amount_fen FROM result_actions WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let (status, deadline, task_id, completed) = match kind.as_str() {
        "rectify" => {
            let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_else(chrono::Utc::now);
            let due = cal.deadline(now, tz, rectify.within).timestamp_millis();
            let task = match case_id {
                Some(c) => Some(
                    super::advance::insert_task(
                        conn,
                        c,
                        &stage,
                        0,
                        "submission",
                        "rectification",
                        "department",
                        Some(department_id),
                        None,
                        None,
                        due,
                        now_ms,
                        &[],
                    )
                    .await?,
                ),
                None => None,
            };
            ("in_progress", Some(due), task, None)
        }
        "recover" => {
            let entered = match (project_id, amount) {
                (Some(p), Some(a)) => {
                    let entry = super::monitoring::insert_entry(
                        conn,
                        p,
                        "reduction",
                        Fen::from_fen(a),
                        &format!("idle funds recovered (result action {id})"),
                        None,
                        approver,
                        now_ms,
                    )
                    .await;
                    match entry {
                        Ok(entry) => {
                            sqlx::query("UPDATE budget_entries SET action_id = $1 WHERE id = $2")
                                .bind(id)
                                .bind(entry.id)
                                .execute(&mut *conn)
                                .await?;
                            true
                        }
                        // The budget changed since the approval was checked: the action waits
                        // for the bureau instead of stopping the case.
                        Err(StoreError::Invalid { .. }) => false,
                        Err(e) => return Err(e),
                    }
                }
                _ => false,
            };
            if entered { ("done", None, None, Some(now_ms)) } else { ("approved", None, None, None) }
        }
        // Disbursement stays suspended until the bureau lifts it.
        "suspend" => ("in_progress", None, None, None),
        // Cuts and cancellations shape next year's budget; they are done when it is set.
        "cut" | "cancel" => ("approved", None, None, None),
        _ => ("done", None, None, Some(now_ms)),
    };
    sqlx::query(
        "UPDATE result_actions SET status = $1, deadline_ms = $2, task_id = $3, approver_id = $4, approved_ms = $5, completed_ms = $6, note = $7 WHERE id = $8",
    )
    .bind(status)
    .bind(deadline)
    .bind(task_id)
    .bind(approver)
    .bind(now_ms)
    .bind(completed)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let action = action_by_id(conn, id).await?;
    if let Some(c) = case_id {
        append_event(conn, c, "action_approved", &action, approver, now_ms).await?;
        let extra =
            json!({"action": kind, "amount": amount.map(Fen::from_fen), "deadline_ms": deadline, "task_id": task_id});
        super::outbox::case_mail(conn, c, department_id, &stage, "action_approved", extra, now_ms).await?;
    }
    Ok(action)
}

const ACTION_COLUMNS: &str = "id, case_id, project_id, department_id, fiscal_year, stage, source, kind, percent, amount_fen, score, grade, status, deadline_ms, task_id, escalated_from, proposed_ms, approver_id, approved_ms, completed_ms, note";

fn action_json(r: &sqlx::any::AnyRow) -> Result<Value> {
    Ok(json!({
        "id": r.try_get::<i64, _>("id")?,
        "case_id": r.try_get::<Option<i64>, _>("case_id")?,
        "project_id": r.try_get::<Option<i64>, _>("project_id")?,
        "department_id": r.try_get::<i64, _>("department_id")?,
        "fiscal_year": r.try_get::<i64, _>("fiscal_year")?,
        "stage": r.try_get::<String, _>("stage")?,
        "source": r.try_get::<String, _>("source")?,
        "kind": r.try_get::<String, _>("kind")?,
        "percent": r.try_get::<Option<i64>, _>("percent")?,
        "amount": r.try_get::<Option<i64>, _>("amount_fen")?.map(Fen::from_fen),
        "score": r.try_get::<Option<String>, _>("score")?,
        "grade": r.try_get::<Option<String>, _>("grade")?,
        "status": r.try_get::<String, _>("status")?,
        "deadline_ms": r.try_get::<Option<i64>, _>("deadline_ms")?,
        "task_id": r.try_get::<Option<i64>, _>("task_id")?,
        "escalated_from": r.try_get::<Option<i64>, _>("escalated_from")?,
        "proposed_ms": r.try_get::<i64, _>("proposed_ms")?,
        "approver_id": r.try_get::<Option<i64>, _>("approver_id")?,
        "approved_ms": r.try_get::<Option<i64>, _>("approved_ms")?,
        "completed_ms": r.try_get::<Option<i64>, _>("completed_ms")?,
        "note": r.try_get::<String, _>("note")?,
    }))
}

async fn action_by_id(conn: &mut AnyConnection, id: i64) -> Result<Value> {
    let r = sqlx::query(super::sql(format!("SELECT {ACTION_COLUMNS} FROM result_actions WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no result action {id}")))?;
    action_json(&r)
}

/// Completes the rectification action whose task this is, with the department's report.
pub(crate) async fn rectified(
    conn: &mut AnyConnection,
    task_id: i64,
    result: &Value,
    user: i64,
    now_ms: i64,
) -> Result<()> {
    let id: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, case_id FROM result_actions WHERE task_id = $1 AND kind = 'rectify' AND status = 'in_progress'",
    )
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, case_id)) = id else {
        return Err(StoreError::Conflict(format!("task {task_id} is not an open rectification order")));
    };
    sqlx::query("UPDATE result_actions SET status = 'done', completed_ms = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if let Some(c) = case_id {
        append_event(
            conn,
            c,
            "rectification_reported",
            &json!({"action_id": id, "report": result}),
            Some(user),
            now_ms,
        )
        .await?;
    }
    Ok(())
}

/// A rectification report: what was fixed, with evidence.
pub fn check_rectification(body: &Value) -> std::result::Result<Value, Vec<FieldError>> {
    let mut errs = Vec::new();
    let obj = body.as_object();
    let report = obj.and_then(|o| o.get("report")).and_then(|v| v.as_str()).unwrap_or_default().trim().to_string();
    if report.is_empty() || report.chars().count() > 20_000 {
        errs.push(FieldError::bilingual(
            "report",
            "describe the rectification (1–20000 characters)",
            "请填写整改情况（1–20000 字）",
        ));
    }
    let evidence: Vec<String> = match obj.and_then(|o| o.get("evidence")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= 50 => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v.as_str() {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= 500 => Some(s.to_string()),
                _ => {
                    errs.push(FieldError::bilingual(
                        format!("evidence[{i}]"),
                        "a document reference of 1–500 characters",
                        "每份佐证材料的名称应为 1–500 个字",
                    ));
                    None
                }
            })
            .collect(),
        Some(_) => {
            errs.push(FieldError::bilingual(
                "evidence",
                "a list of at most 50 document references",
                "佐证材料最多 50 份",
            ));
            Vec::new()
        }
    };
    for k in obj.into_iter().flat_map(|o| o.keys()) {
        if k != "report" && k != "evidence" {
            errs.push(FieldError {
                zh: None,
                path: k.clone(),
                message: "not a field of the rectification form (expected report, evidence)".into(),
            });
        }
    }
    if obj.is_none() {
        errs.push(FieldError {
            zh: None,
            path: String::new(),
            message: "expected an object with report and evidence".into(),
        });
    }
    if errs.is_empty() { Ok(json!({"report": report, "evidence": evidence})) } else { Err(errs) }
}

/// Filters for the action list.
#[derive(Debug, Default, Clone)]
pub struct ActionFilter {
    pub fiscal_year: Option<i64>,
    pub department_id: Option<i64>,
    pub case_id: Option<i64>,
    pub status: Option<String>,
}

impl Store {
    pub async fn result_actions(&self, f: &ActionFilter) -> Result<Vec<Value>> {
        let rows = sqlx::query(super::sql(format!(
            "SELECT {ACTION_COLUMNS} FROM result_actions WHERE ($1 IS NULL OR fiscal_year = $1) AND ($2 IS NULL OR department_id = $2) \
             AND ($3 IS NULL OR case_id = $3) AND ($4 IS NULL OR status = $4) ORDER BY id LIMIT 5000"
        )))
        .bind(f.fiscal_year)
        .bind(f.department_id)
        .bind(f.case_id)
        .bind(f.status.as_deref())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(action_json).collect()
    }

    pub async fn result_action(&self, id: i64) -> Result<Value> {
        let mut conn = self.pool.acquire().await?;
        action_by_id(&mut conn, id).await
    }

    /// The bureau decides on a proposed action outside a case's approval (an escalation):
    /// approve carries it out, reject closes it.
    pub async fn decide_action(
        &self,
        reg: &Registry,
        cal: &Calendar,
        id: i64,
        approve: bool,
        note: &str,
        actor: i64,
        now_ms: i64,
    ) -> Result<Value> {
        if note.chars().count() > 5000 {
            return Err(invalid("comment", "at most 5000 characters"));
        }
        let mut tx = self.write().await?;
        let (status, case_id, stage): (String, Option<i64>, String) =
            sqlx::query_as("SELECT status, case_id, stage FROM result_actions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no result action {id}")))?;
        if status != "proposed" {
            return Err(StoreError::Conflict(format!("result action {id} is {status}, not awaiting a decision")));
        }
        let approved_in_case: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM result_actions a JOIN tasks t ON t.case_id = a.case_id AND t.stage = a.stage AND t.kind = 'approval' AND t.status = 'open' WHERE a.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if approved_in_case > 0 {
            return Err(StoreError::Conflict(format!(
                "result action {id} is decided in its case's approval task; complete that task"
            )));
        }
        let out = if approve {
            // The case's workflow gives the time zone and the rectification rules; an action
            // without a case (a department's key evaluation) uses the defaults.
            let (tz, rectify) = match case_id {
                Some(c) => {
                    let (w, v): (String, i64) =
                        sqlx::query_as("SELECT workflow_id, workflow_version FROM cases WHERE id = $1")
                            .bind(c)
                            .fetch_one(&mut *tx)
                            .await?;
                    let wf = self.workflow(reg, &w, v as u32).await?;
                    let rectify = wf.stages.iter().find(|s| s.id == stage).and_then(|s| s.rectify).unwrap_or_default();
                    (wf.timezone, rectify)
                }
                None => (chrono_tz::Asia::Shanghai, Rectify::default()),
            };
            execute(&mut tx, cal, tz, &rectify, id, Some(actor), note, now_ms).await?
        } else {
            sqlx::query("UPDATE result_actions SET status = 'rejected', approver_id = $1, approved_ms = $2, note = $3 WHERE id = $4")
                .bind(actor)
                .bind(now_ms)
                .bind(note)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let a = action_by_id(&mut tx, id).await?;
            if let Some(c) = case_id {
                append_event(&mut tx, c, "action_rejected", &a, Some(actor), now_ms).await?;
            }
            a
        };
        tx.commit().await?;
        Ok(out)
    }

    /// The bureau proposes an action from a result outside a case's approval — a finished key
    /// evaluation — to be decided by `decide_action`. A project's action is tied to the
    /// project's case of that fiscal year, if it has one.
    pub async fn propose_key_action(
        &self,
        key_evaluation_id: i64,
        kind: ActionKind,
        percent: Option<u32>,
        amount: Option<Fen>,
        note: &str,
        now_ms: i64,
    ) -> Result<Value> {
        let mut errs = Vec::new();
        match kind {
            ActionKind::Cut if !percent.is_some_and(|p| (1..=100).contains(&p)) => errs.push(FieldError {
                zh: None,
                path: "percent".into(),
                message: "a cut needs a percent between 1 and 100".into(),
            }),
            ActionKind::Recover if amount.is_none_or(|a| a <= Fen::ZERO) => errs.push(FieldError {
                zh: None,
                path: "amount".into(),
                message: "recovering funds needs a positive amount".into(),
            }),
            _ => {}
        }
        if note.chars().count() > 5000 {
            errs.push(FieldError { zh: None, path: "note".into(), message: "at most 5000 characters".into() });
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid { message: "the request is invalid".into(), details: errs });
        }
        let mut tx = self.write().await?;
        let k: Option<KeyResultDbRow> = sqlx::query_as(
            "SELECT project_id, department_id, fiscal_year, status, final_score, grade FROM key_evaluations WHERE id = $1",
        )
        .bind(key_evaluation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((project_id, department_id, fiscal_year, status, score, grade)) = k else {
            return Err(StoreError::NotFound(format!("no key evaluation {key_evaluation_id}")));
        };
        if status != "finished" {
            return Err(StoreError::Conflict(format!(
                "key evaluation {key_evaluation_id} is not finished; its result is not final yet"
            )));
        }
        let (case_id, budget) = match project_id {
            Some(p) => {
                let case: Option<i64> = sqlx::query_scalar(
                    "SELECT c.id FROM cases c JOIN cycles y ON y.id = c.cycle_id WHERE c.project_id = $1 AND y.fiscal_year = $2 ORDER BY c.id DESC LIMIT 1",
                )
                .bind(p)
                .bind(fiscal_year)
                .fetch_optional(&mut *tx)
                .await?;
                (case, super::monitoring::current_budget(&mut tx, p).await?)
            }
            None => (None, Fen::ZERO),
        };
        if kind == ActionKind::Recover && project_id.is_some() && amount.is_some_and(|a| a > budget) {
            return Err(invalid("amount", format!("more than the project's current budget of {budget} yuan")));
        }
        let stage = format!("key_evaluation:{key_evaluation_id}");
        let new = NewAction {
            case_id,
            project_id,
            department_id,
            fiscal_year,
            stage: &stage,
            source: "key_evaluation",
            kind,
            percent,
            amount: amount_of(kind, percent, amount, budget),
            score: score.as_deref(),
            grade: grade.as_deref(),
            escalated_from: None,
            note,
        };
        let id = insert_action(&mut tx, &new, now_ms).await?;
        let a = action_by_id(&mut tx, id).await?;
        if let Some(c) = case_id {
            append_event(&mut tx, c, "action_proposed", &a, None, now_ms).await?;
        }
        tx.commit().await?;
        Ok(a)
    }

    /// Marks an approved action done: a suspension lifted, a cut or cancellation applied to
    /// the next year's budget.
    pub async fn finish_action(&self, id: i64, note: &str, actor: i64, now_ms: i64) -> Result<Value> {
        if note.trim().is_empty() || note.chars().count() > 5000 {
            return Err(invalid("note", "say what was done (1–5000 characters)"));
        }
        let mut tx = self.write().await?;
        let (status, kind, case_id): (String, String, Option<i64>) =
            sqlx::query_as("SELECT status, kind, case_id FROM result_actions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no result action {id}")))?;
        let open = matches!(
            (kind.as_str(), status.as_str()),
            ("suspend", "in_progress") | ("cut" | "cancel" | "recover", "approved")
        );
        if !open {
            return Err(StoreError::Conflict(format!(
                "result action {id} ({kind}, {status}) cannot be marked done here{}",
                if kind == "rectify" { ": the department reports its rectification through its task" } else { "" }
            )));
        }
        sqlx::query("UPDATE result_actions SET status = 'done', completed_ms = $1, note = $2 WHERE id = $3")
            .bind(now_ms)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let a = action_by_id(&mut tx, id).await?;
        if let Some(c) = case_id {
            append_event(&mut tx, c, "action_done", &a, Some(actor), now_ms).await?;
        }
        tx.commit().await?;
        Ok(a)
    }

    /// Rectification orders past their deadline: the task is closed, the order is marked
    /// escalated, and the stage's escalation action is proposed for the bureau to decide.
    pub async fn escalate_unrectified(&self, reg: &Registry, now_ms: i64) -> Result<Vec<i64>> {
        let due: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM result_actions WHERE status = 'in_progress' AND kind = 'rectify' AND deadline_ms < $1 ORDER BY id LIMIT 500",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (id,) in due {
            let mut tx = self.write().await?;
            let row: Option<OverdueDbRow> =
                sqlx::query_as(
                    "SELECT case_id, project_id, department_id, fiscal_year, stage, task_id, score, grade FROM result_actions WHERE id = $1 AND status = 'in_progress'",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((case_id, project_id, department_id, fiscal_year, stage, task_id, score, grade)) = row else {
                continue;
            };
            let rectify = match case_id {
                Some(c) => {
                    let (w, v): (String, i64) =
                        sqlx::query_as("SELECT workflow_id, workflow_version FROM cases WHERE id = $1")
                            .bind(c)
                            .fetch_one(&mut *tx)
                            .await?;
                    let wf = self.workflow(reg, &w, v as u32).await?;
                    wf.stages.iter().find(|s| s.id == stage).and_then(|s| s.rectify).unwrap_or_default()
                }
                None => Rectify::default(),
            };
            if let Some(t) = task_id {
                sqlx::query(
                    "UPDATE tasks SET status = 'cancelled', completed_ms = $1 WHERE id = $2 AND status = 'open'",
                )
                .bind(now_ms)
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE result_actions SET status = 'escalated', completed_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let budget = match project_id {
                Some(p) => super::monitoring::current_budget(&mut tx, p).await?,
                None => Fen::ZERO,
            };
            let new = NewAction {
                case_id,
                project_id,
                department_id,
                fiscal_year,
                stage: &stage,
                source: "escalation",
                kind: rectify.unrectified,
                percent: rectify.percent,
                amount: amount_of(rectify.unrectified, rectify.percent, None, budget),
                score: score.as_deref(),
                grade: grade.as_deref(),
                escalated_from: Some(id),
                note: "not rectified by the deadline",
            };
            let new_id = insert_action(&mut tx, &new, now_ms).await?;
            if let Some(c) = case_id {
                append_event(
                    &mut tx,
                    c,
                    "rectification_overdue",
                    &json!({"action_id": id, "task_id": task_id, "proposed": new_id, "kind": rectify.unrectified.as_str()}),
                    None,
                    now_ms,
                )
                .await?;
            }
            tx.commit().await?;
            out.push(new_id);
        }
        Ok(out)
    }

    /// Next year's budget implications per department for a fiscal year: cuts, suspended
    /// budgets, recovered funds and cancelled items (approved or done), and the rectification
    /// orders by status.
    pub async fn action_report(&self, fiscal_year: i64, department_id: Option<i64>) -> Result<Value> {
        let rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT a.department_id, d.name, a.kind, a.status, COUNT(*), CAST(COALESCE(SUM(a.amount_fen), 0) AS BIGINT) \
             FROM result_actions a JOIN departments d ON d.id = a.department_id \
             WHERE a.fiscal_year = $1 AND ($2 IS NULL OR a.department_id = $2) GROUP BY a.department_id, d.name, a.kind, a.status ORDER BY a.department_id",
        )
        .bind(fiscal_year)
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        let suspended: Vec<(i64, i64)> = sqlx::query_as(concat!(
            "SELECT a.department_id, CAST(COALESCE(SUM(",
            super::projects::budget_sql!(),
            "), 0) AS BIGINT) FROM result_actions a JOIN projects p ON p.id = a.project_id \
             WHERE a.fiscal_year = $1 AND ($2 IS NULL OR a.department_id = $2) AND a.kind = 'suspend' AND a.status = 'in_progress' GROUP BY a.department_id"
        ))
        .bind(fiscal_year)
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_dept: std::collections::BTreeMap<i64, Value> = Default::default();
        let mut totals =
            json!({"cut": Fen::ZERO, "suspended": Fen::ZERO, "recovered": Fen::ZERO, "cancelled": Fen::ZERO});
        let add = |v: &mut Value, key: &str, fen: i64| {
            let before = v[key].as_str().and_then(|s| s.parse::<Fen>().ok()).unwrap_or(Fen::ZERO);
            v[key] = json!(before.checked_add(Fen::from_fen(fen)).unwrap_or(before));
        };
        for (dept, name, kind, status, count, fen) in rows {
            let d = by_dept.entry(dept).or_insert_with(|| {
                json!({"department_id": dept, "department": name, "cut": Fen::ZERO, "suspended": Fen::ZERO, "recovered": Fen::ZERO,
                       "cancelled": Fen::ZERO, "rectify": {}, "counts": {}})
            });
            let counted = matches!(status.as_str(), "approved" | "in_progress" | "done");
            match kind.as_str() {
                "cut" if counted => {
                    add(d, "cut", fen);
                    add(&mut totals, "cut", fen);
                }
                "recover" if status == "done" => {
                    add(d, "recovered", fen);
                    add(&mut totals, "recovered", fen);
                }
                "cancel" if counted => {
                    add(d, "cancelled", fen);
                    add(&mut totals, "cancelled", fen);
                }
                "rectify" => d["rectify"][status.as_str()] = count.into(),
                _ => {}
            }
            let prev = d["counts"][kind.as_str()][status.as_str()].as_i64().unwrap_or(0);
            d["counts"][kind.as_str()][status.as_str()] = (prev + count).into();
        }
        for (dept, fen) in suspended {
            if let Some(d) = by_dept.get_mut(&dept) {
                add(d, "suspended", fen);
            }
            add(&mut totals, "suspended", fen);
        }
        Ok(
            json!({"fiscal_year": fiscal_year, "totals": totals, "departments": by_dept.into_values().collect::<Vec<_>>()}),
        )
    }
}

/// What scoring the stored self-evaluations of a year did.
#[derive(Debug, Default, Clone, Serialize, schemars::JsonSchema)]
pub struct ScoreRun {
    pub scored: i64,
    /// Evaluations whose stored score differed from the recomputed one (0 when nothing changed
    /// since they were scored: scoring is exact and reproducible).
    pub changed: i64,
    /// Evaluations that cannot be scored (the reason is logged per case).
    pub failed: i64,
}

/// Self-evaluations read and written per transaction when scoring in bulk.
const SCORE_CHUNK: i64 = 5_000;

/// A stored self-evaluation as scoring reads it: case, scheme, budget, form, indicators, the
/// stored score.
type ScoreInput = (i64, String, i64, String, String, Option<String>);
/// A computed score: case, total, grade, card.
type ScoreOutput = (i64, String, &'static str, String);

/// Scores a chunk of stored self-evaluations (CPU only; run on a blocking thread).
fn score_chunk(rows: &[ScoreInput]) -> (Vec<ScoreOutput>, i64, i64) {
    use crate::domain::scoring::{self, Actual, Evaluation, Scheme};
    #[derive(serde::Deserialize)]
    struct Form {
        executed: Fen,
        items: Vec<Actual>,
    }
    let mut schemes: std::collections::HashMap<&str, Option<Scheme>> = Default::default();
    let (mut out, mut changed, mut failed) = (Vec::with_capacity(rows.len()), 0i64, 0i64);
    for (case_id, scheme_id, budget, form, indicators, before) in rows {
        let scheme = schemes.entry(scheme_id.as_str()).or_insert_with(|| Scheme::builtin(scheme_id));
        let scored = (|| -> std::result::Result<_, String> {
            let scheme = scheme.as_ref().ok_or_else(|| format!("unknown scheme '{scheme_id}'"))?;
            let form: Form = serde_json::from_str(form).map_err(|e| format!("form: {e}"))?;
            let indicators: Vec<crate::domain::Indicator> =
                serde_json::from_str(indicators).map_err(|e| format!("indicators: {e}"))?;
            let eval = Evaluation { budget: Fen::from_fen(*budget), executed: form.executed, items: form.items };
            let card = scoring::score(scheme, &indicators, &eval).map_err(|e| e.to_string())?;
            let text = serde_json::to_string(&card).map_err(|e| format!("card: {e}"))?;
            Ok((card, text))
        })();
        match scored {
            Ok((card, text)) => {
                let total = card.total.to_string();
                if before.as_deref() != Some(total.as_str()) {
                    changed += 1;
                }
                out.push((*case_id, total, card.grade.label(), text));
            }
            Err(e) => {
                tracing::warn!(case_id, error = %e, "a stored self-evaluation cannot be scored");
                failed += 1;
            }
        }
    }
    (out, changed, failed)
}

impl Store {
    async fn score_inputs(&self, fiscal_year: i64, after: i64) -> Result<Vec<ScoreInput>> {
        Ok(sqlx::query_as(
            "SELECT case_id, scheme, budget_fen, form, indicators, self_score FROM self_evaluations \
             WHERE fiscal_year = $1 AND case_id > $2 ORDER BY case_id LIMIT $3",
        )
        .bind(fiscal_year)
        .bind(after)
        .bind(SCORE_CHUNK)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a chunk's scores with one statement per few thousand rows (a statement per row
    /// costs a round trip to the database's thread each).
    async fn write_scores(&self, out: Vec<ScoreOutput>) -> Result<()> {
        let mut tx = self.write().await?;
        match self.backend {
            super::Backend::Sqlite => {
                for batch in out.chunks(30_000 / 4) {
                    let sql = format!(
                        "UPDATE self_evaluations SET self_score = v.column2, self_grade = v.column3, card = v.column4 \
                         FROM (VALUES {}) AS v WHERE self_evaluations.case_id = v.column1",
                        super::value_groups(self.backend, batch.len(), 4)
                    );
                    let mut q = sqlx::query(super::sql(sql));
                    for (case_id, total, grade, card) in batch {
                        q = q.bind(*case_id).bind(total.as_str()).bind(*grade).bind(card.as_str());
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            super::Backend::Postgres => {
                let rows: Vec<Value> = out
                    .iter()
                    .map(|(id, total, grade, card)| json!({"i": id, "s": total, "g": grade, "c": card}))
                    .collect();
                sqlx::query(
                    "UPDATE self_evaluations SET self_score = x.s, self_grade = x.g, card = x.c \
                     FROM json_to_recordset($1::json) AS x(i BIGINT, s TEXT, g TEXT, c TEXT) WHERE self_evaluations.case_id = x.i",
                )
                .bind(Value::Array(rows).to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Scores every stored self-evaluation of `fiscal_year` again under the scheme it names,
    /// from the form and the indicators it was submitted with, and stores the score, grade and
    /// card. Used after a bulk import of forms, and to show that stored scores reproduce.
    ///
    /// Reading the next chunk, scoring this one (on a blocking thread) and writing the last
    /// one overlap.
    pub async fn score_self_evaluations(&self, fiscal_year: i64) -> Result<ScoreRun> {
        let joined = |e: tokio::task::JoinError| StoreError::Other(anyhow::anyhow!("scoring: {e}"));
        let mut run = ScoreRun::default();
        let mut rows = self.score_inputs(fiscal_year, 0).await?;
        let mut writing: Option<tokio::task::JoinHandle<Result<()>>> = None;
        while let Some(last) = rows.last() {
            let after = last.0;
            let store = self.clone();
            let next = tokio::spawn(async move { store.score_inputs(fiscal_year, after).await });
            let (out, changed, failed) =
                tokio::task::spawn_blocking(move || score_chunk(&rows)).await.map_err(joined)?;
            run.scored += out.len() as i64;
            run.changed += changed;
            run.failed += failed;
            if let Some(w) = writing.take() {
                w.await.map_err(joined)??;
            }
            let store = self.clone();
            writing = Some(tokio::spawn(async move { store.write_scores(out).await }));
            rows = next.await.map_err(joined)??;
        }
        if let Some(w) = writing {
            w.await.map_err(joined)??;
        }
        Ok(run)
    }
}
