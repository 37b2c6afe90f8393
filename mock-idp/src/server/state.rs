//! Shared server state: the issuers, and per issuer its clients, authorization codes, device
//! grants, refresh-token families, opaque tokens, scripted introspection answers, keys
//! published beside the ring (rotation), the JWKS request count, DPoP nonces and seen proof
//! `jti`s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde_json::{Map, Value};

use super::clients::Client;
use super::config::IdpConfig;
use super::device::DeviceGrants;
use super::introspect::IntrospectionScript;
use crate::alg::Algorithm;
use crate::dpop::DpopValidator;
use crate::jws::Verifier;
use crate::keys::SigningKey;
use crate::keystore::KeyRing;
use crate::random_b64url;

/// How long a DPoP nonce stays acceptable.
pub(crate) const NONCE_LIFETIME: i64 = 300;
/// Pruning runs when a table grows past this many entries.
const PRUNE_THRESHOLD: usize = 4096;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub issuers: Vec<Issuer>,
    pub config: IdpConfig,
    pub base_url: String,
    clock_offset: AtomicI64,
    pub require_dpop_nonce: AtomicBool,
    /// Validates DPoP proofs at every token endpoint (its replay cache is keyed by `htu`).
    pub dpop: DpopValidator,
    /// What a run learned about the resource servers tokens are issued for (keyed by resource
    /// identifier): the scopes they require and the algorithm they accept.
    resources: RwLock<HashMap<String, ResourceProfile>>,
    /// Every credential that crossed the token and device authorization endpoints (client
    /// secrets and assertions, codes, PKCE verifiers, device codes, access and refresh
    /// tokens), so a test can prove that a tool driving this IdP never shows one.
    exchanged: std::sync::Mutex<Vec<String>>,
    /// Fetches and caches client ID metadata documents (spec §2.7).
    pub cimd: super::cimd::CimdResolver,
}

/// A resource server as the IdP issues for it: the scopes it requires (granted even when not
/// in `scopes_supported`, since the mock IdP serves whatever server it is pointed at) and the
/// signing algorithm its validator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceProfile {
    pub scopes: Vec<String>,
    pub signing_alg: Algorithm,
}

impl Shared {
    pub fn new(
        issuers: Vec<Issuer>,
        config: IdpConfig,
        base_url: String,
        cimd: super::cimd::CimdResolver,
    ) -> Self {
        let nonce = config.require_dpop_nonce;
        let dpop = super::dpop_check::validator(&config.faults);
        Self {
            issuers,
            config,
            base_url,
            clock_offset: AtomicI64::new(0),
            require_dpop_nonce: AtomicBool::new(nonce),
            dpop,
            resources: RwLock::default(),
            exchanged: std::sync::Mutex::default(),
            cimd,
        }
    }

    /// Records credentials an endpoint received or gave (empty values are not credentials).
    pub fn record_exchanged<'a>(&self, members: impl IntoIterator<Item = &'a str>) {
        let mut exchanged = self.exchanged.lock().unwrap_or_else(|p| p.into_inner());
        exchanged.extend(
            members
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        );
    }

    pub fn exchanged(&self) -> Vec<String> {
        self.exchanged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn register_resource(&self, resource: &str, profile: ResourceProfile) {
        self.resources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(resource.to_owned(), profile);
    }

    /// Whether `scope` is supported: configured, or required by a registered resource server.
    pub fn supports_scope(&self, scope: &str) -> bool {
        self.config.scopes_supported.iter().any(|s| s == scope)
            || self
                .resources
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|r| r.scopes.iter().any(|s| s == scope))
    }

    /// The algorithm tokens for `audience` are signed with: the registered resource's, else
    /// the configured one.
    pub fn signing_alg_for(&self, audience: &Value) -> Algorithm {
        let registered = self.resources.read().unwrap_or_else(|p| p.into_inner());
        let first = match audience {
            Value::String(s) => Some(s.as_str()),
            Value::Array(items) => items.first().and_then(Value::as_str),
            _ => None,
        };
        first
            .and_then(|aud| registered.get(aud))
            .map_or(self.config.signing_alg, |r| r.signing_alg)
    }

    /// The server's clock: Unix time plus the test offset.
    pub fn now(&self) -> i64 {
        crate::unix_now() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// The server's clock in milliseconds: device-flow polls are paced below the second.
    pub fn now_millis(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        wall.saturating_add(
            self.clock_offset
                .load(Ordering::Relaxed)
                .saturating_mul(1000),
        )
    }

    pub fn advance_clock(&self, seconds: i64) {
        self.clock_offset.fetch_add(seconds, Ordering::Relaxed);
    }

    pub fn dpop_nonce_required(&self) -> bool {
        self.require_dpop_nonce.load(Ordering::Relaxed)
    }
}

