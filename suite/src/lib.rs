//! mcp-authspec: the conformance runner and its command line.
//!
//! For now the command line hosts the mock IdP (`idp serve`) and its key tooling
//! (`idp keygen`); the runner, catalogue and report sinks arrive in later layers.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo_faults;
pub mod docs;
pub mod engine;
pub mod expect;
pub mod explain;
pub mod fuzzing;
pub mod http;
pub mod model;
pub mod netfuzz;
pub mod output;
pub mod sentence;
pub mod source;
pub mod wire;
