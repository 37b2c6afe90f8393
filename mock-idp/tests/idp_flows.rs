//! End-to-end grants over loopback HTTP: client credentials (basic and post), authorization
//! code with PKCE S256, refresh-token rotation with family revocation, resource and scope
//! handling, opaque tokens and introspection.

mod idp_support;

use idp_support::{
    authorize, claims, http, introspect, location_params, param, pkce, post_form, start,
};
use mock_idp::server::{
    CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DEFAULT_AUDIENCE, OPAQUE_CLIENT_ID,
    OPAQUE_CLIENT_SECRET, OPAQUE_REDIRECT_URI, PUBLIC_CLIENT_ID,
};
use serde_json::{Value, json};

const AUD: &str = "https://mcp.test/mcp";
const CONF: Option<(&str, &str)> = Some((CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET));
const LOOPBACK: &str = "http://127.0.0.1:53117/callback";

#[tokio::test]
async fn client_credentials_basic_and_post() {
    let idp = start().await;
    let client = http();
    let resp = client
        .post(idp.token_endpoint())
        .basic_auth(CONFIDENTIAL_CLIENT_ID, Some(CONFIDENTIAL_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("resource", AUD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "mcp:read", "default scope");
    assert!(body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], AUD);
    assert_eq!(c["iss"], idp.issuer());
    assert_eq!(
        c["sub"], CONFIDENTIAL_CLIENT_ID,
        "client tokens: sub is the client"
    );
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);

    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", CONFIDENTIAL_CLIENT_SECRET),
            ("scope", "mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        c["aud"], DEFAULT_AUDIENCE,
        "no resource: the default audience"
    );
    assert_eq!(c["scope"], "mcp:write");

    // Two resources: an audience array.
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        CONF,
        &[
            ("grant_type", "client_credentials"),
            ("resource", AUD),
            ("resource", "https://other.test/mcp"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        json!([AUD, "https://other.test/mcp"])
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let idp = start().await;
    let client = http();
    let (verifier, challenge) = pkce();
    let resp = client
        .get(idp.authorization_endpoint())
        .query(&[
            ("response_type", "code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", LOOPBACK),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz-123"),
            ("scope", "mcp:read mcp:write"),
            ("resource", AUD),
            ("foo", "ignored"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let (location, params) = location_params(&resp);
    assert!(
        location.starts_with("http://127.0.0.1:53117/callback?"),
        "{location}"
    );
    assert_eq!(param(&params, "state"), Some("xyz-123"));
    assert_eq!(param(&params, "iss"), Some(idp.issuer()));
    let code = param(&params, "code").unwrap();
    assert!(code.len() >= 43);

    let token = |code: String, verifier: String| {
        let client = client.clone();
        let url = idp.token_endpoint();
        async move {
            post_form(
                &client,
                &url,
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", PUBLIC_CLIENT_ID),
                    ("code", &code),
                    ("redirect_uri", LOOPBACK),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    // A wrong verifier (valid syntax) is refused and does not burn the code.
    let (status, body) = token(code.to_owned(), pkce().0).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token(code.to_owned(), verifier.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "mcp:read mcp:write");
    assert!(body["refresh_token"].is_string());
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], "test-user");
    assert_eq!(c["client_id"], PUBLIC_CLIENT_ID);
    assert_eq!(c["aud"], AUD, "resource of the authorization request");
    let first_access = body["access_token"].as_str().unwrap().to_owned();
    let first_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&idp, &first_access).await["active"], true);

    // Reuse: refused, and what the code produced is revoked.
    let (status, body) = token(code.to_owned(), verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&idp, &first_access).await,
        json!({"active": false})
    );
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn pkce_plain_and_missing_are_refused() {
    let idp = start().await;
    let client = http();
    for (method, challenge) in [
        (Some("plain"), "a".repeat(43)),
        (None, "a".repeat(43)),
        (Some("S512"), "a".repeat(43)),
    ] {
        let mut q = vec![
            ("response_type", "code".to_owned()),
            ("client_id", PUBLIC_CLIENT_ID.to_owned()),
            ("redirect_uri", LOOPBACK.to_owned()),
            ("code_challenge", challenge),
            ("state", "s".to_owned()),
        ];
        if let Some(m) = method {
            q.push(("code_challenge_method", m.to_owned()));
        }
        let resp = client
            .get(idp.authorization_endpoint())
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let (_, params) = location_params(&resp);
        assert_eq!(
            param(&params, "error"),
            Some("invalid_request"),
            "{method:?}"
        );
        assert_eq!(param(&params, "state"), Some("s"));
        assert_eq!(param(&params, "iss"), Some(idp.issuer()));
        assert_eq!(param(&params, "code"), None);
    }
    // Missing verifier at the token endpoint.
    let (_, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[],
    )
    .await;
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", LOOPBACK),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_and_time() {
    let idp = start().await;
    let client = http();
    let endpoint = idp.authorization_endpoint();
    let redeem = |code: String,
                  verifier: String,
                  redirect: &'static str,
                  auth: Option<(&'static str, &'static str)>,
                  client_id: &'static str| {
        let client = client.clone();
        let url = idp.token_endpoint();
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect.to_owned()),
                ("code_verifier", verifier),
            ];
            if auth.is_none() {
                form.push(("client_id", client_id.to_owned()));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&client, &url, auth, &form).await
        }
    };
    // Issued to the public client, redeemed by the confidential one.
    let (v, code) = authorize(&client, &endpoint, PUBLIC_CLIENT_ID, LOOPBACK, &[]).await;
    let (status, body) = redeem(code.clone(), v.clone(), LOOPBACK, CONF, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Another redirect URI.
    let (status, body) = redeem(
        code.clone(),
        v.clone(),
        "http://127.0.0.1:1/callback",
        None,
        PUBLIC_CLIENT_ID,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Still redeemable by its own client with the right redirect URI.
    let (status, _) = redeem(code, v, LOOPBACK, None, PUBLIC_CLIENT_ID).await;
    assert_eq!(status, 200);
    // Expiry (60 s by default).
    let (v, code) = authorize(&client, &endpoint, PUBLIC_CLIENT_ID, LOOPBACK, &[]).await;
    idp.advance_clock(61);
    let (status, body) = redeem(code, v, LOOPBACK, None, PUBLIC_CLIENT_ID).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn confidential_code_flow_and_resource_binding() {
    let idp = start().await;
    let client = http();
    let redirect = "https://client.test/cb";
    let (v, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        CONFIDENTIAL_CLIENT_ID,
        redirect,
        &[("resource", AUD)],
    )
    .await;
    // A resource not granted at authorization time.
    let form = |res: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", v.as_str()),
            ("resource", res),
        ]
    };
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        CONF,
        &form("https://other.test/mcp"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = post_form(&client, &idp.token_endpoint(), CONF, &form(AUD)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], AUD);
    let rt = body["refresh_token"].as_str().unwrap();
    // Refresh cannot move to another resource or widen the scope.
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        CONF,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("resource", "https://other.test/mcp"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        CONF,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "mcp:read mcp:admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Another client presenting the refresh token.
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        Some((OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Failed attempts did not consume it.
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        CONF,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    idp.shutdown().await;
}

#[tokio::test]
async fn refresh_rotation_and_family_revocation() {
    let idp = start().await;
    let client = http();
    let (v, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[("scope", "mcp:read mcp:write")],
    )
    .await;
    let (status, first) = post_form(
        &client,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", LOOPBACK),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let rt1 = first["refresh_token"].as_str().unwrap();
    let refresh = |rt: String, scope: Option<&'static str>| {
        let client = client.clone();
        let url = idp.token_endpoint();
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT_ID),
                ("refresh_token", rt.as_str()),
            ];
            if let Some(s) = scope {
                form.push(("scope", s));
            }
            post_form(&client, &url, None, &form).await
        }
    };
    // Narrowing is allowed; the new refresh token keeps the original grant.
    let (status, second) = refresh(rt1.to_owned(), Some("mcp:read")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "mcp:read");
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "rotated");
    let (status, third) = refresh(rt2.clone(), Some("mcp:write")).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["scope"], "mcp:write");
    let rt3 = third["refresh_token"].as_str().unwrap().to_owned();
    let at3 = third["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&idp, &at3).await["active"], true);
    // Widening is refused.
    let (status, body) = refresh(rt3.clone(), Some("mcp:admin")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Replay of RT1: refused, and the whole family is revoked.
    let (status, body) = refresh(rt1.to_owned(), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(rt3, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "RT3 revoked"
    );
    assert_eq!(introspect(&idp, &at3).await["active"], false);
    idp.shutdown().await;
}

#[tokio::test]
async fn opaque_tokens_and_introspection() {
    let idp = start().await;
    let client = http();
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        Some((OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", AUD),
            ("scope", "mcp:read"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.matches('.').count(), 0, "opaque");
    let info = introspect(&idp, token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["aud"], AUD);
    assert_eq!(info["client_id"], OPAQUE_CLIENT_ID);
    assert_eq!(info["scope"], "mcp:read");
    assert_eq!(info["iss"], idp.issuer());
    assert_eq!(info["token_type"], "Bearer");

    // Code flow for the opaque client too.
    let (v, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        OPAQUE_CLIENT_ID,
        OPAQUE_REDIRECT_URI,
        &[],
    )
    .await;
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        Some((OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", OPAQUE_REDIRECT_URI),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        introspect(&idp, body["access_token"].as_str().unwrap()).await["sub"],
        "test-user"
    );

    // Registered through the handle.
    let handle = idp.register_opaque(
        json!({"sub": "alice", "aud": AUD, "scope": "mcp:read", "exp": idp.now() + 60}),
    );
    let info = introspect(&idp, &handle).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["iss"], idp.issuer());
    let expired = idp.register_opaque(json!({"sub": "bob", "exp": idp.now() - 1}));
    assert_eq!(introspect(&idp, &expired).await, json!({"active": false}));

    // Inactive: unknown, garbage, JWTs of other issuers or expired ones.
    assert_eq!(
        introspect(&idp, "no-such-token").await,
        json!({"active": false})
    );
    let rogue = idp.mint_rogue(&idp.valid_token_spec(AUD, "mcp:read"));
    assert_eq!(introspect(&idp, &rogue).await["active"], false);
    let other = idp.mint_as(
        mock_idp::server::IssuerKind::OtherTenant,
        &idp.token_spec_for(mock_idp::server::IssuerKind::OtherTenant, AUD, "mcp:read"),
    );
    assert_eq!(
        introspect(&idp, &other).await["active"],
        false,
        "other tenant's iss"
    );
    let v = idp.mint(&idp.valid_token_spec(AUD, "mcp:read"));
    assert_eq!(introspect(&idp, &v).await["active"], true);
    idp.advance_clock(301);
    assert_eq!(introspect(&idp, &v).await["active"], false, "expired");
    assert_eq!(
        introspect(&idp, token).await["active"],
        false,
        "expired opaque"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn authorization_errors_redirect_with_state_and_iss() {
    let idp = start().await;
    let client = http();
    let (_, challenge) = pkce();
    let long_state = "s".repeat(2048);
    for (extra, error) in [
        (vec![("scope", "__invalid__")], "invalid_scope"),
        (vec![("resource", "/mcp")], "invalid_target"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
    ] {
        let mut q = vec![
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", LOOPBACK),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", long_state.as_str()),
        ];
        if !extra.iter().any(|(k, _)| *k == "response_type") {
            q.push(("response_type", "code"));
        }
        q.extend(extra);
        let resp = client
            .get(idp.authorization_endpoint())
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let (location, params) = location_params(&resp);
        assert!(location.starts_with("http://127.0.0.1:53117/callback?"));
        assert_eq!(param(&params, "error"), Some(error));
        assert_eq!(
            param(&params, "state"),
            Some(long_state.as_str()),
            "state echoed whole"
        );
        assert_eq!(param(&params, "iss"), Some(idp.issuer()));
    }
    // Several registered URIs and none named: error page, no redirect.
    let resp = client
        .get(idp.authorization_endpoint())
        .query(&[
            ("response_type", "code"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    // An empty parameter counts as omitted.
    let (_, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        "http://[::1]:9999/callback",
        &[("scope", "")],
    )
    .await;
    assert!(!code.is_empty());
    idp.shutdown().await;
}
