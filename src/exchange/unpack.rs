//! Bounds on what an XLSX workbook may unpack to, checked before the workbook is parsed.
//!
//! An XLSX file is a zip archive of XML parts, and deflate packs a run of one byte about a
//! thousand to one: a 1 MB upload can hold one cell of a gigabyte, or fifty million shared
//! strings, and the spreadsheet reader would hold all of it in memory. So the parts are
//! unpacked once here, as a stream into a small buffer, and the workbook is refused as soon as
//! it passes any bound: the total unpacked size, the number of parts, the length of one cell's
//! text or of one XML tag, and the number of shared strings. A real workbook is far inside
//! every bound (a county's 26,000-row export unpacks to about 10 MB).
//!
//! The same pass watches a [`Stop`]: when the request that sent the file ends or times out,
//! the reading stops within one buffer's worth of work.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::table::{MAX_CELLS, ReadError};

/// The most bytes all parts of one workbook may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;
/// The most characters one cell may hold: Excel's own limit.
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most bytes of text one cell may take in the XML: every character written as a numeric
/// entity such as `&#x20000;` takes ten.
const MAX_CELL_XML_BYTES: usize = MAX_CELL_CHARS * 10;
/// The longest one XML tag with its attributes may be (a worksheet's root tag with its
/// namespaces is a few kilobytes).
const MAX_TAG_BYTES: usize = 64 * 1024;
/// The most parts (files inside the zip) a workbook may have.
const MAX_PARTS: usize = 10_000;
/// The most shared strings: no more than the cells a file may hold.
pub const MAX_SHARED_STRINGS: usize = MAX_CELLS;

/// Reads that gave up because their stop was asked for, since the process started.
static STOPPED_READS: AtomicU64 = AtomicU64::new(0);

/// How many reads have given up on a [`Stop`] since the process started.
pub fn reads_stopped() -> u64 {
    STOPPED_READS.load(Ordering::Relaxed)
}

/// Asks a read in progress to stop. Cloned into the thread that reads; [`Stop::guard`] sets it
/// when the request's future is dropped (it ended, timed out or the client went away).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A stop that is never asked for.
    pub fn never() -> Self {
        Stop::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// An error once the stop has been asked for.
    pub fn check(&self) -> Result<(), ReadError> {
        if self.is_stopped() {
            STOPPED_READS.fetch_add(1, Ordering::Relaxed);
            return Err(ReadError::Stopped);
        }
        Ok(())
    }

    /// A guard that asks for the stop when it is dropped.
    pub fn guard(&self) -> StopGuard {
        StopGuard(self.clone())
    }
}

/// Asks for its [`Stop`] when dropped.
#[derive(Debug)]
pub struct StopGuard(Stop);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Unpacks every part of the zip archive `bytes` as a stream and refuses the workbook when it
/// passes a bound (see the module's comment). Parts are not kept.
pub fn check_workbook(bytes: &[u8], stop: &Stop) -> Result<(), ReadError> {
    let unreadable = |e: zip::result::ZipError| ReadError::Workbook { format: "XLSX", detail: e.to_string() };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > MAX_PARTS {
        return Err(ReadError::Unpacked(format!(
            "the workbook holds {} parts; a workbook may hold at most {MAX_PARTS}",
            archive.len()
        )));
    }
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        stop.check()?;
        let mut part = archive.by_index(i).map_err(unreadable)?;
        if part.is_dir() {
            continue;
        }
        let name = part.name().map(|n| n.into_owned()).unwrap_or_else(|_| "(a part without a readable name)".into());
        let lower = name.to_ascii_lowercase();
        let xml = lower.ends_with(".xml") || lower.ends_with(".rels");
        let mut scan = XmlScan::default();
        loop {
            stop.check()?;
            let n = part.read(&mut buf).map_err(|e| ReadError::Workbook {
                format: "XLSX",
                detail: format!("the part {name} cannot be unpacked: {e}"),
            })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_UNPACKED_BYTES {
                return Err(ReadError::Unpacked(format!(
                    "the workbook unpacks to more than {} MB; a workbook may unpack to at most {} MB \
                     (split it into smaller files)",
                    MAX_UNPACKED_BYTES / (1024 * 1024),
                    MAX_UNPACKED_BYTES / (1024 * 1024)
                )));
            }
            if xml {
                scan.feed(&buf[..n]).map_err(|e| ReadError::Unpacked(format!("{name}: {e}")))?;
            }
        }
        if scan.shared_strings > MAX_SHARED_STRINGS {
            return Err(ReadError::Unpacked(format!(
                "{name}: more than {MAX_SHARED_STRINGS} shared strings; a workbook may hold at most \
                 {MAX_SHARED_STRINGS} (split it into smaller files)"
            )));
        }
    }
    Ok(())
}

/// A byte-level pass over XML that measures text runs, tags and shared-string items without
/// parsing: enough to bound what a parser would allocate.
#[derive(Debug, Default)]
struct XmlScan {
    in_tag: bool,
    /// The tag being read, without its angle brackets.
    tag: Vec<u8>,
    /// Text bytes since the last `<si>`, `<c>` or `<is>`: one cell's text, however many runs
    /// (rich text) it is written in.
    cell_text: usize,
    shared_strings: usize,
}

