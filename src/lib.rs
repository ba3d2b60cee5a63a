//! jixiao (绩效): a workflow server for whole-process budget performance management.
//!
//! A county finance bureau writes its review process as declarative workflow files; jixiao
//! drives every budget project through them as queued jobs.
//!
//! # Layout
//! - `domain`: money, indicators, projects, panels, scoring, the working-day calendar (pure).
//! - `workflow`: the definition language and its condition expressions (pure).
//! - `engine`: the case state machine and the forms people fill (pure).
//! - `store`: all SQL: state, history, tasks, schedules, the job table.
//! - `queue`: jobs, workers, the dispatcher and the scheduler.
//! - `api`: the HTTP API (axum), authentication, errors, OpenAPI.
//! - `metrics`: Prometheus metrics.
//! - `checks`: runs a stage's indicator-check plugins on a submission (a queued job).
//! - `plugin_host`: the sandboxed WebAssembly host for indicator-check plugins.
//! - `config`: typed settings from a file and `JIXIAO_` variables.
//! - `clock`: system and manual clocks.
//! - `app`: wiring: start-up, the serve loop, graceful shutdown.
//! - `demo`, `demo_setup`: the demo county; `bench`: the benchmarks.

pub mod api;
pub mod app;
pub mod bench;
pub mod checks;
pub mod clock;
pub mod config;
pub mod demo;
pub mod demo_setup;
pub mod domain;
pub mod engine;
pub mod exchange;
pub mod metrics;
pub mod notify;
pub mod plugin_host;
pub mod queue;
pub mod store;
pub mod web;
pub mod workflow;
