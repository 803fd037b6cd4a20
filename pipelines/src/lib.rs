//! # revline
//!
//! The `revline` command as a library: configuration ([`config`]), the connector registry
//! ([`registry`]), the extract-and-load runner ([`runner`]), SQL over the lake ([`query`]),
//! the demo ([`demo`]) and benchmarks ([`bench`]). `main.rs` only parses arguments and maps
//! outcomes to exit codes.

pub mod bench;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod engine;
pub mod export;
pub mod history;
pub mod metrics;
pub mod models;
pub mod progress;
pub mod query;
pub mod registry;
pub mod runner;
pub mod serve;
pub mod shell;
pub mod state;

/// Exit codes of the `revline` binary.
pub mod exit {
    /// Every selected stream committed.
    pub const SUCCESS: i32 = 0;
    /// A stream failed (its uncommitted pages were discarded).
    pub const FAILURE: i32 = 1;
    /// Bad input: the configuration, the command line or a query is invalid; nothing was loaded.
    pub const BAD_CONFIG: i32 = 2;
    /// Stopped gracefully (quota reserve reached, or a shutdown signal): what was read is
    /// committed; run again later to continue.
    pub const PARTIAL: i32 = 3;
    /// Refused: another run holds the lock of a selected source.
    pub const LOCKED: i32 = 4;
}
