//! Scoring of a project's performance self-evaluation (绩效自评) under a versioned national scheme:
//! budget execution rate, level-1 points, the per-operator indicator rules and the grade bands.
//!
//! Every weight, band and share lives in a [`Scheme`] value, not in the formulas, so a workflow
//! can carry a scheme inline or name a built-in one ([`SchemeRef`]) and a card can always be
//! recomputed under the scheme it was made with. All arithmetic is exact `Decimal`; only the
//! total is rounded (2 places, half away from zero), once, at the end.
//!
//! Rules (DOMAIN.md §5), with the choices this module had to make marked *choice*:
//!
//! * Execution: `min(executed / budget, 1) × execution_points`. Spending above the budget earns
//!   full points and sets `over_budget`. *Choice* for a zero budget: the rate is taken as 1, so
//!   `executed = 0` earns full points (nothing was budgeted, nothing was left unspent) and
//!   `executed > 0` earns full points with `over_budget` set, exactly as any other overspend.
//!   A negative budget or executed amount is an error.
//! * Each indicator yields an achievement fraction `f` in `[0, 1]`, with target `T`, actual `A`
//!   (in the target's unit):
//!   * `≥`: 1 if `A ≥ T`; else 0 if `A ≤ 0`; else `A / T`. (So `T ≤ 0` gives 1 iff `A ≥ T`.)
//!   * `≤` with `T > 0`: 1 if `A ≤ T`; `1 − (A − T) / T` if `T < A < 2T`; 0 if `A ≥ 2T`.
//!     With `T ≤ 0`: 1 if `A ≤ T` else 0 (*choice* for `T < 0`: the relative overshoot changes
//!     sign with a negative ceiling, so there is no proportional band).
//!   * `=` with `T = 0`: 1 if `A ≤ 0` else 0. Otherwise 1 if `A = T`, else
//!     `max(0, 1 − |A − T| / |T|)` (*choice*: symmetric proportional rule, 0 from a deviation
//!     of 100% of the target on).
//!   * 定性: the evaluator picks a level and a share inside that level's band of the scheme
//!     (built-in: 达成 80–100%, 部分达成 60–80%, 未达成 0–60%); `f` is that share. Bands are
//!     closed intervals (*choice*): 80% is valid for both 达成 and 部分达成, which score the same.
//! * Weights: inside a level-1, an indicator's effective maximum is
//!   `declared weight / Σ declared weights of that level-1 × level-1 points`, so declared weights
//!   may sum to anything. A scheme can fold a level-1 into another (`counts_under`): under
//!   财预〔2020〕10号, 成本 indicators count under 产出.
//! * A level-1 of the scheme with no indicator gives its points to the present level-1s pro
//!   rata to their points (not to execution) and is listed in `redistributed`.
//! * The grade is read from the *rounded* total, the figure that is published, so 89.995 → 90.00
//!   → 优 and 89.994 → 89.99 → 良.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::indicator::{Indicator, Level1, Operator};
use super::money::Fen;

/// The built-in scheme ids, for listings and validation of workflow files.
pub const BUILTIN_SCHEMES: [&str; 2] = ["mof_2020_10", "mof_2021_101"];

/// The overall grade (等级) of a self-evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grade {
    #[serde(rename = "优")]
    Excellent,
    #[serde(rename = "良")]
    Good,
    #[serde(rename = "中")]
    Fair,
    #[serde(rename = "差")]
    Poor,
}

impl Grade {
    pub fn label(self) -> &'static str {
        match self {
            Grade::Excellent => "优",
            Grade::Good => "良",
            Grade::Fair => "中",
            Grade::Poor => "差",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The level an evaluator assigns to a qualitative (定性) indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum QualitativeLevel {
    #[serde(rename = "达成")]
    Achieved,
    #[serde(rename = "部分达成")]
    PartlyAchieved,
    #[serde(rename = "未达成")]
    NotAchieved,
}

impl QualitativeLevel {
    pub const ALL: [QualitativeLevel; 3] =
        [QualitativeLevel::Achieved, QualitativeLevel::PartlyAchieved, QualitativeLevel::NotAchieved];

    pub fn label(self) -> &'static str {
        match self {
            QualitativeLevel::Achieved => "达成",
            QualitativeLevel::PartlyAchieved => "部分达成",
            QualitativeLevel::NotAchieved => "未达成",
        }
    }
}

impl fmt::Display for QualitativeLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The closed range `[min, max]` of shares of an indicator's weight that a qualitative level may
/// be given, as fractions (0.8 = 80%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitativeBand {
    pub level: QualitativeLevel,
    #[serde(with = "rust_decimal::serde::str")]
    pub min: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub max: Decimal,
}

/// A versioned scoring scheme: all the numbers the formulas use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    pub id: String,
    /// Points of each level-1 that the scheme scores, in presentation order.
    #[serde(with = "level1_points_serde")]
    pub level1_points: Vec<(Level1, Decimal)>,
    /// `(from, into)`: indicators of level-1 `from` are scored as part of `into` (which must be
    /// in `level1_points`, while `from` must not be).
    #[serde(default)]
    pub counts_under: Vec<(Level1, Level1)>,
    #[serde(with = "rust_decimal::serde::str")]
    pub execution_points: Decimal,
    /// `(minimum total, grade)`: a total gets the grade of the highest minimum it reaches. Order
    /// does not matter; one minimum must be ≤ 0 so that every total has a grade.
    #[serde(with = "grade_bands_serde")]
    pub grade_bands: Vec<(Decimal, Grade)>,
    /// Exactly one band per qualitative level.
    pub qualitative_bands: Vec<QualitativeBand>,
}

/// Why a scheme cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("'{id}' is not a built-in scoring scheme (expected one of {})", BUILTIN_SCHEMES.join(", "))]
    Unknown { id: String },
    #[error("level-1 {level1} has negative points ({points})")]
    NegativePoints { level1: Level1, points: Decimal },
    #[error("level-1 {level1} is listed more than once")]
    DuplicateLevel1 { level1: Level1 },
    #[error("execution points are negative ({points})")]
    NegativeExecutionPoints { points: Decimal },
    #[error(
        "{from} cannot count under {into}: the target must be a scored level-1, the source must not be one, and each source may be folded once"
    )]
    BadCountsUnder { from: Level1, into: Level1 },
    #[error("the grade bands need one band starting at or below 0 so that every total has a grade")]
    NoLowestGradeBand,
    #[error("two grade bands start at {min}")]
    DuplicateGradeBand { min: Decimal },
    #[error("the qualitative level {level} needs exactly one band")]
    QualitativeBandCount { level: QualitativeLevel },
    #[error("the band of {level} ({min}–{max}) is not a range of fractions within 0–1")]
    BadQualitativeBand { level: QualitativeLevel, min: Decimal, max: Decimal },
}

