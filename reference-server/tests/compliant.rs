//! The compliant server, end to end over loopback against the real mock IdP: a valid token
//! works, and every defective credential is refused with the right shape and no effect.

mod common;

use common::{Env, Reply, call, initialize, request};
use mock_idp::forge::Attack;
use mock_idp::server::{CONFIDENTIAL_CLIENT_ID, IssuerKind};
use mock_idp::unix_now;
use reference_server::{ADMIN_SCOPE, ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, PARENT_SCOPE};
use reqwest::StatusCode;
use serde_json::json;

/// [X]: 401, Bearer challenge with error="invalid_token" and resource_metadata, no result.
fn assert_invalid_token(r: &Reply, prm: &str, what: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
    let c = r
        .challenge()
        .unwrap_or_else(|| panic!("{what}: no challenge"));
    assert_eq!(c.scheme, "Bearer", "{what}");
    assert_eq!(c.get("error"), Some("invalid_token"), "{what}");
    assert_eq!(c.get("resource_metadata"), Some(prm), "{what}");
    assert!(r.body.get("result").is_none(), "{what}");
}

/// [U]: 401 with the bare challenge (no error), scope and resource_metadata.
fn assert_bare_challenge(r: &Reply, prm: &str, what: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
    let c = r
        .challenge()
        .unwrap_or_else(|| panic!("{what}: no challenge"));
    assert_eq!(c.scheme, "Bearer", "{what}");
    assert_eq!(c.get("error"), None, "{what}");
    assert_eq!(c.get("scope"), Some(BASE_SCOPE), "{what}");
    assert_eq!(c.get("resource_metadata"), Some(prm), "{what}");
}

#[tokio::test]
async fn a_valid_token_works_end_to_end() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let init = env
        .post(&server.mcp_url())
        .bearer(&token)
        .json(initialize())
        .send()
        .await;
    assert!(init.accepted(), "{}", init.text);
    let session = init.session.expect("Mcp-Session-Id");
    assert_eq!(init.body["result"]["protocolVersion"], "2025-06-18");
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .session(&session)
        .json(call(CANARY_TOOL))
        .send()
        .await;
    assert!(r.accepted(), "{}", r.text);
    assert_eq!(server.canary_count(), 1);
    // Every request is authenticated again, inside the session too.
    let r = env
        .post(&server.mcp_url())
        .session(&session)
        .json(call(CANARY_TOOL))
        .send()
        .await;
    assert_bare_challenge(&r, server.prm_url(), "session without token");
    assert_eq!(server.canary_count(), 1);
}

#[tokio::test]
async fn no_token_gets_the_bare_challenge_and_unsupported_schemes_count_as_none() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let r = env.post(&server.mcp_url()).json(initialize()).send().await;
    assert_bare_challenge(&r, server.prm_url(), "no token");
    assert_eq!(
        r.www_authenticate().unwrap(),
        format!(
            "Bearer scope=\"{BASE_SCOPE}\", resource_metadata=\"{}\"",
            server.prm_url()
        )
    );
    for value in ["Basic dXNlcjpwYXNz", "Token abc", "", "Bearer"] {
        let r = env
            .post(&server.mcp_url())
            .header("authorization", value)
            .json(initialize())
            .send()
            .await;
        if value.starts_with("Bearer") {
            // A Bearer field without a credential is malformed: 400 invalid_request.
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{value:?}");
            assert_eq!(r.challenge().unwrap().get("error"), Some("invalid_request"));
        } else {
            assert_bare_challenge(&r, server.prm_url(), value);
        }
    }
    // GET and DELETE need a token too.
    let r = env
        .get(&server.mcp_url())
        .header("accept", "text/event-stream")
        .send()
        .await;
    assert_bare_challenge(&r, server.prm_url(), "GET");
    let r = env.delete(&server.mcp_url()).session("x").send().await;
    assert_bare_challenge(&r, server.prm_url(), "DELETE");
}

/// Every forged token of the mock IdP's attack catalogue is refused with [X] and no effect,
/// and no header-named URL is ever fetched.
#[tokio::test]
async fn every_catalogued_attack_is_refused() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let v = env.valid(&server);
    let mut tried = 0;
    // High-S included: the compliant server requires low-S signatures, the safer answer to
    // the INFO row rs-ecdsa-high-s (a malleated copy defeats lists keyed on token bytes).
    for attack in Attack::catalogue() {
        let Some(token) = env.forge(&v, &attack) else {
            continue; // not applicable to the IdP's key type
        };
        if reqwest::header::HeaderValue::from_str(&token).is_err() {
            continue; // a line break cannot travel in a header field
        }
        let before = server.canary_count();
        let r = env
            .post(&server.mcp_url())
            .header("authorization", format!("Bearer {token}"))
            .json(call(CANARY_TOOL))
            .send()
            .await;
        let what = attack.name();
        if r.status == StatusCode::BAD_REQUEST {
            // Only a credential that is not one token (e.g. a line break) may be a 400.
            assert_eq!(
                r.challenge().unwrap().get("error"),
                Some("invalid_request"),
                "{what}"
            );
        } else {
            assert_invalid_token(&r, server.prm_url(), &what);
        }
        assert_eq!(server.canary_count(), before, "{what}");
        tried += 1;
    }
    assert!(tried > 50, "only {tried} attacks applied");
    assert_eq!(env.jku_hits(), 0, "a jku/x5u URL was fetched");
}

