//! Recognising the tables in a spreadsheet and turning their rows into typed records, with every
//! problem of the file reported at its sheet, row and column.
//!
//! # Layouts
//! Each visible sheet holds one table. Its header row is the first row (of the first ten
//! non-empty ones, so a title row above the header is skipped) whose headers make a complete
//! table of one [`Kind`]; rows above it are ignored. Headers are matched against the aliases of
//! [`DEPARTMENT_COLUMNS`], [`USER_COLUMNS`] + [`EXPERT_COLUMNS`] and [`PROJECT_COLUMNS`]
//! ignoring case, white space, `*` marks and full-width/half-width differences in brackets and
//! colons; a header in brackets that matches no alias is retried without its bracketed part
//! (`分值(分)` is 分值). Unknown columns are ignored. A sheet whose header matches no kind is
//! a problem that lists the expected headers; an empty or hidden sheet is skipped.
//!
//! Required columns (a missing one is one problem on the header row):
//! - 部门 (departments): 单位编码, 单位名称, 行业; optional 负责人.
//! - 用户 (users): 用户名, 姓名, 角色; optional 所属单位 (required in the rows of department
//!   users, and only there), 邮箱, 语言 (zh when empty), and the expert columns (filled only on
//!   rows whose role is expert).
//! - 专家 (experts): 用户名, 姓名, 行业 (one or more, separated by `、 , ; ， ；` or line breaks);
//!   optional 角色 (expert when empty), 专业 (same separators), 职称, 工作单位, 任职经历,
//!   最多同时评审 (20 when empty), 邮箱, 语言.
//! - 项目 (projects): 项目编码, 项目名称, the department (预算单位编码 or 预算单位名称), 行业, the
//!   amount (预算金额（元） or 预算金额（万元）), 预算年度, 资金来源; optional 是否新增 (否 when
//!   absent or empty). When any indicator column is present, 一级指标, 二级指标, 三级指标,
//!   指标性质, 指标值 and 分值 are required too; 度量单位 is then optional but a quantitative
//!   indicator needs one; 取值依据 defaults to 计划标准, 指标说明 to empty, 核心指标 to 否.
//!
//! # Projects
//! One row per indicator, the project's columns repeated (as budget systems export). Rows with
//! the same 项目编码 next to each other are one project; a row whose project columns are all empty
//! continues the project above (the layout of merged cells). A project row with the indicator
//! columns empty is a project without indicators. A code that appears again after another
//! project, or whose rows differ in a project column, is a duplicate-code problem naming both rows.
//! The department column holds the department's code or its name; names are resolved through
//! [`Known::departments`] and the 部门 sheets of the same file. 行业 takes the sector's code or its
//! Chinese label (`SECTORS`); 预算金额 takes numbers or text with thousands separators
//! (`1,234.50`, `¥1,234.50元`); number cells are converted to fen through their shortest decimal
//! form, never through float arithmetic. 指标值 `95%` is 95; a percent-formatted cell showing 95%
//! is 95 too.
//!
//! # Experts' employment (任职经历)
//! Entries separated by `;` `；` `、` `,` `，` or line breaks; each is a department code or name
//! followed by a year or a year range: `D01 2018-2022；县教育局 2023-2025；D07 2020`. The range may
//! be written with `-` `–` `—` `~` `～` `至` or `到` and years may carry 年; "至今" is not
//! accepted (write the end year).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::table::{self, Cell, ReadError, Row, Sheet, column_letter, number_to_decimal, percent_points};
use super::unpack::Stop;
use crate::domain::indicator::{Basis, Indicator, Level1, Operator, TargetValue};
use crate::domain::money::{Fen, MoneyError};
use crate::domain::project::{FundingSource, ProjectInput, SECTORS};
use crate::store::people::{Employment, ExpertProfile, NewUser};
use crate::workflow::Role;

/// What a sheet holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Departments,
    Users,
    Experts,
    Projects,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Departments, Kind::Users, Kind::Experts, Kind::Projects];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Departments => "部门",
            Kind::Users => "用户",
            Kind::Experts => "专家",
            Kind::Projects => "项目",
        }
    }

    fn tables(self) -> &'static [&'static [(Field, &'static [&'static str])]] {
        match self {
            Kind::Departments => &[DEPARTMENT_COLUMNS],
            Kind::Users | Kind::Experts => &[USER_COLUMNS, EXPERT_COLUMNS],
            Kind::Projects => &[PROJECT_COLUMNS],
        }
    }

    /// Required columns; an inner slice is "one of these".
    fn required(self) -> &'static [&'static [Field]] {
        match self {
            Kind::Departments => &[&[Field::DeptCode], &[Field::DeptName], &[Field::DeptSector]],
            Kind::Users => &[&[Field::Username], &[Field::DisplayName], &[Field::Role]],
            Kind::Experts => &[&[Field::Username], &[Field::DisplayName], &[Field::Sectors]],
            Kind::Projects => &[
                &[Field::Code],
                &[Field::Name],
                &[Field::Department, Field::DepartmentName],
                &[Field::Sector],
                &[Field::Amount, Field::AmountWan],
                &[Field::FiscalYear],
                &[Field::FundingSource],
            ],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A column the importer knows. [`Field::header`] is the canonical (first) Chinese header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    DeptCode,
    DeptName,
    DeptSector,
    DeptHead,
    Username,
    DisplayName,
    Role,
    UserDepartment,
    Email,
    Language,
    Sectors,
    Specialities,
    Title,
    Organisation,
    Employment,
    MaxConcurrentReviews,
    Code,
    Name,
    Department,
    DepartmentName,
    Sector,
    Amount,
    AmountWan,
    FiscalYear,
    IsNew,
    FundingSource,
    Level1,
    Level2,
    Indicator,
    Operator,
    Value,
    Unit,
    Weight,
    Basis,
    Explanation,
    Core,
}

const FIELD_COUNT: usize = Field::Core as usize + 1;

/// Departments (部门): code, name, sector (code or label), head.
pub const DEPARTMENT_COLUMNS: &[(Field, &[&str])] = &[
    (Field::DeptCode, &["单位编码", "部门编码", "单位代码", "部门代码", "编码", "code", "department_code"]),
    (Field::DeptName, &["单位名称", "部门名称", "名称", "name", "department_name"]),
    (Field::DeptSector, &["行业", "所属行业", "sector"]),
    (Field::DeptHead, &["负责人", "单位负责人", "部门负责人", "head"]),
];

/// Users (用户). Experts take these columns too.
pub const USER_COLUMNS: &[(Field, &[&str])] = &[
    (Field::Username, &["用户名", "账号", "登录名", "username", "login"]),
    (Field::DisplayName, &["姓名", "显示名称", "display_name", "name"]),
    (Field::Role, &["角色", "role"]),
    (Field::UserDepartment, &["所属单位", "所属部门", "单位编码", "部门编码", "department", "department_code"]),
    (Field::Email, &["邮箱", "电子邮箱", "邮件", "email", "e-mail"]),
    (Field::Language, &["语言", "language", "lang"]),
];

/// The expert profile's columns (专家), on top of [`USER_COLUMNS`].
pub const EXPERT_COLUMNS: &[(Field, &[&str])] = &[
    (Field::Sectors, &["行业", "评审行业", "擅长行业", "sectors", "sector"]),
    (Field::Specialities, &["专业", "专业领域", "specialities", "specialties", "speciality"]),
    (Field::Title, &["职称", "title"]),
    (Field::Organisation, &["工作单位", "organisation", "organization"]),
    (Field::Employment, &["任职经历", "工作经历", "employment"]),
    (Field::MaxConcurrentReviews, &["最多同时评审", "最多同时评审数", "同时评审上限", "max_concurrent_reviews"]),
];

/// Projects (项目), one row per indicator.
pub const PROJECT_COLUMNS: &[(Field, &[&str])] = &[
    (Field::Code, &["项目编码", "项目代码", "项目编号", "code", "project_code"]),
    (Field::Name, &["项目名称", "name", "project_name"]),
    (
        Field::Department,
        &["预算单位编码", "单位编码", "部门编码", "预算单位", "预算部门", "部门", "department", "department_code"],
    ),
    (Field::DepartmentName, &["预算单位名称", "单位名称", "部门名称", "department_name"]),
    (Field::Sector, &["行业", "所属行业", "行业类别", "sector"]),
    (
        Field::Amount,
        &[
            "预算金额（元）",
            "预算金额",
            "金额",
            "金额（元）",
            "项目金额",
            "项目金额（元）",
            "预算数",
            "预算数（元）",
            "amount",
            "amount_yuan",
        ],
    ),
    (Field::AmountWan, &["预算金额（万元）", "金额（万元）", "项目金额（万元）", "预算数（万元）", "amount_wan"]),
    (Field::FiscalYear, &["预算年度", "年度", "项目年度", "fiscal_year", "year"]),
    (Field::IsNew, &["是否新增", "新增项目", "是否新增项目", "is_new"]),
    (Field::FundingSource, &["资金来源", "funding_source"]),
    (Field::Level1, &["一级指标", "level1", "level_1"]),
    (Field::Level2, &["二级指标", "level2", "level_2"]),
    (Field::Indicator, &["三级指标", "指标名称", "indicator", "indicator_name"]),
    (Field::Operator, &["指标性质", "运算符", "operator"]),
    (Field::Value, &["指标值", "目标值", "年度指标值", "value", "target_value"]),
    (Field::Unit, &["度量单位", "计量单位", "unit"]),
    (Field::Weight, &["分值", "权重", "指标分值", "weight"]),
    (Field::Basis, &["取值依据", "指标值设定依据", "basis"]),
    (Field::Explanation, &["指标说明", "指标解释", "explanation"]),
    (Field::Core, &["核心指标", "是否核心指标", "core"]),
];

const PROJECT_FIELDS: [Field; 10] = [
    Field::Code,
    Field::Name,
    Field::Department,
    Field::DepartmentName,
    Field::Sector,
    Field::Amount,
    Field::AmountWan,
    Field::FiscalYear,
    Field::IsNew,
    Field::FundingSource,
];

const INDICATOR_FIELDS: [Field; 10] = [
    Field::Level1,
    Field::Level2,
    Field::Indicator,
    Field::Operator,
    Field::Value,
    Field::Unit,
    Field::Weight,
    Field::Basis,
    Field::Explanation,
    Field::Core,
];

const INDICATOR_REQUIRED: [Field; 6] =
    [Field::Level1, Field::Level2, Field::Indicator, Field::Operator, Field::Value, Field::Weight];

const EXPERT_PROFILE_FIELDS: [Field; 6] = [
    Field::Sectors,
    Field::Specialities,
    Field::Title,
    Field::Organisation,
    Field::Employment,
    Field::MaxConcurrentReviews,
];

impl Field {
    /// The canonical header: the first alias of the field's table entry.
    pub fn header(self) -> &'static str {
        for table in [DEPARTMENT_COLUMNS, USER_COLUMNS, EXPERT_COLUMNS, PROJECT_COLUMNS] {
            if let Some((_, aliases)) = table.iter().find(|(f, _)| *f == self) {
                return aliases[0];
            }
        }
        "?"
    }

    /// The record's field path this column fills (as `validate` and the store name it).
    pub fn path(self) -> &'static str {
        match self {
            Field::DeptCode | Field::Code => "code",
            Field::DeptName | Field::Name => "name",
            Field::DeptSector | Field::Sector => "sector",
            Field::DeptHead => "head",
            Field::Username => "username",
            Field::DisplayName => "display_name",
            Field::Role => "role",
            Field::UserDepartment | Field::Department | Field::DepartmentName => "department_code",
            Field::Email => "email",
            Field::Language => "language",
            Field::Sectors => "expert.sectors",
            Field::Specialities => "expert.specialities",
            Field::Title => "expert.title",
            Field::Organisation => "expert.organisation",
            Field::Employment => "expert.employment",
            Field::MaxConcurrentReviews => "expert.max_concurrent_reviews",
            Field::Amount | Field::AmountWan => "amount",
            Field::FiscalYear => "fiscal_year",
            Field::IsNew => "is_new",
            Field::FundingSource => "funding_source",
            Field::Level1 => "level1",
            Field::Level2 => "level2",
            Field::Indicator => "name",
            Field::Operator => "operator",
            Field::Value => "value",
            Field::Unit => "unit",
            Field::Weight => "weight",
            Field::Basis => "basis",
            Field::Explanation => "explanation",
            Field::Core => "core",
        }
    }
}