impl Scheme {
    /// The built-in schemes. Both use the grades 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below, and the
    /// qualitative bands 达成 80–100%, 部分达成 60–80%, 未达成 0–60%.
    ///
    /// * `mof_2020_10` (财预〔2020〕10号, 项目支出绩效自评表): 产出 50, 效益 30, 满意度 10,
    ///   budget execution rate 10; 成本 indicators count under 产出, where 10号 files them
    ///   (成本指标 is a level-2 of 产出 there).
    /// * `mof_2021_101` (财预〔2021〕101号 with 成本 as a level-1): 101号 sets no self-evaluation
    ///   weights, so this project's default splits 10号's 产出 50 into 产出 40 + 成本 10 and keeps
    ///   the rest: 产出 40, 成本 10, 效益 30, 满意度 10, execution 10.
    pub fn builtin(id: &str) -> Option<Scheme> {
        let level1_points = match id {
            "mof_2020_10" => vec![
                (Level1::Output, Decimal::from(50)),
                (Level1::Benefit, Decimal::from(30)),
                (Level1::Satisfaction, Decimal::from(10)),
            ],
            "mof_2021_101" => vec![
                (Level1::Output, Decimal::from(40)),
                (Level1::Cost, Decimal::from(10)),
                (Level1::Benefit, Decimal::from(30)),
                (Level1::Satisfaction, Decimal::from(10)),
            ],
            _ => return None,
        };
        let counts_under = if id == "mof_2020_10" { vec![(Level1::Cost, Level1::Output)] } else { Vec::new() };
        Some(Scheme {
            id: id.to_string(),
            level1_points,
            counts_under,
            execution_points: Decimal::from(10),
            grade_bands: vec![
                (Decimal::from(90), Grade::Excellent),
                (Decimal::from(80), Grade::Good),
                (Decimal::from(60), Grade::Fair),
                (Decimal::ZERO, Grade::Poor),
            ],
            qualitative_bands: vec![
                band(QualitativeLevel::Achieved, Decimal::new(8, 1), Decimal::ONE),
                band(QualitativeLevel::PartlyAchieved, Decimal::new(6, 1), Decimal::new(8, 1)),
                band(QualitativeLevel::NotAchieved, Decimal::ZERO, Decimal::new(6, 1)),
            ],
        })
    }

    /// Checks the scheme's own consistency. It allocates nothing, so [`score`] runs it on every
    /// call rather than trusting that a deserialised scheme was checked.
    pub fn validate(&self) -> Result<(), SchemeError> {
        for (i, &(level1, points)) in self.level1_points.iter().enumerate() {
            if points < Decimal::ZERO {
                return Err(SchemeError::NegativePoints { level1, points });
            }
            if self.level1_points[..i].iter().any(|&(l, _)| l == level1) {
                return Err(SchemeError::DuplicateLevel1 { level1 });
            }
        }
        if self.execution_points < Decimal::ZERO {
            return Err(SchemeError::NegativeExecutionPoints { points: self.execution_points });
        }
        for (i, &(from, into)) in self.counts_under.iter().enumerate() {
            let scored = |l: Level1| self.level1_points.iter().any(|&(x, _)| x == l);
            let repeated = self.counts_under[..i].iter().any(|&(f, _)| f == from);
            if scored(from) || !scored(into) || repeated {
                return Err(SchemeError::BadCountsUnder { from, into });
            }
        }
        if !self.grade_bands.iter().any(|&(min, _)| min <= Decimal::ZERO) {
            return Err(SchemeError::NoLowestGradeBand);
        }
        for (i, &(min, _)) in self.grade_bands.iter().enumerate() {
            if self.grade_bands[..i].iter().any(|&(m, _)| m == min) {
                return Err(SchemeError::DuplicateGradeBand { min });
            }
        }
        for level in QualitativeLevel::ALL {
            if self.qualitative_bands.iter().filter(|b| b.level == level).count() != 1 {
                return Err(SchemeError::QualitativeBandCount { level });
            }
        }
        for b in &self.qualitative_bands {
            if b.min < Decimal::ZERO || b.min > b.max || b.max > Decimal::ONE {
                return Err(SchemeError::BadQualitativeBand { level: b.level, min: b.min, max: b.max });
            }
        }
        Ok(())
    }

    /// The grade of a total: the band with the highest minimum that the total reaches.
    pub fn grade(&self, total: Decimal) -> Option<Grade> {
        self.grade_bands.iter().filter(|&&(min, _)| total >= min).max_by_key(|&&(min, _)| min).map(|&(_, grade)| grade)
    }

    /// Position in `level1_points` that each level-1 (by [`level1_slot`]) is scored under, after
    /// `counts_under`; computed once per call so the per-indicator loop is a table look-up.
    fn slot_table(&self) -> [Option<usize>; 4] {
        let mut table = [None; 4];
        for (pos, &(level1, _)) in self.level1_points.iter().enumerate() {
            table[level1_slot(level1)] = Some(pos);
        }
        for &(from, into) in &self.counts_under {
            table[level1_slot(from)] = table[level1_slot(into)];
        }
        table
    }
}

fn band(level: QualitativeLevel, min: Decimal, max: Decimal) -> QualitativeBand {
    QualitativeBand { level, min, max }
}

fn level1_slot(level1: Level1) -> usize {
    match level1 {
        Level1::Output => 0,
        Level1::Benefit => 1,
        Level1::Satisfaction => 2,
        Level1::Cost => 3,
    }
}

/// A scheme as a workflow states it: the id of a built-in scheme, or a whole scheme inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemeRef {
    Named(String),
    Inline(Scheme),
}

impl SchemeRef {
    pub fn resolve(&self) -> Result<Cow<'_, Scheme>, SchemeError> {
        match self {
            SchemeRef::Named(id) => {
                Scheme::builtin(id).map(Cow::Owned).ok_or_else(|| SchemeError::Unknown { id: id.clone() })
            }
            SchemeRef::Inline(scheme) => Ok(Cow::Borrowed(scheme)),
        }
    }
}

/// A share of an indicator's weight, kept as a fraction. Read from text as a fraction ("0.85")
/// or a percentage ("85%"); written as a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Share(Decimal);

impl Share {
    pub fn fraction(fraction: Decimal) -> Share {
        Share(fraction)
    }

    pub fn percent(percent: Decimal) -> Share {
        Share(percent / Decimal::ONE_HUNDRED)
    }

    pub fn as_fraction(self) -> Decimal {
        self.0
    }
}

impl FromStr for Share {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || format!("'{s}' is not a share (expected a fraction such as 0.85 or a percentage such as 85%)");
        match t.strip_suffix(['%', '％']) {
            Some(p) => Decimal::from_str(p.trim()).map(Share::percent).map_err(|_| bad()),
            None => Decimal::from_str(t).map(Share::fraction).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.checked_mul(Decimal::ONE_HUNDRED) {
            Some(p) => write!(f, "{}%", p.normalize()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl schemars::JsonSchema for Share {
    fn schema_name() -> Cow<'static, str> {
        "Share".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A share of the indicator's weight: a fraction (\"0.85\") or a percentage (\"85%\")"
        })
    }
}

impl Serialize for Share {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// Only from strings: a JSON number may already have been rounded by a float on its way here.
impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The evaluator's actual result for one declared indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actual {
    /// Position of the indicator in the project's list of indicators.
    pub index: usize,
    pub value: ActualValue,
}

/// A number (in the target's unit) for ≥/≤/= indicators; a level and a share for 定性 ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ActualValue {
    Number(
        #[serde(with = "rust_decimal::serde::str")]
        #[schemars(with = "String")]
        Decimal,
    ),
    Qualitative {
        level: QualitativeLevel,
        share: Share,
    },
}

