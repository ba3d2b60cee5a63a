//! China's working-day calendar (工作日历): statutory holidays and make-up working days, from
//! which every "N workdays" deadline and reminder is computed.
//!
//! The State Council publishes each year's holidays (放假) and the weekend days that become
//! working days (调休上班) in a notice. Each notice is transcribed into one plain-text file,
//! `data-ref/calendar/cn-YYYY.txt`, so that adding a year is a data change:
//!
//! ```text
//! # 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）
//! year 2025
//! holiday 2025-01-28..2025-02-04 春节      # ranges include both ends
//! workday 2025-01-26 春节调休              # a Saturday or Sunday that is worked
//! ```
//!
//! The shipped files are embedded with `include_str!`; files for further years (or corrections
//! to a shipped year) can be dropped into a directory and read with [`Calendar::load_dir`], which
//! is the only function here that touches the file system. Dates not listed in any file follow
//! the ordinary week: Monday to Friday are working days. A year without a file therefore still
//! gets answers, and [`Calendar::covers`] lets callers warn that those answers ignore holidays.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Pairs a shipped file's name with its embedded text, so that the two cannot disagree.
macro_rules! shipped {
    ($file:literal) => {
        ($file, include_str!(concat!("../../data-ref/calendar/", $file)))
    };
}

/// The shipped notices. Embedding a further year in the binary takes one entry here; the test
/// `every_shipped_file_is_embedded` fails when a file in `data-ref/calendar` is missing from it.
const BUILTIN: &[(&str, &str)] = &[shipped!("cn-2024.txt"), shipped!("cn-2025.txt"), shipped!("cn-2026.txt")];

/// What a date field must look like, shared by the messages that complain about one.
const EXPECTED_DATE: &str = "expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD";

/// The longest holiday range a file may list. No notice has come close (the longest so far,
/// the extended 2020 Spring Festival, was ten days), so a longer range is a typing mistake.
const MAX_RANGE_DAYS: i64 = 31;

/// Deadlines end one second before local midnight, so "by day X" includes all of day X.
const END_OF_DAY: NaiveTime = NaiveTime::from_hms_opt(23, 59, 59).expect("23:59:59 is a valid time");

/// Reminders go out at the start of office hours rather than at midnight.
const REMINDER_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a valid time");

/// How far to search for a valid local time when a daylight-saving change removes the nominal
/// one. Shanghai has no such changes, but callers may pass any zone, and no zone has ever skipped
/// more than a day.
const MAX_GAP_MINUTES: i64 = 24 * 60;

