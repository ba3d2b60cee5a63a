//! Checks for a project of any sector (the `common` plugin).
//!
//! Every finding has a stable code `common.<rule>`; the rules and their codes are listed in
//! plugins/README.md. The thresholds are the defaults of DOMAIN.md §2 and §5.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::decimal::ParseError;
use crate::text;
use crate::{Dec, Finding, Indicator, Level1, Operator, Project, Severity};

/// Weight points the declared indicators share: 产出 50 + 效益 30 + 满意度 10 = 90
/// (财预〔2020〕10号). The other 10 of the 100 self-evaluation points belong to the budget
/// execution rate (预算执行率), which is scored from spending, not declared as an indicator.
/// Without a 满意度 indicator its 10 points go to the others, so the total stays 90.
pub const EXPECTED_WEIGHT_TOTAL: i64 = 90;

/// A satisfaction target below this many percent is reported ([DEF]: practice is 80–95%).
pub const MIN_SATISFACTION_PERCENT: i64 = 80;

/// Runs every common rule. Project-level findings come first, then per-indicator findings in
/// indicator order, then weights and duplicates.
pub fn check(p: &Project) -> Vec<Finding> {
    let mut out = Vec::new();
    missing_level1(p, &mut out);
    for (i, ind) in p.indicators.iter().enumerate() {
        check_indicator(p, i, ind, &mut out);
    }
    weights(p, &mut out);
    duplicates(p, &mut out);
    out
}

fn push(out: &mut Vec<Finding>, code: &str, severity: Severity, idx: Option<usize>, zh: String, en: String) {
    out.push(Finding::new(code, severity, idx, zh, en));
}

/// `common.missing_output`, `common.missing_benefit` (errors), `common.missing_satisfaction`
/// (warning: 10号 lets a project without one share its points among the others, but the form
/// should say why there is no service object to ask).
pub fn missing_level1(p: &Project, out: &mut Vec<Finding>) {
    let has = |l: Level1| p.indicators.iter().any(|i| i.level1 == l);
    let rules = [
        (Level1::Output, "common.missing_output", Severity::Error),
        (Level1::Benefit, "common.missing_benefit", Severity::Error),
        (Level1::Satisfaction, "common.missing_satisfaction", Severity::Warning),
    ];
    for (level, code, severity) in rules {
        if !has(level) {
            push(
                out,
                code,
                severity,
                None,
                format!("项目没有{}指标：绩效目标应至少包含一个{}指标。", level.label_zh(), level.label_zh()),
                format!(
                    "The project has no {} indicator: targets must include at least one {} ({}) indicator.",
                    level.label_en(),
                    level.label_en(),
                    level.label_zh()
                ),
            );
        }
    }
}

