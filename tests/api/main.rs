//! Integration tests: the real server on a random port, a fresh SQLite database per test, driven
//! over HTTP as each role. One binary for the whole folder, so it links once.

mod abuse;
mod access;
mod audit;
mod browser;
mod checks;
mod definitions;
mod evaluation;
mod exchange;
mod flow;
mod fuzz;
mod helpers;
mod image;
mod jobs;
mod library;
mod matrix;
mod monitoring;
mod notify;
mod pages;
mod panels;
mod plugins;
mod process;
mod report;
mod start;
mod web;
