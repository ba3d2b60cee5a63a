//! `jixiao bench bombs`: small workbooks that unpack into huge ones (one cell of a gigabyte,
//! fifty million shared strings), read as an import reads them, with the time to the refusal
//! and the peak memory of each, beside an honest workbook of the same upload size.

use std::io::{Cursor, Write};
use std::time::Instant;

use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

use super::{median, peak_rss_mb, reset_peak_rss};
use crate::exchange::{Known, Stop, import_file};

/// What a workbook's shared strings hold.
#[derive(Debug, Clone, Copy)]
pub enum Bomb {
    /// One shared string of `bytes` letters (Excel allows 32,767 characters in a cell).
    LongCell { bytes: u64 },
    /// `count` shared strings of one letter each.
    SharedStrings { count: u64 },
    /// One shared string in a table that declares `count` of them (a reader that reserves
    /// room for the declared count before reading asks for that much memory at once).
    DeclaredCount { count: u64 },
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="项目" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
const SHEET: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#;

/// An XLSX workbook whose one sheet shows shared string 0 in A1 and whose shared strings are
/// `bomb`, written as a stream (nothing of the unpacked size is held in memory).
pub fn xlsx_bomb(bomb: Bomb) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let packed = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(true);
    let parts = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", ROOT_RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/worksheets/sheet1.xml", SHEET),
    ];
    let written = (|| -> zip::result::ZipResult<Vec<u8>> {
        for (name, text) in parts {
            zip.start_file(name, packed)?;
            zip.write_all(text.as_bytes())?;
        }
        zip.start_file("xl/sharedStrings.xml", packed)?;
        let declared = match bomb {
            Bomb::DeclaredCount { count } => format!(r#" count="{count}" uniqueCount="{count}""#),
            _ => String::new(),
        };
        zip.write_all(
            format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"{declared}>"#)
                .as_bytes(),
        )?;
        match bomb {
            Bomb::DeclaredCount { .. } => zip.write_all(b"<si><t>a</t></si>")?,
            Bomb::LongCell { bytes } => {
                zip.write_all(b"<si><t>")?;
                let chunk = vec![b'a'; 1 << 20];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    zip.write_all(&chunk[..n])?;
                    left -= n as u64;
                }
                zip.write_all(b"</t></si>")?;
            }
            Bomb::SharedStrings { count } => {
                let chunk = b"<si><t>a</t></si>".repeat(1 << 16);
                let mut left = count;
                while left > 0 {
                    let n = left.min(1 << 16) as usize;
                    zip.write_all(&chunk[..n * 17])?;
                    left -= n as u64;
                }
            }
        }
        zip.write_all(b"</sst>")?;
        Ok(zip.finish()?.into_inner())
    })();
    written.expect("writing a zip archive into memory cannot fail")
}

/// One file read as an import reads it: the time to the answer, the answer, the peak memory.
fn read_one(label: &str, bytes: &[u8], known: &Known, runs: usize) -> Value {
    let mut secs = Vec::new();
    let mut peaks = Vec::new();
    let mut answer = String::new();
    for _ in 0..runs {
        // The process's peak while reading (the bombs' building is not counted).
        reset_peak_rss();
        let t = Instant::now();
        let out = import_file("bomb.xlsx", bytes, known, None, &Stop::never());
        secs.push(t.elapsed().as_secs_f64());
        peaks.push(peak_rss_mb());
        answer = match out {
            Ok(p) => format!("read: {} problems", p.problems.len()),
            Err(e) => format!("refused: {e}"),
        };
    }
    let (s, p) = (median(&mut secs), median(&mut peaks));
    println!("{label}: {} bytes uploaded, {answer}, median {s:.3} s, peak RSS {p:.1} MiB", bytes.len());
    json!({"upload_bytes": bytes.len(), "answer": answer, "seconds_p50": s, "peak_rss_mb": p})
}

pub fn run(runs: usize) -> anyhow::Result<()> {
    println!("building the bombs (compressing about 2 GB; this takes a while)");
    let long_cell = xlsx_bomb(Bomb::LongCell { bytes: 1 << 30 });
    let strings = xlsx_bomb(Bomb::SharedStrings { count: 50_000_000 });
    // An honest file of about the same upload size: a county's projects with their indicators.
    let (honest, departments) = super::import::county_workbook(3244)?;
    let known = Known { departments };
    let figures = json!({
        "bench": "bombs",
        "runs": runs,
        "one_cell_of_1_gib": read_one("one cell of 1 GiB", &long_cell, &known, runs),
        "fifty_million_shared_strings": read_one("50 million shared strings", &strings, &known, runs),
        "declared_count_of_10_to_the_12": read_one(
            "a table declaring 10^12 strings",
            &xlsx_bomb(Bomb::DeclaredCount { count: 1_000_000_000_000 }),
            &known,
            runs,
        ),
        "honest_county_workbook": read_one("a county's project workbook", &honest, &known, runs),
    });
    println!("{figures}");
    Ok(())
}