/// Why a calendar file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// A line that does not follow the format; `line` counts from 1.
    #[error("{file}:{line}: {message}")]
    Syntax { file: String, line: usize, message: String },
    /// A file that is well-formed line by line but lacks something as a whole.
    #[error("{file}: {message}")]
    Incomplete { file: String, message: String },
    /// Two files in one directory describe the same year, and neither can be preferred.
    #[error("year {year} is described by both {first} and {second}")]
    DuplicateYear { year: i32, first: String, second: String },
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What a date is, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind<'a> {
    /// Monday to Friday with no listed holiday.
    Workday,
    /// Saturday or Sunday that is not a make-up working day.
    Weekend,
    /// A listed holiday, with its name (e.g. 春节).
    Holiday(&'a str),
    /// A weekend day that is worked to make up for a holiday, with its name (e.g. 春节调休).
    MakeUpWorkday(&'a str),
}

impl DayKind<'_> {
    pub fn is_workday(self) -> bool {
        matches!(self, DayKind::Workday | DayKind::MakeUpWorkday(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Holiday,
    Workday,
}

#[derive(Debug, Clone)]
struct Entry {
    kind: EntryKind,
    name: String,
    line: usize,
}

/// The listed days of one year, as read from one file.
#[derive(Debug, Clone)]
struct YearData {
    source: String,
    days: BTreeMap<NaiveDate, Entry>,
}

/// China's working-day calendar: the ordinary week, corrected by the listed years.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearData>,
}

impl Calendar {
    /// A calendar without any listed year, where every Monday to Friday is a working day.
    pub fn empty() -> Calendar {
        Calendar::default()
    }

    /// The years shipped with the program.
    pub fn builtin() -> Calendar {
        let mut calendar = Calendar::empty();
        for (name, text) in BUILTIN {
            // The shipped files are checked by the unit tests, so a failure here means the
            // binary was built from data that never passed them.
            let year = Calendar::parse(name, text).unwrap_or_else(|e| panic!("shipped calendar data is invalid: {e}"));
            calendar.merge(year);
        }
        calendar
    }

    /// Reads one file's text; `name` is used in errors and should be the file name.
    ///
    /// When `name` looks like `cn-YYYY.txt`, the `year` line must agree with it, which catches a
    /// file copied from last year whose `year` line was not updated.
    pub fn parse(name: &str, text: &str) -> Result<Calendar, CalendarError> {
        let syntax = |line: usize, message: String| CalendarError::Syntax { file: name.to_owned(), line, message };
        // Files edited with Windows tools often start with a byte-order mark, which is not content.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut year: Option<(i32, usize)> = None;
        let mut days: BTreeMap<NaiveDate, Entry> = BTreeMap::new();
        let mut holidays = 0usize;

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            let mut words = content.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword {
                "year" => {
                    if let Some((declared, on)) = year {
                        return Err(syntax(line, format!("year {declared} is already declared on line {on}")));
                    }
                    let value = match (words.next(), words.next()) {
                        (Some(value), None) => value,
                        _ => {
                            return Err(syntax(line, format!("expected `year YYYY`, found `{content}`")));
                        }
                    };
                    let declared = parse_year(value).ok_or_else(|| {
                        syntax(line, format!("expected a four-digit year after `year`, found `{value}`"))
                    })?;
                    if let Some(named) = year_in_file_name(name)
                        && named != declared
                    {
                        return Err(syntax(
                            line,
                            format!("the file name says {named} but the file declares year {declared}"),
                        ));
                    }
                    year = Some((declared, line));
                }
                "holiday" | "workday" => {
                    let Some((declared, _)) = year else {
                        return Err(syntax(line, "expected a `year YYYY` line before the first entry".to_owned()));
                    };
                    let kind = if keyword == "holiday" { EntryKind::Holiday } else { EntryKind::Workday };
                    let span =
                        words.next().ok_or_else(|| syntax(line, format!("{EXPECTED_DATE} after `{keyword}`")))?;
                    let (first, last) = parse_span(span).map_err(|message| syntax(line, message))?;
                    let entry_name = words.collect::<Vec<_>>().join(" ");
                    if entry_name.is_empty() {
                        let example = if kind == EntryKind::Holiday { "春节" } else { "春节调休" };
                        return Err(syntax(
                            line,
                            format!("expected a name after the date, e.g. `{keyword} {span} {example}`"),
                        ));
                    }
                    check_within_year(declared, first, last).map_err(|message| syntax(line, message))?;
                    for date in first.iter_days().take_while(|d| *d <= last) {
                        if kind == EntryKind::Workday && !is_weekend(date) {
                            return Err(syntax(
                                line,
                                format!(
                                    "{date} is a {}; make-up workdays (调休上班) are Saturdays or Sundays",
                                    weekday_name(date.weekday())
                                ),
                            ));
                        }
                        if let Some(earlier) = days.get(&date) {
                            return Err(syntax(line, format!("{date} is already listed on line {}", earlier.line)));
                        }
                        if kind == EntryKind::Holiday {
                            holidays += 1;
                        }
                        days.insert(date, Entry { kind, name: entry_name.clone(), line });
                    }
                }
                other => {
                    return Err(syntax(
                        line,
                        format!("expected `year`, `holiday` or `workday` at the start of the line, found `{other}`"),
                    ));
                }
            }
        }

        let Some((declared, year_line)) = year else {
            return Err(CalendarError::Incomplete {
                file: name.to_owned(),
                message: "expected a `year YYYY` line and at least one `holiday` line".to_owned(),
            });
        };
        // Every notice lists holidays; a year without any would silently turn into the plain
        // Monday-to-Friday week while `covers` claimed the year was known.
        if holidays == 0 {
            return Err(syntax(
                year_line,
                format!("year {declared} lists no holidays; expected at least one `holiday` line"),
            ));
        }
        let mut calendar = Calendar::empty();
        calendar.years.insert(declared, YearData { source: name.to_owned(), days });
        Ok(calendar)
    }

    /// Reads every `*.txt` file in `dir` (other files, such as a README, are ignored).
    ///
    /// The result holds only the directory's years; combine it with the shipped ones with
    /// `let mut c = Calendar::builtin(); c.merge(Calendar::load_dir(dir)?);`, which lets a file in
    /// the directory correct a shipped year.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Calendar, CalendarError> {
        let dir = dir.as_ref();
        let io_error = |path: &Path, source| CalendarError::Io { path: path.display().to_string(), source };
        let mut paths = Vec::new();
        for item in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let path = item.map_err(|e| io_error(dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "txt") && path.is_file() {
                paths.push(path);
            }
        }
        // Sorting makes the result and the first reported error independent of directory order.
        paths.sort();

        let mut calendar = Calendar::empty();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
            let loaded = Calendar::parse(&path.display().to_string(), &text)?;
            for (year, data) in loaded.years {
                if let Some(existing) = calendar.years.get(&year) {
                    return Err(CalendarError::DuplicateYear {
                        year,
                        first: existing.source.clone(),
                        second: data.source,
                    });
                }
                calendar.years.insert(year, data);
            }
        }
        Ok(calendar)
    }

    /// Adds the years of `other`. A year present in both is taken whole from `other`, because a
    /// later notice (or a corrected file) replaces an arrangement rather than adding to it.
    pub fn merge(&mut self, other: Calendar) {
        self.years.extend(other.years);
    }

    /// The years that have listed holidays, in ascending order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `year` has listed holidays; when it does not, answers for that year follow the
    /// plain Monday-to-Friday week and callers should warn.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The file a year was read from, for logs that explain which data was in effect.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|data| data.source.as_str())
    }

    /// What `date` is: an ordinary workday or weekend, or a listed holiday or make-up workday.
    pub fn kind(&self, date: NaiveDate) -> DayKind<'_> {
        match self.entry(date) {
            Some(Entry { kind: EntryKind::Holiday, name, .. }) => DayKind::Holiday(name),
            Some(Entry { kind: EntryKind::Workday, name, .. }) => DayKind::MakeUpWorkday(name),
            None if is_weekend(date) => DayKind::Weekend,
            None => DayKind::Workday,
        }
    }

    /// Whether people work on `date`: weekends are off unless listed as make-up workdays, and
    /// listed holidays are off.
    pub fn is_workday(&self, date: NaiveDate) -> bool {
        self.kind(date).is_workday()
    }

    /// The `n`-th working day after `start`; `start` itself is not counted, so from a Friday one
    /// workday is normally the next Monday. `n = 0` gives `start`. Saturates at `NaiveDate::MAX`.
    pub fn add_workdays(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let last_listed = self.years.values().filter_map(|data| data.days.last_key_value()).map(|(d, _)| *d).max();
        let mut date = start;
        let mut left = n;
        while left > 0 {
            // Past the last listed date every week has exactly five working days, so whole weeks
            // can be skipped; this keeps absurd counts from walking millions of days.
            if left > 5 && last_listed.is_none_or(|last| date >= last) {
                let weeks = (left - 1) / 5;
                let Some(jumped) = date.checked_add_days(Days::new(u64::from(weeks) * 7)) else {
                    return NaiveDate::MAX;
                };
                date = jumped;
                left -= weeks * 5;
            }
            let Some(next) = date.succ_opt() else {
                return NaiveDate::MAX;
            };
            date = next;
            if self.is_workday(date) {
                left -= 1;
            }
        }
        date
    }

    /// The `n`-th working day before `end`; `end` itself is not counted, so "3 workdays before
    /// the deadline" is the third working day before the deadline's date. `n = 0` gives `end`.
    /// Saturates at `NaiveDate::MIN`.
    pub fn sub_workdays(&self, end: NaiveDate, n: u32) -> NaiveDate {
        let first_listed = self.years.values().filter_map(|data| data.days.first_key_value()).map(|(d, _)| *d).min();
        let mut date = end;
        let mut left = n;
        while left > 0 {
            // Before the first listed date every week has exactly five working days (see
            // `add_workdays`).
            if left > 5 && first_listed.is_none_or(|first| date <= first) {
                let weeks = (left - 1) / 5;
                let Some(jumped) = date.checked_sub_days(Days::new(u64::from(weeks) * 7)) else {
                    return NaiveDate::MIN;
                };
                date = jumped;
                left -= weeks * 5;
            }
            let Some(previous) = date.pred_opt() else {
                return NaiveDate::MIN;
            };
            date = previous;
            if self.is_workday(date) {
                left -= 1;
            }
        }
        date
    }

    /// When something started at `from` and allowed `duration` is due.
    ///
    /// Workdays and days count from the local date of `from` in `tz` (a task created at 00:30 in
    /// Beijing belongs to that Beijing day even though it is still the previous day in UTC) and
    /// end at 23:59:59 local time on the target day. Hours are exact: `from` plus the hours.
    pub fn deadline(&self, from: DateTime<Utc>, tz: Tz, duration: WorkDuration) -> DateTime<Utc> {
        let local_date = from.with_timezone(&tz).date_naive();
        let target = match duration {
            WorkDuration::Workdays(n) => self.add_workdays(local_date, n),
            WorkDuration::Days(n) => local_date.checked_add_days(Days::new(u64::from(n))).unwrap_or(NaiveDate::MAX),
            WorkDuration::Hours(n) => {
                return from.checked_add_signed(TimeDelta::hours(i64::from(n))).unwrap_or(DateTime::<Utc>::MAX_UTC);
            }
        };
        end_of_local_day(tz, target)
    }

    /// 09:00 local time on the `workdays_before`-th working day before the local date of
    /// `deadline`, when a reminder about that deadline should go out.
    pub fn reminder_time(&self, deadline: DateTime<Utc>, tz: Tz, workdays_before: u32) -> DateTime<Utc> {
        let local_date = deadline.with_timezone(&tz).date_naive();
        let day = self.sub_workdays(local_date, workdays_before);
        let nominal = day.and_time(REMINDER_TIME);
        // If a daylight-saving change skips 09:00, the reminder goes out as soon as the clock
        // resumes rather than before office hours.
        for minutes in 0..=MAX_GAP_MINUTES {
            if let Some(candidate) = nominal.checked_add_signed(TimeDelta::minutes(minutes))
                && let Some(instant) = tz.from_local_datetime(&candidate).earliest()
            {
                return instant.with_timezone(&Utc);
            }
        }
        nominal.and_utc()
    }

    /// The listed entry for `date`. Besides the date's own year, the neighbouring years are
    /// consulted because a notice may list a day of the adjacent year (the 2023 notice's New
    /// Year holiday began on 2022-12-31).
    fn entry(&self, date: NaiveDate) -> Option<&Entry> {
        let year = date.year();
        [year, year - 1, year + 1].into_iter().filter_map(|y| self.years.get(&y)).find_map(|data| data.days.get(&date))
    }
}

