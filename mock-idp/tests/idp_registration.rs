//! RFC 7591 dynamic client registration, then using the registered clients.

mod idp_support;

use idp_support::{authorize, claims, http, post_form, start};
use mock_idp::server::MockIdp;
use serde_json::{Value, json};

async fn register(idp: &MockIdp, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = http()
        .post(idp.registration_endpoint())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

#[tokio::test]
async fn public_native_client_registers_and_completes_a_code_flow() {
    let idp = start().await;
    let request = json!({
        "redirect_uris": ["http://127.0.0.1:53117/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "authspec test client",
        "application_type": "native",
        "x_unknown": 1
    });
    let (status, headers, body) = register(&idp, &request).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    for (k, v) in request.as_object().unwrap() {
        assert_eq!(&body[k], v, "{k} echoed");
    }
    assert!(body.get("client_secret").is_none());
    assert!(body.get("client_secret_expires_at").is_none());
    assert!(body["client_id_issued_at"].is_i64());
    let client_id = body["client_id"].as_str().unwrap();

    let http = http();
    // Loopback: any port.
    let redirect = "http://127.0.0.1:40000/cb";
    let (v, code) = authorize(
        &http,
        &idp.authorization_endpoint(),
        client_id,
        redirect,
        &[],
    )
    .await;
    let (status, tokens) = post_form(
        &http,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        client_id
    );
    assert!(tokens["refresh_token"].is_string());
    // The registration lives at this issuer only.
    let rogue = idp.urls(mock_idp::server::IssuerKind::Rogue);
    let resp = http
        .get(&rogue.authorization_endpoint)
        .query(&[("client_id", client_id), ("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    idp.shutdown().await;
}

#[tokio::test]
async fn confidential_client_registers_with_a_secret() {
    let idp = start().await;
    let (status, _, body) = register(
        &idp,
        &json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "mcp:read mcp:write"
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().unwrap();
    assert_eq!(body["client_secret_expires_at"], 0);
    assert!(secret.len() >= 43);
    assert!(body.get("response_types").is_none());
    let http = http();
    let (status, tokens) = post_form(
        &http,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["sub"], id);
    // Its registered scope bounds what it may ask for.
    let (status, body) = post_form(
        &http,
        &idp.token_endpoint(),
        Some((id, secret)),
        &[("grant_type", "client_credentials"), ("scope", "mcp:admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // It may not use a grant it did not register, nor introspect.
    let (status, body) = post_form(
        &http,
        &idp.token_endpoint(),
        Some((id, secret)),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (status, body) = post_form(
        &http,
        &idp.introspection_endpoint(),
        Some((id, secret)),
        &[("token", "x")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn registered_opaque_and_dpop_bound_clients() {
    let idp = start().await;
    let (status, _, body) = register(
        &idp,
        &json!({"grant_types": ["client_credentials"], "authspec_token_format": "opaque"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let (status, tokens) = post_form(
        &http(),
        &idp.token_endpoint(),
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!tokens["access_token"].as_str().unwrap().contains('.'));

    let (status, _, body) = register(
        &idp,
        &json!({"grant_types": ["client_credentials"], "dpop_bound_access_tokens": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let (status, body) = post_form(
        &http(),
        &idp.token_endpoint(),
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    idp.shutdown().await;
}
