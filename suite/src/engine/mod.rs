//! Running checks: selection, concurrency with deterministic order, deadlines.

pub mod accepted;
pub mod applicability;
pub mod authorization_server;
pub mod calibrate;
pub mod clock;
pub mod context;
pub mod discovery;
pub mod listener;
pub mod probe;
pub mod registration;
pub mod runner;
pub mod select;
pub mod session;
