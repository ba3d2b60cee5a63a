//! The `common` plugin: checks every project, whatever its sector (see `rules::common`).
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

struct Common;

impl glue::Plugin for Common {
    const NAME: &'static str = "common";
    const SECTORS: &'static [&'static str] = &["*"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(p: &rules::Project) -> alloc::vec::Vec<rules::Finding> {
        rules::common::check(p)
    }
}

glue::export_plugin!(Common);