/// A project's self-evaluation: money and one actual per declared indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub budget: Fen,
    pub executed: Fen,
    pub items: Vec<Actual>,
}

/// One indicator's result. Exact (unrounded); `max_points` is its effective weight after the
/// level-1 scaling and any redistribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorScore {
    pub index: usize,
    pub points: Decimal,
    pub max_points: Decimal,
}

/// The result of [`score`]. `total` is rounded to 2 places; every other figure is exact so that
/// the card can be audited (use [`round_points`] to present them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreCard {
    pub total: Decimal,
    pub grade: Grade,
    pub execution: Decimal,
    /// Every level-1 of the scheme, in the scheme's order; a redistributed one scores 0.
    pub per_level1: Vec<(Level1, Decimal)>,
    /// Every declared indicator, in declaration order.
    pub per_indicator: Vec<IndicatorScore>,
    pub over_budget: bool,
    /// Level-1s of the scheme without indicators whose points went to the others.
    pub redistributed: Vec<Level1>,
}

/// Why an evaluation cannot be scored. Indicator problems carry the indicator's index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("invalid scoring scheme: {0}")]
    Scheme(#[from] SchemeError),
    #[error("indicator {index} has no actual value in the evaluation")]
    MissingActual { index: usize },
    #[error("indicator {index} has more than one actual value")]
    DuplicateActual { index: usize },
    #[error("an actual value refers to indicator {index}, but the project declares {count} indicators")]
    UnknownIndicator { index: usize, count: usize },
    #[error(
        "indicator {index} is qualitative (定性): its actual must be a level (达成, 部分达成 or 未达成) with a share, not a number"
    )]
    NumberForQualitative { index: usize },
    #[error("indicator {index} is quantitative ({}): its actual must be a number, not a level", .operator.symbol())]
    LevelForQuantitative { index: usize, operator: Operator },
    #[error("indicator {index} is quantitative but its target '{target}' is not a number")]
    TargetNotANumber { index: usize, target: String },
    #[error("indicator {index}: a share of {share} is outside the band of {level} ({}–{})", Share(*.min), Share(*.max))]
    ShareOutOfBand { index: usize, level: QualitativeLevel, share: Share, min: Decimal, max: Decimal },
    #[error("indicator {index} has a negative weight ({weight})")]
    NegativeWeight { index: usize, weight: Decimal },
    #[error("indicator {index} is under level-1 {level1}, which scheme '{scheme}' does not score")]
    Level1NotInScheme { index: usize, level1: Level1, scheme: String },
    #[error("the indicators under {level1} all have weight 0, so its points cannot be shared among them")]
    ZeroWeights { level1: Level1 },
    #[error("no indicator falls under a level-1 with points, so the level-1 points have nowhere to go")]
    NoScoredLevel1,
    #[error("the executed amount is negative ({executed})")]
    NegativeExecuted { executed: Fen },
    #[error("the budget is negative ({budget})")]
    NegativeBudget { budget: Fen },
    #[error("indicator {index}: a number is out of the exact decimal range")]
    Overflow { index: usize },
    #[error("a total is out of the exact decimal range")]
    TotalOverflow,
    #[error("the scheme gives no grade for a total of {total}")]
    NoGrade { total: Decimal },
}

