//! The reference server's DPoP modes (off, optional, required; nonces on and off) over real
//! loopback HTTP against the real mock IdP: what each mode advertises, takes and refuses.

mod common;

use common::{Env, initialize};
use mock_idp::alg::Algorithm;
use mock_idp::dpop::ProofBuilder;
use mock_idp::keys::SigningKey;
use reference_server::{DpopMode, ReferenceServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn server(env: &Env, mode: DpopMode, nonce: bool) -> ReferenceServer {
    let mut config = env.config(&[]);
    config.dpop = mode;
    config.dpop_nonce = nonce;
    ReferenceServer::start(config).await.unwrap()
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

/// `Vd` bound to `key`.
fn bound(env: &Env, s: &ReferenceServer, key: &SigningKey) -> String {
    let jkt = mock_idp::dpop::proof::minimal_public_jwk(key).thumbprint();
    env.mint(&env.valid(s).cnf_jkt(&jkt))
}

fn proof(s: &ReferenceServer, token: &str) -> ProofBuilder {
    ProofBuilder::new("POST", &s.mcp_url()).ath_for(token)
}

async fn dpop(env: &Env, s: &ReferenceServer, token: &str, proof: Option<&str>) -> common::Reply {
    let mut req = env
        .post(&s.mcp_url())
        .header("authorization", format!("DPoP {token}"));
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    req.json(initialize()).send().await
}

async fn prm(env: &Env, s: &ReferenceServer) -> Value {
    env.get(s.prm_url()).send().await.body
}

/// Every `WWW-Authenticate` field value.
fn challenges(r: &common::Reply) -> Vec<String> {
    r.headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn off_mode_advertises_nothing_and_takes_no_dpop_scheme() {
    let env = Env::start().await;
    let s = server(&env, DpopMode::Off, false).await;
    let doc = prm(&env, &s).await;
    assert!(doc.get("dpop_signing_alg_values_supported").is_none());
    let k = key();
    let token = bound(&env, &s, &k);
    let r = dpop(&env, &s, &token, Some(&proof(&s, &token).sign(&k))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(challenges(&r).iter().all(|c| c.starts_with("Bearer")));
    // A DPoP-bound token is no Bearer token, whatever the mode (RFC 9449 §7.2).
    assert!(!env.accepts(&s, &token).await);
    assert!(env.accepts(&s, &env.mint(&env.valid(&s))).await);
}

#[tokio::test]
async fn optional_mode_takes_both_schemes_and_offers_both_challenges() {
    let env = Env::start().await;
    let s = server(&env, DpopMode::Optional, false).await;
    let doc = prm(&env, &s).await;
    assert_eq!(doc["dpop_bound_access_tokens_required"], json!(false));
    let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.iter().all(|a| a != "HS256" && a != "none"), "{algs:?}");
    let k = key();
    let token = bound(&env, &s, &k);
    assert!(
        dpop(&env, &s, &token, Some(&proof(&s, &token).sign(&k)))
            .await
            .accepted()
    );
    assert!(env.accepts(&s, &env.mint(&env.valid(&s))).await);
    // No credentials: Bearer first (unchanged for Bearer clients), then DPoP with algs.
    let anonymous = env.post(&s.mcp_url()).json(initialize()).send().await;
    let c = challenges(&anonymous);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c[0].starts_with("Bearer ") && c[1].starts_with("DPoP "),
        "{c:?}"
    );
    assert!(c[1].contains("algs=\"") && c[1].contains("resource_metadata=\""));
    assert!(!c[1].contains("error="));
    // A failed proof: the DPoP challenge first, with the error.
    let bad = proof(&s, &token).htm("PUT").sign(&k);
    let r = dpop(&env, &s, &token, Some(&bad)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = challenges(&r);
    assert!(
        c[0].starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{c:?}"
    );
    // A binding failure is invalid_token (RFC 9449 Figure 16).
    let other = key();
    let r = dpop(&env, &s, &token, Some(&proof(&s, &token).sign(&other))).await;
    assert!(challenges(&r)[0].starts_with("DPoP error=\"invalid_token\""));
}

#[tokio::test]
async fn required_mode_refuses_bearer_and_challenges_with_dpop_only() {
    let env = Env::start().await;
    let s = server(&env, DpopMode::Required, false).await;
    assert_eq!(
        prm(&env, &s).await["dpop_bound_access_tokens_required"],
        json!(true)
    );
    let r = env
        .post(&s.mcp_url())
        .bearer(&env.mint(&env.valid(&s)))
        .json(initialize())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = challenges(&r);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP ") && c[0].contains("resource_metadata="));
    let k = key();
    let token = bound(&env, &s, &k);
    assert!(
        dpop(&env, &s, &token, Some(&proof(&s, &token).sign(&k)))
            .await
            .accepted()
    );
}

#[tokio::test]
async fn nonce_mode_demands_a_nonce_then_accepts_it() {
    let env = Env::start().await;
    let s = server(&env, DpopMode::Optional, true).await;
    let k = key();
    let token = bound(&env, &s, &k);
    let r = dpop(&env, &s, &token, Some(&proof(&s, &token).sign(&k))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(challenges(&r)[0].starts_with("DPoP error=\"use_dpop_nonce\""));
    assert_eq!(r.headers.get_all("dpop-nonce").iter().count(), 1);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let nonce = r.header("dpop-nonce").unwrap().to_owned();
    let ok = proof(&s, &token).nonce(&nonce).sign(&k);
    assert!(dpop(&env, &s, &token, Some(&ok)).await.accepted());
    let bogus = proof(&s, &token).nonce("bogus").sign(&k);
    let r = dpop(&env, &s, &token, Some(&bogus)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("dpop-nonce").is_some_and(|n| n != nonce));
}

#[tokio::test]
async fn a_proof_is_accepted_once_even_under_concurrency() {
    let env = Env::start().await;
    let s = server(&env, DpopMode::Optional, false).await;
    let k = key();
    let token = bound(&env, &s, &k);
    let p = proof(&s, &token).sign(&k);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let request = env
            .http
            .post(s.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", p.clone())
            .json(&initialize());
        set.spawn(async move { request.send().await.is_ok_and(|r| r.status().is_success()) });
    }
    let accepted = set.join_all().await.into_iter().filter(|&ok| ok).count();
    assert_eq!(accepted, 1);
}
