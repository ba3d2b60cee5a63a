//! Test plugin: `check` returns far more than any real plugin would. The host must bound what
//! it accepts (guest memory limit, and a cap on findings and message sizes after lifting).
//!
//! The project code chooses the output:
//! - `findings=N`: N findings (code "huge-output.flood", short messages);
//! - `string=N`: one finding whose `message-zh` and `message-en` are N bytes each;
//! - anything else: 100,000 findings. That is 100 times what a host should accept, yet fits
//!   in about 17 MB of guest memory, so a host with a memory limit of 32 MiB sees the flood
//!   itself rather than an out-of-memory trap. `findings=2000000` needs about 250 MB.
//!
//! It uses the generated bindings directly (not `glue::Plugin`) to keep its own memory use
//! down to what the output itself needs.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use glue::bindings::{Finding, Guest, PluginInfo, Project, Severity};

/// Findings returned when the project code does not ask for something else.
pub const DEFAULT_FINDINGS: usize = 100_000;

struct HugeOutput;

fn parse(code: &str, key: &str) -> Option<usize> {
    code.trim().strip_prefix(key)?.strip_prefix('=')?.parse().ok()
}

impl Guest for HugeOutput {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: String::from("huge-output"),
            version: String::from(env!("CARGO_PKG_VERSION")),
            sectors: alloc::vec![String::from("*")],
            interface_version: String::from(glue::INTERFACE_VERSION),
        }
    }

    fn check(p: Project) -> Vec<Finding> {
        if let Some(bytes) = parse(&p.code, "string") {
            let mut zh = String::with_capacity(bytes);
            let mut en = String::with_capacity(bytes);
            for _ in 0..bytes {
                zh.push('x');
                en.push('y');
            }
            return alloc::vec![Finding {
                code: String::from("huge-output.giant_string"),
                severity: Severity::Info,
                indicator: None,
                message_zh: zh,
                message_en: en,
            }];
        }
        let n = parse(&p.code, "findings").unwrap_or(DEFAULT_FINDINGS);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(Finding {
                code: String::from("huge-output.flood"),
                severity: Severity::Info,
                indicator: Some(i as u32),
                message_zh: String::from("洪"),
                message_en: String::from("flood"),
            });
        }
        out
    }
}

glue::bindings::export_indicator_check!(HugeOutput with_types_in glue::bindings);
