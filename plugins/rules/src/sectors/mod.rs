//! Indicator libraries of the five sectors, as data.
//!
//! Each library starts from the real examples of DOMAIN.md §2 and adds the indicators that the
//! sector's national programmes publish year after year. Typical values are examples from
//! published county forms or national programme targets; the limits (`min`/`max`) are
//! defaults chosen here ([DEF]) from the national standard named in each entry's `source`.

use crate::sector::Limit;
use crate::Severity;

pub mod agriculture;
pub mod education;
pub mod health;
pub mod social_security;
pub mod transport;

/// A lower limit for the `min` of an entry.
pub(crate) const fn at_least(
    value: &'static str,
    severity: Severity,
    why_zh: &'static str,
    why_en: &'static str,
) -> Option<Limit> {
    Some(Limit { value, severity, why_zh, why_en })
}

/// An upper limit for the `max` of an entry.
pub(crate) const fn at_most(
    value: &'static str,
    severity: Severity,
    why_zh: &'static str,
    why_en: &'static str,
) -> Option<Limit> {
    Some(Limit { value, severity, why_zh, why_en })
}

/// Every library, for tests and tools.
pub const ALL: [&crate::sector::Library; 5] =
    [&education::LIBRARY, &health::LIBRARY, &agriculture::LIBRARY, &transport::LIBRARY, &social_security::LIBRARY];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_is_consistent() {
        for lib in ALL {
            crate::sector::assert_library_consistent(lib);
        }
    }

    #[test]
    fn sector_keys_and_prefixes_are_distinct() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.sector, b.sector);
                assert_ne!(a.code_prefix, b.code_prefix);
                assert!(!a.applies_to(b.sector) && !b.applies_to(a.sector));
            }
        }
    }
}
