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
pub(crate) const fn at_least(value: &'static str, severity: Severity, why_zh: &'static str, why_en: &'static str) -> Option<Limit> {
    Some(Limit { value, severity, why_zh, why_en })
}

/// An upper limit for the `max` of an entry.
pub(crate) const fn at_most(value: &'static str, severity: Severity, why_zh: &'static str, why_en: &'static str) -> Option<Limit> {
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

    /// Prints the libraries as Markdown tables (for plugins/README.md):
    /// `cargo test -p rules dump_libraries -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn dump_libraries() {
        use crate::sector::Sense;
        for lib in ALL {
            std::println!("\n#### `{}` — {} ({})\n", lib.code_prefix, lib.name_zh, lib.name_en);
            std::println!("| programme | indicator | typical target | core | limit |");
            std::println!("|---|---|---|---|---|");
            for e in lib.entries {
                let prog = lib.programmes.iter().find(|p| p.key == e.programme).map(|p| p.name_zh).unwrap_or("(all)");
                let unit = e.units.first().copied().unwrap_or("");
                let target = std::format!("{} {} {}", e.operator.symbol(), e.value, unit);
                let mut limit = std::string::String::new();
                if let Some(l) = e.min {
                    limit = std::format!("min {} ({:?})", l.value, l.severity);
                }
                if let Some(l) = e.max {
                    limit = std::format!("max {} ({:?})", l.value, l.severity);
                }
                let sense = if e.sense == Sense::LowerBetter { " ↓" } else { "" };
                std::println!("| {} | {}{} | {} | {} | {} |", prog, e.name, sense, target.trim(), if e.core { "★" } else { "" }, limit);
            }
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
