//! reference-server: a compliant MCP server over streamable HTTP that is an OAuth 2.1
//! protected resource (RFC 9728, RFC 6750, RFC 9068, RFC 7662), with switchable fault
//! profiles that each break one behaviour on purpose. mcp-authspec's tests prove every check
//! both ways against it, and the no-argument demo runs against it.
//!
//! Documented choices: a session used with another subject's token gets 404 (as if unknown);
//! malformed requests (two Authorization fields, two token methods, a credential that is not
//! one b64token) get 400 `invalid_request`; a token in the query is ignored (the request counts
//! as unauthenticated); introspection failures get 503; the Origin check runs after
//! authentication, so an unauthenticated request learns nothing beyond the 401.

mod challenge;
pub mod config;
mod credentials;
mod dpop;
pub mod fault;
mod header_case;
mod introspect;
mod jwks;
mod jwt;
mod mcp;
mod server;

pub use config::{
    ADMIN_SCOPE, ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, Config, DEFAULT_ALGS, DpopMode,
    IntrospectionConfig, MetadataSigner, PARENT_SCOPE, ResponseMode, TrustedIssuer,
    UPSTREAM_CREDENTIAL,
};
pub use fault::{Fault, UnknownFault};
pub use mcp::PROTOCOL_VERSIONS;
pub use server::{Handle, MCP_PATH, PRM_WELL_KNOWN, ReferenceServer, StartError};
