//! Test plugin: `describe` is well-behaved, `check` spins forever. The host must interrupt
//! it (fuel or epoch deadline) and report a timeout.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

struct LoopForever;

impl glue::Plugin for LoopForever {
    const NAME: &'static str = "loop-forever";
    const SECTORS: &'static [&'static str] = &["*"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn check(_p: &rules::Project) -> alloc::vec::Vec<rules::Finding> {
        let mut n: u64 = 0;
        loop {
            // black_box keeps the loop from being proven side-effect free and removed.
            n = core::hint::black_box(n.wrapping_add(1));
        }
    }
}

glue::export_plugin!(LoopForever);
