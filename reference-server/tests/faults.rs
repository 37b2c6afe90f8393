//! Every fault profile is proven both ways over real loopback HTTP against the real mock IdP:
//! the compliant server does the right thing, and the server with the fault does the wrong
//! thing. The `match` in `broken` is exhaustive, so a new fault without a demonstration does
//! not compile.

use mock_idp::forge::{Attack, ForgeContext, PublicKeyForm};
use mock_idp::server::{IdpConfig, IssuerKind, MockIdp};
use mock_idp::token::TokenSpec;
use mock_idp::unix_now;
use reference_server::{ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, Config, Fault, ReferenceServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Reply {
    status: StatusCode,
    www_authenticate: Option<String>,
    session: Option<String>,
    body: Value,
}

async fn post(url: &str, token: Option<&str>, session: Option<&str>, body: Value) -> Reply {
    let headers: Vec<(&str, String)> = token
        .map(|t| ("authorization", format!("Bearer {t}")))
        .into_iter()
        .collect();
    post_with(url, &headers, session, body).await
}

/// POSTs with exactly these extra header fields (repeated names stay separate lines).
async fn post_with(
    url: &str,
    headers: &[(&str, String)],
    session: Option<&str>,
    body: Value,
) -> Reply {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (www_authenticate, session) = (header("www-authenticate"), header("mcp-session-id"));
    let body = resp.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        www_authenticate,
        session,
        body,
    }
}

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})
}

