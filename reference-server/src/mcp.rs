//! The MCP side: streamable HTTP on one endpoint (POST JSON-RPC, GET → 405, DELETE ends a
//! session), sessions bound to the token's subject, and the counted canary tools. Every
//! handler authenticates before it looks at anything else.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::challenge::{insufficient_scope, refusal};
use crate::config::{ADMIN_TOOL, CANARY_TOOL, DpopMode, ResponseMode, UPSTREAM_CREDENTIAL};
use crate::credentials::{self, AuthFailure, DpopFailure, Principal, RequestParts, Scheme};
use crate::fault::Fault;
use crate::server::Shared;
use crate::{dpop, introspect, jwt};

/// Protocol revisions this server speaks; the last one is offered when the client asks for
/// an unknown one.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const SESSION_HEADER: &str = "mcp-session-id";
const MAX_SESSIONS: usize = 10_000;

/// The subject a session belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub subject: String,
}

/// Authenticates a request: the token's principal, or why there is none.
pub async fn authenticate(
    shared: &Shared,
    req: &RequestParts<'_>,
) -> Result<Principal, AuthFailure> {
    let (scheme, token) = credentials::presented_token(shared, req)?;
    if scheme == Scheme::Bearer && shared.config.dpop == DpopMode::Required {
        // A DPoP-only server does not take the Bearer scheme at all (RFC 9449 §7.2).
        return Err(AuthFailure::UnsupportedScheme);
    }
    let validated = if shared.has(Fault::RejectEverything) {
        Err(AuthFailure::invalid("token refused"))
    } else {
        match &shared.config.introspection {
            Some(cfg) if token.bytes().filter(|&b| b == b'.').count() != 2 => {
                introspect::validate(shared, cfg, &token).await
            }
            _ => jwt::validate(shared, &token).await,
        }
    };
    match scheme {
        Scheme::Bearer => {
            let principal = validated?;
            if dpop::bound_jkt(&token).is_some() && !shared.has(Fault::DpopAcceptBearerDowngrade) {
                return Err(AuthFailure::invalid(
                    "a DPoP-bound token needs the DPoP scheme and a proof",
                ));
            }
            Ok(principal)
        }
        Scheme::Dpop => {
            if shared.has(Fault::DpopProofAsToken)
                && let Some(principal) = dpop::proof_as_token(shared, &token)
            {
                return Ok(principal);
            }
            // A bad token under the DPoP scheme is answered in a DPoP challenge.
            let principal = validated.map_err(|failure| match failure {
                AuthFailure::Invalid(why) => AuthFailure::Dpop(DpopFailure {
                    code: "invalid_token",
                    description: why,
                    nonce: None,
                }),
                other => other,
            })?;
            let fields = dpop::proof_fields(req.headers);
            dpop::check_proof(shared, req.method, req.query, &token, &fields).await?;
            Ok(principal)
        }
    }
}

/// A request without a token may still pass under two faults.
fn stand_in(shared: &Shared, headers: &HeaderMap, failure: &AuthFailure) -> Option<Principal> {
    if *failure != AuthFailure::NoToken {
        return None;
    }
    if shared.has(Fault::SessionIsAuthentication)
        && let Some(owner) = session_id(headers).and_then(|s| shared.session_owner(&s))
    {
        return Some(Principal {
            subject: owner,
            scopes: [shared.config.base_scope.clone()].into(),
            token: None,
        });
    }
    shared.has(Fault::AllowAnonymous).then(|| Principal {
        subject: "anonymous".into(),
        scopes: [shared.config.base_scope.clone()].into(),
        token: None,
    })
}

async fn authenticate_or_refuse(
    shared: &Shared,
    req: &RequestParts<'_>,
) -> Result<Principal, Response> {
    match authenticate(shared, req).await {
        Ok(p) => Ok(p),
        Err(failure) => {
            stand_in(shared, req.headers, &failure).ok_or_else(|| refusal(shared, &failure))
        }
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// MCP transport: servers validate `Origin` (DNS rebinding). Loopback origins pass unless a
/// list is configured; requests without `Origin` (non-browser clients) pass.
fn origin_allowed(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match &shared.config.allowed_origins {
        Some(list) => list.iter().any(|o| o == origin),
        None => url::Url::parse(origin)
            .is_ok_and(|u| matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))),
    }
}

/// Whether the answer goes out as an SSE stream.
fn wants_sse(shared: &Shared, headers: &HeaderMap) -> bool {
    if shared.config.response_mode == ResponseMode::Sse {
        return true;
    }
    let accept = accept(headers);
    accept.contains("text/event-stream")
        && !accept.contains("application/json")
        && !accept.contains("*/*")
}