/// Token defects built from `V`: each gets [X] and does nothing.
#[tokio::test]
async fn defective_tokens_are_refused() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let v = env.valid(&server);
    let now = unix_now();
    let idp = &env.idp;
    let other_tenant = idp.mint_as(
        IssuerKind::OtherTenant,
        &idp.token_spec_for(IssuerKind::OtherTenant, server.resource(), BASE_SCOPE),
    );
    let rogue =
        idp.mint_rogue(&idp.token_spec_for(IssuerKind::Rogue, server.resource(), BASE_SCOPE));
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            env.mint(&v.clone().iat(now - 900).exp(now - 600)),
        ),
        (
            "expired beyond leeway",
            env.mint(&v.clone().iat(now - 1200).exp(now - 90)),
        ),
        ("no exp", env.mint(&v.clone().without_claim("exp"))),
        ("nbf in the future", env.mint(&v.clone().nbf(now + 3600))),
        ("iat in the future", env.mint(&v.clone().iat(now + 3600))),
        (
            "wrong aud",
            env.mint(&v.clone().aud("https://other.test/mcp")),
        ),
        ("no aud", env.mint(&v.clone().without_claim("aud"))),
        (
            "aud is the client",
            env.mint(&v.clone().aud(CONFIDENTIAL_CLIENT_ID)),
        ),
        (
            "aud sibling path",
            env.mint(
                &v.clone()
                    .aud(&format!("http://{}/other-mcp", server.local_addr())),
            ),
        ),
        (
            "aud origin only",
            env.mint(&v.clone().aud(&format!("http://{}", server.local_addr()))),
        ),
        (
            "aud array without R",
            env.mint(
                &v.clone()
                    .aud_array(&["https://other.test", "https://x.test"]),
            ),
        ),
        ("rogue issuer", rogue),
        ("other tenant", other_tenant),
        ("no iss", env.mint(&v.clone().without_claim("iss"))),
        (
            "iss with slash",
            env.mint(&v.clone().iss(&format!("{}/", idp.issuer()))),
        ),
        (
            "iss upper-case",
            env.mint(&v.clone().iss(&idp.issuer().to_ascii_uppercase())),
        ),
        ("typ JWT", env.mint(&v.clone().typ("JWT"))),
        ("no typ", env.mint(&v.clone().without_header("typ"))),
        ("typ dpop+jwt", env.mint(&v.clone().typ("dpop+jwt"))),
        ("typ as number", env.mint(&v.clone().header("typ", 1))),
        (
            "ID token",
            env.mint(
                &v.clone()
                    .typ("JWT")
                    .aud(CONFIDENTIAL_CLIENT_ID)
                    .claim("azp", CONFIDENTIAL_CLIENT_ID)
                    .claim("nonce", "n")
                    .claim("auth_time", now)
                    .without_claim("scope"),
            ),
        ),
        (
            "exp string",
            env.mint(&v.clone().claim("exp", (now + 300).to_string())),
        ),
        ("exp 1e300", env.mint(&v.clone().claim("exp", 1e300))),
        ("exp -1", env.mint(&v.clone().claim("exp", -1))),
        ("aud object", env.mint(&v.clone().claim("aud", json!({})))),
        (
            "iss array",
            env.mint(&v.clone().claim("iss", json!([idp.issuer()]))),
        ),
        ("sub number", env.mint(&v.clone().claim("sub", 123))),
        ("no sub", env.mint(&v.clone().without_claim("sub"))),
        (
            "scope array",
            env.mint(&v.clone().claim("scope", json!([BASE_SCOPE]))),
        ),
        (
            "no client_id",
            env.mint(&v.clone().without_claim("client_id")),
        ),
        ("no jti", env.mint(&v.clone().without_claim("jti"))),
        ("no iat", env.mint(&v.clone().without_claim("iat"))),
        (
            "unknown kid",
            v.clone()
                .kid("nope")
                .mint(idp.signing_key(IssuerKind::Rogue)),
        ),
        ("rogue key, trusted iss", env.idp.mint_rogue(&v)),
        ("garbage", "garbage".into()),
        ("a.b.c", "a.b.c".into()),
        ("64 KB", "A".repeat(64 * 1024)),
        ("case-flipped V", {
            let t = env.mint(&v);
            t.chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        }),
    ];
    for (what, token) in cases {
        let before = server.canary_count();
        let r = env
            .post(&server.mcp_url())
            .bearer(&token)
            .json(call(CANARY_TOOL))
            .send()
            .await;
        assert_invalid_token(&r, server.prm_url(), what);
        assert_eq!(server.canary_count(), before, "{what}");
        // And a session cannot even be opened with it.
        assert!(!env.accepts(&server, &token).await, "{what}");
    }
    assert_eq!(server.canary_count(), 0);
}

