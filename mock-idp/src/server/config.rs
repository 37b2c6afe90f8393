//! Configuration of the mock IdP.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::alg::Algorithm;
use crate::keystore::KeyRing;

/// `sub` of the auto-approved test user.
pub const DEFAULT_SUBJECT: &str = "test-user";

/// `aud` of tokens requested without a `resource` (RFC 9068 §3 requires a default).
pub const DEFAULT_AUDIENCE: &str = "urn:mcp-authspec:default-resource";

/// Where the issuers' signing keys come from.
#[derive(Debug, Clone, Default)]
pub enum KeySource {
    /// Fresh random rings for every start.
    #[default]
    Generate,
    /// Rings loaded from (or generated and saved into) this folder, with kid prefixes
    /// `trusted`, `rogue` and `second`, so a deployed target configured once keeps trusting them.
    Dir(PathBuf),
    /// The published rings of the loopback demo (`keystore::demo_ring`), embedded in the
    /// binary: nothing is generated at start. Anyone can sign with them, so only a server
    /// started for one demo run may trust this IdP.
    Demo,
    /// Rings the caller already holds (tests share one pair to avoid key generation); the
    /// second issuer's ring is generated.
    Rings { trusted: KeyRing, rogue: KeyRing },
}

/// How the mock IdP is started. `IdpConfig::default()` is a complete, working setup.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Address to bind; default `127.0.0.1:0` (an ephemeral loopback port).
    pub listen: SocketAddr,
    /// Public base URL (`https://idp.example` or `https://host/prefix`) when it differs from
    /// `http://<bound address>`, e.g. behind a reverse proxy. Issuers are this plus their path.
    pub public_base_url: Option<String>,
    /// Issuer paths under the base URL. Each is empty (the base URL itself is the issuer) or
    /// `/seg[/seg…]` of unreserved characters; they must differ.
    pub trusted_path: String,
    pub rogue_path: String,
    pub other_tenant_path: String,
    /// Path of the second authorization server (`IssuerKind::Second`).
    pub second_path: String,
    pub keys: KeySource,
    /// `sub` of the auto-approved user of the authorization endpoint.
    pub subject: String,
    /// `aud` when a request names no `resource`.
    pub default_audience: String,
    /// When set, only these `resource` values are accepted (others get `invalid_target`);
    /// otherwise any absolute URI without a fragment is.
    pub allowed_resources: Option<Vec<String>>,
    /// `scopes_supported`; requests for other scopes get `invalid_scope`.
    pub scopes_supported: Vec<String>,
    /// Scope granted when a request names none (and the client has no registered scope).
    pub default_scope: String,
    /// Algorithm of the key access tokens are signed with.
    pub signing_alg: Algorithm,
    /// Lifetimes in seconds.
    pub access_token_lifetime: i64,
    /// How long an authorization code can be redeemed (`idp serve --code-lifetime`).
    pub code_lifetime: i64,
    pub refresh_token_lifetime: i64,
    /// Demand a server nonce in DPoP proofs at the token endpoint (RFC 9449 §8). Can be
    /// switched at run time with `MockIdp::set_dpop_nonce_required`.
    pub require_dpop_nonce: bool,
    /// Cap on request bodies; larger bodies get `400 invalid_request`.
    pub max_body_bytes: usize,
    /// Cap on dynamically registered clients per issuer.
    pub max_registered_clients: usize,
    /// The device authorization grant (RFC 8628).
    pub device: DeviceFlowConfig,
    /// Deliberate defects (authorization-server fault profiles); empty for the compliant IdP.
    pub faults: std::collections::BTreeSet<super::AsFault>,
    /// `protected_resources` of the metadata (RFC 9728 §4): the resources this server issues
    /// tokens for, when the deployment knows them; empty omits the member.
    pub protected_resources: Vec<String>,
    /// When set, the authorization endpoint shows a login form (and optionally a consent
    /// page) instead of approving every valid request at once.
    pub login: Option<LoginConfig>,
    /// Client ID metadata documents (spec §2.7): how URL client ids are fetched.
    pub cimd: CimdConfig,
}

