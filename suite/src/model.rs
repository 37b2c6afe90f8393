//! The stable contract of a run (check ids, levels, verdicts, exit codes) lives in the
//! `reports` crate, beside the sinks that read it; the suite uses it from there.

pub use reports::model::*;