fn call(tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

/// initialize with `token`, then call `tool` in that session: true if the call was processed.
async fn session_call(server: &ReferenceServer, token: &str, tool: &str) -> bool {
    let before = server.canary_count();
    let init = post(&server.mcp_url(), Some(token), None, initialize()).await;
    let Some(session) = init.session else {
        return false;
    };
    let reply = post(&server.mcp_url(), Some(token), Some(&session), call(tool)).await;
    reply.status == StatusCode::OK
        && reply.body.get("result").is_some()
        && server.canary_count() == before + 1
}

fn valid(idp: &MockIdp, server: &ReferenceServer) -> TokenSpec {
    idp.valid_token_spec(server.resource(), BASE_SCOPE)
}

fn forge(idp: &MockIdp, spec: &TokenSpec, attack: Attack) -> String {
    let ctx = ForgeContext {
        victim: idp.signing_key(IssuerKind::Trusted),
        attacker: idp.signing_key(IssuerKind::Rogue),
        listener_url: "http://127.0.0.1:9/jwks.json",
        spec,
    };
    attack.forge(&ctx).unwrap()
}

/// Whether `server` shows the defect `fault` introduces.
async fn broken(fault: Fault, idp: &MockIdp, server: &ReferenceServer) -> bool {
    let v = valid(idp, server);
    let accepts = |token: String| async move { session_call(server, &token, CANARY_TOOL).await };
    let endpoint = server.mcp_url();
    let anonymous = || post(&endpoint, None, None, initialize());
    match fault {
        Fault::AcceptNoExp => accepts(idp.mint(&v.clone().without_claim("exp"))).await,
        Fault::AcceptExpired => {
            accepts(idp.mint(&v.clone().iat(unix_now() - 900).exp(unix_now() - 600))).await
        }
        Fault::IgnoreNbf => accepts(idp.mint(&v.clone().nbf(unix_now() + 3600))).await,
        Fault::IgnoreAud => accepts(idp.mint(&v.clone().aud("https://other.test/mcp"))).await,
        Fault::IgnoreIss => {
            let spec = idp.token_spec_for(IssuerKind::OtherTenant, server.resource(), BASE_SCOPE);
            accepts(idp.mint_as(IssuerKind::OtherTenant, &spec)).await
        }
        Fault::AcceptAlgNone => {
            accepts(forge(
                idp,
                &v,
                Attack::AlgNone {
                    spelling: "none",
                    keep_signature: false,
                },
            ))
            .await
        }
        Fault::Hs256PublicKey => {
            accepts(forge(
                idp,
                &v,
                Attack::HmacWithPublicKey(PublicKeyForm::JwkJson),
            ))
            .await
        }
        Fault::TrustEmbeddedJwk => {
            accepts(forge(
                idp,
                &v,
                Attack::EmbeddedJwk {
                    keep_victim_kid: false,
                },
            ))
            .await
        }
        Fault::SkipSignature => accepts(forge(idp, &v, Attack::SignatureBroken)).await,
        Fault::IgnoreTyp => accepts(idp.mint(&v.clone().typ("JWT"))).await,
        Fault::AcceptQueryToken => {
            let url = format!("{}?access_token={}", server.mcp_url(), idp.mint(&v));
            post(&url, None, None, initialize()).await.status == StatusCode::OK
        }
        Fault::NoResourceMetadata => {
            let prm = reqwest::get(server.prm_url()).await.unwrap().status();
            let challenge = anonymous().await.www_authenticate.unwrap_or_default();
            prm == StatusCode::NOT_FOUND && !challenge.contains("resource_metadata")
        }
        Fault::PrmResourceMismatch => {
            let prm: Value = reqwest::get(server.prm_url())
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            prm["resource"] != server.resource()
        }
        Fault::NoWwwAuthenticate => anonymous().await.www_authenticate.is_none(),
        Fault::ErrorOnNoToken => anonymous()
            .await
            .www_authenticate
            .unwrap_or_default()
            .contains("error="),
        Fault::NoScopeInChallenge => !anonymous()
            .await
            .www_authenticate
            .unwrap_or_default()
            .contains("scope="),
        Fault::Scope401 => {
            let token = idp.mint(&v);
            let init = post(&server.mcp_url(), Some(&token), None, initialize()).await;
            let reply = post(
                &server.mcp_url(),
                Some(&token),
                init.session.as_deref(),
                call(ADMIN_TOOL),
            )
            .await;
            reply.status == StatusCode::UNAUTHORIZED
        }
        Fault::SessionNotBound => {
            let alice = idp.mint(&v.clone().subject("alice"));
            let bob = idp.mint(&v.clone().subject("bob"));
            let init = post(&server.mcp_url(), Some(&alice), None, initialize()).await;
            let reply = post(
                &server.mcp_url(),
                Some(&bob),
                init.session.as_deref(),
                call(CANARY_TOOL),
            )
            .await;
            reply.status == StatusCode::OK
        }
        Fault::ProcessBeforeAuth => {
            let before = server.canary_count();
            post(&server.mcp_url(), None, Some("nope"), call(CANARY_TOOL)).await;
            server.canary_count() != before
        }
        Fault::Error500OnGarbage => {
            post(&server.mcp_url(), Some("garbage"), None, initialize())
                .await
                .status
                == StatusCode::INTERNAL_SERVER_ERROR
        }
        Fault::RejectEverything => !accepts(idp.mint(&v)).await,
        Fault::CaseSensitiveScheme => {
            let token = idp.mint(&v);
            let reply = post_with(
                &server.mcp_url(),
                &[("authorization", format!("bearer {token}"))],
                None,
                initialize(),
            )
            .await;
            reply.status != StatusCode::OK
        }
        Fault::FirstAuthorizationWins => {
            let token = idp.mint(&v);
            let headers = [
                ("authorization", format!("Bearer {token}")),
                ("authorization", "Bearer other".to_owned()),
            ];
            post_with(&server.mcp_url(), &headers, None, initialize())
                .await
                .status
                == StatusCode::OK
        }
        Fault::SessionIsAuthentication => {
            let token = idp.mint(&v);
            let init = post(&server.mcp_url(), Some(&token), None, initialize()).await;
            let reply = post(
                &server.mcp_url(),
                None,
                init.session.as_deref(),
                call(CANARY_TOOL),
            )
            .await;
            reply.status == StatusCode::OK
        }
    }
}

async fn start_idp() -> MockIdp {
    MockIdp::start(IdpConfig::default()).await.unwrap()
}

async fn start(idp: &MockIdp, faults: &[Fault]) -> ReferenceServer {
    let mut config = Config::new(idp.issuer(), &idp.jwks_url());
    config.faults = faults.iter().copied().collect();
    ReferenceServer::start(config).await.unwrap()
}

#[tokio::test]
async fn every_fault_is_proven_both_ways() {
    let idp = start_idp().await;
    let compliant = start(&idp, &[]).await;
    for &fault in Fault::ALL {
        assert!(
            !broken(fault, &idp, &compliant).await,
            "compliant server shows {fault}"
        );
        let faulty = start(&idp, &[fault]).await;
        assert!(broken(fault, &idp, &faulty).await, "{fault} does not show");
        faulty.shutdown().await;
    }
}

#[tokio::test]
async fn compliant_server_serves_mcp_and_oauth_shapes() {
    let idp = start_idp().await;
    let server = start(&idp, &[]).await;
    let token = idp.mint(&valid(&idp, &server));
    assert!(session_call(&server, &token, CANARY_TOOL).await);
    assert_eq!(server.canary_count(), 1);
    // 401 challenge to no token: resource_metadata and scope, no error.
    let r = post(&server.mcp_url(), None, None, initialize()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let www = r.www_authenticate.unwrap();
    assert!(
        www.starts_with("Bearer ")
            && www.contains(server.prm_url())
            && www.contains("scope=")
            && !www.contains("error=")
    );
    // Bad token: invalid_token.
    let r = post(&server.mcp_url(), Some("a.b.c"), None, initialize()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.www_authenticate
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // Step-up: 403 insufficient_scope naming the needed scope.
    let init = post(&server.mcp_url(), Some(&token), None, initialize()).await;
    let r = post(
        &server.mcp_url(),
        Some(&token),
        init.session.as_deref(),
        call(ADMIN_TOOL),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let www = r.www_authenticate.unwrap();
    assert!(
        www.contains("insufficient_scope") && www.contains("mcp:write"),
        "{www}"
    );
    // PRM at both well-known forms.
    for url in [
        server.prm_url().to_owned(),
        format!(
            "http://{}/.well-known/oauth-protected-resource",
            server.local_addr()
        ),
    ] {
        let prm: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(prm["resource"], server.resource());
        assert_eq!(prm["authorization_servers"][0], idp.issuer());
    }
    // The canary never moved for refused requests.
    assert_eq!(server.canary_count(), 1);
}

#[tokio::test]
async fn compliant_server_refuses_the_classic_defects() {
    let idp = start_idp().await;
    let server = start(&idp, &[]).await;
    let v = valid(&idp, &server);
    let rogue =
        idp.mint_rogue(&idp.token_spec_for(IssuerKind::Rogue, server.resource(), BASE_SCOPE));
    let attacks = [
        Attack::AlgNone {
            spelling: "nOnE",
            keep_signature: true,
        },
        Attack::SignatureStripped,
        Attack::PsychicSignature { der: false },
        Attack::HmacWithPublicKey(PublicKeyForm::SpkiPem),
        Attack::Jku,
        Attack::Crit(mock_idp::forge::CritForm::Unknown),
        Attack::DuplicateAud {
            other: "https://other.test/mcp",
        },
    ];
    let mut tokens: Vec<String> = attacks.into_iter().map(|a| forge(&idp, &v, a)).collect();
    tokens.push(rogue);
    tokens.push(idp.mint(&v.clone().without_claim("aud")));
    tokens.push(idp.mint(&v.clone().iss(&format!("{}/", idp.issuer()))));
    for token in tokens {
        assert!(!session_call(&server, &token, CANARY_TOOL).await, "{token}");
    }
    assert_eq!(server.canary_count(), 0);
}
