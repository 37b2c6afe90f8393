//! What every check runs against: the target, the recording HTTP driver, discovery results, the
//! valid-token defaults, and the token source.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mock_idp::alg::Algorithm;
use mock_idp::dpop::ProofBuilder;
use mock_idp::keys::SigningKey;
use mock_idp::keystore::{RING_ALGORITHMS, demo_ring, kid_for};
use mock_idp::server::{IssuerKind, MockIdp};
use mock_idp::token::TokenSpec;
use serde_json::Value;

use crate::engine::accepted::{self, Calibration};
use crate::engine::clock::ServerClock;
use crate::engine::discovery::Discovery;
use crate::engine::probe::{self, Credential};
use crate::http::{Driver, Exchange};
use crate::model::{Profile, SpecVersion};
use crate::source::{IssuedTokens, Scheme};

/// The run's view of the target.
pub struct Context {
    pub driver: Driver,
    /// The MCP endpoint `E`.
    pub endpoint: String,
    pub discovery: Discovery,
    /// `aud` of valid tokens: as calibrated (PRM `resource` first), unless overridden.
    pub audience: String,
    /// `scope` of valid tokens: as calibrated (the challenge's, else `scopes_supported`),
    /// unless overridden.
    pub scope: String,
    /// What calibration found the target to accept as `V` (algorithm, `typ`, and the
    /// audience and scope above).
    pub calibration: Calibration,
    /// The MCP revision in force (`--spec-version`, default the newest).
    pub spec_version: SpecVersion,
    /// The profiles in force: declared (`--profile`) or detected from what the target says.
    pub profiles: Vec<Profile>,
    /// A key the trusted issuer published right after calibration, for rs.token.jwks-rotation
    /// (spec OQ-32: publish early, use late).
    pub rotated_key: Option<RotatedKey>,
    /// Arguments of the tools the checks call (`--step-up-args`, `--canary-args`), by tool
    /// name; a tool not listed is called with `{}`.
    pub tool_arguments: std::collections::BTreeMap<String, Value>,
    /// The embedded mock IdP the target trusts, when tokens can be minted.
    pub idp: Option<Arc<MockIdp>>,
    /// Tokens the target's own authorization server issued (a token source), when the target
    /// does not trust the mock IdP.
    pub issued: Option<Arc<IssuedTokens>>,
    /// A tool that needs a scope beyond `scope`, for the step-up checks.
    pub step_up: Option<StepUp>,
    /// Reads how many canary calls the target processed (spec §0.3 Canary), when observable.
    pub canary: Option<Canary>,
    /// Held by checks while they call tools, so a canary count or upstream log one check
    /// reads is not moved by another check running at the same time.
    pub tool_calls: tokio::sync::Mutex<()>,
    /// The target's clock as estimated from its `Date` header (tp-clock).
    pub clock: ServerClock,
    /// The client's DPoP keys and the last server nonce (spec §0.3 `K_c`, `P`).
    pub dpop: DpopClient,
}

/// The DPoP client: its keys (`K_c` per algorithm, and `K_c2` for key-mismatch rows) and the
/// last nonce the target supplied, which later proofs carry (RFC 9449 §8).
pub struct DpopClient {
    keys: &'static DpopKeys,
    nonce: Mutex<Option<String>>,
}

struct DpopKeys {
    ring: LazyRing,
    other: OnceLock<SigningKey>,
    /// ES512: an algorithm targets seldom advertise (rs.dpop.alg-unsupported).
    es512: OnceLock<SigningKey>,
}

/// Keys are made once per process and shared by every run.
static DPOP_KEYS: DpopKeys = DpopKeys {
    ring: LazyRing::new("dpop-client"),
    other: OnceLock::new(),
    es512: OnceLock::new(),
};

/// Whether rings come from the embedded demo's published keys (`DpopClient::use_demo_keys`).
static DEMO_KEYS: AtomicBool = AtomicBool::new(false);

