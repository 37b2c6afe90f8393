//! Running checks: selection, concurrency with deterministic order, deadlines.

pub mod discovery;
pub mod runner;
pub mod select;
