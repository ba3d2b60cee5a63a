//! The validated, compiled form of a workflow definition: what the engine reads. Built only by
//! `workflow::parse`, so every value here has been checked (stage references resolved to
//! indices, expressions compiled, cron strings and durations parsed).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::expr::Expr;
use crate::domain::calendar::WorkDuration;

/// A role a person acts in. Departments are bound to one department; panel members are
/// department, finance or expert users drawn for a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Finance,
    Department,
    Expert,
    ThirdParty,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Finance, Role::Department, Role::Expert, Role::ThirdParty];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Department => "department",
            Role::Expert => "expert",
            Role::ThirdParty => "third_party",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a role (expected admin, finance, department, expert or third_party)"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a workflow's cases are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A budget project (项目支出).
    Project,
    /// A department's overall spending for the year (部门整体).
    Department,
}

impl Subject {
    pub const ALL: [Subject; 2] = [Subject::Project, Subject::Department];

    /// Also the value of `projects.kind` for the records such a workflow takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Project => "project",
            Subject::Department => "department",
        }
    }
}

/// What a stage is for; decides which forms it uses and what the bureau sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    PreAssessment,
    TargetReview,
    Monitoring,
    SelfEvaluation,
    ResultApplication,
    Disclosure,
}

impl StageKind {
    pub const ALL: [StageKind; 6] = [
        StageKind::PreAssessment,
        StageKind::TargetReview,
        StageKind::Monitoring,
        StageKind::SelfEvaluation,
        StageKind::ResultApplication,
        StageKind::Disclosure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::PreAssessment => "pre_assessment",
            StageKind::TargetReview => "target_review",
            StageKind::Monitoring => "monitoring",
            StageKind::SelfEvaluation => "self_evaluation",
            StageKind::ResultApplication => "result_application",
            StageKind::Disclosure => "disclosure",
        }
    }
}

/// The form a submission task asks for; each has its own validation in `engine::forms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitForm {
    /// 事前绩效评估报告: the department's ex-ante assessment report.
    ExAnteReport,
    /// 绩效目标申报: the project's indicators.
    Targets,
    /// 监控表: executed amount and per-indicator progress.
    Monitoring,
    /// 自评表: executed amount and actual values.
    SelfEvaluation,
}

impl SubmitForm {
    pub const ALL: [SubmitForm; 4] =
        [SubmitForm::ExAnteReport, SubmitForm::Targets, SubmitForm::Monitoring, SubmitForm::SelfEvaluation];
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitForm::ExAnteReport => "ex_ante_report",
            SubmitForm::Targets => "targets",
            SubmitForm::Monitoring => "monitoring",
            SubmitForm::SelfEvaluation => "self_evaluation",
        }
    }
}

/// The score sheet panel members fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewForm {
    /// Five dimensions × 20 points (DOMAIN.md §1).
    ExAnteAssessment,
    /// 完整性, 相关性, 适当性, 可行性 × 25 points (DOMAIN.md §3).
    TargetReview,
}

impl ReviewForm {
    pub const ALL: [ReviewForm; 2] = [ReviewForm::ExAnteAssessment, ReviewForm::TargetReview];
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewForm::ExAnteAssessment => "ex_ante_assessment",
            ReviewForm::TargetReview => "target_review",
        }
    }
    /// The criteria of the form with the points each carries.
    pub fn criteria(self) -> &'static [(&'static str, u32)] {
        match self {
            ReviewForm::ExAnteAssessment => &[
                ("立项必要性", 20),
                ("投入经济性", 20),
                ("绩效目标合理性", 20),
                ("实施方案可行性", 20),
                ("筹资合规性", 20),
            ],
            ReviewForm::TargetReview => &[("完整性", 25), ("相关性", 25), ("适当性", 25), ("可行性", 25)],
        }
    }

    /// The sub-items a criterion may be rated by instead of a number (优/良/中/差 each; the
    /// criterion's points are its maximum times the mean of the ratings' shares, `RATING_SHARES`).
    pub fn sub_items(self, criterion: &str) -> &'static [&'static str] {
        match (self, criterion) {
            (ReviewForm::ExAnteAssessment, "立项必要性") => {
                &["政策相符性", "需求迫切性", "职能相关性", "与其他项目不重复"]
            }
            (ReviewForm::ExAnteAssessment, "投入经济性") => {
                &["成本测算合理性", "投入产出匹配性", "资金来源多元性"]
            }
            (ReviewForm::ExAnteAssessment, "绩效目标合理性") => {
                &["目标明确性", "指标细化量化", "目标与投入匹配"]
            }
            (ReviewForm::ExAnteAssessment, "实施方案可行性") => {
                &["组织与制度保障", "实施计划与进度", "风险识别与应对"]
            }
            (ReviewForm::ExAnteAssessment, "筹资合规性") => &["资金来源合法合规", "财政承受能力", "分担机制明确"],
            _ => &[],
        }
    }
}

