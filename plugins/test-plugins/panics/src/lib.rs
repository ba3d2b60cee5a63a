//! Test plugin: `describe` is well-behaved, `check` panics. In a component a panic is a trap
//! (`unreachable`); the host must report it as a plugin failure and carry on.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

struct Panics;

impl glue::Plugin for Panics {
    const NAME: &'static str = "panics";
    const SECTORS: &'static [&'static str] = &["*"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(p: &rules::Project) -> alloc::vec::Vec<rules::Finding> {
        panic!("the panics test plugin panics on purpose (project {})", p.code)
    }
}

glue::export_plugin!(Panics);
