//! The sector indicator library on the target-declaration page: the indicators the plugins
//! check against (one source, `indicator_rules::sectors`), offered to pick from with their
//! typical value and unit, each marked when the project already declares it.

use serde_json::{Value, json};

use super::tasks::Fields;
use indicator_rules::sector::Library;

fn library(project: &Value) -> Option<&'static Library> {
    let sector = project["sector"].as_str()?;
    indicator_rules::sectors::ALL.iter().copied().find(|l| l.applies_to(sector))
}

/// The library's indicators for the project's sector, with whether the project has each.
pub fn offer(lang: &str, project: &Value) -> Value {
    let Some(lib) = library(project) else { return json!([]) };
    let declared: Vec<&str> =
        project["indicators"].as_array().into_iter().flatten().filter_map(|i| i["name"].as_str()).collect();
    let entries: Vec<Value> = lib
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let has = declared.iter().any(|d| e.matches_name(d));
            let unit = e.units.first().copied().unwrap_or_default();
            json!({
                "index": i,
                "name": if lang == "en" { e.name_en } else { e.name },
                "level": format!("{} / {}", e.level1.label_zh(), e.level2),
                "target": format!("{} {} {}", e.operator.symbol(), e.value, unit).trim().to_string(),
                "core": e.core,
                "declared": has,
            })
        })
        .collect();
    json!([{"sector": if lang == "en" { lib.name_en } else { lib.name_zh }, "entries": entries}])
}

/// The library entries ticked on the form (`pick.N`), as indicator rows to fill in.
pub fn picked(project: &Value, posted: &Fields) -> Vec<Value> {
    let Some(lib) = library(project) else { return Vec::new() };
    lib.entries
        .iter()
        .enumerate()
        .filter(|(i, _)| posted.contains_key(&format!("pick.{i}")))
        .map(|(_, e)| {
            json!({
                "name": e.name, "level1": e.level1.label_zh(), "level2": e.level2,
                "operator": e.operator.symbol(), "value": e.value,
                "unit": e.units.first().copied().unwrap_or_default(), "weight": "", "basis": "行业标准",
            })
        })
        .collect()
}