/// One key per algorithm of `RING_ALGORITHMS`, each made the first time it is asked for: an
/// RSA key takes tens of milliseconds to generate, and a target often takes one algorithm.
/// After `DpopClient::use_demo_keys` a prefix with a published demo ring takes its keys.
pub struct LazyRing {
    prefix: &'static str,
    keys: [OnceLock<SigningKey>; RING_ALGORITHMS.len()],
}

impl LazyRing {
    pub const fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            keys: [const { OnceLock::new() }; RING_ALGORITHMS.len()],
        }
    }

    /// The key of `alg` (`<prefix>-<alg>`); `None` for an algorithm rings do not carry.
    pub fn get(&self, alg: Algorithm) -> Option<&SigningKey> {
        let index = RING_ALGORITHMS.iter().position(|&a| a == alg)?;
        Some(self.keys[index].get_or_init(|| {
            let published = DEMO_KEYS
                .load(Ordering::Relaxed)
                .then(|| demo_ring(self.prefix)?.get(alg).cloned())
                .flatten();
            published.unwrap_or_else(|| {
                SigningKey::generate(alg)
                    .expect("key generation works")
                    .with_kid(kid_for(self.prefix, alg))
            })
        }))
    }
}

/// The algorithms the client can sign proofs with, in preference order.
pub const DPOP_ALGS: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
];

impl DpopClient {
    pub fn new() -> Self {
        Self {
            keys: &DPOP_KEYS,
            nonce: Mutex::new(None),
        }
    }

    /// From now on, the keys not made yet are the embedded demo's published ones
    /// (`fixtures/keys/demo`), for a process that runs against the embedded demo: no key is
    /// generated on its critical path. Never for a deployed target, whose tokens would be
    /// bound to keys everyone holds.
    pub fn use_demo_keys() {
        DEMO_KEYS.store(true, Ordering::Relaxed);
    }

    /// `K_c` (ES256).
    pub fn key(&self) -> &'static SigningKey {
        self.key_for(Algorithm::Es256)
            .unwrap_or_else(|| self.other_key())
    }

    /// `K_c` for another algorithm.
    pub fn key_for(&self, alg: Algorithm) -> Option<&'static SigningKey> {
        match alg {
            Algorithm::Es512 => Some(self.keys.es512.get_or_init(|| {
                SigningKey::generate(Algorithm::Es512).expect("key generation works")
            })),
            _ => self.keys.ring.get(alg),
        }
    }

    /// `K_c2`: a second ES256 key the tokens are never bound to.
    pub fn other_key(&self) -> &'static SigningKey {
        self.keys
            .other
            .get_or_init(|| SigningKey::generate(Algorithm::Es256).expect("key generation works"))
    }

    /// The nonce the target last supplied.
    pub fn nonce(&self) -> Option<String> {
        self.nonce.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_nonce(&self, nonce: &str) {
        *self.nonce.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce.to_owned());
    }
}

impl Default for DpopClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The RFC 7638 thumbprint of a key's public JWK (the `cnf.jkt` value).
/// `dpop` → `Dpop`, `content-type` → `Content-Type`: how the request records the names the
/// title-casing client writes.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Whether a published key is of the type `alg` signs with.
fn fits(jwk: &mock_idp::jwk::Jwk, alg: Algorithm) -> bool {
    use mock_idp::alg::KeyFamily;
    match alg.key_family() {
        KeyFamily::Ec(curve) => jwk.ec_curve() == Some(curve),
        KeyFamily::Rsa => jwk.kty() == "RSA",
        KeyFamily::Ed25519 => jwk.kty() == "OKP",
        KeyFamily::Symmetric => false,
    }
}

pub fn jkt_of(key: &SigningKey) -> String {
    mock_idp::dpop::proof::minimal_public_jwk(key).thumbprint()
}

/// A key published in the trusted issuer's JWKS after the target cached it, and how many
/// JWKS requests the issuer had answered then (later ones served the key).
#[derive(Debug, Clone)]
pub struct RotatedKey {
    pub key: SigningKey,
    pub published: std::time::Instant,
    pub jwks_requests_before: u64,
}

/// The canary tool and a way to read its side-effect count.
#[derive(Clone)]
pub struct Canary {
    pub tool: String,
    pub count: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// What the canary's upstream API received, when the harness plays that upstream.
    pub upstream: Option<UpstreamLog>,
}

