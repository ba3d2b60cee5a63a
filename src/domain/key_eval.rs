//! Key performance evaluation (财政重点绩效评价) of a project or of a department's overall spending,
//! carried out by a third-party institution in six staged deliverables.
//!
//! The stages, in order ([`KeyStage::ALL`]): 工作方案及指标体系, 现场核查, 征求意见稿,
//! 被评价单位反馈意见, 最终评价报告, 整改报告. The third party submits the deliverable of the open
//! stage; then each of the three parties (third party, evaluated unit, finance bureau) answers it
//! once. Three agreements confirm the stage and open the next one; a single disagreement (which
//! must say why) reopens the stage at once: the deliverable and the answers are dropped, the round
//! goes up by one and the third party submits again.
//!
//! The overall score is read from the final report: the evaluator's achievement (0–100 %) on each
//! level-1 (决策/过程/产出/效益) times the level-1's weight, summed and divided by 100. The weights
//! follow 财预〔2020〕10号 annex 2: they sum to exactly 100 and 产出 + 效益 carry at least 60.
//! Arithmetic is exact `Decimal`; only the total is rounded (2 places, half away from zero), once,
//! at the end.
//!
//! Every transition of [`Progress`] either succeeds and returns the events it produced, or fails
//! and leaves the progress exactly as it was. Nothing here panics on any input.
//!
//! Choices this module had to make:
//!
//! * Texts that must not be empty (title, document names, indicators, a disagreement's comment)
//!   count a text of blanks only as empty; lengths are counted in characters, not bytes.
//! * The weights are checked when they are needed, i.e. when the final report is confirmed: an
//!   invalid set of weights then refuses the agreement that would confirm the final report
//!   with the issues, and nothing changes.
//! * Confirmed deliverables are kept in [`Progress::accepted`], so the final report survives the
//!   opening of the rectification stage.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Longest title of a deliverable, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest summary of a deliverable, in characters.
pub const MAX_SUMMARY_CHARS: usize = 20_000;
/// Most documents attached to one deliverable.
pub const MAX_DOCUMENTS: usize = 50;
/// Longest document reference, in characters.
pub const MAX_DOCUMENT_CHARS: usize = 500;
/// Most indicators in an indicator system.
pub const MAX_INDICATORS: usize = 200;
/// Longest indicator, in characters.
pub const MAX_INDICATOR_CHARS: usize = 200;
/// Most findings in one deliverable.
pub const MAX_FINDINGS: usize = 100;
/// Longest finding, in characters.
pub const MAX_FINDING_CHARS: usize = 2_000;
/// Longest comment of an answer, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;
/// The least share, in percent, that 产出 + 效益 must carry.
pub const MIN_OUTPUT_BENEFIT: Decimal = Decimal::from_parts(60, 0, 0, false, 0);

/// One problem with one field of an input, named by its path (e.g. `weights.decision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub path: String,
    pub message: String,
}

impl FieldIssue {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldIssue { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for FieldIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn issues_text(issues: &[FieldIssue]) -> String {
    issues.iter().map(FieldIssue::to_string).collect::<Vec<_>>().join("; ")
}

/// One of the three parties that confirm every stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The third-party institution (第三方机构) that performs the evaluation.
    ThirdParty,
    /// The evaluated unit (被评价单位).
    Unit,
    /// The finance bureau (财政部门) that commissioned the evaluation.
    Finance,
}

impl Party {
    pub const ALL: [Party; 3] = [Party::ThirdParty, Party::Unit, Party::Finance];

    pub const fn as_str(self) -> &'static str {
        match self {
            Party::ThirdParty => "third_party",
            Party::Unit => "unit",
            Party::Finance => "finance",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Party::ThirdParty => "第三方机构",
            Party::Unit => "被评价单位",
            Party::Finance => "财政部门",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no party.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a party of a key evaluation (expected one of third_party, unit, finance)")]
pub struct UnknownParty(pub String);

impl FromStr for Party {
    type Err = UnknownParty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Party::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownParty(s.to_owned()))
    }
}

/// The six staged deliverables of a key evaluation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStage {
    WorkPlan,
    SiteVerification,
    Draft,
    Feedback,
    FinalReport,
    Rectification,
}

impl KeyStage {
    pub const ALL: [KeyStage; 6] = [
        KeyStage::WorkPlan,
        KeyStage::SiteVerification,
        KeyStage::Draft,
        KeyStage::Feedback,
        KeyStage::FinalReport,
        KeyStage::Rectification,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            KeyStage::WorkPlan => "work_plan",
            KeyStage::SiteVerification => "site_verification",
            KeyStage::Draft => "draft",
            KeyStage::Feedback => "feedback",
            KeyStage::FinalReport => "final_report",
            KeyStage::Rectification => "rectification",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            KeyStage::WorkPlan => "工作方案及指标体系",
            KeyStage::SiteVerification => "现场核查",
            KeyStage::Draft => "征求意见稿",
            KeyStage::Feedback => "被评价单位反馈意见",
            KeyStage::FinalReport => "最终评价报告",
            KeyStage::Rectification => "整改报告",
        }
    }

    /// The stage that opens once this one is confirmed; `None` after the rectification report.
    pub const fn next(self) -> Option<KeyStage> {
        match self {
            KeyStage::WorkPlan => Some(KeyStage::SiteVerification),
            KeyStage::SiteVerification => Some(KeyStage::Draft),
            KeyStage::Draft => Some(KeyStage::Feedback),
            KeyStage::Feedback => Some(KeyStage::FinalReport),
            KeyStage::FinalReport => Some(KeyStage::Rectification),
            KeyStage::Rectification => None,
        }
    }
}

impl fmt::Display for KeyStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a stage of a key evaluation (expected one of work_plan, site_verification, draft, feedback, \
     final_report, rectification)"
)]
pub struct UnknownStage(pub String);