/// What the database already holds that rows may refer to.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// (code, name) of every department.
    pub departments: Vec<(String, String)>,
}

/// A department as a 部门 sheet declares it (the fields of the create-department request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDepartment {
    pub code: String,
    pub name: String,
    pub sector: String,
    pub head: String,
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub sheet: String,
    /// The record's row (a project's first row).
    pub row: u32,
    /// For projects: the row of each indicator, in order (`indicators[i]` is on
    /// `indicator_rows[i]`).
    pub indicator_rows: Vec<u32>,
    #[serde(skip)]
    layout: usize,
}

/// A record with its origin.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub record: T,
    pub origin: Origin,
}

/// One problem with the file, where a person finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    pub sheet: String,
    /// 1-based as the spreadsheet shows it; 0 for the file as a whole.
    pub row: u32,
    /// The column letter (`C`); `None` for a whole row, or a column the sheet lacks.
    pub column: Option<String>,
    /// The column's header as the sheet writes it, or the expected header of a missing column.
    pub header: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} row {}", self.sheet, self.row)?;
        match (&self.column, &self.header) {
            (Some(c), Some(h)) => write!(f, " column {c} ({h})")?,
            (Some(c), None) => write!(f, " column {c}")?,
            (None, Some(h)) => write!(f, " ({h})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// The records of a file and all its problems. Records come only from rows without problems;
/// a caller that imports all or nothing checks `problems.is_empty()`.
#[derive(Debug, Default)]
pub struct Parsed {
    pub departments: Vec<Sourced<NewDepartment>>,
    /// Users from 用户 sheets and experts (with their profile) from 专家 sheets.
    pub users: Vec<Sourced<NewUser>>,
    pub projects: Vec<Sourced<ProjectInput>>,
    /// In sheet, row and column order.
    pub problems: Vec<Problem>,
    /// Data rows (below the header rows) of the sheets read.
    pub rows_read: usize,
    layouts: Vec<Layout>,
}

impl Parsed {
    /// A problem found later (say by the store, as a `FieldError`) about a record, placed at its
    /// row and column: `path` is the record's field path (`department_code`, `expert.sectors[1]`,
    /// `indicators[2].unit`).
    pub fn problem_at(&self, origin: &Origin, path: &str, message: impl Into<String>) -> Problem {
        let message = message.into();
        match self.layouts.get(origin.layout) {
            Some(layout) => {
                let (row, field) = layout.locate(origin, path);
                layout.problem(row, field, message)
            }
            None => Problem { sheet: origin.sheet.clone(), row: origin.row, column: None, header: None, message },
        }
    }
}

/// Reads a file and imports it: [`table::read_until`] then [`import`]; gives up soon after
/// `stop` is asked for.
pub fn import_file(
    file_name: &str,
    bytes: &[u8],
    known: &Known,
    kind: Option<Kind>,
    stop: &Stop,
) -> Result<Parsed, ReadError> {
    let sheets = table::read_until(file_name, bytes, stop)?;
    stop.check()?;
    Ok(import(&sheets, known, kind))
}

/// Recognises each sheet's table (or takes `kind` for every sheet) and reads its rows, reporting
/// every problem at once. Departments are read first, so a project or user may name a
/// department defined on another sheet of the same file.
pub fn import(sheets: &[Sheet], known: &Known, kind: Option<Kind>) -> Parsed {
    let index = HeaderIndex::new();
    let mut parsed = Parsed::default();
    let mut any_rows = false;
    for (i, sheet) in sheets.iter().enumerate() {
        if sheet.hidden || sheet.rows.is_empty() {
            continue;
        }
        any_rows = true;
        match classify(sheet, i, &index, kind) {
            Ok((layout, problems)) => {
                parsed.problems.extend(problems);
                parsed.layouts.push(layout);
            }
            Err(p) => parsed.problems.push(p),
        }
    }
    if !any_rows {
        parsed.problems.push(Problem {
            sheet: sheets.first().map(|s| s.name.clone()).unwrap_or_default(),
            row: 0,
            column: None,
            header: None,
            message: "the file holds no rows (expected a header row and data rows)".into(),
        });
    }

    let mut departments = Departments::new(known);
    let layouts = std::mem::take(&mut parsed.layouts);
    let order = [Kind::Departments, Kind::Users, Kind::Experts, Kind::Projects];
    let mut usernames: HashMap<String, (String, u32)> = HashMap::new();
    for k in order {
        for (li, layout) in layouts.iter().enumerate() {
            if layout.kind != k {
                continue;
            }
            let sheet = &sheets[layout.sheet_index];
            let data = &sheet.rows[layout.header_pos + 1..];
            parsed.rows_read += data.len();
            match k {
                Kind::Departments => read_departments(layout, li, data, &mut departments, &mut parsed),
                Kind::Users | Kind::Experts => {
                    read_users(layout, li, data, &departments, &mut usernames, &mut parsed);
                }
                Kind::Projects => read_projects(layout, li, data, &departments, &mut parsed),
            }
        }
    }
    parsed.layouts = layouts;

    let position: HashMap<&str, usize> = sheets.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    parsed.problems.sort_by_cached_key(|p| {
        let col = p.column.clone().unwrap_or_default();
        (position.get(p.sheet.as_str()).copied().unwrap_or(usize::MAX), p.row, col.len(), col)
    });
    parsed
}

// ---------------------------------------------------------------------------------------------
// Headers

/// Header text in the form aliases are compared in: lower case, no white space, `*`, `:` or `_`
/// and `-` (so `Fiscal Year`, `fiscal_year` and `FISCAL-YEAR` match), full-width brackets
/// and letters folded to ASCII.
fn normalize_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '（' | '【' | '[' | '〔' => '(',
            '）' | '】' | ']' | '〕' => ')',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        };
        if c.is_whitespace() || matches!(c, '*' | ':' | '_' | '-' | '\u{3000}' | '\u{FEFF}') {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out
}

struct HeaderIndex {
    by_kind: [HashMap<String, Field>; 4],
}

impl HeaderIndex {
    fn new() -> Self {
        let build = |kind: Kind| {
            let mut m = HashMap::new();
            for table in kind.tables() {
                for (field, aliases) in table.iter() {
                    for a in aliases.iter() {
                        m.entry(normalize_header(a)).or_insert(*field);
                    }
                }
            }
            m
        };
        HeaderIndex { by_kind: Kind::ALL.map(build) }
    }

    fn lookup(&self, kind: Kind, header: &str) -> Option<Field> {
        let map = &self.by_kind[kind as usize];
        let n = normalize_header(header);
        if let Some(f) = map.get(&n) {
            return Some(*f);
        }
        // `分值(分)` → `分值`, unless the bracket changes the meaning (`(万元)`).
        let (base, rest) = n.split_once('(')?;
        if rest.contains('万') || base.is_empty() {
            return None;
        }
        map.get(base).copied()
    }
}

#[derive(Debug)]
struct Layout {
    sheet_index: usize,
    sheet: String,
    kind: Kind,
    /// Index into the sheet's rows of the header row.
    header_pos: usize,
    header_row: u32,
    cols: [Option<usize>; FIELD_COUNT],
    headers: Vec<String>,
    /// Set when a required column is missing: rows are checked, no records come out.
    broken: bool,
}

impl Layout {
    fn col(&self, f: Field) -> Option<usize> {
        self.cols[f as usize]
    }

    fn has(&self, f: Field) -> bool {
        self.cols[f as usize].is_some()
    }

    /// The cell of `f` in `row`, or `None` when the column is absent or the cell blank.
    fn cell<'r>(&self, row: &'r Row, f: Field) -> Option<&'r Cell> {
        let c = row.get(self.col(f)?);
        (!c.is_blank()).then_some(c)
    }

    fn text<'r>(&self, row: &'r Row, f: Field) -> Cow<'r, str> {
        match self.cell(row, f) {
            Some(c) => trim_cow(c.to_text()),
            None => Cow::Borrowed(""),
        }
    }

    fn problem(&self, row: u32, field: Option<Field>, message: String) -> Problem {
        let (column, header) = match field {
            Some(f) => match self.col(f) {
                Some(c) => (Some(column_letter(c)), Some(self.headers.get(c).cloned().unwrap_or_default())),
                None => (None, Some(f.header().to_string())),
            },
            None => (None, None),
        };
        Problem { sheet: self.sheet.clone(), row, column, header, message }
    }

    /// The column of one of `fields` that the sheet has, else the first.
    fn present(&self, fields: &[Field]) -> Field {
        fields.iter().copied().find(|f| self.has(*f)).unwrap_or(fields[0])
    }

    /// Maps a record's field path to its row and column.
    fn locate(&self, origin: &Origin, path: &str) -> (u32, Option<Field>) {
        let strip_index = |s: &str| s.split('[').next().unwrap_or(s).to_string();
        if self.kind == Kind::Projects
            && let Some(rest) = path.strip_prefix("indicators[")
        {
            let Some((i, field)) = rest.split_once(']') else { return (origin.row, None) };
            let row = i.parse::<usize>().ok().and_then(|i| origin.indicator_rows.get(i).copied()).unwrap_or(origin.row);
            let field = field.trim_start_matches('.');
            let f = INDICATOR_FIELDS.iter().copied().find(|f| f.path() == strip_index(field));
            return (row, f);
        }
        let path = strip_index(path);
        let candidates: Vec<Field> = self
            .kind
            .tables()
            .iter()
            .flat_map(|t| t.iter().map(|(f, _)| *f))
            .filter(|f| f.path() == path && !INDICATOR_FIELDS.contains(f))
            .collect();
        if candidates.is_empty() {
            return (origin.row, None);
        }
        (origin.row, Some(self.present(&candidates)))
    }
}

