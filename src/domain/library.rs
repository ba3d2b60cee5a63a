//! Indicator libraries (指标库) and fill-and-use (即填即用): the indicators a department may pick
//! for a project, where each value comes from, and the flags that catch a value far from the
//! project's own history or from what the sector's projects declare.
//!
//! Two kinds of library: the sector common libraries, whose only source is the indicator
//! plugins' data (`indicator_rules::sectors`, turned into entries by [`from_sector`]), and the
//! libraries of single departments (units), written by the bureau or proposed by the department
//! and approved by the bureau. A department's library comes first: an entry of the same name
//! replaces the sector's.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::indicator::{Basis, FieldError, Indicator, Level1, Operator, TargetValue};

/// Where a library's entries may be used. An empty list does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicability {
    /// Sector codes (`education`, …).
    #[serde(default)]
    pub sectors: Vec<String>,
    /// Department codes.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Project types (项目类别): a sector library's programme key (`student_aid`) or words of
    /// the project's name (`学生资助`).
    #[serde(default)]
    pub project_types: Vec<String>,
}

/// One indicator of a library: the level-3 shape of a declared indicator, with a suggested
/// value, where that value comes from, and where the entry applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LibraryIndicator {
    pub level1: Level1,
    pub level2: String,
    pub name: String,
    pub operator: Operator,
    /// The suggested target value.
    pub value: TargetValue,
    #[serde(default)]
    pub unit: String,
    /// A suggested weight (分值), if the library gives one.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub weight: Option<Decimal>,
    /// 取值依据: 计划标准, 行业标准, 历史标准 (or 其他).
    pub basis: Basis,
    /// The standard, plan or document the value comes from.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub core: bool,
    #[serde(default)]
    pub applies: Applicability,
}

/// At most this many entries in one library version.
pub const MAX_ENTRIES: usize = 2000;

/// Checks a library version's entries, with paths `entries[i].field`.
pub fn validate(entries: &[LibraryIndicator]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if entries.is_empty() {
        errs.push(FieldError::bilingual("entries", "a library needs at least one indicator", "指标库至少应有一个指标"));
    }
    if entries.len() > MAX_ENTRIES {
        errs.push(FieldError::bilingual(
            "entries",
            format!("{} indicators; at most {MAX_ENTRIES}", entries.len()),
            format!("指标 {} 个，最多 {MAX_ENTRIES} 个", entries.len()),
        ));
    }
    let mut names = HashSet::new();
    for (i, e) in entries.iter().enumerate().take(MAX_ENTRIES) {
        let path = format!("entries[{i}]");
        errs.extend(e.as_indicator().validate(&path));
        if !names.insert(squeeze(&e.name)) {
            errs.push(FieldError::bilingual(
                format!("{path}.name"),
                format!("'{}' appears twice in the library", e.name),
                format!("指标“{}”在库中重复", e.name),
            ));
        }
        if e.source.chars().count() > 500 || e.explanation.chars().count() > 2000 {
            errs.push(FieldError::bilingual(
                format!("{path}.source"),
                "source at most 500 and explanation at most 2000 characters",
                "取值依据说明最多 500 字，指标解释最多 2000 字",
            ));
        }
        let lists = [&e.applies.sectors, &e.applies.departments, &e.applies.project_types];
        if lists.iter().any(|l| l.len() > 100 || l.iter().any(|s| s.trim().is_empty() || s.chars().count() > 100)) {
            errs.push(FieldError::bilingual(
                format!("{path}.applies"),
                "each applicability list holds at most 100 non-empty words of at most 100 characters",
                "适用范围每项最多 100 个，每个不能为空且最多 100 字",
            ));
        }
        for s in &e.applies.sectors {
            if super::project::sector_label(s).is_none() {
                errs.push(FieldError::bilingual(
                    format!("{path}.applies.sectors"),
                    format!("'{s}' is not a sector"),
                    format!("“{s}”不是行业代码"),
                ));
            }
        }
    }
    errs
}

