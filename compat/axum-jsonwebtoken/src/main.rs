//! An MCP resource server on axum whose tokens are validated by the `jsonwebtoken` crate as its
//! JWKS example (`examples/auth0.rs`) shows: the token's `kid` picks the key of the issuer's
//! JWK Set, `DecodingKey::from_jwk`, `Validation::new(header.alg)` with `set_audience` and
//! `set_issuer`, then `decode`. Everything around it (fetching the JWK Set, the challenge, MCP
//! streamable HTTP) is the few lines any such server writes; no MCP SDK.
//!
//! Environment: `PORT`, `ISSUER`, `JWKS_URI`, `RESOURCE` (the MCP URL, also the audience),
//! `UPSTREAM_URL` (what the `canary` tool calls). Listens on 127.0.0.1 only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

const NAME: &str = "axum-jsonwebtoken";
const PROTOCOL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// An unknown `kid` refetches the JWK Set at most this often (the usual JWKS-client cooldown).
const JWKS_COOLDOWN: Duration = Duration::from_secs(30);

type Claims = HashMap<String, Value>;

struct Config {
    port: u16,
    issuer: String,
    jwks_uri: String,
    resource: String,
    upstream: String,
    mcp_path: String,
    prm_url: String,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let need = |name: &str| std::env::var(name).map_err(|_| format!("{name} is required"));
        let resource = need("RESOURCE")?;
        let (origin, path) = split_url(&resource).ok_or("RESOURCE is not an http URL")?;
        Ok(Self {
            port: need("PORT")?.parse().map_err(|_| "PORT is not a port")?,
            issuer: need("ISSUER")?,
            jwks_uri: need("JWKS_URI")?,
            upstream: need("UPSTREAM_URL")?,
            prm_url: format!("{origin}{PRM_WELL_KNOWN}{path}"),
            mcp_path: path.to_owned(),
            resource,
        })
    }
}

/// `http://host:port/path` → (`http://host:port`, `/path`).
fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let at = rest.find('/').unwrap_or(rest.len());
    let origin_len = "http://".len() + at;
    let path = &url[origin_len..];
    Some((&url[..origin_len], if path.is_empty() { "/" } else { path }))
}

struct App {
    config: Config,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<(Option<JwkSet>, Option<Instant>)>,
    sessions: Mutex<HashMap<String, String>>,
}

impl App {
    /// The key named `kid`: from the cached JWK Set, else from a fresh one (rate limited).
    async fn key(&self, kid: &str) -> Result<Jwk, String> {
        let mut cache = self.keys.lock().await;
        if let Some(jwk) = cache.0.as_ref().and_then(|set| set.find(kid)) {
            return Ok(jwk.clone());
        }
        if cache.1.is_some_and(|at| at.elapsed() < JWKS_COOLDOWN) {
            return Err("no matching JWK found for the given kid".into());
        }
        let set: JwkSet = self
            .http
            .get(&self.config.jwks_uri)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        *cache = (Some(set), Some(Instant::now()));
        cache
            .0
            .as_ref()
            .and_then(|set| set.find(kid))
            .cloned()
            .ok_or_else(|| "no matching JWK found for the given kid".into())
    }

    /// The library's part: header, key by `kid`, `Validation` for the audience and issuer.
    async fn validate(&self, token: &str) -> Result<Claims, String> {
        let header = decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("token has no kid")?;
        let jwk = self.key(&kid).await?;
        let decoding_key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.resource]);
        validation.set_issuer(&[&self.config.issuer]);
        decode::<Claims>(token, &decoding_key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// The token's claims, or the RFC 6750 §3 refusal with `resource_metadata` (RFC 9728 §5.1).
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Claims, Response> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty());
        let Some((_, token)) = presented else {
            return Err(self.refusal(None));
        };
        self.validate(token.trim())
            .await
            .map_err(|_| self.refusal(Some("invalid_token")))
    }

    fn refusal(&self, error: Option<&str>) -> Response {
        let metadata = format!("resource_metadata=\"{}\"", self.config.prm_url);
        let challenge = match error {
            Some(code) => format!("Bearer error=\"{code}\", {metadata}"),
            None => format!("Bearer {metadata}"),
        };
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": error.unwrap_or("unauthorized")})),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    async fn call_tool(&self, id: &Value, params: &Value) -> Value {
        match params.get("name").and_then(Value::as_str) {
            Some("echo") => {
                let text = params["arguments"]["text"].as_str().unwrap_or_default();
                result(
                    id,
                    json!({"content": [{"type": "text", "text": text}], "isError": false}),
                )
            }
            Some("canary") => {
                // The upstream call carries no credential of the client (no token passthrough).
                let sent = self
                    .http
                    .post(&self.config.upstream)
                    .json(&json!({"tool": "canary"}))
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await;
                let text = match sent {
                    Ok(r) => format!("upstream answered {}", r.status().as_u16()),
                    Err(_) => "upstream unreachable".to_owned(),
                };
                result(
                    id,
                    json!({"content": [{"type": "text", "text": text}], "isError": false}),
                )
            }
            _ => error(id, -32602, "unknown tool"),
        }
    }
}

fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let claims = match app.authenticate(&headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let subject = claims.get("sub").map(Value::to_string).unwrap_or_default();
    let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            error(&Value::Null, -32700, "parse error"),
        );
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return answer(
            StatusCode::BAD_REQUEST,
            error(&id, -32600, "invalid JSON-RPC message"),
        );
    }
    let method = message.get("method").and_then(Value::as_str).unwrap_or("");
    if method == "initialize" {
        let session = new_session_id();
        app.sessions
            .lock()
            .expect("session lock")
            .insert(session.clone(), subject);
        let asked = message["params"]["protocolVersion"].as_str().unwrap_or("");
        let version = PROTOCOL_VERSIONS
            .into_iter()
            .find(|v| *v == asked)
            .unwrap_or(PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]);
        let mut response = answer(
            StatusCode::OK,
            result(
                &id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": {"name": NAME, "version": env!("CARGO_PKG_VERSION")}
                }),
            ),
        );
        if let Ok(value) = HeaderValue::from_str(&session) {
            response.headers_mut().insert("mcp-session-id", value);
        }
        return response;
    }
    let Some(session) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) else {
        return answer(
            StatusCode::BAD_REQUEST,
            error(&id, -32600, "Mcp-Session-Id required"),
        );
    };
    let owner = app
        .sessions
        .lock()
        .expect("session lock")
        .get(session)
        .cloned();
    if owner.as_deref() != Some(subject.as_str()) {
        return answer(StatusCode::NOT_FOUND, error(&id, -32600, "unknown session"));
    }
    if !message.contains_key("id") {
        return StatusCode::ACCEPTED.into_response(); // a notification
    }
    let reply = match method {
        "ping" => result(&id, json!({})),
        "tools/list" => result(&id, json!({"tools": tools()})),
        "tools/call" => app.call_tool(&id, &message["params"]).await,
        _ => error(&id, -32601, "method not found"),
    };
    answer(StatusCode::OK, reply)
}

/// GET (no server stream offered) and DELETE (sessions end with the process): 405 once
/// authenticated.
async fn other(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = app.authenticate(&headers).await {
        return refusal;
    }
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response()
}

async fn prm(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({
        "resource": app.config.resource,
        "authorization_servers": [app.config.issuer],
        "bearer_methods_supported": ["header"]
    }))
    .into_response()
}

fn tools() -> Value {
    json!([
        {"name": "canary", "description": "Calls the upstream API once.",
         "inputSchema": {"type": "object", "properties": {}}},
        {"name": "echo", "description": "Returns its text.",
         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
    ])
}

fn new_session_id() -> String {
    let mut bytes = [0u8; 18];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let config = Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", config.port))?;
    let mcp_path = config.mcp_path.clone();
    let prm_paths = [
        PRM_WELL_KNOWN.to_owned(),
        format!("{PRM_WELL_KNOWN}{mcp_path}"),
    ];
    let app = Arc::new(App {
        config,
        http: reqwest::Client::new(),
        keys: tokio::sync::Mutex::new((None, None)),
        sessions: Mutex::new(HashMap::new()),
    });
    let mut router = Router::new().route(&mcp_path, get(other).delete(other).post(post));
    for path in &prm_paths {
        router = router.route(path, get(prm));
    }
    let port = app.config.port;
    println!("ready {NAME} http://127.0.0.1:{port}{mcp_path}");
    axum::serve(listener, router.with_state(app))
        .await
        .map_err(|e| e.to_string())
}
