//! Checks an old binary `.xls` workbook before it is parsed: its sheets' declared dimensions
//! must lie within what the format allows (65,536 rows × 256 columns).
//!
//! The spreadsheet reader reserves memory for a sheet's declared rows × columns before it reads
//! a cell, and the declaration is four bytes an upload controls: a 2 KB file can ask for
//! terabytes at once, which ends the process. So the workbook stream is found in the Compound
//! File (the container `.xls` files are), its records are walked, and every DIMENSIONS record
//! is checked. The container is read with every chain bounded by the file's own size, so a
//! malformed file is an error, never a loop or a large allocation.

use super::table::ReadError;

/// Rows and columns a BIFF8 sheet can have.
const MAX_ROWS: u64 = 65_536;
const MAX_COLS: u64 = 256;

const FREE: u32 = 0xFFFF_FFFF;
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;

fn bad(detail: impl Into<String>) -> ReadError {
    ReadError::Workbook { format: "XLS", detail: detail.into() }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A Compound File read from memory.
struct Compound<'a> {
    file: &'a [u8],
    sector: usize,
    fat: Vec<u32>,
}

impl<'a> Compound<'a> {
    fn open(file: &'a [u8]) -> Result<Compound<'a>, ReadError> {
        let header = file.get(..512).ok_or_else(|| bad("the file is shorter than its header"))?;
        let sector = match u16_at(header, 0x1E) {
            Some(9) => 512,
            Some(12) => 4096,
            _ => return Err(bad("the container's sector size is not 512 or 4096 bytes")),
        };
        let mut c = Compound { file, sector, fat: Vec::new() };
        // The FAT's sectors: the first 109 are listed in the header, the rest in DIFAT sectors.
        let fat_sectors = u32_at(header, 0x2C).unwrap_or(0) as usize;
        if fat_sectors > c.sectors_in_file() {
            return Err(bad("the container lists more FAT sectors than the file holds"));
        }
        let mut ids: Vec<u32> = (0..109).filter_map(|i| u32_at(header, 0x4C + 4 * i)).collect();
        let mut difat = u32_at(header, 0x44).unwrap_or(END_OF_CHAIN);
        let mut steps = 0;
        while difat != END_OF_CHAIN && difat != FREE && ids.len() < fat_sectors {
            steps += 1;
            if steps > c.sectors_in_file() {
                return Err(bad("the container's DIFAT chain loops"));
            }
            let s = c.sector_bytes(difat)?;
            let per = c.sector / 4 - 1;
            ids.extend((0..per).filter_map(|i| u32_at(s, 4 * i)));
            difat = u32_at(s, 4 * per).unwrap_or(END_OF_CHAIN);
        }
        ids.truncate(fat_sectors);
        let mut fat = Vec::with_capacity(fat_sectors * sector / 4);
        for id in ids {
            let s = c.sector_bytes(id)?;
            fat.extend((0..sector / 4).filter_map(|i| u32_at(s, 4 * i)));
        }
        c.fat = fat;
        Ok(c)
    }

    fn sectors_in_file(&self) -> usize {
        self.file.len() / self.sector
    }

    fn sector_bytes(&self, id: u32) -> Result<&'a [u8], ReadError> {
        let start = (id as usize + 1).checked_mul(self.sector).ok_or_else(|| bad("a sector lies beyond the file"))?;
        self.file.get(start..start + self.sector).ok_or_else(|| bad("a sector lies beyond the file"))
    }