/// Rounds a figure for presentation the way the total is rounded: 2 places, half away from zero.
pub fn round_points(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Scores one self-evaluation. `indicators` are the project's declared indicators; each must
/// have exactly one actual in `eval.items`.
///
/// Hot path: besides the card's own vectors it allocates nothing when the actuals are listed in
/// indicator order, and one index vector otherwise.
pub fn score(scheme: &Scheme, indicators: &[Indicator], eval: &Evaluation) -> Result<ScoreCard, ScoringError> {
    scheme.validate()?;
    let (execution, over_budget) = execution_score(scheme.execution_points, eval.budget, eval.executed)?;
    let table = scheme.slot_table();
    let slot_of = |index: usize, ind: &Indicator| {
        table[level1_slot(ind.level1)].ok_or_else(|| ScoringError::Level1NotInScheme {
            index,
            level1: ind.level1,
            scheme: scheme.id.clone(),
        })
    };
    let lookup = ActualLookup::new(indicators.len(), &eval.items)?;

    // Pass 1: achievement × declared weight per indicator, summed per scored level-1. The
    // scaling to points needs the level-1 sums, hence a second pass.
    let mut weight_sum = [Decimal::ZERO; 4];
    let mut achieved = [Decimal::ZERO; 4];
    let mut count = [0usize; 4];
    let mut per_indicator = Vec::with_capacity(indicators.len());
    for (index, ind) in indicators.iter().enumerate() {
        let slot = slot_of(index, ind)?;
        if ind.weight < Decimal::ZERO {
            return Err(ScoringError::NegativeWeight { index, weight: ind.weight });
        }
        let actual = lookup.get(index, &eval.items).ok_or(ScoringError::MissingActual { index })?;
        let fraction = achievement(index, ind, actual, &scheme.qualitative_bands)?;
        let overflow = || ScoringError::Overflow { index };
        let weighted = fraction.checked_mul(ind.weight).ok_or_else(overflow)?;
        weight_sum[slot] = weight_sum[slot].checked_add(ind.weight).ok_or_else(overflow)?;
        achieved[slot] = achieved[slot].checked_add(weighted).ok_or_else(overflow)?;
        count[slot] += 1;
        per_indicator.push(IndicatorScore { index, points: weighted, max_points: ind.weight });
    }

    // Level-1 points after redistribution: a present level-1 gets `points × all / present`.
    let mut all = Decimal::ZERO;
    let mut present = Decimal::ZERO;
    let mut redistributed = Vec::new();
    for (slot, &(level1, points)) in scheme.level1_points.iter().enumerate() {
        all = all.checked_add(points).ok_or(ScoringError::TotalOverflow)?;
        if count[slot] > 0 {
            present = present.checked_add(points).ok_or(ScoringError::TotalOverflow)?;
        } else if points > Decimal::ZERO {
            redistributed.push(level1);
        }
    }
    if present.is_zero() && !all.is_zero() {
        return Err(ScoringError::NoScoredLevel1);
    }
    let mut effective = [Decimal::ZERO; 4];
    let mut per_level1 = Vec::with_capacity(scheme.level1_points.len());
    let mut total = execution;
    for (slot, &(level1, points)) in scheme.level1_points.iter().enumerate() {
        let mut level_score = Decimal::ZERO;
        if count[slot] > 0 {
            // Skipping the multiply-divide when nothing moves keeps the common case trivially
            // exact; when something moves, multiplying first keeps it exact whenever the true
            // value has a finite decimal expansion (50 × 90 / 80 = 56.25).
            effective[slot] = if present == all {
                points
            } else {
                mul_div(points, all, present).ok_or(ScoringError::TotalOverflow)?
            };
            if weight_sum[slot].is_zero() {
                if !effective[slot].is_zero() {
                    return Err(ScoringError::ZeroWeights { level1 });
                }
            } else {
                // From the level-1's sum rather than the rounded per-indicator quotients, so
                // the total carries one division per level-1 only.
                level_score =
                    mul_div(achieved[slot], effective[slot], weight_sum[slot]).ok_or(ScoringError::TotalOverflow)?;
            }
        }
        total = total.checked_add(level_score).ok_or(ScoringError::TotalOverflow)?;
        per_level1.push((level1, level_score));
    }

    // Pass 2: scale each indicator to points.
    for (item, ind) in per_indicator.iter_mut().zip(indicators) {
        let slot = slot_of(item.index, ind)?;
        let (w, e) = (weight_sum[slot], effective[slot]);
        if w.is_zero() {
            item.points = Decimal::ZERO;
            item.max_points = Decimal::ZERO;
        } else {
            let overflow = ScoringError::Overflow { index: item.index };
            item.points = mul_div(item.points, e, w).ok_or(overflow.clone())?;
            item.max_points = mul_div(item.max_points, e, w).ok_or(overflow)?;
        }
    }

    let total = round_points(total);
    let grade = scheme.grade(total).ok_or(ScoringError::NoGrade { total })?;
    Ok(ScoreCard { total, grade, execution, per_level1, per_indicator, over_budget, redistributed })
}

/// `a × b / c`, multiplying first so that an exact quotient stays exact.
fn mul_div(a: Decimal, b: Decimal, c: Decimal) -> Option<Decimal> {
    a.checked_mul(b)?.checked_div(c)
}

fn execution_score(points: Decimal, budget: Fen, executed: Fen) -> Result<(Decimal, bool), ScoringError> {
    if budget < Fen::ZERO {
        return Err(ScoringError::NegativeBudget { budget });
    }
    if executed < Fen::ZERO {
        return Err(ScoringError::NegativeExecuted { executed });
    }
    let over_budget = executed > budget;
    // A zero budget lands here too: 0 of 0 is "nothing left unspent", more than 0 is overspend.
    if over_budget || executed == budget {
        return Ok((points, over_budget));
    }
    let score = mul_div(Decimal::from(executed.fen()), points, Decimal::from(budget.fen()))
        .ok_or(ScoringError::TotalOverflow)?;
    Ok((score, false))
}

/// Finds each indicator's actual. Forms list actuals in indicator order, so that case needs no
/// index; any other order costs one vector.
enum ActualLookup {
    InOrder,
    ByIndex(Vec<usize>),
}

impl ActualLookup {
    fn new(count: usize, items: &[Actual]) -> Result<ActualLookup, ScoringError> {
        if items.len() == count && items.iter().enumerate().all(|(i, a)| a.index == i) {
            return Ok(ActualLookup::InOrder);
        }
        let mut at = vec![usize::MAX; count];
        for (pos, item) in items.iter().enumerate() {
            let index = item.index;
            let slot = at.get_mut(index).ok_or(ScoringError::UnknownIndicator { index, count })?;
            if *slot != usize::MAX {
                return Err(ScoringError::DuplicateActual { index });
            }
            *slot = pos;
        }
        Ok(ActualLookup::ByIndex(at))
    }

    fn get<'a>(&self, index: usize, items: &'a [Actual]) -> Option<&'a ActualValue> {
        let pos = match self {
            ActualLookup::InOrder => index,
            ActualLookup::ByIndex(at) => *at.get(index)?,
        };
        items.get(pos).map(|a| &a.value)
    }
}

/// The achievement fraction in `[0, 1]` of one indicator.
fn achievement(
    index: usize,
    ind: &Indicator,
    actual: &ActualValue,
    bands: &[QualitativeBand],
) -> Result<Decimal, ScoringError> {
    let target =
        || ind.value.as_number().ok_or_else(|| ScoringError::TargetNotANumber { index, target: ind.value.to_string() });
    match (ind.operator, *actual) {
        (Operator::Qualitative, ActualValue::Qualitative { level, share }) => {
            let band = bands.iter().find(|b| b.level == level).ok_or(SchemeError::QualitativeBandCount { level })?;
            let s = share.as_fraction();
            if s < band.min || s > band.max {
                return Err(ScoringError::ShareOutOfBand { index, level, share, min: band.min, max: band.max });
            }
            Ok(s)
        }
        (Operator::Qualitative, ActualValue::Number(_)) => Err(ScoringError::NumberForQualitative { index }),
        (operator, ActualValue::Qualitative { .. }) => Err(ScoringError::LevelForQuantitative { index, operator }),
        (Operator::Ge, ActualValue::Number(a)) => Ok(at_least(target()?, a)),
        (Operator::Le, ActualValue::Number(a)) => Ok(at_most(target()?, a)),
        (Operator::Eq, ActualValue::Number(a)) => equal_to(target()?, a).ok_or(ScoringError::Overflow { index }),
    }
}

/// "≥ T". In the proportional branch `0 < A < T`, so the quotient is below 1 and `T ≠ 0`.
fn at_least(t: Decimal, a: Decimal) -> Decimal {
    if a >= t {
        Decimal::ONE
    } else if a <= Decimal::ZERO {
        Decimal::ZERO
    } else {
        a / t
    }
}

/// "≤ T". `1 − (A − T) / T` is computed as `(T − excess) / T` with `excess = A − T`, which
/// cannot overflow since `A > T > 0` there.
fn at_most(t: Decimal, a: Decimal) -> Decimal {
    if a <= t {
        return Decimal::ONE;
    }
    if t <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let excess = a - t;
    if excess >= t { Decimal::ZERO } else { (t - excess) / t }
}

/// "= T". `None` only if `A − T` leaves the decimal range.
fn equal_to(t: Decimal, a: Decimal) -> Option<Decimal> {
    if t.is_zero() {
        return Some(if a <= Decimal::ZERO { Decimal::ONE } else { Decimal::ZERO });
    }
    if a == t {
        return Some(Decimal::ONE);
    }
    let deviation = a.checked_sub(t)?.abs();
    let scale = t.abs();
    Some(if deviation >= scale { Decimal::ZERO } else { (scale - deviation) / scale })
}

