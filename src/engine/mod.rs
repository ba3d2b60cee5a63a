//! The case state machine: `step(workflow, state, vars, input) -> (state, effects)`.
//!
//! A case is one budget project going through one workflow version. The engine is pure: it
//! reads the workflow and the case's state, and says what must happen (open a task, draw a
//! panel, decide, finish) as `Effect`s; the store carries them out in the same transaction that
//! saves the new state. Inputs that no longer fit the case (a late review of an earlier round,
//! a duplicated fire) change nothing and are reported as `Effect::Ignored`.

pub mod forms;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::WorkDuration;
use crate::workflow::{
    ActionKind, Aggregate, CheckPolicy, Outcome, PluginRef, ReviewForm, Role, Stage, SubmitForm, VarValue, Vars,
    Workflow,
};

/// Where a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Completed,
    Rejected,
    /// Waiting for the bureau: something outside the workflow must be fixed (e.g. no panel
    /// could be drawn). The reason is in the history.
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Completed => "completed",
            Status::Rejected => "rejected",
            Status::Blocked => "blocked",
        }
    }
}

/// What the case waits for inside its current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    NotStarted,
    AwaitingFire,
    AwaitingSubmission,
    /// The submission's plugin checks are queued or running.
    AwaitingChecks,
    /// The panel is requested and waits for its draw.
    AwaitingPanel,
    AwaitingReviews,
    AwaitingApproval,
    /// A scored submission waits for the bureau's spot-check draw (抽查复核).
    AwaitingSpotCheck,
    /// The submission was sampled: a reviewer re-scores it.
    AwaitingSpotReview,
    Done,
}

/// The whole state of a case; stored as JSON beside the case row and rebuilt from its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    pub status: Status,
    pub stage: Option<usize>,
    pub phase: Phase,
    /// The revision round in the current stage (0 for the first submission).
    pub round: u32,
    /// Scheduled fires the case has taken part in, in the current stage.
    pub runs_done: u32,
    /// Panel member scores received in the current review.
    pub reviews: Vec<(i64, Decimal)>,
    pub panel_size: u32,
    /// The latest score and grade (from a panel or a self-evaluation); decision and action rules
    /// read them, and they carry over to later stages.
    pub score: Option<Decimal>,
    pub grade: Option<String>,
    /// The leader's review task in the current review, once it is in.
    #[serde(default)]
    pub leader_task: Option<i64>,
    /// Revisions a decision asked for in the current stage (bounded by `max_rounds`); returns
    /// for failed plugin checks are rounds too but do not count here.
    #[serde(default)]
    pub revisions: u32,
    /// Where `score` came from: `panel`, `self_evaluation` or `spot_check` (a reviewer's
    /// re-score, which supersedes the self score).
    #[serde(default)]
    pub score_source: Option<String>,
    /// A spot check flagged the difference between the self score and its re-score; result
    /// rules read it as `flagged`.
    #[serde(default)]
    pub flagged: bool,
}

impl Default for CaseState {
    fn default() -> Self {
        CaseState {
            status: Status::Active,
            stage: None,
            phase: Phase::NotStarted,
            round: 0,
            runs_done: 0,
            reviews: Vec::new(),
            panel_size: 0,
            score: None,
            grade: None,
            leader_task: None,
            revisions: 0,
            score_source: None,
            flagged: false,
        }
    }
}

