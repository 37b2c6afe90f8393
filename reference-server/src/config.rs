//! How the reference server is started.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mock_idp::alg::Algorithm;

use crate::fault::Fault;

/// The scope every tool call needs.
pub const BASE_SCOPE: &str = "mcp:read";
/// The extra scope the privileged tool needs (step-up tests).
pub const ADMIN_SCOPE: &str = "mcp:write";
/// A broader scope that implies both (scope-hierarchy tests).
pub const PARENT_SCOPE: &str = "mcp:admin";
/// The counted tool.
pub const CANARY_TOOL: &str = "canary";
/// The counted tool that needs `ADMIN_SCOPE` too.
pub const ADMIN_TOOL: &str = "admin_canary";
/// The credential the canary presents upstream (never the client's token).
pub const UPSTREAM_CREDENTIAL: &str = "reference-server-upstream-credential";

/// The asymmetric algorithms accepted by default.
pub const DEFAULT_ALGS: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
];

/// How successful JSON-RPC answers are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// `application/json`, unless the client accepts only `text/event-stream`.
    #[default]
    Json,
    /// Always `text/event-stream` (one `message` event per answer).
    Sse,
}

/// Whether the server takes DPoP-bound tokens (RFC 9449, SEP-1932).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer only; the DPoP scheme counts as unsupported.
    #[default]
    Off,
    /// Bearer and DPoP; a DPoP-bound token must come with the DPoP scheme and a proof.
    Optional,
    /// DPoP only (PRM `dpop_bound_access_tokens_required: true`); Bearer is refused.
    Required,
}

/// RFC 7662 introspection for opaque tokens (tokens that are not a compact JWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionConfig {
    pub endpoint: String,
    /// Client credentials, sent with HTTP Basic (RFC 7662 §2.1).
    pub client_id: String,
    pub client_secret: String,
    pub timeout: Duration,
}

impl IntrospectionConfig {
    pub fn new(endpoint: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            timeout: Duration::from_secs(3),
        }
    }
}

/// An authorization server trusted beside the main issuer (spec rs-multi-as-isolation): a
/// token's `iss` selects the issuer, and only that issuer's keys verify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The issuer identifier (`iss`, exact match).
    pub issuer: String,
    /// Where its keys are, fetched over HTTP and cached apart from every other issuer's.
    pub jwks_uri: String,
}

impl TrustedIssuer {
    pub fn new(issuer: &str, jwks_uri: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
        }
    }
}

/// The PRM members an issuer attests (a JSON object) → the compact JWS served as
/// `signed_metadata` (RFC 9728 §2.2). Signing is the issuer's business, so the server is
/// given a signer rather than the issuer's key; it runs once, at start.
#[derive(Clone)]
pub struct MetadataSigner(pub Arc<SignMetadata>);

/// The signing function of a `MetadataSigner`: metadata members in, compact JWS out.
pub type SignMetadata = dyn Fn(&serde_json::Map<String, serde_json::Value>) -> String + Send + Sync;

impl MetadataSigner {
    pub fn new(
        sign: impl Fn(&serde_json::Map<String, serde_json::Value>) -> String + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(sign))
    }
}

impl fmt::Debug for MetadataSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetadataSigner")
    }
}

