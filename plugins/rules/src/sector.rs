//! The sector-library engine shared by the five sector plugins.
//!
//! A [`Library`] is data: the programmes (项目类别) of a sector and the common indicators of
//! each, with the operator, a typical value, the accepted units, the direction in which the
//! indicator is better, a "core" flag and optional plausibility limits. [`check`] matches a
//! project's indicators against it by name and reports, under the library's code prefix:
//!
//! | code | severity | when |
//! |---|---|---|
//! | `<p>.missing_core` | warning | a programme is recognised (one of its indicators is declared) but one of its core indicators is not |
//! | `<p>.no_programme_match` | info | no declared indicator belongs to any programme of the library |
//! | `<p>.target_too_low` | per entry | a ≥ / = target below the entry's minimum (e.g. vaccination rate under 90%) |
//! | `<p>.target_too_high` | per entry | a ≤ / = target above the entry's maximum |
//! | `<p>.operator_mismatch` | warning | declared against the entry's direction (≤ on a "higher is better" indicator, ≥ on a "lower is better" one), or qualitative where the library measures it |
//! | `<p>.unit_mismatch` | warning if the library unit is %, else info | the unit is not one the library accepts |
//! | `<p>.not_marked_core` | info | a core library indicator is declared without the core flag (★) |

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::text;
use crate::{Dec, Finding, Indicator, Level1, Operator, Project, Severity};

/// The direction in which an indicator is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    HigherBetter,
    LowerBetter,
    /// A standard to meet exactly (a subsidy rate per mu, a fixed number of items).
    Exact,
}

/// A plausibility limit on a declared target, with the reason given in findings.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Decimal text, compared exactly.
    pub value: &'static str,
    pub severity: Severity,
    pub why_zh: &'static str,
    pub why_en: &'static str,
}

/// One indicator of a sector library.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Key of the programme it belongs to; "" for an indicator shared by all programmes of the
    /// sector (it never makes a programme recognised and is never core).
    pub programme: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    /// A declared name matches when it contains every part of one group...
    pub matches: &'static [&'static [&'static str]],
    /// ...and none of these.
    pub excludes: &'static [&'static str],
    pub level1: Level1,
    pub level2: &'static str,
    pub operator: Operator,
    /// Typical value (as in the published forms it comes from).
    pub value: &'static str,
    /// Accepted units, the usual one first; empty for qualitative indicators.
    pub units: &'static [&'static str],
    pub sense: Sense,
    pub core: bool,
    pub min: Option<Limit>,
    pub max: Option<Limit>,
    /// Where the entry or its limit comes from.
    pub source: &'static str,
}

impl Entry {
    /// Defaults for `Entry { .., ..Entry::BASE }` in the library tables.
    pub const BASE: Entry = Entry {
        programme: "",
        name: "",
        name_en: "",
        matches: &[],
        excludes: &[],
        level1: Level1::Output,
        level2: "数量指标",
        operator: Operator::Ge,
        value: "",
        units: &[],
        sense: Sense::HigherBetter,
        core: false,
        min: None,
        max: None,
        source: "",
    };

    pub fn matches_name(&self, name: &str) -> bool {
        self.matches(&text::Name::new(name))
    }

    fn matches(&self, name: &text::Name<'_>) -> bool {
        name.matches_any_group(self.matches) && !name.contains_any(self.excludes)
    }

