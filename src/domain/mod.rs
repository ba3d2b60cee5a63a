//! The functional core's vocabulary: money, indicators, projects, panels, scoring, spot checks,
//! key evaluations, disclosures and the working-day calendar. Nothing here does I/O; everything
//! is tested with tables of cases.

pub mod assign;
pub mod calendar;
pub mod disclosure;
pub mod indicator;
pub mod key_eval;
pub mod library;
pub mod money;
pub mod monitoring;
pub mod panel;
pub mod project;
pub mod scoring;
pub mod spot_check;
pub mod text;

pub use indicator::{Basis, FieldError, Indicator, Level1, Operator, TargetValue};
pub use money::Fen;
pub use project::{FundingSource, ProjectInput, SECTORS};