#[tokio::test]
async fn token_variants_that_are_fine() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let v = env.valid(&server);
    let now = unix_now();
    let upper = server.resource().replacen("http://", "HTTP://", 1);
    let ok = [
        (
            "typ application/at+jwt",
            v.clone().typ("application/at+jwt"),
        ),
        ("typ AT+JWT", v.clone().typ("AT+JWT")),
        (
            "aud array with R",
            v.clone()
                .aud_array(&["https://other.test", server.resource()]),
        ),
        ("aud with upper-case scheme", v.clone().aud(&upper)),
        ("expired within leeway", v.clone().exp(now - 5)),
        ("nbf within leeway", v.clone().nbf(now + 30)),
        (
            "scope order and duplicates",
            v.clone().scope(&format!("x {BASE_SCOPE} {BASE_SCOPE}")),
        ),
    ];
    for (what, spec) in ok {
        assert!(
            env.session_call(&server, &env.mint(&spec), CANARY_TOOL)
                .await,
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_token_is_taken_from_the_header_only() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let prm = server.prm_url();
    // Query only: ignored, so no credentials.
    let url = format!("{}?access_token={token}", server.mcp_url());
    assert_bare_challenge(
        &env.post(&url).json(initialize()).send().await,
        prm,
        "query token",
    );
    // Query plus header: the query is ignored.
    let r = env
        .post(&url)
        .bearer(&token)
        .json(initialize())
        .send()
        .await;
    assert!(r.accepted(), "{}", r.text);
    // Form body only: ignored; with a header: two methods, 400.
    let form = format!("access_token={token}");
    let r = env
        .post(&server.mcp_url())
        .raw("application/x-www-form-urlencoded", &form)
        .send()
        .await;
    assert_bare_challenge(&r, prm, "form token");
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .raw("application/x-www-form-urlencoded", &form)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.challenge().unwrap().get("error"), Some("invalid_request"));
    // The scheme is case-insensitive, the token is not.
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let r = env
            .post(&server.mcp_url())
            .header("authorization", format!("{scheme} {token}"))
            .json(initialize())
            .send()
            .await;
        assert!(r.accepted(), "{scheme}");
    }
    assert_eq!(server.canary_count(), 0);
}

#[tokio::test]
async fn malformed_authorization_is_400_or_401_and_never_5xx() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let two_fields = env
        .post(&server.mcp_url())
        .bearer(&token)
        .header("authorization", "Bearer other")
        .json(initialize())
        .send()
        .await;
    assert_eq!(two_fields.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        two_fields.challenge().unwrap().get("error"),
        Some("invalid_request")
    );
    let values: Vec<Vec<u8>> = vec![
        format!("Bearer {token}, Bearer other").into_bytes(),
        format!("Bearer {token} extra").into_bytes(),
        b"Bearer \"quoted\"".to_vec(),
        b"Bearer a,b".to_vec(),
        b"Bearer    ".to_vec(),
        b"Bearer \xff\xfe".to_vec(),
        b"Bearer\tabc".to_vec(),
        b"=".to_vec(),
        format!("Bearer {}", "x".repeat(100_000)).into_bytes(),
    ];
    for value in values {
        let r = env
            .post(&server.mcp_url())
            .header("authorization", &value)
            .json(call(CANARY_TOOL))
            .send()
            .await;
        let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
        assert!(
            r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNAUTHORIZED,
            "{shown}: {}",
            r.status
        );
        assert!(r.challenge().is_some(), "{shown}");
    }
    // Garbage bodies with and without tokens: never 5xx.
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"{",
        b"[]",
        b"null",
        b"\xff",
        b"{\"jsonrpc\":\"2.0\"}",
        b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
    ];
    for body in bodies {
        for auth in [None, Some(token.as_str()), Some("garbage")] {
            let mut req = env.post(&server.mcp_url()).raw("application/json", body);
            if let Some(t) = auth {
                req = req.bearer(t);
            }
            let r = req.send().await;
            assert!(r.status.as_u16() < 500, "{body:?} {auth:?}: {}", r.status);
        }
    }
    assert_eq!(server.canary_count(), 0);
}