/// The share of a criterion's points each rating of a sub-item earns (优 all of them, 差 two
/// fifths): the bureau's default, applied as the mean over the criterion's sub-items.
pub const RATING_SHARES: [(&str, u32); 4] = [("优", 100), ("良", 80), ("中", 60), ("差", 40)];

impl ReviewForm {}

/// How a panel's member scores become the panel's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Mean,
    /// Drops the highest and the lowest score when there are at least three.
    TrimmedMean,
    /// The leader's score is the panel's conclusion (the others' scores are advice).
    Leader,
}

/// What happens to a fire time that passed while no server was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Fire once on start-up for the latest missed time; earlier ones are recorded as skipped.
    RunOnce,
    /// Record every missed time as skipped.
    Skip,
}

/// A cron schedule in the workflow's time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub source: String,
    pub cron: cron::Schedule,
    /// How many fires a case takes part in before the stage is done.
    pub runs: u32,
    pub missed: MissedPolicy,
}

impl Schedule {
    /// The fire times strictly after `after` and at or before `until`, in UTC.
    pub fn fires_between(&self, tz: Tz, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let local = after.with_timezone(&tz);
        self.cron.after(&local).map(|t| t.with_timezone(&Utc)).take_while(|t| *t <= until).take(10_000).collect()
    }

    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&after.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc))
    }
}

#[derive(Debug, Clone)]
pub struct Submit {
    pub by: Role,
    pub form: SubmitForm,
    pub within: WorkDuration,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub department: u32,
    pub finance: u32,
    pub expert: u32,
    pub form: ReviewForm,
    pub within: WorkDuration,
    pub aggregate: Aggregate,
    /// The recusal rules candidates are checked against.
    pub recusal: crate::domain::panel::RecusalPolicy,
    /// A member whose score differs from the panel's median by more than this many points is
    /// flagged for the leader.
    pub outlier_margin: u32,
    /// What happens to a member who misses the deadline.
    pub on_overdue: OverduePolicy,
    /// With a quorum, a panel that has this many reviews when the deadline passes decides with
    /// them; without, it waits for every member.
    pub quorum: Option<u32>,
}

/// What happens to a panel member who has not scored by the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverduePolicy {
    /// Keep waiting (the bureau chases the member).
    Wait,
    /// Close the member's review and draw a replacement under the same rules.
    Replace,
}

impl Panel {
    pub fn size(&self) -> u32 {
        self.department + self.finance + self.expert
    }
}

/// The outcome of a decision rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on to the next stage whose condition holds (or finish the case).
    Next,
    /// Return the submission to the department for another round, at most `max_rounds`
    /// revisions; one more ends the case rejected.
    Revise { max_rounds: u32 },
    /// End the case rejected.
    Reject,
    /// Jump to the stage with this index.
    Goto(usize),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// `None` is the `else` rule.
    pub when: Option<Expr>,
    pub outcome: Outcome,
}

/// A result action the bureau may take (DOMAIN.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Commend,
    Keep,
    Rectify,
    Cut,
    Suspend,
    Recover,
    Cancel,
}

impl ActionKind {
    pub const ALL: [ActionKind; 7] = [
        ActionKind::Commend,
        ActionKind::Keep,
        ActionKind::Rectify,
        ActionKind::Cut,
        ActionKind::Suspend,
        ActionKind::Recover,
        ActionKind::Cancel,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Commend => "commend",
            ActionKind::Keep => "keep",
            ActionKind::Rectify => "rectify",
            ActionKind::Cut => "cut",
            ActionKind::Suspend => "suspend",
            ActionKind::Recover => "recover",
            ActionKind::Cancel => "cancel",
        }
    }
}

/// Proposes an action when its condition holds.
#[derive(Debug, Clone)]
pub struct ActionRule {
    pub when: Option<Expr>,
    pub kind: ActionKind,
    /// For `cut`: the share of next year's budget to cut, in percent.
    pub percent: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Approve {
    pub by: Role,
    pub within: WorkDuration,
}

/// What a stage does with a submission when its plugin checks find something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPolicy {
    /// Record the findings and go on (the panel sees them).
    Proceed,
    /// Send the submission back to the department to fix, with the findings.
    Return,
    /// Stop the case until the bureau retries it.
    Block,
}

impl CheckPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckPolicy::Proceed => "proceed",
            CheckPolicy::Return => "return",
            CheckPolicy::Block => "block",
        }
    }
}

/// A plugin a check step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PluginRef {
    /// A plugin by name; the latest installed version unless one is named.
    Named { name: String, version: Option<String> },
    /// Every plugin that declares the project's sector (`$sector` in a definition).
    Sector,
}

