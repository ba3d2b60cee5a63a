//! Test plugin for the host's version check: built against `jixiao:indicator@0.9.0` (its own
//! copy of an old interface in `wit/`), not 1.0.0. The host must refuse to load it.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;
extern crate guest;

use alloc::string::String;
use alloc::vec::Vec;

wit_bindgen::generate!({ path: "wit/indicator.wit", world: "indicator-check" });

struct WrongInterface;

impl Guest for WrongInterface {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: String::from("wrong-interface"),
            version: String::from(env!("CARGO_PKG_VERSION")),
            sectors: alloc::vec![String::from("*")],
            interface_version: String::from("0.9.0"),
        }
    }

    fn check(p: Project) -> Vec<String> {
        p.indicators.into_iter().map(|i| i.name).collect()
    }
}

export!(WrongInterface);
