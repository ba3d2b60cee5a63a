//! Exact decimals for target values and weights.
//!
//! A value is kept as an `i128` count of 10⁻⁹ units, so "95.5" is 95_500_000_000 and every
//! comparison against a bound ("< 90", "> 100", "= 90 in all") is exact: no floating point is
//! involved anywhere. Values with more than nine significant decimals are refused (a target
//! written that way is not a plain number on a form).

use core::cmp::Ordering;
use core::fmt;

/// Decimal digits kept after the point.
pub const SCALE_DIGITS: u32 = 9;
const SCALE: i128 = 1_000_000_000;

/// An exact decimal number with nine fractional digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(i128);

/// Why a text is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    /// Not of the form [sign] digits [. digits] [%]: "有效", "约95", "1e5", "≥95".
    NotNumber,
    /// More than nine non-zero decimals, or too large.
    OutOfRange,
}

impl Dec {
    pub const ZERO: Dec = Dec(0);

    pub const fn from_int(n: i64) -> Dec {
        Dec(n as i128 * SCALE)
    }

    /// Parses a value as written on a form. Accepts an optional sign, ASCII or full-width
    /// digits, "," thousands separators between digits, one decimal point, and a trailing "%"
    /// (the percent sign is ignored: `Indicator::is_percent` looks at it).
    pub fn parse(s: &str) -> Result<Dec, ParseError> {
        let t = s.trim();
        let t = t.strip_suffix('%').or_else(|| t.strip_suffix('％')).unwrap_or(t).trim_end();
        if t.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut chars = t.chars().map(normalize_char).peekable();
        let mut negative = false;
        if let Some(&c) = chars.peek() {
            if c == '+' || c == '-' {
                negative = c == '-';
                chars.next();
            }
        }
        let mut int_part: i128 = 0;
        let mut frac: i128 = 0;
        let mut frac_digits: u32 = 0;
        let mut digits = 0usize;
        let mut seen_point = false;
        let mut prev_digit = false;
        let mut pending_comma = false;
        for c in chars {
            match c {
                '0'..='9' => {
                    let d = (c as u8 - b'0') as i128;
                    if seen_point {
                        if frac_digits < SCALE_DIGITS {
                            frac = frac * 10 + d;
                            frac_digits += 1;
                        } else if d != 0 {
                            return Err(ParseError::OutOfRange);
                        }
                    } else {
                        int_part =
                            int_part.checked_mul(10).and_then(|v| v.checked_add(d)).ok_or(ParseError::OutOfRange)?;
                    }
                    digits += 1;
                    prev_digit = true;
                    pending_comma = false;
                }
                ',' if !seen_point && prev_digit => {
                    prev_digit = false;
                    pending_comma = true;
                }
                '.' if !seen_point && !pending_comma => {
                    seen_point = true;
                    prev_digit = false;
                }
                _ => return Err(ParseError::NotNumber),
            }
        }
        if digits == 0 || pending_comma {
            return Err(ParseError::NotNumber);
        }
        let frac_scaled = frac * 10i128.pow(SCALE_DIGITS - frac_digits);
        let v = int_part.checked_mul(SCALE).and_then(|v| v.checked_add(frac_scaled)).ok_or(ParseError::OutOfRange)?;
        // Keep values well inside i128 so that products with money factors are checked, not wrapped.
        if v > i128::MAX / 1_000_000_000_000 {
            return Err(ParseError::OutOfRange);
        }
        Ok(Dec(if negative { -v } else { v }))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Dec) -> Option<Dec> {
        self.0.checked_add(other.0).map(Dec)
    }

    /// Multiplies by an integer factor (e.g. fen per unit of money).
    pub fn checked_mul_int(self, k: i64) -> Option<Dec> {
        self.0.checked_mul(k as i128).map(Dec)
    }

    /// Compares with an integer without constructing a `Dec` at the call site.
    pub fn cmp_int(self, n: i64) -> Ordering {
        self.cmp(&Dec::from_int(n))
    }
}

/// Maps full-width digits and punctuation to ASCII.
fn normalize_char(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '．' | '。' => '.',
        '，' => ',',
        '－' | '−' => '-',
        '＋' => '+',
        _ => c,
    }
}

impl fmt::Display for Dec {
    /// Shortest exact form: "95", "95.5", "-0.001".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let a = self.0.unsigned_abs();
        let int = a / SCALE as u128;
        let mut frac = a % SCALE as u128;
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            let mut width = SCALE_DIGITS as usize;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse_table() {
        use ParseError::*;
        #[rustfmt::skip]
        let cases: &[(&str, Result<&str, ParseError>)] = &[
            ("95", Ok("95")),
            ("95.5", Ok("95.5")),
            (" 95.50 ", Ok("95.5")),
            ("0.565", Ok("0.565")),
            ("100%", Ok("100")),
            ("100 ％", Ok("100")),
            ("９５．５", Ok("95.5")),
            ("21,933", Ok("21933")),
            ("1,234,567.8", Ok("1234567.8")),
            ("-5", Ok("-5")),
            ("+5", Ok("5")),
            (".5", Ok("0.5")),
            ("5.", Ok("5")),
            ("0.000000001", Ok("0.000000001")),
            ("0.0000000010000", Ok("0.000000001")),
            ("0.0000000001", Err(OutOfRange)),
            ("", Err(Empty)),
            ("  ", Err(Empty)),
            ("%", Err(Empty)),
            ("有效", Err(NotNumber)),
            ("约95", Err(NotNumber)),
            ("95以上", Err(NotNumber)),
            ("≥95", Err(NotNumber)),
            ("1e5", Err(NotNumber)),
            ("1.2.3", Err(NotNumber)),
            (",5", Err(NotNumber)),
            ("5,", Err(NotNumber)),
            ("5,.5", Err(NotNumber)),
            ("-", Err(NotNumber)),
            ("99999999999999999999999999999999999999999", Err(OutOfRange)),
        ];
        for (input, want) in cases {
            let got = Dec::parse(input).map(|d| d.to_string());
            assert_eq!(got.as_deref().map_err(|e| *e), *want, "input {input:?}");
        }
    }

    #[test]
    fn exact_boundaries() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, Ordering)] = &[
            ("89.999999999", "90", Ordering::Less),
            ("90.000000000", "90", Ordering::Equal),
            ("0.1", "0.10", Ordering::Equal),
            ("100.000000001", "100", Ordering::Greater),
            ("-0.5", "0", Ordering::Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(Dec::parse(a).unwrap().cmp(&Dec::parse(b).unwrap()), *want, "{a} vs {b}");
        }
    }

    #[test]
    fn arithmetic() {
        let sum =
            ["50", "30", "7.5", "2.5"].iter().try_fold(Dec::ZERO, |acc, s| acc.checked_add(Dec::parse(s).unwrap()));
        assert_eq!(sum, Some(Dec::from_int(90)));
        assert_eq!(Dec::parse("1.5").unwrap().checked_mul_int(100), Some(Dec::from_int(150)));
        assert_eq!(Dec::parse("2").unwrap().cmp_int(3), Ordering::Less);
    }
}