impl FromStr for KeyStage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyStage::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

/// The four level-1 parts of the indicator system, for messages and paths.
const PARTS: [(&str, &str); 4] = [("decision", "决策"), ("process", "过程"), ("output", "产出"), ("benefit", "效益")];

/// Checks that each value lies in `0..=100`, naming the field `{prefix}.{part}` otherwise.
fn check_percentages(prefix: &str, what: &str, values: [Decimal; 4], issues: &mut Vec<FieldIssue>) {
    for ((name, label), value) in PARTS.into_iter().zip(values) {
        if value < Decimal::ZERO || value > Decimal::ONE_HUNDRED {
            issues.push(FieldIssue::new(
                format!("{prefix}.{name}"),
                format!("{label} {what} is {}, expected 0 to 100", value.normalize()),
            ));
        }
    }
}

/// The weights (in percent) of the four level-1 parts: 决策, 过程, 产出, 效益.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub decision: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub process: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub output: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub benefit: Decimal,
}

impl Default for Weights {
    /// 20 / 20 / 30 / 30, the usual split under 财预〔2020〕10号.
    fn default() -> Self {
        Weights {
            decision: Decimal::from(20),
            process: Decimal::from(20),
            output: Decimal::from(30),
            benefit: Decimal::from(30),
        }
    }
}

impl Weights {
    fn values(&self) -> [Decimal; 4] {
        [self.decision, self.process, self.output, self.benefit]
    }

    /// Each weight in `0..=100`, the four summing to exactly 100, 产出 + 效益 at least 60.
    /// All problems are reported at once.
    pub fn validate(&self) -> Result<(), Vec<FieldIssue>> {
        let mut issues = Vec::new();
        check_percentages("weights", "weight", self.values(), &mut issues);
        let sum = self.values().into_iter().try_fold(Decimal::ZERO, |acc, v| acc.checked_add(v));
        match sum {
            Some(sum) if sum == Decimal::ONE_HUNDRED => {}
            Some(sum) => issues.push(FieldIssue::new(
                "weights",
                format!("the weights sum to {}, expected exactly 100", sum.normalize()),
            )),
            None => issues.push(FieldIssue::new("weights", "the weights sum beyond any number, expected exactly 100")),
        }
        match self.output.checked_add(self.benefit) {
            Some(carried) if carried >= MIN_OUTPUT_BENEFIT => {}
            Some(carried) => issues.push(FieldIssue::new(
                "weights",
                format!(
                    "产出 + 效益 carry {}, at least {MIN_OUTPUT_BENEFIT} is required (财预〔2020〕10号 annex 2)",
                    carried.normalize()
                ),
            )),
            // Only reachable with weights far above 100, already reported one by one.
            None => {}
        }
        if issues.is_empty() { Ok(()) } else { Err(issues) }
    }
}

/// The evaluator's achievement, in percent (0–100), on each level-1 part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartScores {
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub decision: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub process: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub output: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub benefit: Decimal,
}

impl PartScores {
    fn values(&self) -> [Decimal; 4] {
        [self.decision, self.process, self.output, self.benefit]
    }

    /// Each score in `0..=100`; paths `scores.decision` and so on.
    pub fn validate(&self) -> Result<(), Vec<FieldIssue>> {
        let mut issues = Vec::new();
        check_percentages("scores", "score", self.values(), &mut issues);
        if issues.is_empty() { Ok(()) } else { Err(issues) }
    }
}

