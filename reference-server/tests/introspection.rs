//! Opaque-token mode: RFC 7662 introspection at the real mock IdP, failing closed.

mod common;

use common::{Env, call, initialize};
use mock_idp::server::{RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET};
use mock_idp::unix_now;
use reference_server::{ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, IntrospectionConfig, ReferenceServer};
use reqwest::StatusCode;
use serde_json::json;

async fn opaque_server(env: &Env, endpoint: &str, secret: &str) -> ReferenceServer {
    let mut config = env.config(&[]);
    config.introspection = Some(IntrospectionConfig::new(
        endpoint,
        RESOURCE_SERVER_CLIENT_ID,
        secret,
    ));
    ReferenceServer::start(config).await.unwrap()
}

#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let env = Env::start().await;
    let server = opaque_server(
        &env,
        &env.idp.introspection_endpoint(),
        RESOURCE_SERVER_CLIENT_SECRET,
    )
    .await;
    let r = server.resource().to_owned();
    let now = unix_now();
    let token = env
        .idp
        .register_opaque(json!({"sub": "alice", "aud": r, "scope": BASE_SCOPE, "exp": now + 300}));
    assert!(env.session_call(&server, &token, CANARY_TOOL).await);
    // Scope still matters: 403 for the admin tool.
    let session = env.open_session(&server, &token).await.unwrap();
    let reply = env
        .post(&server.mcp_url())
        .bearer(&token)
        .session(&session)
        .json(call(ADMIN_TOOL))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // JWTs are still validated locally in opaque mode.
    assert!(
        env.session_call(&server, &env.mint(&env.valid(&server)), CANARY_TOOL)
            .await
    );
    let refused = [
        ("unknown", "not-registered-token".to_owned()),
        (
            "inactive (expired)",
            env.idp
                .register_opaque(json!({"sub": "a", "aud": r, "exp": now - 600})),
        ),
        (
            "other audience",
            env.idp
                .register_opaque(json!({"sub": "a", "aud": "https://other.test"})),
        ),
        (
            "no audience",
            env.idp
                .register_opaque(json!({"sub": "a", "scope": BASE_SCOPE})),
        ),
        (
            "other issuer",
            env.idp
                .register_opaque(json!({"sub": "a", "aud": r, "iss": "https://evil.test"})),
        ),
        (
            "DPoP-bound",
            env.idp
                .register_opaque(json!({"sub": "a", "aud": r, "cnf": {"jkt": "x"}})),
        ),
        ("no subject", env.idp.register_opaque(json!({"aud": r}))),
    ];
    let before = server.canary_count();
    for (what, token) in refused {
        let reply = env
            .post(&server.mcp_url())
            .bearer(&token)
            .json(call(CANARY_TOOL))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            reply.challenge().unwrap().get("error"),
            Some("invalid_token"),
            "{what}"
        );
    }
    assert_eq!(server.canary_count(), before);
}

#[tokio::test]
async fn introspection_failure_fails_closed() {
    let env = Env::start().await;
    let token = env.idp.register_opaque(json!({"sub": "a", "aud": "x"}));
    for (what, endpoint, secret) in [
        (
            "unreachable",
            "http://127.0.0.1:9/introspect".to_owned(),
            RESOURCE_SERVER_CLIENT_SECRET,
        ),
        (
            "wrong credentials",
            env.idp.introspection_endpoint(),
            "wrong",
        ),
        (
            "not JSON",
            format!("{}/nowhere", env.harness_url),
            RESOURCE_SERVER_CLIENT_SECRET,
        ),
    ] {
        let server = opaque_server(&env, &endpoint, secret).await;
        let reply = env
            .post(&server.mcp_url())
            .bearer(&token)
            .json(initialize())
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert!(reply.body.get("result").is_none(), "{what}");
        assert_eq!(reply.header("retry-after"), Some("5"));
    }
}
