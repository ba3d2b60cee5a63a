//! Compact builders for table-driven tests.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{Indicator, Level1, Operator, Project};

/// Builds an indicator from "level1|level2|name|op|value|unit|weight[|★]", e.g.
/// "产出|数量指标|学生受资助人数|≥|735|人次|10".
pub fn ind(spec: &str) -> Indicator {
    let f: Vec<&str> = spec.split('|').collect();
    assert!(f.len() == 7 || f.len() == 8, "bad spec {spec}");
    let level1 = match f[0] {
        "产出" => Level1::Output,
        "效益" => Level1::Benefit,
        "满意度" => Level1::Satisfaction,
        "成本" => Level1::Cost,
        other => panic!("bad level1 {other}"),
    };
    let operator = match f[1 + 2] {
        "≥" => Operator::Ge,
        "≤" => Operator::Le,
        "=" => Operator::Eq,
        "定性" => Operator::Qualitative,
        other => panic!("bad operator {other}"),
    };
    Indicator {
        level1,
        level2: String::from(f[1]),
        name: String::from(f[2]),
        operator,
        value: String::from(f[4]),
        unit: String::from(f[5]),
        weight: String::from(f[6]),
        basis: String::from("计划标准"),
        core: f.get(7) == Some(&"★"),
    }
}

/// A project of `sector` with a budget of `yuan` yuan and the indicators of `specs`.
pub fn proj(sector: &str, yuan: i64, specs: &[&str]) -> Project {
    Project {
        code: String::from("T-001"),
        sector: String::from(sector),
        amount_fen: yuan * 100,
        fiscal_year: 2025,
        is_new: false,
        indicators: specs.iter().map(|s| ind(s)).collect(),
    }
}

/// The codes of findings, in order.
pub fn codes(findings: &[crate::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}
