//! Writing tables to XLSX (through `rust_xlsxwriter`) and to CSV, and the projects table in the
//! exact layout `import` reads, so that export → import gives back the same projects.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

use super::import::{self, Field};
use super::table::number_to_decimal;
use crate::domain::indicator::TargetValue;
use crate::domain::money::Fen;
use crate::domain::project::{ProjectInput, sector_label};

/// How a column's values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    /// [`Value::Money`]: yuan with two decimals and thousands separators (`#,##0.00`), stored
    /// as a number.
    Money,
    Decimal,
    /// Numbers in percentage points: 95 is shown as 95.00% (stored as 0.95 in XLSX; written as
    /// `95%` in CSV).
    Percent,
    Date,
    DateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub header: String,
    pub kind: ColumnKind,
    /// In Excel's units (about one Latin character); `None` sizes the column to its content.
    pub width: Option<f64>,
}

impl Column {
    pub fn new(header: impl Into<String>, kind: ColumnKind) -> Self {
        Column { header: header.into(), kind, width: None }
    }

    pub fn text(header: impl Into<String>) -> Self {
        Column::new(header, ColumnKind::Text)
    }
}

/// One cell's value. The value decides the cell's type (a `Decimal` in a `Text` column is still
/// a number); the column decides the number format.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Empty,
    Text(String),
    Int(i64),
    Money(Fen),
    Decimal(Decimal),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Bool(bool),
    /// A hyperlink: `url` is a web address, or `internal:'Sheet'!A1` for a place in the same
    /// workbook. CSV gets the address.
    Link {
        text: String,
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The worksheet's name; made valid and unique by [`to_xlsx`] (see [`sheet_names`]).
    pub sheet: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("table '{sheet}' has {rows} rows; a worksheet holds at most {max} below its header", max = MAX_ROWS)]
    TooManyRows { sheet: String, rows: usize },
    #[error("table '{sheet}' has {columns} columns; a worksheet holds at most {max}", max = MAX_COLUMNS)]
    TooManyColumns { sheet: String, columns: usize },
    #[error("table '{sheet}' cell {cell}: {message}")]
    Cell { sheet: String, cell: String, message: String },
    #[error("the workbook could not be written: {0}")]
    Xlsx(String),
}

const MAX_ROWS: usize = 1_048_575;
const MAX_COLUMNS: usize = 16_384;
const MAX_SHEET_NAME: usize = 31;

const MONEY_FORMAT: &str = "#,##0.00";
const PERCENT_FORMAT: &str = "0.00%";
const DATE_FORMAT: &str = "yyyy-mm-dd";
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";

/// Valid, unique worksheet names for `names`, following Excel's rules: none of `[ ] : * ? / \`
/// (each becomes `_`), no apostrophe at either end, not empty (`Sheet`), not the reserved
/// `History`, at most 31 characters (UTF-16 units), unique regardless of case (a repeated name
/// gets ` (2)`, ` (3)`, … within the 31).
pub fn sheet_names<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let base = sanitize_sheet_name(name.as_ref());
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate.to_lowercase()) {
            let suffix = format!(" ({n})");
            let room = MAX_SHEET_NAME - suffix.len();
            candidate = format!("{}{suffix}", truncate_utf16(&base, room).trim_end_matches('\''));
            n += 1;
        }
        taken.insert(candidate.to_lowercase());
        out.push(candidate);
    }
    out
}

fn sanitize_sheet_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() { '_' } else { c })
        .collect();
    let trimmed = replaced.trim().trim_matches('\'');
    let mut s = truncate_utf16(trimmed, MAX_SHEET_NAME).trim_end_matches('\'').trim_end().to_string();
    if s.is_empty() {
        s = "Sheet".into();
    }
    if s.eq_ignore_ascii_case("history") {
        s.push('_');
    }
    s
}

