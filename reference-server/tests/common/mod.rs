//! Shared helpers: a real mock IdP, a small harness server (rotatable JWKS, an upstream
//! recorder, a counted jku listener), raw HTTP requests to the reference server and a
//! WWW-Authenticate parameter reader.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use mock_idp::forge::{Attack, ForgeContext};
use mock_idp::jwk::Jwk;
use mock_idp::server::{IdpConfig, IssuerKind, MockIdp};
use mock_idp::token::TokenSpec;
use reference_server::{BASE_SCOPE, Config, Fault, ReferenceServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What the harness server saw and serves.
#[derive(Default)]
pub struct HarnessState {
    /// Extra keys published at `/jwks` after the trusted issuer's own.
    pub extra_keys: Mutex<Vec<Jwk>>,
    pub trusted_keys: Mutex<Vec<Jwk>>,
    pub rogue_keys: Mutex<Vec<Jwk>>,
    /// `Authorization` values received at `/upstream`.
    pub upstream_auth: Mutex<Vec<String>>,
    /// Requests to `/rogue-jwks` (the jku listener).
    pub jku_hits: AtomicU64,
}

/// The mock IdP plus the harness server.
pub struct Env {
    pub idp: MockIdp,
    pub harness: Arc<HarnessState>,
    pub harness_url: String,
    pub http: reqwest::Client,
}

async fn jwks(State(st): State<Arc<HarnessState>>) -> axum::Json<Value> {
    let mut keys: Vec<Value> = st
        .trusted_keys
        .lock()
        .unwrap()
        .iter()
        .map(Jwk::to_json)
        .collect();
    keys.extend(st.extra_keys.lock().unwrap().iter().map(Jwk::to_json));
    axum::Json(json!({ "keys": keys }))
}

async fn rogue_jwks(State(st): State<Arc<HarnessState>>) -> axum::Json<Value> {
    st.jku_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = st
        .rogue_keys
        .lock()
        .unwrap()
        .iter()
        .map(Jwk::to_json)
        .collect();
    axum::Json(json!({ "keys": keys }))
}

async fn upstream(State(st): State<Arc<HarnessState>>, headers: HeaderMap) -> axum::Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    st.upstream_auth.lock().unwrap().push(auth);
    axum::Json(json!({"ok": true}))
}

impl Env {
    pub async fn start() -> Env {
        let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
        let public =
            |kind| -> Vec<Jwk> { idp.jwks(kind).keys.iter().map(Jwk::to_public).collect() };
        let harness = Arc::new(HarnessState {
            trusted_keys: Mutex::new(public(IssuerKind::Trusted)),
            rogue_keys: Mutex::new(public(IssuerKind::Rogue)),
            ..HarnessState::default()
        });
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/rogue-jwks", get(rogue_jwks))
            .route("/upstream", post(upstream))
            .with_state(harness.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let harness_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Env {
            idp,
            harness,
            harness_url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A config trusting the mock IdP's trusted issuer with these faults.
    pub fn config(&self, faults: &[Fault]) -> Config {
        Config::new(self.idp.issuer(), &self.idp.jwks_url()).with_faults(faults.iter().copied())
    }

    pub async fn server(&self, faults: &[Fault]) -> ReferenceServer {
        ReferenceServer::start(self.config(faults)).await.unwrap()
    }

    /// `V` for this server with the base scope.
    pub fn valid(&self, server: &ReferenceServer) -> TokenSpec {
        self.idp.valid_token_spec(server.resource(), BASE_SCOPE)
    }

    pub fn mint(&self, spec: &TokenSpec) -> String {
        self.idp.mint(spec)
    }

    /// A forged token from `V`; the jku/x5u listener is the harness's counted rogue JWKS.
    pub fn forge(&self, spec: &TokenSpec, attack: &Attack) -> Option<String> {
        let listener = format!("{}/rogue-jwks", self.harness_url);
        let ctx = ForgeContext {
            victim: self.idp.signing_key(IssuerKind::Trusted),
            attacker: self.idp.signing_key(IssuerKind::Rogue),
            listener_url: &listener,
            spec,
        };
        attack.forge(&ctx).ok()
    }

    pub fn upstream_url(&self) -> String {
        format!("{}/upstream", self.harness_url)
    }

    pub fn harness_jwks_url(&self) -> String {
        format!("{}/jwks", self.harness_url)
    }

    pub fn jku_hits(&self) -> u64 {
        self.harness.jku_hits.load(Ordering::SeqCst)
    }

    pub fn post(&self, url: &str) -> Req<'_> {
        Req::new(self, reqwest::Method::POST, url)
    }

    pub fn get(&self, url: &str) -> Req<'_> {
        Req::new(self, reqwest::Method::GET, url)
    }

    pub fn delete(&self, url: &str) -> Req<'_> {
        Req::new(self, reqwest::Method::DELETE, url)
    }

