//! Test plugin: `describe` is well-behaved, `check` allocates (and touches) 1 MiB blocks
//! until an allocation fails, which traps. The host must cap the instance's memory and report
//! the trap without itself running out of memory.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

struct MemoryBomb;

impl glue::Plugin for MemoryBomb {
    const NAME: &'static str = "memory-bomb";
    const SECTORS: &'static [&'static str] = &["*"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(_p: &rules::Project) -> Vec<rules::Finding> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Filled with a non-zero byte so every page is really written.
            hoard.push(core::hint::black_box(vec![0xA5u8; 1 << 20]));
            core::hint::black_box(&hoard);
        }
    }
}

glue::export_plugin!(MemoryBomb);
