//! Discovery: RFC 8414 path-inserted metadata and both OpenID forms for issuers with a path,
//! the advertised members, the JWKS, and the issuer layout (trusted, rogue, other tenant).

mod idp_support;

use std::collections::HashSet;

use idp_support::{config, http, start, start_with};
use mock_idp::server::{IdpConfig, IdpError, IssuerKind, MockIdp};
use serde_json::Value;

async fn get_json(url: &str) -> (u16, Value) {
    let resp = http().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_no_empty_arrays(doc: &Value) {
    for (k, v) in doc.as_object().unwrap() {
        assert!(v.as_array().is_none_or(|a| !a.is_empty()), "{k} is empty");
    }
}

#[tokio::test]
async fn every_issuer_serves_all_three_metadata_forms() {
    let idp = start().await;
    let base = idp.base_url().to_owned();
    let expected = [
        (IssuerKind::Trusted, "/trusted"),
        (IssuerKind::Rogue, "/rogue"),
        (IssuerKind::OtherTenant, "/other-tenant"),
    ];
    for (kind, path) in expected {
        let urls = idp.urls(kind);
        assert_eq!(urls.issuer, format!("{base}{path}"));
        assert_eq!(
            urls.discovery_urls,
            [
                format!("{base}/.well-known/oauth-authorization-server{path}"),
                format!("{base}/.well-known/openid-configuration{path}"),
                format!("{base}{path}/.well-known/openid-configuration"),
            ]
        );
        assert_eq!(urls.metadata_url, urls.discovery_urls[0]);
        let mut docs = Vec::new();
        for url in &urls.discovery_urls {
            let (status, mut doc) = get_json(url).await;
            assert_eq!(status, 200, "{url}");
            assert_eq!(doc["issuer"], urls.issuer.as_str(), "{url}");
            // Signed afresh at each request (iat, and ECDSA's random nonce): compared apart.
            let signed = doc
                .as_object_mut()
                .and_then(|d| d.remove("signed_metadata"));
            assert!(
                signed.is_some_and(|s| s.is_string()),
                "{url}: signed_metadata"
            );
            docs.push(doc);
        }
        assert!(docs.windows(2).all(|w| w[0] == w[1]), "forms agree");
        let doc = &docs[0];
        assert_eq!(doc["token_endpoint"], urls.token_endpoint.as_str());
        assert_eq!(
            doc["authorization_endpoint"],
            urls.authorization_endpoint.as_str()
        );
        assert_eq!(doc["jwks_uri"], urls.jwks_uri.as_str());
        assert_eq!(
            doc["registration_endpoint"],
            urls.registration_endpoint.as_str()
        );
        assert_eq!(
            doc["introspection_endpoint"],
            urls.introspection_endpoint.as_str()
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        for member in [
            "token_endpoint_auth_methods_supported",
            "grant_types_supported",
            "scopes_supported",
            "dpop_signing_alg_values_supported",
        ] {
            assert!(
                doc[member].as_array().is_some_and(|a| !a.is_empty()),
                "{member}"
            );
        }
        let dpop_algs: Vec<&str> = doc["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(dpop_algs.contains(&"ES256"));
        assert!(
            dpop_algs
                .iter()
                .all(|a| !a.starts_with("HS") && *a != "none")
        );
        assert_no_empty_arrays(doc);
    }
    // The root forms belong to no issuer here.
    for url in [
        format!("{base}/.well-known/oauth-authorization-server"),
        format!("{base}/.well-known/openid-configuration"),
    ] {
        assert_eq!(get_json(&url).await.0, 404, "{url}");
    }
    idp.shutdown().await;
}

async fn kids(idp: &MockIdp, kind: IssuerKind) -> (Value, HashSet<String>) {
    let (status, jwks) = get_json(&idp.urls(kind).jwks_uri).await;
    assert_eq!(status, 200);
    let kids = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    (jwks, kids)
}

#[tokio::test]
async fn jwks_publish_public_keys_per_issuer() {
    let idp = start().await;
    let (trusted_jwks, trusted) = kids(&idp, IssuerKind::Trusted).await;
    let (rogue_jwks, rogue) = kids(&idp, IssuerKind::Rogue).await;
    let (other_jwks, other) = kids(&idp, IssuerKind::OtherTenant).await;
    for jwks in [&trusted_jwks, &rogue_jwks, &other_jwks] {
        for key in jwks["keys"].as_array().unwrap() {
            assert_eq!(key["use"], "sig");
            assert!(key["alg"].is_string() && key["kid"].is_string());
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(key.get(private).is_none(), "{private} published");
            }
        }
    }
    assert!(trusted.contains("trusted-es256"));
    assert!(rogue.contains("rogue-es256"));
    assert!(trusted.is_disjoint(&rogue), "rogue keys are its own");
    assert_eq!(
        other_jwks, trusted_jwks,
        "other tenant shares the trusted keys"
    );
    assert_eq!(other, trusted);
    assert_eq!(
        trusted_jwks,
        idp.jwks(IssuerKind::Trusted).to_json(),
        "handle and HTTP agree"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn public_base_url_and_root_issuer() {
    // The published URLs follow the public base URL, not the bind address; routing uses the
    // public URL's path, so this server answers requests made to its real address with the
    // prefixed paths.
    let idp = start_with(IdpConfig {
        public_base_url: Some("https://idp.example/auth/".into()),
        trusted_path: String::new(),
        ..IdpConfig::default()
    })
    .await;
    assert_eq!(idp.base_url(), "https://idp.example/auth");
    assert_eq!(idp.issuer(), "https://idp.example/auth");
    assert_eq!(
        idp.metadata_url(),
        "https://idp.example/.well-known/oauth-authorization-server/auth"
    );
    assert_eq!(idp.token_endpoint(), "https://idp.example/auth/token");
    let local = format!("http://{}", idp.local_addr());
    let (status, doc) = get_json(&format!(
        "{local}/.well-known/oauth-authorization-server/auth"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], "https://idp.example/auth");
    assert_eq!(doc["jwks_uri"], "https://idp.example/auth/jwks");
    let (status, doc) = get_json(&format!(
        "{local}/auth/rogue/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], "https://idp.example/auth/rogue");
    idp.shutdown().await;

    // A root issuer without public URL: the two OpenID forms coincide.
    let idp = start_with(IdpConfig {
        trusted_path: String::new(),
        ..IdpConfig::default()
    })
    .await;
    assert_eq!(idp.issuer(), idp.base_url());
    let urls = idp.urls(IssuerKind::Trusted);
    assert_eq!(urls.discovery_urls.len(), 2);
    for url in &urls.discovery_urls {
        let (status, doc) = get_json(url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(doc["issuer"], idp.issuer());
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn bad_configurations_are_errors_not_panics() {
    for (cfg, needle) in [
        (
            IdpConfig {
                rogue_path: "/trusted".into(),
                ..config()
            },
            "differ",
        ),
        (
            IdpConfig {
                trusted_path: String::new(),
                rogue_path: "/token".into(),
                ..config()
            },
            "overlap",
        ),
        (
            IdpConfig {
                rogue_path: "/{x}".into(),
                ..config()
            },
            "not usable",
        ),
        (
            IdpConfig {
                public_base_url: Some("ftp://x".into()),
                ..config()
            },
            "scheme",
        ),
    ] {
        match MockIdp::start(cfg).await {
            Err(IdpError::Config(msg)) => assert!(msg.contains(needle), "{msg}"),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn keys_persist_in_a_key_directory() {
    let dir = std::env::temp_dir().join(format!("idp-keys-{}", mock_idp::random_b64url(6)));
    let cfg = || IdpConfig {
        keys: mock_idp::server::KeySource::Dir(dir.clone()),
        ..IdpConfig::default()
    };
    let first = MockIdp::start(cfg()).await.unwrap();
    let jwks = first.jwks(IssuerKind::Trusted).to_json();
    let rogue = first.jwks(IssuerKind::Rogue).to_json();
    first.shutdown().await;
    let second = MockIdp::start(cfg()).await.unwrap();
    assert_eq!(second.jwks(IssuerKind::Trusted).to_json(), jwks);
    assert_eq!(second.jwks(IssuerKind::Rogue).to_json(), rogue);
    assert_ne!(jwks, rogue);
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
