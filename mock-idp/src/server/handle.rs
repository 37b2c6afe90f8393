//! `MockIdp`: start, address, accessors, in-process minting, graceful shutdown.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{MethodRouter, get, post};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::cimd::CimdResolver;
use super::clients::{CONFIDENTIAL_CLIENT_ID, Client};
use super::config::{IdpConfig, KeySource, valid_issuer_path};
use super::device::{DEVICE_AUTHORIZATION_PATH, VERIFICATION_PATH};
use super::error::OAuthError;
use super::introspect::IntrospectionScript;
use super::metadata::metadata_urls;
use super::state::{Issuer, IssuerCtx, OpaqueToken, ResourceProfile, Shared};
use super::{
    AsFault, IssuerKind, authorize, device, introspect, jwks, login, metadata, par, register, token,
};
use crate::jwk::JwkSet;
use crate::keys::{KeyError, SigningKey};
use crate::keystore::{KeyRing, KeyStoreError, demo_ring};
use crate::random_b64url;
use crate::token::TokenSpec;

/// Why the mock IdP could not start.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("key store: {0}")]
    KeyStore(#[from] KeyStoreError),
    #[error("key generation: {0}")]
    Key(#[from] KeyError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Every URL of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrls {
    pub issuer: String,
    /// RFC 8414 metadata, path-inserted.
    pub metadata_url: String,
    /// All discovery URLs in MCP order (RFC 8414, OpenID inserted, OpenID appended).
    pub discovery_urls: Vec<String>,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: String,
    pub introspection_endpoint: String,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization_endpoint: String,
    /// RFC 8628 `verification_uri`: where a device grant is approved or denied.
    pub device_verification_uri: String,
}

/// A running mock IdP. Dropping it stops the server too; `shutdown` waits for it.
pub struct MockIdp {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for MockIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIdp")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl MockIdp {
    /// Binds `config.listen`, loads or generates the keys, and serves until shut down.
    pub async fn start(config: IdpConfig) -> Result<Self, IdpError> {
        let paths = [
            &config.trusted_path,
            &config.rogue_path,
            &config.other_tenant_path,
            &config.second_path,
        ];
        if let Some(bad) = paths.iter().find(|p| !valid_issuer_path(p)) {
            return Err(IdpError::Config(format!(
                "issuer path {bad:?} is not usable"
            )));
        }
        if paths.iter().collect::<HashSet<_>>().len() != paths.len() {
            return Err(IdpError::Config("issuer paths must differ".into()));
        }
        let keys = config.keys.clone();
        let Rings {
            trusted,
            rogue,
            second,
        } = tokio::task::spawn_blocking(move || load_rings(keys))
            .await
            .map_err(|e| IdpError::Config(format!("key loading task failed: {e}")))??;
        for ring in [&trusted, &rogue, &second] {
            if ring.get(config.signing_alg).is_none() {
                return Err(IdpError::Config(format!(
                    "key ring has no {} key",
                    config.signing_alg
                )));
            }
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| IdpError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| IdpError::Bind {
            addr: config.listen,
            source,
        })?;
        let (base_url, prefix) = base_url(config.public_base_url.as_deref(), local_addr)?;
        let issuer = |path: &str, ring: &KeyRing| {
            Issuer::new(
                format!("{base_url}{path}"),
                format!("{prefix}{path}"),
                ring.clone(),
            )
        };
        let issuers = vec![
            issuer(&config.trusted_path, &trusted),
            issuer(&config.rogue_path, &rogue),
            issuer(&config.other_tenant_path, &trusted),
            issuer(&config.second_path, &second),
        ];
        let cimd = CimdResolver::new(&config.cimd, &config.faults).map_err(IdpError::Config)?;
        let shared = Arc::new(Shared::new(issuers, config, base_url, cimd));
        let app = router(&shared)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            shared,
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops accepting connections and waits (at most 5 s) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public base URL (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    fn issuer_ref(&self, kind: IssuerKind) -> &Issuer {
        &self.shared.issuers[kind.index()]
    }

    /// The trusted issuer identifier `I`.
    pub fn issuer(&self) -> &str {
        self.issuer_of(IssuerKind::Trusted)
    }

    pub fn issuer_of(&self, kind: IssuerKind) -> &str {
        &self.issuer_ref(kind).id
    }

    /// Every URL of an issuer.
    pub fn urls(&self, kind: IssuerKind) -> IssuerUrls {
        let i = self.issuer_ref(kind);
        let discovery_urls = metadata_urls(&i.id);
        IssuerUrls {
            issuer: i.id.clone(),
            metadata_url: discovery_urls[0].clone(),
            discovery_urls,
            jwks_uri: i.endpoint("jwks"),
            authorization_endpoint: i.endpoint("authorize"),
            token_endpoint: i.endpoint("token"),
            registration_endpoint: i.endpoint("register"),
            introspection_endpoint: i.endpoint("introspect"),
            device_authorization_endpoint: i.endpoint(DEVICE_AUTHORIZATION_PATH),
            device_verification_uri: i.endpoint(VERIFICATION_PATH),
        }
    }

    /// RFC 8414 metadata URL of the trusted issuer.
    pub fn metadata_url(&self) -> String {
        self.urls(IssuerKind::Trusted).metadata_url
    }
    pub fn jwks_url(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted).endpoint("jwks")
    }
    pub fn authorization_endpoint(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted).endpoint("authorize")
    }
    pub fn token_endpoint(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted).endpoint("token")
    }
    pub fn registration_endpoint(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted).endpoint("register")
    }
    pub fn introspection_endpoint(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted).endpoint("introspect")
    }
    pub fn device_authorization_endpoint(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted)
            .endpoint(DEVICE_AUTHORIZATION_PATH)
    }
    pub fn device_verification_uri(&self) -> String {
        self.issuer_ref(IssuerKind::Trusted)
            .endpoint(VERIFICATION_PATH)
    }

    /// The key ring an issuer signs with (the other tenant shares the trusted ring).
    pub fn key_ring(&self, kind: IssuerKind) -> &KeyRing {
        &self.issuer_ref(kind).ring
    }

    /// Tells the token endpoint about a resource server a run is testing: tokens whose `aud`
    /// is `resource` are signed with the algorithm it accepts, and the scopes it requires are
    /// granted (found by calibration: the mock IdP serves whatever server it is pointed at).
    pub fn register_resource(&self, resource: &str, profile: ResourceProfile) {
        self.shared.register_resource(resource, profile);
    }

    /// The key an issuer signs with for `alg` (its default key if the ring has none).
    pub fn key_for(&self, kind: IssuerKind, alg: crate::alg::Algorithm) -> &SigningKey {
        self.issuer_ref(kind).signing_key(alg)
    }

    /// The key an issuer signs access tokens with (`config.signing_alg`).
    pub fn signing_key(&self, kind: IssuerKind) -> &SigningKey {
        self.issuer_ref(kind)
            .signing_key(self.shared.config.signing_alg)
    }

    /// The public JWK Set an issuer publishes.
    pub fn jwks(&self, kind: IssuerKind) -> JwkSet {
        self.key_ring(kind).jwks()
    }

    /// Signs with the trusted issuer's signing key (`K_as`).
    pub fn mint(&self, spec: &TokenSpec) -> String {
        self.mint_as(IssuerKind::Trusted, spec)
    }

    /// Signs with the signing key of `kind` (the other tenant's is the trusted key).
    pub fn mint_as(&self, kind: IssuerKind, spec: &TokenSpec) -> String {
        spec.mint(self.signing_key(kind))
    }

    /// Signs with the rogue issuer's key (`K_x`).
    pub fn mint_rogue(&self, spec: &TokenSpec) -> String {
        self.mint_as(IssuerKind::Rogue, spec)
    }

    /// The baseline valid token `V` (spec §0.3): RFC 9068 shape, `iss` = the trusted issuer,
    /// `aud` = `audience`, `sub` = the test user, `client_id` = the confidential client,
    /// `exp` = now + 300. Mint it with `mint`.
    pub fn valid_token_spec(&self, audience: &str, scope: &str) -> TokenSpec {
        self.token_spec_for(IssuerKind::Trusted, audience, scope)
    }

    /// `V` as another issuer would issue it (`iss` of that issuer).
    pub fn token_spec_for(&self, kind: IssuerKind, audience: &str, scope: &str) -> TokenSpec {
        let now = self.now();
        TokenSpec::access_token(
            self.issuer_of(kind),
            audience,
            &self.shared.config.subject,
            CONFIDENTIAL_CLIENT_ID,
            scope,
        )
        .iat(now)
        .exp(now + self.shared.config.access_token_lifetime)
    }

    /// RFC 9728 §2.2 `signed_metadata` attested by `kind`: a JWT (`typ` `JWT`) whose claims
    /// are the metadata `members` plus `iss` (this issuer) and `iat`, signed with the issuer's
    /// signing key (its `kid` in the header, so a client finds it in the issuer's JWKS).
    pub fn sign_metadata(&self, kind: IssuerKind, members: &Map<String, Value>) -> String {
        let mut spec = TokenSpec::new().typ("JWT");
        for (name, value) in members {
            if name != "iss" && name != "iat" {
                spec = spec.claim(name, value.clone());
            }
        }
        spec.claim("iss", self.issuer_of(kind))
            .claim("iat", self.now())
            .mint(self.signing_key(kind))
    }

    /// Registers an opaque access token at the trusted issuer; its introspection answer is
    /// `claims` plus `active: true` (and `iss` if missing). A non-object `claims` counts as `{}`.
    pub fn register_opaque(&self, claims: Value) -> String {
        self.register_opaque_at(IssuerKind::Trusted, claims)
    }

    pub fn register_opaque_at(&self, kind: IssuerKind, claims: Value) -> String {
        let issuer = self.issuer_ref(kind);
        let mut claims = match claims {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        claims
            .entry("iss")
            .or_insert_with(|| json!(issuer.id.clone()));
        let token = random_b64url(32);
        issuer
            .lock()
            .opaque
            .insert(token.clone(), OpaqueToken { claims });
        token
    }

    /// A fresh opaque token at an issuer whose introspection answer is `script`, whatever the
    /// token is (spec rs-introspection-*: inactive, another audience, a failing or stalled
    /// authorization server). The caller must still authenticate to introspect.
    pub fn script_introspection(&self, kind: IssuerKind, script: IntrospectionScript) -> String {
        let token = random_b64url(32);
        let mut st = self.issuer_ref(kind).lock();
        st.maybe_prune(self.now());
        st.scripted.insert(token.clone(), script);
        token
    }

    /// Publishes the public part of `key` in an issuer's JWKS beside its ring: a key rotated in
    /// (spec rs-jwks-rotation). A published key with the same `kid` is replaced. Tokens signed
    /// with it are minted by the caller (`spec.mint(&key)`); the issuer's own introspection
    /// does not verify them.
    pub fn publish_key(&self, kind: IssuerKind, key: SigningKey) {
        let mut st = self.issuer_ref(kind).lock();
        st.published
            .retain(|k| key.kid().is_none() || k.kid() != key.kid());
        st.published.push(key);
    }

    /// Removes a published key from an issuer's JWKS; false if none had this `kid`.
    pub fn retire_key(&self, kind: IssuerKind, kid: &str) -> bool {
        let mut st = self.issuer_ref(kind).lock();
        let before = st.published.len();
        st.published.retain(|k| k.kid() != Some(kid));
        st.published.len() != before
    }

    /// How many times an issuer's JWKS was requested since the start (a target's refetches
    /// can be counted as a difference, spec rs-kid-unknown).
    pub fn jwks_requests(&self, kind: IssuerKind) -> u64 {
        self.issuer_ref(kind)
            .jwks_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many dynamically registered clients an issuer holds now (registered, not yet
    /// deleted through RFC 7592).
    pub fn registered_clients(&self, kind: IssuerKind) -> usize {
        self.issuer_ref(kind).lock().registration_tokens.len()
    }

    /// Adds (or replaces) a client at an issuer.
    pub fn register_client(&self, kind: IssuerKind, client: Client) {
        self.issuer_ref(kind)
            .lock()
            .clients
            .insert(client.client_id.clone(), client);
    }

    /// A DPoP nonce from the trusted issuer, as its token endpoint's `use_dpop_nonce` answer
    /// would carry it (and would honour it); for checks that a resource server refuses
    /// another server's nonce (RFC 9449 §9).
    pub fn issue_dpop_nonce(&self) -> String {
        let now = self.now();
        self.issuer_ref(IssuerKind::Trusted).lock().issue_nonce(now)
    }

    /// Switches DPoP nonce mode at the token endpoints.
    pub fn set_dpop_nonce_required(&self, required: bool) {
        self.shared
            .require_dpop_nonce
            .store(required, std::sync::atomic::Ordering::Relaxed);
    }

    /// Moves the server's clock forward (expiry tests).
    pub fn advance_clock(&self, seconds: i64) {
        self.shared.advance_clock(seconds);
    }

    /// The server's clock (Unix seconds, including any advance).
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    pub fn config(&self) -> &IdpConfig {
        &self.shared.config
    }

    /// Every credential that crossed the token and device authorization endpoints so far:
    /// client secrets and assertions, authorization codes, PKCE verifiers, device codes,
    /// access and refresh tokens (for tests proving a client never shows one).
    pub fn credentials_exchanged(&self) -> Vec<String> {
        self.shared.exchanged()
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The key rings of the issuers with keys of their own.
struct Rings {
    trusted: KeyRing,
    rogue: KeyRing,
    second: KeyRing,
}

fn load_rings(keys: KeySource) -> Result<Rings, IdpError> {
    Ok(match keys {
        // RSA key generation dominates a start: the three rings are made side by side.
        KeySource::Generate => std::thread::scope(|scope| {
            let [trusted, rogue, second] = ["trusted", "rogue", "second"]
                .map(|prefix| scope.spawn(move || KeyRing::generate(prefix)));
            let ring = |handle: std::thread::ScopedJoinHandle<'_, Result<KeyRing, KeyError>>| {
                handle
                    .join()
                    .map_err(|_| IdpError::Config("key generation panicked".into()))?
                    .map_err(IdpError::from)
            };
            Ok::<_, IdpError>(Rings {
                trusted: ring(trusted)?,
                rogue: ring(rogue)?,
                second: ring(second)?,
            })
        })?,
        KeySource::Dir(dir) => Rings {
            trusted: KeyRing::load_or_generate(&dir, "trusted")?,
            rogue: KeyRing::load_or_generate(&dir, "rogue")?,
            second: KeyRing::load_or_generate(&dir, "second")?,
        },
        KeySource::Demo => {
            let ring = |prefix| {
                demo_ring(prefix).ok_or_else(|| IdpError::Config(format!("no demo ring {prefix}")))
            };
            Rings {
                trusted: ring("trusted")?,
                rogue: ring("rogue")?,
                second: ring("second")?,
            }
        }
        KeySource::Rings { trusted, rogue } => Rings {
            trusted,
            rogue,
            second: shared_second_ring()?,
        },
    })
}

/// One generated second ring per process for callers that bring their own rings: they do so
/// to avoid key generation (RSA) at every start.
fn shared_second_ring() -> Result<KeyRing, IdpError> {
    static SECOND: std::sync::OnceLock<KeyRing> = std::sync::OnceLock::new();
    if let Some(ring) = SECOND.get() {
        return Ok(ring.clone());
    }
    let ring = KeyRing::generate("second")?;
    Ok(SECOND.get_or_init(|| ring).clone())
}

/// The public base URL without trailing slash, and its path (the route prefix).
fn base_url(public: Option<&str>, local: SocketAddr) -> Result<(String, String), IdpError> {
    let Some(public) = public else {
        return Ok((format!("http://{local}"), String::new()));
    };
    let bad = |why: &str| IdpError::Config(format!("public base URL {public:?}: {why}"));
    let url = url::Url::parse(public).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry user information"));
    }
    let prefix = url.path().trim_end_matches('/').to_owned();
    if !valid_issuer_path(&prefix) {
        return Err(bad("path segments must be unreserved characters"));
    }
    let base = url.as_str().trim_end_matches('/').to_owned();
    Ok((base, prefix))
}

async fn not_allowed_get() -> OAuthError {
    OAuthError::method_not_allowed("GET, HEAD")
}

async fn not_allowed_post() -> OAuthError {
    OAuthError::method_not_allowed("POST")
}

async fn not_allowed_get_post() -> OAuthError {
    OAuthError::method_not_allowed("GET, HEAD, POST")
}

async fn not_allowed_get_delete() -> OAuthError {
    OAuthError::method_not_allowed("GET, HEAD, DELETE")
}

async fn not_found() -> OAuthError {
    OAuthError::not_found()
}

/// One route per URL; a URL claimed twice (overlapping issuer paths) is a configuration error,
/// not a panic in the router.
fn router(shared: &Arc<Shared>) -> Result<Router, IdpError> {
    let mut app = Router::new();
    let mut taken = HashSet::new();
    for (idx, issuer) in shared.issuers.iter().enumerate() {
        let p = &issuer.path;
        let mut routes: Vec<(String, MethodRouter<IssuerCtx>)> = Vec::new();
        let faults = &shared.config.faults;
        if !faults.contains(&AsFault::NoMetadata) {
            let oauth = if faults.contains(&AsFault::MetadataAppended) {
                format!("{p}/.well-known/oauth-authorization-server")
            } else {
                format!("/.well-known/oauth-authorization-server{p}")
            };
            routes.push((oauth, get(metadata::serve).fallback(not_allowed_get)));
            let mut openid = vec![format!("/.well-known/openid-configuration{p}")];
            let appended = format!("{p}/.well-known/openid-configuration");
            if !openid.contains(&appended) {
                openid.push(appended);
            }
            for mp in openid {
                routes.push((mp, get(metadata::serve_openid).fallback(not_allowed_get)));
            }
        }
        routes.push((
            format!("{p}/jwks"),
            get(jwks::serve).fallback(not_allowed_get),
        ));
        routes.push((
            format!("{p}/authorize"),
            get(authorize::authorize)
                .options(authorize::preflight)
                .fallback(not_allowed_get),
        ));
        routes.push((
            format!("{p}/{}", login::LOGIN_PATH),
            post(login::login).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/{}", login::CONSENT_PATH),
            post(login::consent).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/token"),
            post(token::token).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/{}", par::PAR_PATH),
            post(par::push).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/register"),
            post(register::register).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/register/{{client_id}}"),
            get(register::configuration)
                .delete(register::configuration)
                .fallback(not_allowed_get_delete),
        ));
        routes.push((
            format!("{p}/introspect"),
            post(introspect::introspect).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/{DEVICE_AUTHORIZATION_PATH}"),
            post(device::device_authorization).fallback(not_allowed_post),
        ));
        routes.push((
            format!("{p}/{VERIFICATION_PATH}"),
            get(device::verification_page)
                .post(device::verification_decision)
                .fallback(not_allowed_get_post),
        ));
        let mut r: Router<IssuerCtx> = Router::new();
        for (path, method_router) in routes {
            if !taken.insert(path.clone()) {
                return Err(IdpError::Config(format!(
                    "issuer paths overlap: {path} is claimed twice"
                )));
            }
            r = r.route(&path, method_router);
        }
        app = app.merge(r.with_state(IssuerCtx {
            shared: shared.clone(),
            idx,
        }));
    }
    // An issuer identifier must not also be another issuer's endpoint.
    if let Some(clash) = shared.issuers.iter().find(|i| taken.contains(&i.path)) {
        return Err(IdpError::Config(format!(
            "issuer paths overlap: {} is also an endpoint",
            clash.path
        )));
    }
    Ok(app.fallback(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            base_url(None, local).unwrap(),
            ("http://127.0.0.1:8080".into(), String::new())
        );
        assert_eq!(
            base_url(Some("https://IdP.example/"), local).unwrap(),
            ("https://idp.example".into(), String::new())
        );
        assert_eq!(
            base_url(Some("https://idp.example/a/b/"), local).unwrap(),
            ("https://idp.example/a/b".into(), "/a/b".into())
        );
        for bad in [
            "ftp://x",
            "https://x/?q",
            "https://x/#f",
            "not a url",
            "https://u@x",
        ] {
            assert!(base_url(Some(bad), local).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_second_issuer_has_its_own_keys_and_signs_metadata() {
        let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
        let second = idp.urls(IssuerKind::Second);
        assert_eq!(second.issuer, format!("{}/second", idp.base_url()));
        let (trusted_kid, second_kid) = (
            idp.signing_key(IssuerKind::Trusted)
                .kid()
                .unwrap()
                .to_owned(),
            idp.signing_key(IssuerKind::Second)
                .kid()
                .unwrap()
                .to_owned(),
        );
        assert_ne!(trusted_kid, second_kid);
        let published = idp.jwks(IssuerKind::Second);
        assert!(
            published
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(&second_kid))
        );
        assert!(
            !published
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(&trusted_kid))
        );

        let mut members = Map::new();
        members.insert("resource".into(), json!("https://mcp.test/mcp"));
        members.insert("iss".into(), json!("https://forged.test"));
        let signed = idp.sign_metadata(IssuerKind::Second, &members);
        let jws = crate::jws::Jws::parse(&signed).unwrap();
        assert_eq!(jws.kid(), Some(second_kid.as_str()));
        let claims = jws.claims().unwrap();
        assert_eq!(claims.get_str("iss"), Some(second.issuer.as_str()));
        assert_eq!(claims.get_str("resource"), Some("https://mcp.test/mcp"));
        let key = idp.signing_key(IssuerKind::Second).verifying_key();
        let alg = crate::alg::Algorithm::from_name(jws.alg().unwrap()).unwrap();
        assert!(
            key.verify(alg, jws.signing_input(), jws.signature(), false)
                .is_ok()
        );
        idp.shutdown().await;
    }

    #[test]
    fn handle_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MockIdp>();
    }
}