fn trim_cow(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => {
            let t = s.trim();
            if t.len() == s.len() { Cow::Owned(s) } else { Cow::Owned(t.to_string()) }
        }
    }
}

/// The fields one header row gives: (field, column) in column order.
type Found = Vec<(Field, usize)>;

/// Which fields one header row gives for one kind.
fn match_header(row: &Row, index: &HeaderIndex, kind: Kind) -> Found {
    row.cells
        .iter()
        .enumerate()
        .filter_map(|(c, cell)| match cell {
            Cell::Text(t) => index.lookup(kind, t).map(|f| (f, c)),
            _ => None,
        })
        .collect()
}

fn missing_required(kind: Kind, found: &[(Field, usize)]) -> Vec<&'static [Field]> {
    kind.required().iter().copied().filter(|alts| !alts.iter().any(|f| found.iter().any(|(g, _)| g == f))).collect()
}

fn expected_headers(kind: Kind) -> String {
    let required: Vec<&str> = kind.required().iter().map(|alts| alts[0].header()).collect();
    format!("{}: {}", kind.label(), required.join(", "))
}

/// Finds the header row and the kind of a sheet.
fn classify(
    sheet: &Sheet,
    sheet_index: usize,
    index: &HeaderIndex,
    forced: Option<Kind>,
) -> Result<(Layout, Vec<Problem>), Problem> {
    let kinds: &[Kind] = match &forced {
        Some(k) => std::slice::from_ref(k),
        None => &Kind::ALL,
    };
    // The first row (of the first ten) that makes a complete table; among kinds complete on that
    // row, the one recognising most columns (users before experts on a tie: their role column
    // decides).
    let mut chosen: Option<(usize, Kind, Found)> = None;
    'rows: for (pos, row) in sheet.rows.iter().take(10).enumerate() {
        let mut best: Option<(Kind, Found)> = None;
        for &k in kinds {
            let found = match_header(row, index, k);
            if missing_required(k, &found).is_empty() && best.as_ref().is_none_or(|(_, b)| found.len() > b.len()) {
                best = Some((k, found));
            }
        }
        if let Some((k, found)) = best {
            chosen = Some((pos, k, found));
            break 'rows;
        }
    }
    let first = &sheet.rows[0];
    let (pos, kind, found) = match chosen {
        Some(c) => c,
        None => {
            // No complete header: take the first row; a forced kind, or a kind that recognises
            // at least two of its required columns there, is read with its columns missing.
            let mut best: Option<(Kind, Found, usize)> = None;
            for &k in kinds {
                let found = match_header(first, index, k);
                let have = k.required().len() - missing_required(k, &found).len();
                if (forced.is_some() || have >= 2) && best.as_ref().is_none_or(|(_, _, h)| have > *h) {
                    best = Some((k, found, have));
                }
            }
            match best {
                Some((k, found, _)) => (0, k, found),
                None => {
                    let expected: Vec<String> = Kind::ALL.iter().map(|k| expected_headers(*k)).collect();
                    return Err(Problem {
                        sheet: sheet.name.clone(),
                        row: first.number,
                        column: None,
                        header: None,
                        message: format!(
                            "the header row is not one of a known table; expected the columns of one of {}",
                            expected.join("; ")
                        ),
                    });
                }
            }
        }
    };
    let header_row = &sheet.rows[pos];
    let headers: Vec<String> = header_row.cells.iter().map(|c| c.to_text().trim().to_string()).collect();
    let mut layout = Layout {
        sheet_index,
        sheet: sheet.name.clone(),
        kind,
        header_pos: pos,
        header_row: header_row.number,
        cols: [None; FIELD_COUNT],
        headers,
        broken: false,
    };
    let mut problems = Vec::new();
    for (f, c) in &found {
        match layout.cols[*f as usize] {
            Some(first) => problems.push(Problem {
                sheet: sheet.name.clone(),
                row: layout.header_row,
                column: Some(column_letter(*c)),
                header: Some(layout.headers[*c].clone()),
                message: format!(
                    "column {} is {} again (as column {}); keep one of them",
                    column_letter(*c),
                    f.header(),
                    column_letter(first)
                ),
            }),
            None => layout.cols[*f as usize] = Some(*c),
        }
    }
    if layout.has(Field::Amount) && layout.has(Field::AmountWan) {
        problems.push(layout.problem(
            layout.header_row,
            Some(Field::AmountWan),
            "the sheet has the amount both in 元 and in 万元; keep one of the columns".into(),
        ));
    }
    let mut missing: Vec<&'static [Field]> = missing_required(kind, &found);
    if kind == Kind::Projects && INDICATOR_FIELDS.iter().any(|f| layout.has(*f)) {
        for f in INDICATOR_REQUIRED {
            if !layout.has(f) {
                missing.push(match f {
                    Field::Level1 => &[Field::Level1],
                    Field::Level2 => &[Field::Level2],
                    Field::Indicator => &[Field::Indicator],
                    Field::Operator => &[Field::Operator],
                    Field::Value => &[Field::Value],
                    _ => &[Field::Weight],
                });
            }
        }
    }
    for alts in missing {
        let names: Vec<&str> = alts.iter().map(|f| f.header()).collect();
        problems.push(Problem {
            sheet: sheet.name.clone(),
            row: layout.header_row,
            column: None,
            header: Some(alts[0].header().to_string()),
            message: format!("the {} sheet has no column {} (required)", kind.label(), names.join(" or ")),
        });
        layout.broken = true;
    }
    if !problems.is_empty() {
        layout.broken = true;
    }
    Ok((layout, problems))
}

// ---------------------------------------------------------------------------------------------
// Records

/// The problems of one record, and the cells they were reported on (so that the record's own
/// `validate` does not report those cells again).
struct Rec<'a> {
    layout: &'a Layout,
    problems: Vec<Problem>,
    flagged: Vec<(u32, Field)>,
}

impl<'a> Rec<'a> {
    fn new(layout: &'a Layout) -> Self {
        Rec { layout, problems: Vec::new(), flagged: Vec::new() }
    }

    fn report(&mut self, row: u32, field: Field, message: String) {
        self.flagged.push((row, field));
        self.problems.push(self.layout.problem(row, Some(field), message));
    }

    fn flag(&mut self, row: u32, field: Field) {
        self.flagged.push((row, field));
    }

    fn is_flagged(&self, row: u32, field: Option<Field>) -> bool {
        field.is_some_and(|f| self.flagged.contains(&(row, f)))
    }

    /// The trimmed text of a required cell; reports it when empty (a missing column was
    /// reported once on the header row).
    fn required<'r>(&mut self, row: &'r Row, f: Field) -> Option<Cow<'r, str>> {
        let t = self.layout.text(row, f);
        if t.is_empty() {
            if self.layout.has(f) {
                self.report(row.number, f, format!("{} is empty (required)", f.header()));
            } else {
                self.flag(row.number, f);
            }
            return None;
        }
        Some(t)
    }

    /// Parses an optional cell; a failure is reported and gives `None`.
    fn parse<T>(&mut self, row: &Row, f: Field, parse: impl FnOnce(&Cell) -> Result<T, String>) -> Option<T> {
        let cell = self.layout.cell(row, f)?;
        match parse(cell) {
            Ok(v) => Some(v),
            Err(m) => {
                self.report(row.number, f, m);
                None
            }
        }
    }

    /// Parses a required cell.
    fn parse_required<T>(&mut self, row: &Row, f: Field, parse: impl FnOnce(&Cell) -> Result<T, String>) -> Option<T> {
        if self.layout.cell(row, f).is_none() {
            self.required(row, f);
            return None;
        }
        self.parse(row, f, parse)
    }
}

/// Departments known to the database and defined in the file, by code and by name.
struct Departments {
    by_code: HashMap<String, String>,
    /// Name → code; `None` when several departments have the name.
    by_name: HashMap<String, Option<String>>,
    /// Codes defined on 部门 sheets: where.
    in_file: HashMap<String, (String, u32)>,
}

impl Departments {
    fn new(known: &Known) -> Self {
        let mut d = Departments { by_code: HashMap::new(), by_name: HashMap::new(), in_file: HashMap::new() };
        for (code, name) in &known.departments {
            d.add(code, name);
        }
        d
    }

    fn add(&mut self, code: &str, name: &str) {
        self.by_code.insert(code.to_string(), name.to_string());
        let name = collapse_spaces(name);
        if name.is_empty() {
            return;
        }
        self.by_name
            .entry(name)
            .and_modify(|c| {
                if c.as_deref() != Some(code) {
                    *c = None;
                }
            })
            .or_insert_with(|| Some(code.to_string()));
    }

    /// The code of the department that `text` names, by code or by name.
    fn resolve(&self, text: &str) -> Result<String, String> {
        let t = text.trim();
        if self.by_code.contains_key(t) {
            return Ok(t.to_string());
        }
        match self.by_name.get(&collapse_spaces(t)) {
            Some(Some(code)) => Ok(code.clone()),
            Some(None) => Err(format!("several departments are named '{t}'; write the department's code")),
            None => {
                let upper = t.to_uppercase();
                if upper != t && self.by_code.contains_key(&upper) {
                    return Ok(upper);
                }
                Err(format!(
                    "unknown department '{t}': neither the code nor the name of a department in the system or on a 部门 sheet of this file"
                ))
            }
        }
    }
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Cell parsers. Each returns the value or a message saying what was wrong and what is expected.

fn cell_text(c: &Cell) -> Cow<'_, str> {
    trim_cow(c.to_text())
}

