//! Public disclosure (信息公开): the documents a finance bureau publishes for a fiscal year — the
//! projects' performance targets alongside the budget, and the evaluation results alongside the
//! final accounts — rendered as a spreadsheet-safe CSV file and as a standalone HTML page.
//!
//! The row types hold only public fields, so internal data (reviewers, drafts, comments) cannot
//! leak into a published document by construction. Amounts, rates and scores arrive as the
//! strings that are published; this module formats nothing, it only lays out and escapes.
//!
//! * CSV: UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese correctly), CRLF
//!   after every line, a Chinese header row, RFC 4180 quoting. A field that a spreadsheet would
//!   run as a formula (starting with `=`, `+`, `-`, `@`, or a tab or carriage return) gets a
//!   leading apostrophe, unless it is a plain number such as `-12.5`.
//! * HTML: one complete page with an inline style and no external assets; every text is
//!   HTML-escaped.
//! * Both render the evaluation source and the key-evaluation mark in Chinese (单位自评, 抽查复核,
//!   财政重点评价; 是/否). An unknown source is published as given.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One performance indicator of a project, as published with the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRow {
    pub project_code: String,
    pub project_name: String,
    pub department: String,
    pub sector: String,
    pub budget_yuan: String,
    pub level1: String,
    pub level2: String,
    /// The indicator's own name (三级指标).
    pub name: String,
    pub operator: String,
    pub target: String,
    pub unit: String,
}

/// One project's evaluation result, as published with the final accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    pub project_code: String,
    pub project_name: String,
    pub department: String,
    pub budget_yuan: String,
    pub executed_yuan: String,
    pub execution_rate: String,
    pub score: String,
    pub grade: String,
    /// `self_evaluation`, `spot_check` or `key_evaluation`: whose score is published.
    pub source: String,
    /// The project was in the finance bureau's key evaluation (财政重点评价) this year.
    pub key_evaluation: bool,
}

/// What a document publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "rows", rename_all = "snake_case")]
pub enum Body {
    Targets(Vec<TargetRow>),
    Results(Vec<ResultRow>),
}

/// One published version of a disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub fiscal_year: i32,
    pub version: u32,
    pub published_at: String,
    pub title: String,
    pub body: Body,
    /// The version this one corrects, if it is a correction (更正).
    pub correction_of: Option<u32>,
    /// What the correction changed; shown only with `correction_of`.
    pub correction_note: String,
}

const TARGET_HEADER: [&str; 11] = [
    "项目编码",
    "项目名称",
    "主管部门",
    "行业",
    "预算金额（元）",
    "一级指标",
    "二级指标",
    "三级指标",
    "指标性质",
    "指标值",
    "度量单位",
];

const RESULT_HEADER: [&str; 10] = [
    "项目编码",
    "项目名称",
    "主管部门",
    "预算金额（元）",
    "执行金额（元）",
    "预算执行率",
    "评价得分",
    "评价等级",
    "评价来源",
    "重点评价",
];

/// Columns rendered right-aligned in HTML (amounts, rates, scores, target values).
const TARGET_NUMERIC: [bool; 11] = [false, false, false, false, true, false, false, false, false, true, false];
const RESULT_NUMERIC: [bool; 10] = [false, false, false, true, true, true, true, false, false, false];

/// The Chinese label of an evaluation source; an unknown source is shown as given.
fn source_label(source: &str) -> &str {
    match source {
        "self_evaluation" => "单位自评",
        "spot_check" => "抽查复核",
        "key_evaluation" => "财政重点评价",
        other => other,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "是" } else { "否" }
}

fn target_cells(r: &TargetRow) -> [&str; 11] {
    [
        &r.project_code,
        &r.project_name,
        &r.department,
        &r.sector,
        &r.budget_yuan,
        &r.level1,
        &r.level2,
        &r.name,
        &r.operator,
        &r.target,
        &r.unit,
    ]
}

fn result_cells(r: &ResultRow) -> [&str; 10] {
    [
        &r.project_code,
        &r.project_name,
        &r.department,
        &r.budget_yuan,
        &r.executed_yuan,
        &r.execution_rate,
        &r.score,
        &r.grade,
        source_label(&r.source),
        yes_no(r.key_evaluation),
    ]
}