impl XmlScan {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        for &b in chunk {
            if self.in_tag {
                if b == b'>' {
                    self.in_tag = false;
                    self.end_tag()?;
                } else {
                    if self.tag.len() >= MAX_TAG_BYTES {
                        return Err(format!("an XML tag is longer than {MAX_TAG_BYTES} bytes"));
                    }
                    self.tag.push(b);
                }
            } else if b == b'<' {
                self.in_tag = true;
                self.tag.clear();
            } else {
                self.cell_text += 1;
                if self.cell_text > MAX_CELL_XML_BYTES {
                    return Err(format!(
                        "a cell holds more than {MAX_CELL_CHARS} characters (Excel's own limit for one cell)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// At the end of a tag: a start tag named `si` (a shared string), `c` (a cell) or `is` (an
    /// inline string), with or without a namespace prefix, begins a new cell's text. The
    /// shared-string table's `count` and `uniqueCount` are bounded too: the reader reserves
    /// room for `uniqueCount` strings before it reads one.
    fn end_tag(&mut self) -> Result<(), String> {
        let tag = &self.tag[..];
        if tag.first().is_none_or(|&b| matches!(b, b'/' | b'?' | b'!')) {
            return Ok(());
        }
        let name_end = tag.iter().position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/')).unwrap_or(tag.len());
        let name = &tag[..name_end];
        let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
        match local {
            b"si" => {
                self.shared_strings += 1;
                self.cell_text = 0;
            }
            b"c" | b"is" => self.cell_text = 0,
            b"sst" => {
                for attr in ["count", "uniqueCount"] {
                    if let Some(n) = attribute(&tag[name_end..], attr)
                        && !n.parse::<usize>().is_ok_and(|n| n <= MAX_SHARED_STRINGS)
                    {
                        return Err(format!(
                            "the workbook declares {attr}=\"{}\" shared strings; a workbook may hold at most \
                             {MAX_SHARED_STRINGS}",
                            n.chars().take(40).collect::<String>()
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The value of the attribute `name` (without a prefix) in a tag's attribute text, if present.
fn attribute<'a>(attrs: &'a [u8], name: &str) -> Option<std::borrow::Cow<'a, str>> {
    let mut rest = attrs;
    while let Some(at) = rest.windows(name.len()).position(|w| w == name.as_bytes()) {
        let before = if at == 0 { None } else { rest.get(at - 1) };
        let after = &rest[at + name.len()..];
        rest = after;
        if !before.is_none_or(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let after = after.trim_ascii_start();
        let Some(after) = after.strip_prefix(b"=") else { continue };
        let after = after.trim_ascii_start();
        let (&quote, value) = after.split_first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let end = value.iter().position(|&b| b == quote).unwrap_or(value.len());
        return Some(String::from_utf8_lossy(value[..end].trim_ascii()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(xml: &str) -> Result<XmlScan, String> {
        let mut s = XmlScan::default();
        // Fed in small pieces: runs and tags cross buffer boundaries.
        for piece in xml.as_bytes().chunks(3) {
            s.feed(piece)?;
        }
        Ok(s)
    }

    #[test]
    fn shared_strings_are_counted_with_or_without_a_prefix() {
        let s = scan(r#"<?xml version="1.0"?><sst count="3"><si><t>a</t></si><x:si><x:t>b</x:t></x:si><si/><sst>"#)
            .unwrap();
        assert_eq!(s.shared_strings, 3);
    }

    #[test]
    fn one_cell_longer_than_excel_allows_is_refused_even_in_rich_text_runs() {
        let run = "a".repeat(MAX_CELL_XML_BYTES / 4 + 1);
        let rich = format!("<si><r><t>{run}</t></r><r><t>{run}</t></r><r><t>{run}</t></r><r><t>{run}</t></r></si>");
        assert!(scan(&rich).unwrap_err().contains("32767 characters"));
        // The same text spread over separate strings is fine.
        let separate = format!("<si><t>{run}</t></si><si><t>{run}</t></si><si><t>{run}</t></si><si><t>{run}</t></si>");
        assert_eq!(scan(&separate).unwrap().shared_strings, 4);
    }

    #[test]
    fn a_shared_string_table_declaring_more_strings_than_allowed_is_refused() {
        for count in ["5000001", "99999999999999999999999", "-1"] {
            let xml = format!(
                r#"<?xml version="1.0"?><sst xmlns="x" count="1" uniqueCount = '{count}'><si><t>a</t></si></sst>"#
            );
            assert!(scan(&xml).unwrap_err().contains("uniqueCount"), "{count}");
        }
        assert!(scan(r#"<sst count="3" uniqueCount="2"><si><t>a</t></si></sst>"#).is_ok());
        assert!(scan(r#"<x:sst xmlns:x="x" count="7000000">"#).unwrap_err().contains("count=\"7000000\""));
    }

    #[test]
    fn an_endless_tag_is_refused() {
        let tag = format!("<c r=\"A1\" s=\"{}\">", "9".repeat(MAX_TAG_BYTES));
        assert!(scan(&tag).unwrap_err().contains("XML tag"));
    }

    #[test]
    fn a_stop_asked_for_by_a_dropped_guard_is_seen() {
        let stop = Stop::never();
        assert!(stop.check().is_ok());
        drop(stop.guard());
        assert!(matches!(stop.check(), Err(ReadError::Stopped)));
    }
}