/// An old binary `.xls` workbook (a Compound File holding a BIFF8 stream) with one sheet whose
/// DIMENSIONS record declares rows `first_row` to `last_row` (0-based first, last + 1) and 255
/// columns: a reader that reserves room for the declared cells asks for rows × columns at once.
pub fn xls_with_dimensions(first_row: u32, last_row: u32) -> Vec<u8> {
    fn record(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
    }
    let bof = |dt: u16| {
        let mut d = vec![0u8; 16];
        d[0..2].copy_from_slice(&0x0600u16.to_le_bytes());
        d[2..4].copy_from_slice(&dt.to_le_bytes());
        d
    };
    // The workbook globals: BOF, padding records a reader skips (so that the stream is over the
    // container's 4,096-byte mini-stream cutoff), one BOUNDSHEET, EOF; then the sheet.
    let mut globals = Vec::new();
    record(&mut globals, 0x0809, &bof(0x0005));
    for _ in 0..40 {
        record(&mut globals, 0x005C, &[b' '; 112]);
    }
    let name = b"Sheet1";
    let boundsheet_len = 4 + 4 + 2 + 2 + name.len();
    let sheet_at = (globals.len() + boundsheet_len + 4) as u32;
    let mut bs = Vec::new();
    bs.extend_from_slice(&sheet_at.to_le_bytes());
    bs.extend_from_slice(&[0, 0, name.len() as u8, 0]);
    bs.extend_from_slice(name);
    record(&mut globals, 0x0085, &bs);
    record(&mut globals, 0x000A, &[]);
    let mut stream = globals;
    record(&mut stream, 0x0809, &bof(0x0010));
    let mut dims = Vec::new();
    dims.extend_from_slice(&first_row.to_le_bytes());
    dims.extend_from_slice(&last_row.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    dims.extend_from_slice(&255u16.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    record(&mut stream, 0x0200, &dims);
    record(&mut stream, 0x000A, &[]);

    // The container: header, one FAT sector (sector 0), the directory (sector 1), the stream.
    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    let stream_sectors = stream.len().div_ceil(512);
    let mut header = vec![0u8; 512];
    header[0..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    header[0x18..0x1A].copy_from_slice(&0x003Eu16.to_le_bytes());
    header[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes());
    header[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes());
    header[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
    header[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
    header[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
    header[0x30..0x34].copy_from_slice(&1u32.to_le_bytes());
    header[0x38..0x3C].copy_from_slice(&4096u32.to_le_bytes());
    header[0x3C..0x40].copy_from_slice(&END.to_le_bytes());
    header[0x44..0x48].copy_from_slice(&END.to_le_bytes());
    for i in 0..109 {
        let v = if i == 0 { 0 } else { FREE };
        header[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut fat = vec![FREE; 128];
    fat[0] = 0xFFFF_FFFD;
    fat[1] = END;
    for i in 0..stream_sectors {
        fat[2 + i] = if i + 1 == stream_sectors { END } else { (3 + i) as u32 };
    }
    let entry = |name: &str, typ: u8, start: u32, size: u32, child: u32| {
        let mut e = vec![0u8; 128];
        let units: Vec<u16> = name.encode_utf16().collect();
        for (i, u) in units.iter().enumerate() {
            e[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[0x40..0x42].copy_from_slice(&((units.len() as u16 + 1) * 2).to_le_bytes());
        e[0x42] = typ;
        e[0x43] = 1;
        e[0x44..0x48].copy_from_slice(&FREE.to_le_bytes());
        e[0x48..0x4C].copy_from_slice(&FREE.to_le_bytes());
        e[0x4C..0x50].copy_from_slice(&child.to_le_bytes());
        e[0x74..0x78].copy_from_slice(&start.to_le_bytes());
        e[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
        e
    };
    let mut dir = entry("Root Entry", 5, END, 0, 1);
    dir.extend(entry("Workbook", 2, 2, stream.len() as u32, FREE));
    dir.resize(512, 0);
    let mut file = header;
    file.extend(fat.iter().flat_map(|v| v.to_le_bytes()));
    file.extend(dir);
    stream.resize(stream_sectors * 512, 0);
    file.extend(stream);
    file
}
