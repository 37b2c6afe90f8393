//! The check catalogue. Folders and files follow the requirement catalogue's sections; each
//! file holds a small family of checks with their metadata next to their logic; `all()` is the
//! registry.

pub mod authorization_server;
pub mod challenge;
pub mod dpop;
pub mod passthrough;
pub mod presentation;
pub mod prm;
pub mod request_auth;
pub mod scope;
pub mod session;
pub mod token;
pub mod transport;

use crate::check::SpecRef;
use crate::engine::context::Context;
use crate::engine::runner::Check;

/// Every check, in catalogue order.
pub fn all() -> Vec<Check<Context>> {
    let mut checks = Vec::new();
    checks.extend(challenge::checks());
    checks.extend(prm::checks());
    checks.extend(presentation::checks());
    checks.extend(request_auth::checks());
    checks.extend(token::checks());
    checks.extend(passthrough::checks());
    checks.extend(scope::checks());
    checks.extend(session::checks());
    checks.extend(transport::checks());
    checks.extend(dpop::checks());
    checks
}

/// Checks that spend most of their time waiting (a key cache's cooldown, a fetch given up
/// after a timeout, samples taken one after another): the runner starts them first, so their
/// waits overlap the other checks rather than end the run.
pub const STARTED_FIRST: &[&str] = &[
    "rs.token.jwks-rotation",
    "as.cimd.size-limit",
    "as.token.guessing",
];

/// The `as.*` checks (spec §2), run against the target's authorization server.
pub fn authorization_server_checks() -> Vec<Check<crate::engine::authorization_server::AsContext>> {
    authorization_server::checks()
}

/// The metadata of every check of both roles, in catalogue order (`rs.*`, then `as.*`).
pub fn metas() -> Vec<crate::check::CheckMeta> {
    all()
        .into_iter()
        .map(|c| c.meta)
        .chain(authorization_server_checks().into_iter().map(|c| c.meta))
        .collect()
}

#[cfg(test)]
#[test]
fn the_checks_started_first_exist() {
    let ids: Vec<&str> = metas().iter().map(|m| m.id).collect();
    for id in STARTED_FIRST {
        assert!(ids.contains(id), "{id} is not in the catalogue");
    }
}

const MCP_AUTH: &str =
    "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization";

/// The longest `--code-expiry-wait` (as.token.code-expired), which bounds that check's run.
pub const MAX_CODE_EXPIRY_WAIT_SECONDS: u64 = 3600;

pub(crate) const fn mcp(section: &'static str, requirement: &'static str) -> SpecRef {
    SpecRef {
        source: "MCP 2025-11-25 Authorization",
        section,
        requirement,
        url: MCP_AUTH,
    }
}

pub(crate) const fn rfc(
    source: &'static str,
    section: &'static str,
    requirement: &'static str,
    url: &'static str,
) -> SpecRef {
    SpecRef {
        source,
        section,
        requirement,
        url,
    }
}