    /// The bytes of the chain starting at `first`, at most `limit` of them.
    fn chain(&self, first: u32, limit: usize) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        let mut id = first;
        let mut steps = 0;
        while id != END_OF_CHAIN && out.len() < limit {
            steps += 1;
            if steps > self.sectors_in_file() + 1 {
                return Err(bad("a chain of sectors in the container loops"));
            }
            out.extend_from_slice(self.sector_bytes(id)?);
            id = *self.fat.get(id as usize).ok_or_else(|| bad("a chain of sectors leaves the FAT"))?;
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The content of the stream named `Workbook` (BIFF8) or `Book` (BIFF5).
    fn workbook(&self) -> Result<Vec<u8>, ReadError> {
        let header = &self.file[..512];
        let dir = self.chain(u32_at(header, 0x30).unwrap_or(END_OF_CHAIN), self.file.len())?;
        let entries: Vec<&[u8]> = dir.chunks_exact(128).collect();
        let root = entries.first().ok_or_else(|| bad("the container has no directory"))?;
        let cutoff = u32_at(header, 0x38).unwrap_or(4096) as u64;
        for e in &entries {
            let name_len = (u16_at(e, 0x40).unwrap_or(0) as usize).min(64);
            let name: Vec<u16> = (0..name_len.saturating_sub(2) / 2).filter_map(|i| u16_at(e, 2 * i)).collect();
            let name = String::from_utf16_lossy(&name);
            if e[0x42] != 2 || !(name.eq_ignore_ascii_case("Workbook") || name.eq_ignore_ascii_case("Book")) {
                continue;
            }
            let start = u32_at(e, 0x74).unwrap_or(END_OF_CHAIN);
            let size = u32_at(e, 0x78).unwrap_or(0) as u64;
            let size = (size.min(self.file.len() as u64)) as usize;
            if (size as u64) >= cutoff {
                return self.chain(start, size);
            }
            // A small stream lives in the mini stream, in 64-byte sectors with their own FAT.
            let mini_stream = self.chain(u32_at(root, 0x74).unwrap_or(END_OF_CHAIN), self.file.len())?;
            let mini_fat_bytes = self.chain(u32_at(header, 0x3C).unwrap_or(END_OF_CHAIN), self.file.len())?;
            let mini_fat: Vec<u32> =
                (0..mini_fat_bytes.len() / 4).filter_map(|i| u32_at(&mini_fat_bytes, 4 * i)).collect();
            let mut out = Vec::with_capacity(size);
            let mut id = start;
            let mut steps = 0;
            while id != END_OF_CHAIN && out.len() < size {
                steps += 1;
                if steps > mini_fat.len() + 1 {
                    return Err(bad("a chain of mini sectors in the container loops"));
                }
                let at = id as usize * 64;
                out.extend_from_slice(
                    mini_stream.get(at..at + 64).ok_or_else(|| bad("a mini sector lies beyond the mini stream"))?,
                );
                id = *mini_fat.get(id as usize).ok_or_else(|| bad("a chain of mini sectors leaves the mini FAT"))?;
            }
            out.truncate(size);
            return Ok(out);
        }
        Err(bad("the file holds no workbook stream"))
    }
}

/// Refuses a `.xls` workbook whose sheets declare more rows or columns than the format has.
/// A file whose container cannot be read is left to the reader, which names its own error.
pub fn check(file: &[u8]) -> Result<(), ReadError> {
    let Ok(container) = Compound::open(file) else { return Ok(()) };
    let Ok(stream) = container.workbook() else { return Ok(()) };
    let mut at = 0usize;
    while let (Some(typ), Some(len)) = (u16_at(&stream, at), u16_at(&stream, at + 2)) {
        let data = stream.get(at + 4..at + 4 + len as usize).unwrap_or(&[]);
        if typ == 0x0200 {
            let (first_row, last_row, first_col, last_col) = match data.len() {
                10 => (
                    u16_at(data, 0).unwrap_or(0) as u64,
                    u16_at(data, 2).unwrap_or(0) as u64,
                    u16_at(data, 4).unwrap_or(0) as u64,
                    u16_at(data, 6).unwrap_or(0) as u64,
                ),
                14 | 16 => (
                    u32_at(data, 0).unwrap_or(0) as u64,
                    u32_at(data, 4).unwrap_or(0) as u64,
                    u16_at(data, 8).unwrap_or(0) as u64,
                    u16_at(data, 10).unwrap_or(0) as u64,
                ),
                _ => (0, 0, 0, 0),
            };
            // As the reader computes it: rows from `first_row` to `last_row - 1`, the first
            // column taken as 0 when it is out of place. A first row after the last makes that
            // subtraction wrap round to four billion rows.
            if last_row >= 1 && last_col >= 1 {
                let first_col = if first_col > 0xFF || last_col < first_col { 0 } else { first_col };
                if first_row > last_row || last_row - first_row > MAX_ROWS || last_col - first_col > MAX_COLS {
                    return Err(ReadError::Unpacked(format!(
                        "a sheet declares rows {} to {last_row} and columns {} to {last_col}; an .xls sheet has \
                         at most {MAX_ROWS} rows and {MAX_COLS} columns, the first before the last",
                        first_row + 1,
                        first_col + 1
                    )));
                }
            }
        }
        at += 4 + len as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::bombs::xls_with_dimensions;

    #[test]
    fn a_sheet_within_the_format_is_read_and_one_beyond_it_refused() {
        let honest = xls_with_dimensions(0, 100);
        assert!(check(&honest).is_ok());
        let sheets = crate::exchange::read("honest.xls", &honest).unwrap();
        assert_eq!(sheets.len(), 1);
        for (first, last) in [(0, 0xFFFF_FFF0), (10, 5), (0, 70_000)] {
            let err = check(&xls_with_dimensions(first, last)).unwrap_err();
            assert!(err.to_string().contains("at most 65536 rows"), "{first} {last}: {err}");
            let err = crate::exchange::read("bomb.xls", &xls_with_dimensions(first, last)).unwrap_err();
            assert!(matches!(err, ReadError::Unpacked(_)), "{err}");
        }
    }

    #[test]
    fn a_malformed_container_is_left_to_the_reader_and_never_loops() {
        let mut looped = xls_with_dimensions(0, 100);
        // The directory's chain points at itself.
        looped[512 + 4..512 + 8].copy_from_slice(&1u32.to_le_bytes());
        assert!(check(&looped).is_ok());
        let mut short = xls_with_dimensions(0, 100);
        short.truncate(700);
        assert!(check(&short).is_ok());
        assert!(crate::exchange::read("short.xls", &short).is_err());
    }
}
