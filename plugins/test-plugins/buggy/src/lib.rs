//! Test plugin: behaves on the host's smoke project (code "SMOKE-0001"), so an upload accepts
//! it, and panics on every other project, as a plugin with a bug the smoke check does not reach.
//! The server must turn each call into a "plugin buggy failed" finding and keep serving.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

struct Buggy;

impl glue::Plugin for Buggy {
    const NAME: &'static str = "buggy";
    const SECTORS: &'static [&'static str] = &["*"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(p: &rules::Project) -> alloc::vec::Vec<rules::Finding> {
        if p.code.starts_with("SMOKE-") {
            return alloc::vec::Vec::new();
        }
        panic!("the buggy test plugin fails on project {}", p.code)
    }
}

glue::export_plugin!(Buggy);