/// The header and the rows of a body, as text cells, with the numeric-column marks.
pub fn table(body: &Body) -> (Vec<&str>, Vec<Vec<&str>>, Vec<bool>) {
    match body {
        Body::Targets(rows) => {
            (TARGET_HEADER.to_vec(), rows.iter().map(|r| target_cells(r).to_vec()).collect(), TARGET_NUMERIC.to_vec())
        }
        Body::Results(rows) => {
            (RESULT_HEADER.to_vec(), rows.iter().map(|r| result_cells(r).to_vec()).collect(), RESULT_NUMERIC.to_vec())
        }
    }
}

/// A plain decimal number: optional sign, digits, optionally a point and more digits.
fn is_plain_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// One CSV field: formula neutralisation first, then RFC 4180 quoting.
fn csv_field(out: &mut String, field: &str) {
    let risky = field.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(field);
    let quote = field.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if risky {
        out.push('\'');
    }
    if quote {
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn csv_line(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, cell);
    }
    out.push_str("\r\n");
}

/// The document's table as CSV: a byte-order mark, the Chinese header row, one line per row,
/// each line ended by CRLF. The title and version are not in the file (they would break its
/// tabular shape); the caller names the file after them.
pub fn to_csv(doc: &Document) -> String {
    let (header, rows, _) = table(&doc.body);
    let mut out = String::from("\u{FEFF}");
    csv_line(&mut out, &header);
    for row in &rows {
        csv_line(&mut out, row);
    }
    out
}