/// Lower case with ASCII spaces, `_` and `-` removed, for matching code-like words.
fn word(s: &str) -> String {
    s.trim().chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

fn parse_decimal(c: &Cell) -> Result<Decimal, String> {
    match c {
        Cell::Number(n) => number_to_decimal(*n).ok_or_else(|| format!("{n} is not a usable number")),
        Cell::Percent(f) => percent_points(*f).ok_or_else(|| format!("{f} is not a usable number")),
        Cell::Text(t) => {
            let s: String = t.trim().chars().filter(|c| !matches!(c, ',' | '，' | ' ')).collect();
            Decimal::from_str(&s)
                .or_else(|_| Decimal::from_scientific(&s))
                .map_err(|_| format!("'{}' is not a number", t.trim()))
        }
        other => Err(format!("'{}' is not a number", other.to_text())),
    }
}

/// An amount of money; `wan` for columns in 万元 (the amount is multiplied by 10,000 exactly).
fn parse_money(c: &Cell, wan: bool) -> Result<Fen, String> {
    let yuan = match c {
        Cell::Number(n) => {
            let d = number_to_decimal(*n).ok_or_else(|| format!("{n} is not an amount"))?;
            if wan { d.checked_mul(Decimal::from(10_000)).ok_or_else(|| format!("{n} is out of range"))? } else { d }
        }
        Cell::Text(t) => {
            let s = t.trim().trim_start_matches(['¥', '￥']).trim_end_matches(['元']).trim();
            let s = if wan { s.trim_end_matches("万") } else { s };
            if !wan {
                return s.parse::<Fen>().map_err(|e| money_message(e, t.trim()));
            }
            let d = parse_decimal(&Cell::Text(s.to_string()))
                .map_err(|_| format!("'{}' is not an amount of 万元 (expected digits, e.g. 120.5)", t.trim()))?;
            d.checked_mul(Decimal::from(10_000)).ok_or_else(|| format!("'{}' is out of range", t.trim()))?
        }
        other => return Err(format!("'{}' is not an amount of yuan", other.to_text())),
    };
    Fen::from_yuan_decimal(yuan).map_err(|e| match e {
        MoneyError::TooPrecise(_) if wan => {
            format!("'{}' 万元 has more than six decimals (amounts are kept to the fen)", c.to_text())
        }
        e => money_message(e, &c.to_text()),
    })
}

fn money_message(e: MoneyError, shown: &str) -> String {
    match e {
        MoneyError::NotAnAmount(_) => MoneyError::NotAnAmount(shown.to_string()).to_string(),
        MoneyError::TooPrecise(_) => MoneyError::TooPrecise(shown.to_string()).to_string(),
        MoneyError::OutOfRange(_) => MoneyError::OutOfRange(shown.to_string()).to_string(),
    }
}

fn parse_integer(c: &Cell, what: &str) -> Result<i64, String> {
    let d = match c {
        Cell::Text(t) => {
            let s = t.trim().trim_end_matches("年度").trim_end_matches(['年', '个', '项']).trim();
            parse_decimal(&Cell::Text(s.to_string())).map_err(|_| format!("'{}' is not {what}", t.trim()))?
        }
        other => parse_decimal(other).map_err(|_| format!("'{}' is not {what}", other.to_text()))?,
    };
    if d.fract() != Decimal::ZERO {
        return Err(format!("'{}' is not {what} (a whole number is expected)", c.to_text()));
    }
    i64::try_from(d).map_err(|_| format!("'{}' is out of range", c.to_text()))
}

fn parse_year(c: &Cell) -> Result<i32, String> {
    let n = parse_integer(c, "a year (e.g. 2026)")?;
    i32::try_from(n).map_err(|_| format!("{n} is not a year"))
}

const YES: &[&str] = &["是", "yes", "y", "true", "1", "√", "✓", "对"];
const NO: &[&str] = &["否", "no", "n", "false", "0", "×", "✗", "不是"];

pub(super) fn parse_bool(c: &Cell, extra: &[(&str, bool)]) -> Result<bool, String> {
    match c {
        Cell::Bool(b) => return Ok(*b),
        Cell::Number(n) if *n == 1.0 => return Ok(true),
        Cell::Number(n) if *n == 0.0 => return Ok(false),
        _ => {}
    }
    let t = cell_text(c);
    let w = word(&t);
    if YES.contains(&w.as_str()) {
        return Ok(true);
    }
    if NO.contains(&w.as_str()) {
        return Ok(false);
    }
    if let Some((_, b)) = extra.iter().find(|(s, _)| *s == w) {
        return Ok(*b);
    }
    let extra_words: Vec<&str> = extra.iter().map(|(s, _)| *s).collect();
    let also = if extra.is_empty() { String::new() } else { format!(", {}", extra_words.join(", ")) };
    Err(format!("'{t}' is not yes or no (expected 是/否, yes/no, true/false or 1/0{also})"))
}

pub(super) fn parse_sector(t: &str) -> Result<&'static str, String> {
    let w = word(t);
    let t = t.trim();
    SECTORS.iter().find(|(code, label)| word(code) == w || *label == t).map(|(code, _)| *code).ok_or_else(|| {
        let labels: Vec<String> = SECTORS.iter().map(|(c, l)| format!("{l} ({c})")).collect();
        format!("'{t}' is not a sector (expected one of {})", labels.join(", "))
    })
}

const FUNDING_SOURCES: &[(FundingSource, &[&str])] = &[
    (FundingSource::GeneralBudget, &["一般公共预算", "一般公共预算资金", "一般预算", "general_budget"]),
    (FundingSource::GovernmentFund, &["政府性基金预算", "政府性基金", "government_fund"]),
    (FundingSource::StateCapital, &["国有资本经营预算", "国有资本经营", "state_capital"]),
    (FundingSource::SocialInsuranceFund, &["社会保险基金预算", "社会保险基金", "社保基金", "social_insurance_fund"]),
    (FundingSource::Transfer, &["上级转移支付", "转移支付", "上级补助", "transfer"]),
];

/// The Chinese label of a funding source (what exports write).
pub fn funding_source_label(f: FundingSource) -> &'static str {
    FUNDING_SOURCES.iter().find(|(s, _)| *s == f).map_or("", |(_, labels)| labels[0])
}

fn parse_funding_source(t: &str) -> Result<FundingSource, String> {
    let w = word(t);
    FUNDING_SOURCES.iter().find(|(_, labels)| labels.iter().any(|l| word(l) == w)).map(|(s, _)| *s).ok_or_else(|| {
        let labels: Vec<&str> = FUNDING_SOURCES.iter().map(|(_, l)| l[0]).collect();
        format!("'{}' is not a funding source (expected one of {})", t.trim(), labels.join(", "))
    })
}

const BASES: &[(Basis, &[&str])] = &[
    (Basis::Plan, &["计划标准", "计划", "plan"]),
    (Basis::Industry, &["行业标准", "行业", "industry"]),
    (Basis::History, &["历史标准", "历史", "history"]),
    (Basis::Other, &["其他", "其它", "其他标准", "other"]),
];

/// The Chinese label of a basis (取值依据).
pub fn basis_label(b: Basis) -> &'static str {
    BASES.iter().find(|(x, _)| *x == b).map_or("", |(_, labels)| labels[0])
}

pub(super) fn parse_basis(t: &str) -> Result<Basis, String> {
    let w = word(t);
    BASES
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| *l == w))
        .map(|(b, _)| *b)
        .ok_or_else(|| format!("'{}' is not a basis (expected 计划标准, 行业标准, 历史标准 or 其他)", t.trim()))
}

const ROLES: &[(Role, &[&str])] = &[
    (Role::Admin, &["管理员", "系统管理员", "admin", "administrator"]),
    (Role::Finance, &["财政", "财政局", "财政部门", "财政用户", "财政人员", "finance"]),
    (Role::Department, &["部门", "单位", "预算单位", "部门用户", "单位用户", "department"]),
    (Role::Expert, &["专家", "评审专家", "expert"]),
    (Role::ThirdParty, &["第三方", "第三方机构", "中介机构", "thirdparty"]),
];

fn parse_role(t: &str) -> Result<Role, String> {
    let w = word(t);
    ROLES.iter().find(|(_, names)| names.iter().any(|n| *n == w)).map(|(r, _)| *r).ok_or_else(|| {
        format!(
            "'{}' is not a role (expected 管理员/admin, 财政/finance, 部门/department, 专家/expert or 第三方/third_party)",
            t.trim()
        )
    })
}

fn parse_language(t: &str) -> Result<&'static str, String> {
    match word(t).as_str() {
        "zh" | "zhcn" | "cn" | "中文" | "简体中文" | "汉语" | "chinese" => Ok("zh"),
        "en" | "enus" | "english" | "英文" | "英语" => Ok("en"),
        _ => Err(format!("'{}' is not a language (expected zh/中文 or en/English)", t.trim())),
    }
}

pub(super) fn parse_level1(t: &str) -> Result<Level1, String> {
    Level1::from_str(&t.trim().to_lowercase()).map_err(|_| {
        format!("'{}' is not a level-1 indicator (expected 产出指标, 效益指标, 满意度指标 or 成本指标)", t.trim())
    })
}

pub(super) fn parse_operator(t: &str) -> Result<Operator, String> {
    let s: String = t
        .trim()
        .chars()
        .map(|c| match c {
            '＞' => '>',
            '＜' => '<',
            '＝' => '=',
            '≧' => '≥',
            '≦' => '≤',
            c => c,
        })
        .collect();
    Operator::from_str(&s.to_lowercase())
        .map_err(|_| format!("'{}' is not an operator (expected ≥, ≤, = or 定性)", t.trim()))
}

fn parse_target(c: &Cell) -> TargetValue {
    match c {
        Cell::Number(_) | Cell::Percent(_) => match parse_decimal(c) {
            Ok(d) => TargetValue::Number(d),
            Err(_) => TargetValue::Text(c.to_text().into_owned()),
        },
        other => TargetValue::parse(&other.to_text()),
    }
}

pub(super) fn parse_weight(c: &Cell) -> Result<Decimal, String> {
    match c {
        Cell::Text(t) => {
            let s = t.trim().trim_end_matches('分').trim();
            parse_decimal(&Cell::Text(s.to_string()))
                .map_err(|_| format!("'{}' is not a weight (a number of points, e.g. 10)", t.trim()))
        }
        other => parse_decimal(other),
    }
}

/// Splits a list cell on `、 , ; ， ；` and line breaks.
pub(super) fn split_list(t: &str) -> impl Iterator<Item = &str> {
    t.split(['、', ',', ';', '，', '；', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty())
}

fn is_year_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '-' | '–' | '—' | '~' | '～' | '至' | '到' | '年') || c.is_whitespace()
}

