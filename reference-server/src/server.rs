//! Start, routes, the handle, and the protected resource metadata (RFC 9728).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::challenge::refusal;
use crate::config::Config;
use crate::credentials::AuthFailure;
use crate::dpop::DpopState;
use crate::fault::Fault;
use crate::jwks::{self, JwksCache, Refresh};
use crate::mcp::{self, Session};

/// The well-known suffix of RFC 9728 §3.
pub const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// Path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot discover the issuer's jwks_uri: {0}")]
    Discovery(String),
}

pub(crate) struct Shared {
    pub config: Config,
    pub resource: String,
    /// Path-inserted PRM URL (named in `resource_metadata`) and the root fallback.
    pub prm_url: String,
    pub prm_root_url: String,
    prm_paths: Vec<String>,
    pub jwks: JwksCache,
    /// The keys of each further trusted issuer (`Config::additional_issuers`), cached apart.
    pub issuer_keys: Vec<(String, JwksCache)>,
    /// The `signed_metadata` JWS of the PRM, made at start (RFC 9728 §2.2).
    pub signed_metadata: Option<String>,
    pub http: reqwest::Client,
    pub canary: AtomicU64,
    sessions: Mutex<HashMap<String, Session>>,
    /// DPoP proofs, nonces and replay detection (used with DPoP on).
    pub dpop: DpopState,
    /// Active introspection answers by token prefix (only with `introspection-cache-prefix`).
    pub introspection_cache: Mutex<HashMap<String, Map<String, Value>>>,
}

impl Shared {
    pub fn has(&self, fault: Fault) -> bool {
        self.config.faults.contains(&fault)
    }

    /// Every trusted issuer: the main one first, then the additional ones.
    pub fn trusted_issuers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.config.issuer.as_str())
            .chain(self.issuer_keys.iter().map(|(issuer, _)| issuer.as_str()))
    }

    pub fn session_owner(&self, id: &str) -> Option<String> {
        self.sessions
            .lock()
            .expect("session lock")
            .get(id)
            .map(|s| s.subject.clone())
    }

    pub fn open_session(&self, id: String, session: Session) {
        let mut sessions = self.sessions.lock().expect("session lock");
        if mcp::cap_sessions(sessions.len())
            && let Some(old) = sessions.keys().next().cloned()
        {
            sessions.remove(&old);
        }
        sessions.insert(id, session);
    }

    /// Removes the session if `allowed(owner)`; false if unknown or not allowed.
    pub fn close_session(&self, id: &str, allowed: impl Fn(&str) -> bool) -> bool {
        let mut sessions = self.sessions.lock().expect("session lock");
        match sessions.get(id) {
            Some(s) if allowed(&s.subject) => {
                sessions.remove(id);
                true
            }
            _ => false,
        }
    }
}

/// A running reference server (the handle). Dropping it stops the server.
pub struct ReferenceServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The handle `ReferenceServer::start` returns.
pub type Handle = ReferenceServer;

/// The path of `resource` when it is an http(s) URL with a non-root path, else `/mcp`.
fn resource_path(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.path() != "/" => u.path().to_owned(),
        _ => MCP_PATH.to_owned(),
    }
}