/// 23:59:59 local time on `date`, or the last valid second before it when a daylight-saving
/// change removes that time, so that a deadline never moves into the following day.
fn end_of_local_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let nominal: NaiveDateTime = date.and_time(END_OF_DAY);
    for minutes in 0..=MAX_GAP_MINUTES {
        if let Some(candidate) = nominal.checked_sub_signed(TimeDelta::minutes(minutes))
            // When the clock is turned back the time occurs twice; the later one is the
            // generous reading of "by the end of the day".
            && let Some(instant) = tz.from_local_datetime(&candidate).latest()
        {
            return instant.with_timezone(&Utc);
        }
    }
    DateTime::<Utc>::MAX_UTC
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn parse_year(text: &str) -> Option<i32> {
    if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) { text.parse().ok() } else { None }
}

/// The year in a file name of the form `…-YYYY.txt`, if it has that form.
fn year_in_file_name(name: &str) -> Option<i32> {
    let file = name.rsplit(['/', '\\']).next()?;
    let stem = file.strip_suffix(".txt").unwrap_or(file);
    parse_year(stem.rsplit('-').next()?)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A single date or an inclusive range `first..last`.
fn parse_span(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let expected = || format!("{EXPECTED_DATE}, found `{text}`");
    let (first, last) = match text.split_once("..") {
        Some((a, b)) => (parse_date(a).ok_or_else(expected)?, parse_date(b).ok_or_else(expected)?),
        None => {
            let date = parse_date(text).ok_or_else(expected)?;
            (date, date)
        }
    };
    if last < first {
        return Err(format!("the range {text} ends before it starts"));
    }
    let length = (last - first).num_days() + 1;
    if length > MAX_RANGE_DAYS {
        return Err(format!("the range {text} spans {length} days; expected at most {MAX_RANGE_DAYS}"));
    }
    Ok((first, last))
}

/// A year's notice may reach into the neighbouring month on either side (a New Year holiday
/// starting on 31 December), but a date further away is almost certainly a typed-in wrong year.
fn check_within_year(year: i32, first: NaiveDate, last: NaiveDate) -> Result<(), String> {
    let earliest = NaiveDate::from_ymd_opt(year - 1, 12, 1);
    let latest = NaiveDate::from_ymd_opt(year + 1, 1, 31);
    for date in [first, last] {
        if earliest.is_some_and(|e| date < e) || latest.is_some_and(|l| date > l) {
            return Err(format!("{date} does not belong to year {year} declared in this file"));
        }
    }
    Ok(())
}

/// How long something may take: working days, calendar days or hours.
///
/// Written as `10 workdays`, `3 days`, `48 hours` (singular `1 workday` etc.) or in Chinese as
/// `10个工作日`, `3天` (also `3个自然日`), `48小时`; printed and serialized in the English form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkDuration {
    Workdays(u32),
    Days(u32),
    Hours(u32),
}