/// Something that happened to a case, recorded before the engine reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    Start,
    /// A stage's schedule fired.
    Fired {
        stage: String,
        fire_time_ms: i64,
    },
    /// A department (or third party) submitted the stage's form. Self-evaluations carry their
    /// computed score and grade.
    Submitted {
        stage: String,
        round: u32,
        task_id: i64,
        #[serde(default)]
        score: Option<Decimal>,
        #[serde(default)]
        grade: Option<String>,
    },
    /// The store drew the panel and opened `size` review tasks.
    PanelDrawn {
        stage: String,
        round: u32,
        size: u32,
    },
    /// The store could not draw a panel.
    PanelInfeasible {
        stage: String,
        round: u32,
        reason: String,
    },
    /// A panel member submitted a review.
    Reviewed {
        stage: String,
        round: u32,
        task_id: i64,
        score: Decimal,
        /// The review is the panel leader's.
        #[serde(default)]
        leader: bool,
    },
    /// The review deadline passed (reported once, when the open reviews are closed for it).
    ReviewDeadline {
        stage: String,
        round: u32,
    },
    /// A panel member declined their review (the task is closed); a replacement is needed.
    Declined {
        stage: String,
        round: u32,
        task_id: i64,
        user_id: i64,
        reason: String,
    },
    /// The plugin checks of a submission finished (`check_id` names the stored findings).
    Checked {
        stage: String,
        round: u32,
        check_id: i64,
        errors: u32,
        warnings: u32,
        failures: u32,
    },
    /// The bureau approved the stage's proposal (actions or publication).
    Approved {
        stage: String,
        task_id: i64,
    },
    /// The bureau releases a blocked case to retry its current stage.
    Retry,
    /// A scheduled stage's task was not filled by its due date (a monitoring report "not
    /// reported"): the run counts as done for the case, and the task is closed.
    Lapsed {
        stage: String,
        round: u32,
    },
    /// A case created mid-cycle (money allocated mid-year) starts at this stage; the stages
    /// before it are recorded as skipped.
    Join {
        stage: String,
    },
    /// The bureau drew a spot-check sample over the cases waiting for it; `selected` says
    /// whether this case is in it.
    SpotCheckDrawn {
        stage: String,
        spot_check_id: i64,
        selected: bool,
    },
    /// A reviewer re-scored a sampled submission.
    SpotReviewed {
        stage: String,
        task_id: i64,
        score: Decimal,
        grade: String,
    },
}

