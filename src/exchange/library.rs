//! An indicator library's entries as lines of text, one entry a line, its fields separated by
//! tabs: what a spreadsheet puts on the clipboard when rows are copied. A department keeps its
//! library in Excel and pastes the rows into the library page; the page shows the version in
//! use the same way, so it can be copied out, edited and pasted back.
//!
//! The columns are [`COLUMNS`], in that order; a line of headers (starting with 一级指标) is
//! skipped, trailing empty fields may be left out, and a line without a tab is split on commas.
//! 一级指标, 二级指标, 三级指标, 指标性质 and 指标值 are required; 取值依据 defaults to 计划标准
//! and 核心指标 to 否; the 适用 lists take several words separated by `、 , ; ， ；`.

use serde::Serialize;

use super::import::{parse_basis, parse_bool, parse_level1, parse_operator, parse_sector, parse_weight, split_list};
use super::table::Cell;
use crate::domain::indicator::{Basis, TargetValue};
use crate::domain::library::{Applicability, LibraryIndicator};

/// The fields of a line, in order.
pub const COLUMNS: [&str; 14] = [
    "一级指标",
    "二级指标",
    "三级指标",
    "指标性质",
    "指标值",
    "度量单位",
    "分值",
    "取值依据",
    "依据来源",
    "指标解释",
    "核心指标",
    "适用行业",
    "适用单位",
    "适用项目类别",
];

/// How many of the leading columns must be filled.
const REQUIRED: usize = 5;

/// What is wrong with one line (counted from 1) and, where it is one field, which.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineProblem {
    pub line: usize,
    pub column: Option<&'static str>,
    pub message: String,
}

