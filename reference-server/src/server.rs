//! The reference MCP server: streamable HTTP on `/mcp`, protected resource metadata, sessions,
//! a counted canary tool, and the compliant OAuth behaviour with switchable faults.

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, AuthFailure, Principal};
use crate::fault::Fault;
use crate::jwks::JwksCache;

/// The scope every tool call needs.
pub const BASE_SCOPE: &str = "mcp:read";
/// The extra scope the privileged tool needs (step-up tests).
pub const ADMIN_SCOPE: &str = "mcp:write";
/// The counted tool.
pub const CANARY_TOOL: &str = "canary";
/// The counted tool that needs `ADMIN_SCOPE`.
pub const ADMIN_TOOL: &str = "admin_canary";
const PRM_PATH: &str = "/.well-known/oauth-protected-resource";

/// How the reference server is started.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The issuer whose tokens are accepted (`iss`, exact match).
    pub issuer: String,
    /// Where its keys are; fetched over HTTP.
    pub jwks_uri: String,
    /// The resource identifier; default the MCP endpoint URL.
    pub resource: Option<String>,
    pub faults: BTreeSet<Fault>,
    /// Clock leeway for exp/nbf/iat, seconds.
    pub leeway_secs: i64,
    /// Minimum interval between two JWKS fetches triggered by unknown kids.
    pub jwks_min_refresh: Duration,
}