/// How the reference server is started. `Config::new` is a complete compliant setup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The issuer whose tokens are accepted (`iss`, exact match).
    pub issuer: String,
    /// Where its keys are, fetched over HTTP; `None` = discovered from the issuer's RFC 8414
    /// (then OpenID Connect) metadata at start.
    pub jwks_uri: Option<String>,
    /// Further trusted authorization servers, each with its own keys; PRM
    /// `authorization_servers` lists them after `issuer`.
    pub additional_issuers: Vec<TrustedIssuer>,
    /// When set, the PRM carries `signed_metadata` made by this signer from its members.
    pub signed_metadata: Option<MetadataSigner>,
    /// The resource identifier `R`; default the MCP endpoint URL `http://<addr>/mcp`.
    pub resource: Option<String>,
    pub faults: BTreeSet<Fault>,
    /// Clock leeway for exp/nbf/iat, seconds.
    pub leeway_secs: i64,
    /// Minimum interval between two JWKS fetches triggered by unknown kids.
    pub jwks_min_refresh: Duration,
    /// The scope every tool needs (`CANARY_TOOL`).
    pub base_scope: String,
    /// The extra scope `ADMIN_TOOL` needs.
    pub step_up_scope: String,
    /// Broader scopes and the scopes each implies (V3 scope hierarchies).
    pub scope_hierarchy: BTreeMap<String, BTreeSet<String>>,
    pub response_mode: ResponseMode,
    /// RFC 9068 profile: `typ` must be `at+jwt`, and `client_id`, `iat`, `jti` are required.
    /// Off: any `typ` of an access token (`JWT`, absent) is accepted, other explicit types are
    /// still refused, and only `iss`, `aud`, `exp`, `sub` are required.
    pub rfc9068_profile: bool,
    /// Require `base_scope` on every request, not only on the tools (spec OQ-33: many servers
    /// do): a token without it gets 403 insufficient_scope already at `initialize`.
    pub scope_on_every_request: bool,
    /// Algorithms accepted on access tokens; symmetric ones are refused at start.
    pub allowed_algs: Vec<Algorithm>,
    /// Algorithms accepted on DPoP proofs (and advertised for them); symmetric ones are
    /// refused at start. Separate from `allowed_algs`: a validator configured for one token
    /// algorithm may take proofs of several.
    pub dpop_algs: Vec<Algorithm>,
    /// Opaque-token mode: tokens that are not a compact JWS are introspected.
    pub introspection: Option<IntrospectionConfig>,
    /// Where every canary call is reported (POST), as a harness-observable side effect.
    pub canary_upstream: Option<String>,
    /// Origins allowed on requests that carry `Origin` (DNS-rebinding guard); `None` allows
    /// loopback origins only. Requests without `Origin` are always allowed.
    pub allowed_origins: Option<Vec<String>>,
    /// DPoP support (default off).
    pub dpop: DpopMode,
    /// With DPoP on: demand a server nonce in every proof (RFC 9449 §9).
    pub dpop_nonce: bool,
}

impl Config {
    /// A compliant server on an ephemeral loopback port trusting `issuer` with keys at `jwks_uri`.
    pub fn new(issuer: &str, jwks_uri: &str) -> Self {
        let mut config = Self::discover(issuer);
        config.jwks_uri = Some(jwks_uri.to_owned());
        config
    }

    /// As `new`, with the JWKS URL discovered from the issuer's metadata at start.
    pub fn discover(issuer: &str) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            issuer: issuer.to_owned(),
            jwks_uri: None,
            additional_issuers: Vec::new(),
            signed_metadata: None,
            resource: None,
            faults: BTreeSet::new(),
            leeway_secs: 60,
            jwks_min_refresh: Duration::from_secs(10),
            base_scope: BASE_SCOPE.to_owned(),
            step_up_scope: ADMIN_SCOPE.to_owned(),
            scope_hierarchy: BTreeMap::from([(
                PARENT_SCOPE.to_owned(),
                BTreeSet::from([BASE_SCOPE.to_owned(), ADMIN_SCOPE.to_owned()]),
            )]),
            response_mode: ResponseMode::Json,
            rfc9068_profile: true,
            scope_on_every_request: false,
            allowed_algs: DEFAULT_ALGS.to_vec(),
            dpop_algs: DEFAULT_ALGS.to_vec(),
            introspection: None,
            canary_upstream: None,
            allowed_origins: None,
            dpop: DpopMode::Off,
            dpop_nonce: false,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.insert(fault);
        self
    }

    pub fn with_faults(mut self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.faults.extend(faults);
        self
    }

    /// Every scope the server knows, for `scopes_supported`.
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut all = vec![self.base_scope.clone(), self.step_up_scope.clone()];
        for parent in self.scope_hierarchy.keys() {
            if !all.contains(parent) {
                all.push(parent.clone());
            }
        }
        all
    }
}
