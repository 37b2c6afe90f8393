//! RFC 7591 dynamic client registration: JSON in, `201` with the client's metadata out
//! (`Cache-Control: no-store`). Bad redirect URIs get `invalid_redirect_uri`; invalid or
//! inconsistent metadata gets `invalid_client_metadata`.
//!
//! RFC 7592 client configuration: the `201` names `registration_client_uri`
//! (`<I>/register/<client_id>`) and a `registration_access_token`; with that token as a Bearer
//! token, GET reads the registration and DELETE removes the client (204). A wrong or missing
//! token, or an unknown client, gets 401 (RFC 7592 §2: no hint whether the client exists).
//!
//! Extension: `"authspec_token_format": "opaque"` registers a client whose access tokens
//! are opaque (resolved by introspection).
//!
//! Extension: `"resource": "<R>"` registers a resource server's own client: with the token
//! exchange grant it may exchange the access tokens issued for `R` (RFC 8693; the member is
//! named as in RFC 9728 §2 protected resource metadata, which the server publishes anyway).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use super::AsFault;
use super::clients::{Client, ClientAuthMethod, GRANT_TYPES, TokenFormat, check_redirect_uri};
use super::error::{OAuthError, json_answer};
use super::exchange::TOKEN_EXCHANGE_GRANT_TYPE;
use super::params::{has_media_type, read_body};
use super::state::IssuerCtx;
use crate::json::{JsonError, JsonObject};
use crate::random_b64url;

/// Members that must be strings when present.
const STRING_MEMBERS: [&str; 9] = [
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "jwks_uri",
    "scope",
];

pub(crate) async fn register(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let faults = &ctx.shared.config.faults;
    if faults.contains(&AsFault::RejectEverything) {
        return json_answer(
            StatusCode::CREATED,
            Err(OAuthError::invalid_request(
                super::authorize::REFUSES_EVERYTHING,
            )),
        );
    }
    if faults.contains(&AsFault::DcrInitialTokenRequired)
        && !headers.contains_key(header::AUTHORIZATION)
    {
        return bearer_refusal("registration needs an initial access token");
    }
    let mut resp = json_answer(StatusCode::CREATED, handle(&ctx, &headers, body).await);
    if faults.contains(&AsFault::DcrCacheable) && resp.status() == StatusCode::CREATED {
        resp.headers_mut().remove(header::CACHE_CONTROL);
        resp.headers_mut().remove(header::PRAGMA);
    }
    resp
}

/// 401 `invalid_token` with a Bearer challenge (RFC 6750 §3, which RFC 7591 §3 and RFC 7592
/// §2 use for their tokens).
fn bearer_refusal(why: &str) -> Response {
    let mut resp = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", why).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    resp
}

