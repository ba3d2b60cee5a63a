//! Reading spreadsheets into plain rows of cells: XLSX (and old binary XLS) through `calamine`,
//! CSV with our own RFC 4180 reader.
//!
//! What comes out is deliberately untyped: a [`Sheet`] is its rows as the spreadsheet numbers
//! them, each row its cells by column. Turning cells into records (dates written as text,
//! amounts, codes) is `import`'s business.

use std::borrow::Cow;
use std::io::Cursor;
use std::str::FromStr;

use calamine::{Data, DataRef, ExcelDateTime, Reader, SheetType, SheetVisible};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use super::unpack::{self, Stop};

/// The most cells (counting the empty ones left of a filled cell) one file may hold. A budget
/// export of 30,000 rows × 40 columns is 1.2 million; the limit stops a small zip that unpacks
/// into a huge sheet from taking the server's memory.
pub const MAX_CELLS: usize = 5_000_000;

/// The number of columns a worksheet can have (A to XFD).
const MAX_COLUMNS: u32 = 16_384;

/// One cell's value, as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A number shown as a percentage (an XLSX cell with a `%` number format). It holds what
    /// the file stores, the fraction: `0.95` for a cell that shows 95%.
    Percent(f64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Bool(bool),
    /// An Excel error value such as `#N/A` or `#DIV/0!`.
    Error(String),
}

static EMPTY: Cell = Cell::Empty;

impl Cell {
    /// Empty, or text of nothing but white space.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as a person reads it: numbers in their shortest exact decimal form (`1234.5`,
    /// `2026`), percentages as `95%`, dates as `2026-03-01`, booleans as `TRUE`/`FALSE`.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(t) => Cow::Borrowed(t),
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::Percent(f) => match percent_points(*f) {
                Some(d) => Cow::Owned(format!("{}%", d.normalize())),
                None => Cow::Owned(format!("{}%", f * 100.0)),
            },
            Cell::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
            Cell::DateTime(d) => Cow::Owned(d.format("%Y-%m-%d %H:%M:%S").to_string()),
            Cell::Bool(true) => Cow::Borrowed("TRUE"),
            Cell::Bool(false) => Cow::Borrowed("FALSE"),
            Cell::Error(e) => Cow::Borrowed(e),
        }
    }
}

/// The exact decimal a spreadsheet number stands for: the shortest decimal that reads back as the
/// same `f64` (what Excel shows and what it wrote into the file), never the binary expansion.
/// `None` for infinities, NaN and numbers beyond `Decimal`'s range.
pub fn number_to_decimal(n: f64) -> Option<Decimal> {
    if !n.is_finite() {
        return None;
    }
    // `Display` for f64 prints the shortest representation that round-trips, without exponent.
    Decimal::from_str(&n.to_string()).ok()
}

/// A percent cell's value in percentage points (`0.95` → `95`), computed exactly.
pub fn percent_points(fraction: f64) -> Option<Decimal> {
    number_to_decimal(fraction)?.checked_mul(Decimal::ONE_HUNDRED).map(|d| d.normalize())
}

/// One row that is not entirely empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based, as the spreadsheet shows it (for CSV: the record's number, which is the line
    /// number unless a quoted field spans lines).
    pub number: u32,
    /// The cells from column A on; trailing empty cells are left out.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell in column `index` (0 = A); [`Cell::Empty`] past the last filled cell.
    pub fn get(&self, index: usize) -> &Cell {
        self.cells.get(index).unwrap_or(&EMPTY)
    }
}

/// A worksheet: its name and its non-empty rows in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub name: String,
    /// Hidden (or very hidden) in the workbook; `import` skips such sheets. Always false for CSV.
    pub hidden: bool,
    pub rows: Vec<Row>,
}

/// Why a file could not be read at all. (Problems with its content are `import`'s `Problem`s.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty (expected an XLSX workbook or a CSV file)")]
    Empty,
    #[error("not an XLSX workbook or a CSV file: {0}")]
    NotASpreadsheet(String),
    #[error("{format} files are not supported: {hint}")]
    Unsupported { format: &'static str, hint: &'static str },
    #[error("the workbook could not be read ({format}): {detail}")]
    Workbook { format: &'static str, detail: String },
    #[error("CSV line {line}: {message}")]
    Csv { line: u32, message: String },
    #[error("the file holds more than {MAX_CELLS} cells; split it into smaller files")]
    TooLarge,
    /// The workbook passes a bound on what it unpacks to (see [`super::unpack`]).
    #[error("{0}")]
    Unpacked(String),
    /// The request that sent the file ended before it was read.
    #[error("reading stopped: the request ended")]
    Stopped,
}