/// Why a text could not be read as a [`WorkDuration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("'{0}' is not a duration (expected N workdays, N days or N hours, or N个工作日, N天, N小时)")]
    NotADuration(String),
    #[error("'{0}' is not a duration (the number must be at least 1)")]
    Zero(String),
    #[error("'{0}' is too long (the number must be at most {max})", max = u32::MAX)]
    TooLarge(String),
}

impl FromStr for WorkDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(digits_end);
        let unit = unit.trim().to_ascii_lowercase();
        let make: fn(u32) -> WorkDuration = match unit.as_str() {
            "workday" | "workdays" | "工作日" | "个工作日" => WorkDuration::Workdays,
            "day" | "days" | "天" | "自然日" | "个自然日" => WorkDuration::Days,
            "hour" | "hours" | "小时" | "个小时" => WorkDuration::Hours,
            _ => return Err(DurationError::NotADuration(text.to_owned())),
        };
        if digits.is_empty() {
            return Err(DurationError::NotADuration(text.to_owned()));
        }
        // Only digits remain, so a failed parse can only mean the number does not fit.
        let count: u32 = digits.parse().map_err(|_| DurationError::TooLarge(text.to_owned()))?;
        // A zero duration in a workflow definition is a slip, not a request for an immediate
        // deadline.
        if count == 0 {
            return Err(DurationError::Zero(text.to_owned()));
        }
        Ok(make(count))
    }
}

impl fmt::Display for WorkDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, unit) = match *self {
            WorkDuration::Workdays(n) => (n, "workday"),
            WorkDuration::Days(n) => (n, "day"),
            WorkDuration::Hours(n) => (n, "hour"),
        };
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} {unit}{plural}")
    }
}

