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
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::challenge::refusal;
use crate::config::Config;
use crate::credentials::AuthFailure;
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
    pub http: reqwest::Client,
    pub canary: AtomicU64,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Shared {
    pub fn has(&self, fault: Fault) -> bool {
        self.config.faults.contains(&fault)
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
        if let Some(a) = config.allowed_algs.iter().find(|a| a.is_symmetric()) {
            return Err(StartError::Config(format!(
                "{a} is symmetric; only asymmetric algorithms can be allowed"
            )));
        }
        if config.allowed_algs.is_empty() {
            return Err(StartError::Config("no algorithm allowed".into()));
        }
        if url::Url::parse(&config.issuer).is_err() {
            return Err(StartError::Config(format!(
                "issuer {:?} is not an absolute URL",
                config.issuer
            )));
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
        } else {
            Refresh::Bounded(config.jwks_min_refresh)
        };
        let shared = Arc::new(Shared {
            prm_url: format!("{origin}{inserted}"),
            prm_root_url: format!("{origin}{PRM_WELL_KNOWN}"),
            prm_paths: vec![inserted, PRM_WELL_KNOWN.to_owned()],
            jwks: JwksCache::new(jwks_uri, refresh),
            http,
            resource,
            config,
            canary: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
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
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
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
        let issuer = if shared.has(Fault::PrmIssuerMismatch) {
            format!("{}/", shared.config.issuer.trim_end_matches('/'))
        } else {
            shared.config.issuer.clone()
        };
        doc.insert("authorization_servers".into(), json!([issuer]));
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
    axum::Json(serde_json::Value::Object(doc)).into_response()
}