/// RFC 7592 client configuration endpoint: GET reads, DELETE removes.
pub(crate) async fn configuration(
    State(ctx): State<IssuerCtx>,
    Path(client_id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let mut st = ctx.issuer().lock();
    let opens = st
        .registration_tokens
        .get(&client_id)
        .is_some_and(|token| Some(token.as_str()) == presented);
    if !opens {
        return bearer_refusal("the registration access token does not open this client");
    }
    if method == Method::DELETE {
        st.registration_tokens.remove(&client_id);
        st.clients.remove(&client_id);
        st.registered = st.registered.saturating_sub(1);
        return StatusCode::NO_CONTENT.into_response();
    }
    let metadata = st
        .clients
        .get(&client_id)
        .map(|c| Value::Object(c.metadata.clone()))
        .unwrap_or_default();
    json_answer(StatusCode::OK, Ok(metadata))
}

async fn handle(ctx: &IssuerCtx, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let shared = &ctx.shared;
    let faults = &shared.config.faults;
    if !has_media_type(headers, "application/json") {
        return Err(OAuthError::invalid_client_metadata(
            "Content-Type must be application/json",
        ));
    }
    let bytes = read_body(body, shared.config.max_body_bytes).await?;
    let obj = JsonObject::parse(&bytes).map_err(|e| {
        OAuthError::invalid_client_metadata(match e {
            JsonError::NotObject => "client metadata must be a JSON object".to_owned(),
            e => format!("client metadata is not JSON: {e}"),
        })
    })?;
    if let Some(dup) = obj.duplicates().first() {
        return Err(OAuthError::invalid_client_metadata(format!(
            "member {dup} is repeated"
        )));
    }
    let mut metadata = obj.to_map();
    let mut client = validate(&shared.config.scopes_supported, faults, &metadata)?;
    if faults.contains(&AsFault::DcrNativeAsWeb) {
        metadata.insert("application_type".into(), json!("web"));
    }

    let mut st = ctx.issuer().lock();
    if st.registered >= shared.config.max_registered_clients {
        return Err(OAuthError::invalid_client_metadata(
            "registration limit of this server reached",
        ));
    }
    let now = shared.now();
    client.client_id = format!("dyn-{}", random_b64url(16));
    let mut response = metadata;
    response.insert("client_id".into(), json!(client.client_id));
    response.insert("client_id_issued_at".into(), json!(now));
    response.insert(
        "token_endpoint_auth_method".into(),
        json!(client.auth_method.name()),
    );
    response.insert("grant_types".into(), json!(client.grant_types));
    let response_types: Vec<&str> = if client.allows_grant("authorization_code") {
        vec!["code"]
    } else {
        Vec::new()
    };
    if response_types.is_empty() {
        response.remove("response_types");
    } else {
        response.insert("response_types".into(), json!(response_types));
    }
    let mut secrets = Vec::new();
    if client.auth_method != ClientAuthMethod::None {
        let secret = random_b64url(32);
        client.client_secret = Some(secret.clone());
        response.insert("client_secret".into(), json!(secret));
        response.insert("client_secret_expires_at".into(), json!(0));
        secrets.push(secret);
    } else if faults.contains(&AsFault::DcrSecretForPublic) {
        // Handed out, never required: the client stays public.
        let secret = random_b64url(32);
        response.insert("client_secret".into(), json!(secret));
        secrets.push(secret);
    }
    let token = random_b64url(32);
    response.insert(
        "registration_client_uri".into(),
        json!(
            ctx.issuer()
                .endpoint(&format!("register/{}", client.client_id))
        ),
    );
    response.insert("registration_access_token".into(), json!(token));
    secrets.push(token.clone());
    client.metadata = response.clone();
    st.registered += 1;
    st.registration_tokens
        .insert(client.client_id.clone(), token);
    st.clients.insert(client.client_id.clone(), client);
    drop(st);
    shared.record_exchanged(secrets.iter().map(String::as_str));
    Ok(Value::Object(response))
}

/// Builds the client from its metadata (client id and secret are filled in by the caller).
fn validate(
    scopes_supported: &[String],
    faults: &BTreeSet<AsFault>,
    m: &Map<String, Value>,
) -> Result<Client, OAuthError> {
    let bad = OAuthError::invalid_client_metadata;
    if m.contains_key("software_statement") {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unapproved_software_statement",
            "software statements are not accepted",
        ));
    }
    for name in STRING_MEMBERS {
        if m.get(name).is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("{name} must be a string")));
        }
    }
    let auth_method = match m.get("token_endpoint_auth_method") {
        None => ClientAuthMethod::ClientSecretBasic,
        Some(Value::String(s)) => ClientAuthMethod::from_name(s)
            .ok_or_else(|| bad(format!("token_endpoint_auth_method {s} is not supported")))?,
        Some(_) => return Err(bad("token_endpoint_auth_method must be a string".into())),
    };
    let grant_types = match m.get("grant_types") {
        None => vec!["authorization_code".to_owned()],
        Some(v) => string_array(v, "grant_types")?,
    };
    if grant_types.is_empty() {
        return Err(bad("grant_types must not be empty".into()));
    }
    if let Some(g) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(bad(format!("grant type {g} is not supported")));
    }
    let code_flow = grant_types.iter().any(|g| g == "authorization_code");
    let response_types = match m.get("response_types") {
        None if code_flow => vec!["code".to_owned()],
        None => Vec::new(),
        Some(v) => string_array(v, "response_types")?,
    };
    if let Some(r) = response_types.iter().find(|r| *r != "code") {
        return Err(bad(format!("response type {r} is not supported")));
    }
    if code_flow == response_types.is_empty() {
        return Err(bad(
            "grant_types and response_types are inconsistent (authorization_code needs code)"
                .into(),
        ));
    }
    if auth_method == ClientAuthMethod::None {
        let confidential_only = ["client_credentials", TOKEN_EXCHANGE_GRANT_TYPE];
        if let Some(g) = grant_types
            .iter()
            .find(|g| confidential_only.contains(&g.as_str()))
        {
            return Err(bad(format!("a public client cannot use {g}")));
        }
    }
    let resources = match m.get("resource") {
        None => Vec::new(),
        Some(Value::String(r)) if !r.contains('#') && url::Url::parse(r).is_ok() => {
            vec![r.clone()]
        }
        Some(_) => {
            return Err(bad(
                "resource must be an absolute URI without a fragment".into()
            ));
        }
    };
    if m.contains_key("jwks")
        && m.contains_key("jwks_uri")
        && !faults.contains(&AsFault::DcrJwksWithJwksUri)
    {
        return Err(bad("jwks and jwks_uri must not both be present".into()));
    }
    if m.get("jwks").is_some_and(|v| !v.is_object()) {
        return Err(bad("jwks must be a JWK Set object".into()));
    }
    let redirect_uris = match m.get("redirect_uris") {
        None => Vec::new(),
        Some(v) => string_array(v, "redirect_uris")?,
    };
    for uri in &redirect_uris {
        let http_off_loopback = || uri.starts_with("http://");
        match check_redirect_uri(uri) {
            Ok(()) => {}
            Err(_) if faults.contains(&AsFault::RedirectHttpAllowed) && http_off_loopback() => {}
            Err(_) if faults.contains(&AsFault::DcrRedirectUnchecked) && !http_off_loopback() => {}
            Err(e) => return Err(OAuthError::invalid_redirect_uri(e)),
        }
    }
    if code_flow && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    let scope = match m.get("scope").and_then(Value::as_str) {
        None | Some("") => None,
        Some(s) => {
            if let Some(unknown) = s
                .split(' ')
                .find(|t| !scopes_supported.iter().any(|s| s == t))
            {
                return Err(bad(format!("scope {unknown:?} is not supported")));
            }
            Some(s.to_owned())
        }
    };
    match m.get("application_type") {
        None => {}
        Some(Value::String(t)) if t == "web" || t == "native" => {}
        Some(_) => return Err(bad("application_type must be web or native".into())),
    }
    if let Some(c) = m.get("contacts") {
        string_array(c, "contacts")?;
    }
    let dpop_bound_access_tokens = match m.get("dpop_bound_access_tokens") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("dpop_bound_access_tokens must be a boolean".into())),
    };
    let token_format = match m.get("authspec_token_format") {
        None => TokenFormat::Jwt,
        Some(Value::String(s)) if s == "jwt" => TokenFormat::Jwt,
        Some(Value::String(s)) if s == "opaque" => TokenFormat::Opaque,
        Some(_) => return Err(bad("authspec_token_format must be jwt or opaque".into())),
    };
    Ok(Client {
        client_id: String::new(),
        client_secret: None,
        auth_method,
        redirect_uris,
        grant_types,
        scope,
        token_format,
        dpop_bound_access_tokens,
        may_introspect: false,
        resources,
        metadata: Map::new(),
    })
}