/// What must happen because of an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    StageEntered {
        stage: String,
        title: String,
    },
    StageSkipped {
        stage: String,
        reason: String,
    },
    WaitingForSchedule {
        stage: String,
        cron: String,
    },
    OpenSubmission {
        stage: String,
        round: u32,
        by: Role,
        form: SubmitForm,
        within: WorkDuration,
    },
    /// Draw a replacement for a member who declined, under the same rules.
    ReplaceMember {
        stage: String,
        round: u32,
        declined_task: i64,
        user_id: i64,
        reason: String,
        form: ReviewForm,
        within: WorkDuration,
    },
    /// Queue the stage's plugin checks on the submission.
    RunChecks {
        stage: String,
        round: u32,
        plugins: Vec<PluginRef>,
    },
    /// The checks' findings and what they mean for the case.
    ChecksConcluded {
        stage: String,
        round: u32,
        check_id: i64,
        errors: u32,
        warnings: u32,
        failures: u32,
        outcome: CheckPolicy,
    },
    DrawPanel {
        stage: String,
        round: u32,
        department: u32,
        finance: u32,
        expert: u32,
        form: ReviewForm,
        within: WorkDuration,
    },
    Decided {
        stage: String,
        round: u32,
        score: Option<Decimal>,
        grade: Option<String>,
        outcome: String,
        rule: Option<String>,
    },
    /// The deadline passed with a quorum of reviews in: the panel decides with them.
    ClosePanel {
        stage: String,
        round: u32,
        reviews: u32,
        quorum: u32,
    },
    /// A scheduled task lapsed unfilled (see `Input::Lapsed`).
    NotReported {
        stage: String,
        round: u32,
    },
    /// Members whose score is far from the panel's median, flagged for the leader.
    OutliersFlagged {
        stage: String,
        round: u32,
        median: Decimal,
        margin: u32,
        /// (review task, score)
        outliers: Vec<(i64, Decimal)>,
    },
    ProposeActions {
        stage: String,
        actions: Vec<ProposedAction>,
        /// The score and grade the rules read, and where they came from.
        #[serde(default)]
        score: Option<Decimal>,
        #[serde(default)]
        grade: Option<String>,
        #[serde(default)]
        source: Option<String>,
    },
    /// The bureau approved or amended the proposed actions in `task_id`: carry them out.
    ActionsDecided {
        stage: String,
        task_id: i64,
    },
    /// The scored submission waits for the spot-check draw.
    AwaitingSpotCheck {
        stage: String,
    },
    /// Open the re-scoring task of a sampled submission.
    OpenSpotReview {
        stage: String,
        spot_check_id: i64,
        within: WorkDuration,
    },
    /// A sampled submission was re-scored: both scores, and why the difference is flagged.
    SpotChecked {
        stage: String,
        task_id: i64,
        self_score: Option<Decimal>,
        self_grade: Option<String>,
        reviewed_score: Decimal,
        reviewed_grade: String,
        flagged: Option<String>,
    },
    OpenApproval {
        stage: String,
        by: Role,
        within: WorkDuration,
    },
    Finished {
        status: Status,
        reason: String,
    },
    Blocked {
        reason: String,
    },
    Ignored {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedAction {
    pub kind: ActionKind,
    pub percent: Option<u32>,
}

/// A fault in the engine's input that is not the user's: the input names a stage the workflow
/// does not have, or the state is inconsistent with the workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// The grade bands used for panel scores (优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差).
pub const PANEL_GRADE_BANDS: [(u32, &str); 3] = [(90, "优"), (80, "良"), (60, "中")];

pub fn grade_for(score: Decimal) -> String {
    PANEL_GRADE_BANDS.iter().find(|(min, _)| score >= Decimal::from(*min)).map(|(_, g)| *g).unwrap_or("差").to_string()
}

/// Advances a case by one input. `project` is the case's project as expression variables.
pub fn step(
    wf: &Workflow,
    state: &CaseState,
    project: &VarValue,
    input: &Input,
) -> Result<(CaseState, Vec<Effect>), EngineError> {
    let mut s = state.clone();
    let mut fx = Vec::new();
    if matches!(s.status, Status::Completed | Status::Rejected) {
        fx.push(Effect::Ignored { reason: format!("the case is already {}", s.status.as_str()) });
        return Ok((s, fx));
    }
    if s.status == Status::Blocked && !matches!(input, Input::Retry) {
        fx.push(Effect::Ignored { reason: "the case is blocked; the bureau must retry it first".into() });
        return Ok((s, fx));
    }
    let current = |s: &CaseState| s.stage.and_then(|i| wf.stages.get(i));
    let ignore = |fx: &mut Vec<Effect>, why: String| fx.push(Effect::Ignored { reason: why });
    match input {
        Input::Start => {
            if s.phase != Phase::NotStarted {
                ignore(&mut fx, "the case has already started".into());
            } else {
                enter(wf, &mut s, project, 0, &mut fx)?;
            }
        }
        Input::Join { stage } => {
            let at = wf.stages.iter().position(|st| st.id == *stage);
            match at {
                Some(i) if s.phase == Phase::NotStarted => {
                    for st in &wf.stages[..i] {
                        fx.push(Effect::StageSkipped {
                            stage: st.id.clone(),
                            reason: format!("the case joined the cycle at stage '{stage}'"),
                        });
                    }
                    enter(wf, &mut s, project, i, &mut fx)?;
                }
                Some(_) => ignore(&mut fx, "the case has already started".into()),
                None => ignore(&mut fx, format!("the workflow has no stage '{stage}'")),
            }
        }
        Input::Lapsed { stage, round } => match current(&s) {
            Some(st)
                if st.id == *stage
                    && *round == s.round
                    && s.phase == Phase::AwaitingSubmission
                    && !st.schedules.is_empty() =>
            {
                let st = st.clone();
                fx.push(Effect::NotReported { stage: stage.clone(), round: *round });
                after_decision(wf, &mut s, &st, project, &mut fx)?;
            }
            _ => ignore(&mut fx, format!("a lapsed task of stage '{stage}' round {round} does not match the case")),
        },
        Input::Retry => {
            if s.status != Status::Blocked {
                ignore(&mut fx, "the case is not blocked".into());
            } else {
                s.status = Status::Active;
                let st = current(&s).ok_or_else(|| EngineError("a blocked case has no stage".into()))?;
                // A blocked case was waiting for a panel or its checks; draw or run them again.
                if matches!(s.phase, Phase::AwaitingPanel | Phase::AwaitingReviews)
                    && let Some(p) = &st.panel
                {
                    s.reviews.clear();
                    s.leader_task = None;
                    s.phase = Phase::AwaitingPanel;
                    fx.push(draw_panel(st, s.round, p));
                } else if s.phase == Phase::AwaitingChecks
                    && let Some(c) = &st.checks
                {
                    fx.push(run_checks(st, s.round, c));
                }
            }
        }
        Input::Fired { stage, .. } => match current(&s) {
            Some(st) if st.id == *stage && s.phase == Phase::AwaitingFire => {
                let st = st.clone();
                begin_work(wf, &mut s, &st, project, &mut fx)?;
            }
            _ => ignore(&mut fx, format!("the schedule of stage '{stage}' fired but the case is not waiting for it")),
        },
        Input::Submitted { stage, round, score, grade, .. } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingSubmission => {
                let st = st.clone();
                if st.scoring.is_some() {
                    s.score = *score;
                    s.grade = grade.clone();
                    s.score_source = Some("self_evaluation".into());
                }
                after_submission(wf, &mut s, &st, project, &mut fx)?;
            }
            _ => ignore(&mut fx, format!("a submission for stage '{stage}' round {round} does not match the case")),
        },
        Input::Checked { stage, round, check_id, errors, warnings, failures } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingChecks => {
                let st = st.clone();
                let policy = st.checks.as_ref().map(|c| (c.on_error, c.on_failure));
                let (on_error, on_failure) = policy.unwrap_or((CheckPolicy::Proceed, CheckPolicy::Proceed));
                let mut outcome = CheckPolicy::Proceed;
                if *errors > 0 {
                    outcome = outcome.max(on_error);
                }
                if *failures > 0 {
                    outcome = outcome.max(on_failure);
                }
                fx.push(Effect::ChecksConcluded {
                    stage: stage.clone(),
                    round: *round,
                    check_id: *check_id,
                    errors: *errors,
                    warnings: *warnings,
                    failures: *failures,
                    outcome,
                });
                match outcome {
                    CheckPolicy::Proceed => after_checks(wf, &mut s, &st, project, &mut fx)?,
                    CheckPolicy::Return => {
                        s.round += 1;
                        begin_work(wf, &mut s, &st, project, &mut fx)?;
                    }
                    CheckPolicy::Block => {
                        s.status = Status::Blocked;
                        fx.push(Effect::Blocked {
                            reason: format!(
                                "the plugin checks of stage '{stage}' found {errors} error(s) and {failures} plugin failure(s); the bureau must look at the findings and retry"
                            ),
                        });
                    }
                }
            }
            _ => ignore(&mut fx, format!("checks for stage '{stage}' round {round} do not match the case")),
        },
        Input::Declined { stage, round, task_id, user_id, reason } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingReviews => {
                if s.reviews.iter().any(|(t, _)| t == task_id) {
                    ignore(&mut fx, format!("review task {task_id} was already counted"));
                } else if let Some(p) = &st.panel {
                    fx.push(Effect::ReplaceMember {
                        stage: stage.clone(),
                        round: *round,
                        declined_task: *task_id,
                        user_id: *user_id,
                        reason: reason.clone(),
                        form: p.form,
                        within: p.within,
                    });
                }
            }
            _ => {
                ignore(&mut fx, format!("a declined review for stage '{stage}' round {round} does not match the case"))
            }
        },
        Input::PanelDrawn { stage, round, size } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingPanel => {
                s.panel_size = *size;
                s.phase = Phase::AwaitingReviews;
            }
            _ => ignore(&mut fx, format!("a panel for stage '{stage}' round {round} does not match the case")),
        },
        Input::PanelInfeasible { stage, round, reason } => match current(&s) {
            Some(st)
                if st.id == *stage
                    && *round == s.round
                    && matches!(s.phase, Phase::AwaitingPanel | Phase::AwaitingReviews) =>
            {
                s.status = Status::Blocked;
                fx.push(Effect::Blocked { reason: reason.clone() });
            }
            _ => ignore(&mut fx, format!("a panel report for stage '{stage}' does not match the case")),
        },
        Input::Reviewed { stage, round, task_id, score, leader } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingReviews => {
                if s.reviews.iter().any(|(t, _)| t == task_id) {
                    ignore(&mut fx, format!("review task {task_id} was already counted"));
                } else {
                    s.reviews.push((*task_id, *score));
                    if *leader {
                        s.leader_task = Some(*task_id);
                    }
                    if s.panel_size > 0 && s.reviews.len() as u32 >= s.panel_size {
                        let st = st.clone();
                        conclude_panel(wf, &mut s, &st, project, &mut fx)?;
                    }
                }
            }
            _ => ignore(&mut fx, format!("a review for stage '{stage}' round {round} does not match the case")),
        },
        Input::ReviewDeadline { stage, round } => match current(&s) {
            Some(st) if st.id == *stage && *round == s.round && s.phase == Phase::AwaitingReviews => {
                let quorum = st.panel.as_ref().and_then(|p| p.quorum);
                match quorum {
                    Some(q) if s.reviews.len() as u32 >= q => {
                        let st = st.clone();
                        fx.push(Effect::ClosePanel {
                            stage: stage.clone(),
                            round: *round,
                            reviews: s.reviews.len() as u32,
                            quorum: q,
                        });
                        conclude_panel(wf, &mut s, &st, project, &mut fx)?;
                    }
                    _ => ignore(&mut fx, format!("the review deadline of stage '{stage}' passed without a quorum")),
                }
            }
            _ => {
                ignore(&mut fx, format!("a review deadline for stage '{stage}' round {round} does not match the case"))
            }
        },
        Input::SpotCheckDrawn { stage, spot_check_id, selected } => match current(&s) {
            Some(st) if st.id == *stage && s.phase == Phase::AwaitingSpotCheck => {
                let st = st.clone();
                match (&st.spot_check, selected) {
                    (Some(sc), true) => {
                        s.phase = Phase::AwaitingSpotReview;
                        fx.push(Effect::OpenSpotReview {
                            stage: stage.clone(),
                            spot_check_id: *spot_check_id,
                            within: sc.within,
                        });
                    }
                    _ => after_scoring(wf, &mut s, &st, project, &mut fx)?,
                }
            }
            _ => ignore(&mut fx, format!("a spot-check draw for stage '{stage}' does not match the case")),
        },
        Input::SpotReviewed { stage, task_id, score, grade } => match current(&s) {
            Some(st) if st.id == *stage && s.phase == Phase::AwaitingSpotReview => {
                let st = st.clone();
                let margin = st.spot_check.map(|c| c.margin).unwrap_or(Decimal::from(10));
                let flagged = crate::domain::spot_check::flagged(
                    s.score.unwrap_or_default(),
                    *score,
                    s.grade.as_deref().unwrap_or(""),
                    grade,
                    margin,
                );
                fx.push(Effect::SpotChecked {
                    stage: stage.clone(),
                    task_id: *task_id,
                    self_score: s.score,
                    self_grade: s.grade.clone(),
                    reviewed_score: *score,
                    reviewed_grade: grade.clone(),
                    flagged: flagged.clone(),
                });
                s.score = Some(*score);
                s.grade = Some(grade.clone());
                s.score_source = Some("spot_check".into());
                s.flagged = flagged.is_some();
                after_scoring(wf, &mut s, &st, project, &mut fx)?;
            }
            _ => ignore(&mut fx, format!("a spot-check review for stage '{stage}' does not match the case")),
        },
        Input::Approved { stage, task_id } => match current(&s) {
            Some(st) if st.id == *stage && s.phase == Phase::AwaitingApproval => {
                if !st.actions.is_empty() {
                    fx.push(Effect::ActionsDecided { stage: stage.clone(), task_id: *task_id });
                }
                let next = s.stage.map(|i| i + 1).unwrap_or(0);
                enter(wf, &mut s, project, next, &mut fx)?;
            }
            _ => ignore(&mut fx, format!("an approval for stage '{stage}' does not match the case")),
        },
    }
    Ok((s, fx))
}