/// The letter of a 0-based column index as spreadsheets show it: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// Compound File Binary (OLE2): old `.xls` workbooks, and password-protected `.xlsx` ones.
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Reads a spreadsheet file into its sheets.
///
/// The format is decided by the content, the file name being only a hint:
/// - a zip archive (`PK\x03\x04`) is read as an XLSX workbook;
/// - a Compound File (`D0 CF 11 E0`) as an old binary `.xls` workbook (calamine reads those
///   too; a password-protected `.xlsx` is such a file and gives a clear error);
/// - anything else as CSV text. The text is UTF-8, with or without a byte-order mark; UTF-16
///   with a byte-order mark (Excel's "Unicode text") is accepted too; bytes that are not valid
///   UTF-8 are decoded as GB18030, the superset of GBK in which Excel on a Chinese Windows
///   saves "CSV (逗号分隔)". Fields are separated by commas, or by tabs when the first line has
///   tabs and no commas (the "text" `.xls` files that some systems export).
///
/// In CSV a field that starts with an apostrophe followed by `= + - @`, tab or CR loses the
/// apostrophe: it is the mark `write::to_csv` puts on such text to keep spreadsheets from
/// running it as a formula.
///
/// XLSX sheets are read cell by cell (memory follows the cells present, not the sheet's
/// extent); hidden sheets are read and marked [`Sheet::hidden`]; chart sheets are skipped.
/// Never panics on malformed input: every failure is a [`ReadError`]. A workbook is first
/// unpacked within bounds ([`unpack::check_workbook`]), so a small file that unpacks into a
/// huge one is refused before it is parsed.
pub fn read(file_name: &str, bytes: &[u8]) -> Result<Vec<Sheet>, ReadError> {
    read_until(file_name, bytes, &Stop::never())
}

/// [`read`], giving up with [`ReadError::Stopped`] soon after `stop` is asked for.
pub fn read_until(file_name: &str, bytes: &[u8], stop: &Stop) -> Result<Vec<Sheet>, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if bytes.starts_with(ZIP_MAGIC) {
        return match ext.as_str() {
            "ods" => Err(ReadError::Unsupported {
                format: "OpenDocument (.ods)",
                hint: "save the file as an Excel workbook (.xlsx) or as CSV",
            }),
            "xlsb" => Err(ReadError::Unsupported {
                format: "Excel binary (.xlsb)",
                hint: "save the file as an Excel workbook (.xlsx) or as CSV",
            }),
            _ => read_xlsx(bytes, stop),
        };
    }
    if bytes.starts_with(CFB_MAGIC) {
        return read_xls(bytes);
    }
    if matches!(ext.as_str(), "xlsx" | "xlsm") {
        return Err(ReadError::NotASpreadsheet(format!(
            "the name ends in .{ext} but the content is not an XLSX workbook (which is a zip archive); \
             open it in Excel and save it again as .xlsx"
        )));
    }
    let text = decode_text(bytes)?;
    let head: String = text.trim_start().chars().take(200).collect::<String>().to_ascii_lowercase();
    if head.starts_with('<') && (head.contains("<html") || head.contains("<table") || head.starts_with("<?xml")) {
        return Err(ReadError::NotASpreadsheet(
            "the file is an HTML or XML page (some systems export those with a .xls name); \
             open it in Excel and save it as .xlsx"
                .into(),
        ));
    }
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).to_string();
    let rows = read_csv(&text)?;
    Ok(vec![Sheet { name, hidden: false, rows }])
}

/// Decodes CSV bytes (see [`read`] for the encodings).
fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, ReadError> {
    let text: Cow<'_, str> = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        match std::str::from_utf8(rest) {
            Ok(t) => Cow::Borrowed(t),
            Err(e) => {
                return Err(ReadError::NotASpreadsheet(format!(
                    "the text starts with a UTF-8 byte-order mark but byte {} is not UTF-8",
                    e.valid_up_to() + 3
                )));
            }
        }
    } else if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF { encoding_rs::UTF_16LE } else { encoding_rs::UTF_16BE };
        let (t, had_errors) = enc.decode_with_bom_removal(&bytes[2..]);
        if had_errors {
            return Err(ReadError::NotASpreadsheet(
                "the text starts with a UTF-16 byte-order mark but is not UTF-16".into(),
            ));
        }
        t
    } else if let Ok(t) = std::str::from_utf8(bytes) {
        Cow::Borrowed(t)
    } else {
        let (t, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
        if had_errors {
            return Err(ReadError::NotASpreadsheet(
                "the bytes are neither UTF-8 nor GB18030 (GBK) text, nor a workbook".into(),
            ));
        }
        t
    };
    // Text files hold no NUL and next to no other control characters; binary files do.
    let controls =
        text.chars().filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1a')).count();
    if text.contains('\0') || controls * 100 > text.len() {
        return Err(ReadError::NotASpreadsheet("the file holds binary data, not text".into()));
    }
    Ok(text)
}