fn string_array(v: &Value, name: &str) -> Result<Vec<String>, OAuthError> {
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            OAuthError::invalid_client_metadata(format!("{name} must be an array of strings"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value) -> Result<Client, &'static str> {
        let scopes = ["mcp:read".to_string()];
        validate(&scopes, &BTreeSet::new(), v.as_object().unwrap()).map_err(|e| e.error)
    }

    #[test]
    fn registration_metadata_rules() {
        let ok = check(json!({
            "redirect_uris": ["http://127.0.0.1:53117/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "x",
            "application_type": "native"
        }))
        .unwrap();
        assert!(ok.is_public());
        let meta = "invalid_client_metadata";
        let redirect = "invalid_redirect_uri";
        let cases = [
            (
                json!({"redirect_uris": ["http://client.test/cb"]}),
                redirect,
            ),
            (json!({"redirect_uris": ["https://c.test/cb#f"]}), redirect),
            (json!({"redirect_uris": ["/cb"]}), redirect),
            (json!({"redirect_uris": ["javascript:alert(1)"]}), redirect),
            (json!({}), redirect),
            (json!({"redirect_uris": "https://c.test/cb"}), meta),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "jwks": {"keys": []}, "jwks_uri": "https://c.test/j"}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "grant_types": ["implicit"], "response_types": ["code"]}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "token_endpoint_auth_method": "bogus"}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "response_types": ["token"]}),
                meta,
            ),
            (
                json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
                meta,
            ),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "scope": "root"}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "client_name": 7}),
                meta,
            ),
            (
                json!({"redirect_uris": ["https://c.test/cb"], "dpop_bound_access_tokens": "yes"}),
                meta,
            ),
            (
                json!({"software_statement": "x.y.z"}),
                "unapproved_software_statement",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(check(input.clone()).err(), Some(expected), "{input}");
        }
        let cc = check(json!({"grant_types": ["client_credentials"]})).unwrap();
        assert!(!cc.allows_grant("authorization_code"));
    }
}