    fn shown(&self) -> String {
        let unit = self.units.first().copied().unwrap_or("");
        if self.operator == Operator::Qualitative {
            format!("{}（定性）", self.name)
        } else {
            format!("{} {} {}{}", self.name, self.operator.symbol(), self.value, unit)
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Programme {
    pub key: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

/// The indicator library of one sector.
#[derive(Debug, Clone, Copy)]
pub struct Library {
    /// The sector key projects carry, e.g. "health".
    pub sector: &'static str,
    /// Other spellings of the sector accepted on a project ("卫生健康").
    pub aliases: &'static [&'static str],
    /// Prefix of finding codes, e.g. "health".
    pub code_prefix: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub programmes: &'static [Programme],
    /// Matched in order: the first entry whose pattern fits a name wins.
    pub entries: &'static [Entry],
}

impl Library {
    pub fn applies_to(&self, sector: &str) -> bool {
        let s: String = sector.trim().chars().map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
        s == self.sector || self.aliases.iter().any(|a| *a == s)
    }

    /// The index of the first entry matching `name`.
    pub fn match_entry(&self, name: &str) -> Option<usize> {
        let name = text::Name::new(name);
        self.entries.iter().position(|e| e.matches(&name))
    }

    fn programme(&self, key: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| p.key == key)
    }

    fn code(&self, rule: &str) -> String {
        format!("{}.{rule}", self.code_prefix)
    }
}

/// Checks a project against a sector library. Returns nothing for a project of another sector.
pub fn check(lib: &Library, p: &Project) -> Vec<Finding> {
    let mut out = Vec::new();
    if !lib.applies_to(&p.sector) {
        return out;
    }
    let matched: Vec<Option<usize>> = p.indicators.iter().map(|i| lib.match_entry(&i.name)).collect();
    for (i, (ind, m)) in p.indicators.iter().zip(&matched).enumerate() {
        if let Some(e) = m {
            check_matched(lib, &lib.entries[*e], i, ind, &mut out);
        }
    }
    programmes(lib, &matched, &mut out);
    out
}

fn check_matched(lib: &Library, e: &Entry, i: usize, ind: &Indicator, out: &mut Vec<Finding>) {
    let name = ind.name.trim();
    let idx = Some(i);
    let op = ind.operator;
    let lib_shown = e.shown();

    // operator_mismatch
    let wrong_way = (e.operator.is_quantitative() && op == Operator::Qualitative)
        || (e.sense == Sense::HigherBetter && op == Operator::Le)
        || (e.sense == Sense::LowerBetter && op == Operator::Ge);
    if wrong_way {
        out.push(Finding::new(
            &lib.code("operator_mismatch"),
            Severity::Warning,
            idx,
            format!("指标「{name}」使用了「{}」，与{}指标库的「{lib_shown}」方向不一致。", op.symbol(), lib.name_zh),
            format!(
                "Indicator '{name}' is declared with '{}', against the {} library entry '{lib_shown}' ({}).",
                op.symbol(),
                lib.name_en,
                e.name_en
            ),
        ));
    }
    if !e.operator.is_quantitative() || !op.is_quantitative() {
        return;
    }

    // unit_mismatch (a blank unit is common.missing_unit's business)
    let declared = if ind.is_percent() { String::from("%") } else { text::normalize_unit(&ind.unit) };
    if declared.is_empty() {
        return;
    }
    let unit_ok = e.units.iter().any(|u| text::normalize_unit(u) == declared);
    if !unit_ok {
        let percent_entry = e.units.first().is_some_and(|u| text::is_percent_unit(u));
        let accepted = e.units.join("、");
        out.push(Finding::new(
            &lib.code("unit_mismatch"),
            if percent_entry { Severity::Warning } else { Severity::Info },
            idx,
            format!("指标「{name}」的单位「{}」与指标库不符（应为 {accepted}）。", ind.unit.trim()),
            format!(
                "Indicator '{name}' has the unit '{}'; the {} library expects {accepted}.",
                ind.unit.trim(),
                lib.name_en
            ),
        ));
        return;
    }

    // target_too_low / target_too_high
    let Some(v) = ind.number() else { return };
    if let Some(min) = e.min {
        if matches!(op, Operator::Ge | Operator::Eq) && v.cmp(&limit(min)) == Ordering::Less {
            out.push(Finding::new(
                &lib.code("target_too_low"),
                min.severity,
                idx,
                format!(
                    "指标「{name}」的目标 {} {v}{} 低于 {}{}：{}",
                    op.symbol(),
                    ind.unit.trim(),
                    min.value,
                    e.units[0],
                    min.why_zh
                ),
                format!(
                    "Indicator '{name}' targets {} {v} {}, below {} {}: {}",
                    op.symbol(),
                    ind.unit.trim(),
                    min.value,
                    e.units[0],
                    min.why_en
                ),
            ));
        }
    }
    if let Some(max) = e.max {
        if matches!(op, Operator::Le | Operator::Eq) && v.cmp(&limit(max)) == Ordering::Greater {
            out.push(Finding::new(
                &lib.code("target_too_high"),
                max.severity,
                idx,
                format!(
                    "指标「{name}」的目标 {} {v}{} 高于 {}{}：{}",
                    op.symbol(),
                    ind.unit.trim(),
                    max.value,
                    e.units[0],
                    max.why_zh
                ),
                format!(
                    "Indicator '{name}' targets {} {v} {}, above {} {}: {}",
                    op.symbol(),
                    ind.unit.trim(),
                    max.value,
                    e.units[0],
                    max.why_en
                ),
            ));
        }
    }

    // not_marked_core
    if e.core && !ind.core {
        out.push(Finding::new(
            &lib.code("not_marked_core"),
            Severity::Info,
            idx,
            format!("指标「{name}」是{}指标库的核心指标，宜标注为核心指标（★）。", lib.name_zh),
            format!(
                "Indicator '{name}' is a core indicator of the {} library; consider flagging it core (★).",
                lib.name_en
            ),
        ));
    }
}

fn limit(l: Limit) -> Dec {
    // The tables are checked by the unit test `limits_parse`; a bad limit disables itself.
    Dec::parse(l.value).unwrap_or(Dec::ZERO)
}

fn programmes(lib: &Library, matched: &[Option<usize>], out: &mut Vec<Finding>) {
    let mut recognised: Vec<&str> = Vec::new();
    for e in matched.iter().flatten() {
        let key = lib.entries[*e].programme;
        if !key.is_empty() && !recognised.contains(&key) {
            recognised.push(key);
        }
    }
    if recognised.is_empty() {
        let names_zh: Vec<&str> = lib.programmes.iter().map(|p| p.name_zh).collect();
        let names_en: Vec<&str> = lib.programmes.iter().map(|p| p.name_en).collect();
        out.push(Finding::new(
            &lib.code("no_programme_match"),
            Severity::Info,
            None,
            format!(
                "未识别出项目类别：没有指标与{}指标库（{}）相符，可参考指标库设置指标。",
                lib.name_zh,
                names_zh.join("、")
            ),
            format!(
                "No declared indicator matches a programme of the {} library ({}); consider the library's indicators.",
                lib.name_en,
                names_en.join(", ")
            ),
        ));
        return;
    }
    // Library order, so that findings are stable.
    for prog in lib.programmes.iter().filter(|p| recognised.contains(&p.key)) {
        for (n, e) in lib.entries.iter().enumerate() {
            if e.programme != prog.key || !e.core || matched.contains(&Some(n)) {
                continue;
            }
            let shown = e.shown();
            let pname = lib.programme(prog.key).map(|p| (p.name_zh, p.name_en)).unwrap_or(("", ""));
            out.push(Finding::new(
                &lib.code("missing_core"),
                Severity::Warning,
                None,
                format!("项目属于「{}」，但缺少该类别的核心指标「{shown}」。", pname.0),
                format!("The project is a {} project but lacks its core indicator '{shown}' ({}).", pname.1, e.name_en),
            ));
        }
    }
}

/// Consistency checks of a library table, used by the unit tests of every sector.
#[cfg(test)]
pub fn assert_library_consistent(lib: &Library) {
    use std::collections::BTreeSet;
    assert!(!lib.programmes.is_empty() && !lib.entries.is_empty(), "{}: empty library", lib.sector);
    let keys: BTreeSet<&str> = lib.programmes.iter().map(|p| p.key).collect();
    assert_eq!(keys.len(), lib.programmes.len(), "{}: duplicate programme keys", lib.sector);
    for prog in lib.programmes {
        assert!(
            lib.entries.iter().any(|e| e.programme == prog.key && e.core),
            "{}: programme {} has no core entry",
            lib.sector,
            prog.key
        );
    }
    for (n, e) in lib.entries.iter().enumerate() {
        let ctx = format!("{}: entry {} {}", lib.sector, n, e.name);
        assert!(e.programme.is_empty() || keys.contains(e.programme), "{ctx}: unknown programme");
        assert!(!(e.programme.is_empty() && e.core), "{ctx}: a shared entry cannot be core");
        assert!(!e.matches.is_empty() && e.matches.iter().all(|g| !g.is_empty()), "{ctx}: no pattern");
        assert!(!e.name_en.is_empty() && !e.source.is_empty(), "{ctx}: name_en and source required");
        // The entry's own name must match itself, and match it first (no earlier entry shadows it).
        assert_eq!(lib.match_entry(e.name), Some(n), "{ctx}: its own name matches another entry first");
        if e.operator.is_quantitative() {
            assert!(!e.units.is_empty(), "{ctx}: quantitative entry without units");
            assert!(Dec::parse(e.value).is_ok(), "{ctx}: typical value is not a number");
        }
        for l in [e.min, e.max].into_iter().flatten() {
            assert!(Dec::parse(l.value).is_ok(), "{ctx}: bad limit {}", l.value);
            assert!(!l.why_zh.is_empty() && !l.why_en.is_empty(), "{ctx}: limit without a reason");
        }
        // The typical value must itself pass the entry's limits.
        let v = Dec::parse(e.value).ok();
        if let (Some(v), Some(min)) = (v, e.min) {
            assert!(v >= limit(min), "{ctx}: typical value below its minimum");
        }
        if let (Some(v), Some(max)) = (v, e.max) {
            assert!(v <= limit(max), "{ctx}: typical value above its maximum");
        }
        // The typical form of the entry must pass the common rules as well.
        let ind = Indicator {
            level1: e.level1,
            level2: String::from(e.level2),
            name: String::from(e.name),
            operator: e.operator,
            value: String::from(if e.operator.is_quantitative() { e.value } else { "达成" }),
            unit: String::from(e.units.first().copied().unwrap_or("")),
            weight: String::from("10"),
            basis: String::from("行业标准"),
            core: e.core,
        };
        let p = Project {
            code: String::from("LIB"),
            sector: String::from(lib.sector),
            amount_fen: i64::MAX,
            fiscal_year: 2025,
            is_new: false,
            indicators: alloc::vec![ind.clone()],
        };
        let mut common = Vec::new();
        crate::common::check_indicator(&p, 0, &ind, &mut common);
        assert!(common.is_empty(), "{ctx}: the library form fails common rules: {common:?}");
        let own = check(lib, &p);
        assert!(
            own.iter().all(|f| !f.code.ends_with("operator_mismatch")
                && !f.code.ends_with("unit_mismatch")
                && !f.code.contains("target_too")),
            "{ctx}: the library form fails its own library: {own:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};

    const WHY: (&str, &str) = ("测试理由", "test reason");

    static TEST_LIB: Library = Library {
        sector: "health",
        aliases: &["卫生健康"],
        code_prefix: "t",
        name_zh: "测试",
        name_en: "test",
        programmes: &[
            Programme { key: "a", name_zh: "甲类", name_en: "type A" },
            Programme { key: "b", name_zh: "乙类", name_en: "type B" },
        ],
        entries: &[
            Entry {
                programme: "a",
                name: "疫苗接种率",
                name_en: "vaccination rate",
                matches: &[&["疫苗", "接种率"]],
                level2: "质量指标",
                value: "95",
                units: &["%"],
                core: true,
                min: Some(Limit { value: "90", severity: Severity::Error, why_zh: WHY.0, why_en: WHY.1 }),
                source: "test",
                ..Entry::BASE
            },
            Entry {
                programme: "a",
                name: "受检人数",
                name_en: "people examined",
                matches: &[&["受检", "人"]],
                value: "100",
                units: &["人", "人次"],
                core: true,
                source: "test",
                ..Entry::BASE
            },
            Entry {
                programme: "a",
                name: "事故发生率",
                name_en: "incident rate",
                matches: &[&["事故", "率"]],
                excludes: &["下降"],
                operator: Operator::Le,
                value: "1",
                units: &["%"],
                sense: Sense::LowerBetter,
                max: Some(Limit { value: "2", severity: Severity::Warning, why_zh: WHY.0, why_en: WHY.1 }),
                source: "test",
                ..Entry::BASE
            },
            Entry {
                programme: "b",
                name: "建设里程",
                name_en: "length built",
                matches: &[&["里程"]],
                value: "1",
                units: &["km", "公里"],
                core: true,
                source: "test",
                ..Entry::BASE
            },
            Entry {
                name: "满意度",
                name_en: "satisfaction",
                matches: &[&["满意"]],
                level1: Level1::Satisfaction,
                level2: "服务对象满意度指标",
                value: "90",
                units: &["%", "分"],
                source: "test",
                ..Entry::BASE
            },
        ],
    };

    #[test]
    fn library_is_consistent() {
        assert_library_consistent(&TEST_LIB);
    }

    /// One line per case: the declared indicators and the codes expected, in order.
    #[test]
    fn check_table() {
        const V: &str = "产出|质量指标|疫苗接种率|≥|95|%|10|★";
        const N: &str = "产出|数量指标|受检人数|≥|300|人|10|★";
        #[rustfmt::skip]
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("health", &[V, N], &[]),
            ("卫生健康", &[V, N], &[]),
            ("Health ", &[V, N], &[]),
            ("education", &["产出|质量指标|疫苗接种率|≥|50|%|10"], &[]),
            // limits, exact at the boundary
            ("health", &["产出|质量指标|疫苗接种率|≥|90|%|10|★", N], &[]),
            ("health", &["产出|质量指标|疫苗接种率|≥|89.99|%|10|★", N], &["t.target_too_low"]),
            ("health", &["产出|质量指标|疫苗接种率|=|85|%|10|★", N], &["t.target_too_low"]),
            ("health", &["产出|质量指标|百白破疫苗接种率|≥|85|%|10|★", N], &["t.target_too_low"]),
            ("health", &[V, N, "产出|质量指标|事故发生率|≤|2|%|10"], &[]),
            ("health", &[V, N, "产出|质量指标|事故发生率|≤|2.5|%|10"], &["t.target_too_high"]),
            ("health", &[V, N, "产出|质量指标|事故发生率下降|≥|2.5|%|10"], &[]),
            // direction and form
            ("health", &["产出|质量指标|疫苗接种率|≤|95|%|10|★", N], &["t.operator_mismatch"]),
            ("health", &["产出|质量指标|疫苗接种率|定性|良好||10|★", N], &["t.operator_mismatch"]),
            ("health", &[V, N, "产出|质量指标|事故发生率|≥|1|%|10"], &["t.operator_mismatch"]),
            ("health", &[V, N, "产出|质量指标|事故发生率|=|0|%|10"], &[]),
            // units
            ("health", &["产出|质量指标|疫苗接种率|≥|95|人|10|★", N], &["t.unit_mismatch"]),
            ("health", &["产出|质量指标|疫苗接种率|≥|95%||10|★", N], &[]),
            ("health", &["产出|质量指标|疫苗接种率|≥|95|％|10|★", N], &[]),
            ("health", &[V, "产出|数量指标|受检人数|≥|300|人次|10|★"], &[]),
            ("health", &[V, "产出|数量指标|受检人数|≥|300|户|10|★"], &["t.unit_mismatch"]),
            ("health", &[V, "产出|数量指标|受检人数|≥|300||10|★"], &[]),
            // core flag
            ("health", &[V, "产出|数量指标|受检人数|≥|300|人|10"], &["t.not_marked_core"]),
            // programmes
            ("health", &[V], &["t.missing_core"]),
            ("health", &["产出|数量指标|公路里程|≥|3|公里|10|★"], &[]),
            ("health", &["产出|数量指标|公路里程|≥|3|KM|10|★"], &[]),
            ("health", &[V, N, "产出|数量指标|公路里程|≥|3|km|10|★"], &[]),
            ("health", &["产出|数量指标|公路里程|≥|3|km|10|★", "产出|数量指标|受检人数|≥|300|人|10|★"], &["t.missing_core"]),
            ("health", &["满意度|服务对象满意度指标|群众满意度|≥|90|%|10"], &["t.no_programme_match"]),
            ("health", &[], &["t.no_programme_match"]),
        ];
        for (sector, specs, want) in cases {
            let got = check(&TEST_LIB, &proj(sector, 1_000_000, specs));
            assert_eq!(codes(&got), *want, "case {sector} {specs:?}");
        }
    }

    #[test]
    fn findings_point_at_indicators() {
        let p = proj("health", 1, &["产出|数量指标|受检人数|≥|300|人|10|★", "产出|质量指标|疫苗接种率|≥|80|%|10|★"]);
        let got = check(&TEST_LIB, &p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].indicator, Some(1));
        assert_eq!(got[0].severity, Severity::Error);
        assert!(got[0].message_zh.contains("测试理由") && got[0].message_en.contains("test reason"));
        let p = proj("health", 1, &["产出|质量指标|疫苗接种率|≥|95|%|10|★"]);
        let got = check(&TEST_LIB, &p);
        assert_eq!(got[0].indicator, None);
        assert!(got[0].message_zh.contains("受检人数"), "{}", got[0].message_zh);
    }
}