impl Serialize for WorkDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// The obvious day-by-day walk, against which the week-skipping shortcut is checked.
    fn walk(calendar: &Calendar, start: NaiveDate, n: u32, forward: bool) -> NaiveDate {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = if forward { date.succ_opt().unwrap() } else { date.pred_opt().unwrap() };
            if calendar.is_workday(date) {
                left -= 1;
            }
        }
        date
    }

    #[test]
    fn shipped_years_match_the_notices() {
        let calendar = Calendar::builtin();
        assert_eq!(calendar.years().collect::<Vec<_>>(), [2024, 2025, 2026]);
        // (year, listed holiday days, make-up workdays), counted from each notice's "共N天".
        let cases = [(2024, 28, 8), (2025, 28, 5), (2026, 33, 6)];
        for (year, holidays, workdays) in cases {
            let days = &calendar.years[&year].days;
            let count = |kind| days.values().filter(|e| e.kind == kind).count();
            assert_eq!(count(EntryKind::Holiday), holidays, "{year} holidays");
            assert_eq!(count(EntryKind::Workday), workdays, "{year} make-up workdays");
            assert!(calendar.covers(year));
            assert_eq!(calendar.source(year), Some(format!("cn-{year}.txt").as_str()));
        }
        assert!(!calendar.covers(2023));
        assert!(!calendar.covers(2027));
    }

    #[test]
    fn every_shipped_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-ref/calendar");
        let on_disk = Calendar::load_dir(&dir).unwrap();
        let builtin = Calendar::builtin();
        assert_eq!(on_disk.years().collect::<Vec<_>>(), builtin.years().collect::<Vec<_>>());
        for year in builtin.years() {
            let a: Vec<_> = on_disk.years[&year].days.iter().map(|(d, e)| (*d, e.kind, e.name.clone())).collect();
            let b: Vec<_> = builtin.years[&year].days.iter().map(|(d, e)| (*d, e.kind, e.name.clone())).collect();
            assert_eq!(a, b, "{year}");
        }
    }

    #[test]
    fn tells_workdays_from_days_off() {
        let calendar = Calendar::builtin();
        let cases = [
            // 2024
            ("2024-01-01", false), // 元旦
            ("2024-02-04", true),  // Sunday, 春节调休
            ("2024-02-09", true),  // 除夕 is only "encouraged" as a day off
            ("2024-02-10", false), // 春节
            ("2024-02-17", false), // 春节
            ("2024-02-18", true),  // Sunday, 春节调休
            ("2024-04-07", true),  // Sunday, 清明节调休
            ("2024-04-28", true),  // Sunday, 劳动节调休
            ("2024-05-11", true),  // Saturday, 劳动节调休
            ("2024-06-10", false), // 端午节
            ("2024-09-14", true),  // Saturday, 中秋节调休
            ("2024-09-17", false), // 中秋节
            ("2024-09-29", true),  // Sunday, 国庆节调休
            ("2024-10-07", false), // 国庆节
            ("2024-10-12", true),  // Saturday, 国庆节调休
            // 2025
            ("2025-01-01", false), // 元旦
            ("2025-01-26", true),  // Sunday, 春节调休
            ("2025-01-27", true),  // Monday before 除夕
            ("2025-01-28", false), // 除夕
            ("2025-02-04", false), // 初七
            ("2025-02-05", true),
            ("2025-02-08", true),  // Saturday, 春节调休
            ("2025-02-09", false), // ordinary Sunday
            ("2025-04-04", false), // 清明节
            ("2025-04-27", true),  // Sunday, 劳动节调休
            ("2025-05-05", false), // 劳动节
            ("2025-06-02", false), // 端午节
            ("2025-09-28", true),  // Sunday, 国庆节调休
            ("2025-10-06", false), // 中秋节
            ("2025-10-08", false), // 国庆节
            ("2025-10-11", true),  // Saturday, 国庆节调休
            // 2026
            ("2026-01-02", false), // 元旦
            ("2026-01-04", true),  // Sunday, 元旦调休
            ("2026-02-14", true),  // Saturday, 春节调休
            ("2026-02-23", false), // 初七
            ("2026-02-28", true),  // Saturday, 春节调休
            ("2026-05-09", true),  // Saturday, 劳动节调休
            ("2026-06-19", false), // 端午节
            ("2026-09-20", true),  // Sunday, 国庆节调休
            ("2026-09-25", false), // 中秋节
            ("2026-10-07", false), // 国庆节
            ("2026-10-10", true),  // Saturday, 国庆节调休
            // Years without data follow the plain week.
            ("2023-10-07", false), // really a make-up workday, but 2023 is not shipped
            ("2027-01-01", true),  // surely 元旦, but 2027 is not shipped yet
            ("2027-01-02", false),
        ];
        for (date, want) in cases {
            assert_eq!(calendar.is_workday(d(date)), want, "{date}");
        }
    }

    #[test]
    fn names_the_kind_of_day() {
        let calendar = Calendar::builtin();
        let cases = [
            ("2025-01-29", DayKind::Holiday("春节")),
            ("2025-01-26", DayKind::MakeUpWorkday("春节调休")),
            ("2025-10-03", DayKind::Holiday("国庆节、中秋节")),
            ("2025-03-01", DayKind::Weekend),
            ("2025-03-03", DayKind::Workday),
        ];
        for (date, want) in cases {
            assert_eq!(calendar.kind(d(date)), want, "{date}");
        }
    }

    #[test]
    fn adds_workdays_across_holidays() {
        let calendar = Calendar::builtin();
        let cases = [
            // 2025 Spring Festival: off 1.28–2.4, worked Sunday 1.26 and Saturday 2.8.
            ("2025-01-24", 1, "2025-01-26"),
            ("2025-01-24", 2, "2025-01-27"),
            ("2025-01-24", 3, "2025-02-05"),
            ("2025-01-24", 10, "2025-02-13"),
            ("2025-01-27", 1, "2025-02-05"),
            ("2025-02-05", 3, "2025-02-08"),
            ("2025-02-07", 1, "2025-02-08"),
            ("2025-02-08", 1, "2025-02-10"),
            // 2025 National Day and Mid-Autumn: off 10.1–10.8, worked 9.28 and 10.11.
            ("2025-09-26", 1, "2025-09-28"),
            ("2025-09-28", 1, "2025-09-29"),
            ("2025-09-30", 1, "2025-10-09"),
            ("2025-09-30", 3, "2025-10-11"),
            ("2025-10-10", 1, "2025-10-11"),
            ("2025-10-11", 1, "2025-10-13"),
            // 2024 Spring Festival: off 2.10–2.17, worked 2.4 and 2.18; 除夕 2.9 is a workday.
            ("2024-02-02", 1, "2024-02-04"),
            ("2024-02-08", 1, "2024-02-09"),
            ("2024-02-09", 1, "2024-02-18"),
            ("2024-02-18", 1, "2024-02-19"),
            // 2024 Mid-Autumn and National Day: worked 9.14, 9.29 and 10.12.
            ("2024-09-13", 1, "2024-09-14"),
            ("2024-09-14", 1, "2024-09-18"),
            ("2024-09-27", 1, "2024-09-29"),
            ("2024-09-30", 1, "2024-10-08"),
            ("2024-10-11", 1, "2024-10-12"),
            // 2026 Spring Festival: off 2.15–2.23, worked 2.14 and 2.28.
            ("2026-02-13", 1, "2026-02-14"),
            ("2026-02-14", 1, "2026-02-24"),
            ("2026-02-27", 1, "2026-02-28"),
            // 2026 Mid-Autumn (9.25–9.27) and National Day (10.1–10.7): worked 9.20 and 10.10.
            ("2026-09-18", 1, "2026-09-20"),
            ("2026-09-24", 1, "2026-09-28"),
            ("2026-09-30", 1, "2026-10-08"),
            ("2026-10-09", 1, "2026-10-10"),
            // Across the turn of the year into 2026's New Year holiday and its Sunday make-up day.
            ("2025-12-31", 1, "2026-01-04"),
            // Zero is the start itself; an uncovered year follows the plain week.
            ("2025-01-28", 0, "2025-01-28"),
            ("2026-12-31", 1, "2027-01-01"),
        ];
        for (start, n, want) in cases {
            assert_eq!(calendar.add_workdays(d(start), n), d(want), "{start} + {n} workdays");
        }
    }

    #[test]
    fn subtracts_workdays_across_holidays() {
        let calendar = Calendar::builtin();
        let cases = [
            ("2025-02-05", 1, "2025-01-27"),
            ("2025-02-05", 2, "2025-01-26"),
            ("2025-02-05", 3, "2025-01-24"),
            ("2025-02-10", 1, "2025-02-08"),
            ("2025-10-09", 1, "2025-09-30"),
            ("2025-10-13", 1, "2025-10-11"),
            ("2025-10-13", 3, "2025-10-09"),
            ("2025-09-29", 1, "2025-09-28"),
            ("2024-02-19", 1, "2024-02-18"),
            ("2024-02-18", 1, "2024-02-09"),
            ("2024-10-08", 1, "2024-09-30"),
            ("2026-01-05", 1, "2026-01-04"),
            ("2026-01-04", 1, "2025-12-31"),
            ("2026-02-24", 1, "2026-02-14"),
            ("2025-06-03", 0, "2025-06-03"),
        ];
        for (end, n, want) in cases {
            assert_eq!(calendar.sub_workdays(d(end), n), d(want), "{end} - {n} workdays");
        }
    }

    #[test]
    fn subtraction_undoes_addition_from_a_workday() {
        let calendar = Calendar::builtin();
        let mut start = d("2023-12-01");
        while start < d("2027-02-01") {
            if calendar.is_workday(start) {
                for n in [1, 2, 5, 13] {
                    let later = calendar.add_workdays(start, n);
                    assert_eq!(calendar.sub_workdays(later, n), start, "{start} ± {n}");
                }
            }
            start = start.succ_opt().unwrap();
        }
    }

    #[test]
    fn skipping_whole_weeks_beyond_the_data_changes_nothing() {
        let calendar = Calendar::builtin();
        let cases = [
            ("2026-12-20", 7),
            ("2026-12-31", 6),
            ("2026-12-31", 250),
            ("2025-06-01", 900),
            ("2027-03-06", 1001),
            ("2027-03-07", 4),
        ];
        for (start, n) in cases {
            assert_eq!(calendar.add_workdays(d(start), n), walk(&calendar, d(start), n, true), "{start} + {n}");
        }
        let backwards = [("2024-01-10", 6), ("2024-01-01", 333), ("2026-06-01", 1200), ("2023-05-06", 9)];
        for (end, n) in backwards {
            assert_eq!(calendar.sub_workdays(d(end), n), walk(&calendar, d(end), n, false), "{end} - {n}");
        }
        // Absurd counts saturate instead of running for a long time or panicking.
        assert_eq!(calendar.add_workdays(d("2025-01-01"), u32::MAX), NaiveDate::MAX);
        assert_eq!(calendar.sub_workdays(d("2025-01-01"), u32::MAX), NaiveDate::MIN);
    }

    #[test]
    fn deadlines_end_the_local_day() {
        let calendar = Calendar::builtin();
        let shanghai = chrono_tz::Asia::Shanghai;
        let cases = [
            // 00:30 Friday 1.24 in Beijing is still Thursday in UTC; the Beijing date counts.
            ("2025-01-23T16:30:00Z", "1 workday", "2025-01-26T15:59:59Z"),
            ("2025-01-23T15:30:00Z", "1 workday", "2025-01-24T15:59:59Z"),
            ("2025-01-27T10:00:00Z", "1个工作日", "2025-02-05T15:59:59Z"),
            ("2025-09-30T01:00:00Z", "3 workdays", "2025-10-11T15:59:59Z"),
            ("2024-02-08T23:00:00Z", "1 workday", "2024-02-18T15:59:59Z"),
            ("2026-02-13T02:00:00Z", "2 workdays", "2026-02-24T15:59:59Z"),
            ("2025-01-23T16:30:00Z", "3 days", "2025-01-27T15:59:59Z"),
            ("2025-01-23T15:30:00Z", "3天", "2025-01-26T15:59:59Z"),
            ("2025-01-23T16:30:00Z", "48 hours", "2025-01-25T16:30:00Z"),
            ("2025-01-23T16:30:00Z", "1 hour", "2025-01-23T17:30:00Z"),
        ];
        for (from, duration, want) in cases {
            let duration: WorkDuration = duration.parse().unwrap();
            assert_eq!(calendar.deadline(utc(from), shanghai, duration), utc(want), "{from} + {duration}");
        }
    }

    #[test]
    fn deadlines_survive_daylight_saving_and_extremes() {
        let calendar = Calendar::empty();
        #[rustfmt::skip]
        let cases = [
            // New York falls back on 2025-11-02 and springs forward on 2025-03-09; 23:59:59
            // exists on both days, so the offset of that evening is used.
            (chrono_tz::America::New_York, "2025-11-01T12:00:00Z", WorkDuration::Days(1), "2025-11-03T04:59:59Z"),
            (chrono_tz::America::New_York, "2025-03-08T12:00:00Z", WorkDuration::Days(1), "2025-03-10T03:59:59Z"),
            // Samoa skipped 2011-12-30 entirely, so that local day ends when the 29th does.
            (chrono_tz::Pacific::Apia, "2011-12-29T12:00:00Z", WorkDuration::Days(1), "2011-12-30T09:59:59Z"),
        ];
        for (tz, from, duration, want) in cases {
            assert_eq!(calendar.deadline(utc(from), tz, duration), utc(want), "{tz} {from} + {duration}");
        }
        let far =
            calendar.deadline(utc("2025-01-01T00:00:00Z"), chrono_tz::America::New_York, WorkDuration::Days(u32::MAX));
        assert!(far > utc("9999-12-31T00:00:00Z"));
        let hours =
            calendar.deadline(utc("2025-01-01T00:00:00Z"), chrono_tz::Asia::Shanghai, WorkDuration::Hours(u32::MAX));
        assert_eq!(hours, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn reminders_go_out_at_nine_on_earlier_workdays() {
        let calendar = Calendar::builtin();
        let shanghai = chrono_tz::Asia::Shanghai;
        let cases = [
            // Deadline 2025-02-05 23:59:59 Beijing; 1, 2, 3 workdays before are 1.27, 1.26, 1.24.
            ("2025-02-05T15:59:59Z", 1, "2025-01-27T01:00:00Z"),
            ("2025-02-05T15:59:59Z", 2, "2025-01-26T01:00:00Z"),
            ("2025-02-05T15:59:59Z", 3, "2025-01-24T01:00:00Z"),
            // Deadline 2025-10-13 01:00 Beijing is still 10.12 in UTC; the Beijing date counts.
            ("2025-10-12T17:00:00Z", 1, "2025-10-11T01:00:00Z"),
            ("2025-10-12T17:00:00Z", 0, "2025-10-13T01:00:00Z"),
            ("2026-01-05T15:59:59Z", 2, "2025-12-31T01:00:00Z"),
        ];
        for (deadline, n, want) in cases {
            assert_eq!(calendar.reminder_time(utc(deadline), shanghai, n), utc(want), "{deadline} - {n}");
        }
    }

    #[test]
    fn reports_bad_files_with_line_numbers() {
        // (file text, line the error names, part of the message saying what was expected)
        #[rustfmt::skip]
        let cases = [
            ("holiday 2025-01-01 元旦", 1, "expected a `year YYYY` line before the first"),
            ("year 2025\nholidy 2025-01-01 元旦", 2, "or `workday` at the start of the line, found `holidy`"),
            ("year 2025\n\n# note\nholiday 2025-13-01 元旦", 4, "YYYY-MM-DD, found `2025-13-01`"),
            ("year 2025\nholiday 2025-01-28..2025-02-xx 春节", 2, "found `2025-01-28..2025-02-xx`"),
            ("year 2025\nholiday", 2, "YYYY-MM-DD..YYYY-MM-DD after `holiday`"),
            ("year 2025\nholiday 2025-01-01 # 元旦", 2, "expected a name after the date"),
            ("year 2025\nholiday 2025-02-04..2025-01-28 春节", 2, "ends before it starts"),
            ("year 2025\nholiday 2025-01-28..2025-03-04 春节", 2, "spans 36 days; expected at most 31"),
            ("year 2025\nholiday 2024-05-01 劳动节", 2, "2024-05-01 does not belong to year 2025"),
            ("year 2025\nworkday 2025-01-27 春节调休", 2, "2025-01-27 is a Monday; make-up workdays"),
            ("year 2025\nholiday 2025-01-28..2025-02-04 春节\nholiday 2025-02-01 春节", 3, "listed on line 2"),
            ("year 2025\nyear 2025", 2, "year 2025 is already declared on line 1"),
            ("year twenty", 1, "expected a four-digit year after `year`, found `twenty`"),
            ("year 2025 2026", 1, "expected `year YYYY`, found `year 2025 2026`"),
            ("# only a comment\nyear 2025\n", 2, "lists no holidays; expected at least one `holiday`"),
            ("year 2026\nholiday 2026-01-01 元旦", 1, "the file name says 2025 but the file declares year 2026"),
        ];
        for (text, line, part) in cases {
            let error = Calendar::parse("cn-2025.txt", text).unwrap_err().to_string();
            let prefix = format!("cn-2025.txt:{line}: ");
            assert!(error.starts_with(&prefix) && error.contains(part), "{text:?} gave {error}");
        }
        // Whole messages, as an operator would see them.
        let error = Calendar::parse("x.txt", "year 2025\nworkday 2025-01-27 调休").unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.txt:2: 2025-01-27 is a Monday; make-up workdays (调休上班) are Saturdays or Sundays"
        );
        let error = Calendar::parse("x.txt", "").unwrap_err();
        assert_eq!(error.to_string(), "x.txt: expected a `year YYYY` line and at least one `holiday` line");
    }

    #[test]
    fn accepts_comments_byte_order_marks_and_neighbouring_days() {
        let text = "\u{feff}# 2023\r\nyear 2023\r\nholiday 2022-12-31..2023-01-02 元旦  # 与周末连休\r\nworkday 2023-01-28 春节调休\r\n";
        let calendar = Calendar::parse("cn-2023.txt", text).unwrap();
        assert_eq!(calendar.years().collect::<Vec<_>>(), [2023]);
        let cases = [("2022-12-30", true), ("2022-12-31", false), ("2023-01-02", false), ("2023-01-28", true)];
        for (date, want) in cases {
            assert_eq!(calendar.is_workday(d(date)), want, "{date}");
        }
    }

    #[test]
    fn merging_adds_years_and_replaces_whole_years() {
        let mut calendar = Calendar::builtin();
        calendar.merge(Calendar::parse("cn-2027.txt", "year 2027\nholiday 2027-01-01 元旦").unwrap());
        // A corrected 2025 replaces the shipped year wholesale, so 1.28 is no longer listed.
        calendar.merge(Calendar::parse("fix/cn-2025.txt", "year 2025\nholiday 2025-01-29 春节").unwrap());
        assert_eq!(calendar.years().collect::<Vec<_>>(), [2024, 2025, 2026, 2027]);
        assert_eq!(calendar.source(2025), Some("fix/cn-2025.txt"));
        let cases = [
            ("2027-01-01", false),
            ("2025-01-28", true),
            ("2025-01-29", false),
            ("2025-01-26", false),
            ("2026-01-04", true),
        ];
        for (date, want) in cases {
            assert_eq!(calendar.is_workday(d(date)), want, "{date}");
        }
    }

    #[test]
    fn loads_directories_and_names_the_failing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README.md"), "not calendar data").unwrap();
        std::fs::write(dir.path().join("cn-2027.txt"), "year 2027\nholiday 2027-01-01 元旦\n").unwrap();
        let loaded = Calendar::load_dir(dir.path()).unwrap();
        assert_eq!(loaded.years().collect::<Vec<_>>(), [2027]);

        std::fs::write(dir.path().join("extra-2027.txt"), "year 2027\nholiday 2027-01-01 元旦\n").unwrap();
        let error = Calendar::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.starts_with("year 2027 is described by both ") && error.contains("cn-2027.txt"), "{error}");

        std::fs::remove_file(dir.path().join("extra-2027.txt")).unwrap();
        std::fs::write(dir.path().join("cn-2028.txt"), "year 2028\nholiday 2028-01-01 元旦\nworkday 2028-01-03 调休\n")
            .unwrap();
        let error = Calendar::load_dir(dir.path()).unwrap_err().to_string();
        let file = dir.path().join("cn-2028.txt").display().to_string();
        assert_eq!(
            error,
            format!("{file}:3: 2028-01-03 is a Monday; make-up workdays (调休上班) are Saturdays or Sundays")
        );

        let missing = dir.path().join("missing");
        let error = Calendar::load_dir(&missing).unwrap_err();
        assert!(matches!(error, CalendarError::Io { .. }), "{error}");
    }

    #[test]
    fn parses_durations_in_english_and_chinese() {
        use WorkDuration::{Days, Hours, Workdays};
        let cases = [
            ("10 workdays", Workdays(10)),
            ("1 workday", Workdays(1)),
            ("  2 Workdays ", Workdays(2)),
            ("3 days", Days(3)),
            ("1 day", Days(1)),
            ("48 hours", Hours(48)),
            ("1 hour", Hours(1)),
            ("5hours", Hours(5)),
            ("10个工作日", Workdays(10)),
            ("10 个工作日", Workdays(10)),
            ("15工作日", Workdays(15)),
            ("3天", Days(3)),
            ("7个自然日", Days(7)),
            ("48小时", Hours(48)),
            ("2个小时", Hours(2)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<WorkDuration>(), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        let expected = "(expected N workdays, N days or N hours, or N个工作日, N天, N小时)";
        #[rustfmt::skip]
        let cases = [
            ("10 weeks", format!("'10 weeks' is not a duration {expected}")),
            ("workdays", format!("'workdays' is not a duration {expected}")),
            ("", format!("'' is not a duration {expected}")),
            ("-3 days", format!("'-3 days' is not a duration {expected}")),
            ("1.5 days", format!("'1.5 days' is not a duration {expected}")),
            ("十个工作日", format!("'十个工作日' is not a duration {expected}")),
            ("3个天", format!("'3个天' is not a duration {expected}")),
            ("0 days", "'0 days' is not a duration (the number must be at least 1)".to_owned()),
            ("99999999999 hours", "'99999999999 hours' is too long (the number must be at most 4294967295)".to_owned()),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<WorkDuration>().unwrap_err().to_string(), want, "{text}");
        }
    }

    #[test]
    fn prints_and_serializes_the_english_form() {
        use WorkDuration::{Days, Hours, Workdays};
        let cases = [
            (Workdays(1), "1 workday"),
            (Workdays(10), "10 workdays"),
            (Days(1), "1 day"),
            (Days(3), "3 days"),
            (Hours(1), "1 hour"),
            (Hours(48), "48 hours"),
        ];
        for (duration, text) in cases {
            assert_eq!(duration.to_string(), text);
            assert_eq!(text.parse::<WorkDuration>(), Ok(duration));
            assert_eq!(serde_json::to_string(&duration).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<WorkDuration>(&format!("\"{text}\"")).unwrap(), duration);
        }
        assert_eq!(serde_json::from_str::<WorkDuration>("\"10个工作日\"").unwrap(), Workdays(10));
        let error = serde_json::from_str::<WorkDuration>("\"10 weeks\"").unwrap_err().to_string();
        assert!(error.starts_with("'10 weeks' is not a duration"), "{error}");
        assert!(serde_json::from_str::<WorkDuration>("10").is_err());
    }
}