fn truncate_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// Display width in Excel's units: CJK and other wide characters count double.
fn display_width(s: &str) -> usize {
    s.lines().map(|line| line.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum::<usize>()).max().unwrap_or(0)
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// `n` with thousands separators and two decimals, as `#,##0.00` shows it.
fn money_text(f: Fen) -> String {
    let plain = f.to_string();
    let (sign, digits) = plain.strip_prefix('-').map_or(("", plain.as_str()), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

/// A decimal as an `f64` that reads back as the same decimal, if there is one (up to about
/// 15 significant digits); otherwise the value is written as text so nothing is lost.
fn exact_f64(d: Decimal) -> Option<f64> {
    let f = f64::from_str(&d.to_string()).ok()?;
    (number_to_decimal(f) == Some(d)).then_some(f)
}

/// The cell text used for widths and for CSV.
fn value_text(v: &Value, kind: ColumnKind) -> String {
    match v {
        Value::Empty => String::new(),
        Value::Text(t) => t.clone(),
        Value::Int(i) if kind == ColumnKind::Percent => format!("{i}%"),
        Value::Int(i) => i.to_string(),
        Value::Money(f) => f.to_string(),
        Value::Decimal(d) if kind == ColumnKind::Percent => format!("{d}%"),
        Value::Decimal(d) => d.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::DateTime(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        Value::Bool(true) => "TRUE".into(),
        Value::Bool(false) => "FALSE".into(),
        Value::Link { url, .. } => url.clone(),
    }
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> WriteError {
    WriteError::Xlsx(e.to_string())
}

/// Writes the tables as a workbook, one worksheet per table: a bold header row that stays in view
/// (frozen) with an autofilter, numbers as numbers, money as numbers shown `#,##0.00`, dates as
/// real dates, columns sized to their content (CJK characters counting double, capped at 60).
pub fn to_xlsx(tables: &[Table]) -> Result<Vec<u8>, WriteError> {
    let names = sheet_names(&tables.iter().map(|t| t.sheet.as_str()).collect::<Vec<_>>());
    let header = Format::new().set_bold();
    let money = Format::new().set_num_format(MONEY_FORMAT);
    let percent = Format::new().set_num_format(PERCENT_FORMAT);
    let date = Format::new().set_num_format(DATE_FORMAT);
    let datetime = Format::new().set_num_format(DATETIME_FORMAT);
    let mut wb = Workbook::new();
    for (table, name) in tables.iter().zip(names) {
        if table.rows.len() > MAX_ROWS {
            return Err(WriteError::TooManyRows { sheet: table.sheet.clone(), rows: table.rows.len() });
        }
        let ncols = table.columns.len().max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
        if ncols > MAX_COLUMNS {
            return Err(WriteError::TooManyColumns { sheet: table.sheet.clone(), columns: ncols });
        }
        let ws: &mut Worksheet = wb.add_worksheet();
        ws.set_name(name).map_err(xlsx_err)?;
        let mut widths: Vec<usize> = vec![0; ncols];
        for (c, col) in table.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, &col.header, &header).map_err(xlsx_err)?;
            widths[c] = display_width(&col.header) + 2; // room for the filter button
        }
        for (r, row) in table.rows.iter().enumerate() {
            let xr = (r + 1) as u32;
            for (c, v) in row.iter().enumerate() {
                let kind = table.columns.get(c).map_or(ColumnKind::Text, |col| col.kind);
                let xc = c as u16;
                let cell_err = |message: String| WriteError::Cell {
                    sheet: table.sheet.clone(),
                    cell: format!("{}{}", super::table::column_letter(c), r + 2),
                    message,
                };
                let shown = match v {
                    Value::Empty => 0,
                    Value::Text(t) => {
                        if t.chars().count() > 32_767 {
                            return Err(cell_err("text longer than Excel's 32,767 characters".into()));
                        }
                        ws.write_string(xr, xc, t).map_err(xlsx_err)?;
                        display_width(t)
                    }
                    Value::Int(i) => {
                        let d = Decimal::from(*i);
                        write_decimal(ws, xr, xc, d, kind, &percent).map_err(xlsx_err)?;
                        value_text(v, kind).len()
                    }
                    Value::Decimal(d) => {
                        write_decimal(ws, xr, xc, *d, kind, &percent).map_err(xlsx_err)?;
                        value_text(v, kind).len()
                    }
                    Value::Money(f) => {
                        match exact_f64(f.to_yuan_decimal()) {
                            Some(n) => ws.write_number_with_format(xr, xc, n, &money),
                            None => ws.write_string(xr, xc, f.to_string()),
                        }
                        .map_err(xlsx_err)?;
                        money_text(*f).len()
                    }
                    Value::Date(d) => {
                        match excel_date(*d) {
                            Some(x) => ws.write_datetime_with_format(xr, xc, x, &date),
                            None => ws.write_string(xr, xc, d.format("%Y-%m-%d").to_string()),
                        }
                        .map_err(xlsx_err)?;
                        10
                    }
                    Value::DateTime(d) => {
                        let x = excel_date(d.date())
                            .and_then(|x| x.and_hms(d.hour() as u16, d.minute() as u8, f64::from(d.second())).ok());
                        match x {
                            Some(x) => ws.write_datetime_with_format(xr, xc, x, &datetime),
                            None => ws.write_string(xr, xc, d.format("%Y-%m-%d %H:%M:%S").to_string()),
                        }
                        .map_err(xlsx_err)?;
                        19
                    }
                    Value::Bool(b) => {
                        ws.write_boolean(xr, xc, *b).map_err(xlsx_err)?;
                        5
                    }
                    Value::Link { text, url } => {
                        ws.write_url_with_text(xr, xc, url.as_str(), text.as_str())
                            .map_err(|e| cell_err(format!("the link '{url}': {e}")))?;
                        display_width(text)
                    }
                };
                widths[c] = widths[c].max(shown);
            }
        }
        if ncols > 0 {
            ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
            ws.autofilter(0, 0, table.rows.len() as u32, (ncols - 1) as u16).map_err(xlsx_err)?;
        }
        for (c, w) in widths.iter().enumerate() {
            let width = table.columns.get(c).and_then(|col| col.width).unwrap_or((*w).clamp(6, 60) as f64 + 1.0);
            ws.set_column_width(c as u16, width).map_err(xlsx_err)?;
        }
    }
    wb.save_to_buffer().map_err(xlsx_err)
}

fn write_decimal(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    d: Decimal,
    kind: ColumnKind,
    percent: &Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    if kind == ColumnKind::Percent {
        let fraction = d.checked_div(Decimal::ONE_HUNDRED).and_then(exact_f64);
        match fraction {
            Some(f) => ws.write_number_with_format(row, col, f, percent)?,
            None => ws.write_string(row, col, format!("{d}%"))?,
        };
        return Ok(());
    }
    match exact_f64(d) {
        Some(f) => ws.write_number(row, col, f)?,
        None => ws.write_string(row, col, d.to_string())?,
    };
    Ok(())
}

fn excel_date(d: NaiveDate) -> Option<ExcelDateTime> {
    let year = u16::try_from(d.year()).ok().filter(|y| (1900..=9999).contains(y))?;
    ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8).ok()
}

/// True for text that reads as a plain decimal number (`-5`, `+3.25`): such text is safe in a
/// spreadsheet even though it starts with a sign.
fn is_plain_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

/// Appends one CSV field: a text that a spreadsheet would run as a formula (starting with
/// `= + - @`, tab or CR, and not a plain number) gets a leading apostrophe; then RFC 4180
/// quoting when the field holds a comma, a quote or a line break.
fn push_csv_field(out: &mut String, field: &str, is_text: bool) {
    let risky = is_text && field.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(field);
    let quoted = field.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if risky {
        out.push('\'');
    }
    if quoted {
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// The table as CSV text: a UTF-8 byte-order mark (so Excel reads the Chinese correctly), the
/// header line, one line per row, every line ended by CRLF; fields quoted per RFC 4180 and text
/// that could run as a formula neutralised with a leading apostrophe (`table::read` removes it
/// again). Money is plain yuan with two decimals (`1234.50`), percent columns `95%`, dates
/// `2026-03-01`, booleans `TRUE`/`FALSE`.
pub fn to_csv(table: &Table) -> String {
    let mut out = String::from("\u{FEFF}");
    for (i, col) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_csv_field(&mut out, &col.header, true);
    }
    out.push_str("\r\n");
    for row in &table.rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let kind = table.columns.get(i).map_or(ColumnKind::Text, |c| c.kind);
            push_csv_field(&mut out, &value_text(v, kind), matches!(v, Value::Text(_) | Value::Link { .. }));
        }
        out.push_str("\r\n");
    }
    out
}

/// The columns of [`projects_table`], in order; every header is the first alias of its field
/// in `import::PROJECT_COLUMNS`.
pub const PROJECT_EXPORT_COLUMNS: [(Field, ColumnKind); 19] = [
    (Field::Code, ColumnKind::Text),
    (Field::Name, ColumnKind::Text),
    (Field::Department, ColumnKind::Text),
    (Field::DepartmentName, ColumnKind::Text),
    (Field::Sector, ColumnKind::Text),
    (Field::Amount, ColumnKind::Money),
    (Field::FiscalYear, ColumnKind::Integer),
    (Field::IsNew, ColumnKind::Text),
    (Field::FundingSource, ColumnKind::Text),
    (Field::Level1, ColumnKind::Text),
    (Field::Level2, ColumnKind::Text),
    (Field::Indicator, ColumnKind::Text),
    (Field::Operator, ColumnKind::Text),
    (Field::Value, ColumnKind::Text),
    (Field::Unit, ColumnKind::Text),
    (Field::Weight, ColumnKind::Decimal),
    (Field::Basis, ColumnKind::Text),
    (Field::Explanation, ColumnKind::Text),
    (Field::Core, ColumnKind::Text),
];

fn yes_no(b: bool) -> Value {
    Value::Text(if b { "是" } else { "否" }.into())
}

/// Projects in the layout `import` reads (one row per indicator, the project's columns
/// repeated; a project without indicators is one row with the indicator columns empty), with
/// the Chinese headers of `import::PROJECT_COLUMNS`. `departments` are (code, name) pairs, as in
/// `import::Known`; they fill the informative 预算单位名称 column (left empty for a code not
/// listed). Written by [`to_xlsx`] or [`to_csv`] and read back by `import`, the result is the
/// same projects.
pub fn projects_table(projects: &[ProjectInput], departments: &[(String, String)]) -> Table {
    let names: HashMap<&str, &str> = departments.iter().map(|(c, n)| (c.as_str(), n.as_str())).collect();
    let columns = PROJECT_EXPORT_COLUMNS
        .iter()
        .map(|(f, kind)| Column { header: f.header().into(), kind: *kind, width: None })
        .collect();
    let mut rows = Vec::with_capacity(projects.iter().map(|p| p.indicators.len().max(1)).sum());
    for p in projects {
        let project = [
            Value::Text(p.code.clone()),
            Value::Text(p.name.clone()),
            Value::Text(p.department_code.clone()),
            names.get(p.department_code.as_str()).map_or(Value::Empty, |n| Value::Text((*n).to_string())),
            Value::Text(sector_label(&p.sector).unwrap_or(&p.sector).to_string()),
            Value::Money(p.amount),
            Value::Int(i64::from(p.fiscal_year)),
            yes_no(p.is_new),
            Value::Text(import::funding_source_label(p.funding_source).into()),
        ];
        if p.indicators.is_empty() {
            let mut row = project.to_vec();
            row.resize(PROJECT_EXPORT_COLUMNS.len(), Value::Empty);
            rows.push(row);
        }
        for ind in &p.indicators {
            let mut row = Vec::with_capacity(PROJECT_EXPORT_COLUMNS.len());
            row.extend(project.iter().cloned());
            row.extend([
                Value::Text(format!("{}指标", ind.level1.label())),
                Value::Text(ind.level2.clone()),
                Value::Text(ind.name.clone()),
                Value::Text(ind.operator.symbol().into()),
                match &ind.value {
                    TargetValue::Number(d) => Value::Decimal(*d),
                    TargetValue::Text(t) => Value::Text(t.clone()),
                },
                Value::Text(ind.unit.clone()),
                Value::Decimal(ind.weight),
                Value::Text(import::basis_label(ind.basis).into()),
                Value::Text(ind.explanation.clone()),
                yes_no(ind.core),
            ]);
            rows.push(row);
        }
    }
    Table { sheet: "项目".into(), columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_follow_excel_rules() {
        let long = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三";
        let got =
            sheet_names(&["项目[2026]", "a/b\\c:d*e?f", "'quoted'", "", "History", "Data", "data", "DATA", long, long]);
        assert_eq!(got[0], "项目_2026_");
        assert_eq!(got[1], "a_b_c_d_e_f");
        assert_eq!(got[2], "quoted");
        assert_eq!(got[3], "Sheet");
        assert_eq!(got[4], "History_");
        assert_eq!(got[5], "Data");
        assert_eq!(got[6], "data (2)");
        assert_eq!(got[7], "DATA (3)");
        assert_eq!(got[8].chars().count(), 31);
        assert_eq!(got[9], format!("{} (2)", &long.chars().take(27).collect::<String>()));
        for name in &got {
            assert!(name.encode_utf16().count() <= 31, "{name}");
            assert!(rust_xlsxwriter::utility::check_sheet_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn links_are_hyperlinks_in_xlsx_and_addresses_in_csv() {
        let table = Table {
            sheet: "t".into(),
            columns: vec![Column::text("清单")],
            rows: vec![
                vec![Value::Link { text: "红灯项目".into(), url: "https://jx.example.cn/report/2023/red".into() }],
                vec![Value::Link { text: "本表".into(), url: "internal:'t'!A1".into() }],
                vec![Value::Link { text: "x".into(), url: "=cmd|' /C calc'!A0".into() }],
            ],
        };
        let text = to_csv(&table);
        assert!(text.contains("https://jx.example.cn/report/2023/red"), "{text}");
        assert!(text.contains("'=cmd"), "a formula-like address is neutralised: {text}");
        let ok = Table { rows: table.rows[..2].to_vec(), ..table.clone() };
        let bytes = to_xlsx(&[ok]).unwrap();
        let sheets = super::super::table::read("t.xlsx", &bytes).unwrap();
        assert_eq!(sheets[0].rows[1].get(0).to_text(), "红灯项目");
        assert_eq!(sheets[0].rows[2].get(0).to_text(), "本表");
    }

    #[test]
    fn csv_neutralises_formulas_and_quotes() {
        let table = Table {
            sheet: "t".into(),
            columns: vec![
                Column::text("名称"),
                Column::new("金额", ColumnKind::Money),
                Column::new("率", ColumnKind::Percent),
            ],
            rows: vec![
                vec![
                    Value::Text("=HYPERLINK(\"x\")".into()),
                    Value::Money(Fen::from_fen(-301)),
                    Value::Decimal(Decimal::new(955, 1)),
                ],
                vec![Value::Text("-5".into()), Value::Money(Fen::from_fen(123_456_789)), Value::Int(-3)],
                vec![Value::Text("@sum, a".into()), Value::Empty, Value::Empty],
                vec![Value::Text("+1+2".into()), Value::Text("\tx".into()), Value::Text("a\nb".into())],
                vec![Value::Bool(true), Value::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())],
            ],
        };
        let csv = to_csv(&table);
        let want = "\u{FEFF}名称,金额,率\r\n\
                    \"'=HYPERLINK(\"\"x\"\")\",-3.01,95.5%\r\n\
                    -5,1234567.89,-3%\r\n\
                    \"'@sum, a\",,\r\n\
                    '+1+2,'\tx,\"a\nb\"\r\n\
                    TRUE,2026-03-01\r\n";
        assert_eq!(csv, want);
        // And the reader takes the apostrophes off again.
        let sheets = super::super::table::read("t.csv", csv.as_bytes()).unwrap();
        let cells: Vec<String> = sheets[0].rows[1].cells.iter().map(|c| c.to_text().into_owned()).collect();
        assert_eq!(cells, ["=HYPERLINK(\"x\")", "-3.01", "95.5%"]);
    }

    fn zipped_file(xlsx: &[u8], name: &str) -> String {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
        let mut xml = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut xml).unwrap();
        xml
    }

    #[test]
    fn xlsx_header_is_bold_frozen_filtered_and_sized() {
        let table = Table {
            sheet: "项目".into(),
            columns: vec![Column::text("名称"), Column::text("code"), Column::new("金额", ColumnKind::Money)],
            rows: vec![
                vec![Value::Text("县第一中学".into()), Value::Text("abcde".into()), Value::Money(Fen::from_fen(1))],
                vec![Value::Text("乡".into()), Value::Empty, Value::Money(Fen::from_fen(12_345_678_900))],
            ],
        };
        let xlsx = to_xlsx(&[table]).unwrap();
        let sheet = zipped_file(&xlsx, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
            "{sheet}"
        );
        assert!(sheet.contains(r#"<autoFilter ref="A1:C3"/>"#), "{sheet}");
        // 县第一中学: five CJK characters, ten units wide; abcde: five. Both get 1 of margin (and
        // Excel adds its padding); the money column fits "123,456,789.00".
        assert!(sheet.contains(r#"<col min="1" max="1" width="11.7109375" customWidth="1"/>"#), "{sheet}");
        assert!(sheet.contains(r#"<col min="2" max="2" width="7.7109375" customWidth="1"/>"#), "{sheet}");
        assert!(sheet.contains(r#"<col min="3" max="3" width="15.7109375" customWidth="1"/>"#), "{sheet}");
        let styles = zipped_file(&xlsx, "xl/styles.xml");
        assert!(styles.contains("<b/>"), "{styles}");
        assert!(styles.contains(r##"formatCode="#,##0.00""##), "{styles}");
        // The header cells use the bold style (font 1), the amounts the money format.
        assert!(sheet.contains(r#"<c r="A1" s="1" t="s">"#), "{sheet}");
        assert!(sheet.contains(r#"<c r="C2" s="2"><v>0.01</v></c>"#), "{sheet}");
    }

    #[test]
    fn money_text_groups_thousands() {
        assert_eq!(money_text(Fen::from_fen(123_456_789)), "1,234,567.89");
        assert_eq!(money_text(Fen::from_fen(-100)), "-1.00");
        assert_eq!(money_text(Fen::from_fen(12_345)), "123.45");
    }

    #[test]
    fn xlsx_cells_have_types_and_formats() {
        use crate::exchange::table::{Cell, read};
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let table = Table {
            sheet: "汇总:2026".into(),
            columns: vec![
                Column::text("单位"),
                Column::new("金额", ColumnKind::Money),
                Column::new("执行率", ColumnKind::Percent),
                Column::new("日期", ColumnKind::Date),
                Column::new("时间", ColumnKind::DateTime),
                Column::new("个数", ColumnKind::Integer),
                Column::new("精确", ColumnKind::Decimal),
            ],
            rows: vec![vec![
                Value::Text("教育局".into()),
                Value::Money(Fen::from_fen(123_456)),
                Value::Decimal(Decimal::new(955, 1)),
                Value::Date(d),
                Value::DateTime(d.and_hms_opt(9, 30, 0).unwrap()),
                Value::Int(42),
                Value::Decimal(Decimal::from_str("1.23456789012345678").unwrap()),
            ]],
        };
        let bytes = to_xlsx(&[table.clone(), table]).unwrap();
        let sheets = read("out.xlsx", &bytes).unwrap();
        assert_eq!(sheets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["汇总_2026", "汇总_2026 (2)"]);
        let row = &sheets[0].rows[1];
        assert_eq!(row.number, 2);
        assert_eq!(row.cells[0], Cell::Text("教育局".into()));
        assert_eq!(row.cells[1], Cell::Number(1234.56));
        assert_eq!(row.cells[2], Cell::Percent(0.955));
        assert_eq!(row.cells[3], Cell::Date(d));
        assert_eq!(row.cells[4], Cell::DateTime(d.and_hms_opt(9, 30, 0).unwrap()));
        assert_eq!(row.cells[5], Cell::Number(42.0));
        // Too many digits for a double: kept exactly, as text.
        assert_eq!(row.cells[6], Cell::Text("1.23456789012345678".into()));
    }
}