/// One employment entry: a department (code or name) and a year or a range of years.
fn parse_employment(entry: &str, departments: &Departments) -> Result<Employment, String> {
    let bad = || {
        format!(
            "'{entry}' is not an employment (expected a department code or name and years, e.g. D01 2018-2022; entries separated by ；)"
        )
    };
    // The years are the longest tail of year characters that starts with four digits after a
    // space or a character that cannot be part of a code.
    let mut split = None;
    for (i, _) in entry.char_indices() {
        let tail = &entry[i..];
        let starts_with_year = tail.len() >= 4 && tail.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        let before = entry[..i].chars().next_back();
        let boundary = before.is_some_and(|c| c.is_whitespace() || !c.is_ascii_alphanumeric());
        if starts_with_year && boundary && tail.chars().all(is_year_char) {
            split = Some(i);
            break;
        }
    }
    let Some(i) = split else { return Err(bad()) };
    let department = entry[..i].trim();
    let years: Vec<i32> = entry[i..]
        .split(['-', '–', '—', '~', '～', '至', '到'])
        .map(|y| y.trim().trim_end_matches('年').trim())
        .filter(|y| !y.is_empty())
        .map(|y| y.parse::<i32>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let (from_year, to_year) = match years.as_slice() {
        [y] => (*y, *y),
        [a, b] => (*a, *b),
        _ => return Err(bad()),
    };
    if department.is_empty() {
        return Err(bad());
    }
    if from_year > to_year || from_year < 1950 || to_year > 2100 {
        return Err(format!(
            "'{entry}': years {from_year}–{to_year} are not a period (expected from ≤ to, between 1950 and 2100)"
        ));
    }
    let department_code = departments.resolve(department)?;
    Ok(Employment { department_code, from_year, to_year })
}

// ---------------------------------------------------------------------------------------------
// Sheets

fn origin(layout: &Layout, li: usize, row: u32, indicator_rows: Vec<u32>) -> Origin {
    Origin { sheet: layout.sheet.clone(), row, indicator_rows, layout: li }
}

fn is_department_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 32 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn read_departments(layout: &Layout, li: usize, rows: &[Row], departments: &mut Departments, parsed: &mut Parsed) {
    for row in rows {
        let mut rec = Rec::new(layout);
        let n = row.number;
        let code = rec.required(row, Field::DeptCode).map(Cow::into_owned);
        let name = rec.required(row, Field::DeptName).map(Cow::into_owned);
        let sector = rec.parse_required(row, Field::DeptSector, |c| parse_sector(&cell_text(c)));
        let head = layout.text(row, Field::DeptHead).into_owned();
        if let Some(code) = &code {
            if !is_department_code(code) {
                rec.report(
                    n,
                    Field::DeptCode,
                    format!("'{code}' is not a department code (1–32 letters, digits, '-' or '_')"),
                );
            } else if let Some((sheet, first)) = departments.in_file.get(code) {
                let place =
                    if *sheet == layout.sheet { format!("row {first}") } else { format!("sheet {sheet} row {first}") };
                rec.report(n, Field::DeptCode, format!("duplicate department code '{code}': also on {place}"));
            }
        }
        if let Some(name) = &name
            && name.chars().count() > 100
        {
            rec.report(n, Field::DeptName, "a department name has at most 100 characters".into());
        }
        if let Some(e) = name.as_deref().and_then(|t| crate::domain::text::line_problem("name", t)) {
            rec.report(n, Field::DeptName, e.message);
        }
        if let Some(code) = &code {
            departments.in_file.entry(code.clone()).or_insert_with(|| (layout.sheet.clone(), n));
        }
        let ok = rec.problems.is_empty() && !layout.broken;
        parsed.problems.append(&mut rec.problems);
        if let (Some(code), Some(name)) = (code, name) {
            // A department already in the system is updated by its code (re-importing a file
            // changes nothing); its new name resolves too.
            if is_department_code(&code) {
                departments.add(&code, &name);
            }
            if let (true, Some(sector)) = (ok, sector) {
                parsed.departments.push(Sourced {
                    record: NewDepartment { code, name, sector: sector.to_string(), head },
                    origin: origin(layout, li, n, Vec::new()),
                });
            }
        }
    }
}

fn read_users(
    layout: &Layout,
    li: usize,
    rows: &[Row],
    departments: &Departments,
    usernames: &mut HashMap<String, (String, u32)>,
    parsed: &mut Parsed,
) {
    for row in rows {
        let mut rec = Rec::new(layout);
        let n = row.number;
        let username = rec.required(row, Field::Username).map(Cow::into_owned);
        if let Some(u) = &username {
            let ok = u.len() <= 64 && u.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
            if !ok {
                rec.report(
                    n,
                    Field::Username,
                    format!("'{u}' is not a username (1–64 letters, digits, '-', '_', '.', '@')"),
                );
            } else if let Some((sheet, first)) = usernames.get(u) {
                let place =
                    if *sheet == layout.sheet { format!("row {first}") } else { format!("sheet {sheet} row {first}") };
                rec.report(n, Field::Username, format!("duplicate username '{u}': also on {place}"));
            } else {
                usernames.insert(u.clone(), (layout.sheet.clone(), n));
            }
        }
        let display_name = rec.required(row, Field::DisplayName).map(Cow::into_owned);
        if display_name.as_ref().is_some_and(|d| d.chars().count() > 100) {
            rec.report(n, Field::DisplayName, "a display name has at most 100 characters".into());
        }
        if let Some(e) = display_name.as_deref().and_then(|t| crate::domain::text::line_problem("display_name", t)) {
            rec.report(n, Field::DisplayName, e.message);
        }
        let role = match layout.kind {
            Kind::Experts => match rec.parse(row, Field::Role, |c| parse_role(&cell_text(c))) {
                Some(Role::Expert) => Some(Role::Expert),
                Some(other) => {
                    rec.report(
                        n,
                        Field::Role,
                        format!("the 专家 sheet holds experts; '{other}' is not expert (leave 角色 empty)"),
                    );
                    None
                }
                // Empty: an expert; unreadable: already reported.
                None => (!rec.is_flagged(n, Some(Field::Role))).then_some(Role::Expert),
            },
            _ => rec.parse_required(row, Field::Role, |c| parse_role(&cell_text(c))),
        };
        let department = layout.text(row, Field::UserDepartment);
        let department_code = match (role, department.is_empty()) {
            (Some(Role::Department), false) => match departments.resolve(&department) {
                Ok(code) => Some(code),
                Err(m) => {
                    rec.report(n, Field::UserDepartment, m);
                    None
                }
            },
            (Some(Role::Department), true) => {
                rec.report(n, Field::UserDepartment, "a department user needs their department (所属单位)".into());
                None
            }
            (Some(_), false) => {
                rec.report(
                    n,
                    Field::UserDepartment,
                    "only department users belong to a department; leave 所属单位 empty".into(),
                );
                None
            }
            _ => None,
        };
        let email = layout.text(row, Field::Email).into_owned();
        if let Some(e) = (!email.is_empty()).then(|| crate::domain::text::email_problem("email", &email)).flatten() {
            rec.report(n, Field::Email, e.message);
        }
        let language = rec.parse(row, Field::Language, |c| parse_language(&cell_text(c))).unwrap_or("zh");

        let has_profile = EXPERT_PROFILE_FIELDS.iter().any(|f| layout.cell(row, *f).is_some());
        let expert = match role {
            Some(Role::Expert) => read_profile(&mut rec, row, departments),
            Some(_) if has_profile => {
                let f = EXPERT_PROFILE_FIELDS
                    .iter()
                    .copied()
                    .find(|f| layout.cell(row, *f).is_some())
                    .unwrap_or(Field::Sectors);
                rec.report(n, f, "only experts have an expert profile; leave the expert columns empty".into());
                None
            }
            _ => None,
        };
        let ok = rec.problems.is_empty() && !layout.broken;
        parsed.problems.append(&mut rec.problems);
        if !ok {
            continue;
        }
        let (Some(username), Some(display_name), Some(role)) = (username, display_name, role) else { continue };
        parsed.users.push(Sourced {
            record: NewUser {
                username,
                display_name,
                role,
                department_code,
                email,
                language: language.to_string(),
                expert,
                digest: false,
                department_head: false,
            },
            origin: origin(layout, li, n, Vec::new()),
        });
    }
}

fn read_profile(rec: &mut Rec<'_>, row: &Row, departments: &Departments) -> Option<ExpertProfile> {
    let layout = rec.layout;
    let n = row.number;
    let mut sectors = Vec::new();
    let text = layout.text(row, Field::Sectors);
    if text.is_empty() {
        let message = "an expert needs at least one sector (行业)".to_string();
        if layout.has(Field::Sectors) {
            rec.report(n, Field::Sectors, message);
        } else {
            rec.problems.push(layout.problem(n, Some(Field::Sectors), message));
        }
    }
    for s in split_list(&text) {
        match parse_sector(s) {
            Ok(code) => sectors.push(code.to_string()),
            Err(m) => rec.report(n, Field::Sectors, m),
        }
    }
    let specialities = split_list(&layout.text(row, Field::Specialities)).map(str::to_string).collect();
    let mut employment = Vec::new();
    let text = layout.text(row, Field::Employment);
    for entry in text.split([';', '；', '、', ',', '，', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty()) {
        match parse_employment(entry, departments) {
            Ok(e) => employment.push(e),
            Err(m) => rec.report(n, Field::Employment, m),
        }
    }
    let max = rec.parse(row, Field::MaxConcurrentReviews, |c| {
        let v = parse_integer(c, "a number of reviews")?;
        if (1..=200).contains(&v) { Ok(v as u32) } else { Err(format!("{v} is not between 1 and 200")) }
    });
    Some(ExpertProfile {
        sectors,
        specialities,
        title: layout.text(row, Field::Title).into_owned(),
        organisation: layout.text(row, Field::Organisation).into_owned(),
        employment,
        conflicts: Vec::new(),
        availability: Vec::new(),
        max_concurrent_reviews: max.unwrap_or(20),
    })
}

/// A project being assembled from its rows.
struct Draft<'a> {
    rec: Rec<'a>,
    first_row: u32,
    /// The project columns of the first row, to compare the following rows with.
    key: Vec<(usize, String)>,
    input: ProjectInput,
    indicator_rows: Vec<u32>,
}

fn read_projects(layout: &Layout, li: usize, rows: &[Row], departments: &Departments, parsed: &mut Parsed) {
    let project_cols: Vec<usize> = PROJECT_FIELDS.iter().filter_map(|f| layout.col(*f)).collect();
    let indicator_cols: Vec<usize> = INDICATOR_FIELDS.iter().filter_map(|f| layout.col(*f)).collect();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut draft: Option<Draft<'_>> = None;
    for row in rows {
        let has_project = project_cols.iter().any(|c| !row.get(*c).is_blank());
        let has_indicator = indicator_cols.iter().any(|c| !row.get(*c).is_blank());
        if !has_project {
            match draft.as_mut() {
                Some(d) => {
                    if has_indicator {
                        read_indicator(d, row);
                    }
                }
                None => parsed.problems.push(layout.problem(
                    row.number,
                    Some(Field::Code),
                    "an indicator row with no project above it; fill in the project's columns".into(),
                )),
            }
            continue;
        }
        let code = layout.text(row, Field::Code);
        if let Some(d) = draft.as_mut()
            && !code.is_empty()
            && d.input.code == code
        {
            let differs = d.key.iter().find(|(c, v)| row.get(*c).to_text().trim() != v.as_str());
            if let Some((c, v)) = differs {
                let message = format!(
                    "duplicate project code '{code}': rows {} and {} differ in {} ('{}' and '{}'); the rows of a project repeat the same project columns",
                    d.first_row,
                    row.number,
                    layout.headers.get(*c).map_or("", String::as_str),
                    v,
                    row.get(*c).to_text().trim()
                );
                let field = PROJECT_FIELDS.iter().copied().find(|f| layout.col(*f) == Some(*c)).unwrap_or(Field::Code);
                d.rec.report(row.number, field, message);
            }
            if has_indicator {
                read_indicator(d, row);
            }
            continue;
        }
        if let Some(d) = draft.take() {
            finish_project(d, layout, li, parsed);
        }
        let mut d = start_project(layout, row, departments);
        if !code.is_empty() {
            match seen.get(code.as_ref()) {
                Some(first) => d.rec.report(
                    row.number,
                    Field::Code,
                    format!(
                        "duplicate project code '{code}': also on row {first} (the rows of a project are consecutive; codes are unique)"
                    ),
                ),
                None => {
                    seen.insert(code.into_owned(), row.number);
                }
            }
        }
        if has_indicator {
            read_indicator(&mut d, row);
        }
        draft = Some(d);
    }
    if let Some(d) = draft.take() {
        finish_project(d, layout, li, parsed);
    }
}

fn start_project<'a>(layout: &'a Layout, row: &Row, departments: &Departments) -> Draft<'a> {
    let mut rec = Rec::new(layout);
    let n = row.number;
    let key = PROJECT_FIELDS
        .iter()
        .filter_map(|f| layout.col(*f))
        .map(|c| (c, row.get(c).to_text().trim().to_string()))
        .collect();
    let code = rec.required(row, Field::Code).map(Cow::into_owned).unwrap_or_default();
    let name = rec.required(row, Field::Name).map(Cow::into_owned).unwrap_or_default();
    // The department: the code column (which may hold a name), else the name column.
    let dept_field = if layout.cell(row, Field::Department).is_some() || !layout.has(Field::DepartmentName) {
        Field::Department
    } else {
        Field::DepartmentName
    };
    let department_code = match rec.required(row, dept_field) {
        Some(t) => match departments.resolve(&t) {
            Ok(code) => code,
            Err(m) => {
                rec.report(n, dept_field, m);
                String::new()
            }
        },
        None => String::new(),
    };
    let sector = rec.parse_required(row, Field::Sector, |c| parse_sector(&cell_text(c))).unwrap_or("general");
    let amount_field = layout.present(&[Field::Amount, Field::AmountWan]);
    let wan = amount_field == Field::AmountWan;
    let amount = rec.parse_required(row, amount_field, |c| parse_money(c, wan)).unwrap_or(Fen::ZERO);
    let fiscal_year = rec.parse_required(row, Field::FiscalYear, parse_year).unwrap_or(2000);
    let is_new = rec.parse(row, Field::IsNew, |c| parse_bool(c, &[("新增", true), ("延续", false)])).unwrap_or(false);
    let funding_source = rec
        .parse_required(row, Field::FundingSource, |c| parse_funding_source(&cell_text(c)))
        .unwrap_or(FundingSource::GeneralBudget);
    Draft {
        rec,
        first_row: n,
        key,
        input: ProjectInput {
            code,
            name,
            department_code,
            sector: sector.to_string(),
            amount,
            fiscal_year,
            is_new,
            funding_source,
            indicators: Vec::new(),
        },
        indicator_rows: Vec::new(),
    }
}

