//! Fill-and-use on the target-declaration page: the library entries that apply to the project
//! (its department's library first, then its sector's, which is the indicator plugins' own
//! data), last year's indicators for a recurring project, and beside each indicator the basis
//! of its value and the flags a value far from it raises.

use serde_json::{Value, json};

use super::tasks::Fields;
use crate::app::Runtime;
use crate::domain::library::{self, Flag, ValueBasis};
use crate::domain::{Basis, Indicator, Level1, Operator, TargetValue};
use crate::store::libraries::Proposal;
use crate::store::projects::Project;

/// The project and its fill-and-use proposal, read once per page.
pub struct Help {
    pub project: Project,
    pub proposal: Proposal,
}

pub async fn help(rt: &Runtime, project: &Value) -> Option<Help> {
    let id = project["id"].as_i64()?;
    let project = rt.store.project(id).await.ok()?;
    let proposal = rt.store.targets_proposal(&project).await.ok()?;
    Some(Help { project, proposal })
}

/// The offered entries grouped by library, each marked when the form already has it.
pub fn offer(lang: &str, help: &Help, declared: &[Value]) -> Value {
    let declared: Vec<String> = declared.iter().filter_map(|i| i["name"].as_str()).map(library::squeeze).collect();
    let mut groups: Vec<Value> = Vec::new();
    for (i, o) in help.proposal.offer.iter().enumerate() {
        let e = &o.entry;
        let title = library_title(lang, &o.library, o.version);
        if groups.last().is_none_or(|g| g["title"] != title) {
            groups.push(json!({"title": title, "entries": []}));
        }
        let row = json!({
            "index": i,
            "name": e.name,
            "level": format!("{} / {}", e.level1.label(), e.level2),
            "target": format!("{} {} {}", e.operator.symbol(), e.value, e.unit).trim().to_string(),
            "basis": basis_label(lang, e.basis),
            "core": e.core,
            "declared": declared.contains(&library::squeeze(&e.name)),
        });
        if let Some(entries) = groups.last_mut().and_then(|g| g["entries"].as_array_mut()) {
            entries.push(row);
        }
    }
    json!(groups)
}

fn library_title(lang: &str, code: &str, version: i64) -> String {
    let (kind, rest) = code.split_once(':').unwrap_or(("", code));
    let name = match (kind, lang) {
        ("department", "en") => format!("department {rest}'s library"),
        ("department", _) => format!("本部门（{rest}）指标库"),
        ("sector", "en") => format!("{} sector common library", rest.replace('_', " ")),
        _ => format!("{}行业共性指标库", crate::domain::project::sector_label(rest).unwrap_or(rest)),
    };
    if lang == "en" { format!("{name}, version {version}") } else { format!("{name} · 第 {version} 版") }
}

fn basis_label(lang: &str, b: Basis) -> &'static str {
    match (b, lang) {
        (Basis::Plan, "en") => "plan standard",
        (Basis::Industry, "en") => "industry standard",
        (Basis::History, "en") => "historical standard",
        (Basis::Other, "en") => "other",
        (Basis::Plan, _) => "计划标准",
        (Basis::Industry, _) => "行业标准",
        (Basis::History, _) => "历史标准",
        (Basis::Other, _) => "其他",
    }
}

/// The entries ticked on the form (`pick.N`), as indicator rows to fill in with the library's
/// suggested value and basis.
pub fn picked(help: &Help, posted: &Fields) -> Vec<Value> {
    help.proposal
        .offer
        .iter()
        .enumerate()
        .filter(|(i, _)| posted.contains_key(&format!("pick.{i}")))
        .map(|(_, o)| {
            let mut row = json!(o.entry.as_indicator());
            if o.entry.weight.is_none() {
                row["weight"] = json!("");
            }
            row
        })
        .collect()
}

/// An indicator row of the form read leniently (for comparing its value; the API checks it).
fn lenient(row: &Value) -> Indicator {
    let s = |k: &str| row[k].as_str().map(str::to_string).unwrap_or_else(|| row[k].to_string());
    Indicator {
        level1: s("level1").parse().unwrap_or(Level1::Output),
        level2: s("level2"),
        name: s("name"),
        operator: s("operator").parse().unwrap_or(Operator::Ge),
        value: TargetValue::parse(&s("value")),
        unit: row["unit"].as_str().unwrap_or_default().to_string(),
        weight: Default::default(),
        basis: Basis::Other,
        explanation: String::new(),
        core: false,
    }
}

/// Each row's basis as a line to show, and the flags its value raises.
pub async fn basis(rt: &Runtime, lang: &str, help: &Help, rows: &[Value]) -> (Vec<String>, Vec<Flag>) {
    let indicators: Vec<Indicator> = rows.iter().map(lenient).collect();
    let Ok(basis) = rt.store.value_basis(&help.project, &indicators).await else { return (Vec::new(), Vec::new()) };
    let flags = library::flags(&indicators, &basis, &rt.settings.flag_rules());
    (basis.iter().map(|b| describe(lang, b)).collect(), flags)
}

fn describe(lang: &str, b: &ValueBasis) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &b.history {
        let actual = h.actual.as_deref().unwrap_or(if lang == "en" { "not evaluated" } else { "未自评" });
        parts.push(if lang == "en" {
            format!("{}: target {} {}{}, actual {actual}", h.fiscal_year, h.operator.symbol(), h.target, h.unit)
        } else {
            format!("{} 年目标 {} {}{}，实际完成 {actual}", h.fiscal_year, h.operator.symbol(), h.target, h.unit)
        });
    }
    if let Some(d) = &b.sector {
        parts.push(if lang == "en" {
            format!("sector: median {}, range {}–{} ({} projects)", d.median, d.min, d.max, d.projects)
        } else {
            format!("行业：中位数 {}，范围 {}–{}（{} 个项目）", d.median, d.min, d.max, d.projects)
        });
    }
    if let Some(o) = &b.library {
        let e = &o.entry;
        parts.push(if lang == "en" {
            format!("library: {} {}{} ({})", e.operator.symbol(), e.value, e.unit, basis_label(lang, e.basis))
        } else {
            format!("指标库：{} {}{}（{}）", e.operator.symbol(), e.value, e.unit, basis_label(lang, e.basis))
        });
    }
    parts.join(if lang == "en" { "; " } else { "；" })
}

/// A flag as a finding beside its indicator.
pub fn flag_finding(f: &Flag) -> Value {
    json!({"severity": "warning", "message_zh": f.message_zh, "message_en": f.message, "flag": f.kind})
}