/// Serde for `Vec<(Level1, Decimal)>` with the decimals as strings only, like every other exact
/// figure of the project (a JSON number may have been through a float).
mod level1_points_serde {
    use super::{Decimal, Level1};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Exact(#[serde(with = "rust_decimal::serde::str")] Decimal);

    pub fn serialize<S: Serializer>(v: &[(Level1, Decimal)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&(l, d)| (l, Exact(d))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Level1, Decimal)>, D::Error> {
        let v = Vec::<(Level1, Exact)>::deserialize(d)?;
        Ok(v.into_iter().map(|(l, Exact(x))| (l, x)).collect())
    }
}

/// Serde for `Vec<(Decimal, Grade)>`, decimals as strings only (see `level1_points_serde`).
mod grade_bands_serde {
    use super::{Decimal, Grade};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Exact(#[serde(with = "rust_decimal::serde::str")] Decimal);

    pub fn serialize<S: Serializer>(v: &[(Decimal, Grade)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&(d, g)| (Exact(d), g)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Decimal, Grade)>, D::Error> {
        let v = Vec::<(Exact, Grade)>::deserialize(d)?;
        Ok(v.into_iter().map(|(Exact(x), g)| (x, g)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // `super::super` is whichever module holds `indicator`, so no crate layout is assumed.
    use super::super::indicator::{Basis, TargetValue};
    use Level1::{Benefit, Cost, Output, Satisfaction};
    use Operator::{Eq, Ge, Le, Qualitative};
    use QualitativeLevel::{Achieved, NotAchieved, PartlyAchieved};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn ind(level1: Level1, operator: Operator, target: &str, weight: &str) -> Indicator {
        named(level1, level1.level2_names()[0], "指标", operator, target, weight)
    }

    fn named(level1: Level1, level2: &str, name: &str, operator: Operator, target: &str, weight: &str) -> Indicator {
        Indicator {
            level1,
            level2: level2.to_string(),
            name: name.to_string(),
            operator,
            value: TargetValue::parse(target),
            unit: "个".to_string(),
            weight: d(weight),
            basis: Basis::Plan,
            explanation: String::new(),
            core: false,
        }
    }

    fn num(s: &str) -> ActualValue {
        ActualValue::Number(d(s))
    }

    fn qual(level: QualitativeLevel, share: &str) -> ActualValue {
        ActualValue::Qualitative { level, share: share.parse().unwrap() }
    }

    /// An evaluation with the actuals in indicator order; amounts in yuan.
    fn eval(budget: &str, executed: &str, values: &[ActualValue]) -> Evaluation {
        Evaluation {
            budget: budget.parse().unwrap(),
            executed: executed.parse().unwrap(),
            items: values.iter().enumerate().map(|(index, &value)| Actual { index, value }).collect(),
        }
    }

    fn scheme(id: &str) -> Scheme {
        Scheme::builtin(id).unwrap()
    }

    /// A full-marks project under 10号 used as a base: 产出 50, 效益 30, 满意度 10.
    fn full_project() -> (Vec<Indicator>, Vec<ActualValue>) {
        (
            vec![ind(Output, Ge, "100", "50"), ind(Benefit, Ge, "100", "30"), ind(Satisfaction, Ge, "90", "10")],
            vec![num("100"), num("100"), num("90")],
        )
    }

    #[test]
    fn quantitative_rules() {
        let bands = scheme("mof_2020_10").qualitative_bands;
        let cases: &[(Operator, &str, &str, &str)] = &[
            // (operator, target T, actual A, achievement fraction)
            (Ge, "100", "120", "1"),                          // ≥: above target
            (Ge, "100", "100", "1"),                          // ≥: exactly the target
            (Ge, "100", "80", "0.8"),                         // ≥: below → A/T
            (Ge, "3", "1", "0.3333333333333333333333333333"), // ≥: A/T to 28 digits
            (Ge, "100", "0", "0"),                            // ≥: A = 0
            (Ge, "100", "-5", "0"),                           // ≥: A < 0
            (Ge, "0", "0", "1"),                              // ≥: T = 0, A ≥ T
            (Ge, "0", "-1", "0"),                             // ≥: T = 0, A < T
            (Ge, "-10", "-5", "1"),                           // ≥: T < 0, A ≥ T
            (Ge, "-10", "-20", "0"),                          // ≥: T < 0, A < T
            (Ge, "95%", "93.1", "0.98"),                      // ≥: a percentage target reads as its number
            (Le, "25", "20", "1"),                            // ≤: A < T
            (Le, "25", "25", "1"),                            // ≤: A = T
            (Le, "25", "26", "0.96"),                         // ≤: T < A < 2T → 1 − (A−T)/T
            (Le, "25", "37.5", "0.5"),                        // ≤: halfway to 2T
            (Le, "25", "49.99", "0.0004"),                    // ≤: just below 2T
            (Le, "25", "50", "0"),                            // ≤: A = 2T
            (Le, "25", "60", "0"),                            // ≤: A > 2T
            (Le, "0", "0", "1"),                              // ≤: T = 0, A = 0
            (Le, "0", "-1", "1"),                             // ≤: T = 0, A < 0
            (Le, "0", "0.01", "0"),                           // ≤: T = 0, A > 0
            (Le, "-5", "-6", "1"),                            // ≤: T < 0, A ≤ T
            (Le, "-5", "-4", "0"),                            // ≤: T < 0, A > T (no proportional band)
            (Eq, "0", "0", "1"),                              // =: T = 0, A = 0
            (Eq, "0", "3", "0"),                              // =: T = 0, A > 0
            (Eq, "0", "-1", "1"),                             // =: T = 0, A < 0
            (Eq, "100", "100", "1"),                          // =: A = T
            (Eq, "100", "100.00", "1"),                       // =: equal at another scale
            (Eq, "100", "90", "0.9"),                         // =: below → 1 − |A−T|/T
            (Eq, "100", "110", "0.9"),                        // =: above, symmetric
            (Eq, "100", "200", "0"),                          // =: deviation = T
            (Eq, "100", "250", "0"),                          // =: floored at 0
            (Eq, "-10", "-9", "0.9"),                         // =: T < 0 uses |T|
        ];
        for &(op, t, a, want) in cases {
            let got = achievement(0, &ind(Output, op, t, "10"), &num(a), &bands);
            assert_eq!(got, Ok(d(want)), "{} T={t} A={a}", op.symbol());
        }
    }

    #[test]
    fn qualitative_bands() {
        let bands = scheme("mof_2020_10").qualitative_bands;
        let cases: &[(QualitativeLevel, &str, Option<&str>)] = &[
            // (level, share as entered, fraction or None if out of band)
            (Achieved, "100%", Some("1")),
            (Achieved, "0.9", Some("0.9")),
            (Achieved, "80%", Some("0.8")),
            (Achieved, "79.99%", None),
            (Achieved, "1.01", None),
            (PartlyAchieved, "80%", Some("0.8")),
            (PartlyAchieved, "70％", Some("0.7")),
            (PartlyAchieved, "0.6", Some("0.6")),
            (PartlyAchieved, "0.59", None),
            (PartlyAchieved, "81%", None),
            (NotAchieved, "60%", Some("0.6")),
            (NotAchieved, "0", Some("0")),
            (NotAchieved, "61%", None),
            (NotAchieved, "-0.01", None),
        ];
        let indicator = ind(Benefit, Qualitative, "健全", "10");
        for &(level, share, want) in cases {
            let got = achievement(7, &indicator, &qual(level, share), &bands);
            match want {
                Some(f) => assert_eq!(got, Ok(d(f)), "{level} {share}"),
                None => assert!(
                    matches!(got, Err(ScoringError::ShareOutOfBand { index: 7, level: l, .. }) if l == level),
                    "{level} {share}: {got:?}"
                ),
            }
        }
        let err = achievement(7, &indicator, &qual(Achieved, "75%"), &bands).unwrap_err();
        assert_eq!(err.to_string(), "indicator 7: a share of 75% is outside the band of 达成 (80%–100%)");
    }

    #[test]
    fn execution_rate() {
        let cases: &[(&str, &str, &str, bool)] = &[
            // (budget, executed, execution points of 10, over budget)
            ("1000", "950", "9.5", false),
            ("1000", "1000", "10", false),
            ("1000", "0", "0", false),
            ("1000", "1200", "10", true), // overspend: capped at full points, flagged
            ("0", "0", "10", false),      // nothing budgeted, nothing unspent
            ("0", "5", "10", true),       // zero budget overspent: as any overspend
            ("3", "1", "3.3333333333333333333333333333", false),
            ("3200000.00", "3040000.00", "9.5", false),
            ("0.03", "0.01", "3.3333333333333333333333333333", false),
        ];
        let (indicators, values) = full_project();
        for &(budget, executed, want, over) in cases {
            let card = score(&scheme("mof_2020_10"), &indicators, &eval(budget, executed, &values)).unwrap();
            assert_eq!((card.execution, card.over_budget), (d(want), over), "{budget}/{executed}");
            assert_eq!(card.total, round_points(Decimal::from(90) + d(want)));
        }
    }

    #[test]
    fn grade_bands() {
        let s = scheme("mof_2020_10");
        let cases: &[(&str, Grade)] = &[
            ("100", Grade::Excellent),
            ("90", Grade::Excellent),
            ("90.00", Grade::Excellent),
            ("89.99", Grade::Good),
            ("80", Grade::Good),
            ("79.99", Grade::Fair),
            ("60", Grade::Fair),
            ("59.99", Grade::Poor),
            ("0", Grade::Poor),
        ];
        for &(total, want) in cases {
            assert_eq!(s.grade(d(total)), Some(want), "{total}");
        }
    }

    #[test]
    fn grade_is_read_from_the_rounded_total() {
        // 产出 at 80% (40 of 50) + 效益 30 + 满意度 10 = 80, plus execution.
        let (indicators, _) = full_project();
        let values = [num("80"), num("100"), num("90")];
        let cases: &[(&str, &str, Grade)] = &[
            // (executed of 10000 yuan, total, grade)
            ("9995", "90.00", Grade::Excellent), // 89.995 rounds half up to 90.00
            ("9994", "89.99", Grade::Good),      // 89.994 rounds down
            ("9999", "90.00", Grade::Excellent), // 89.999
            ("8000", "88.00", Grade::Good),
        ];
        for &(executed, total, grade) in cases {
            let card = score(&scheme("mof_2020_10"), &indicators, &eval("10000", executed, &values)).unwrap();
            assert_eq!((card.total, card.grade), (d(total), grade), "{executed}");
        }
    }

    #[test]
    fn missing_level1_is_redistributed_pro_rata() {
        // No 满意度 indicator: its 10 points go to 产出 and 效益 in the ratio 50 : 30.
        let indicators = [ind(Output, Ge, "100", "30"), ind(Output, Ge, "10", "20"), ind(Benefit, Ge, "5", "7")];
        let values = [num("100"), num("10"), num("5")];
        let card = score(&scheme("mof_2020_10"), &indicators, &eval("100", "100", &values)).unwrap();
        assert_eq!(card.total, d("100.00"));
        assert_eq!(card.grade, Grade::Excellent);
        assert_eq!(card.redistributed, vec![Satisfaction]);
        assert_eq!(card.per_level1, vec![(Output, d("56.25")), (Benefit, d("33.75")), (Satisfaction, Decimal::ZERO)]);
        let max: Decimal = card.per_indicator.iter().map(|i| i.max_points).sum();
        assert_eq!(max, Decimal::from(90));
        let maxes: Vec<Decimal> = card.per_indicator.iter().map(|i| i.max_points).collect();
        assert_eq!(maxes, vec![d("33.75"), d("22.5"), d("33.75")]);

        // Partial achievement is scaled the same way: 产出 at 80% → 0.8 × 56.25 = 45.
        let values = [num("80"), num("8"), num("5")];
        let card = score(&scheme("mof_2020_10"), &indicators, &eval("100", "100", &values)).unwrap();
        assert_eq!(card.per_level1[0], (Output, d("45")));
        assert_eq!(card.total, d("88.75"));
    }

    #[test]
    fn declared_weights_are_scaled_to_level1_points() {
        // 效益 weights 20 + 20 carry 效益's 30 points: 15 each; 满意度 weight 4 carries 10.
        let indicators = [
            ind(Output, Ge, "1", "50"),
            ind(Benefit, Ge, "10", "20"),
            ind(Benefit, Ge, "10", "20"),
            ind(Satisfaction, Ge, "90", "4"),
        ];
        let values = [num("1"), num("5"), num("10"), num("90")];
        let card = score(&scheme("mof_2020_10"), &indicators, &eval("1", "1", &values)).unwrap();
        let got: Vec<(Decimal, Decimal)> = card.per_indicator.iter().map(|i| (i.points, i.max_points)).collect();
        let want = [("50", "50"), ("7.5", "15"), ("15", "15"), ("10", "10")];
        assert_eq!(got, want.map(|(p, m)| (d(p), d(m))).to_vec());
        assert_eq!(card.total, d("92.50"));
    }

    #[test]
    fn cost_level1_under_each_scheme() {
        // 成本 ≤ 25 with 26 achieved: 0.96. Under 10号 it folds into 产出 (Σ weights 40 → 50
        // points: (30 + 9.6) × 50/40 = 49.5); under 101号 it is its own level-1 of 10 points.
        let indicators = [
            ind(Output, Ge, "100", "30"),
            ind(Cost, Le, "25", "10"),
            ind(Benefit, Ge, "100", "30"),
            ind(Satisfaction, Ge, "90", "10"),
        ];
        let values = [num("100"), num("26"), num("100"), num("95")];
        type Case<'a> = (&'a str, &'a str, &'a [(Level1, &'a str)]);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // (scheme, total, points per level-1)
            ("mof_2020_10", "99.50", &[(Output, "49.5"), (Benefit, "30"), (Satisfaction, "10")]),
            ("mof_2021_101", "99.60", &[(Output, "40"), (Cost, "9.6"), (Benefit, "30"), (Satisfaction, "10")]),
        ];
        for &(id, total, per_level1) in cases {
            let card = score(&scheme(id), &indicators, &eval("100", "100", &values)).unwrap();
            assert_eq!(card.total, d(total), "{id}");
            let want: Vec<(Level1, Decimal)> = per_level1.iter().map(|&(l, p)| (l, d(p))).collect();
            assert_eq!(card.per_level1, want, "{id}");
            assert!(card.redistributed.is_empty(), "{id}");
        }

        // 101号 without a 成本 indicator: 成本's 10 points go pro rata to the other 80.
        let card = score(&scheme("mof_2021_101"), &indicators[..1], &eval("1", "1", &[num("100")])).unwrap();
        assert_eq!(card.redistributed, vec![Cost, Benefit, Satisfaction]);
        assert_eq!(card.per_level1[0], (Output, d("90")));
        assert_eq!(card.total, d("100.00"));
        let without_cost = [&indicators[..1], &indicators[2..]].concat();
        let values = [num("100"), num("100"), num("95")];
        let card = score(&scheme("mof_2021_101"), &without_cost, &eval("1", "1", &values)).unwrap();
        assert_eq!(card.redistributed, vec![Cost]);
        assert_eq!(
            card.per_level1,
            vec![(Output, d("45")), (Cost, Decimal::ZERO), (Benefit, d("33.75")), (Satisfaction, d("11.25"))]
        );
        assert_eq!(card.total, d("100.00"));
    }

    /// The seed county's project scores 91.55 (优) under 财预〔2020〕10号. By hand:
    ///
    /// | # | level-1/level-2 | indicator | T | A | f | max | points |
    /// |---|---|---|---|---|---|---|---|
    /// | 0 | 产出/数量 | 改造农村公路里程 | ≥ 120 公里 | 120 | 1 | 15 | 15 |
    /// | 1 | 产出/质量 | 工程验收合格率 | ≥ 100% | 98 | 0.98 | 10 | 9.8 |
    /// | 2 | 产出/时效 | 按期完工率 | ≥ 100% | 90 | 0.9 | 10 | 9 |
    /// | 3 | 产出/数量 | 新增安防设施 | ≥ 200 处 | 185 | 0.925 | 5 | 4.625 |
    /// | 4 | 产出/成本 | 每公里改造成本 | ≤ 25 万元 | 26 | 1 − 1/25 = 0.96 | 10 | 9.6 |
    /// | 5 | 效益/社会 | 受益群众人数 | ≥ 20000 人 | 15300 | 0.765 | 15 | 11.475 |
    /// | 6 | 效益/可持续 | 长效管护机制 | 定性 健全 | 达成 85% | 0.85 | 15 | 12.75 |
    /// | 7 | 满意度 | 沿线群众满意度 | ≥ 95% | 93.1 | 0.98 | 10 | 9.8 |
    ///
    /// 产出's declared weights sum to 50 = its points, so no scaling: 48.025. 效益's declared
    /// weights are 20 + 20 = 40 for 30 points, so each carries 15: (0.765 × 20 + 0.85 × 20) ×
    /// 30 / 40 = 24.225. 满意度: 9.8. Execution: 3,040,000 / 3,200,000 = 0.95 × 10 = 9.5.
    /// Total: 9.5 + 48.025 + 24.225 + 9.8 = 91.55, exact before rounding; ≥ 90 → 优.
    #[test]
    fn seed_county_worked_case_is_91_55() {
        let indicators = [
            named(Output, "数量指标", "改造农村公路里程", Ge, "120", "15"),
            named(Output, "质量指标", "工程验收合格率", Ge, "100%", "10"),
            named(Output, "时效指标", "按期完工率", Ge, "100%", "10"),
            named(Output, "数量指标", "新增安防设施", Ge, "200", "5"),
            named(Output, "成本指标", "每公里改造成本", Le, "25", "10"),
            named(Benefit, "社会效益指标", "受益群众人数", Ge, "20000", "20"),
            named(Benefit, "可持续影响指标", "长效管护机制", Qualitative, "健全", "20"),
            named(Satisfaction, "服务对象满意度指标", "沿线群众满意度", Ge, "95%", "10"),
        ];
        for (i, indicator) in indicators.iter().enumerate() {
            let errors = indicator.validate(&format!("indicators[{i}]"));
            assert!(errors.is_empty(), "{errors:?}");
        }
        let values =
            [num("120"), num("98"), num("90"), num("185"), num("26"), num("15300"), qual(Achieved, "85%"), num("93.1")];
        let card = score(&scheme("mof_2020_10"), &indicators, &eval("3200000.00", "3040000.00", &values)).unwrap();
        assert_eq!(card.total, d("91.55"));
        assert_eq!(card.grade, Grade::Excellent);
        assert_eq!(card.execution, d("9.5"));
        assert_eq!(card.per_level1, vec![(Output, d("48.025")), (Benefit, d("24.225")), (Satisfaction, d("9.8"))]);
        let points: Vec<Decimal> = card.per_indicator.iter().map(|i| i.points).collect();
        let want = ["15", "9.8", "9", "4.625", "9.6", "11.475", "12.75", "9.8"];
        assert_eq!(points, want.map(d).to_vec());
        let max: Decimal = card.per_indicator.iter().map(|i| i.max_points).sum();
        assert_eq!(max, Decimal::from(90));
        assert!(!card.over_budget && card.redistributed.is_empty());
        // The exact sum needs no rounding: the unrounded parts add to the published total.
        let parts: Decimal = card.per_level1.iter().map(|&(_, p)| p).sum::<Decimal>() + card.execution;
        assert_eq!(parts, d("91.55"));
    }

    #[test]
    fn actuals_in_any_order_give_the_same_card() {
        let (indicators, values) = full_project();
        let in_order = eval("10", "9", &values);
        let mut shuffled = in_order.clone();
        shuffled.items.reverse();
        let s = scheme("mof_2020_10");
        assert_eq!(score(&s, &indicators, &in_order), score(&s, &indicators, &shuffled));
    }

    #[test]
    fn errors_name_the_indicator() {
        use ScoringError as E;
        let s = scheme("mof_2020_10");
        let base = |values: &[ActualValue]| eval("100", "50", values);
        let (full, full_values) = full_project();
        let qualitative = [ind(Output, Qualitative, "健全", "10")];
        let text_target = [ind(Output, Ge, "有效", "10")];
        let negative_weight = [ind(Output, Ge, "1", "-1")];
        let zero_weights = [ind(Output, Ge, "1", "0"), ind(Benefit, Ge, "1", "1")];
        let cost_only = [ind(Cost, Ge, "1", "1")];
        let mut missing = base(&full_values);
        missing.items.pop();
        let mut duplicate = base(&full_values);
        duplicate.items[2].index = 1;
        let mut unknown = base(&full_values);
        unknown.items[0].index = 9;
        let out_of_band = qual(PartlyAchieved, "90%");
        let band_error = E::ShareOutOfBand {
            index: 0,
            level: PartlyAchieved,
            share: Share::fraction(d("0.9")),
            min: d("0.6"),
            max: d("0.8"),
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, &[Indicator], Evaluation, ScoringError)> = vec![
            ("missing actual", &full, missing, E::MissingActual { index: 2 }),
            ("duplicate actual", &full, duplicate, E::DuplicateActual { index: 1 }),
            ("unknown index", &full, unknown, E::UnknownIndicator { index: 9, count: 3 }),
            ("number on 定性", &qualitative, base(&[num("1")]), E::NumberForQualitative { index: 0 }),
            ("level on ≥", &full, base(&[num("1"), qual(Achieved, "90%"), num("1")]), E::LevelForQuantitative { index: 1, operator: Ge }),
            ("share out of band", &qualitative, base(&[out_of_band]), band_error),
            ("text target", &text_target, base(&[num("1")]), E::TargetNotANumber { index: 0, target: "有效".into() }),
            ("negative weight", &negative_weight, base(&[num("1")]), E::NegativeWeight { index: 0, weight: d("-1") }),
            ("all weights 0", &zero_weights, base(&[num("1"), num("1")]), E::ZeroWeights { level1: Output }),
            ("negative executed", &full, eval("100", "-0.01", &full_values), E::NegativeExecuted { executed: Fen::from_fen(-1) }),
            ("negative budget", &full, eval("-1", "0", &full_values), E::NegativeBudget { budget: Fen::from_yuan(-1) }),
            ("nothing to score", &[], base(&[]), E::NoScoredLevel1),
        ];
        for (what, indicators, evaluation, want) in cases {
            assert_eq!(score(&s, indicators, &evaluation), Err(want), "{what}");
        }
        // 成本 is a scored level-1 of 101号 but, without counts_under, not of a custom scheme.
        let mut custom = s.clone();
        custom.counts_under.clear();
        let err = score(&custom, &cost_only, &base(&[num("1")])).unwrap_err();
        assert_eq!(err.to_string(), "indicator 0 is under level-1 成本, which scheme 'mof_2020_10' does not score");
    }

    #[test]
    fn scheme_validation() {
        use SchemeError as E;
        let edit = |f: fn(&mut Scheme)| {
            let mut s = scheme("mof_2021_101");
            f(&mut s);
            s.validate()
        };
        type Edit = fn(&mut Scheme);
        #[rustfmt::skip]
        let cases: &[(&str, Edit, E)] = &[
            ("negative points", |s| s.level1_points[0].1 = d("-1"), E::NegativePoints { level1: Output, points: d("-1") }),
            ("duplicate level-1", |s| s.level1_points[1].0 = Output, E::DuplicateLevel1 { level1: Output }),
            ("negative execution", |s| s.execution_points = d("-10"), E::NegativeExecutionPoints { points: d("-10") }),
            ("fold into unscored", |s| s.counts_under = vec![(Output, Cost)], E::BadCountsUnder { from: Output, into: Cost }),
            ("fold a scored level-1", |s| s.counts_under = vec![(Cost, Output)], E::BadCountsUnder { from: Cost, into: Output }),
            ("no lowest band", |s| s.grade_bands.retain(|&(m, _)| m > Decimal::ZERO), E::NoLowestGradeBand),
            ("duplicate band", |s| s.grade_bands[1].0 = d("90.0"), E::DuplicateGradeBand { min: d("90.0") }),
            ("missing band", |s| s.qualitative_bands.truncate(2), E::QualitativeBandCount { level: NotAchieved }),
            ("band above 1", |s| s.qualitative_bands[0].max = d("1.2"), E::BadQualitativeBand { level: Achieved, min: d("0.8"), max: d("1.2") }),
            ("band reversed", |s| s.qualitative_bands[2].min = d("0.7"), E::BadQualitativeBand { level: NotAchieved, min: d("0.7"), max: d("0.6") }),
        ];
        for &(what, f, ref want) in cases {
            assert_eq!(edit(f), Err(want.clone()), "{what}");
        }
        for id in BUILTIN_SCHEMES {
            assert_eq!(scheme(id).validate(), Ok(()), "{id}");
        }
        assert_eq!(Scheme::builtin("mof_1999_1"), None);
        // Both built-ins total 100 points.
        for id in BUILTIN_SCHEMES {
            let s = scheme(id);
            let sum: Decimal = s.level1_points.iter().map(|&(_, p)| p).sum();
            assert_eq!(sum + s.execution_points, Decimal::ONE_HUNDRED, "{id}");
        }
    }

    #[test]
    fn serde_forms() {
        // A scheme survives JSON, and its decimals are strings only.
        let s = scheme("mof_2020_10");
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#"["产出","50"]"#) && json.contains(r#"["90","优"]"#), "{json}");
        assert_eq!(serde_json::from_str::<Scheme>(&json).unwrap(), s);
        let with_number = json.replacen(r#""50""#, "50", 1);
        assert!(serde_json::from_str::<Scheme>(&with_number).is_err());

        // A workflow may name a scheme or carry it.
        let named: SchemeRef = serde_json::from_str(r#""mof_2021_101""#).unwrap();
        assert_eq!(named.resolve().unwrap().into_owned(), scheme("mof_2021_101"));
        let inline: SchemeRef = serde_json::from_str(&json).unwrap();
        assert_eq!(*inline.resolve().unwrap(), s);
        let unknown: SchemeRef = serde_json::from_str(r#""mof_2030_1""#).unwrap();
        assert_eq!(unknown.resolve(), Err(SchemeError::Unknown { id: "mof_2030_1".into() }));

        // An evaluation as a form sends it; shares as fractions or percentages.
        let e: Evaluation = serde_json::from_str(
            r#"{"budget": "3200000.00", "executed": "3040000", "items": [
                {"index": 0, "value": "120"},
                {"index": 1, "value": {"level": "达成", "share": "85%"}},
                {"index": 2, "value": {"level": "部分达成", "share": "0.7"}}]}"#,
        )
        .unwrap();
        assert_eq!(e.items[0].value, num("120"));
        assert_eq!(e.items[1].value, qual(Achieved, "0.85"));
        assert_eq!(e.items[2].value, qual(PartlyAchieved, "70%"));
        assert_eq!(serde_json::from_str::<Evaluation>(&serde_json::to_string(&e).unwrap()).unwrap(), e);
        assert!(serde_json::from_str::<ActualValue>("120.5").is_err());
        assert!(serde_json::from_str::<Share>(r#""很好""#).is_err());

        // A card reads as it is published.
        let (indicators, values) = full_project();
        let card = score(&s, &indicators, &eval("100", "95", &values)).unwrap();
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(json["total"], "99.50");
        assert_eq!(json["grade"], "优");
        assert_eq!(json["per_level1"][0], serde_json::json!(["产出", "50"]));
        assert_eq!(serde_json::from_value::<ScoreCard>(json).unwrap(), card);
    }
}