/// All per-indicator rules for indicator `i`.
pub fn check_indicator(p: &Project, i: usize, ind: &Indicator, out: &mut Vec<Finding>) {
    let idx = Some(i);
    let name = ind.name.trim();
    let op = ind.operator;
    let value = ind.value.trim();
    let parsed = Dec::parse(value);
    let num = parsed.ok();
    let pct = ind.is_percent();
    let change = text::is_change_measure(name);
    let sym = op.symbol();

    // common.missing_value
    if value.is_empty() {
        push(
            out,
            "common.missing_value",
            Severity::Error,
            idx,
            format!("指标「{name}」没有目标值。"),
            format!("Indicator '{name}' has no target value."),
        );
    }

    // common.missing_unit
    if op.is_quantitative() && ind.unit.trim().is_empty() && !text::ends_with_percent(value) {
        push(
            out,
            "common.missing_unit",
            Severity::Error,
            idx,
            format!("定量指标「{name}」（{sym} {value}）缺少计量单位。"),
            format!("Quantitative indicator '{name}' ({sym} {value}) has no unit of measure."),
        );
    }

    // common.non_numeric_value
    if op.is_quantitative() {
        match parsed {
            Err(ParseError::NotNumber) => push(
                out,
                "common.non_numeric_value",
                Severity::Error,
                idx,
                format!("定量指标「{name}」使用了 {sym}，但目标值「{value}」不是数值；请填写可衡量的数值，或改为定性指标。"),
                format!(
                    "Indicator '{name}' uses {sym} but its target '{value}' is not a number; give a measurable number or make it qualitative (定性)."
                ),
            ),
            Err(ParseError::OutOfRange) => push(
                out,
                "common.non_numeric_value",
                Severity::Error,
                idx,
                format!("指标「{name}」的目标值「{value}」无法作为数值读取（过大或小数位过多）。"),
                format!("The target '{value}' of indicator '{name}' cannot be read as a number (too large or too many decimals)."),
            ),
            _ => {}
        }
    }

    // common.qualitative_with_number
    if op == Operator::Qualitative && num.is_some() && !ind.unit.trim().is_empty() {
        push(
            out,
            "common.qualitative_with_number",
            Severity::Info,
            idx,
            format!("指标「{name}」为定性指标，却填写了数值 {value}{}；如可量化，宜改为定量指标（≥、≤ 或 =）。", ind.unit.trim()),
            format!(
                "Indicator '{name}' is qualitative but has the value {value} {}; if it can be measured, declare it with ≥, ≤ or =.",
                ind.unit.trim()
            ),
        );
    }

    if let (true, Some(v)) = (op.is_quantitative(), num) {
        // common.percent_out_of_range
        if pct && !change && (v.is_negative() || v.cmp_int(100) == Ordering::Greater) {
            push(
                out,
                "common.percent_out_of_range",
                Severity::Error,
                idx,
                format!("指标「{name}」（{sym} {v}%）的百分比超出 0–100% 的范围，无法实现。"),
                format!("Indicator '{name}' ({sym} {v}%) is a percentage outside 0–100%: it cannot be achieved."),
            );
        }

        // common.vacuous_bound: any result meets it, so it measures nothing.
        let vacuous = !change
            && ((op == Operator::Ge && v.cmp_int(0) != Ordering::Greater)
                || (op == Operator::Le && pct && v.cmp_int(100) != Ordering::Less));
        if vacuous {
            push(
                out,
                "common.vacuous_bound",
                Severity::Error,
                idx,
                format!("指标「{name}」的目标「{sym} {v}{}」任何结果都能满足，不能衡量绩效。", ind.unit.trim()),
                format!(
                    "The target '{sym} {v} {}' of indicator '{name}' is met by any result, so it measures nothing.",
                    ind.unit.trim()
                ),
            );
        }

        // common.unfalsifiable_bound: only the extreme value meets it (≥ 100%, ≤ 0).
        let extreme = !change
            && ((op == Operator::Ge && pct && v.cmp_int(100) == Ordering::Equal)
                || (op == Operator::Le && v.cmp_int(0) == Ordering::Equal));
        if extreme {
            let (eq_zh, eq_en) = if op == Operator::Ge { ("= 100%", "= 100%") } else { ("= 0", "= 0") };
            push(
                out,
                "common.unfalsifiable_bound",
                Severity::Warning,
                idx,
                format!(
                    "指标「{name}」的目标「{sym} {v}{}」只有极值才能满足，通常是照填的默认值：确需全部达成请写「{eq_zh}」，否则请按历史或行业水平设定合理目标。",
                    ind.unit.trim()
                ),
                format!(
                    "The target '{sym} {v} {}' of indicator '{name}' can only be met by the extreme value and is usually a filled-in default: write '{eq_en}' if that is truly required, otherwise set a realistic bound from history or sector standards.",
                    ind.unit.trim()
                ),
            );
        }

        // common.cost_exceeds_budget
        if ind.is_cost() && p.amount_fen > 0 {
            if let Some(fen_per_unit) = text::money_unit_fen(&ind.unit) {
                let over = match v.checked_mul_int(fen_per_unit) {
                    Some(fen) => fen > Dec::from_int(p.amount_fen),
                    None => true,
                };
                if over {
                    let budget = Dec::from_int(p.amount_fen).to_yuan_string();
                    push(
                        out,
                        "common.cost_exceeds_budget",
                        Severity::Error,
                        idx,
                        format!("成本指标「{name}」（{sym} {v}{}）超过项目预算 {budget} 元。", ind.unit.trim()),
                        format!(
                            "Cost indicator '{name}' ({sym} {v} {}) exceeds the project budget of {budget} yuan.",
                            ind.unit.trim()
                        ),
                    );
                }
            }
        }

        // common.low_satisfaction
        if ind.is_satisfaction()
            && pct
            && matches!(op, Operator::Ge | Operator::Eq)
            && v.cmp_int(MIN_SATISFACTION_PERCENT) == Ordering::Less
        {
            push(
                out,
                "common.low_satisfaction",
                Severity::Warning,
                idx,
                format!("满意度指标「{name}」的目标 {v}% 低于 {MIN_SATISFACTION_PERCENT}%，目标偏低。"),
                format!("Satisfaction indicator '{name}' targets {v}%, below {MIN_SATISFACTION_PERCENT}%: the target is too low."),
            );
        }
    }

    // common.reverse_sense_ge
    if op == Operator::Ge && text::is_reverse_sense(name) {
        push(
            out,
            "common.reverse_sense_ge",
            Severity::Error,
            idx,
            format!("指标「{name}」越低越好，应使用「≤」设定上限，而不是「≥」。"),
            format!("Indicator '{name}' is better when lower: declare an upper bound with ≤, not ≥."),
        );
    }

    // common.satisfaction_le
    if op == Operator::Le && ind.is_satisfaction() {
        push(
            out,
            "common.satisfaction_le",
            Severity::Error,
            idx,
            format!("满意度指标「{name}」越高越好，应使用「≥」，而不是「≤」。"),
            format!("Satisfaction indicator '{name}' is better when higher: use ≥, not ≤."),
        );
    }

    // common.invalid_weight (blank weights are judged for the whole project in `weights`)
    let w = ind.weight.trim();
    if !w.is_empty() {
        let ok = matches!(Dec::parse(w), Ok(d) if !d.is_negative() && d.cmp_int(100) != Ordering::Greater);
        if !ok || text::ends_with_percent(w) {
            push(
                out,
                "common.invalid_weight",
                Severity::Error,
                idx,
                format!("指标「{name}」的分值「{w}」不是 0–100 之间的数。"),
                format!("The weight '{w}' of indicator '{name}' is not a number between 0 and 100."),
            );
        }
    }
}