/// The overall score: Σ weight × score / 100, exact, rounded to 2 places (half away from zero) at
/// the end only. Both inputs are validated first and all their problems reported together.
pub fn final_score(w: &Weights, s: &PartScores) -> Result<Decimal, Vec<FieldIssue>> {
    let mut issues = w.validate().err().unwrap_or_default();
    issues.extend(s.validate().err().unwrap_or_default());
    if !issues.is_empty() {
        return Err(issues);
    }
    // Validated: every factor lies in 0..=100, so no step below can overflow; the checked
    // operations only keep that promise without a panic path.
    let total = w
        .values()
        .into_iter()
        .zip(s.values())
        .try_fold(Decimal::ZERO, |acc, (weight, score)| acc.checked_add(weight.checked_mul(score)?))
        .and_then(|sum| sum.checked_div(Decimal::ONE_HUNDRED))
        .ok_or_else(|| vec![FieldIssue::new("scores", "the weighted sum cannot be computed exactly")])?;
    Ok(total.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// What the third party hands in for a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deliverable {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    /// References to the attached documents (file names, archive numbers, links).
    #[serde(default)]
    pub documents: Vec<String>,
    /// The indicator system; required by the work plan.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// The level-1 scores; required by the final report, refused anywhere else.
    #[serde(default)]
    pub scores: Option<PartScores>,
    /// Problems found, for the draft, the final report and the rectification report.
    #[serde(default)]
    pub findings: Vec<String>,
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Checks a required text (not blank, at most `max` characters).
fn check_required_text(path: String, what: &str, text: &str, max: usize, issues: &mut Vec<FieldIssue>) {
    if is_blank(text) {
        issues.push(FieldIssue::new(path, format!("the {what} is empty, expected 1 to {max} characters")));
    } else {
        check_max_chars(path, what, text, max, issues);
    }
}

/// Checks an optional text (at most `max` characters).
fn check_max_chars(path: String, what: &str, text: &str, max: usize, issues: &mut Vec<FieldIssue>) {
    let chars = text.chars().count();
    if chars > max {
        issues.push(FieldIssue::new(path, format!("the {what} has {chars} characters, at most {max} are allowed")));
    }
}

fn check_count(path: &str, what: &str, count: usize, max: usize, issues: &mut Vec<FieldIssue>) {
    if count > max {
        issues.push(FieldIssue::new(path, format!("{count} {what} given, at most {max} are allowed")));
    }
}

/// Checks a deliverable against the requirements of `stage`, reporting all problems at once.
pub fn check_deliverable(stage: KeyStage, d: &Deliverable) -> Result<(), Vec<FieldIssue>> {
    let mut issues = Vec::new();
    check_required_text("title".into(), "title", &d.title, MAX_TITLE_CHARS, &mut issues);
    check_max_chars("summary".into(), "summary", &d.summary, MAX_SUMMARY_CHARS, &mut issues);

    check_count("documents", "documents", d.documents.len(), MAX_DOCUMENTS, &mut issues);
    for (i, doc) in d.documents.iter().enumerate() {
        check_required_text(format!("documents[{i}]"), "document reference", doc, MAX_DOCUMENT_CHARS, &mut issues);
    }

    if stage == KeyStage::WorkPlan && d.indicators.is_empty() {
        issues.push(FieldIssue::new(
            "indicators",
            format!("the {} needs its indicator system (指标体系): at least one indicator", stage.label()),
        ));
    }
    check_count("indicators", "indicators", d.indicators.len(), MAX_INDICATORS, &mut issues);
    for (i, indicator) in d.indicators.iter().enumerate() {
        check_required_text(format!("indicators[{i}]"), "indicator", indicator, MAX_INDICATOR_CHARS, &mut issues);
    }

    match (&d.scores, stage) {
        (Some(scores), KeyStage::FinalReport) => issues.extend(scores.validate().err().unwrap_or_default()),
        (None, KeyStage::FinalReport) => issues.push(FieldIssue::new(
            "scores",
            format!("the {} needs the scores of 决策, 过程, 产出 and 效益 (0 to 100 each)", stage.label()),
        )),
        (Some(_), _) => issues.push(FieldIssue::new(
            "scores",
            format!(
                "only the {} carries scores; the {} ({}) must not",
                KeyStage::FinalReport.label(),
                stage.label(),
                stage.as_str()
            ),
        )),
        (None, _) => {}
    }

    check_count("findings", "findings", d.findings.len(), MAX_FINDINGS, &mut issues);
    for (i, finding) in d.findings.iter().enumerate() {
        check_max_chars(format!("findings[{i}]"), "finding", finding, MAX_FINDING_CHARS, &mut issues);
    }

    if issues.is_empty() { Ok(()) } else { Err(issues) }
}

/// `Option<Decimal>` as an optional string. (`rust_decimal::serde::str_option` refuses the `null`
/// that serde buffers for an internally tagged enum such as [`KeyEvent`].)
mod optional_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        value.map(|d| d.to_string()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|s| s.parse::<Decimal>().map_err(|e| D::Error::custom(format!("'{s}' is not a decimal number: {e}"))))
            .transpose()
    }
}

/// A comment made by a party on a round of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub stage: KeyStage,
    pub round: u32,
    pub party: Party,
    /// Whether the comment came with an agreement (`false`: it reopened the stage).
    pub agreed: bool,
    pub text: String,
}

/// A deliverable confirmed by all three parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub stage: KeyStage,
    /// The round in which it was confirmed.
    pub round: u32,
    pub deliverable: Deliverable,
}

/// What a successful transition did, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyEvent {
    /// The third party handed in the deliverable of the round.
    Submitted { stage: KeyStage, round: u32 },
    /// A party agreed with the deliverable of the round (comment, if any, recorded).
    Agreed { stage: KeyStage, round: u32, by: Party, comment: Option<String> },
    /// A party disagreed: the stage is open again in `round` (the new round), waiting for a new
    /// deliverable.
    Reopened { stage: KeyStage, round: u32, by: Party, comment: String },
    /// All three parties agreed with the deliverable of `round`.
    Confirmed { stage: KeyStage, round: u32 },
    /// The final report was confirmed and the overall score fixed.
    Scored {
        #[serde(with = "rust_decimal::serde::str")]
        score: Decimal,
    },
    /// The next stage is open (round 0, nothing submitted).
    Opened { stage: KeyStage },
    /// The rectification report was confirmed: the evaluation is over.
    Finished {
        #[serde(with = "optional_decimal")]
        final_score: Option<Decimal>,
    },
}

/// Why a transition was refused. A refused transition changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyEvalError {
    #[error(
        "{party} cannot submit the {} ({stage}) deliverable: only the third party (third_party) submits deliverables",
        stage.label()
    )]
    NotYourTurn { party: Party, stage: KeyStage },
    #[error("the key evaluation is finished (all six stages confirmed): nothing more can be submitted or answered")]
    Finished,
    #[error(
        "the {} ({stage}) deliverable of round {round} is already submitted and awaits the confirmations of the \
         three parties; it can be replaced only after a party disagrees",
        stage.label()
    )]
    AlreadySubmitted { stage: KeyStage, round: u32 },
    #[error(
        "nothing to confirm: the {} ({stage}) deliverable of round {round} has not been submitted yet by the third party",
        stage.label()
    )]
    NothingToConfirm { stage: KeyStage, round: u32 },
    #[error(
        "{party} has already answered the {} ({stage}) deliverable of round {round}: each party answers once per round",
        stage.label()
    )]
    AlreadyAnswered { party: Party, stage: KeyStage, round: u32 },
    #[error("invalid input: {}", issues_text(.0))]
    Invalid(Vec<FieldIssue>),
}