/// The raw HTTP requests a harness-controlled upstream API received (spec §0.3 Canary), so a
/// check can see what the target forwards upstream (rs-token-passthrough).
#[derive(Clone)]
pub struct UpstreamLog {
    url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl UpstreamLog {
    /// An empty log for the upstream API at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            requests: Arc::default(),
        }
    }

    /// Where the upstream API listens: also the audience of tokens meant for it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// At most this many requests are kept; later ones are dropped (a hostile target cannot
    /// grow the log without bound).
    pub const MAX_REQUESTS: usize = 10_000;

    pub fn record(&self, raw: Vec<u8>) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if requests.len() < Self::MAX_REQUESTS {
            requests.push(raw);
        }
    }

    /// How many requests were recorded so far: a mark for `since`.
    pub fn len(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The requests recorded after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Vec<u8>> {
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests.get(mark..).unwrap_or_default().to_vec()
    }
}

/// A tool whose call needs `extra_scope` on top of the default scope.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub tool: String,
    pub extra_scope: String,
    /// A broader scope the operator declares to imply `extra_scope` (V3 scope hierarchies,
    /// spec OQ-28: not discoverable, so only from configuration).
    pub parent_scope: Option<String>,
}

impl Context {
    /// Where the run's valid tokens come from, in one line for the report header.
    pub fn token_source(&self) -> String {
        match (&self.issued, &self.idp) {
            (Some(issued), _) => format!(
                "the target's own authorization server: {}",
                issued.describe()
            ),
            (None, Some(idp)) => {
                format!("minted by the mock IdP {} the target trusts", idp.issuer())
            }
            (None, None) => "none: only the checks that need no valid token run".to_owned(),
        }
    }

    /// The valid token `V` as a spec (spec §0.3), when tokens can be minted: the `typ` the
    /// target accepted; `iat` and `exp` follow the target's clock when it differs from ours.
    pub fn valid_spec(&self) -> Option<TokenSpec> {
        let idp = self.idp.as_ref()?;
        Some(accepted::valid_spec(
            idp,
            &self.clock,
            &self.audience,
            &self.scope,
            self.token_typ(),
        ))
    }

    /// Whether a challenge is due to name scopes (spec rs-401-scope-hint: "the scopes needed
    /// for the request"): not for a target that takes a valid token without any scope and
    /// lists no `scopes_supported`, since it needs none.
    pub fn scope_hint_due(&self) -> bool {
        let lists_scopes = self
            .discovery
            .prm
            .as_ref()
            .is_some_and(|p| !p.strings("scopes_supported").is_empty());
        match self.calibration.found() {
            Some(found) => found.scope_required || lists_scopes,
            None => true,
        }
    }

    /// The arguments to call `tool` with.
    pub fn arguments_for(&self, tool: &str) -> Value {
        self.tool_arguments
            .get(tool)
            .cloned()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
    }

    /// Adds profiles the user declared to those detected.
    pub fn declare_profiles(&mut self, declared: &[Profile]) {
        for p in declared {
            if !self.profiles.contains(p) {
                self.profiles.push(*p);
            }
        }
        self.profiles.sort();
    }

    /// The algorithm `V` is signed with (ES256 until calibration found another; a real
    /// token's own `alg`).
    pub fn token_alg(&self) -> Algorithm {
        match &self.calibration {
            Calibration::Issued(i) => i
                .alg
                .as_deref()
                .and_then(Algorithm::from_name)
                .unwrap_or(Algorithm::Es256),
            other => other.found().map_or(Algorithm::Es256, |a| a.alg),
        }
    }