/// `common.weights_missing` (info, every weight blank: weights not set yet),
/// `common.invalid_weight` (error, one weight blank while others are set),
/// `common.weight_total` (warning, the weights do not add up to [`EXPECTED_WEIGHT_TOTAL`]).
pub fn weights(p: &Project, out: &mut Vec<Finding>) {
    if p.indicators.is_empty() {
        return;
    }
    let blank: Vec<usize> =
        p.indicators.iter().enumerate().filter(|(_, i)| i.weight.trim().is_empty()).map(|(n, _)| n).collect();
    if blank.len() == p.indicators.len() {
        push(
            out,
            "common.weights_missing",
            Severity::Info,
            None,
            String::from("所有指标均未填写分值。"),
            String::from("No indicator has a weight yet."),
        );
        return;
    }
    for &n in &blank {
        let name = p.indicators[n].name.trim();
        push(
            out,
            "common.invalid_weight",
            Severity::Error,
            Some(n),
            format!("指标「{name}」未填写分值，而其他指标已填写。"),
            format!("Indicator '{name}' has no weight while the others have one."),
        );
    }
    if !blank.is_empty() {
        return;
    }
    let mut total = Dec::ZERO;
    for ind in &p.indicators {
        match Dec::parse(ind.weight.trim()).ok().and_then(|w| total.checked_add(w)) {
            Some(t) if !text::ends_with_percent(&ind.weight) => total = t,
            _ => return, // reported by common.invalid_weight
        }
    }
    if total != Dec::from_int(EXPECTED_WEIGHT_TOTAL) {
        push(
            out,
            "common.weight_total",
            Severity::Warning,
            None,
            format!(
                "指标分值合计为 {total}，应为 {EXPECTED_WEIGHT_TOTAL}（产出 50 + 效益 30 + 满意度 10；预算执行率 10 分另计）。"
            ),
            format!(
                "The weights add up to {total}, not {EXPECTED_WEIGHT_TOTAL} (output 50 + benefit 30 + satisfaction 10; the 10 points of the budget execution rate are separate)."
            ),
        );
    }
}

/// `common.duplicate_name` (warning), reported on each repeat with the first occurrence.
pub fn duplicates(p: &Project, out: &mut Vec<Finding>) {
    let names: Vec<_> = p.indicators.iter().map(|i| text::squeeze(&i.name)).collect();
    for (n, name) in names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(first) = names[..n].iter().position(|m| m == name) {
            let shown = p.indicators[n].name.trim();
            push(
                out,
                "common.duplicate_name",
                Severity::Warning,
                Some(n),
                format!("指标「{shown}」与第 {} 个指标重名。", first + 1),
                format!("Indicator '{shown}' repeats the name of indicator #{}.", first + 1),
            );
        }
    }
}

