//! What checks script at the mock IdP: keys rotated into the JWKS (and the JWKS request
//! count), and introspection answers a resource server must survive.

mod idp_support;

use std::time::{Duration, Instant};

use idp_support::{http, post_form, start};
use mock_idp::alg::Algorithm;
use mock_idp::jwk::JwkSet;
use mock_idp::keys::SigningKey;
use mock_idp::server::{
    IntrospectionScript, IssuerKind, MockIdp, RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET,
};
use serde_json::{Value, json};

const RS: Option<(&str, &str)> = Some((RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET));

async fn jwks(idp: &MockIdp, kind: IssuerKind) -> JwkSet {
    let body: Value = http()
        .get(idp.urls(kind).jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    JwkSet::from_json(&body).unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys.iter().filter_map(|k| k.kid.clone()).collect()
}

#[tokio::test]
async fn a_published_key_appears_in_the_jwks_until_retired_and_requests_are_counted() {
    let idp = start().await;
    assert_eq!(idp.jwks_requests(IssuerKind::Trusted), 0);
    let before = kids(&jwks(&idp, IssuerKind::Trusted).await);
    assert_eq!(idp.jwks_requests(IssuerKind::Trusted), 1);

    let k2 = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("trusted-rotated");
    idp.publish_key(IssuerKind::Trusted, k2.clone());
    let after = jwks(&idp, IssuerKind::Trusted).await;
    assert_eq!(
        kids(&after),
        [before.clone(), vec!["trusted-rotated".into()]].concat()
    );
    assert!(after.keys.iter().all(|k| !k.has_private_material()));
    // Publishing the same kid again replaces, never duplicates.
    idp.publish_key(IssuerKind::Trusted, k2);
    assert_eq!(
        kids(&jwks(&idp, IssuerKind::Trusted).await).len(),
        before.len() + 1
    );
    // Only the issuer it was published at serves it; each issuer counts its own requests.
    assert!(!kids(&jwks(&idp, IssuerKind::Rogue).await).contains(&"trusted-rotated".into()));
    assert_eq!(idp.jwks_requests(IssuerKind::Trusted), 3);
    assert_eq!(idp.jwks_requests(IssuerKind::Rogue), 1);

    assert!(idp.retire_key(IssuerKind::Trusted, "trusted-rotated"));
    assert!(!idp.retire_key(IssuerKind::Trusted, "trusted-rotated"));
    assert_eq!(kids(&jwks(&idp, IssuerKind::Trusted).await), before);
    idp.shutdown().await;
}

async fn introspect_raw(idp: &MockIdp, token: &str) -> reqwest::Response {
    http()
        .post(idp.introspection_endpoint())
        .basic_auth(
            RESOURCE_SERVER_CLIENT_ID,
            Some(RESOURCE_SERVER_CLIENT_SECRET),
        )
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn scripted_introspection_answers() {
    let idp = start().await;
    let trusted = IssuerKind::Trusted;

    let inactive = json!({"active": false, "sub": "alice", "aud": "https://mcp.test/mcp"});
    let token = idp.script_introspection(trusted, IntrospectionScript::Answer(inactive.clone()));
    let (status, body) = post_form(
        &http(),
        &idp.introspection_endpoint(),
        RS,
        &[("token", &token)],
    )
    .await;
    assert_eq!((status, body), (200, inactive));

    let token = idp.script_introspection(trusted, IntrospectionScript::Status(500));
    let (status, body) = post_form(
        &http(),
        &idp.introspection_endpoint(),
        RS,
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "server_error");
    // Only error statuses can be scripted; anything else is a 500.
    let token = idp.script_introspection(trusted, IntrospectionScript::Status(200));
    assert_eq!(introspect_raw(&idp, &token).await.status(), 500);

    let token = idp.script_introspection(trusted, IntrospectionScript::Malformed);
    let resp = introspect_raw(&idp, &token).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let token = idp.script_introspection(
        trusted,
        IntrospectionScript::Delayed(
            Duration::from_millis(300),
            Box::new(IntrospectionScript::Answer(json!({"active": false}))),
        ),
    );
    let started = Instant::now();
    let (status, body) = post_form(
        &http(),
        &idp.introspection_endpoint(),
        RS,
        &[("token", &token)],
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((status, body), (200, json!({"active": false})));

    // The script answers only authenticated callers, and only at its issuer.
    let token = idp.script_introspection(trusted, IntrospectionScript::Status(503));
    let (status, body) = post_form(
        &http(),
        &idp.introspection_endpoint(),
        None,
        &[("token", &token)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let other = idp.urls(IssuerKind::Rogue).introspection_endpoint;
    let (status, body) = post_form(&http(), &other, RS, &[("token", &token)]).await;
    assert_eq!((status, body), (200, json!({"active": false})));
    idp.shutdown().await;
}
