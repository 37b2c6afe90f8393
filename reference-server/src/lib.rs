//! reference-server: a compliant MCP resource server (streamable HTTP, OAuth protected
//! resource per RFC 9728 / RFC 6750 / RFC 9068) with switchable fault profiles. mcp-authspec's
//! tests prove every check both ways against it, and the no-argument demo runs against it.

mod auth;
pub mod fault;
mod jwks;
mod server;

pub use fault::{Fault, UnknownFault};
pub use server::{
    ADMIN_SCOPE, ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, Config, ReferenceServer, StartError,
};
