//! `jixiao bench import`: a county's project file (projects × 8 indicators, one row per
//! indicator, as budget systems export) written as XLSX, then read, checked and stored in a
//! fresh SQLite database; and the same file imported again (every project unchanged).

use std::time::Instant;

use rust_decimal::Decimal;
use serde_json::json;

use super::{median, peak_rss_mb, reset_peak_rss};
use crate::domain::Fen;
use crate::domain::indicator::{Basis, Indicator, Level1, Operator, TargetValue};
use crate::domain::project::{FundingSource, ProjectInput, SECTORS};
use crate::exchange::{projects_table, to_xlsx};
use crate::store::Store;

const DEPARTMENTS: usize = 74;

/// The eight indicators every generated project declares: (level-1, level-2, name, operator,
/// value, unit).
const INDICATORS: [(Level1, &str, &str, Operator, &str, &str); 8] = [
    (Level1::Output, "数量指标", "服务人次", Operator::Ge, "12000", "人次"),
    (Level1::Output, "质量指标", "验收合格率", Operator::Ge, "95", "%"),
    (Level1::Output, "时效指标", "按期完成率", Operator::Ge, "90", "%"),
    (Level1::Output, "成本指标", "人均成本", Operator::Le, "350", "元"),
    (Level1::Benefit, "社会效益指标", "政策知晓率", Operator::Ge, "85", "%"),
    (Level1::Benefit, "可持续影响指标", "长效管理机制", Operator::Qualitative, "健全", ""),
    (Level1::Benefit, "经济效益指标", "带动就业人数", Operator::Ge, "40", "人"),
    (Level1::Satisfaction, "服务对象满意度指标", "服务对象满意度", Operator::Ge, "90", "%"),
];

fn department_code(i: usize) -> String {
    format!("D{:03}", i % DEPARTMENTS + 1)
}

fn generated(projects: usize) -> Vec<ProjectInput> {
    let indicators: Vec<Indicator> = INDICATORS
        .iter()
        .map(|(level1, level2, name, operator, value, unit)| Indicator {
            level1: *level1,
            level2: (*level2).into(),
            name: (*name).into(),
            operator: *operator,
            value: TargetValue::parse(value),
            unit: (*unit).into(),
            weight: Decimal::from(10),
            basis: Basis::Plan,
            explanation: String::new(),
            core: false,
        })
        .collect();
    (0..projects)
        .map(|i| ProjectInput {
            code: format!("XY2024-{}-{:05}", department_code(i), i + 1),
            name: format!("县级项目{:05}", i + 1),
            department_code: department_code(i),
            sector: SECTORS[i % SECTORS.len()].0.into(),
            amount: Fen::from_fen(10_000_000 + (i as i64 % 997) * 123_456),
            fiscal_year: 2024,
            is_new: i % 5 == 0,
            funding_source: FundingSource::GeneralBudget,
            indicators: indicators.clone(),
        })
        .collect()
}

/// Departments as (code, name).
pub type Departments = Vec<(String, String)>;

/// A county's project file of `projects` projects as XLSX, with the departments it names.
pub fn county_workbook(projects: usize) -> anyhow::Result<(Vec<u8>, Departments)> {
    let inputs = generated(projects);
    let departments: Vec<(String, String)> =
        (0..DEPARTMENTS).map(|i| (department_code(i), format!("县第{}部门", i + 1))).collect();
    let file = to_xlsx(&[projects_table(&inputs, &departments)])?;
    Ok((file, departments))
}

pub async fn run(projects: usize, runs: usize) -> anyhow::Result<()> {
    let (file, departments) = county_workbook(projects)?;
    let rows = projects * INDICATORS.len();
    println!(
        "wrote {projects} projects × {} indicators ({rows} rows) as XLSX: {} KiB",
        INDICATORS.len(),
        file.len() / 1024
    );
    reset_peak_rss();
    let (mut wall, mut parse, mut again) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&format!("sqlite://{}", dir.path().join("bench.db").display())).await?;
        let now = chrono::Utc::now().timestamp_millis();
        for (code, name) in &departments {
            store.create_department(code, name, "general", "", now, None).await?;
        }
        let t = Instant::now();
        let parsed = store.parse_spreadsheet("projects.xlsx", file.clone()).await?;
        let p = t.elapsed().as_secs_f64();
        let report = store.import_parsed("projects.xlsx", &parsed, false, now, None).await?;
        let w = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.stored && report.projects.created == projects,
            "stored {:?}; problems: {:?}",
            report.projects,
            report.problems.first()
        );
        let t = Instant::now();
        let parsed = store.parse_spreadsheet("projects.xlsx", file.clone()).await?;
        let report = store.import_parsed("projects.xlsx", &parsed, false, now, None).await?;
        let a = t.elapsed().as_secs_f64();
        anyhow::ensure!(report.projects.unchanged == projects, "re-import changed {:?}", report.projects);
        println!("run {}: import {w:.2} s (reading {p:.2} s), again (all unchanged) {a:.2} s", i + 1);
        wall.push(w);
        parse.push(p);
        again.push(a);
        store.close().await;
    }
    let round = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "bench": "import",
            "backend": "sqlite",
            "projects": projects,
            "rows": rows,
            "file_kib": file.len() / 1024,
            "runs": runs,
            "wall_s": round(median(&mut wall)),
            "read_s": round(median(&mut parse)),
            "reimport_s": round(median(&mut again)),
            "peak_rss_mb": peak_rss_mb().round(),
        })
    );
    Ok(())
}
