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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    pub indicators: Vec<Indicator>,
}