impl PluginRef {
    /// Reads `name`, `name@version` or `$sector`.
    pub fn parse(text: &str) -> Result<PluginRef, String> {
        let t = text.trim();
        if t == SECTOR_PLUGIN_REF {
            return Ok(PluginRef::Sector);
        }
        let (name, version) = match t.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (t, None),
        };
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "'{t}' is not a plugin reference (expected a plugin name such as common, name@version such as common@1.0.0, or {SECTOR_PLUGIN_REF} for the project's sector plugin)"
            ));
        }
        if let Some(v) = version
            && (v.is_empty()
                || v.len() > 32
                || !v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
        {
            return Err(format!("'{v}' is not a plugin version (expected digits and dots, e.g. 1.0.0)"));
        }
        Ok(PluginRef::Named { name: name.to_string(), version: version.map(str::to_string) })
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginRef::Named { name, version: Some(v) } => write!(f, "{name}@{v}"),
            PluginRef::Named { name, version: None } => f.write_str(name),
            PluginRef::Sector => f.write_str(SECTOR_PLUGIN_REF),
        }
    }
}

/// How a definition names "the plugins for the project's sector".
pub const SECTOR_PLUGIN_REF: &str = "$sector";

/// A plugin reference with where it was written (for definition errors found after parsing,
/// when the installed plugins are known).
#[derive(Debug, Clone)]
pub struct PluginRefAt {
    pub plugin: PluginRef,
    pub line: usize,
    pub column: usize,
}

/// The indicator checks a stage runs on each submission, as a queued job, before its panel or
/// decision.
#[derive(Debug, Clone)]
pub struct Checks {
    pub plugins: Vec<PluginRefAt>,
    /// What an error finding does.
    pub on_error: CheckPolicy,
    /// What a plugin that failed (trapped, timed out, is missing ...) does.
    pub on_failure: CheckPolicy,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub id: String,
    pub kind: StageKind,
    pub title: String,
    pub when: Option<Expr>,
    /// The stage's cron schedules (`schedule:` for one, `schedules:` for several); a case
    /// takes part in the sum of their `runs`.
    pub schedules: Vec<Schedule>,
    /// The warning-light bands of a monitoring stage (the provincial defaults unless written).
    pub lights: Option<crate::domain::monitoring::Bands>,
    pub submit: Option<Submit>,
    pub checks: Option<Checks>,
    pub panel: Option<Panel>,
    /// The self-evaluation scoring scheme's id (e.g. `mof_2020_10`).
    pub scoring: Option<String>,
    pub decide: Vec<Rule>,
    pub actions: Vec<ActionRule>,
    pub approve: Option<Approve>,
    /// 抽查复核 of a scored stage's submissions (`spot_check:`).
    pub spot_check: Option<SpotCheck>,
    /// How approved rectifications are followed (`rectify:`); the defaults unless written.
    pub rectify: Option<Rectify>,
    /// Reminders before a task's deadline (`remind: [-3 workdays, -1 workday]`), to whoever
    /// must act while the task is open.
    pub remind: Vec<WorkDuration>,
    /// With `escalate: N workdays`, an open task is reported overdue at its deadline to whoever
    /// must act, and to the bureau N working days later.
    pub escalate: Option<WorkDuration>,
}

/// Spot checks of self-evaluations: a seeded sample (stratified by department unless told
/// otherwise) is re-scored by the bureau, and differences beyond the margin are flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpotCheck {
    /// The share sampled, as a fraction (0.15 for 15%).
    pub share: rust_decimal::Decimal,
    pub stratify_by_department: bool,
    /// Points of difference beyond which a re-score is flagged.
    pub margin: rust_decimal::Decimal,
    /// The reviewer's deadline.
    pub within: WorkDuration,
}

impl Default for SpotCheck {
    fn default() -> Self {
        SpotCheck {
            share: rust_decimal::Decimal::new(15, 2),
            stratify_by_department: true,
            margin: rust_decimal::Decimal::from(10),
            within: WorkDuration::Workdays(10),
        }
    }
}

/// A rectification order's deadline, and the action proposed when it passes unrectified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rectify {
    pub within: WorkDuration,
    pub unrectified: ActionKind,
    /// For an escalation to `cut`: the share of the budget, in percent.
    pub percent: Option<u32>,
}

impl Default for Rectify {
    fn default() -> Self {
        Rectify { within: WorkDuration::Workdays(30), unrectified: ActionKind::Cut, percent: Some(10) }
    }
}

impl Stage {
    /// How many scheduled fires a case takes part in before the stage is done.
    pub fn runs(&self) -> u32 {
        self.schedules.iter().map(|s| s.runs).sum()
    }

    /// The cron strings, for events and views.
    pub fn cron_sources(&self) -> String {
        self.schedules.iter().map(|s| s.source.as_str()).collect::<Vec<_>>().join(" | ")
    }
}

/// A published, immutable workflow version.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub timezone: Tz,
    /// What a cycle of this workflow takes up: budget projects, or departments' overall
    /// spending (部门整体).
    pub subject: Subject,
    pub stages: Vec<Stage>,
    /// The definition as written; stored so the exact text of every version is kept.
    pub source: String,
}

impl Workflow {
    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }
}