/// Reads RFC 4180 CSV: fields separated by the delimiter, records by CRLF, LF or CR; a field in
/// double quotes may hold delimiters, line breaks and doubled quotes. Lenient where Excel is (a
/// quote inside an unquoted field is kept as text; text after a closing quote is appended),
/// strict where data would be lost: a quote that is never closed is an error.
fn read_csv(text: &str) -> Result<Vec<Row>, ReadError> {
    let first_line = text.split(['\n', '\r']).next().unwrap_or("");
    let delim = if first_line.contains('\t') && !first_line.contains(',') { b'\t' } else { b',' };
    let b = text.as_bytes();
    let n = b.len();
    let is_end = |c: u8| c == delim || c == b'\n' || c == b'\r';
    let mut rows = Vec::new();
    let mut cells_total = 0usize;
    let mut i = 0usize;
    let mut record: u32 = 0;
    let mut line: u32 = 1;
    while i < n {
        record = record.saturating_add(1);
        let mut cells: Vec<Cell> = Vec::new();
        loop {
            let field: Cow<'_, str> = if b[i] == b'"' {
                let open_line = line;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(q) = b[i..].iter().position(|&c| c == b'"').map(|p| p + i) else {
                        return Err(ReadError::Csv {
                            line: open_line,
                            message: "a quoted field is opened here and never closed (a \" is missing)".into(),
                        });
                    };
                    let seg = &text[i..q];
                    line = line.saturating_add(seg.bytes().filter(|&c| c == b'\n').count() as u32);
                    s.push_str(seg);
                    if q + 1 < n && b[q + 1] == b'"' {
                        s.push('"');
                        i = q + 2;
                    } else {
                        i = q + 1;
                        break;
                    }
                }
                let end = b[i..].iter().position(|&c| is_end(c)).map_or(n, |p| p + i);
                s.push_str(&text[i..end]);
                i = end;
                Cow::Owned(s)
            } else {
                let end = b[i..].iter().position(|&c| is_end(c)).map_or(n, |p| p + i);
                let f = &text[i..end];
                i = end;
                Cow::Borrowed(f)
            };
            cells.push(csv_cell(field));
            if i >= n {
                break;
            }
            match b[i] {
                c if c == delim => {
                    i += 1;
                    if i >= n {
                        cells.push(Cell::Empty);
                        break;
                    }
                }
                b'\r' => {
                    i += 1;
                    if i < n && b[i] == b'\n' {
                        i += 1;
                    }
                    line = line.saturating_add(1);
                    break;
                }
                _ => {
                    i += 1;
                    line = line.saturating_add(1);
                    break;
                }
            }
        }
        while cells.last().is_some_and(Cell::is_blank) {
            cells.pop();
        }
        if !cells.is_empty() {
            cells_total += cells.len();
            if cells_total > MAX_CELLS {
                return Err(ReadError::TooLarge);
            }
            rows.push(Row { number: record, cells });
        }
    }
    Ok(rows)
}

fn csv_cell(field: Cow<'_, str>) -> Cell {
    if field.is_empty() {
        return Cell::Empty;
    }
    let b = field.as_bytes();
    if b.len() > 1 && b[0] == b'\'' && matches!(b[1], b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') {
        return Cell::Text(field[1..].to_string());
    }
    Cell::Text(field.into_owned())
}

/// Collects cells arriving in (mostly) row order into rows.
struct RowsBuilder {
    rows: Vec<Row>,
    current: Option<Row>,
    cells_total: usize,
    sorted: bool,
}

impl RowsBuilder {
    fn new() -> Self {
        RowsBuilder { rows: Vec::new(), current: None, cells_total: 0, sorted: true }
    }