    /// initialize with `token`: the session id if accepted.
    pub async fn open_session(&self, server: &ReferenceServer, token: &str) -> Option<String> {
        let r = self
            .post(&server.mcp_url())
            .bearer(token)
            .json(initialize())
            .send()
            .await;
        (r.accepted()).then_some(r.session).flatten()
    }

    /// initialize with `token`, then call `tool` in that session: true if the call was
    /// processed (200 with a result and the canary moved by one).
    pub async fn session_call(&self, server: &ReferenceServer, token: &str, tool: &str) -> bool {
        let before = server.canary_count();
        let Some(session) = self.open_session(server, token).await else {
            return false;
        };
        let r = self
            .post(&server.mcp_url())
            .bearer(token)
            .session(&session)
            .json(call(tool))
            .send()
            .await;
        r.accepted() && server.canary_count() == before + 1
    }

    /// Whether `initialize` with this token is accepted.
    pub async fn accepts(&self, server: &ReferenceServer, token: &str) -> bool {
        self.post(&server.mcp_url())
            .bearer(token)
            .json(initialize())
            .send()
            .await
            .accepted()
    }
}

/// A request under construction; header fields stay separate lines.
pub struct Req<'a> {
    env: &'a Env,
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<(String, Vec<u8>)>,
}

impl<'a> Req<'a> {
    fn new(env: &'a Env, method: reqwest::Method, url: &str) -> Self {
        Req {
            env,
            method,
            url: url.to_owned(),
            headers: vec![(
                "accept".into(),
                b"application/json, text/event-stream".to_vec(),
            )],
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        if name.eq_ignore_ascii_case("accept") {
            self.headers.retain(|(n, _)| n != "accept");
        }
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn session(self, id: &str) -> Self {
        self.header("mcp-session-id", id)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json".into(), body.to_string().into_bytes()));
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl AsRef<[u8]>) -> Self {
        self.body = Some((content_type.into(), body.as_ref().to_vec()));
        self
    }

    pub async fn send(self) -> Reply {
        let mut req = self.env.http.request(self.method, &self.url);
        for (name, value) in &self.headers {
            req = req.header(
                name.as_str(),
                reqwest::header::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        if let Some((ct, body)) = self.body {
            req = req.header("content-type", ct).body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply::new(status, headers, text)
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    /// The JSON body, or the JSON of the first SSE `data:` line.
    pub body: Value,
    pub session: Option<String>,
}

impl Reply {
    fn new(status: StatusCode, headers: reqwest::header::HeaderMap, text: String) -> Reply {
        let body = serde_json::from_str(&text).unwrap_or_else(|_| {
            text.lines()
                .find_map(|l| l.strip_prefix("data:"))
                .and_then(|d| serde_json::from_str(d.trim()).ok())
                .unwrap_or(Value::Null)
        });
        let session = headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        Reply {
            status,
            headers,
            text,
            body,
            session,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn www_authenticate(&self) -> Option<&str> {
        self.header("www-authenticate")
    }

    /// The challenge's parameters (first value of each name), if there is a challenge.
    pub fn challenge(&self) -> Option<Challenge> {
        self.www_authenticate().map(Challenge::parse)
    }

    /// [A]: 2xx with a JSON-RPC result.
    pub fn accepted(&self) -> bool {
        self.status.is_success() && self.body.get("result").is_some()
    }
}

/// A parsed `Bearer` challenge (just enough for these tests: quoted or token values).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn parse(text: &str) -> Challenge {
        let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
        let mut params = Vec::new();
        let mut rest = rest.trim();
        while let Some((name, after)) = rest.split_once('=') {
            let name = name.trim().trim_start_matches(',').trim().to_owned();
            let after = after.trim_start();
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"').unwrap_or(q.len());
                (q[..end].to_owned(), &q[(end + 1).min(q.len())..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            };
            params.push((name, value));
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        Challenge {
            scheme: scheme.to_owned(),
            params,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_duplicates(&self) -> bool {
        let mut seen = BTreeMap::new();
        self.params
            .iter()
            .any(|(n, _)| seen.insert(n.clone(), ()).is_some())
    }
}

pub fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})
}

pub fn initialized() -> Value {
    json!({"jsonrpc":"2.0","method":"notifications/initialized"})
}

pub fn call(tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

pub fn request(method: &str) -> Value {
    json!({"jsonrpc":"2.0","id":3,"method":method})
}