impl Config {
    /// A compliant server on an ephemeral loopback port trusting `issuer`.
    pub fn new(issuer: &str, jwks_uri: &str) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            resource: None,
            faults: BTreeSet::new(),
            leeway_secs: 60,
            jwks_min_refresh: Duration::from_secs(10),
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.insert(fault);
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

pub(crate) struct Shared {
    pub config: Config,
    pub resource: String,
    pub prm_url: String,
    pub jwks: JwksCache,
    canary: AtomicU64,
    sessions: Mutex<HashMap<String, String>>,
}

impl Shared {
    pub fn has(&self, fault: Fault) -> bool {
        self.config.faults.contains(&fault)
    }
}

/// A running reference server. Dropping it stops the server.
pub struct ReferenceServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ReferenceServer {
    pub async fn start(config: Config) -> Result<Self, StartError> {
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
            .unwrap_or_else(|| format!("{origin}/mcp"));
        let shared = Arc::new(Shared {
            prm_url: format!("{origin}{PRM_PATH}/mcp"),
            jwks: JwksCache::new(config.jwks_uri.clone(), config.jwks_min_refresh),
            resource,
            config,
            canary: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/mcp", get(mcp_get).post(mcp_post).delete(mcp_delete))
            .route(PRM_PATH, get(prm))
            .route(&format!("{PRM_PATH}/mcp"), get(prm))
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
        format!("http://{}/mcp", self.addr)
    }

    /// The resource identifier `R` the server expects in `aud`.
    pub fn resource(&self) -> &str {
        &self.shared.resource
    }

    /// The path-inserted PRM URL.
    pub fn prm_url(&self) -> &str {
        &self.shared.prm_url
    }

    /// How many canary tool calls were processed.
    pub fn canary_count(&self) -> u64 {
        self.shared.canary.load(Ordering::SeqCst)
    }

    /// A handle that reads the canary count, usable after the server is moved.
    pub fn canary_probe(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.canary.load(Ordering::SeqCst)
    }

    pub fn faults(&self) -> &BTreeSet<Fault> {
        &self.shared.config.faults
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
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

fn challenge(shared: &Shared, error: Option<(&str, &str)>, scope: Option<&str>) -> String {
    let mut params = Vec::new();
    if let Some((code, description)) = error {
        params.push(format!("error=\"{code}\""));
        let description: String = description
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && c.is_ascii())
            .collect();
        params.push(format!("error_description=\"{description}\""));
    }
    if let Some(scope) = scope {
        params.push(format!("scope=\"{scope}\""));
    }
    if !shared.has(Fault::NoResourceMetadata) {
        params.push(format!("resource_metadata=\"{}\"", shared.prm_url));
    }
    format!("Bearer {}", params.join(", "))
}

fn refusal(shared: &Shared, failure: &AuthFailure) -> Response {
    let (status, www) = match failure {
        AuthFailure::NoToken => {
            let error = shared
                .has(Fault::ErrorOnNoToken)
                .then_some(("invalid_token", "no token"));
            let scope = (!shared.has(Fault::NoScopeInChallenge)).then_some(BASE_SCOPE);
            (StatusCode::UNAUTHORIZED, challenge(shared, error, scope))
        }
        AuthFailure::Malformed(why) => (
            StatusCode::BAD_REQUEST,
            challenge(shared, Some(("invalid_request", why)), None),
        ),
        AuthFailure::Invalid(why) => (
            StatusCode::UNAUTHORIZED,
            challenge(shared, Some(("invalid_token", why)), None),
        ),
        AuthFailure::Crash => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut resp = (status, axum::Json(json!({"error": "unauthorized"}))).into_response();
    if !shared.has(Fault::NoWwwAuthenticate)
        && let Ok(v) = HeaderValue::from_str(&www)
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

async fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Principal, AuthFailure> {
    let token = auth::bearer_token(shared, headers, query)?;
    auth::validate(shared, &token).await
}

async fn prm(State(shared): State<Arc<Shared>>) -> Response {
    if shared.has(Fault::NoResourceMetadata) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let resource = if shared.has(Fault::PrmResourceMismatch) {
        format!("{}-other", shared.resource)
    } else {
        shared.resource.clone()
    };
    axum::Json(json!({
        "resource": resource,
        "authorization_servers": [shared.config.issuer],
        "scopes_supported": [BASE_SCOPE, ADMIN_SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp-authspec reference server",
    }))
    .into_response()
}

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn session_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn mcp_post(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let message: Option<Value> = serde_json::from_slice(&body).ok();
    let method = message
        .as_ref()
        .and_then(|m| m.get("method"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if shared.has(Fault::ProcessBeforeAuth) && method == "tools/call" {
        shared.canary.fetch_add(1, Ordering::SeqCst);
    }
    let principal = match authenticate(&shared, &headers, &query).await {
        Ok(p) => p,
        Err(AuthFailure::NoToken) if shared.has(Fault::SessionIsAuthentication) => {
            // The defect: a known session id stands in for the token.
            let owner = session_header(&headers).and_then(|s| {
                shared
                    .sessions
                    .lock()
                    .expect("session lock")
                    .get(&s)
                    .cloned()
            });
            match owner {
                Some(subject) => Principal {
                    subject,
                    scopes: [BASE_SCOPE.to_owned()].into(),
                },
                None => return refusal(&shared, &AuthFailure::NoToken),
            }
        }
        Err(failure) => return refusal(&shared, &failure),
    };
    let Some(message) = message else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(rpc_error(&Value::Null, -32700, "parse error")),
        )
            .into_response();
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    if method.starts_with("notifications/") {
        return StatusCode::ACCEPTED.into_response();
    }
    if method == "initialize" {
        let session = mock_idp::random_b64url(16);
        shared
            .sessions
            .lock()
            .expect("session lock")
            .insert(session.clone(), principal.subject.clone());
        let result = json!({
            "protocolVersion": message.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcp-authspec-reference", "version": env!("CARGO_PKG_VERSION")}
        });
        let mut resp = axum::Json(rpc_result(&id, result)).into_response();
        if let Ok(v) = HeaderValue::from_str(&session) {
            resp.headers_mut().insert("mcp-session-id", v);
        }
        return resp;
    }
    // Every other request belongs to a session of the same subject.
    let Some(session) = session_header(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(rpc_error(&id, -32600, "Mcp-Session-Id required")),
        )
            .into_response();
    };
    let owner = shared
        .sessions
        .lock()
        .expect("session lock")
        .get(&session)
        .cloned();
    match owner {
        None => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(rpc_error(&id, -32600, "unknown session")),
            )
                .into_response();
        }
        Some(owner) if owner != principal.subject && !shared.has(Fault::SessionNotBound) => {
            // Not found rather than forbidden: another subject's session is not revealed.
            return (
                StatusCode::NOT_FOUND,
                axum::Json(rpc_error(&id, -32600, "unknown session")),
            )
                .into_response();
        }
        Some(_) => {}
    }
    let result = match method.as_str() {
        "ping" => rpc_result(&id, json!({})),
        "tools/list" => rpc_result(
            &id,
            json!({"tools": [
                {"name": CANARY_TOOL, "description": "Counts its calls", "inputSchema": {"type": "object"}},
                {"name": ADMIN_TOOL, "description": "Counts its calls; needs mcp:write", "inputSchema": {"type": "object"}}
            ]}),
        ),
        "tools/call" => {
            let tool = message
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let needed: &[&str] = match tool {
                CANARY_TOOL => &[BASE_SCOPE],
                ADMIN_TOOL => &[BASE_SCOPE, ADMIN_SCOPE],
                _ => return axum::Json(rpc_error(&id, -32602, "unknown tool")).into_response(),
            };
            if let Some(missing) = needed.iter().find(|s| !principal.scopes.contains(**s)) {
                return insufficient_scope(&shared, missing, needed);
            }
            if !shared.has(Fault::ProcessBeforeAuth) {
                shared.canary.fetch_add(1, Ordering::SeqCst);
            }
            rpc_result(
                &id,
                json!({"content": [{"type": "text", "text": "counted"}]}),
            )
        }
        _ => rpc_error(&id, -32601, "method not found"),
    };
    axum::Json(result).into_response()
}

fn insufficient_scope(shared: &Shared, missing: &str, needed: &[&str]) -> Response {
    let (status, www) = if shared.has(Fault::Scope401) {
        (
            StatusCode::UNAUTHORIZED,
            challenge(shared, Some(("invalid_token", "scope")), None),
        )
    } else {
        let description = format!("needs {missing}");
        (
            StatusCode::FORBIDDEN,
            challenge(
                shared,
                Some(("insufficient_scope", &description)),
                Some(&needed.join(" ")),
            ),
        )
    };
    let mut resp = (status, axum::Json(json!({"error": "insufficient_scope"}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&www) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

async fn mcp_get(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(failure) = authenticate(&shared, &headers, &query).await {
        return refusal(&shared, &failure);
    }
    // No server-initiated stream is offered (streamable HTTP allows 405).
    let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    resp
}

async fn mcp_delete(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let principal = match authenticate(&shared, &headers, &query).await {
        Ok(p) => p,
        Err(failure) => return refusal(&shared, &failure),
    };
    let Some(session) = session_header(&headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut sessions = shared.sessions.lock().expect("session lock");
    match sessions.get(&session) {
        Some(owner) if *owner == principal.subject || shared.has(Fault::SessionNotBound) => {
            sessions.remove(&session);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