impl LibraryIndicator {
    /// The entry as an indicator to declare: the suggested value, and the library's weight or 0
    /// for the department to set.
    pub fn as_indicator(&self) -> Indicator {
        Indicator {
            level1: self.level1,
            level2: self.level2.clone(),
            name: self.name.clone(),
            operator: self.operator,
            value: self.value.clone(),
            unit: self.unit.clone(),
            weight: self.weight.unwrap_or(Decimal::ZERO),
            basis: self.basis,
            explanation: self.explanation.clone(),
            core: self.core,
        }
    }
}

/// A name without whitespace, the way library and declared names are compared.
pub fn squeeze(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The entries of a sector library of the indicator plugins: the same names, operators, typical
/// values and units the plugins check against, with the programme as the project type and the
/// national source as the basis (行业标准).
pub fn from_sector(lib: &indicator_rules::sector::Library) -> Vec<LibraryIndicator> {
    lib.entries
        .iter()
        .map(|e| {
            let level1 = match e.level1 {
                indicator_rules::Level1::Output => Level1::Output,
                indicator_rules::Level1::Benefit => Level1::Benefit,
                indicator_rules::Level1::Satisfaction => Level1::Satisfaction,
                indicator_rules::Level1::Cost => Level1::Cost,
            };
            let operator = match e.operator {
                indicator_rules::Operator::Ge => Operator::Ge,
                indicator_rules::Operator::Le => Operator::Le,
                indicator_rules::Operator::Eq => Operator::Eq,
                indicator_rules::Operator::Qualitative => Operator::Qualitative,
            };
            let limits: Vec<&str> = e.min.iter().chain(e.max.iter()).map(|l| l.why_zh).collect();
            LibraryIndicator {
                level1,
                level2: e.level2.to_string(),
                name: e.name.to_string(),
                operator,
                value: TargetValue::parse(e.value),
                unit: e.units.first().copied().unwrap_or_default().to_string(),
                weight: None,
                basis: Basis::Industry,
                source: e.source.to_string(),
                explanation: limits.join(""),
                core: e.core,
                applies: Applicability {
                    sectors: vec![lib.sector.to_string()],
                    departments: Vec::new(),
                    project_types: if e.programme.is_empty() { Vec::new() } else { vec![e.programme.to_string()] },
                },
            }
        })
        .collect()
}

/// What a project is, for deciding which entries apply to it.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub sector: &'a str,
    pub department_code: &'a str,
    pub name: &'a str,
    /// The project's type, where known (the sector programme its indicators belong to).
    pub project_type: Option<&'a str>,
}

impl Applicability {
    /// Whether an entry with this applicability may be offered for `s`. A project-type list
    /// applies when the project's type is one of them or the project's name contains one; a
    /// project whose type is not known is offered every type's entries.
    pub fn applies_to(&self, s: &Subject<'_>) -> bool {
        let sector_ok = self.sectors.is_empty() || self.sectors.iter().any(|x| x == s.sector);
        let dept_ok = self.departments.is_empty() || self.departments.iter().any(|x| x == s.department_code);
        let type_ok = self.project_types.is_empty()
            || s.project_type.is_none()
            || self.project_types.iter().any(|t| Some(t.as_str()) == s.project_type || s.name.contains(t.as_str()));
        sector_ok && dept_ok && type_ok
    }
}

/// A library version as the offer reads it.
#[derive(Debug, Clone)]
pub struct LibraryVersion<'a> {
    pub code: &'a str,
    pub version: i64,
    pub entries: &'a [LibraryIndicator],
}

/// An entry offered for a project, with the library version it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Offered {
    pub library: String,
    pub version: i64,
    #[serde(flatten)]
    pub entry: LibraryIndicator,
}

/// The entries that apply to `subject`, the department's library first and then the sector's; a
/// sector entry whose name the department's library already has is left out (the department's
/// wins).
pub fn offer(
    subject: &Subject<'_>,
    department: Option<LibraryVersion<'_>>,
    sector: Option<LibraryVersion<'_>>,
) -> Vec<Offered> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for lib in department.into_iter().chain(sector) {
        for e in lib.entries {
            if e.applies.applies_to(subject) && seen.insert(squeeze(&e.name)) {
                out.push(Offered { library: lib.code.to_string(), version: lib.version, entry: e.clone() });
            }
        }
    }
    out
}

