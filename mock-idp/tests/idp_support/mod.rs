//! Shared helpers of the `idp_*` integration tests: a started IdP (keys generated once per
//! test binary), an HTTP client that never follows redirects, and the authorization step.
#![allow(dead_code)]

use std::sync::OnceLock;

use mock_idp::jwk::pkce_s256;
use mock_idp::keystore::KeyRing;
use mock_idp::random_b64url;
use mock_idp::server::{
    IdpConfig, KeySource, MockIdp, RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET,
};
use serde_json::Value;

/// One pair of rings per test binary: key generation (RSA) is the slow part of a start.
pub fn rings() -> KeySource {
    static RINGS: OnceLock<(KeyRing, KeyRing)> = OnceLock::new();
    let (trusted, rogue) = RINGS.get_or_init(|| {
        (
            KeyRing::generate("trusted").unwrap(),
            KeyRing::generate("rogue").unwrap(),
        )
    });
    KeySource::Rings {
        trusted: trusted.clone(),
        rogue: rogue.clone(),
    }
}

pub fn config() -> IdpConfig {
    IdpConfig {
        keys: rings(),
        ..IdpConfig::default()
    }
}

pub async fn start() -> MockIdp {
    MockIdp::start(config()).await.expect("mock IdP starts")
}

pub async fn start_with(config: IdpConfig) -> MockIdp {
    MockIdp::start(IdpConfig {
        keys: rings(),
        ..config
    })
    .await
    .expect("mock IdP starts")
}

/// An HTTP client that reports redirects instead of following them.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = random_b64url(32);
    let challenge = pkce_s256(&verifier);
    (verifier, challenge)
}

/// The query parameters of a `Location` header.
pub fn location_params(resp: &reqwest::Response) -> (String, Vec<(String, String)>) {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_owned();
    let url = url::Url::parse(&location).unwrap();
    let params = url.query_pairs().into_owned().collect();
    (location, params)
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs the authorization endpoint for `client_id` and returns `(verifier, code)`.
/// `extra` is appended to the standard request (`response_type=code`, S256 challenge, state).
pub async fn authorize(
    http: &reqwest::Client,
    authorization_endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut query: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
    ];
    query.extend_from_slice(extra);
    let resp = http
        .get(authorization_endpoint)
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302, "authorization succeeds");
    let (_, params) = location_params(&resp);
    assert_eq!(param(&params, "error"), None, "{params:?}");
    let code = param(&params, "code").expect("code").to_owned();
    (verifier, code)
}

/// GETs a JSON document.
pub async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// POSTs a form and returns status and JSON body.
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = http.post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The introspection answer for `token`, asked as the resource server's client.
pub async fn introspect(idp: &MockIdp, token: &str) -> Value {
    let (status, body) = post_form(
        &http(),
        &idp.introspection_endpoint(),
        Some((RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET)),
        &[("token", token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Decodes the claims of a compact JWS without verifying it.
pub fn claims(jwt: &str) -> Value {
    let jws = mock_idp::jws::Jws::parse(jwt).unwrap();
    serde_json::from_slice(jws.payload()).unwrap()
}
