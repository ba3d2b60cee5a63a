//! jixiao (绩效): a workflow server for whole-process budget performance management.

pub mod domain;