    /// `typ` of `V`.
    pub fn token_typ(&self) -> &'static str {
        self.calibration.found().map_or("at+jwt", |a| a.typ)
    }

    /// Whether the target accepted `V` signed with `alg` (an algorithm-specific attack on a
    /// key the target never trusts proves nothing). Without calibration: every algorithm.
    pub fn accepts_alg(&self, alg: Algorithm) -> bool {
        match &self.calibration {
            Calibration::Found(a) => a.algs.contains(&alg),
            Calibration::Issued(_) => alg == self.token_alg(),
            _ => true,
        }
    }

    /// The target's current time (Unix seconds): the base of every time-based stimulus.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The key of issuer `kind` for the calibrated algorithm (`K_as`, `K_x`, …).
    pub fn signing_key(&self, kind: IssuerKind) -> Option<&SigningKey> {
        Some(self.idp.as_ref()?.key_for(kind, self.token_alg()))
    }

    /// `K_x`, a key the target must not trust, of `V`'s algorithm: the rogue issuer's when
    /// the mock IdP mints, else the tool's own.
    pub fn attacker_key(&self) -> &SigningKey {
        if let Some(idp) = &self.idp {
            return idp.key_for(IssuerKind::Rogue, self.token_alg());
        }
        static TOOL_KEYS: LazyRing = LazyRing::new("mcp-authspec");
        TOOL_KEYS
            .get(self.token_alg())
            .or_else(|| TOOL_KEYS.get(Algorithm::Es256))
            .expect("the ring holds an ES256 key")
    }

    /// The real token in use as a JWS, with the authorization server's published key that
    /// verifies it (by `kid`, else the only key of its algorithm's type), for derived stimuli.
    pub fn issued_jws(&self) -> Option<mock_idp::forge::IssuedToken> {
        let issued = self.issued.as_ref()?;
        let token = issued.current()?;
        let parsed = mock_idp::forge::IssuedToken::parse(&token.token).ok()?;
        let keys = issued
            .published_keys
            .as_ref()
            .and_then(|jwks| jwks.get("keys"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let jwks: Vec<mock_idp::jwk::Jwk> = keys
            .iter()
            .filter_map(|k| mock_idp::jwk::Jwk::from_json(k).ok())
            .collect();
        let by_kid = parsed
            .kid()
            .and_then(|kid| jwks.iter().find(|k| k.kid.as_deref() == Some(kid)));
        let alg = Algorithm::from_name(parsed.alg());
        let by_type = || {
            let fitting: Vec<_> = jwks
                .iter()
                .filter(|k| alg.is_some_and(|a| fits(k, a)))
                .collect();
            (fitting.len() == 1).then(|| fitting[0])
        };
        match by_kid.or_else(by_type) {
            Some(jwk) => Some(parsed.with_public_key(jwk.clone())),
            None => Some(parsed),
        }
    }

    /// The trusted issuer's JWKS URL: the mock IdP's, or the one the target's authorization
    /// server publishes.
    pub fn trusted_jwks_url(&self) -> Option<String> {
        if let Some(idp) = &self.idp {
            return Some(idp.jwks_url());
        }
        self.discovery
            .authorization_servers
            .first()?
            .document
            .str("jwks_uri")
            .map(str::to_owned)
    }

    /// Mints with the trusted issuer's key.
    pub fn mint(&self, spec: &TokenSpec) -> Option<String> {
        self.mint_as(IssuerKind::Trusted, spec)
    }

    /// Mints as another issuer (rogue, other tenant, second) with its key of the calibrated
    /// algorithm.
    pub fn mint_as(&self, kind: IssuerKind, spec: &TokenSpec) -> Option<String> {
        Some(spec.mint(self.signing_key(kind)?))
    }

    /// `V`: minted by the trusted mock IdP, or the Bearer token the token source issued.
    pub fn valid_token(&self) -> Option<String> {
        if self.idp.is_some() {
            return self.mint(&self.valid_spec()?);
        }
        let issued = self.issued.as_ref()?.bearer.as_ref()?.current()?;
        (issued.scheme == Scheme::Bearer).then_some(issued.token)
    }

    /// A real token of the target's authorization server for `--other-resource`.
    pub fn other_resource_token(&self) -> Option<String> {
        let other = self.issued.as_ref()?.other_resource.as_ref()?;
        other.token(mock_idp::unix_now())
    }

    /// Two valid Bearer tokens of different subjects (alice's, bob's): minted, or the token
    /// source's first and second principal. The error says why there are no such two (an
    /// Error of the check, not a verdict on the target).
    pub async fn two_principals(&self) -> Result<(String, String), String> {
        if self.idp.is_some() {
            let spec = self.valid_spec().ok_or("no valid token spec")?;
            let alice = self.mint(&spec.clone().subject("alice"));
            let bob = self.mint(&spec.subject("bob"));
            return alice.zip(bob).ok_or_else(|| "minting failed".to_owned());
        }
        self.refresh_tokens().await?;
        let issued = self.issued.as_ref().ok_or("no token source")?;
        let current = |s: &Option<crate::source::TokenSource>| {
            s.as_ref()
                .and_then(crate::source::TokenSource::current)
                .filter(|i| i.scheme == Scheme::Bearer)
        };
        let (first, second) = current(&issued.bearer)
            .zip(current(&issued.second))
            .ok_or("the token source gave no Bearer token for one of the two principals")?;
        let subject = |token: &str| {
            crate::source::jwt_claims(token)
                .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned))
        };
        if let (Some(a), Some(b)) = (subject(&first.token), subject(&second.token))
            && a == b
        {
            return Err(format!(
                "the first and second principal's tokens both name the subject {a:?}: give the                  second principal another user's or client's token"
            ));
        }
        Ok((first.token, second.token))
    }

    /// Renews the token source's tokens that are near `exp` (before a positive control uses
    /// them); the error says why no fresh token could be had.
    pub async fn refresh_tokens(&self) -> Result<(), String> {
        let Some(issued) = &self.issued else {
            return Ok(());
        };
        let now = mock_idp::unix_now();
        for source in [&issued.bearer, &issued.bound, &issued.second]
            .into_iter()
            .flatten()
        {
            source.ensure_fresh(now).await.map_err(|e| e.to_string())?;
        }
        if let Some(other) = &issued.other_resource {
            other.renew(now).await;
        }
        Ok(())
    }

    /// Sends one MCP message with the given credential.
    pub async fn send(
        &self,
        credential: &Credential,
        session: Option<&str>,
        body: &Value,
    ) -> Exchange {
        self.driver
            .send(probe::rpc(&self.endpoint, credential, session, body))
            .await
    }

    /// Serialises tool calls across concurrently running checks while the guard lives: every
    /// check that calls a tool (successfully or not) holds it, so canary counts and upstream
    /// logs are attributable to the check that reads them.
    pub async fn tool_calls_exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.tool_calls.lock().await
    }

    /// `initialize` with the credential: the basic probe `Req(h)`.
    pub async fn initialize(&self, credential: &Credential) -> Exchange {
        self.send(credential, None, &probe::initialize_body()).await
    }

    /// `initialize` with the field names title-cased on the wire (`Dpop:`, `Authorization:`).
    pub async fn initialize_title_case(&self, credential: &Credential) -> Exchange {
        let mut request = probe::rpc(&self.endpoint, credential, None, &probe::initialize_body());
        for (name, _) in &mut request.headers {
            *name = title_case(name);
        }
        self.driver.send_title_case(request).await
    }

    /// `initialize` sent to the endpoint with `query` (no `?`) added to its URL.
    pub async fn initialize_with_query(&self, query: &str, credential: &Credential) -> Exchange {
        let separator = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{separator}{query}", self.endpoint);
        self.driver
            .send(probe::rpc(
                &url,
                credential,
                None,
                &probe::initialize_body(),
            ))
            .await
    }

    // ---- DPoP (spec §1.7) ----

    /// Whether the target advertises DPoP: a `DPoP` challenge or PRM DPoP members (spec §0.1).
    pub fn dpop_advertised(&self) -> bool {
        self.discovery
            .challenges
            .iter()
            .any(|c| c.is_scheme("DPoP"))
            || self.discovery.prm.as_ref().is_some_and(|p| {
                p.object.contains("dpop_signing_alg_values_supported")
                    || p.object.contains("dpop_bound_access_tokens_required")
            })
    }

    /// The proof algorithms the target advertises (PRM, else the challenge's `algs`) that the
    /// client can sign with; ES256 when it names none.
    pub fn dpop_algs(&self) -> Vec<Algorithm> {
        let named = self.dpop_advertised_alg_names();
        let algs: Vec<Algorithm> = DPOP_ALGS
            .into_iter()
            .filter(|a| named.iter().any(|n| n == a.name()))
            .collect();
        if algs.is_empty() {
            vec![Algorithm::Es256]
        } else {
            algs
        }
    }

    /// The proof algorithm names the target advertises: PRM, else the challenge's `algs`.
    pub fn dpop_advertised_alg_names(&self) -> Vec<String> {
        let mut named: Vec<String> = self
            .discovery
            .prm
            .as_ref()
            .map(|p| {
                p.strings("dpop_signing_alg_values_supported")
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if named.is_empty() {
            named = self
                .discovery
                .challenges
                .iter()
                .filter(|c| c.is_scheme("DPoP"))
                .filter_map(|c| c.param("algs"))
                .flat_map(|a| a.split(' ').map(str::to_owned).collect::<Vec<_>>())
                .collect();
        }
        named
    }

    /// `Vd` bound to `key` as a spec.
    pub fn bound_spec(&self, key: &SigningKey) -> Option<TokenSpec> {
        Some(self.valid_spec()?.cnf_jkt(&jkt_of(key)))
    }

    /// `Vd`: `V` bound to `K_c` (minted directly), or the DPoP-bound token the token source
    /// issued for `K_c` (`--dpop`).
    pub fn bound_token(&self) -> Option<String> {
        if self.idp.is_some() {
            return self.mint(&self.bound_spec(self.dpop.key())?);
        }
        let issued = self.issued.as_ref()?.bound.as_ref()?.current()?;
        (issued.scheme == Scheme::Dpop).then_some(issued.token)
    }

    /// `P` for `initialize` at the endpoint with `ath` of `token`, dated by the target's
    /// clock (the nonce is added when the proof is signed).
    pub fn proof(&self, token: &str) -> ProofBuilder {
        ProofBuilder::new("POST", &self.endpoint)
            .ath_for(token)
            .now(self.now())
    }

    /// A DPoP-bound token from the embedded IdP's token endpoint, as a client obtains one:
    /// `client_credentials` with a proof of `key` (and the IdP's nonce when it demands one).
    pub async fn dpop_token_from_idp(&self, key: &SigningKey) -> Result<String, String> {
        let Some(idp) = self.idp.as_ref() else {
            // With a token source, the authorization server's own DPoP-bound token (--dpop),
            // which it bound to K_c.
            return match self.bound_token() {
                Some(token) if std::ptr::eq(key, self.dpop.key()) => Ok(token),
                _ => Err("the token source gave no DPoP-bound token for this key".into()),
            };
        };
        let endpoint = idp.token_endpoint();
        // client_secret_post: the exchange is never kept as evidence, so the secret stays here.
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", mock_idp::server::CONFIDENTIAL_CLIENT_ID)
            .append_pair(
                "client_secret",
                mock_idp::server::CONFIDENTIAL_CLIENT_SECRET,
            )
            .append_pair("resource", &self.audience)
            .append_pair("scope", &self.scope)
            .finish();
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let mut proof = ProofBuilder::new("POST", &endpoint);
            if let Some(n) = &nonce {
                proof = proof.nonce(n);
            }
            let mut request = crate::http::ProbeRequest::new("POST", &endpoint)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("dpop", &proof.sign(key));
            request.body = Some(form.clone().into_bytes());
            let exchange = self.driver.send(request).await;
            let response = exchange.response.map_err(|e| e.to_string())?;
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            if let Some(token) = body.get("access_token").and_then(Value::as_str) {
                return Ok(token.to_owned());
            }
            match response.header("dpop-nonce") {
                Some(n) if nonce.is_none() => nonce = Some(n.to_owned()),
                _ => {
                    return Err(format!(
                        "the token endpoint answered HTTP {} {}",
                        response.status,
                        body.get("error").and_then(Value::as_str).unwrap_or("")
                    ));
                }
            }
        }
        Err("the token endpoint kept demanding a nonce".into())
    }
}