/// The sector programme a project belongs to: the one most of its (or last year's) declared
/// indicators belong to, else the one whose name the project's name contains.
pub fn project_type(
    lib: &indicator_rules::sector::Library,
    project_name: &str,
    declared: &[&str],
) -> Option<&'static str> {
    let mut counts: Vec<(&'static str, usize)> = lib.programmes.iter().map(|p| (p.key, 0)).collect();
    for name in declared {
        if let Some(e) = lib.match_entry(name).map(|i| &lib.entries[i])
            && let Some(c) = counts.iter_mut().find(|(k, _)| *k == e.programme)
        {
            c.1 += 1;
        }
    }
    let best = counts.iter().filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n).map(|(k, _)| *k);
    best.or_else(|| lib.programmes.iter().find(|p| project_name.contains(p.name_zh)).map(|p| p.key))
}

/// The name of a recurring project with its year taken out ("2026年学生资助" → "学生资助"), so
/// that next year's project finds this year's.
pub fn name_without_year(name: &str) -> String {
    let chars: Vec<char> = squeeze(name).chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let year = i + 4 <= chars.len()
            && chars[i..i + 4].iter().all(|c| c.is_ascii_digit())
            && (i == 0 || !chars[i - 1].is_ascii_digit())
            && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
            && chars[i..i + 4].iter().collect::<String>().parse::<u32>().is_ok_and(|y| (1990..2100).contains(&y));
        if year {
            i += 4;
            if chars.get(i) == Some(&'年') {
                i += 1;
            }
            if chars.get(i) == Some(&'度') {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Median and range of the values a sector's projects declare for one indicator, with the
/// quartiles the range flag uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub projects: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub min: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub q1: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub median: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub q3: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub max: Decimal,
}

/// The distribution of `values` (quartiles by linear interpolation between order statistics);
/// `None` when there are none.
pub fn distribution(values: &[Decimal]) -> Option<Distribution> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort();
    let at = |q: Decimal| -> Decimal {
        let pos = q * Decimal::from(v.len() - 1);
        let lo = pos.floor();
        let i = usize::try_from(lo.mantissa() / 10i128.pow(lo.scale())).unwrap_or(0).min(v.len() - 1);
        let frac = pos - lo;
        match v.get(i + 1) {
            Some(next) if !frac.is_zero() => v[i] + (*next - v[i]) * frac,
            _ => v[i],
        }
        .normalize()
    };
    Some(Distribution {
        projects: v.len(),
        min: v[0],
        q1: at(Decimal::new(25, 2)),
        median: at(Decimal::new(5, 1)),
        q3: at(Decimal::new(75, 2)),
        max: v[v.len() - 1],
    })
}

/// Last year's declaration of the same indicator by the same project, and what the
/// self-evaluation found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub fiscal_year: i32,
    pub project_code: String,
    pub operator: Operator,
    pub target: TargetValue,
    pub unit: String,
    /// The actual value reported in last year's self-evaluation (a number, or the level of a
    /// qualitative indicator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// What a proposed value can be compared with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValueBasis {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// The sector's projects that declare the indicator with the same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector: Option<Distribution>,
    /// The library entry the indicator was picked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<Offered>,
}

/// When a value is far outside its basis. [DEF] defaults; each is a setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagRules {
    /// A value more than this share (percent) away from last year's actual (or, with no
    /// actual, last year's target) is flagged.
    pub history_change_pct: Decimal,
    /// Tukey's fences: below Q1 − k·S or above Q3 + k·S of the sector's values, where the
    /// spread S is the interquartile range...
    pub sector_fence: Decimal,
    /// ...but at least this percent of the median, so that when most projects declare the same
    /// value (a spread of 0) a slightly different one is not "far".
    pub sector_min_spread_pct: Decimal,
    /// The fewest other projects for a sector range to say anything.
    pub sector_min_projects: usize,
}

