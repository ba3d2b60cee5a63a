//! Indicator-check rules for jixiao plugins, over plain Rust types that mirror the WIT types of
//! `wit/indicator.wit` (package `jixiao:indicator@1.0.0`).
//!
//! This crate has no WebAssembly dependencies, so its unit tests run natively
//! (`cargo test -p rules`). It is `no_std` (with `alloc`) so that the plugin components, which
//! must import nothing from the host, can link it without the standard library.
//!
//! - [`decimal`]: an exact decimal parser ("95.5" becomes a scaled integer), so that boundary
//!   comparisons never go through floating point;
//! - [`common`]: the checks that apply to a project of any sector;
//! - [`sector`]: the engine that checks a project against a sector indicator library;
//! - [`sectors`]: the libraries of the five sectors, as data.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod common;
pub mod decimal;
pub mod sector;
pub mod sectors;
pub mod text;

#[cfg(test)]
mod testutil;

use alloc::string::String;
use alloc::vec::Vec;

pub use decimal::Dec;

/// The comparison a target states: ≥, ≤, =, or 定性 (qualitative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Ge,
    Le,
    Eq,
    Qualitative,
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

/// Level-1 category: 产出, 效益, 满意度, 成本.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level1 {
    Output,
    Benefit,
    Satisfaction,
    Cost,
}

impl Level1 {
    pub fn label_zh(self) -> &'static str {
        match self {
            Level1::Output => "产出",
            Level1::Benefit => "效益",
            Level1::Satisfaction => "满意度",
            Level1::Cost => "成本",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Level1::Output => "output",
            Level1::Benefit => "benefit",
            Level1::Satisfaction => "satisfaction",
            Level1::Cost => "cost",
        }
    }
}

/// One level-3 indicator as declared (mirrors the WIT record `indicator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub level1: Level1,
    pub level2: String,
    pub name: String,
    pub operator: Operator,
    /// Target value as written ("95", "95.5", "有效").
    pub value: String,
    pub unit: String,
    /// Weight as decimal text.
    pub weight: String,
    pub basis: String,
    pub core: bool,
}

impl Indicator {
    /// The target value as an exact decimal, if it is one (a trailing "%" is allowed).
    pub fn number(&self) -> Option<Dec> {
        Dec::parse(&self.value).ok()
    }

    /// True when the indicator is measured in percent: unit "%" (or "％", "百分比"), or the
    /// value is written with a "%" sign.
    pub fn is_percent(&self) -> bool {
        text::is_percent_unit(&self.unit) || text::ends_with_percent(&self.value)
    }

    /// True for a cost indicator: level-1 成本 (财预〔2021〕101号) or a level-2 成本指标 (88号).
    pub fn is_cost(&self) -> bool {
        self.level1 == Level1::Cost || self.level2.contains("成本")
    }

    /// True for a satisfaction indicator: level-1 满意度, or a name with 满意.
    pub fn is_satisfaction(&self) -> bool {
        self.level1 == Level1::Satisfaction || self.name.contains("满意")
    }
}

/// A project and its indicators (mirrors the WIT record `project`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub code: String,
    pub sector: String,
    /// Budget in fen (1 yuan = 100 fen); 0 or less when unknown.
    pub amount_fen: i64,
    pub fiscal_year: i32,
    pub is_new: bool,
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One problem found (mirrors the WIT record `finding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable code "<plugin>.<rule>".
    pub code: String,
    pub severity: Severity,
    /// Index into `Project::indicators`.
    pub indicator: Option<u32>,
    pub message_zh: String,
    pub message_en: String,
}

impl Finding {
    pub fn new(
        code: &str,
        severity: Severity,
        indicator: Option<usize>,
        message_zh: String,
        message_en: String,
    ) -> Finding {
        Finding {
            code: String::from(code),
            severity,
            indicator: indicator.and_then(|i| u32::try_from(i).ok()),
            message_zh,
            message_en,
        }
    }
}
