//! jixiao (绩效): a workflow server for whole-process budget performance management.
//!
//! A county finance bureau writes its review process as declarative workflow files; jixiao
//! drives every budget project through them as queued jobs.
//!
//! # Layout
//! - `domain`: money, indicators, projects, panels, scoring, the working-day calendar (pure).
//! - `workflow`: the definition language and its condition expressions (pure).
//! - `engine`: the case state machine and the forms people fill (pure).
//! - `store`: all SQL: state, history, tasks, schedules.
//! - `queue`: jobs, workers, the dispatcher and the scheduler.
//! - `api`: the HTTP API (axum), authentication, errors, OpenAPI, metrics.
//! - `config`: typed settings from a file and `JIXIAO_` variables.
//! - `app`: wiring: start-up, the serve loop, graceful shutdown.
//! - `demo`, `bench`: the demo county and the benchmarks.

pub mod domain;
pub mod engine;
pub mod store;
pub mod workflow;