/// The login mode of the authorization endpoint: the one user who may sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginConfig {
    pub username: String,
    pub password: String,
    /// After the login, a consent page asks to allow (or deny) the client.
    pub consent: bool,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            public_base_url: None,
            trusted_path: "/trusted".into(),
            rogue_path: "/rogue".into(),
            other_tenant_path: "/other-tenant".into(),
            second_path: "/second".into(),
            keys: KeySource::Generate,
            subject: DEFAULT_SUBJECT.into(),
            default_audience: DEFAULT_AUDIENCE.into(),
            allowed_resources: None,
            scopes_supported: ["mcp:read", "mcp:write", "mcp:admin"]
                .map(String::from)
                .to_vec(),
            default_scope: "mcp:read".into(),
            signing_alg: Algorithm::Es256,
            access_token_lifetime: 300,
            code_lifetime: 60,
            refresh_token_lifetime: 3600,
            require_dpop_nonce: false,
            max_body_bytes: 64 * 1024,
            max_registered_clients: 10_000,
            device: DeviceFlowConfig::default(),
            faults: std::collections::BTreeSet::new(),
            protected_resources: Vec::new(),
            login: None,
            cimd: CimdConfig::default(),
        }
    }
}

/// How the IdP fetches client ID metadata documents (spec §2.7). The mock is a test IdP: it
/// fetches from the internal addresses it is told to (127.0.0.1, where the tool serves its
/// documents), and from no other (SSRF, CIMD §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdConfig {
    /// The internal (loopback, private, link-local…) addresses documents may be fetched from.
    pub internal_addresses_allowed: Vec<std::net::IpAddr>,
    /// The only CA certificates https fetches trust (PEM text, one or more certificates
    /// each); never the system's. With none, https documents cannot be fetched.
    pub trust_roots_pem: Vec<String>,
    /// One deadline for a whole fetch: connection, answer and body.
    pub fetch_timeout: Duration,
    /// Larger documents are refused (5000 bytes by default, as Keycloak's default).
    pub max_document_bytes: usize,
}

impl Default for CimdConfig {
    fn default() -> Self {
        Self {
            internal_addresses_allowed: vec![Ipv4Addr::LOCALHOST.into()],
            trust_roots_pem: Vec::new(),
            fetch_timeout: Duration::from_secs(5),
            max_document_bytes: 5000,
        }
    }
}

/// How the device authorization grant (RFC 8628) runs. The defaults keep tests quick: a 1 s
/// interval and approval after one `authorization_pending` answer, so the polling path runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFlowConfig {
    /// `expires_in` of device and user codes, in seconds.
    pub code_lifetime: i64,
    /// `interval`: seconds a client must wait between polls; 0 lets tests poll freely.
    pub interval: u32,
    /// Seconds a grant's interval grows by at each `slow_down` (RFC 8628 §3.5 says 5).
    pub slow_down_step: u32,
    /// Who decides on a pending grant.
    pub approval: DeviceApproval,
}

impl Default for DeviceFlowConfig {
    fn default() -> Self {
        Self {
            code_lifetime: 300,
            interval: 1,
            slow_down_step: 5,
            approval: DeviceApproval::ApproveAfter { pending_polls: 1 },
        }
    }
}

/// The decision the mock IdP takes by itself on a device grant (it has no real user). A
/// decision posted to the verification URI takes precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceApproval {
    /// Approved once this many polls have been answered `authorization_pending`.
    ApproveAfter { pending_polls: u32 },
    /// Denied once this many polls have been answered `authorization_pending`.
    DenyAfter { pending_polls: u32 },
    /// Pending until decided at the verification URI, or until it expires.
    Manual,
}

/// True if `path` is a usable issuer path: empty, or `/`-separated non-empty segments of
/// RFC 3986 unreserved characters (nothing axum's router would read as a pattern).
pub(crate) fn valid_issuer_path(path: &str) -> bool {
    path.is_empty()
        || path.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_paths() {
        for ok in ["", "/trusted", "/a/b-c", "/t~1.x"] {
            assert!(valid_issuer_path(ok), "{ok}");
        }
        for bad in [
            "trusted", "/", "/a/", "//a", "/{x}", "/*rest", "/a b", "/..", "/a/./b",
        ] {
            assert!(!valid_issuer_path(bad), "{bad}");
        }
    }
}