/// The entries as lines, after a line of headers.
pub fn to_text(entries: &[LibraryIndicator]) -> String {
    let mut out = COLUMNS.join("\t");
    out.push('\n');
    for e in entries {
        let fields = [
            e.level1.label().to_string(),
            e.level2.clone(),
            e.name.clone(),
            e.operator.symbol().to_string(),
            e.value.to_string(),
            e.unit.clone(),
            e.weight.map(|w| w.normalize().to_string()).unwrap_or_default(),
            super::import::basis_label(e.basis).to_string(),
            e.source.clone(),
            e.explanation.clone(),
            if e.core { "是" } else { "否" }.to_string(),
            e.applies.sectors.join("、"),
            e.applies.departments.join("、"),
            e.applies.project_types.join("、"),
        ];
        let cells: Vec<String> = fields.iter().map(|f| f.replace(['\t', '\r', '\n'], " ")).collect();
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// The entries of the text, or every problem of it (each line is read whatever the lines
/// before it held). Also returns the line each entry came from.
pub fn from_text(text: &str) -> Result<(Vec<LibraryIndicator>, Vec<usize>), Vec<LineProblem>> {
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = if raw.contains('\t') {
            raw.split('\t').map(str::trim).collect()
        } else {
            raw.split(',').map(str::trim).collect()
        };
        if cells[0] == COLUMNS[0] {
            continue;
        }
        match entry(&cells) {
            Ok(e) => {
                entries.push(e);
                lines.push(line);
            }
            Err(found) => {
                problems.extend(found.into_iter().map(|(column, message)| LineProblem { line, column, message }))
            }
        }
    }
    if problems.is_empty() { Ok((entries, lines)) } else { Err(problems) }
}

type FieldProblem = (Option<&'static str>, String);

/// One line's fields as an entry.
fn entry(cells: &[&str]) -> Result<LibraryIndicator, Vec<FieldProblem>> {
    let filled = cells.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1);
    if filled > COLUMNS.len() {
        return Err(vec![(
            None,
            format!("{filled} fields; expected at most {} ({})", COLUMNS.len(), COLUMNS.join(", ")),
        )]);
    }
    let cell = |k: usize| cells.get(k).copied().unwrap_or("");
    let mut problems: Vec<FieldProblem> = Vec::new();
    for (k, column) in COLUMNS.iter().enumerate().take(REQUIRED) {
        if cell(k).is_empty() {
            problems.push((Some(*column), format!("{column} is empty; it is required")));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let optional = |k: usize| Some(cell(k)).filter(|t| !t.is_empty());
    let level1 = at(&mut problems, 0, parse_level1(cell(0)));
    let operator = at(&mut problems, 3, parse_operator(cell(3)));
    let weight = optional(6).and_then(|t| at(&mut problems, 6, parse_weight(&Cell::Text(t.to_string()))));
    let basis = optional(7).map_or(Some(Basis::Plan), |t| at(&mut problems, 7, parse_basis(t)));
    let core = optional(10).map_or(Some(false), |t| at(&mut problems, 10, parse_bool(&Cell::Text(t.to_string()), &[])));
    let mut sectors = Vec::new();
    for s in split_list(cell(11)) {
        sectors.extend(at(&mut problems, 11, parse_sector(s)).map(str::to_string));
    }
    match (level1, operator, basis, core) {
        (Some(level1), Some(operator), Some(basis), Some(core)) if problems.is_empty() => Ok(LibraryIndicator {
            level1,
            level2: cell(1).to_string(),
            name: cell(2).to_string(),
            operator,
            value: TargetValue::parse(cell(4)),
            unit: cell(5).to_string(),
            weight,
            basis,
            source: cell(8).to_string(),
            explanation: cell(9).to_string(),
            core,
            applies: Applicability {
                sectors,
                departments: split_list(cell(12)).map(str::to_string).collect(),
                project_types: split_list(cell(13)).map(str::to_string).collect(),
            },
        }),
        _ => Err(problems),
    }
}

/// The value of a field, or `None` with its problem recorded at column `k`.
fn at<T>(problems: &mut Vec<FieldProblem>, k: usize, parsed: Result<T, String>) -> Option<T> {
    parsed.map_err(|m| problems.push((Some(COLUMNS[k]), m))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::library::from_sector;

    #[test]
    fn every_sector_library_goes_to_text_and_back_unchanged() {
        for lib in indicator_rules::sectors::ALL {
            let entries = from_sector(lib);
            assert!(!entries.is_empty());
            let (back, lines) = from_text(&to_text(&entries)).unwrap_or_else(|p| panic!("{p:?}"));
            assert_eq!(back, entries, "{}", lib.sector);
            assert_eq!(lines, (2..entries.len() + 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn pasted_rows_take_labels_defaults_and_comma_lines() {
        let text = "一级指标\t二级指标\t三级指标\n\n产出指标\t数量指标\t培训人次\t≧\t1200\t人次\t\t\t县计划\n\
                    效益,社会效益指标,群众知晓率,>=,90%,%,10,行业,,,是,卫生健康、教育,D001,健康教育；宣传\n";
        let (entries, lines) = from_text(text).unwrap();
        assert_eq!(lines, [3, 4]);
        let (a, b) = (&entries[0], &entries[1]);
        assert_eq!((a.level1.label(), a.operator.symbol(), a.value.to_string()), ("产出", "≥", "1200".to_string()));
        assert_eq!((a.basis, a.core, a.weight, a.source.as_str()), (Basis::Plan, false, None, "县计划"));
        assert_eq!((b.basis, b.core, b.weight.map(|w| w.to_string())), (Basis::Industry, true, Some("10".into())));
        assert_eq!(b.value.to_string(), "90");
        assert_eq!(b.applies.sectors, ["health", "education"]);
        assert_eq!(b.applies.departments, ["D001"]);
        assert_eq!(b.applies.project_types, ["健康教育", "宣传"]);
    }

    #[test]
    fn each_wrong_field_is_named_at_its_line() {
        let text = "产出\t数量指标\t培训人次\t大约\t1200\n\
                    产出\t数量指标\n\
                    成果\t数量指标\t覆盖率\t≥\t90\t%\t十分\t估计\t\t\t也许\t航天\n\
                    产出\t数量指标\t培训人次\t≥\t1\t\t\t\t\t\t\t\t\t\t多余\n";
        let problems = from_text(text).unwrap_err();
        let at: Vec<(usize, Option<&str>)> = problems.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(
            at,
            [
                (1, Some("指标性质")),
                (2, Some("三级指标")),
                (2, Some("指标性质")),
                (2, Some("指标值")),
                (3, Some("一级指标")),
                (3, Some("分值")),
                (3, Some("取值依据")),
                (3, Some("核心指标")),
                (3, Some("适用行业")),
                (4, None),
            ],
            "{problems:#?}"
        );
        assert!(problems[0].message.contains("'大约' is not an operator"), "{}", problems[0].message);
        assert!(problems[9].message.contains("15 fields; expected at most 14"), "{}", problems[9].message);
    }
}