#[tokio::test]
async fn insufficient_scope_is_a_403_step_up_challenge() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let v = env.valid(&server);
    let token = env.mint(&v);
    let session = env.open_session(&server, &token).await.unwrap();
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .session(&session)
        .json(call(ADMIN_TOOL))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let c = r.challenge().unwrap();
    assert_eq!(c.scheme, "Bearer");
    assert_eq!(c.get("error"), Some("insufficient_scope"));
    assert_eq!(
        c.get("scope"),
        Some(format!("{BASE_SCOPE} {ADMIN_SCOPE}").as_str())
    );
    assert_eq!(c.get("resource_metadata"), Some(server.prm_url()));
    assert!(!c.has_duplicates());
    assert_eq!(server.canary_count(), 0);
    // One retry with the challenged scopes succeeds.
    let both = env.mint(&v.clone().scope(c.get("scope").unwrap()));
    assert!(env.session_call(&server, &both, ADMIN_TOOL).await);
    // A broader scope implies both; scope values are case-sensitive.
    assert!(
        env.session_call(
            &server,
            &env.mint(&v.clone().scope(PARENT_SCOPE)),
            ADMIN_TOOL
        )
        .await
    );
    let upper = format!("{BASE_SCOPE} {}", ADMIN_SCOPE.to_ascii_uppercase());
    assert!(
        !env.session_call(&server, &env.mint(&v.clone().scope(&upper)), ADMIN_TOOL)
            .await
    );
    // No scope at all: a valid token still opens a session but cannot call tools.
    let none = env.mint(&v.clone().without_claim("scope"));
    assert!(env.accepts(&server, &none).await);
    assert!(!env.session_call(&server, &none, CANARY_TOOL).await);
    assert_eq!(server.canary_count(), 2);
}

#[tokio::test]
async fn sessions_are_bound_to_the_subject() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let v = env.valid(&server);
    let alice = env.mint(&v.clone().subject("alice"));
    let bob = env.mint(&v.clone().subject("bob"));
    let session = env.open_session(&server, &alice).await.unwrap();
    // Bob's valid token on Alice's session: 404, as if the session did not exist.
    for body in [call(CANARY_TOOL), request("tools/list")] {
        let r = env
            .post(&server.mcp_url())
            .bearer(&bob)
            .session(&session)
            .json(body)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.body.get("result").is_none());
    }
    let r = env
        .delete(&server.mcp_url())
        .bearer(&bob)
        .session(&session)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(server.canary_count(), 0);
    // Alice's session is untouched.
    let r = env
        .post(&server.mcp_url())
        .bearer(&alice)
        .session(&session)
        .json(call(CANARY_TOOL))
        .send()
        .await;
    assert!(r.accepted());
    // A fresh token for Alice (same sub) keeps working on it.
    let alice2 = env.mint(&v.clone().subject("alice"));
    let r = env
        .post(&server.mcp_url())
        .bearer(&alice2)
        .session(&session)
        .json(call(CANARY_TOOL))
        .send()
        .await;
    assert!(r.accepted());
    assert_eq!(server.canary_count(), 2);
}

#[tokio::test]
async fn unknown_kids_do_not_hammer_the_jwks() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let rogue = env.idp.signing_key(IssuerKind::Rogue);
    for i in 0..20 {
        let token = env.valid(&server).kid(&format!("nope-{i}")).mint(rogue);
        assert!(!env.accepts(&server, &token).await);
    }
    assert!(
        server.jwks_fetches() <= 2,
        "{} JWKS fetches",
        server.jwks_fetches()
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let env = Env::start().await;
    let mut config = env.config(&[]);
    config.jwks_uri = Some(env.harness_jwks_url());
    config.jwks_min_refresh = std::time::Duration::ZERO;
    let server = reference_server::ReferenceServer::start(config)
        .await
        .unwrap();
    assert!(env.accepts(&server, &env.mint(&env.valid(&server))).await);
    let key = mock_idp::keys::SigningKey::generate(mock_idp::alg::Algorithm::Es256)
        .unwrap()
        .with_kid("rotated");
    let token = env.valid(&server).mint(&key);
    assert!(!env.accepts(&server, &token).await, "not yet published");
    env.harness
        .extra_keys
        .lock()
        .unwrap()
        .push(key.public_jwk());
    assert!(env.session_call(&server, &token, CANARY_TOOL).await);
}