/// One issuer: identity, keys and state.
pub(crate) struct Issuer {
    /// The issuer identifier, exactly as published.
    pub id: String,
    /// Its path on the server (`""` or `/seg…`).
    pub path: String,
    pub ring: KeyRing,
    /// Verifies this issuer's own JWTs (introspection of JWT access tokens).
    pub verifier: Verifier,
    pub state: Mutex<IssuerState>,
    /// How many times the JWKS was requested: lets a check count a target's refetches
    /// (spec rs-kid-unknown, bounded refresh).
    pub jwks_requests: AtomicU64,
}

impl Issuer {
    pub fn new(id: String, path: String, ring: KeyRing) -> Self {
        let algs: Vec<Algorithm> = ring.keys().iter().map(SigningKey::alg).collect();
        let verifier =
            Verifier::new(&algs).with_keys(ring.keys().iter().map(SigningKey::verifying_key));
        Self {
            id,
            path,
            ring,
            verifier,
            state: Mutex::new(IssuerState::new(Client::preregistered())),
            jwks_requests: AtomicU64::new(0),
        }
    }

    /// `<issuer>/<name>`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.id)
    }

    /// The key this issuer signs with for `alg` (the ring's default if it has none).
    pub fn signing_key(&self, alg: Algorithm) -> &SigningKey {
        self.ring
            .get(alg)
            .unwrap_or_else(|| self.ring.default_key())
    }

    /// The state, even if a handler panicked while holding it (it never should).
    pub fn lock(&self) -> MutexGuard<'_, IssuerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The axum state of one issuer's routes.
#[derive(Clone)]
pub(crate) struct IssuerCtx {
    pub shared: Arc<Shared>,
    pub idx: usize,
}

impl IssuerCtx {
    pub fn issuer(&self) -> &Issuer {
        &self.shared.issuers[self.idx]
    }
}

/// An authorization code waiting to be redeemed (or already redeemed, kept to detect reuse).
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named it (then the token request must repeat it).
    pub redirect_uri_explicit: bool,
    pub code_challenge: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    /// RFC 9449 §10 `dpop_jkt` of the authorization request.
    pub dpop_jkt: Option<String>,
    pub expires_at: i64,
    /// The family of tokens the first redemption produced.
    pub redeemed: Option<u64>,
}

/// A refresh token. Used ones are kept until they expire, to detect replay.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub family: u64,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    /// Thumbprint of the DPoP key the token is bound to (public clients, RFC 9449 §5).
    pub jkt: Option<String>,
    pub expires_at: i64,
    pub used: bool,
}

/// Everything issued from one grant (a code redemption, or a client-credentials request):
/// revoked together on code reuse or refresh-token replay.
#[derive(Debug, Clone, Default)]
pub(crate) struct Family {
    pub revoked: bool,
    pub access_jtis: Vec<(String, i64)>,
    pub opaque: Vec<String>,
    pub refresh: Vec<String>,
    pub expires_at: i64,
}

/// An opaque access token and the introspection answer it stands for.
#[derive(Debug, Clone)]
pub(crate) struct OpaqueToken {
    pub claims: Map<String, Value>,
}

#[derive(Default)]
pub(crate) struct IssuerState {
    pub clients: HashMap<String, Client>,
    pub registered: usize,
    /// RFC 7592 registration access tokens of the dynamically registered clients, by client.
    pub registration_tokens: HashMap<String, String>,
    pub codes: HashMap<String, CodeGrant>,
    pub devices: DeviceGrants,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub families: HashMap<u64, Family>,
    pub opaque: HashMap<String, OpaqueToken>,
    /// Tokens whose introspection answer is scripted.
    pub scripted: HashMap<String, IntrospectionScript>,
    /// Keys published in the JWKS beside the ring's (a rotated-in key), in publication order.
    pub published: Vec<SigningKey>,
    /// Revoked JWT access tokens, by `jti` and by signature (a token minted without `jti`
    /// under a fault is revoked too), with their `exp`.
    pub revoked_jtis: HashMap<String, i64>,
    /// Signatures, with `exp`, of access tokens signed with a key the JWKS does not publish
    /// (`AsFault::AtKeyUnpublished`): still this issuer's own tokens to introspect.
    pub unpublished_signatures: HashMap<String, i64>,
    nonces: HashMap<String, i64>,
    /// RFC 9126 pushed authorization requests by `request_uri`, each used once.
    pub pushed: HashMap<String, PushedRequest>,
    next_family: u64,
}