/// `s` with `& < > " '` replaced by entities, safe in element text and quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;\
margin:1.5rem;color:#222}\
h1{font-size:1.4rem;margin:0 0 .5rem}\
.meta{color:#555;margin:0 0 1rem}\
.correction{background:#fff4e5;border-left:4px solid #e69500;padding:.5rem .75rem;margin:0 0 1rem}\
.wrap{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#f2f2f2;white-space:nowrap}\
td.num{text-align:right;white-space:nowrap}";

/// The document as one standalone HTML page: title, fiscal year, version, publication time,
/// the correction notice when it corrects an earlier version, and the table. Every text is
/// escaped; an empty body gives a table with its header only.
pub fn to_html(doc: &Document) -> String {
    let (header, rows, numeric) = table(&doc.body);
    let title = escape(&doc.title);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored rather than unwrapped.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"meta\">{} 年度 · 第 {} 版 · 发布时间：{}</p>\n",
        doc.fiscal_year,
        doc.version,
        escape(&doc.published_at)
    );
    if let Some(corrected) = doc.correction_of {
        let _ = write!(out, "<p class=\"correction\">更正第 {corrected} 版");
        if !doc.correction_note.is_empty() {
            let _ = write!(out, "：{}", escape(&doc.correction_note));
        }
        out.push_str("</p>\n");
    }
    out.push_str("<div class=\"wrap\">\n<table>\n<thead>\n<tr>");
    for h in &header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in &rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.get(i).copied().unwrap_or(false) { " class=\"num\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> TargetRow {
        TargetRow {
            project_code: "P2025-001".into(),
            project_name: "农村道路养护".into(),
            department: "交通运输局".into(),
            sector: "交通".into(),
            budget_yuan: "1200000.00".into(),
            level1: "产出指标".into(),
            level2: "数量指标".into(),
            name: name.into(),
            operator: "≥".into(),
            target: "120".into(),
            unit: "公里".into(),
        }
    }

    fn result(source: &str, key: bool) -> ResultRow {
        ResultRow {
            project_code: "P2025-002".into(),
            project_name: "学生营养餐".into(),
            department: "教育局".into(),
            budget_yuan: "500000.00".into(),
            executed_yuan: "480000.00".into(),
            execution_rate: "96.00%".into(),
            score: "91.50".into(),
            grade: "优".into(),
            source: source.into(),
            key_evaluation: key,
        }
    }

    fn doc(body: Body) -> Document {
        Document {
            fiscal_year: 2025,
            version: 1,
            published_at: "2025-03-01 09:00".into(),
            title: "2025 年度项目绩效目标公开".into(),
            body,
            correction_of: None,
            correction_note: String::new(),
        }
    }

    fn field(s: &str) -> String {
        let mut out = String::new();
        csv_field(&mut out, s);
        out
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field(""), "");
    }

    #[test]
    fn csv_formula_neutralised() {
        assert_eq!(field("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(field("+cmd"), "'+cmd");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("@evil"), "'@evil");
        assert_eq!(field("-"), "'-");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
        assert_eq!(field("-12.5"), "-12.5");
        assert_eq!(field("+7"), "+7");
        assert_eq!(field("-0"), "-0");
        assert_eq!(field("-1."), "'-1.");
        assert_eq!(field("-1e5"), "'-1e5");
        assert_eq!(field("12=3"), "12=3");
    }

    #[test]
    fn csv_bom_crlf_and_header() {
        let mut t = target("=1+1");
        t.project_name = "道路, 桥梁".into();
        let csv = to_csv(&doc(Body::Targets(vec![t, target("里程")])));
        assert!(csv.starts_with('\u{FEFF}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{FEFF}').split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3);
        assert!(csv.ends_with("\r\n"));
        assert_eq!(csv.matches('\n').count(), csv.matches("\r\n").count(), "no bare LF");
        assert_eq!(
            lines[0],
            "项目编码,项目名称,主管部门,行业,预算金额（元）,一级指标,二级指标,三级指标,指标性质,指标值,度量单位"
        );
        assert_eq!(lines[1], "P2025-001,\"道路, 桥梁\",交通运输局,交通,1200000.00,产出指标,数量指标,'=1+1,≥,120,公里");
    }

    #[test]
    fn csv_results_labels() {
        let csv = to_csv(&doc(Body::Results(vec![result("spot_check", true), result("other", false)])));
        let lines: Vec<&str> = csv.trim_start_matches('\u{FEFF}').split_terminator("\r\n").collect();
        assert_eq!(
            lines[0],
            "项目编码,项目名称,主管部门,预算金额（元）,执行金额（元）,预算执行率,评价得分,评价等级,评价来源,重点评价"
        );
        assert_eq!(lines[1], "P2025-002,学生营养餐,教育局,500000.00,480000.00,96.00%,91.50,优,抽查复核,是");
        assert!(lines[2].ends_with(",other,否"));
    }

    #[test]
    fn csv_empty_body_is_header_only() {
        let csv = to_csv(&doc(Body::Results(Vec::new())));
        assert_eq!(csv.matches("\r\n").count(), 1);
    }

    #[test]
    fn html_escapes_everything() {
        let nasty = "<script>alert(\"x\")</script> & 'y'";
        let mut d = doc(Body::Targets(vec![target(nasty)]));
        d.title = nasty.into();
        d.published_at = "<b>".into();
        let html = to_html(&d);
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"));
        assert!(html.contains("<title>&lt;script&gt;"));
    }

    #[test]
    fn html_page_shape() {
        let html = to_html(&doc(Body::Results(vec![result("key_evaluation", true), result("self_evaluation", false)])));
        assert!(html.starts_with("<!DOCTYPE html>"));
        for needle in [
            "<html lang=\"zh-CN\">",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\"",
            "<style>",
            "<thead>",
            "2025 年度",
            "第 1 版",
            "<td>财政重点评价</td><td>是</td>",
            "<td>单位自评</td><td>否</td>",
            "<td class=\"num\">91.50</td>",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        assert!(!html.contains("更正"));
        assert!(!html.contains("http"), "no external assets");
    }

    #[test]
    fn html_correction_note() {
        let mut d = doc(Body::Targets(vec![target("里程")]));
        d.version = 2;
        d.correction_of = Some(1);
        d.correction_note = "更正 P2025-001 的指标值 <120>".into();
        let html = to_html(&d);
        assert!(html.contains("第 2 版"));
        assert!(html.contains("更正第 1 版：更正 P2025-001 的指标值 &lt;120&gt;"));
    }

    #[test]
    fn html_empty_body_is_header_only_table() {
        let html = to_html(&doc(Body::Targets(Vec::new())));
        assert!(html.contains("<th scope=\"col\">三级指标</th>"));
        assert!(html.contains("<tbody>\n</tbody>"));
        assert!(!html.contains("<td"));
    }

    #[test]
    fn document_round_trips_as_json() {
        let d = doc(Body::Results(vec![result("spot_check", false)]));
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains("\"kind\":\"results\""));
        assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), d);
    }
}
