//! Performance indicators with the full level-3 shape of DOMAIN.md §2: level-1 and level-2
//! parents, operator, target value, unit, weight, basis, explanation and the core flag.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Level-1 categories. `Cost` is the level-1 of the 财预〔2021〕101号 framework; under 88号 and
/// 财预〔2020〕10号 cost is a level-2 of 产出.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Level1 {
    #[serde(rename = "产出")]
    Output,
    #[serde(rename = "效益")]
    Benefit,
    #[serde(rename = "满意度")]
    Satisfaction,
    #[serde(rename = "成本")]
    Cost,
}

impl Level1 {
    pub const ALL: [Level1; 4] = [Level1::Output, Level1::Benefit, Level1::Satisfaction, Level1::Cost];

    pub fn label(self) -> &'static str {
        match self {
            Level1::Output => "产出",
            Level1::Benefit => "效益",
            Level1::Satisfaction => "满意度",
            Level1::Cost => "成本",
        }
    }

    /// The level-2 names allowed under this level-1 (both frameworks together).
    pub fn level2_names(self) -> &'static [&'static str] {
        match self {
            Level1::Output => &["数量指标", "质量指标", "时效指标", "成本指标"],
            Level1::Benefit => &["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"],
            Level1::Satisfaction => &["服务对象满意度指标"],
            Level1::Cost => &["经济成本指标", "社会成本指标", "生态环境成本指标"],
        }
    }
}

impl FromStr for Level1 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_end_matches("指标");
        match t {
            "产出" | "output" => Ok(Level1::Output),
            "效益" | "benefit" => Ok(Level1::Benefit),
            "满意度" | "satisfaction" => Ok(Level1::Satisfaction),
            "成本" | "cost" => Ok(Level1::Cost),
            _ => Err(format!("'{s}' is not a level-1 indicator (expected 产出, 效益, 满意度 or 成本)")),
        }
    }
}

impl fmt::Display for Level1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The comparison a target states: the actual value should be ≥, ≤ or = the target, or the
/// indicator is qualitative (定性).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = "≥", alias = ">=")]
    Ge,
    #[serde(rename = "≤", alias = "<=")]
    Le,
    #[serde(rename = "=", alias = "==")]
    Eq,
    #[serde(rename = "定性", alias = "qualitative")]
    Qualitative,
}

/// The symbols, then the spellings also read (serde's aliases).
impl schemars::JsonSchema for Operator {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Operator".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["≥", "≤", "=", "定性", ">=", "<=", "==", "qualitative"],
            "description": "≥, ≤ or = the target, or 定性 (qualitative); written back as the symbol"
        })
    }
}

impl Operator {
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Ge => "≥",
            Operator::Le => "≤",
            Operator::Eq => "=",
            Operator::Qualitative => "定性",
        }
    }

    pub fn is_quantitative(self) -> bool {
        self != Operator::Qualitative
    }
}

impl FromStr for Operator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "≥" | ">=" | "＞=" | "大于等于" => Ok(Operator::Ge),
            "≤" | "<=" | "＜=" | "小于等于" => Ok(Operator::Le),
            "=" | "==" | "＝" | "等于" => Ok(Operator::Eq),
            "定性" | "qualitative" => Ok(Operator::Qualitative),
            _ => Err(format!("'{s}' is not an operator (expected ≥, ≤, = or 定性)")),
        }
    }
}

/// The basis of a target value (取值依据).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Basis {
    #[serde(rename = "计划标准")]
    Plan,
    #[serde(rename = "行业标准")]
    Industry,
    #[serde(rename = "历史标准")]
    History,
    #[serde(rename = "其他")]
    Other,
}

/// A target value: a number for quantitative indicators, a text for qualitative ones. A text on
/// a quantitative indicator ("有效") is kept as written so that checks can report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetValue {
    Number(#[serde(with = "rust_decimal::serde::str")] Decimal),
    Text(String),
}

/// Always a string on the wire: the number as text ("95") or the qualitative value.
impl schemars::JsonSchema for TargetValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TargetValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A target value: a number as a string (\"95\") for ≥, ≤ and =, a text for 定性"
        })
    }
}

impl TargetValue {
    /// Reads a value as written on a form: a number if it parses as one, otherwise text.
    pub fn parse(s: &str) -> TargetValue {
        let t = s.trim().trim_end_matches('%');
        match Decimal::from_str(t) {
            Ok(d) => TargetValue::Number(d),
            Err(_) => TargetValue::Text(s.trim().to_string()),
        }
    }

    pub fn as_number(&self) -> Option<Decimal> {
        match self {
            TargetValue::Number(d) => Some(*d),
            TargetValue::Text(_) => None,
        }
    }
}

impl fmt::Display for TargetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetValue::Number(d) => write!(f, "{d}"),
            TargetValue::Text(t) => f.write_str(t),
        }
    }
}

/// A level-3 indicator as declared for a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub level1: Level1,
    pub level2: String,
    pub name: String,
    pub operator: Operator,
    pub value: TargetValue,
    #[serde(default)]
    pub unit: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String")]
    pub weight: Decimal,
    pub basis: Basis,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub core: bool,
}

/// A problem with one field of one indicator, with the field's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
    /// The message in Chinese, where the form is one people fill on the pages.
    #[serde(rename = "message_zh", skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
}

impl FieldError {
    /// A problem described in English and Chinese.
    pub fn bilingual(path: impl Into<String>, message: impl Into<String>, zh: impl Into<String>) -> FieldError {
        FieldError { path: path.into(), message: message.into(), zh: Some(zh.into()) }
    }

    /// The message in `lang` ("zh" or "en"), English where no Chinese was written.
    pub fn message_in(&self, lang: &str) -> &str {
        match (&self.zh, lang) {
            (Some(zh), "zh") => zh,
            _ => &self.message,
        }
    }
}

impl Indicator {
    /// Structural validation: what any indicator must satisfy to be stored. (Plausibility checks
    /// such as "a rate ≥ 100%" are the plugins' business.)
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut err =
            |field: &str, en: String, zh: String| errs.push(FieldError::bilingual(format!("{path}.{field}"), en, zh));
        if self.name.trim().is_empty() {
            err("name", "an indicator needs a name".into(), "请填写指标名称".into());
        }
        if self.name.chars().count() > 200 {
            err("name", "at most 200 characters".into(), "指标名称最多 200 个字".into());
        }
        if !self.level1.level2_names().contains(&self.level2.as_str()) {
            err(
                "level2",
                format!(
                    "'{}' is not a level-2 indicator of {} (expected one of {})",
                    self.level2,
                    self.level1,
                    self.level1.level2_names().join(", ")
                ),
                format!(
                    "“{}”不是{}下的二级指标（应为：{}）",
                    self.level2,
                    self.level1,
                    self.level1.level2_names().join("、")
                ),
            );
        }
        if self.weight < Decimal::ZERO || self.weight > Decimal::ONE_HUNDRED {
            err(
                "weight",
                format!("{} is not a weight between 0 and 100", self.weight),
                format!("权重 {} 应在 0 到 100 之间", self.weight),
            );
        }
        if self.operator.is_quantitative() && self.value.as_number().is_some() && self.unit.trim().is_empty() {
            err("unit", "a quantitative indicator needs a unit (度量单位)".into(), "定量指标须填写度量单位".into());
        }
        errs
    }
}