fn accept(headers: &HeaderMap) -> String {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

fn acceptable(headers: &HeaderMap) -> bool {
    if !headers.contains_key(header::ACCEPT) {
        return true;
    }
    let accept = accept(headers);
    [
        "application/json",
        "text/event-stream",
        "*/*",
        "application/*",
        "text/*",
    ]
    .iter()
    .any(|m| accept.contains(m))
}

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn error_response(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    (status, axum::Json(rpc_error(id, code, message))).into_response()
}

/// A JSON-RPC answer as JSON or as one SSE `message` event.
fn answer(sse: bool, message: Value) -> Response {
    if !sse {
        return axum::Json(message).into_response();
    }
    let body = format!("event: message\ndata: {message}\n\n");
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn is_tool_call(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
}

pub async fn post(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.has(Fault::ProcessBeforeAuth) {
        // The defect: the tool runs before anyone looked at the credentials.
        if is_tool_call(&body) {
            shared.canary.fetch_add(1, Ordering::SeqCst);
        }
    }
    let req = RequestParts {
        method: "POST",
        headers: &headers,
        query: query.as_deref(),
        body: &body,
    };
    let principal = match authenticate(&shared, &req).await {
        Ok(p) => p,
        Err(failure) => {
            if shared.has(Fault::ProcessBeforeExpCheck)
                && matches!(&failure, AuthFailure::Invalid(why) if why == jwt::TOKEN_EXPIRED)
                && is_tool_call(&body)
            {
                // The defect: the expiry is checked after the tool ran.
                shared.canary.fetch_add(1, Ordering::SeqCst);
            }
            match stand_in(&shared, &headers, &failure) {
                Some(p) => p,
                None => return refusal(&shared, &failure),
            }
        }
    };
    if shared.config.scope_on_every_request
        && !has_scope(&shared, &principal.scopes, &shared.config.base_scope)
    {
        let needed = [shared.config.base_scope.clone()];
        let granted: Vec<String> = principal.scopes.iter().cloned().collect();
        return insufficient_scope(&shared, &needed, &granted);
    }
    if !origin_allowed(&shared, &headers) {
        return error_response(
            StatusCode::FORBIDDEN,
            &Value::Null,
            -32600,
            "Origin not allowed",
        );
    }
    if !acceptable(&headers) {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            &Value::Null,
            -32600,
            "Accept must allow application/json or text/event-stream",
        );
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(_) => {
            return error_response(StatusCode::BAD_REQUEST, &Value::Null, -32700, "parse error");
        }
    };
    let Value::Object(fields) = &message else {
        let why = if message.is_array() {
            "batches are not supported"
        } else {
            "a JSON-RPC message is an object"
        };
        return error_response(StatusCode::BAD_REQUEST, &Value::Null, -32600, why);
    };
    let id = fields.get("id").cloned().unwrap_or(Value::Null);
    if fields.get("jsonrpc") != Some(&json!("2.0")) {
        return error_response(
            StatusCode::BAD_REQUEST,
            &id,
            -32600,
            "jsonrpc must be \"2.0\"",
        );
    }
    let method = match fields.get("method") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &id,
                -32600,
                "method must be a string",
            );
        }
        None if fields.contains_key("result") || fields.contains_key("error") => {
            // A response to a server request: this server sends none, so just accept it.
            return StatusCode::ACCEPTED.into_response();
        }
        None => return error_response(StatusCode::BAD_REQUEST, &id, -32600, "no method"),
    };
    let is_request = fields.contains_key("id");
    if is_request && !matches!(id, Value::String(_) | Value::Number(_)) {
        return error_response(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            -32600,
            "id must be a string or number",
        );
    }
    let sse = wants_sse(&shared, &headers);
    if method == "initialize" && is_request {
        return initialize(&shared, &principal, &id, fields.get("params"), sse);
    }
    // Everything else belongs to a session of the same subject.
    let Some(session) = session_id(&headers) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &id,
            -32600,
            "Mcp-Session-Id required",
        );
    };
    match shared.session_owner(&session) {
        Some(owner) if owner == principal.subject || shared.has(Fault::SessionNotBound) => {}
        Some(_) if shared.has(Fault::SessionMismatch500) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &id,
                -32603,
                "session owner mismatch",
            );
        }
        Some(_) if shared.has(Fault::SessionMismatch400) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &id,
                -32600,
                "session belongs to another user",
            );
        }
        // Another subject's session is answered like an unknown one: 404, nothing revealed.
        _ => return error_response(StatusCode::NOT_FOUND, &id, -32600, "unknown session"),
    }
    if let Some(v) = headers.get("mcp-protocol-version")
        && !v.to_str().is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            &id,
            -32600,
            "unsupported MCP-Protocol-Version",
        );
    }
    if !is_request {
        return StatusCode::ACCEPTED.into_response();
    }
    let reply = match method.as_str() {
        "ping" => rpc_result(&id, json!({})),
        "tools/list" => rpc_result(&id, tools_list(&shared)),
        "tools/call" => match call_tool(&shared, &principal, &id, fields.get("params")).await {
            Ok(v) => v,
            Err(resp) => return resp,
        },
        _ => rpc_error(&id, -32601, "method not found"),
    };
    answer(sse, reply)
}

