//! Departments, experts and budget projects: the records a cycle works on.

use serde::{Deserialize, Serialize};

use super::indicator::{FieldError, Indicator};
use super::money::Fen;

/// The sectors (行业) the county's projects belong to. The codes are stable identifiers used in
/// workflows (`sector:{project.sector}`) and plugins; the labels are what users read.
pub const SECTORS: &[(&str, &str)] = &[
    ("education", "教育"),
    ("health", "卫生健康"),
    ("agriculture", "农业农村"),
    ("transport", "交通运输"),
    ("social_security", "社会保障和就业"),
    ("environment", "生态环境"),
    ("culture", "文化旅游体育"),
    ("public_safety", "公共安全"),
    ("general", "一般公共服务"),
];

pub fn sector_label(code: &str) -> Option<&'static str> {
    SECTORS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// Where the money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FundingSource {
    /// 一般公共预算
    GeneralBudget,
    /// 政府性基金预算
    GovernmentFund,
    /// 国有资本经营预算
    StateCapital,
    /// 社会保险基金预算
    SocialInsuranceFund,
    /// 上级转移支付
    Transfer,
}

/// A budget project as declared by its department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub code: String,
    pub name: String,
    pub department_code: String,
    pub sector: String,
    pub amount: Fen,
    pub fiscal_year: i32,
    pub is_new: bool,
    pub funding_source: FundingSource,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
}

impl ProjectInput {
    /// Structural validation with field paths; an empty result means the project can be stored.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut err = |path: &str, message: String| errs.push(FieldError { path: path.to_string(), message, zh: None });
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 64
            && self.code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !code_ok {
            err("code", format!("'{}' is not a project code (1–64 letters, digits, '-', '_' or '.')", self.code));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            err("name", "a project name of 1–200 characters is required".into());
        }
        if let Some(e) = super::text::line_problem("name", &self.name) {
            err("name", e.message);
        }
        if sector_label(&self.sector).is_none() {
            let known: Vec<&str> = SECTORS.iter().map(|(c, _)| *c).collect();
            err("sector", format!("'{}' is not a sector (expected one of {})", self.sector, known.join(", ")));
        }
        if self.amount < Fen::ZERO {
            err("amount", "a budget amount cannot be negative".into());
        }
        if !(2000..=2100).contains(&self.fiscal_year) {
            err("fiscal_year", format!("{} is not a fiscal year between 2000 and 2100", self.fiscal_year));
        }
        if self.indicators.len() > 200 {
            err("indicators", "at most 200 indicators per project".into());
        }
        for (i, ind) in self.indicators.iter().enumerate() {
            errs.extend(ind.validate(&format!("indicators[{i}]")));
        }
        errs
    }
}

/// A stored project as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Project {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub department_id: i64,
    pub department_code: String,
    pub sector: String,
    /// The budget as first set.
    pub amount: Fen,
    /// The budget now: `amount` with every adjustment (调剂), mid-year addition (追加) and
    /// reduction of the ledger applied. Execution rates are computed against it.
    pub budget: Fen,
    pub fiscal_year: i32,
    pub is_new: bool,
    pub funding_source: FundingSource,
    /// `project` for a budget project, `department` for a department's overall spending for
    /// the year (部门整体).
    pub kind: String,
    pub indicators: Vec<Indicator>,
}

/// One piece of a department's key work for the year (重点工作) and the money planned for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyWork {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub amount: Fen,
}

/// A department's overall declaration for a year (部门整体绩效目标): its duties, its key work,
/// its whole budget and, once declared, its overall indicators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Overall")]
pub struct OverallInput {
    /// 部门职能职责.
    pub duties: String,
    pub key_work: Vec<KeyWork>,
    /// The department's whole budget for the year.
    pub amount: Fen,
    #[serde(default = "general_budget")]
    pub funding_source: FundingSource,
    /// The overall indicators; usually declared later through the workflow's targets task.
    #[serde(default)]
    pub indicators: Vec<Indicator>,
}

fn general_budget() -> FundingSource {
    FundingSource::GeneralBudget
}

impl OverallInput {
    /// Checks the declaration, with field paths and Chinese messages for the pages.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let n = self.duties.trim().chars().count();
        if !(10..=20_000).contains(&n) {
            errs.push(FieldError::bilingual(
                "duties",
                format!("describe the department's duties in 10–20000 characters (got {n})"),
                format!("请用 10–20000 字说明部门职能职责（现为 {n} 字）"),
            ));
        }
        if self.key_work.is_empty() || self.key_work.len() > 100 {
            errs.push(FieldError::bilingual("key_work", "list 1–100 pieces of key work", "请列出 1–100 项重点工作"));
        }
        let mut total = Fen::ZERO;
        for (i, k) in self.key_work.iter().enumerate().take(100) {
            let n = k.name.trim().chars().count();
            if !(1..=200).contains(&n) {
                errs.push(FieldError::bilingual(
                    format!("key_work[{i}].name"),
                    "a name of 1–200 characters",
                    "重点工作名称应为 1–200 字",
                ));
            }
            if k.description.chars().count() > 5000 {
                errs.push(FieldError::bilingual(
                    format!("key_work[{i}].description"),
                    "at most 5000 characters",
                    "说明最多 5000 字",
                ));
            }
            if k.amount < Fen::ZERO {
                errs.push(FieldError::bilingual(
                    format!("key_work[{i}].amount"),
                    "an amount cannot be negative",
                    "金额不能为负数",
                ));
            }
            total = total.checked_add(k.amount).unwrap_or(Fen::from_fen(i64::MAX));
        }
        if self.amount < Fen::ZERO {
            errs.push(FieldError::bilingual("amount", "a budget cannot be negative", "预算金额不能为负数"));
        } else if total > self.amount {
            errs.push(FieldError::bilingual(
                "key_work",
                format!("the key work's amounts add up to {total} yuan, more than the budget of {} yuan", self.amount),
                format!("重点工作金额合计 {total} 元，超过部门预算 {} 元", self.amount),
            ));
        }
        if self.indicators.len() > 200 {
            errs.push(FieldError::bilingual("indicators", "at most 200 indicators", "最多 200 个指标"));
        }
        for (i, ind) in self.indicators.iter().enumerate().take(200) {
            errs.extend(ind.validate(&format!("indicators[{i}]")));
        }
        errs
    }
}