fn read_indicator(d: &mut Draft<'_>, row: &Row) {
    let rec = &mut d.rec;
    let layout = rec.layout;
    let n = row.number;
    let level1 = rec.parse_required(row, Field::Level1, |c| parse_level1(&cell_text(c)));
    if level1.is_none() {
        // The level-2 cannot be checked against an unknown level-1.
        rec.flag(n, Field::Level2);
    }
    let level1 = level1.unwrap_or(Level1::Output);
    let mut level2 = rec.required(row, Field::Level2).map(Cow::into_owned).unwrap_or_default();
    if !level2.is_empty() && !level2.ends_with("指标") {
        let long = format!("{level2}指标");
        if level1.level2_names().contains(&long.as_str()) {
            level2 = long;
        }
    }
    let name = rec.required(row, Field::Indicator).map(Cow::into_owned).unwrap_or_default();
    let operator = rec.parse_required(row, Field::Operator, |c| parse_operator(&cell_text(c)));
    let value = match layout.cell(row, Field::Value) {
        Some(c) => parse_target(c),
        None => {
            if operator.is_some_and(Operator::is_quantitative) {
                rec.required(row, Field::Value);
            }
            TargetValue::Text(String::new())
        }
    };
    let unit = layout.text(row, Field::Unit).into_owned();
    let weight = rec.parse_required(row, Field::Weight, parse_weight).unwrap_or(Decimal::ZERO);
    let basis = rec.parse(row, Field::Basis, |c| parse_basis(&cell_text(c))).unwrap_or(Basis::Plan);
    let explanation = layout.text(row, Field::Explanation).into_owned();
    let core = rec.parse(row, Field::Core, |c| parse_bool(c, &[("核心", true)])).unwrap_or(false);
    d.input.indicators.push(Indicator {
        level1,
        level2,
        name,
        operator: operator.unwrap_or(Operator::Qualitative),
        value,
        unit,
        weight,
        basis,
        explanation,
        core,
    });
    d.indicator_rows.push(n);
}

