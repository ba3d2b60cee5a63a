//! The workflow definition language: YAML files that say which stages a budget project goes
//! through, who acts in each, within what time, and how scores decide the next step.
//!
//! `parse` turns text into a checked `Workflow` or a list of `Diagnostic`s with line and
//! column; `expr` is the condition language (CEL). Nothing here does I/O.

pub mod expr;
pub mod model;
pub mod parse;

pub use expr::{Expr, VarValue, Vars};
pub use model::*;
pub use parse::{Diagnostic, check_plugins, parse};