impl Dec {
    /// A value in fen written in yuan ("12345.67").
    fn to_yuan_string(self) -> String {
        // 1 fen = 0.01 yuan: shift by dividing by 100 exactly via the decimal form.
        let s = format!("{self}");
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s.as_str()),
        };
        let int_digits = digits.split('.').next().unwrap_or("0");
        let padded = format!("{int_digits:0>3}");
        let (yuan, fen) = padded.split_at(padded.len() - 2);
        let fen = fen.trim_end_matches('0');
        let mut r = String::new();
        if neg {
            r.push('-');
        }
        r.push_str(yuan);
        if !fen.is_empty() {
            r.push('.');
            r.push_str(fen);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};
    use alloc::vec;

    /// One line per case: an indicator (see `testutil::ind`), the project budget in yuan, and
    /// the codes of every per-indicator finding expected.
    #[test]
    fn indicator_rules_table() {
        #[rustfmt::skip]
        let cases: &[(&str, i64, &[&str])] = &[
            // clean indicators
            ("产出|数量指标|学生受资助人数|≥|735|人次|10", 1_000_000, &[]),
            ("产出|质量指标|适龄儿童免疫规划疫苗接种率|≥|90|%|10", 1_000_000, &[]),
            ("产出|时效指标|资金发放及时率|=|100|%|10", 1_000_000, &[]),
            ("效益|社会效益指标|群众生活条件|定性|有效改善||10", 1_000_000, &[]),
            ("效益|经济效益指标|农民收入增长率|≥|150|%|10", 1_000_000, &[]),
            ("效益|经济效益指标|单位成本下降率|≥|-5|%|10", 1_000_000, &[]),
            // missing value / unit, text on a quantitative indicator
            ("产出|数量指标|培训人数|≥||人|10", 1_000_000, &["common.missing_value"]),
            ("效益|社会效益指标|群众生活条件|定性|||10", 1_000_000, &["common.missing_value"]),
            ("产出|数量指标|培训人数|≥|500||10", 1_000_000, &["common.missing_unit"]),
            ("产出|质量指标|合格率|≥|95%||10", 1_000_000, &[]),
            ("效益|社会效益指标|群众生活水平|≥|有效||10", 1_000_000, &["common.missing_unit", "common.non_numeric_value"]),
            ("效益|社会效益指标|群众生活水平|≥|有效|%|10", 1_000_000, &["common.non_numeric_value"]),
            ("产出|数量指标|道路硬化|≥|约0.5|km|10", 1_000_000, &["common.non_numeric_value"]),
            ("产出|质量指标|验收|定性|95|%|10", 1_000_000, &["common.qualitative_with_number"]),
            ("产出|质量指标|评定等级|定性|1||10", 1_000_000, &[]),
            // percentages and bounds
            ("产出|质量指标|覆盖率|=|120|%|10", 1_000_000, &["common.percent_out_of_range"]),
            ("产出|质量指标|覆盖率|≥|100.5|%|10", 1_000_000, &["common.percent_out_of_range"]),
            ("产出|质量指标|覆盖率|=|100.000000001|%|10", 1_000_000, &["common.percent_out_of_range"]),
            ("产出|质量指标|覆盖率|≥|-1|%|10", 1_000_000, &["common.percent_out_of_range", "common.vacuous_bound"]),
            ("产出|时效指标|资金发放及时率|≥|100|%|10", 1_000_000, &["common.unfalsifiable_bound"]),
            ("产出|时效指标|资金发放及时率|≥|99.9|%|10", 1_000_000, &[]),
            ("产出|质量指标|安全事故发生次数|≤|0|次|10", 1_000_000, &["common.unfalsifiable_bound"]),
            ("产出|质量指标|安全事故发生次数|=|0|次|10", 1_000_000, &[]),
            ("产出|数量指标|培训人数|≥|0|人|10", 1_000_000, &["common.vacuous_bound"]),
            ("产出|质量指标|不合格率|≤|100|%|10", 1_000_000, &["common.vacuous_bound"]),
            ("产出|质量指标|不合格率|≤|5|%|10", 1_000_000, &[]),
            // reverse sense: the real "逾期发放率 ≥ 100%" defect hits three rules
            ("产出|时效指标|逾期发放率|≥|100|%|10", 1_000_000, &["common.unfalsifiable_bound", "common.reverse_sense_ge"]),
            ("产出|质量指标|群众投诉率|≥|5|%|10", 1_000_000, &["common.reverse_sense_ge"]),
            ("产出|质量指标|群众投诉率|≤|5|%|10", 1_000_000, &[]),
            ("产出|质量指标|投诉处理率|≥|95|%|10", 1_000_000, &[]),
            ("效益|社会效益指标|安全事故发生率|≥|1|%|10", 1_000_000, &["common.reverse_sense_ge"]),
            // cost against the budget (1,000,000 yuan)
            ("产出|成本指标|项目总成本|≤|100|万元|10", 1_000_000, &[]),
            ("产出|成本指标|项目总成本|≤|100.01|万元|10", 1_000_000, &["common.cost_exceeds_budget"]),
            ("成本|经济成本指标|建设成本|≤|1000001|元|10", 1_000_000, &["common.cost_exceeds_budget"]),
            ("成本|经济成本指标|建设成本|≤|1000000|元|10", 1_000_000, &[]),
            ("产出|成本指标|财政资金补助|=|1600|元/亩|10", 1_000, &[]),
            ("产出|成本指标|项目总成本|≤|2|亿元|10", 0, &[]),
            ("产出|数量指标|拨付资金|≥|200|万元|10", 1_000_000, &[]),
            // satisfaction
            ("满意度|服务对象满意度指标|学生满意度|≥|95|%|10", 1_000_000, &[]),
            ("满意度|服务对象满意度指标|学生满意度|≥|80|%|10", 1_000_000, &[]),
            ("满意度|服务对象满意度指标|学生满意度|≥|79.99|%|10", 1_000_000, &["common.low_satisfaction"]),
            ("满意度|服务对象满意度指标|学生满意度|=|60|%|10", 1_000_000, &["common.low_satisfaction"]),
            ("满意度|服务对象满意度指标|学生满意度|≤|95|%|10", 1_000_000, &["common.satisfaction_le"]),
            ("满意度|服务对象满意度指标|学生满意度|≥|90|分|10", 1_000_000, &[]),
            // weights
            ("产出|数量指标|培训人数|≥|500|人|-1", 1_000_000, &["common.invalid_weight"]),
            ("产出|数量指标|培训人数|≥|500|人|101", 1_000_000, &["common.invalid_weight"]),
            ("产出|数量指标|培训人数|≥|500|人|十", 1_000_000, &["common.invalid_weight"]),
            ("产出|数量指标|培训人数|≥|500|人|10%", 1_000_000, &["common.invalid_weight"]),
            ("产出|数量指标|培训人数|≥|500|人|7.5", 1_000_000, &[]),
        ];
        for (spec, yuan, want) in cases {
            let p = proj("education", *yuan, &[spec]);
            let mut out = Vec::new();
            check_indicator(&p, 0, &p.indicators[0], &mut out);
            assert_eq!(codes(&out), *want, "case {spec}");
            assert!(out.iter().all(|f| f.indicator == Some(0)), "case {spec}");
        }
    }

    const OUT: &str = "产出|数量指标|培训人数|≥|500|人|50";
    const BEN: &str = "效益|社会效益指标|就业率|≥|80|%|30";
    const SAT: &str = "满意度|服务对象满意度指标|学员满意度|≥|90|%|10";

    #[test]
    fn missing_level1_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[OUT, BEN, SAT], &[]),
            (&[OUT, SAT], &["common.missing_benefit"]),
            (&[OUT, BEN], &["common.missing_satisfaction"]),
            (&[BEN, SAT], &["common.missing_output"]),
            (&[], &["common.missing_output", "common.missing_benefit", "common.missing_satisfaction"]),
            (&["成本|经济成本指标|成本|≤|10|万元|50", BEN, SAT], &["common.missing_output"]),
        ];
        for (specs, want) in cases {
            let mut out = Vec::new();
            missing_level1(&proj("health", 1_000_000, specs), &mut out);
            assert_eq!(codes(&out), *want, "case {specs:?}");
        }
    }

    #[test]
    fn weights_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&["产出|数量指标|a|≥|1|人|50", "效益|社会效益指标|b|≥|1|人|30", "满意度|服务对象满意度指标|c|≥|90|%|10"], &[]),
            (&["产出|数量指标|a|≥|1|人|25.5", "产出|数量指标|b|≥|1|人|24.5", "效益|社会效益指标|c|≥|1|人|40"], &[]),
            (&["产出|数量指标|a|≥|1|人|50", "效益|社会效益指标|b|≥|1|人|30", "满意度|服务对象满意度指标|c|≥|90|%|20"], &["common.weight_total"]),
            (&["产出|数量指标|a|≥|1|人|50", "效益|社会效益指标|b|≥|1|人|30", "满意度|服务对象满意度指标|c|≥|90|%|9.999"], &["common.weight_total"]),
            (&["产出|数量指标|a|≥|1|人|", "效益|社会效益指标|b|≥|1|人|"], &["common.weights_missing"]),
            (&["产出|数量指标|a|≥|1|人|50", "效益|社会效益指标|b|≥|1|人|"], &["common.invalid_weight"]),
            (&["产出|数量指标|a|≥|1|人|50", "效益|社会效益指标|b|≥|1|人|x"], &[]),
            (&[], &[]),
        ];
        for (specs, want) in cases {
            let mut out = Vec::new();
            weights(&proj("health", 1_000_000, specs), &mut out);
            assert_eq!(codes(&out), *want, "case {specs:?}");
        }
    }

    #[test]
    fn duplicates_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[Option<u32>])] = &[
            (&["产出|数量指标|培训人数|≥|1|人|10", "产出|数量指标|培训人次|≥|1|人|10"], &[]),
            (&["产出|数量指标|培训人数|≥|1|人|10", "产出|数量指标|培训 人数|≥|2|人|10"], &[Some(1)]),
            (&["产出|数量指标|a|≥|1|人|10", "产出|数量指标|b|≥|1|人|10", "产出|数量指标|a|≥|1|人|10", "产出|数量指标|a|≥|1|人|10"], &[Some(2), Some(3)]),
        ];
        for (specs, want) in cases {
            let mut out = Vec::new();
            duplicates(&proj("health", 1_000_000, specs), &mut out);
            assert!(out.iter().all(|f| f.code == "common.duplicate_name"));
            let got: Vec<Option<u32>> = out.iter().map(|f| f.indicator).collect();
            assert_eq!(got, *want, "case {specs:?}");
        }
    }

    #[test]
    fn full_check_on_a_bad_form() {
        // The defects of DOMAIN.md §2 on one form.
        let p = proj(
            "social_security",
            500_000,
            &[
                "产出|数量指标|农村低保发放人数|≥|21933|人|20",
                "产出|时效指标|逾期发放率|≥|100|%|10",
                "产出|时效指标|及时率|≥|100|%|10",
                "产出|质量指标|保障效果|≥|有效|%|10",
                "产出|成本指标|项目成本|≤|60|万元|10",
                "产出|数量指标|救助户数|≥|300||10",
            ],
        );
        let got = check(&p);
        assert_eq!(
            codes(&got),
            vec![
                "common.missing_benefit",
                "common.missing_satisfaction",
                "common.unfalsifiable_bound",
                "common.reverse_sense_ge",
                "common.unfalsifiable_bound",
                "common.non_numeric_value",
                "common.cost_exceeds_budget",
                "common.missing_unit",
                "common.weight_total",
            ]
        );
        let cost = got.iter().find(|f| f.code == "common.cost_exceeds_budget").unwrap();
        assert_eq!(cost.indicator, Some(4));
        assert!(cost.message_en.contains("500000 yuan"), "{}", cost.message_en);
        assert!(got.iter().all(|f| !f.message_zh.is_empty() && !f.message_en.is_empty()));
    }

    #[test]
    fn yuan_string_table() {
        #[rustfmt::skip]
        let cases: &[(i64, &str)] = &[(50_000_000, "500000"), (123_456, "1234.56"), (120, "1.2"), (5, "0.05"), (0, "0")];
        for (fen, want) in cases {
            assert_eq!(Dec::from_int(*fen).to_yuan_string(), *want, "{fen}");
        }
    }
}