/// The panel's reviews are in (all, or a quorum at the deadline): flag far-off scores, compute
/// the panel's score by the stage's aggregation, and decide.
fn conclude_panel(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    let agg = st.panel.as_ref().map(|p| p.aggregate).unwrap_or(Aggregate::Mean);
    let margin = st.panel.as_ref().map(|p| p.outlier_margin).unwrap_or(15);
    let median = median(&s.reviews);
    let outliers: Vec<(i64, Decimal)> =
        s.reviews.iter().filter(|(_, x)| (*x - median).abs() > Decimal::from(margin)).copied().collect();
    if !outliers.is_empty() {
        fx.push(Effect::OutliersFlagged { stage: st.id.clone(), round: s.round, median, margin, outliers });
    }
    let leader_score = s.leader_task.and_then(|t| s.reviews.iter().find(|(id, _)| *id == t)).map(|(_, x)| *x);
    let panel_score = match (agg, leader_score) {
        (Aggregate::Leader, Some(x)) => x,
        _ => aggregate(agg, &s.reviews),
    };
    s.score = Some(panel_score);
    s.grade = Some(grade_for(panel_score));
    s.score_source = Some("panel".into());
    decide(wf, s, st, project, fx)
}

/// The median of the members' scores (the mean of the middle two for an even count).
pub fn median(reviews: &[(i64, Decimal)]) -> Decimal {
    let mut scores: Vec<Decimal> = reviews.iter().map(|(_, s)| *s).collect();
    scores.sort();
    match scores.len() {
        0 => Decimal::ZERO,
        n if n % 2 == 1 => scores[n / 2],
        n => (scores[n / 2 - 1] + scores[n / 2]) / Decimal::TWO,
    }
}