impl ReferenceServer {
    /// Validates the configuration, binds, discovers the JWKS URL if needed, and serves.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        if let Some(a) = config
            .allowed_algs
            .iter()
            .chain(&config.dpop_algs)
            .find(|a| a.is_symmetric())
        {
            return Err(StartError::Config(format!(
                "{a} is symmetric; only asymmetric algorithms can be allowed"
            )));
        }
        if config.allowed_algs.is_empty() || config.dpop_algs.is_empty() {
            return Err(StartError::Config("no algorithm allowed".into()));
        }
        let issuers = std::iter::once(&config.issuer)
            .chain(config.additional_issuers.iter().map(|i| &i.issuer));
        for (n, issuer) in issuers.enumerate() {
            if url::Url::parse(issuer).is_err() {
                return Err(StartError::Config(format!(
                    "issuer {issuer:?} is not an absolute URL"
                )));
            }
            if n > 0 && *issuer == config.issuer {
                return Err(StartError::Config(format!(
                    "issuer {issuer:?} is trusted twice"
                )));
            }
        }
        let http = jwks::client();
        let jwks_uri = match &config.jwks_uri {
            Some(u) => u.clone(),
            None => jwks::discover_jwks_uri(&http, &config.issuer)
                .await
                .map_err(StartError::Discovery)?,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let origin = format!("http://{addr}");
        let resource = config
            .resource
            .clone()
            .unwrap_or_else(|| format!("{origin}{MCP_PATH}"));
        let inserted = format!("{PRM_WELL_KNOWN}{}", resource_path(&resource));
        let refresh = if config.faults.contains(&Fault::NoJwksRateLimit) {
            Refresh::Always
        } else if config.faults.contains(&Fault::JwksNeverRefresh) {
            Refresh::Never
        } else if config.faults.contains(&Fault::JwksPinnedKeys) {
            Refresh::Pinned(config.jwks_min_refresh)
        } else {
            Refresh::Bounded(config.jwks_min_refresh)
        };
        let issuer_keys = config
            .additional_issuers
            .iter()
            .map(|i| {
                (
                    i.issuer.clone(),
                    JwksCache::new(i.jwks_uri.clone(), refresh),
                )
            })
            .collect();
        let signed_metadata = config
            .signed_metadata
            .as_ref()
            .map(|sign| (sign.0)(&attested_members(&config, &resource)));
        let dpop = DpopState::new(&config, format!("{origin}{MCP_PATH}"));
        let shared = Arc::new(Shared {
            dpop,
            prm_url: format!("{origin}{inserted}"),
            prm_root_url: format!("{origin}{PRM_WELL_KNOWN}"),
            prm_paths: vec![inserted, PRM_WELL_KNOWN.to_owned()],
            jwks: JwksCache::new(jwks_uri, refresh),
            issuer_keys,
            signed_metadata,
            http,
            resource,
            config,
            canary: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
            introspection_cache: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route(
                MCP_PATH,
                get(mcp::get)
                    .post(mcp::post)
                    .delete(mcp::delete)
                    .options(preflight),
            )
            .fallback(fallback)
            .layer(middleware::from_fn_with_state(shared.clone(), origin_first))
            .layer(middleware::from_fn_with_state(shared.clone(), cors))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let case_sensitive = shared.has(Fault::DpopHeaderNameCaseSensitive);
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(async move {
            if case_sensitive {
                let listener = crate::header_case::CaseSensitiveDpopListener(listener);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
            } else {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
            }
        });
        Ok(Self {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint `E`.
    pub fn mcp_url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.addr)
    }

    /// The resource identifier `R` the server expects in `aud`.
    pub fn resource(&self) -> &str {
        &self.shared.resource
    }

    /// The issuer the server trusts.
    pub fn issuer(&self) -> &str {
        &self.shared.config.issuer
    }

    /// Every issuer the server trusts, the main one first.
    pub fn trusted_issuers(&self) -> Vec<String> {
        self.shared.trusted_issuers().map(str::to_owned).collect()
    }

    /// The `signed_metadata` the PRM carries (compliant form), if configured.
    pub fn signed_metadata(&self) -> Option<&str> {
        self.shared.signed_metadata.as_deref()
    }

    /// The path-inserted PRM URL (the one named in `resource_metadata`).
    pub fn prm_url(&self) -> &str {
        &self.shared.prm_url
    }

    /// The root PRM URL (fallback of RFC 9728 §3 / MCP discovery).
    pub fn prm_root_url(&self) -> &str {
        &self.shared.prm_root_url
    }

    /// How many canary tool calls were processed.
    pub fn canary_count(&self) -> u64 {
        self.shared.canary.load(Ordering::SeqCst)
    }

    /// A closure that reads the canary count, usable after the server is moved.
    pub fn canary_probe(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.canary.load(Ordering::SeqCst)
    }

    /// How many times the trusted issuer's JWKS was requested.
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks.fetches()
    }

    /// How many MCP sessions are open.
    pub fn session_count(&self) -> usize {
        self.shared.sessions.lock().expect("session lock").len()
    }

    pub fn faults(&self) -> &BTreeSet<Fault> {
        &self.shared.config.faults
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Stops accepting connections and waits (at most 5 s) for open ones.
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
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// CORS for browser clients: every answer may be read by scripts, including the challenge.
async fn cors(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if !shared.has(Fault::NoCorsExpose) {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id, DPoP-Nonce"),
        );
    }
    resp
}

/// Fault `origin-check-leaks`: the Origin check runs before authentication, and its refusal
/// carries what only an initialized client should learn (the serverInfo of `initialize`).
/// Without the fault this layer does nothing; the MCP handler checks Origin after the token.
async fn origin_first(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if shared.has(Fault::OriginCheckLeaks)
        && req.uri().path() == MCP_PATH
        && !origin_allowed(&shared.config, req.headers())
    {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32600,
                "message": "Origin not allowed",
                // The name mcp.rs answers `initialize` with.
                "data": {"serverInfo": {"name": "mcp-authspec-reference", "version": env!("CARGO_PKG_VERSION")}}
            }
        });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(req).await
}

/// The MCP handler's Origin rule (DNS-rebinding guard), for the fault above: no `Origin`
/// passes; otherwise the configured list, or loopback origins when there is none.
fn origin_allowed(config: &Config, headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match &config.allowed_origins {
        Some(list) => list.iter().any(|o| o == origin),
        None => url::Url::parse(origin)
            .is_ok_and(|u| matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))),
    }
}