fn initialize(
    shared: &Shared,
    principal: &Principal,
    id: &Value,
    params: Option<&Value>,
    sse: bool,
) -> Response {
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    let version = requested
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]);
    let session = mock_idp::random_b64url(24);
    shared.open_session(
        session.clone(),
        Session {
            subject: principal.subject.clone(),
        },
    );
    let result = json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "mcp-authspec-reference", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Reference MCP server of mcp-authspec: every canary call is counted."
    });
    let mut resp = answer(sse, rpc_result(id, result));
    if let Ok(v) = HeaderValue::from_str(&session) {
        resp.headers_mut().insert(SESSION_HEADER, v);
    }
    resp
}

fn tools_list(shared: &Shared) -> Value {
    let c = &shared.config;
    json!({"tools": [
        {
            "name": CANARY_TOOL,
            "description": format!("Counts its calls. Needs {}.", c.base_scope),
            "inputSchema": {"type": "object", "properties": {}}
        },
        {
            "name": ADMIN_TOOL,
            "description": format!("Counts its calls. Needs {} and {}.", c.base_scope, c.step_up_scope),
            "inputSchema": {"type": "object", "properties": {}}
        }
    ]})
}

/// Whether the granted scopes satisfy `needed`, with hierarchy (a broader scope implies the
/// ones it includes) and case-sensitive values (RFC 6749 §3.3).
fn has_scope(shared: &Shared, granted: &BTreeSet<String>, needed: &str) -> bool {
    let same = |a: &str, b: &str| {
        if shared.has(Fault::ScopeCaseInsensitive) {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    granted.iter().any(|g| {
        same(g, needed)
            || (!shared.has(Fault::IgnoreScopeHierarchy)
                && shared
                    .config
                    .scope_hierarchy
                    .get(g)
                    .is_some_and(|implied| implied.iter().any(|i| same(i, needed))))
    })
}

async fn call_tool(
    shared: &Shared,
    principal: &Principal,
    id: &Value,
    params: Option<&Value>,
) -> Result<Value, Response> {
    let Some(tool) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
        return Ok(rpc_error(id, -32602, "params.name is required"));
    };
    let c = &shared.config;
    let needed: Vec<String> = match tool {
        CANARY_TOOL => vec![c.base_scope.clone()],
        ADMIN_TOOL => vec![c.base_scope.clone(), c.step_up_scope.clone()],
        _ => return Ok(rpc_error(id, -32602, "unknown tool")),
    };
    if !needed
        .iter()
        .all(|s| has_scope(shared, &principal.scopes, s))
    {
        let granted: Vec<String> = principal.scopes.iter().cloned().collect();
        return Err(insufficient_scope(shared, &needed, &granted));
    }
    let count = if shared.has(Fault::ProcessBeforeAuth) {
        shared.canary.load(Ordering::SeqCst)
    } else {
        shared.canary.fetch_add(1, Ordering::SeqCst) + 1
    };
    let mut text = format!("counted ({count})");
    if let Some(upstream) = &c.canary_upstream {
        let credential = match (&principal.token, shared.has(Fault::TokenPassthrough)) {
            (Some(t), true) => t.as_str(),
            _ => UPSTREAM_CREDENTIAL,
        };
        let sent = shared
            .http
            .post(upstream)
            .bearer_auth(credential)
            .json(&json!({"tool": tool, "count": count}))
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        text.push_str(match sent {
            Ok(r) if r.status().is_success() => "; upstream notified",
            _ => "; upstream unreachable",
        });
    }
    Ok(rpc_result(
        id,
        json!({"content": [{"type": "text", "text": text}], "isError": false}),
    ))
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let req = RequestParts {
        method: "GET",
        headers: &headers,
        query: query.as_deref(),
        body: &[],
    };
    if let Err(resp) = authenticate_or_refuse(&shared, &req).await {
        return resp;
    }
    // No server-initiated stream is offered (streamable HTTP allows 405).
    let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    resp
}

pub async fn delete(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let req = RequestParts {
        method: "DELETE",
        headers: &headers,
        query: query.as_deref(),
        body: &[],
    };
    let principal = if shared.has(Fault::UnauthenticatedDelete) {
        None
    } else {
        match authenticate_or_refuse(&shared, &req).await {
            Ok(p) => Some(p),
            Err(resp) => return resp,
        }
    };
    let Some(session) = session_id(&headers) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            -32600,
            "Mcp-Session-Id required",
        );
    };
    let allowed = |owner: &str| {
        principal
            .as_ref()
            .is_none_or(|p| p.subject == owner || shared.has(Fault::SessionNotBound))
    };
    if shared.close_session(&session, allowed) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error_response(
            StatusCode::NOT_FOUND,
            &Value::Null,
            -32600,
            "unknown session",
        )
    }
}

pub(crate) fn cap_sessions(len: usize) -> bool {
    len >= MAX_SESSIONS
}
