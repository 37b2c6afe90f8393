//! Parsers for what a target sends back: challenges, metadata, OAuth syntax.

pub mod discovery;
pub mod jsonrpc;
pub mod metadata;
pub mod oauth;
pub mod www_authenticate;