/// Where a key evaluation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The open stage (the last one, once finished).
    pub stage: KeyStage,
    /// The round within the stage: 0 at opening, +1 per reopening.
    pub round: u32,
    /// The deliverable submitted in this round, awaiting the answers.
    #[serde(default)]
    pub pending: Option<Deliverable>,
    /// The answers given in this round. Only agreements stay here: a disagreement reopens the
    /// stage at once and clears them.
    #[serde(default)]
    pub confirmations: BTreeMap<Party, bool>,
    /// Every comment made so far, oldest first.
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// The confirmed deliverables, in stage order.
    #[serde(default)]
    pub accepted: Vec<Accepted>,
    pub finished: bool,
    /// The overall score, fixed when the final report is confirmed.
    #[serde(default, with = "optional_decimal")]
    pub final_score: Option<Decimal>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// A fresh evaluation: the work plan is open, round 0, nothing submitted.
    pub fn new() -> Self {
        Progress {
            stage: KeyStage::WorkPlan,
            round: 0,
            pending: None,
            confirmations: BTreeMap::new(),
            comments: Vec::new(),
            accepted: Vec::new(),
            finished: false,
            final_score: None,
        }
    }

    /// Who is expected to act now: nobody once finished, the third party while nothing is
    /// submitted, otherwise the parties that have not answered this round.
    pub fn awaiting(&self) -> Vec<Party> {
        if self.finished {
            Vec::new()
        } else if self.pending.is_none() {
            vec![Party::ThirdParty]
        } else {
            Party::ALL.into_iter().filter(|p| !self.confirmations.contains_key(p)).collect()
        }
    }

    /// The confirmed deliverable of `stage`, if any.
    pub fn accepted_for(&self, stage: KeyStage) -> Option<&Deliverable> {
        self.accepted.iter().rev().find(|a| a.stage == stage).map(|a| &a.deliverable)
    }

    /// The third party hands in the deliverable of the open stage.
    pub fn submit(&mut self, by: Party, d: Deliverable) -> Result<Vec<KeyEvent>, KeyEvalError> {
        if self.finished {
            return Err(KeyEvalError::Finished);
        }
        if by != Party::ThirdParty {
            return Err(KeyEvalError::NotYourTurn { party: by, stage: self.stage });
        }
        if self.pending.is_some() {
            return Err(KeyEvalError::AlreadySubmitted { stage: self.stage, round: self.round });
        }
        check_deliverable(self.stage, &d).map_err(KeyEvalError::Invalid)?;
        self.pending = Some(d);
        self.confirmations.clear();
        Ok(vec![KeyEvent::Submitted { stage: self.stage, round: self.round }])
    }

    /// A party answers the pending deliverable. `weights` are used (and validated) only when this
    /// answer confirms the final report.
    pub fn respond(
        &mut self,
        by: Party,
        agree: bool,
        comment: &str,
        weights: &Weights,
    ) -> Result<Vec<KeyEvent>, KeyEvalError> {
        if self.finished {
            return Err(KeyEvalError::Finished);
        }
        let Some(pending) = &self.pending else {
            return Err(KeyEvalError::NothingToConfirm { stage: self.stage, round: self.round });
        };
        if self.confirmations.contains_key(&by) {
            return Err(KeyEvalError::AlreadyAnswered { party: by, stage: self.stage, round: self.round });
        }
        let text = comment.trim();
        let chars = text.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(KeyEvalError::Invalid(vec![FieldIssue::new(
                "comment",
                format!("the comment has {chars} characters, at most {MAX_COMMENT_CHARS} are allowed"),
            )]));
        }
        let (stage, round) = (self.stage, self.round);

        if !agree {
            if text.is_empty() {
                return Err(KeyEvalError::Invalid(vec![FieldIssue::new(
                    "comment",
                    format!(
                        "a disagreement with the {} must say why: the comment is empty, expected 1 to \
                         {MAX_COMMENT_CHARS} characters",
                        stage.label()
                    ),
                )]));
            }
            self.comments.push(Comment { stage, round, party: by, agreed: false, text: text.to_owned() });
            self.pending = None;
            self.confirmations.clear();
            self.round = round.saturating_add(1);
            return Ok(vec![KeyEvent::Reopened { stage, round: self.round, by, comment: text.to_owned() }]);
        }

        let complete = Party::ALL.into_iter().all(|p| p == by || self.confirmations.get(&p) == Some(&true));
        // Everything that can fail is computed before anything changes.
        let score = if complete && stage == KeyStage::FinalReport {
            let scores = pending.scores.as_ref().ok_or_else(|| {
                KeyEvalError::Invalid(vec![FieldIssue::new(
                    "scores",
                    format!("the {} carries no scores, so no overall score can be fixed", stage.label()),
                )])
            })?;
            Some(final_score(weights, scores).map_err(KeyEvalError::Invalid)?)
        } else {
            None
        };

        let comment = (!text.is_empty()).then(|| text.to_owned());
        if let Some(text) = &comment {
            self.comments.push(Comment { stage, round, party: by, agreed: true, text: text.clone() });
        }
        self.confirmations.insert(by, true);
        let mut events = vec![KeyEvent::Agreed { stage, round, by, comment }];
        if !complete {
            return Ok(events);
        }

        events.push(KeyEvent::Confirmed { stage, round });
        if let Some(deliverable) = self.pending.take() {
            self.accepted.push(Accepted { stage, round, deliverable });
        }
        self.confirmations.clear();
        if let Some(score) = score {
            self.final_score = Some(score);
            events.push(KeyEvent::Scored { score });
        }
        match stage.next() {
            Some(next) => {
                self.stage = next;
                self.round = 0;
                events.push(KeyEvent::Opened { stage: next });
            }
            None => {
                self.finished = true;
                events.push(KeyEvent::Finished { final_score: self.final_score });
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn weights(d: &str, p: &str, o: &str, b: &str) -> Weights {
        Weights { decision: dec(d), process: dec(p), output: dec(o), benefit: dec(b) }
    }

    fn scores(d: &str, p: &str, o: &str, b: &str) -> PartScores {
        PartScores { decision: dec(d), process: dec(p), output: dec(o), benefit: dec(b) }
    }

    fn paths(issues: &[FieldIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    fn plain(title: &str) -> Deliverable {
        Deliverable {
            title: title.to_owned(),
            summary: String::new(),
            documents: vec![],
            indicators: vec![],
            scores: None,
            findings: vec![],
        }
    }

    /// A deliverable that passes the checks of `stage`.
    fn deliverable_for(stage: KeyStage) -> Deliverable {
        let mut d = plain(stage.label());
        d.documents = vec![format!("{}.pdf", stage.as_str())];
        match stage {
            KeyStage::WorkPlan => d.indicators = vec!["预算执行率".into(), "项目完成及时率".into()],
            KeyStage::FinalReport => d.scores = Some(scores("80", "90", "95", "85")),
            KeyStage::Draft | KeyStage::Rectification => d.findings = vec!["资金拨付滞后".into()],
            _ => {}
        }
        d
    }

    /// Submits the deliverable of the open stage and has all three parties agree.
    fn confirm_stage(p: &mut Progress, w: &Weights) -> Vec<KeyEvent> {
        let stage = p.stage;
        let mut events = p.submit(Party::ThirdParty, deliverable_for(stage)).unwrap();
        for party in Party::ALL {
            events.extend(p.respond(party, true, "", w).unwrap());
        }
        events
    }

    #[test]
    fn stage_names_and_order() {
        assert_eq!(KeyStage::ALL.len(), 6);
        for pair in KeyStage::ALL.windows(2) {
            assert_eq!(pair[0].next(), Some(pair[1]));
        }
        assert_eq!(KeyStage::Rectification.next(), None);
        for stage in KeyStage::ALL {
            assert_eq!(stage.as_str().parse::<KeyStage>(), Ok(stage));
            assert_eq!(serde_json::to_string(&stage).unwrap(), format!("\"{}\"", stage.as_str()));
        }
        assert_eq!(KeyStage::Feedback.label(), "被评价单位反馈意见");
        let err = "report".parse::<KeyStage>().unwrap_err().to_string();
        assert!(err.contains("'report'") && err.contains("work_plan") && err.contains("rectification"), "{err}");
    }

    #[test]
    fn party_names() {
        assert_eq!(serde_json::to_string(&Party::ThirdParty).unwrap(), "\"third_party\"");
        assert_eq!(serde_json::from_str::<Party>("\"finance\"").unwrap(), Party::Finance);
        for party in Party::ALL {
            assert_eq!(party.as_str().parse::<Party>(), Ok(party));
        }
        assert!(Party::ThirdParty < Party::Unit && Party::Unit < Party::Finance);
        assert!("bank".parse::<Party>().unwrap_err().to_string().contains("third_party, unit, finance"));
    }

    #[test]
    fn default_weights_are_valid() {
        let w = Weights::default();
        assert_eq!(w, weights("20", "20", "30", "30"));
        assert_eq!(w.validate(), Ok(()));
    }

    #[test]
    fn output_and_benefit_must_carry_at_least_60() {
        assert_eq!(weights("25", "15", "30", "30").validate(), Ok(()));
        assert_eq!(weights("40", "0", "0", "60").validate(), Ok(()));
        let issues = weights("20.01", "20", "29.99", "30").validate().unwrap_err();
        assert_eq!(paths(&issues), ["weights"]);
        assert!(issues[0].message.contains("产出 + 效益 carry 59.99, at least 60 is required"), "{issues:?}");
        assert!(issues[0].message.contains("财预〔2020〕10号 annex 2"));
        let issues = weights("25", "20", "25", "30").validate().unwrap_err();
        assert_eq!(issues[0].message, "产出 + 效益 carry 55, at least 60 is required (财预〔2020〕10号 annex 2)");
    }

    #[test]
    fn weights_must_sum_to_exactly_100() {
        let issues = weights("20", "19.99", "30", "30").validate().unwrap_err();
        assert_eq!(paths(&issues), ["weights"]);
        assert_eq!(issues[0].message, "the weights sum to 99.99, expected exactly 100");
        let issues = weights("30", "20", "30", "30").validate().unwrap_err();
        assert!(issues[0].message.contains("sum to 110"));
    }

    #[test]
    fn weights_report_all_problems_at_once() {
        let issues = weights("-5", "120", "10", "20").validate().unwrap_err();
        assert_eq!(paths(&issues), ["weights.decision", "weights.process", "weights", "weights"]);
        assert_eq!(issues[0].message, "决策 weight is -5, expected 0 to 100");
        assert!(issues[2].message.contains("sum to 145"));
        assert!(issues[3].message.contains("carry 30"));
        // Huge weights do not overflow the sum into a panic.
        let issues =
            Weights { decision: Decimal::MAX, process: Decimal::MAX, output: Decimal::MAX, benefit: Decimal::MAX }
                .validate()
                .unwrap_err();
        assert_eq!(issues.len(), 5);
    }

    #[test]
    fn weights_serde_uses_plain_field_names() {
        let w: Weights =
            serde_json::from_str(r#"{"decision":"15","process":"25","output":"30","benefit":"30"}"#).unwrap();
        assert_eq!(w, weights("15", "25", "30", "30"));
        assert!(serde_json::from_str::<Weights>(r#"{"decision":"15","process":"25","output":"30"}"#).is_err());
        assert!(
            serde_json::from_str::<Weights>(r#"{"decision":"15","process":"25","output":"30","benefit":"30","x":"1"}"#)
                .is_err()
        );
    }

    #[test]
    fn final_score_is_the_weighted_sum() {
        let score = final_score(&weights("15", "25", "30", "30"), &scores("80", "90", "95", "85")).unwrap();
        assert_eq!(score, dec("88.50"));
        assert_eq!(score.to_string(), "88.50");
        assert_eq!(final_score(&Weights::default(), &scores("100", "100", "100", "100")), Ok(dec("100")));
        assert_eq!(final_score(&Weights::default(), &scores("0", "0", "0", "0")), Ok(Decimal::ZERO));
    }

    #[test]
    fn final_score_rounds_half_away_from_zero_at_the_end_only() {
        // 20% of 80.025 = 16.005 → 16.01 (banker's rounding would give 16.00).
        assert_eq!(final_score(&Weights::default(), &scores("80.025", "0", "0", "0")), Ok(dec("16.01")));
        // 16.0049… stays 16.00.
        assert_eq!(final_score(&Weights::default(), &scores("80.0245", "0", "0", "0")), Ok(dec("16.00")));
        // 2.0045 + 2.0045 = 4.009 → 4.01; rounding each part first would give 4.00.
        assert_eq!(final_score(&Weights::default(), &scores("10.0225", "10.0225", "0", "0")), Ok(dec("4.01")));
    }

    #[test]
    fn final_score_validates_both_inputs() {
        let issues = final_score(&weights("20", "20", "30", "20"), &scores("101", "90", "-1", "85")).unwrap_err();
        assert_eq!(paths(&issues), ["weights", "weights", "scores.decision", "scores.output"]);
        assert_eq!(issues[2].message, "决策 score is 101, expected 0 to 100");
    }

    #[test]
    fn work_plan_needs_an_indicator_system() {
        let issues = check_deliverable(KeyStage::WorkPlan, &plain("工作方案")).unwrap_err();
        assert_eq!(paths(&issues), ["indicators"]);
        assert!(issues[0].message.contains("指标体系"));
        let mut d = plain("工作方案");
        d.indicators = vec!["预算执行率".into(), "  ".into(), "x".repeat(201)];
        let issues = check_deliverable(KeyStage::WorkPlan, &d).unwrap_err();
        assert_eq!(paths(&issues), ["indicators[1]", "indicators[2]"]);
        d.indicators = vec!["指标".into(); 201];
        assert_eq!(paths(&check_deliverable(KeyStage::WorkPlan, &d).unwrap_err()), ["indicators"]);
        assert_eq!(check_deliverable(KeyStage::WorkPlan, &deliverable_for(KeyStage::WorkPlan)), Ok(()));
        // Other stages do not need indicators.
        assert_eq!(check_deliverable(KeyStage::SiteVerification, &plain("现场核查")), Ok(()));
    }

    #[test]
    fn only_the_final_report_carries_scores() {
        for stage in KeyStage::ALL {
            let mut d = plain("报告");
            if stage == KeyStage::WorkPlan {
                d.indicators = vec!["预算执行率".into()];
            }
            d.scores = Some(scores("80", "90", "95", "85"));
            let result = check_deliverable(stage, &d);
            if stage == KeyStage::FinalReport {
                assert_eq!(result, Ok(()));
            } else {
                let issues = result.unwrap_err();
                assert_eq!(paths(&issues), ["scores"], "{stage}");
                assert!(issues[0].message.contains("only the 最终评价报告 carries scores"));
            }
        }
        let issues = check_deliverable(KeyStage::FinalReport, &plain("最终报告")).unwrap_err();
        assert_eq!(paths(&issues), ["scores"]);
    }

    #[test]
    fn final_report_scores_must_be_percentages() {
        let mut d = plain("最终报告");
        d.scores = Some(scores("100.01", "90", "95", "-0.5"));
        let issues = check_deliverable(KeyStage::FinalReport, &d).unwrap_err();
        assert_eq!(paths(&issues), ["scores.decision", "scores.benefit"]);
        assert_eq!(issues[1].message, "效益 score is -0.5, expected 0 to 100");
    }

    #[test]
    fn deliverable_texts_and_counts() {
        let mut d = plain(" ");
        d.summary = "字".repeat(20_001);
        d.documents = vec!["".into(), "a".repeat(501), "b".repeat(500)];
        d.findings = vec!["问".repeat(2_001), String::new()];
        let issues = check_deliverable(KeyStage::Draft, &d).unwrap_err();
        assert_eq!(paths(&issues), ["title", "summary", "documents[0]", "documents[1]", "findings[0]"]);
        assert_eq!(issues[0].message, "the title is empty, expected 1 to 200 characters");
        assert_eq!(issues[1].message, "the summary has 20001 characters, at most 20000 are allowed");

        // Lengths count characters: 200 Chinese characters are a valid title.
        let mut d = plain(&"评".repeat(200));
        assert_eq!(check_deliverable(KeyStage::Draft, &d), Ok(()));
        d.title.push('价');
        d.documents = vec!["a.pdf".into(); 51];
        d.findings = vec!["f".into(); 101];
        let issues = check_deliverable(KeyStage::Draft, &d).unwrap_err();
        assert_eq!(paths(&issues), ["title", "documents", "findings"]);
        assert_eq!(issues[1].message, "51 documents given, at most 50 are allowed");
    }

    #[test]
    fn deliverable_serde_defaults_and_unknown_fields() {
        let d: Deliverable = serde_json::from_str(r#"{"title":"现场核查记录"}"#).unwrap();
        assert_eq!(d, plain("现场核查记录"));
        let d: Deliverable = serde_json::from_str(
            r#"{"title":"最终报告","scores":{"decision":"80","process":"90","output":"95","benefit":"85"}}"#,
        )
        .unwrap();
        assert_eq!(d.scores, Some(scores("80", "90", "95", "85")));
        assert!(serde_json::from_str::<Deliverable>(r#"{"title":"x","score":"1"}"#).is_err());
        assert!(serde_json::from_str::<Deliverable>(r#"{"summary":"x"}"#).is_err());
    }

    #[test]
    fn whole_flow_to_finished_with_the_final_score() {
        let w = weights("15", "25", "30", "30");
        let mut p = Progress::new();
        assert_eq!((p.stage, p.round, p.finished), (KeyStage::WorkPlan, 0, false));
        assert_eq!(p.awaiting(), [Party::ThirdParty]);

        for stage in &KeyStage::ALL[..4] {
            assert_eq!(p.stage, *stage);
            let events = confirm_stage(&mut p, &w);
            assert_eq!(events.len(), 6);
            assert_eq!(events[0], KeyEvent::Submitted { stage: *stage, round: 0 });
            assert_eq!(events[4], KeyEvent::Confirmed { stage: *stage, round: 0 });
            assert_eq!(events[5], KeyEvent::Opened { stage: stage.next().unwrap() });
            assert_eq!(p.round, 0);
            assert!(p.pending.is_none() && p.confirmations.is_empty());
        }

        // Final report, answered one by one.
        assert_eq!(p.stage, KeyStage::FinalReport);
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::FinalReport)).unwrap();
        assert_eq!(p.awaiting(), Party::ALL);
        assert_eq!(
            p.respond(Party::Unit, true, "", &w).unwrap(),
            [KeyEvent::Agreed { stage: KeyStage::FinalReport, round: 0, by: Party::Unit, comment: None }]
        );
        assert_eq!(p.awaiting(), [Party::ThirdParty, Party::Finance]);
        p.respond(Party::ThirdParty, true, "", &w).unwrap();
        assert_eq!(p.final_score, None);
        let events = p.respond(Party::Finance, true, "同意", &w).unwrap();
        assert_eq!(
            events,
            [
                KeyEvent::Agreed {
                    stage: KeyStage::FinalReport,
                    round: 0,
                    by: Party::Finance,
                    comment: Some("同意".into())
                },
                KeyEvent::Confirmed { stage: KeyStage::FinalReport, round: 0 },
                KeyEvent::Scored { score: dec("88.50") },
                KeyEvent::Opened { stage: KeyStage::Rectification },
            ]
        );
        assert_eq!(p.final_score, Some(dec("88.50")));
        assert!(!p.finished);
        assert_eq!(p.accepted_for(KeyStage::FinalReport), Some(&deliverable_for(KeyStage::FinalReport)));
        assert_eq!(p.comments.len(), 1);
        assert!(p.comments[0].agreed);

        // Rectification closes the evaluation.
        let events = confirm_stage(&mut p, &w);
        assert_eq!(events[4], KeyEvent::Confirmed { stage: KeyStage::Rectification, round: 0 });
        assert_eq!(events[5], KeyEvent::Finished { final_score: Some(dec("88.50")) });
        assert!(p.finished);
        assert_eq!(p.stage, KeyStage::Rectification);
        assert_eq!(p.accepted.len(), 6);
        assert!(p.awaiting().is_empty());

        // Nothing more is accepted.
        let before = p.clone();
        assert_eq!(p.submit(Party::ThirdParty, deliverable_for(KeyStage::Rectification)), Err(KeyEvalError::Finished));
        assert_eq!(p.respond(Party::Unit, true, "", &w), Err(KeyEvalError::Finished));
        assert_eq!(p, before);
    }

    #[test]
    fn unit_disagreeing_on_the_draft_reopens_it() {
        let w = Weights::default();
        let mut p = Progress::new();
        for _ in 0..2 {
            confirm_stage(&mut p, &w);
        }
        assert_eq!(p.stage, KeyStage::Draft);
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::Draft)).unwrap();
        p.respond(Party::ThirdParty, true, "", &w).unwrap();
        let events = p.respond(Party::Unit, false, "  资金拨付滞后的原因表述不准确  ", &w).unwrap();
        assert_eq!(
            events,
            [KeyEvent::Reopened {
                stage: KeyStage::Draft,
                round: 1,
                by: Party::Unit,
                comment: "资金拨付滞后的原因表述不准确".into()
            }]
        );
        assert_eq!((p.stage, p.round), (KeyStage::Draft, 1));
        assert!(p.pending.is_none());
        assert!(p.confirmations.is_empty());
        assert_eq!(
            p.comments,
            [Comment {
                stage: KeyStage::Draft,
                round: 0,
                party: Party::Unit,
                agreed: false,
                text: "资金拨付滞后的原因表述不准确".into()
            }]
        );
        assert_eq!(p.awaiting(), [Party::ThirdParty]);
        // The finance bureau can no longer answer the withdrawn deliverable.
        assert_eq!(
            p.respond(Party::Finance, true, "", &w),
            Err(KeyEvalError::NothingToConfirm { stage: KeyStage::Draft, round: 1 })
        );

        // Resubmission in round 1, confirmed, and the flow goes on.
        let events = confirm_stage(&mut p, &w);
        assert_eq!(events[0], KeyEvent::Submitted { stage: KeyStage::Draft, round: 1 });
        assert_eq!(events[4], KeyEvent::Confirmed { stage: KeyStage::Draft, round: 1 });
        assert_eq!(events[5], KeyEvent::Opened { stage: KeyStage::Feedback });
        assert_eq!((p.stage, p.round), (KeyStage::Feedback, 0));
        assert_eq!(p.comments.len(), 1);
        assert_eq!(p.accepted.last().map(|a| (a.stage, a.round)), Some((KeyStage::Draft, 1)));
        while !p.finished {
            confirm_stage(&mut p, &w);
        }
        // 20% × 80 + 20% × 90 + 30% × 95 + 30% × 85 = 16 + 18 + 28.5 + 25.5
        assert_eq!(p.final_score, Some(dec("88.00")));
    }

    #[test]
    fn only_the_third_party_submits() {
        let mut p = Progress::new();
        let before = p.clone();
        for party in [Party::Unit, Party::Finance] {
            let err = p.submit(party, deliverable_for(KeyStage::WorkPlan)).unwrap_err();
            assert_eq!(err, KeyEvalError::NotYourTurn { party, stage: KeyStage::WorkPlan });
            assert!(err.to_string().contains("only the third party"), "{err}");
        }
        assert_eq!(p, before);
    }

    #[test]
    fn a_party_answers_once_per_round() {
        let w = Weights::default();
        let mut p = Progress::new();
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::WorkPlan)).unwrap();
        p.respond(Party::Unit, true, "", &w).unwrap();
        let before = p.clone();
        let err = p.respond(Party::Unit, true, "", &w).unwrap_err();
        assert_eq!(err, KeyEvalError::AlreadyAnswered { party: Party::Unit, stage: KeyStage::WorkPlan, round: 0 });
        assert!(err.to_string().contains("once per round"));
        // Changing one's mind by disagreeing later is refused too.
        assert!(matches!(p.respond(Party::Unit, false, "改主意", &w), Err(KeyEvalError::AlreadyAnswered { .. })));
        assert_eq!(p, before);
    }

    #[test]
    fn errors_change_nothing() {
        let w = Weights::default();
        let mut p = Progress::new();

        let before = p.clone();
        assert_eq!(
            p.respond(Party::Unit, true, "", &w),
            Err(KeyEvalError::NothingToConfirm { stage: KeyStage::WorkPlan, round: 0 })
        );
        let err = p.submit(Party::ThirdParty, plain("没有指标的方案")).unwrap_err();
        let KeyEvalError::Invalid(issues) = &err else { panic!("{err:?}") };
        assert_eq!(paths(issues), ["indicators"]);
        assert!(err.to_string().contains("indicators: "), "{err}");
        assert_eq!(p, before);

        p.submit(Party::ThirdParty, deliverable_for(KeyStage::WorkPlan)).unwrap();
        let before = p.clone();
        assert_eq!(
            p.submit(Party::ThirdParty, deliverable_for(KeyStage::WorkPlan)),
            Err(KeyEvalError::AlreadySubmitted { stage: KeyStage::WorkPlan, round: 0 })
        );
        let err = p.respond(Party::Finance, false, "   ", &w).unwrap_err();
        assert!(matches!(&err, KeyEvalError::Invalid(i) if paths(i) == ["comment"]), "{err:?}");
        let err = p.respond(Party::Finance, true, &"长".repeat(5_001), &w).unwrap_err();
        assert!(err.to_string().contains("5001 characters"), "{err}");
        assert_eq!(p, before);

        // Invalid weights refuse the agreement that would confirm the final report.
        while p.stage != KeyStage::FinalReport {
            if p.pending.is_none() {
                p.submit(Party::ThirdParty, deliverable_for(p.stage)).unwrap();
            }
            for party in p.awaiting() {
                p.respond(party, true, "", &w).unwrap();
            }
        }
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::FinalReport)).unwrap();
        p.respond(Party::ThirdParty, true, "", &w).unwrap();
        p.respond(Party::Unit, true, "", &w).unwrap();
        let before = p.clone();
        let bad = weights("30", "20", "25", "25");
        let err = p.respond(Party::Finance, true, "同意", &bad).unwrap_err();
        assert!(matches!(&err, KeyEvalError::Invalid(i) if paths(i) == ["weights"]), "{err:?}");
        assert_eq!(p, before);
        let events = p.respond(Party::Finance, true, "同意", &w).unwrap();
        assert!(events.contains(&KeyEvent::Scored { score: dec("88.00") }));
    }

    #[test]
    fn agreement_comments_are_kept_and_blank_ones_ignored() {
        let w = Weights::default();
        let mut p = Progress::new();
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::WorkPlan)).unwrap();
        p.respond(Party::Unit, true, "  ", &w).unwrap();
        p.respond(Party::Finance, true, "指标值请再核对", &w).unwrap();
        assert_eq!(
            p.comments,
            [Comment {
                stage: KeyStage::WorkPlan,
                round: 0,
                party: Party::Finance,
                agreed: true,
                text: "指标值请再核对".into()
            }]
        );
    }

    #[test]
    fn progress_serde_round_trip() {
        let w = weights("15", "25", "30", "30");
        let mut p = Progress::new();
        for _ in 0..4 {
            confirm_stage(&mut p, &w);
        }
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::FinalReport)).unwrap();
        p.respond(Party::Unit, false, "效益得分偏高", &w).unwrap();
        p.submit(Party::ThirdParty, deliverable_for(KeyStage::FinalReport)).unwrap();
        p.respond(Party::Finance, true, "无异议", &w).unwrap();

        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""confirmations":{"finance":true}"#), "{json}");
        assert!(json.contains(r#""stage":"final_report""#), "{json}");
        let back: Progress = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);

        // The restored progress carries on.
        let mut back = back;
        back.respond(Party::ThirdParty, true, "", &w).unwrap();
        back.respond(Party::Unit, true, "", &w).unwrap();
        assert_eq!(back.final_score, Some(dec("88.50")));
        let json = serde_json::to_string(&back).unwrap();
        assert!(json.contains(r#""final_score":"88.50""#), "{json}");
        assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), back);

        let fresh: Progress =
            serde_json::from_str(r#"{"stage":"work_plan","round":0,"finished":false,"final_score":null}"#).unwrap();
        assert_eq!(fresh, Progress::new());
    }

    #[test]
    fn events_are_tagged() {
        let json = serde_json::to_value(KeyEvent::Scored { score: dec("88.50") }).unwrap();
        assert_eq!(json, serde_json::json!({"type": "scored", "score": "88.50"}));
        let json = serde_json::to_value(KeyEvent::Reopened {
            stage: KeyStage::Draft,
            round: 1,
            by: Party::Unit,
            comment: "原因".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "reopened", "stage": "draft", "round": 1, "by": "unit", "comment": "原因"})
        );
        for event in [
            KeyEvent::Finished { final_score: Some(dec("88.50")) },
            KeyEvent::Finished { final_score: None },
            KeyEvent::Opened { stage: KeyStage::Feedback },
            KeyEvent::Scored { score: dec("0.01") },
        ] {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<KeyEvent>(&json).unwrap(), event, "{json}");
        }
    }
}