    /// Puts `cell` at 0-based `(row, col)`.
    fn put(&mut self, row: u32, col: u32, cell: Cell) -> Result<(), ReadError> {
        if cell.is_blank() {
            return Ok(());
        }
        if col >= MAX_COLUMNS {
            return Err(ReadError::Workbook {
                format: "XLSX",
                detail: format!("a cell lies beyond the last column XFD (column {})", col + 1),
            });
        }
        let number = row.saturating_add(1);
        if self.current.as_ref().is_none_or(|r| r.number != number) {
            self.finish_row();
            if self.rows.last().is_some_and(|r| r.number >= number) {
                self.sorted = false;
            }
            self.current = Some(Row { number, cells: Vec::new() });
        }
        let Some(r) = self.current.as_mut() else { return Ok(()) };
        let col = col as usize;
        if col >= r.cells.len() {
            self.cells_total += col + 1 - r.cells.len();
            if self.cells_total > MAX_CELLS {
                return Err(ReadError::TooLarge);
            }
            r.cells.resize(col + 1, Cell::Empty);
        }
        r.cells[col] = cell;
        Ok(())
    }

    fn finish_row(&mut self) {
        if let Some(mut r) = self.current.take() {
            while r.cells.last().is_some_and(Cell::is_blank) {
                r.cells.pop();
            }
            if !r.cells.is_empty() {
                self.rows.push(r);
            }
        }
    }

    fn finish(mut self) -> Vec<Row> {
        self.finish_row();
        if !self.sorted {
            // Cells of one row came in several runs: merge them (later cells win).
            self.rows.sort_by_key(|r| r.number);
            let mut merged: Vec<Row> = Vec::with_capacity(self.rows.len());
            for r in self.rows {
                match merged.last_mut() {
                    Some(last) if last.number == r.number => {
                        if last.cells.len() < r.cells.len() {
                            last.cells.resize(r.cells.len(), Cell::Empty);
                        }
                        for (i, c) in r.cells.into_iter().enumerate() {
                            if !c.is_blank() {
                                last.cells[i] = c;
                            }
                        }
                    }
                    _ => merged.push(r),
                }
            }
            return merged;
        }
        self.rows
    }
}

fn read_xlsx(bytes: &[u8], stop: &Stop) -> Result<Vec<Sheet>, ReadError> {
    unpack::check_workbook(bytes, stop)?;
    let err = |e: calamine::XlsxError| match e {
        calamine::XlsxError::Password => ReadError::Workbook {
            format: "XLSX",
            detail: "the workbook is protected by a password; save it without one".into(),
        },
        e => ReadError::Workbook { format: "XLSX", detail: e.to_string() },
    };
    let mut wb = calamine::Xlsx::new(Cursor::new(bytes)).map_err(err)?;
    let metas: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect();
    let mut sheets = Vec::with_capacity(metas.len());
    let mut cells_total = 0usize;
    for (name, hidden) in metas {
        let mut reader = wb.worksheet_cells_reader(&name).map_err(err)?;
        let percent: Vec<bool> = reader
            .styles()
            .iter()
            .map(|s| s.number_format.as_ref().is_some_and(|f| is_percent_format(&f.format_code)))
            .collect();
        let mut b = RowsBuilder::new();
        b.cells_total = cells_total;
        let mut seen = 0u32;
        while let Some((cell, style)) = reader.next_cell_with_style_id().map_err(err)? {
            seen = seen.wrapping_add(1);
            if seen.is_multiple_of(65_536) {
                stop.check()?;
            }
            let (row, col) = cell.get_position();
            let is_percent = percent.get(style).copied().unwrap_or(false);
            b.put(row, col, from_data_ref(cell.get_value(), is_percent))?;
        }
        cells_total = b.cells_total;
        sheets.push(Sheet { name, hidden, rows: b.finish() });
    }
    Ok(sheets)
}

fn read_xls(bytes: &[u8]) -> Result<Vec<Sheet>, ReadError> {
    super::xls_check::check(bytes)?;
    let err = |e: calamine::XlsError| {
        let detail = e.to_string();
        if matches!(e, calamine::XlsError::Password) || detail.to_ascii_lowercase().contains("encrypt") {
            return ReadError::Workbook {
                format: "XLS",
                detail: "the workbook is protected by a password; save it without one".into(),
            };
        }
        ReadError::Workbook {
            format: "XLS",
            detail: format!("{detail} (if this is a password-protected .xlsx, save it without a password)"),
        }
    };
    let mut wb = calamine::Xls::new(Cursor::new(bytes)).map_err(err)?;
    let metas: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect();
    let mut sheets = Vec::with_capacity(metas.len());
    let mut cells_total = 0usize;
    for (name, hidden) in metas {
        let range = wb.worksheet_range(&name).map_err(err)?;
        let mut b = RowsBuilder::new();
        b.cells_total = cells_total;
        if let Some((r0, c0)) = range.start() {
            for (i, row) in range.rows().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    b.put(r0.saturating_add(i as u32), c0.saturating_add(j as u32), from_data(v))?;
                }
            }
        }
        cells_total = b.cells_total;
        sheets.push(Sheet { name, hidden, rows: b.finish() });
    }
    Ok(sheets)
}

