//! Exact money. Amounts are integer fen (分, 1/100 yuan) in an `i64`; they are parsed from and
//! printed as decimal yuan strings and never pass through `f64`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in fen. Negative amounts are allowed (ledger adjustments out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(i64);

/// Why a text could not be read as an amount of yuan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not an amount of yuan (expected digits with at most two decimals, e.g. 6000000 or 1250.50)")]
    NotAnAmount(String),
    #[error("'{0}' has more than two decimals (amounts are kept to the fen)")]
    TooPrecise(String),
    #[error("'{0}' is out of range (an amount is at most 100,000,000,000 yuan either way)")]
    OutOfRange(String),
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// The largest amount accepted from outside, either way: 100 billion yuan (一千亿元), far
    /// beyond any real budget line, and small enough that the sum of a province's 350,000
    /// projects at this size still fits in an `i64` of fen (3.5e18 < 9.2e18).
    pub const MAX_YUAN: i64 = 100_000_000_000;
    pub const MAX: Fen = Fen(Self::MAX_YUAN * 100);

    pub const fn from_fen(fen: i64) -> Self {
        Fen(fen)
    }

    /// Whole yuan; panics never, saturates at the `i64` range.
    pub const fn from_yuan(yuan: i64) -> Self {
        Fen(yuan.saturating_mul(100))
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Whole yuan, rounded towards zero (used by expressions such as `project.amount_yuan`).
    pub const fn whole_yuan(self) -> i64 {
        self.0 / 100
    }

    /// The exact amount in yuan as a decimal with two places.
    pub fn to_yuan_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Converts an exact decimal number of yuan; refuses more than two decimals.
    pub fn from_yuan_decimal(d: Decimal) -> Result<Self, MoneyError> {
        let scaled = d * Decimal::ONE_HUNDRED;
        if scaled.fract() != Decimal::ZERO {
            return Err(MoneyError::TooPrecise(d.to_string()));
        }
        i64::try_from(scaled.trunc())
            .ok()
            .filter(|f| f.unsigned_abs() <= Self::MAX.0.unsigned_abs())
            .map(Fen)
            .ok_or_else(|| MoneyError::OutOfRange(d.to_string()))
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }
}

impl FromStr for Fen {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().replace([',', '，'], "");
        let valid = !t.is_empty()
            && t.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+')))
            && t.matches('.').count() <= 1
            && t.chars().any(|c| c.is_ascii_digit());
        if !valid {
            return Err(MoneyError::NotAnAmount(s.to_string()));
        }
        let d = Decimal::from_str(&t).map_err(|_| MoneyError::OutOfRange(s.to_string()))?;
        Fen::from_yuan_decimal(d).map_err(|e| match e {
            MoneyError::TooPrecise(_) => MoneyError::TooPrecise(s.to_string()),
            other => other,
        })
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_yuan_decimal())
    }
}

/// The schema of an amount as the API reads and writes it: yuan as a decimal string with at most
/// two decimals, or (read only) a whole number of yuan.
impl schemars::JsonSchema for Fen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An amount of yuan: a decimal string with at most two decimals (\"6000000.00\"), or a whole number",
            "anyOf": [
                // What `Fen::from_str` reads: digits with an optional sign and point, thousands
                // separators and surrounding spaces allowed.
                {"type": "string", "pattern": "^\\s*[+-]?[0-9,，]*(\\.[0-9,，]*)?\\s*$"},
                {"type": "integer", "minimum": -Fen::MAX_YUAN, "maximum": Fen::MAX_YUAN}
            ]
        })
    }
}

/// Serialised as a decimal string of yuan ("6000000.00") so no JSON reader turns it into a float.
impl Serialize for Fen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_yuan_decimal().to_string())
    }
}

/// Accepts a decimal string of yuan, or a JSON integer of yuan. JSON fractional numbers are
/// refused: they would already have been rounded by a float somewhere.
impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Fen;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of yuan as a string such as \"6000000.00\" or a whole number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fen, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Fen, E> {
                Fen::from_yuan_decimal(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Fen, E> {
                Fen::from_yuan_decimal(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Fen, E> {
                Err(E::custom(format!(
                    "{v} is a fractional JSON number; send amounts with decimals as a string such as \"{v}\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_beyond_any_budget_are_refused_at_the_edge() {
        assert_eq!("100000000000".parse::<Fen>(), Ok(Fen::MAX));
        assert_eq!("-100000000000.00".parse::<Fen>(), Ok(Fen::from_fen(-Fen::MAX.fen())));
        for big in ["92233720368547758.07", "100000000000.01", "-100000000001", "1e30"] {
            assert!(big.parse::<Fen>().is_err(), "{big}");
        }
        let e = "92233720368547758.07".parse::<Fen>().unwrap_err().to_string();
        assert!(e.contains("at most 100,000,000,000 yuan"), "{e}");
        assert!(serde_json::from_str::<Fen>("92233720368547758").is_err());
        assert!(serde_json::from_str::<Fen>("100000000001").is_err());
        assert_eq!(serde_json::from_str::<Fen>("100000000000").unwrap(), Fen::MAX);
        // A province of 350,000 projects at the largest amount still sums without overflow.
        assert!(Fen::MAX.fen().checked_mul(350_000).is_some());
    }

    #[test]
    fn parses_and_prints_yuan() {
        let cases = [
            ("6000000", Ok(600_000_000)),
            ("1250.5", Ok(125_050)),
            ("1,250.50", Ok(125_050)),
            ("-3.01", Ok(-301)),
            ("0.001", Err(MoneyError::TooPrecise("0.001".into()))),
            ("有效", Err(MoneyError::NotAnAmount("有效".into()))),
            ("", Err(MoneyError::NotAnAmount("".into()))),
            ("1.2.3", Err(MoneyError::NotAnAmount("1.2.3".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Fen>().map(Fen::fen), want, "{text}");
        }
        assert_eq!(Fen::from_fen(125_050).to_string(), "1250.50");
        assert_eq!(Fen::from_yuan(5_000_000).whole_yuan(), 5_000_000);
    }

    #[test]
    fn json_refuses_floats() {
        assert_eq!(serde_json::from_str::<Fen>("\"12.30\"").unwrap().fen(), 1230);
        assert_eq!(serde_json::from_str::<Fen>("12").unwrap().fen(), 1200);
        assert!(serde_json::from_str::<Fen>("12.3").is_err());
        assert_eq!(serde_json::to_string(&Fen::from_fen(1230)).unwrap(), "\"12.30\"");
    }
}
