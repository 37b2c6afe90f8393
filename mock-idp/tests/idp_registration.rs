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
    // It may not use a grant it did not register; it may introspect, but learns only about
    // its own tokens.
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
        (status, &body),
        (200, &serde_json::json!({"active": false}))
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

/// The registration a public native client sends (spec as-dcr-success).
fn native_client(redirect_uris: &[&str]) -> Value {
    json!({
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "authspec test client",
        "application_type": "native"
    })
}

/// An authorization request (GET, not followed): the status and the `Location`, if any.
async fn authorization_answer(idp: &MockIdp, query: &[(&str, &str)]) -> (u16, Option<String>) {
    let resp = http()
        .get(idp.authorization_endpoint())
        .query(query)
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (resp.status().as_u16(), location)
}

/// A request of `client_id` with PKCE S256 unless `pkce` is false.
async fn request_of(
    idp: &MockIdp,
    client_id: &str,
    redirect_uri: Option<&str>,
    pkce: bool,
) -> (u16, Option<String>) {
    let challenge = mock_idp::jwk::pkce_s256(&mock_idp::random_b64url(32));
    let mut query = vec![("response_type", "code"), ("client_id", client_id)];
    if let Some(r) = redirect_uri {
        query.push(("redirect_uri", r));
    }
    if pkce {
        query.push(("code_challenge", &challenge));
        query.push(("code_challenge_method", "S256"));
    }
    authorization_answer(idp, &query).await
}

#[tokio::test]
async fn rfc7592_reads_and_deletes_a_registration_with_its_token_only() {
    let idp = start().await;
    let trusted = mock_idp::server::IssuerKind::Trusted;
    let (status, _, body) = register(&idp, &native_client(&["http://127.0.0.1/callback"])).await;
    assert_eq!(status, 201, "{body}");
    let client_id = body["client_id"].as_str().unwrap();
    let uri = body["registration_client_uri"].as_str().unwrap();
    let token = body["registration_access_token"].as_str().unwrap();
    assert_eq!(uri, format!("{}/{client_id}", idp.registration_endpoint()));
    assert!(token.len() >= 43);
    assert_eq!(idp.registered_clients(trusted), 1);
    assert!(idp.credentials_exchanged().iter().any(|c| c == token));

    let http = http();
    for presented in [None, Some("wrong-token"), Some(client_id)] {
        let mut req = http.get(uri);
        if let Some(t) = presented {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{presented:?}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
    let read = http.get(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["cache-control"], "no-store");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], client_id);
    assert_eq!(read["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    let put = http.put(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(put.status(), 405);
    // Another client's token opens nothing here.
    let (_, _, other) = register(&idp, &native_client(&["http://127.0.0.1/callback"])).await;
    let other_token = other["registration_access_token"].as_str().unwrap();
    let resp = http
        .delete(uri)
        .bearer_auth(other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(idp.registered_clients(trusted), 2);

    let resp = http.delete(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(idp.registered_clients(trusted), 1);
    // Gone: its configuration endpoint and its authorization requests.
    let resp = http.get(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let (status, location) =
        request_of(&idp, client_id, Some("http://127.0.0.1/callback"), true).await;
    assert_eq!((status, location), (400, None));
    idp.shutdown().await;
}

/// Each registration fault changes exactly the behaviour its description names.
#[tokio::test]
async fn registration_faults_break_what_they_say() {
    use mock_idp::server::{AsFault, PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS};
    let with = |fault: AsFault| {
        idp_support::start_with(mock_idp::server::IdpConfig {
            faults: [fault].into(),
            ..mock_idp::server::IdpConfig::default()
        })
    };
    let loopback = "http://127.0.0.1/callback";

    let idp = with(AsFault::DcrSecretForPublic).await;
    let (status, _, body) = register(&idp, &native_client(&[loopback])).await;
    assert_eq!(status, 201);
    assert!(body["client_secret"].is_string());
    assert!(body.get("client_secret_expires_at").is_none());
    idp.shutdown().await;

    let idp = with(AsFault::DcrRedirectUnchecked).await;
    for uri in ["https://c.test/cb#f", "/cb", "javascript:alert(1)"] {
        let (status, _, body) = register(&idp, &native_client(&[uri])).await;
        assert_eq!(status, 201, "{uri}: {body}");
    }
    let (status, _, body) = register(&idp, &native_client(&["http://client.test/cb"])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    idp.shutdown().await;

    let idp = with(AsFault::RedirectHttpAllowed).await;
    let plain = "http://client.test/cb";
    let (status, _, body) = register(&idp, &native_client(&[loopback, plain])).await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap();
    let (status, location) = request_of(&idp, id, Some(plain), true).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().starts_with("http://client.test/cb?code="));
    let (status, _, _) = register(&idp, &native_client(&["https://c.test/cb#f"])).await;
    assert_eq!(status, 400);
    idp.shutdown().await;

    let idp = with(AsFault::DcrJwksWithJwksUri).await;
    let mut both = native_client(&[loopback]);
    both["jwks"] = json!({"keys": []});
    both["jwks_uri"] = json!("https://client.example/jwks.json");
    let (status, _, body) = register(&idp, &both).await;
    assert_eq!(status, 201, "{body}");
    idp.shutdown().await;

    let idp = with(AsFault::DcrPublicPkceOptional).await;
    let (_, _, body) = register(&idp, &native_client(&[loopback])).await;
    let id = body["client_id"].as_str().unwrap();
    let (status, location) = request_of(&idp, id, Some(loopback), false).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("code="));
    let (status, location) =
        request_of(&idp, PUBLIC_CLIENT_ID, Some(PUBLIC_REDIRECT_URIS[0]), false).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("error=invalid_request"));
    idp.shutdown().await;

    let idp = with(AsFault::DcrNativeAsWeb).await;
    let (_, _, body) = register(&idp, &native_client(&[loopback])).await;
    assert_eq!(body["application_type"], "web");
    idp.shutdown().await;

    let idp = with(AsFault::DcrInitialTokenRequired).await;
    let (status, headers, body) = register(&idp, &native_client(&[loopback])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(
        headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let resp = http()
        .post(idp.registration_endpoint())
        .bearer_auth("initial-access-token")
        .json(&native_client(&[loopback]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    idp.shutdown().await;

    let idp = with(AsFault::DcrCacheable).await;
    let (status, headers, _) = register(&idp, &native_client(&[loopback])).await;
    assert_eq!(status, 201);
    assert!(headers.get("cache-control").is_none());
    idp.shutdown().await;

    // Several redirect URIs and none in the request: an error page, or under the fault the
    // first one.
    let second = "http://127.0.0.1/second";
    for (fault, due) in [
        (None, (400, None)),
        (
            Some(AsFault::RedirectDefaultOfSeveral),
            (302, Some(loopback)),
        ),
    ] {
        let idp = match fault {
            Some(f) => with(f).await,
            None => start().await,
        };
        let (_, _, body) = register(&idp, &native_client(&[loopback, second])).await;
        let id = body["client_id"].as_str().unwrap();
        let (status, location) = request_of(&idp, id, None, true).await;
        let base = location.as_deref().map(|l| l.split('?').next().unwrap());
        assert_eq!((status, base), due, "{fault:?}");
        idp.shutdown().await;
    }
}
