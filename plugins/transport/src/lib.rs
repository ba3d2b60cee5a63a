//! The `transport` plugin: checks transport projects against the sector indicator library of
//! `rules::sectors::transport` (core indicators present, plausible targets, direction and units).
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use rules::sectors::transport::LIBRARY;

struct Sector;

impl glue::Plugin for Sector {
    const NAME: &'static str = "transport";
    const SECTORS: &'static [&'static str] = &[LIBRARY.sector];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(p: &rules::Project) -> alloc::vec::Vec<rules::Finding> {
        rules::sector::check(&LIBRARY, p)
    }
}

glue::export_plugin!(Sector);