async fn preflight(State(shared): State<Arc<Shared>>) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if !shared.has(Fault::NoCorsExpose) {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, DPoP",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    resp
}

/// The PRM URLs (matched on the path, so any resource path works) and 404 for the rest.
async fn fallback(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path();
    if !shared.prm_paths.iter().any(|p| p == path) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match *req.method() {
        Method::GET | Method::HEAD => prm(&shared, req.headers()),
        Method::OPTIONS => preflight(State(shared.clone())).await,
        _ => {
            let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
            resp.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            resp
        }
    }
}

/// The protected resource metadata (RFC 9728 §2, §3.2). Readable without a token.
fn prm(shared: &Shared, headers: &axum::http::HeaderMap) -> Response {
    if shared.has(Fault::NoResourceMetadata) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if shared.has(Fault::PrmRequiresToken) && !headers.contains_key(header::AUTHORIZATION) {
        return refusal(shared, &AuthFailure::NoToken);
    }
    let resource = if shared.has(Fault::PrmResourceMismatch) {
        format!("{}-other", shared.resource)
    } else if shared.has(Fault::PrmResourceFragment) {
        format!("{}#frag", shared.resource)
    } else {
        shared.resource.clone()
    };
    let mut scopes = shared.config.scopes_supported();
    if shared.has(Fault::AdvertiseOfflineAccess) {
        scopes.push("offline_access".into());
    }
    let mut methods = vec!["header"];
    if shared.has(Fault::PrmAdvertisesQuery) {
        methods.push("query");
    }
    let mut doc = serde_json::Map::new();
    doc.insert("resource".into(), json!(resource));
    if !shared.has(Fault::PrmNoAuthorizationServers) {
        let mut issuers: Vec<String> = shared.trusted_issuers().map(str::to_owned).collect();
        if shared.has(Fault::PrmIssuerMismatch) {
            issuers[0] = format!("{}/", shared.config.issuer.trim_end_matches('/'));
        }
        doc.insert("authorization_servers".into(), json!(issuers));
    }
    let scopes = if shared.has(Fault::PrmEmptyArray) {
        Vec::new()
    } else {
        scopes
    };
    doc.insert("scopes_supported".into(), json!(scopes));
    doc.insert("bearer_methods_supported".into(), json!(methods));
    doc.insert(
        "resource_name".into(),
        json!("mcp-authspec reference server"),
    );
    if crate::dpop::enabled(&shared.config) {
        let required = shared.config.dpop == crate::DpopMode::Required
            || shared.has(Fault::DpopPrmClaimsRequired);
        doc.insert(
            "dpop_signing_alg_values_supported".into(),
            json!(shared.dpop.advertised_algs(&shared.config)),
        );
        doc.insert("dpop_bound_access_tokens_required".into(), json!(required));
    }
    if let Some(signed) = &shared.signed_metadata {
        doc.insert(
            "signed_metadata".into(),
            json!(served_signed_metadata(shared, signed)),
        );
    }
    axum::Json(serde_json::Value::Object(doc)).into_response()
}

/// The members the issuer attests in `signed_metadata`: the compliant values of the plain
/// ones, so a fault that changes a plain member makes it conflict with the signed one.
fn attested_members(config: &Config, resource: &str) -> serde_json::Map<String, serde_json::Value> {
    let issuers: Vec<&str> = std::iter::once(config.issuer.as_str())
        .chain(config.additional_issuers.iter().map(|i| i.issuer.as_str()))
        .collect();
    let mut members = serde_json::Map::new();
    members.insert("resource".into(), json!(resource));
    members.insert("authorization_servers".into(), json!(issuers));
    members.insert("scopes_supported".into(), json!(config.scopes_supported()));
    members.insert("bearer_methods_supported".into(), json!(["header"]));
    members
}

/// `signed_metadata` as served: the signer's JWS, or the faults' corruptions of it.
fn served_signed_metadata(shared: &Shared, signed: &str) -> String {
    let mut segments = signed.splitn(3, '.');
    let (Some(header), Some(payload), Some(signature)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return signed.to_owned();
    };
    if shared.has(Fault::PrmSignedMetadataUnsigned) {
        let none = mock_idp::b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
        return format!("{none}.{payload}.");
    }
    if shared.has(Fault::PrmSignedMetadataBadSignature)
        && let Ok(mut bytes) = mock_idp::b64::decode_strict(signature)
        && let Some(last) = bytes.last_mut()
    {
        *last ^= 0x01;
        return format!("{header}.{payload}.{}", mock_idp::b64::encode(&bytes));
    }
    signed.to_owned()
}