/// True when an Excel number format shows a percentage: a `%` outside quotes, brackets and
/// escapes (`0%`, `0.00%`, `#,##0.0%`).
fn is_percent_format(code: &str) -> bool {
    let mut in_quotes = false;
    let mut in_brackets = false;
    let mut escaped = false;
    for c in code.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '[' if !in_quotes => in_brackets = true,
            ']' if !in_quotes => in_brackets = false,
            '%' if !in_quotes && !in_brackets => return true,
            _ => {}
        }
    }
    false
}

fn from_data_ref(v: &DataRef<'_>, percent: bool) -> Cell {
    match v {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => text_cell(s),
        DataRef::SharedString(s) => text_cell(s),
        DataRef::Float(f) => number_cell(*f, percent),
        DataRef::Int(i) => number_cell(*i as f64, percent),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(d) => date_cell(d),
        DataRef::DateTimeIso(s) => iso_date_cell(s),
        DataRef::DurationIso(s) => text_cell(s),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

fn from_data(v: &Data) -> Cell {
    match v {
        Data::Empty => Cell::Empty,
        Data::String(s) => text_cell(s),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(d) => date_cell(d),
        Data::DateTimeIso(s) => iso_date_cell(s),
        Data::DurationIso(s) => text_cell(s),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

fn text_cell(s: &str) -> Cell {
    if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }
}

fn number_cell(f: f64, percent: bool) -> Cell {
    if percent { Cell::Percent(f) } else { Cell::Number(f) }
}

fn date_cell(d: &ExcelDateTime) -> Cell {
    if d.is_duration() {
        return Cell::Number(d.as_f64());
    }
    let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
    // 1900-02-29 (Excel's leap-year bug) and other impossible dates stay numbers.
    let Some(date) = NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(day)) else {
        return Cell::Number(d.as_f64());
    };
    if (h, mi, s, ms) == (0, 0, 0, 0) {
        return Cell::Date(date);
    }
    match date.and_hms_milli_opt(u32::from(h), u32::from(mi), u32::from(s), u32::from(ms)) {
        Some(dt) => Cell::DateTime(dt),
        None => Cell::Date(date),
    }
}

fn iso_date_cell(s: &str) -> Cell {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Cell::Date(d);
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Cell::DateTime(d);
    }
    text_cell(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(row: &Row) -> Vec<String> {
        row.cells.iter().map(|c| c.to_text().into_owned()).collect()
    }

    #[test]
    fn column_letters() {
        let cases = [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB"), (51, "AZ"), (52, "BA"), (701, "ZZ")];
        for (i, want) in cases {
            assert_eq!(column_letter(i), want, "{i}");
        }
        assert_eq!(column_letter(702), "AAA");
        assert_eq!(column_letter(16_383), "XFD");
    }

    #[test]
    fn csv_quoting_and_line_ends() {
        let text =
            "编码,名称,说明\r\nP1,\"学校, 一期\",\"第一行\r\n第二行\"\r\nP2,\"他说\"\"好\"\"\",x\n\n,,\r\nP3,last,\"\"";
        let sheets = read("projects.csv", text.as_bytes()).unwrap();
        assert_eq!(sheets.len(), 1);
        assert_eq!(sheets[0].name, "projects.csv");
        let rows = &sheets[0].rows;
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(texts(&rows[0]), ["编码", "名称", "说明"]);
        assert_eq!(rows[1].number, 2);
        assert_eq!(texts(&rows[1]), ["P1", "学校, 一期", "第一行\r\n第二行"]);
        assert_eq!(rows[2].number, 3);
        assert_eq!(texts(&rows[2]), ["P2", "他说\"好\"", "x"]);
        // Records 4 (empty line) and 5 (only empty fields) are skipped but keep their numbers.
        assert_eq!(rows[3].number, 6);
        assert_eq!(texts(&rows[3]), ["P3", "last"]);
    }

    #[test]
    fn csv_with_bom_tabs_and_apostrophes() {
        let sheets = read("a.csv", "\u{FEFF}a\tb\n'=1+2\t'-x\n'abc\t-5".as_bytes()).unwrap();
        let rows = &sheets[0].rows;
        assert_eq!(texts(&rows[0]), ["a", "b"]);
        assert_eq!(texts(&rows[1]), ["=1+2", "-x"]);
        assert_eq!(texts(&rows[2]), ["'abc", "-5"]);
    }

    #[test]
    fn csv_unclosed_quote_is_an_error() {
        let e = read("a.csv", b"a,b\n1,\"open\n2,3\n").unwrap_err();
        assert_eq!(
            e,
            ReadError::Csv {
                line: 2,
                message: "a quoted field is opened here and never closed (a \" is missing)".into()
            }
        );
    }

    #[test]
    fn gbk_csv_is_decoded() {
        let text = "项目编码,项目名称,预算金额\r\nXY-1,县第一中学校舍维修,\"1,234.50\"\r\n";
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err(), "the test needs bytes that are not UTF-8");
        let sheets = read("项目.csv", &bytes).unwrap();
        assert_eq!(texts(&sheets[0].rows[0]), ["项目编码", "项目名称", "预算金额"]);
        assert_eq!(texts(&sheets[0].rows[1]), ["XY-1", "县第一中学校舍维修", "1,234.50"]);
    }

    #[test]
    fn utf16_text_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "编码\t名称\r\nD01\t教育局\r\n".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        let sheets = read("export.xls", &bytes).unwrap();
        assert_eq!(texts(&sheets[0].rows[1]), ["D01", "教育局"]);
    }

    /// A small deterministic generator, so the test needs no dependency.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        assert_eq!(read("a.xlsx", b""), Err(ReadError::Empty));
        for seed in 1..200u64 {
            let bytes = noise(seed, 64 + (seed as usize * 37) % 4000);
            assert!(read("upload.bin", &bytes).is_err(), "seed {seed}");
        }
        // A zip header followed by garbage, and a truncated real workbook.
        let mut zip = ZIP_MAGIC.to_vec();
        zip.extend(noise(7, 500));
        assert!(matches!(read("a.xlsx", &zip), Err(ReadError::Workbook { format: "XLSX", .. })));
        let mut cfb = CFB_MAGIC.to_vec();
        cfb.extend(noise(8, 500));
        assert!(matches!(read("a.xls", &cfb), Err(ReadError::Workbook { format: "XLS", .. })));
        let table = crate::exchange::write::Table {
            sheet: "s".into(),
            columns: vec![crate::exchange::write::Column::text("a")],
            rows: vec![vec![crate::exchange::write::Value::Text("x".into())]; 50],
        };
        let good = crate::exchange::write::to_xlsx(&[table]).unwrap();
        assert!(read("a.xlsx", &good).is_ok());
        for cut in [10, good.len() / 3, good.len() / 2, good.len() - 10] {
            assert!(read("a.xlsx", &good[..cut]).is_err(), "cut at {cut}");
        }
        // Not a zip but named .xlsx; an HTML page named .xls.
        let e = read("a.xlsx", b"a,b\n1,2").unwrap_err();
        assert!(e.to_string().contains("not an XLSX workbook"), "{e}");
        let e = read("a.xls", b"<html><table><tr><td>1</td></tr></table></html>").unwrap_err();
        assert!(e.to_string().contains("HTML"), "{e}");
    }

    #[test]
    fn decimals_of_numbers_are_exact() {
        assert_eq!(number_to_decimal(1234.56).unwrap().to_string(), "1234.56");
        assert_eq!(number_to_decimal(0.1 + 0.2).unwrap().to_string(), "0.30000000000000004");
        assert_eq!(number_to_decimal(2026.0).unwrap().to_string(), "2026");
        assert_eq!(percent_points(0.95).unwrap().to_string(), "95");
        assert_eq!(percent_points(0.075).unwrap().to_string(), "7.5");
        assert_eq!(Cell::Percent(0.95).to_text(), "95%");
        assert!(number_to_decimal(f64::NAN).is_none());
    }

    #[test]
    fn percent_formats() {
        assert!(is_percent_format("0%"));
        assert!(is_percent_format("0.00%"));
        assert!(!is_percent_format("0.00\"%\""));
        assert!(!is_percent_format("0\\%"));
        assert!(!is_percent_format("#,##0.00"));
    }
}
