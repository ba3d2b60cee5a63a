//! Glue between the WIT world `jixiao:indicator/indicator-check@1.0.0` and the `rules` crate.
//!
//! A plugin crate implements [`Plugin`] over the plain types of `rules` and calls
//! [`export_plugin!`]; this crate generates the bindings once, converts the WIT records to
//! and from the `rules` types, and links the `guest` runtime (allocator, panic handler,
//! `cabi_realloc`) so that the component imports nothing.
#![no_std]

extern crate alloc;
extern crate guest;
// Lets the generated bindings name this crate as `glue::...`, from here and from the plugin crates.
extern crate self as glue;

#[doc(hidden)]
pub use alloc::vec::Vec;
#[doc(hidden)]
pub use wit_bindgen;

use alloc::string::String;

/// The WIT package version every plugin of this workspace is built against.
pub const INTERFACE_VERSION: &str = "1.0.0";

/// Generated bindings of `wit/indicator.wit`.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/indicator.wit",
        world: "indicator-check",
        pub_export_macro: true,
        export_macro_name: "export_indicator_check",
        default_bindings_module: "glue::bindings",
        runtime_path: "glue::wit_bindgen::rt",
    });
}

use bindings as w;

/// What a plugin provides, over the types of the `rules` crate.
pub trait Plugin {
    /// Plugin name, e.g. "common"; also its file name in dist/.
    const NAME: &'static str;
    /// Sectors it applies to; `["*"]` for every sector.
    const SECTORS: &'static [&'static str];
    const VERSION: &'static str;
    fn check(p: &rules::Project) -> alloc::vec::Vec<rules::Finding>;
}

pub fn describe<P: Plugin>() -> w::PluginInfo {
    w::PluginInfo {
        name: String::from(P::NAME),
        version: String::from(P::VERSION),
        sectors: P::SECTORS.iter().map(|s| String::from(*s)).collect(),
        interface_version: String::from(INTERFACE_VERSION),
    }
}

pub fn check<P: Plugin>(p: w::Project) -> Vec<w::Finding> {
    P::check(&project_from_wit(p)).into_iter().map(finding_to_wit).collect()
}

pub fn project_from_wit(p: w::Project) -> rules::Project {
    rules::Project {
        code: p.code,
        sector: p.sector,
        amount_fen: p.amount_fen,
        fiscal_year: p.fiscal_year,
        is_new: p.is_new,
        indicators: p.indicators.into_iter().map(indicator_from_wit).collect(),
    }
}

fn indicator_from_wit(i: w::Indicator) -> rules::Indicator {
    rules::Indicator {
        level1: match i.level1 {
            w::Level1::Output => rules::Level1::Output,
            w::Level1::Benefit => rules::Level1::Benefit,
            w::Level1::Satisfaction => rules::Level1::Satisfaction,
            w::Level1::Cost => rules::Level1::Cost,
        },
        level2: i.level2,
        name: i.name,
        operator: match i.operator {
            w::Operator::Ge => rules::Operator::Ge,
            w::Operator::Le => rules::Operator::Le,
            w::Operator::Eq => rules::Operator::Eq,
            w::Operator::Qualitative => rules::Operator::Qualitative,
        },
        value: i.value,
        unit: i.unit,
        weight: i.weight,
        basis: i.basis,
        core: i.core,
    }
}

pub fn finding_to_wit(f: rules::Finding) -> w::Finding {
    w::Finding {
        code: f.code,
        severity: match f.severity {
            rules::Severity::Error => w::Severity::Error,
            rules::Severity::Warning => w::Severity::Warning,
            rules::Severity::Info => w::Severity::Info,
        },
        indicator: f.indicator,
        message_zh: f.message_zh,
        message_en: f.message_en,
    }
}

/// Exports a [`Plugin`] as the component's `describe` and `check`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        struct __IndicatorCheck;

        impl $crate::bindings::Guest for __IndicatorCheck {
            fn describe() -> $crate::bindings::PluginInfo {
                $crate::describe::<$plugin>()
            }

            fn check(p: $crate::bindings::Project) -> $crate::Vec<$crate::bindings::Finding> {
                $crate::check::<$plugin>(p)
            }
        }

        $crate::bindings::export_indicator_check!(__IndicatorCheck with_types_in $crate::bindings);
    };
}