impl Default for FlagRules {
    fn default() -> Self {
        FlagRules {
            history_change_pct: Decimal::from(50),
            sector_fence: Decimal::new(15, 1),
            sector_min_spread_pct: Decimal::from(10),
            sector_min_projects: 5,
        }
    }
}

/// A value far from its basis, reported before the targets are submitted (a warning: the
/// department may keep it and explain).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub index: usize,
    pub path: String,
    /// `below_last_actual`, `far_from_history` or `outside_sector_range`.
    pub kind: &'static str,
    pub message: String,
    pub message_zh: String,
}

/// Flags `indicators[i]` against `basis[i]`.
pub fn flags(indicators: &[Indicator], basis: &[ValueBasis], rules: &FlagRules) -> Vec<Flag> {
    let mut out = Vec::new();
    for (i, (ind, b)) in indicators.iter().zip(basis).enumerate() {
        let Some(v) = ind.value.as_number().filter(|_| ind.operator.is_quantitative()) else { continue };
        let path = format!("indicators[{i}].value");
        let unit = &ind.unit;
        if let Some(h) = &b.history {
            let actual = h.actual.as_deref().and_then(|a| a.trim_end_matches('%').parse::<Decimal>().ok());
            if ind.operator == Operator::Ge
                && let Some(a) = actual
                && v < a
            {
                out.push(Flag {
                    index: i,
                    path: path.clone(),
                    kind: "below_last_actual",
                    message: format!(
                        "target {v}{unit} is below the {a}{unit} the project reached in {} (self-evaluation)",
                        h.fiscal_year
                    ),
                    message_zh: format!("目标值 {v}{unit} 低于本项目 {} 年自评的实际完成值 {a}{unit}", h.fiscal_year),
                });
            } else if let Some(reference) = actual.or_else(|| h.target.as_number()).filter(|r| !r.is_zero()) {
                let change = ((v - reference) / reference * Decimal::ONE_HUNDRED).abs();
                if change > rules.history_change_pct {
                    let what = if actual.is_some() { ("actual", "实际完成值") } else { ("target", "目标值") };
                    out.push(Flag {
                        index: i,
                        path: path.clone(),
                        kind: "far_from_history",
                        message: format!(
                            "{v}{unit} differs from {}'s {} {reference}{unit} by {}% (more than {}%)",
                            h.fiscal_year,
                            what.0,
                            change.round_dp(1),
                            rules.history_change_pct
                        ),
                        message_zh: format!(
                            "{v}{unit} 与 {} 年{} {reference}{unit} 相差 {}%（超过 {}%）",
                            h.fiscal_year,
                            what.1,
                            change.round_dp(1),
                            rules.history_change_pct
                        ),
                    });
                }
            }
        }
        if let Some(d) = &b.sector
            && d.projects >= rules.sector_min_projects
        {
            let spread = (d.q3 - d.q1).max(d.median.abs() * rules.sector_min_spread_pct / Decimal::ONE_HUNDRED);
            let low = d.q1 - rules.sector_fence * spread;
            let high = d.q3 + rules.sector_fence * spread;
            if v < low || v > high {
                out.push(Flag {
                    index: i,
                    path,
                    kind: "outside_sector_range",
                    message: format!(
                        "{v}{unit} is far outside what {} projects of the sector declare (median {}{unit}, range {}–{}{unit})",
                        d.projects, d.median, d.min, d.max
                    ),
                    message_zh: format!(
                        "{v}{unit} 远离本行业 {} 个项目的取值（中位数 {}{unit}，范围 {}–{}{unit}）",
                        d.projects, d.median, d.min, d.max
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn entry(name: &str, applies: Applicability) -> LibraryIndicator {
        LibraryIndicator {
            level1: Level1::Output,
            level2: "数量指标".into(),
            name: name.into(),
            operator: Operator::Ge,
            value: TargetValue::Number(d("10")),
            unit: "人".into(),
            weight: None,
            basis: Basis::Plan,
            source: String::new(),
            explanation: String::new(),
            core: false,
            applies,
        }
    }

    fn indicator(op: Operator, value: &str) -> Indicator {
        Indicator {
            operator: op,
            value: TargetValue::parse(value),
            ..entry("x", Applicability::default()).as_indicator()
        }
    }

    #[test]
    fn the_department_library_comes_first_and_replaces_same_names() {
        let dept = [entry("受资助 人数", Applicability::default()), entry("本单位专有指标", Applicability::default())];
        let sector = [entry("受资助人数", Applicability::default()), entry("资助覆盖率", Applicability::default())];
        let s = Subject { sector: "education", department_code: "D01", name: "学生资助", project_type: None };
        let got = offer(
            &s,
            Some(LibraryVersion { code: "department:D01", version: 3, entries: &dept }),
            Some(LibraryVersion { code: "sector:education", version: 1, entries: &sector }),
        );
        let names: Vec<(&str, &str)> = got.iter().map(|o| (o.library.as_str(), o.entry.name.as_str())).collect();
        assert_eq!(
            names,
            [
                ("department:D01", "受资助 人数"),
                ("department:D01", "本单位专有指标"),
                ("sector:education", "资助覆盖率")
            ]
        );
        assert_eq!(got[0].version, 3);
    }

    #[test]
    fn applicability_filters_by_sector_department_and_type() {
        let a = Applicability {
            sectors: vec!["education".into()],
            departments: vec!["D01".into()],
            project_types: vec!["student_aid".into(), "营养".into()],
        };
        let base =
            Subject {
                sector: "education", department_code: "D01", name: "某项目", project_type: Some("student_aid")
            };
        assert!(a.applies_to(&base));
        assert!(!a.applies_to(&Subject { sector: "health", ..base.clone() }));
        assert!(!a.applies_to(&Subject { department_code: "D02", ..base.clone() }));
        assert!(!a.applies_to(&Subject { project_type: Some("preschool"), ..base.clone() }));
        assert!(a.applies_to(&Subject { project_type: Some("preschool"), name: "营养改善", ..base.clone() }));
        assert!(a.applies_to(&Subject { project_type: None, ..base }));
    }

    #[test]
    fn sector_entries_are_the_plugins_data() {
        let lib = &indicator_rules::sectors::education::LIBRARY;
        let entries = from_sector(lib);
        assert_eq!(entries.len(), lib.entries.len());
        assert!(validate(&entries).is_empty(), "{:?}", validate(&entries));
        for (e, src) in entries.iter().zip(lib.entries) {
            assert_eq!(e.name, src.name);
            assert_eq!(e.operator.symbol(), src.operator.symbol());
            assert!(lib.match_entry(&e.name).is_some());
        }
        let aid = entries.iter().find(|e| e.name == "学生受资助人数").unwrap();
        assert_eq!(
            (aid.value.clone(), aid.unit.as_str(), aid.basis),
            (TargetValue::Number(d("735")), "人次", Basis::Industry)
        );
        assert_eq!(aid.applies.project_types, ["student_aid"]);
    }

    #[test]
    fn every_sector_library_is_valid() {
        for lib in indicator_rules::sectors::ALL {
            let errs = validate(&from_sector(lib));
            assert!(errs.is_empty(), "{}: {errs:?}", lib.sector);
        }
    }

    #[test]
    fn validation_names_the_entry_and_field() {
        let mut bad = entry("受资助人数", Applicability { sectors: vec!["nowhere".into()], ..Default::default() });
        bad.level2 = "社会效益指标".into();
        let errs = validate(&[bad, entry("受资助人数", Applicability::default())]);
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["entries[0].level2", "entries[0].applies.sectors", "entries[1].name"]);
        assert_eq!(validate(&[])[0].path, "entries");
    }

    #[test]
    fn the_project_type_comes_from_indicators_then_the_name() {
        let lib = &indicator_rules::sectors::education::LIBRARY;
        assert_eq!(project_type(lib, "某项目", &["学生受资助人数", "资助资金按时足额发放率"]), Some("student_aid"));
        assert_eq!(project_type(lib, "2026年学前教育补助", &[]), Some("preschool"));
        assert_eq!(project_type(lib, "办公楼维修", &[]), None);
    }

    #[test]
    fn years_are_taken_out_of_names() {
        assert_eq!(name_without_year("2026年学生资助"), "学生资助");
        assert_eq!(name_without_year("学生资助（2025年度）"), "学生资助（）");
        assert_eq!(name_without_year("G1234 路 养护"), "G1234路养护");
        assert_eq!(name_without_year("12345号项目"), "12345号项目");
    }

    #[test]
    fn quartiles_interpolate() {
        let v: Vec<Decimal> = ["1", "2", "3", "4", "100"].iter().map(|s| d(s)).collect();
        let got = distribution(&v).unwrap();
        assert_eq!((got.min, got.q1, got.median, got.q3, got.max), (d("1"), d("2"), d("3"), d("4"), d("100")));
        let even = distribution(&[d("10"), d("20")]).unwrap();
        assert_eq!((even.q1, even.median, even.q3), (d("12.5"), d("15"), d("17.5")));
        assert_eq!(distribution(&[]), None);
    }

    #[test]
    fn flags_against_history_and_sector() {
        let rules = FlagRules::default();
        let history = |target: &str, actual: Option<&str>| History {
            fiscal_year: 2025,
            project_code: "P-2025".into(),
            operator: Operator::Ge,
            target: TargetValue::parse(target),
            unit: "人".into(),
            actual: actual.map(str::to_string),
        };
        let with_history = |h| ValueBasis { history: Some(h), ..Default::default() };
        // Below what was already reached: a ≥ target lowered under last year's actual.
        let f = flags(&[indicator(Operator::Ge, "700")], &[with_history(history("700", Some("735")))], &rules);
        assert_eq!(f.iter().map(|f| f.kind).collect::<Vec<_>>(), ["below_last_actual"]);
        assert!(f[0].message_zh.contains("735"), "{}", f[0].message_zh);
        // Far above: 2000 against 735 reached is +172%.
        let f = flags(&[indicator(Operator::Ge, "2000")], &[with_history(history("700", Some("735")))], &rules);
        assert_eq!((f[0].kind, f[0].path.as_str()), ("far_from_history", "indicators[0].value"));
        // Within 50% of the actual: nothing.
        assert!(
            flags(&[indicator(Operator::Ge, "800")], &[with_history(history("700", Some("735")))], &rules).is_empty()
        );
        // No actual: compared with last year's target.
        let f = flags(&[indicator(Operator::Le, "20")], &[with_history(history("100", None))], &rules);
        assert_eq!(f[0].kind, "far_from_history");
        // The sector range: 80 among values around 97–99 is far below (the spread is at least
        // 10% of the median 98: fences 98 − 14.7 and 98.75 + 14.7); 90 and 98 are inside.
        let sector: Vec<Decimal> = ["97", "98", "98", "99", "99", "98"].iter().map(|s| d(s)).collect();
        let b = ValueBasis { sector: distribution(&sector), ..Default::default() };
        let f = flags(
            &[indicator(Operator::Ge, "80"), indicator(Operator::Ge, "90"), indicator(Operator::Ge, "98")],
            &[b.clone(), b.clone(), b.clone()],
            &rules,
        );
        assert_eq!(f.iter().map(|f| (f.kind, f.index)).collect::<Vec<_>>(), [("outside_sector_range", 0)]);
        // Where every project declares the same value, a near one is not far; a distant one is.
        let same = ValueBasis { sector: distribution(&[d("85"); 7]), ..Default::default() };
        let f = flags(&[indicator(Operator::Ge, "90"), indicator(Operator::Ge, "60")], &[same.clone(), same], &rules);
        assert_eq!(f.iter().map(|f| f.index).collect::<Vec<_>>(), [1]);
        // Too few projects say nothing.
        let few = ValueBasis { sector: distribution(&sector[..4]), ..Default::default() };
        assert!(flags(&[indicator(Operator::Ge, "1")], &[few], &rules).is_empty());
        // Qualitative indicators are not compared.
        assert!(flags(&[indicator(Operator::Qualitative, "有效")], &[b], &rules).is_empty());
    }
}