/// The panel's score from its members' scores, rounded to two places.
pub fn aggregate(how: Aggregate, reviews: &[(i64, Decimal)]) -> Decimal {
    let mut scores: Vec<Decimal> = reviews.iter().map(|(_, s)| *s).collect();
    scores.sort();
    if how == Aggregate::TrimmedMean && scores.len() >= 3 {
        scores.remove(0);
        scores.pop();
    }
    if scores.is_empty() {
        return Decimal::ZERO;
    }
    let sum: Decimal = scores.iter().sum();
    (sum / Decimal::from(scores.len() as u64))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn vars(s: &CaseState, project: &VarValue) -> Vars {
    let mut v = Vars::default();
    v.set("project", project.clone());
    v.set("score", s.score.map(VarValue::Decimal).unwrap_or(VarValue::Decimal(Decimal::ZERO)));
    v.set("grade", VarValue::Text(s.grade.clone().unwrap_or_default()));
    v.set("round", VarValue::Int(i64::from(s.round)));
    v.set("flagged", VarValue::Bool(s.flagged));
    v.set("source", VarValue::Text(s.score_source.clone().unwrap_or_default()));
    v
}

/// Enters the first stage at or after `from` whose condition holds; past the last stage the
/// case is completed.
fn enter(
    wf: &Workflow,
    s: &mut CaseState,
    project: &VarValue,
    from: usize,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    let mut i = from;
    loop {
        let Some(st) = wf.stages.get(i) else {
            s.stage = None;
            s.phase = Phase::Done;
            s.status = Status::Completed;
            fx.push(Effect::Finished { status: Status::Completed, reason: "every stage is done".into() });
            return Ok(());
        };
        if let Some(cond) = &st.when {
            let v = vars(s, project);
            match cond.eval_bool(&v) {
                Ok(true) => {}
                Ok(false) => {
                    fx.push(Effect::StageSkipped {
                        stage: st.id.clone(),
                        reason: format!("{} is false", cond.source()),
                    });
                    i += 1;
                    continue;
                }
                Err(e) => return Err(EngineError(e)),
            }
        }
        s.stage = Some(i);
        s.round = 0;
        s.revisions = 0;
        s.runs_done = 0;
        s.reviews.clear();
        s.leader_task = None;
        s.panel_size = 0;
        fx.push(Effect::StageEntered { stage: st.id.clone(), title: st.title.clone() });
        if !st.schedules.is_empty() {
            s.phase = Phase::AwaitingFire;
            fx.push(Effect::WaitingForSchedule { stage: st.id.clone(), cron: st.cron_sources() });
            return Ok(());
        }
        return begin_work(wf, s, st, project, fx);
    }
}

/// Starts the stage's work: a submission if it has one, otherwise its proposal and approval.
fn begin_work(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if let Some(sub) = &st.submit {
        s.phase = Phase::AwaitingSubmission;
        fx.push(Effect::OpenSubmission {
            stage: st.id.clone(),
            round: s.round,
            by: sub.by,
            form: sub.form,
            within: sub.within,
        });
        Ok(())
    } else {
        conclude(wf, s, st, project, fx)
    }
}

fn draw_panel(st: &Stage, round: u32, p: &crate::workflow::Panel) -> Effect {
    Effect::DrawPanel {
        stage: st.id.clone(),
        round,
        department: p.department,
        finance: p.finance,
        expert: p.expert,
        form: p.form,
        within: p.within,
    }
}

fn run_checks(st: &Stage, round: u32, c: &crate::workflow::Checks) -> Effect {
    Effect::RunChecks { stage: st.id.clone(), round, plugins: c.plugins.iter().map(|p| p.plugin.clone()).collect() }
}

fn after_submission(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if let Some(c) = &st.checks {
        s.phase = Phase::AwaitingChecks;
        fx.push(run_checks(st, s.round, c));
        return Ok(());
    }
    after_checks(wf, s, st, project, fx)
}

/// After a submission passed its checks (or the stage has none): the panel, the decision, or on.
fn after_checks(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if let Some(p) = &st.panel {
        s.phase = Phase::AwaitingPanel;
        s.reviews.clear();
        s.leader_task = None;
        s.panel_size = p.size();
        fx.push(draw_panel(st, s.round, p));
        return Ok(());
    }
    if st.spot_check.is_some() {
        s.phase = Phase::AwaitingSpotCheck;
        fx.push(Effect::AwaitingSpotCheck { stage: st.id.clone() });
        return Ok(());
    }
    after_scoring(wf, s, st, project, fx)
}

/// After a submission's score is final (its own, or a spot check's re-score): decide, or on.
fn after_scoring(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if !st.decide.is_empty() {
        return decide(wf, s, st, project, fx);
    }
    after_decision(wf, s, st, project, fx)
}

fn decide(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    let v = vars(s, project);
    let mut chosen = None;
    for r in &st.decide {
        let hit = match &r.when {
            None => true,
            Some(e) => e.eval_bool(&v).map_err(EngineError)?,
        };
        if hit {
            chosen = Some(r);
            break;
        }
    }
    let Some(rule) = chosen else {
        // A checked workflow always ends with `else`; stay put and say so.
        s.status = Status::Blocked;
        fx.push(Effect::Blocked { reason: format!("no decision rule of stage '{}' matched", st.id) });
        return Ok(());
    };
    let rule_text = rule.when.as_ref().map(|e| e.source().to_string());
    let outcome_name = match rule.outcome {
        Outcome::Next => "next".to_string(),
        Outcome::Reject => "reject".to_string(),
        Outcome::Revise { .. } => "revise".to_string(),
        Outcome::Goto(j) => format!("goto {}", wf.stages.get(j).map(|x| x.id.as_str()).unwrap_or("?")),
    };
    fx.push(Effect::Decided {
        stage: st.id.clone(),
        round: s.round,
        score: s.score,
        grade: s.grade.clone(),
        outcome: outcome_name,
        rule: rule_text,
    });
    match rule.outcome {
        Outcome::Next => after_decision(wf, s, st, project, fx),
        Outcome::Reject => {
            finish_rejected(s, fx, format!("rejected at stage '{}'", st.id));
            Ok(())
        }
        Outcome::Revise { max_rounds } => {
            if s.revisions >= max_rounds {
                finish_rejected(
                    s,
                    fx,
                    format!("stage '{}' needed revision after {max_rounds} revision round(s), the most allowed", st.id),
                );
                Ok(())
            } else {
                s.round += 1;
                s.revisions += 1;
                s.reviews.clear();
                s.leader_task = None;
                s.panel_size = 0;
                begin_work(wf, s, st, project, fx)
            }
        }
        Outcome::Goto(j) => enter(wf, s, project, j, fx),
    }
}

fn finish_rejected(s: &mut CaseState, fx: &mut Vec<Effect>, reason: String) {
    s.status = Status::Rejected;
    s.phase = Phase::Done;
    fx.push(Effect::Finished { status: Status::Rejected, reason });
}

/// After a stage's work is decided: propose actions and ask for approval if the stage says so,
/// wait for the next scheduled run if runs remain, or go on.
fn after_decision(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if !st.schedules.is_empty() {
        s.runs_done += 1;
        if s.runs_done < st.runs() {
            s.phase = Phase::AwaitingFire;
            fx.push(Effect::WaitingForSchedule { stage: st.id.clone(), cron: st.cron_sources() });
            return Ok(());
        }
    }
    conclude(wf, s, st, project, fx)
}

/// Proposes the stage's actions and asks for approval if it has them, else goes on.
fn conclude(
    wf: &Workflow,
    s: &mut CaseState,
    st: &Stage,
    project: &VarValue,
    fx: &mut Vec<Effect>,
) -> Result<(), EngineError> {
    if !st.actions.is_empty() {
        let v = vars(s, project);
        let mut actions = Vec::new();
        for a in &st.actions {
            let hit = match &a.when {
                None => true,
                Some(e) => e.eval_bool(&v).map_err(EngineError)?,
            };
            if hit {
                actions.push(ProposedAction { kind: a.kind, percent: a.percent });
            }
        }
        fx.push(Effect::ProposeActions {
            stage: st.id.clone(),
            actions,
            score: s.score,
            grade: s.grade.clone(),
            source: s.score_source.clone(),
        });
    }
    if let Some(ap) = &st.approve {
        s.phase = Phase::AwaitingApproval;
        fx.push(Effect::OpenApproval { stage: st.id.clone(), by: ap.by, within: ap.within });
        return Ok(());
    }
    let next = s.stage.map(|i| i + 1).unwrap_or(0);
    enter(wf, s, project, next, fx)
}

/// A project as expression variables (`project.amount_yuan`, `project.is_new`, ...).
pub fn project_vars(p: &crate::domain::project::Project) -> VarValue {
    use std::collections::BTreeMap;
    let mut m = BTreeMap::new();
    m.insert("code".into(), VarValue::Text(p.code.clone()));
    m.insert("name".into(), VarValue::Text(p.name.clone()));
    m.insert("department".into(), VarValue::Text(p.department_code.clone()));
    m.insert("sector".into(), VarValue::Text(p.sector.clone()));
    m.insert("amount_yuan".into(), VarValue::Int(p.amount.whole_yuan()));
    m.insert("amount_fen".into(), VarValue::Int(p.amount.fen()));
    m.insert("fiscal_year".into(), VarValue::Int(i64::from(p.fiscal_year)));
    m.insert("is_new".into(), VarValue::Bool(p.is_new));
    let funding =
        serde_json::to_value(p.funding_source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    m.insert("funding_source".into(), VarValue::Text(funding));
    m.insert("indicator_count".into(), VarValue::Int(p.indicators.len() as i64));
    VarValue::Map(m)
}
