//! The mock identity provider: an OAuth 2.1 authorization server over HTTP (axum) that serves
//! several issuers from one listener.
//!
//! # Issuer layout
//!
//! Every issuer has a path under the base URL (`http://127.0.0.1:<port>` unless a public base
//! URL is configured), so the RFC 8414 path-inserted metadata form is always exercised:
//!
//! | issuer | default path | signing keys |
//! |---|---|---|
//! | trusted (`I`, spec §0.3) | `/trusted` | its own `KeyRing` (kids `trusted-<alg>`) |
//! | rogue (`Ix`) | `/rogue` | its own `KeyRing` (kids `rogue-<alg>`) |
//! | other tenant | `/other-tenant` | the **trusted** ring: same keys, different `iss` (the multi-tenant mix-up) |
//! | second (`A2`, spec rs-multi-as-isolation) | `/second` | its own `KeyRing` (kids `second-<alg>`): a second authorization server a target may trust beside `I` |
//!
//! For an issuer `<I>` = `<base><p>` the server answers:
//!
//! | URL | what |
//! |---|---|
//! | `<origin>/.well-known/oauth-authorization-server<p>` | RFC 8414 metadata (path inserted) |
//! | `<origin>/.well-known/openid-configuration<p>` | OpenID discovery, path inserted |
//! | `<I>/.well-known/openid-configuration` | OpenID discovery, path appended |
//! | `<I>/jwks` | JWK Set, public keys only (plus keys published with `publish_key`); requests are counted (`jwks_requests`) |
//! | `<I>/authorize` | authorization endpoint (GET, auto-approves the test user; in login mode, `IdpConfig::login`, a login form instead) |
//! | `<I>/authorize/login`, `<I>/authorize/consent` | login mode: the login form's and the consent page's POST targets |
//! | `<I>/token` | token endpoint (POST, form; with the RFC 8693 token exchange grant, see `exchange`) |
//! | `<I>/par` | RFC 9126 pushed authorization requests (POST, form, client-authenticated as at the token endpoint; a DPoP proof binds the code, RFC 9449 §10.1) |
//! | `<I>/register` | RFC 7591 dynamic client registration (POST, JSON) |
//! | `<I>/introspect` | RFC 7662 introspection (POST, form, client-authenticated); tokens from `script_introspection` get their scripted answer |
//! | `<I>/device_authorization` | RFC 8628 device authorization (POST, form, client-authenticated as at the token endpoint) |
//! | `<I>/device` | RFC 8628 `verification_uri`: GET a form, POST `user_code` and `action=approve\|deny` |
//!
//! Device grants (RFC 8628) are decided by the IdP itself as `IdpConfig::device` says (by
//! default approved after one `authorization_pending` poll), or at `<I>/device`.
//!
//! Each issuer is its own authorization server: it has its own clients (the pre-registered
//! ones of [`clients`] exist at every issuer), codes, refresh tokens and opaque tokens.
//! Requests are routed by the full path of the public URL, so a reverse proxy in front of a
//! deployed server must forward paths unchanged.
//!
//! # Pre-registered clients (at every issuer)
//!
//! | client | authentication | grants | notes |
//! |---|---|---|---|
//! | [`CONFIDENTIAL_CLIENT_ID`] | secret (basic or post) | code, refresh, client_credentials, device code, token exchange (of no resource's tokens) | redirect URIs [`CONFIDENTIAL_REDIRECT_URIS`] |
//! | [`PUBLIC_CLIENT_ID`] | `none` | code, refresh, device code | loopback [`PUBLIC_REDIRECT_URIS`], any port |
//! | [`RESOURCE_SERVER_CLIENT_ID`] | secret | none | calls the introspection endpoint |
//! | [`OPAQUE_CLIENT_ID`] | secret | code, refresh, client_credentials, device code, token exchange (of no resource's tokens) | opaque access tokens |
//!
//! A `client_id` that starts with a URL scheme is a client ID metadata document URL (spec
//! §2.7): the IdP fetches it over https (trusting only `IdpConfig::cimd`'s CA certificates) and
//! uses it as a public client's metadata (rules in `server/cimd.rs`). A document that cannot be
//! used makes the client unknown: an error page at the authorization endpoint, `401
//! invalid_client` at the token endpoint and PAR.
//!
//! # Error conventions
//!
//! JSON errors are `{"error", "error_description"}` with `Cache-Control: no-store`:
//! `400` for every RFC 6749 §5.2 code (bodies over `max_body_bytes` included, as
//! `invalid_request`); `401 invalid_client` with `WWW-Authenticate: Basic` when client
//! authentication through the `Authorization` header failed or no credentials were sent
//! (failures with body credentials get `400 invalid_client`); `405` with `Allow` for a wrong
//! method; `404` for unknown paths. The authorization endpoint shows a 400 HTML page (never a
//! redirect) while the client or redirect URI is unknown, and redirects errors afterwards.
//! The device verification URI answers in HTML too: 400 with the reason a decision failed.
//! Refresh tokens of public clients that used DPoP are bound to the proof key (RFC 9449 §5);
//! a confidential client's refresh tokens are bound to its credentials instead.

mod authorize;
mod cimd;
mod client_auth;
pub mod clients;
mod config;
mod device;
mod dpop_check;
mod error;
mod exchange;
mod fault;
mod handle;
mod introspect;
mod jwks;
mod login;
mod metadata;
mod par;
mod params;
mod policy;
mod register;
mod state;
mod token;

pub use clients::{
    CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, CONFIDENTIAL_REDIRECT_URIS, Client,
    ClientAuthMethod, DEVICE_CODE_GRANT_TYPE, OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET,
    OPAQUE_REDIRECT_URI, PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS, RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET, TokenFormat,
};
pub use config::{
    CimdConfig, DEFAULT_AUDIENCE, DEFAULT_SUBJECT, DeviceApproval, DeviceFlowConfig, IdpConfig,
    KeySource, LoginConfig,
};
pub use exchange::{ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE};
pub use fault::{AsFault, UnknownAsFault};
pub use handle::{IdpError, IssuerUrls, MockIdp};
pub use introspect::IntrospectionScript;
pub use state::ResourceProfile;

/// Which of the served issuers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssuerKind {
    /// `I`: the issuer the target is configured to trust.
    Trusted,
    /// `Ix`: a rogue issuer with its own keys and JWKS.
    Rogue,
    /// An issuer that shares the trusted issuer's signing keys but has another `iss`.
    OtherTenant,
    /// A second authorization server with its own keys, which a target configured for two
    /// issuers trusts beside `I` (spec rs-multi-as-isolation: `A1` = `I`, `A2` = this one).
    Second,
}

impl IssuerKind {
    pub const ALL: [IssuerKind; 4] = [
        IssuerKind::Trusted,
        IssuerKind::Rogue,
        IssuerKind::OtherTenant,
        IssuerKind::Second,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            IssuerKind::Trusted => 0,
            IssuerKind::Rogue => 1,
            IssuerKind::OtherTenant => 2,
            IssuerKind::Second => 3,
        }
    }
}