fn finish_project(d: Draft<'_>, layout: &Layout, li: usize, parsed: &mut Parsed) {
    let Draft { mut rec, first_row, input, indicator_rows, .. } = d;
    let origin = origin(layout, li, first_row, indicator_rows);
    for e in input.validate() {
        let (row, field) = layout.locate(&origin, &e.path);
        if rec.is_flagged(row, field) {
            continue;
        }
        let message = if field.is_none() { format!("{}: {}", e.path, e.message) } else { e.message };
        rec.problems.push(layout.problem(row, field, message));
    }
    let ok = rec.problems.is_empty() && !layout.broken;
    parsed.problems.append(&mut rec.problems);
    if ok {
        parsed.projects.push(Sourced { record: input, origin });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::write;

    fn known() -> Known {
        Known { departments: vec![("D01".into(), "县教育局".into()), ("D02".into(), "县卫生健康局".into())] }
    }

    /// A sheet from rows of text; "" is an empty cell; rows are numbered from 1.
    fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
        let rows = rows
            .iter()
            .enumerate()
            .map(|(i, r)| Row {
                number: i as u32 + 1,
                cells: r.iter().map(|t| if t.is_empty() { Cell::Empty } else { Cell::Text(t.to_string()) }).collect(),
            })
            .filter(|r| r.cells.iter().any(|c| !c.is_blank()))
            .collect();
        Sheet { name: name.into(), hidden: false, rows }
    }

    /// (row, column letter, header) of each problem, for compact assertions.
    fn places(p: &Parsed) -> Vec<(u32, Option<&str>)> {
        p.problems.iter().map(|p| (p.row, p.column.as_deref())).collect()
    }

    const PROJECT_HEADER: &[&str] = &[
        "项目编码",
        "项目名称",
        "预算单位",
        "行业",
        "预算金额",
        "预算年度",
        "是否新增",
        "资金来源",
        "一级指标",
        "二级指标",
        "三级指标",
        "指标性质",
        "指标值",
        "度量单位",
        "分值",
    ];

    #[test]
    fn chinese_headers_group_indicator_rows_into_projects() {
        let s = sheet(
            "项目",
            &[
                PROJECT_HEADER,
                &[
                    "XY-001",
                    "校舍维修",
                    "D01",
                    "教育",
                    "1,234,567.89",
                    "2026",
                    "是",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "维修面积",
                    "≥",
                    "1200",
                    "平方米",
                    "20",
                ],
                &[
                    "XY-001",
                    "校舍维修",
                    "D01",
                    "教育",
                    "1,234,567.89",
                    "2026",
                    "是",
                    "一般公共预算",
                    "效益",
                    "社会效益",
                    "安全隐患",
                    "定性",
                    "有效消除",
                    "",
                    "10",
                ],
                &[
                    "XY-002",
                    "乡村医生培训",
                    "县卫生健康局",
                    "health",
                    "50000",
                    "2026年",
                    "延续",
                    "上级转移支付",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ],
                &[
                    "XY-003",
                    "完成率",
                    "D02",
                    "卫生健康",
                    "0.01",
                    "2026",
                    "",
                    "transfer",
                    "满意度指标",
                    "服务对象满意度",
                    "群众满意度",
                    ">=",
                    "95%",
                    "%",
                    "10",
                ],
            ],
        );
        let p = import(&[s], &known(), None);
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.rows_read, 4);
        assert_eq!(p.projects.len(), 3);
        let a = &p.projects[0];
        assert_eq!(a.origin.row, 2);
        assert_eq!(a.origin.indicator_rows, vec![2, 3]);
        assert_eq!(a.record.code, "XY-001");
        assert_eq!(a.record.amount, Fen::from_fen(123_456_789));
        assert_eq!(a.record.sector, "education");
        assert!(a.record.is_new);
        assert_eq!(a.record.indicators.len(), 2);
        assert_eq!(a.record.indicators[0].value, TargetValue::Number(Decimal::from(1200)));
        assert_eq!(a.record.indicators[0].basis, Basis::Plan);
        assert_eq!(a.record.indicators[1].level1, Level1::Benefit);
        assert_eq!(a.record.indicators[1].level2, "社会效益指标");
        assert_eq!(a.record.indicators[1].operator, Operator::Qualitative);
        assert_eq!(a.record.indicators[1].value, TargetValue::Text("有效消除".into()));
        let b = &p.projects[1].record;
        assert_eq!((b.department_code.as_str(), b.sector.as_str(), b.is_new), ("D02", "health", false));
        assert_eq!(b.funding_source, FundingSource::Transfer);
        assert!(b.indicators.is_empty());
        let c = &p.projects[2].record;
        assert_eq!(c.amount, Fen::from_fen(1));
        assert_eq!(c.indicators[0].value, TargetValue::Number(Decimal::from(95)));
        assert_eq!(c.indicators[0].operator, Operator::Ge);
    }

    #[test]
    fn english_headers_are_recognised() {
        let projects = sheet(
            "Sheet1",
            &[
                &["Code", "Name", "Department", "Sector", "Amount", "Fiscal Year", "Is New", "Funding Source"],
                &["P1", "School repairs", "D01", "education", "100.5", "2026", "yes", "general_budget"],
            ],
        );
        let users = sheet(
            "Sheet2",
            &[
                &[" USERNAME ", "Display_Name", "Role", "Department", "E-mail", "Language"],
                &["wang", "王芳", "department", "县教育局", "wang@example.cn", "English"],
                &["li", "李强", "Finance", "", "", ""],
            ],
        );
        let p = import(&[projects, users], &known(), None);
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.projects[0].record.amount, Fen::from_fen(10_050));
        assert_eq!(p.projects[0].record.funding_source, FundingSource::GeneralBudget);
        assert_eq!(p.users.len(), 2);
        let u = &p.users[0].record;
        assert_eq!(
            (u.username.as_str(), u.role, u.department_code.as_deref()),
            ("wang", Role::Department, Some("D01"))
        );
        assert_eq!(u.language, "en");
        assert_eq!(p.users[1].record.role, Role::Finance);
        assert_eq!(p.users[1].record.language, "zh");
        assert_eq!(p.users[1].origin, Origin { sheet: "Sheet2".into(), row: 3, indicator_rows: vec![], layout: 1 });
    }

    #[test]
    fn headers_tolerate_brackets_case_spaces_and_marks() {
        let index = HeaderIndex::new();
        let cases = [
            ("预算金额(元)", Some(Field::Amount)),
            ("预算金额 （元）", Some(Field::Amount)),
            ("*预算金额（万元）", Some(Field::AmountWan)),
            ("分值（分）", Some(Field::Weight)),
            ("项目 编码", Some(Field::Code)),
            ("FISCAL-YEAR", Some(Field::FiscalYear)),
            ("ｃｏｄｅ", Some(Field::Code)),
            ("备注", None),
        ];
        for (h, want) in cases {
            assert_eq!(index.lookup(Kind::Projects, h), want, "{h}");
        }
        // Every canonical header is an alias of its own field.
        for kind in Kind::ALL {
            for table in kind.tables() {
                for (f, _) in table.iter() {
                    assert_eq!(index.lookup(kind, f.header()), Some(*f), "{kind} {f:?}");
                }
            }
        }
    }

    #[test]
    fn every_problem_is_reported_at_its_row_and_column() {
        let s = sheet(
            "项目",
            &[
                PROJECT_HEADER,
                &[
                    "P1",
                    "好项目",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "人数",
                    "≥",
                    "10",
                    "人",
                    "10",
                ],
                &[
                    "P1",
                    "好项目",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "次数",
                    "大约",
                    "10",
                    "次",
                    "10",
                ],
                &["P2", "单位错", "不存在局", "教育", "100", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &["P3", "金额错", "D01", "教育", "abc", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &["P4", "分太细", "D01", "教育", "12.345", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &["P5", "行业错", "D01", "航天", "100", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &["P6", "来源错", "D01", "教育", "100", "2026", "否", "自筹资金", "", "", "", "", "", "", ""],
                &["P7", "年度错", "D01", "教育", "100", "1990", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &[
                    "P8",
                    "缺单位",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "人数",
                    "≥",
                    "10",
                    "",
                    "10",
                ],
                &[
                    "P9",
                    "二级错",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "满意度指标",
                    "满意度",
                    "≥",
                    "90",
                    "%",
                    "10",
                ],
                &[
                    "P10",
                    "分值错",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "人数",
                    "≥",
                    "10",
                    "人",
                    "150",
                ],
                &["P1", "又来了", "D01", "教育", "100", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &["P11", "", "D01", "教育", "100", "2026", "否", "一般公共预算", "", "", "", "", "", "", ""],
                &[
                    "P12",
                    "一级错",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "投入指标",
                    "数量指标",
                    "人数",
                    "≥",
                    "10",
                    "人",
                    "10",
                ],
                &[
                    "P13",
                    "名称甲",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "人数",
                    "≥",
                    "10",
                    "人",
                    "10",
                ],
                &[
                    "P13",
                    "名称乙",
                    "D01",
                    "教育",
                    "100",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出指标",
                    "数量指标",
                    "次数",
                    "≥",
                    "10",
                    "人",
                    "10",
                ],
                &["P14", "是否错", "D01", "教育", "100", "2026", "也许", "一般公共预算", "", "", "", "", "", "", ""],
            ],
        );
        let p = import(&[s], &known(), None);
        let want: Vec<(u32, Option<&str>, &str)> = vec![
            (3, Some("L"), "'大约' is not an operator (expected ≥, ≤, = or 定性)"),
            (4, Some("C"), "unknown department '不存在局'"),
            (5, Some("E"), "'abc' is not an amount of yuan"),
            (6, Some("E"), "'12.345' has more than two decimals"),
            (7, Some("D"), "'航天' is not a sector"),
            (8, Some("H"), "'自筹资金' is not a funding source"),
            (9, Some("F"), "1990 is not a fiscal year between 2000 and 2100"),
            (10, Some("N"), "a quantitative indicator needs a unit"),
            (11, Some("J"), "'满意度指标' is not a level-2 indicator of 产出"),
            (12, Some("O"), "150 is not a weight between 0 and 100"),
            (13, Some("A"), "duplicate project code 'P1': also on row 2"),
            (14, Some("B"), "项目名称 is empty (required)"),
            (15, Some("I"), "'投入指标' is not a level-1 indicator"),
            (17, Some("B"), "duplicate project code 'P13': rows 16 and 17 differ in 项目名称 ('名称甲' and '名称乙')"),
            (18, Some("G"), "'也许' is not yes or no"),
        ];
        assert_eq!(p.problems.len(), want.len(), "{:#?}", p.problems);
        for (got, (row, col, text)) in p.problems.iter().zip(&want) {
            assert_eq!((got.row, got.column.as_deref()), (*row, *col), "{got:?}");
            assert!(got.message.starts_with(text), "{got:?} should start with {text}");
            assert_eq!(got.sheet, "项目");
        }
        assert_eq!(p.problems[0].header.as_deref(), Some("指标性质"));
        // Records come only from projects without problems: none here (P1 has a bad operator).
        assert!(p.projects.is_empty(), "{:?}", p.projects.iter().map(|x| &x.record.code).collect::<Vec<_>>());
    }

    #[test]
    fn three_bad_rows_give_three_problems_and_good_rows_still_parse() {
        let s = sheet(
            "部门",
            &[
                &["单位编码", "单位名称", "行业", "负责人"],
                &["D10", "县交通运输局", "交通运输", "张三"],
                &["D 11", "县农业农村局", "农业农村", ""],
                &["D12", "", "农业农村", ""],
                &["D13", "县文旅局", "旅游", ""],
                &["D14", "县应急管理局", "public_safety", ""],
            ],
        );
        let p = import(&[s], &known(), None);
        assert_eq!(places(&p), vec![(3, Some("A")), (4, Some("B")), (5, Some("C"))]);
        assert_eq!(p.departments.iter().map(|d| d.record.code.as_str()).collect::<Vec<_>>(), ["D10", "D14"]);
        assert_eq!(p.departments[0].record.head, "张三");
        assert_eq!(p.departments[0].record.sector, "transport");
    }

    #[test]
    fn missing_required_column_is_reported_once_on_the_header_row() {
        let s = sheet(
            "项目",
            &[
                &["项目编码", "项目名称", "预算单位", "行业", "预算金额", "预算年度"],
                &["P1", "a", "D01", "教育", "1", "2026"],
                &["P2", "b", "D01", "教育", "x", "2026"],
            ],
        );
        let p = import(&[s], &known(), None);
        assert_eq!(p.problems.len(), 2, "{:#?}", p.problems);
        assert_eq!(p.problems[0].row, 1);
        assert_eq!(p.problems[0].column, None);
        assert_eq!(p.problems[0].header.as_deref(), Some("资金来源"));
        assert_eq!(p.problems[0].message, "the 项目 sheet has no column 资金来源 (required)");
        // The rows are still checked, but give no records.
        assert_eq!((p.problems[1].row, p.problems[1].column.as_deref()), (3, Some("E")));
        assert!(p.projects.is_empty());
    }

    #[test]
    fn indicator_columns_come_together() {
        let s = sheet(
            "项目",
            &[
                &["项目编码", "项目名称", "预算单位", "行业", "预算金额", "预算年度", "资金来源", "三级指标", "指标值"],
                &["P1", "a", "D01", "教育", "1", "2026", "一般公共预算", "x", "1"],
            ],
        );
        let p = import(&[s], &known(), None);
        let missing: Vec<&str> = p.problems.iter().filter_map(|p| p.header.as_deref()).collect();
        assert_eq!(missing, ["一级指标", "二级指标", "指标性质", "分值"]);
        assert!(p.problems.iter().all(|p| p.row == 1 && p.column.is_none()));
    }

    #[test]
    fn workbook_departments_unknown_sheets_and_title_rows() {
        let depts = sheet("部门", &[&["单位编码", "单位名称", "行业"], &["D20", "县水利局", "农业农村"]]);
        let projects = sheet(
            "项目",
            &[
                &["2026年县级项目支出预算表"],
                &["项目编码", "项目名称", "预算单位", "行业", "预算金额（万元）", "预算年度", "资金来源"],
                &["P1", "河道治理", "县水利局", "农业农村", "120.5", "2026", "政府性基金预算"],
            ],
        );
        let notes = sheet("说明", &[&["填表说明"], &["金额以元为单位"]]);
        let hidden = Sheet { hidden: true, ..sheet("代码表", &[&["x", "y"]]) };
        let p = import(&[projects, notes, depts, hidden], &known(), None);
        assert_eq!(p.problems.len(), 1, "{:#?}", p.problems);
        let unknown = &p.problems[0];
        assert_eq!((unknown.sheet.as_str(), unknown.row), ("说明", 1));
        assert!(unknown.message.contains("部门: 单位编码, 单位名称, 行业"), "{}", unknown.message);
        assert!(unknown.message.contains("项目: 项目编码, 项目名称, 预算单位编码, 行业"), "{}", unknown.message);
        assert_eq!(p.departments.len(), 1);
        let project = &p.projects[0];
        assert_eq!(project.record.department_code, "D20");
        assert_eq!(project.record.amount, Fen::from_yuan(1_205_000));
        assert_eq!(project.origin.row, 3);
        assert_eq!(p.rows_read, 2);
    }

    #[test]
    fn forced_kind_reports_missing_columns() {
        let s = sheet("x", &[&["用户名", "姓名"], &["a", "b"]]);
        let p = import(&[s], &known(), Some(Kind::Users));
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].header.as_deref(), Some("角色"));
        let garbage = sheet("y", &[&["foo", "bar"], &["1", "2"]]);
        let p = import(&[garbage], &known(), None);
        assert!(p.problems[0].message.starts_with("the header row is not one of a known table"));
    }

    #[test]
    fn users_and_experts() {
        let users = sheet(
            "用户",
            &[
                &["用户名", "姓名", "角色", "所属单位", "邮箱", "语言"],
                &["zhang", "张伟", "部门", "D01", "", "中文"],
                &["zhang", "张伟二", "财政", "", "", ""],
                &["liu", "刘洋", "部门", "", "", ""],
                &["chen", "陈静", "财政", "D01", "", ""],
                &["zhao", "赵磊", "局长", "", "bad-email", ""],
                &["wu", "吴敏", "财政", "", "", "法语"],
            ],
        );
        let experts = sheet(
            "专家",
            &[
                &["用户名", "姓名", "行业", "专业", "职称", "工作单位", "任职经历", "最多同时评审"],
                &[
                    "expert1",
                    "周教授",
                    "教育、卫生健康",
                    "教育经济; 财务管理",
                    "教授",
                    "某大学",
                    "D01 2018-2022；县卫生健康局 2023至2025年",
                    "5",
                ],
                &["expert2", "孙工", "航天", "", "", "", "D09 2018-2022", "300"],
                &["zhang", "郑会计", "general", "", "", "", "D01 2022-2018", ""],
            ],
        );
        let p = import(&[users, experts], &known(), None);
        let got: Vec<(&str, u32, Option<&str>)> =
            p.problems.iter().map(|x| (x.sheet.as_str(), x.row, x.column.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("用户", 3, Some("A")), // duplicate username
                ("用户", 4, Some("D")), // department user without department
                ("用户", 5, Some("D")), // finance user with a department
                ("用户", 6, Some("C")), // unknown role
                ("用户", 6, Some("E")), // bad email
                ("用户", 7, Some("F")), // unknown language
                ("专家", 3, Some("C")), // unknown sector
                ("专家", 3, Some("G")), // unknown department in employment
                ("专家", 3, Some("H")), // too many reviews
                ("专家", 4, Some("A")), // username used on the other sheet
                ("专家", 4, Some("G")), // years backwards
            ],
            "{:#?}",
            p.problems
        );
        assert!(p.problems[9].message.contains("also on sheet 用户 row 2"), "{}", p.problems[9].message);
        assert_eq!(p.users.len(), 2);
        let e = &p.users[1].record;
        assert_eq!(e.role, Role::Expert);
        let profile = e.expert.as_ref().unwrap();
        assert_eq!(profile.sectors, ["education", "health"]);
        assert_eq!(profile.specialities, ["教育经济", "财务管理"]);
        assert_eq!(profile.max_concurrent_reviews, 5);
        let jobs: Vec<(&str, i32, i32)> =
            profile.employment.iter().map(|j| (j.department_code.as_str(), j.from_year, j.to_year)).collect();
        assert_eq!(jobs, [("D01", 2018, 2022), ("D02", 2023, 2025)]);
    }

    #[test]
    fn later_errors_are_placed_at_their_row_and_column() {
        let s = sheet(
            "项目",
            &[
                PROJECT_HEADER,
                &[
                    "P1",
                    "a",
                    "D01",
                    "教育",
                    "1",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出",
                    "数量指标",
                    "x",
                    "≥",
                    "1",
                    "个",
                    "5",
                ],
                &[
                    "P1",
                    "a",
                    "D01",
                    "教育",
                    "1",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出",
                    "质量指标",
                    "y",
                    "≥",
                    "1",
                    "个",
                    "5",
                ],
            ],
        );
        let p = import(&[s], &known(), None);
        assert_eq!(p.problems, vec![]);
        let o = &p.projects[0].origin;
        let q = p.problem_at(o, "indicators[1].unit", "no");
        assert_eq!((q.row, q.column.as_deref(), q.header.as_deref()), (3, Some("N"), Some("度量单位")));
        let q = p.problem_at(o, "department_code", "gone");
        assert_eq!((q.row, q.column.as_deref()), (2, Some("C")));
        let q = p.problem_at(o, "something_else", "?");
        assert_eq!((q.row, q.column), (2, None));
    }

    fn round_trip_projects() -> Vec<ProjectInput> {
        let ind = |level1, level2: &str, name: &str, op, value, unit: &str, weight: Decimal| Indicator {
            level1,
            level2: level2.into(),
            name: name.into(),
            operator: op,
            value,
            unit: unit.into(),
            weight,
            basis: Basis::Plan,
            explanation: String::new(),
            core: false,
        };
        let mut qualitative = ind(
            Level1::Benefit,
            "社会效益指标",
            "教学条件",
            Operator::Qualitative,
            TargetValue::Text("有效改善".into()),
            "",
            Decimal::from(10),
        );
        qualitative.basis = Basis::Industry;
        qualitative.core = true;
        qualitative.explanation = "第一行\n第二行, 含逗号".into();
        let mut cost = ind(
            Level1::Cost,
            "经济成本指标",
            "单位成本",
            Operator::Le,
            TargetValue::Number(Decimal::new(12345, 2)),
            "元/人",
            Decimal::new(125, 1),
        );
        cost.basis = Basis::History;
        vec![
            ProjectInput {
                code: "XY2026-D01-0001".into(),
                name: "义务教育学校校舍维修".into(),
                department_code: "D01".into(),
                sector: "education".into(),
                amount: Fen::from_fen(123_456_789),
                fiscal_year: 2026,
                is_new: true,
                funding_source: FundingSource::Transfer,
                indicators: vec![
                    ind(
                        Level1::Output,
                        "质量指标",
                        "验收合格率",
                        Operator::Ge,
                        TargetValue::Number(Decimal::from(95)),
                        "%",
                        Decimal::from(20),
                    ),
                    qualitative,
                    ind(
                        Level1::Satisfaction,
                        "服务对象满意度指标",
                        "师生满意度",
                        Operator::Ge,
                        TargetValue::Number(Decimal::new(905, 1)),
                        "%",
                        Decimal::from(10),
                    ),
                ],
            },
            ProjectInput {
                code: "XY2026-D02-0002".into(),
                name: "=危险的名字".into(),
                department_code: "D02".into(),
                sector: "health".into(),
                amount: Fen::from_fen(1),
                fiscal_year: 2027,
                is_new: false,
                funding_source: FundingSource::GovernmentFund,
                indicators: vec![],
            },
            ProjectInput {
                code: "XY2026-D02-0003".into(),
                name: "疾病预防".into(),
                department_code: "D02".into(),
                sector: "health".into(),
                amount: Fen::from_yuan(5_000_000),
                fiscal_year: 2026,
                is_new: false,
                funding_source: FundingSource::SocialInsuranceFund,
                indicators: vec![cost],
            },
        ]
    }

    #[test]
    fn projects_round_trip_through_xlsx_and_csv() {
        let projects = round_trip_projects();
        let table = write::projects_table(&projects, &known().departments);
        let xlsx = write::to_xlsx(std::slice::from_ref(&table)).unwrap();
        let p = import_file("projects.xlsx", &xlsx, &known(), None, &Stop::never()).unwrap();
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.projects.iter().map(|x| x.record.clone()).collect::<Vec<_>>(), projects);
        assert_eq!(p.projects[0].origin.indicator_rows, vec![2, 3, 4]);
        assert_eq!(p.projects[1].origin.row, 5);
        assert_eq!(p.projects[2].origin.row, 6);

        let csv = write::to_csv(&table);
        let p = import_file("projects.csv", csv.as_bytes(), &known(), None, &Stop::never()).unwrap();
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.projects.iter().map(|x| x.record.clone()).collect::<Vec<_>>(), projects);
    }

    #[test]
    fn percent_formatted_cells_are_percentage_points() {
        let mut table = write::projects_table(&round_trip_projects()[..1], &[]);
        let value_col = table.columns.iter().position(|c| c.header == "指标值").unwrap();
        table.columns[value_col].kind = write::ColumnKind::Percent;
        let xlsx = write::to_xlsx(&[table]).unwrap();
        let sheets = table::read("p.xlsx", &xlsx).unwrap();
        assert_eq!(sheets[0].rows[1].cells[value_col], Cell::Percent(0.95));
        let p = import(&sheets, &known(), None);
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.projects[0].record.indicators[0].value, TargetValue::Number(Decimal::from(95)));
        assert_eq!(p.projects[0].record.indicators[2].value, TargetValue::Number(Decimal::new(905, 1)));
    }

    #[test]
    fn number_cells_become_exact_money_and_years() {
        let row = |cells: Vec<Cell>| Row { number: 2, cells };
        let header = Row {
            number: 1,
            cells: ["项目编码", "项目名称", "预算单位", "行业", "预算金额", "预算年度", "资金来源"]
                .iter()
                .map(|t| Cell::Text(t.to_string()))
                .collect(),
        };
        let mut data = row(vec![
            Cell::Number(20_260_001.0),
            Cell::Text("x".into()),
            Cell::Text("D01".into()),
            Cell::Text("教育".into()),
            Cell::Number(1234.56),
            Cell::Number(2026.0),
            Cell::Text("一般公共预算".into()),
        ]);
        let s = Sheet { name: "s".into(), hidden: false, rows: vec![header.clone(), data.clone()] };
        let p = import(&[s], &known(), None);
        assert_eq!(p.problems, vec![]);
        assert_eq!(p.projects[0].record.code, "20260001");
        assert_eq!(p.projects[0].record.amount, Fen::from_fen(123_456));
        data.cells[4] = Cell::Number(0.1 + 0.2);
        data.cells[5] = Cell::Number(2026.5);
        let s = Sheet { name: "s".into(), hidden: false, rows: vec![header, data] };
        let p = import(&[s], &known(), None);
        assert_eq!(places(&p), vec![(2, Some("E")), (2, Some("F"))]);
        assert!(p.problems[0].message.contains("more than two decimals"), "{}", p.problems[0].message);
    }

    #[test]
    fn continuation_rows_and_rows_before_any_project() {
        let s = sheet(
            "项目",
            &[
                PROJECT_HEADER,
                &["", "", "", "", "", "", "", "", "产出", "数量指标", "x", "≥", "1", "个", "5"],
                &[
                    "P1",
                    "a",
                    "D01",
                    "教育",
                    "1",
                    "2026",
                    "否",
                    "一般公共预算",
                    "产出",
                    "数量指标",
                    "x",
                    "≥",
                    "1",
                    "个",
                    "5",
                ],
                &["", "", "", "", "", "", "", "", "产出", "时效指标", "y", "≤", "30", "天", "5"],
            ],
        );
        let p = import(&[s], &known(), None);
        assert_eq!(places(&p), vec![(2, Some("A"))]);
        assert_eq!(p.projects[0].record.indicators.len(), 2);
        assert_eq!(p.projects[0].origin.indicator_rows, vec![3, 4]);
    }

    #[test]
    fn employment_entries() {
        let d = Departments::new(&known());
        let e = parse_employment("D01 2018-2022", &d).unwrap();
        assert_eq!((e.department_code.as_str(), e.from_year, e.to_year), ("D01", 2018, 2022));
        let e = parse_employment("县卫生健康局2020年～2021年", &d).unwrap();
        assert_eq!((e.department_code.as_str(), e.from_year, e.to_year), ("D02", 2020, 2021));
        let e = parse_employment("D02 2019", &d).unwrap();
        assert_eq!((e.from_year, e.to_year), (2019, 2019));
        assert!(parse_employment("D01", &d).is_err());
        assert!(parse_employment("D01 2019-至今", &d).is_err());
        assert!(parse_employment("D012019-2020", &d).is_err());
    }
}