/// A pushed authorization request (RFC 9126).
pub(crate) struct PushedRequest {
    pub client_id: String,
    /// The authorization request's parameters, as a query string.
    pub query: String,
    pub expires_at: i64,
}

impl IssuerState {
    pub fn new(clients: Vec<Client>) -> Self {
        Self {
            clients: clients
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            ..Self::default()
        }
    }

    pub fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.families.insert(self.next_family, Family::default());
        self.next_family
    }

    /// Revokes every token of a family: its refresh tokens can no longer be used, its opaque
    /// tokens disappear, its JWTs introspect as inactive.
    pub fn revoke_family(&mut self, id: u64) {
        let Some(family) = self.families.get_mut(&id) else {
            return;
        };
        family.revoked = true;
        for (jti, exp) in std::mem::take(&mut family.access_jtis) {
            self.revoked_jtis.insert(jti, exp);
        }
        for token in std::mem::take(&mut family.opaque) {
            self.opaque.remove(&token);
        }
        for rt in &family.refresh {
            if let Some(g) = self.refresh_tokens.get_mut(rt) {
                g.used = true;
            }
        }
    }

    pub fn family_revoked(&self, id: u64) -> bool {
        self.families.get(&id).is_none_or(|f| f.revoked)
    }

    /// A fresh DPoP nonce (NQCHAR: base64url characters only).
    pub fn issue_nonce(&mut self, now: i64) -> String {
        self.maybe_prune(now);
        let nonce = random_b64url(24);
        self.nonces.insert(nonce.clone(), now + NONCE_LIFETIME);
        nonce
    }

    pub fn nonce_valid(&self, nonce: &str, now: i64) -> bool {
        self.nonces.get(nonce).is_some_and(|&exp| now < exp)
    }

    /// Drops expired entries when a table has grown large.
    pub fn maybe_prune(&mut self, now: i64) {
        let big = [
            self.codes.len(),
            self.devices.len(),
            self.refresh_tokens.len(),
            self.families.len(),
            self.opaque.len(),
            self.scripted.len(),
            self.revoked_jtis.len(),
            self.nonces.len(),
            self.pushed.len(),
        ]
        .into_iter()
        .any(|n| n > PRUNE_THRESHOLD);
        if big {
            self.prune(now);
        }
    }

    pub fn prune(&mut self, now: i64) {
        self.codes.retain(|_, c| now < c.expires_at);
        self.devices.prune(now);
        self.refresh_tokens.retain(|_, r| now < r.expires_at);
        self.families.retain(|_, f| now < f.expires_at);
        self.opaque.retain(|_, t| {
            t.claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_none_or(|exp| now < exp)
        });
        self.revoked_jtis.retain(|_, exp| now < *exp);
        self.unpublished_signatures.retain(|_, exp| now < *exp);
        self.nonces.retain(|_, exp| now < *exp);
        self.pushed.retain(|_, p| now < p.expires_at);
        // Scripts have no expiry; past the threshold the table is simply emptied (a script
        // is used within seconds of being written).
        if self.scripted.len() > PRUNE_THRESHOLD {
            self.scripted.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_revocation_reaches_every_token() {
        let mut st = IssuerState::new(Vec::new());
        let f = st.new_family();
        st.families.get_mut(&f).unwrap().expires_at = i64::MAX;
        st.refresh_tokens.insert(
            "rt".into(),
            RefreshGrant {
                family: f,
                client_id: "c".into(),
                subject: "s".into(),
                scope: String::new(),
                resources: Vec::new(),
                jkt: None,
                expires_at: i64::MAX,
                used: false,
            },
        );
        let fam = st.families.get_mut(&f).unwrap();
        fam.refresh.push("rt".into());
        fam.access_jtis.push(("j1".into(), i64::MAX));
        fam.opaque.push("op".into());
        st.opaque
            .insert("op".into(), OpaqueToken { claims: Map::new() });
        assert!(!st.family_revoked(f));
        st.revoke_family(f);
        assert!(st.family_revoked(f));
        assert!(st.refresh_tokens["rt"].used);
        assert!(st.revoked_jtis.contains_key("j1"));
        assert!(st.opaque.is_empty());
    }

    #[test]
    fn nonces() {
        let mut st = IssuerState::default();
        let n = st.issue_nonce(100);
        assert!(st.nonce_valid(&n, 100));
        assert!(!st.nonce_valid(&n, 100 + NONCE_LIFETIME));
        assert!(!st.nonce_valid("other", 100));
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
