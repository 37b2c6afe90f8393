//! DPoP at the token endpoint (RFC 9449 §5, §8, §10): binding (`token_type: DPoP`,
//! `cnf.jkt`) for the code, client-credentials and device grants, bound refresh tokens,
//! defective proofs, replay, `dpop_jkt`, nonce mode.
//! Proofs are built here with `TokenSpec`, independently of the crate's DPoP builder.

mod idp_support;

use idp_support::{
    authorize, claims, config, http, introspect, location_params, param, pkce, post_form, start,
    start_with,
};
use mock_idp::alg::Algorithm;
use mock_idp::keys::SigningKey;
use mock_idp::server::{
    AsFault, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DEVICE_CODE_GRANT_TYPE,
    DeviceFlowConfig, IdpConfig, IssuerKind, MockIdp, OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
};
use mock_idp::token::TokenSpec;
use mock_idp::{random_b64url, unix_now};
use serde_json::Value;

const LOOPBACK: &str = "http://127.0.0.1:53117/callback";

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

fn thumbprint(key: &SigningKey) -> String {
    key.public_jwk().thumbprint()
}

/// A valid proof's spec: `typ dpop+jwt`, `jwk`, `jti`, `htm`, `htu`, `iat`.
fn proof_spec(key: &SigningKey, htm: &str, htu: &str) -> TokenSpec {
    let mut jwk = key.public_jwk();
    jwk.kid = None;
    jwk.alg = None;
    jwk.key_use = None;
    TokenSpec::new()
        .typ("dpop+jwt")
        .jwk(&jwk)
        .without_header("kid")
        .claim("jti", random_b64url(16))
        .claim("htm", htm)
        .claim("htu", htu)
        .claim("iat", unix_now())
}

fn proof(key: &SigningKey, idp: &MockIdp, nonce: Option<&str>) -> String {
    let mut spec = proof_spec(key, "POST", &idp.token_endpoint());
    if let Some(n) = nonce {
        spec = spec.claim("nonce", n);
    }
    spec.mint(key)
}

struct Answer {
    status: u16,
    body: Value,
    nonces: Vec<String>,
}

async fn token_request(
    idp: &MockIdp,
    basic: Option<(&str, &str)>,
    proofs: &[String],
    form: &[(&str, &str)],
) -> Answer {
    dpop_post(&idp.token_endpoint(), basic, proofs, form).await
}

/// A form POST to `url` with these `DPoP` fields.
async fn dpop_post(
    url: &str,
    basic: Option<(&str, &str)>,
    proofs: &[String],
    form: &[(&str, &str)],
) -> Answer {
    let mut req = http().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for p in proofs {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let nonces = resp
        .headers()
        .get_all("dpop-nonce")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    Answer {
        status,
        body: resp.json().await.unwrap_or(Value::Null),
        nonces,
    }
}

const CONF: Option<(&str, &str)> = Some((CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET));
const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

#[tokio::test]
async fn code_flow_binds_tokens_and_refresh_token_to_the_proof_key() {
    let idp = start().await;
    let kc = key();
    let http = http();
    let (v, code) = authorize(
        &http,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[],
    )
    .await;
    let a = token_request(
        &idp,
        None,
        &[proof(&kc, &idp, None)],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", LOOPBACK),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP");
    let at = a.body["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"]["jkt"], thumbprint(&kc).as_str());
    let info = introspect(&idp, at).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], thumbprint(&kc).as_str());
    let rt = a.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("refresh_token", rt.as_str()),
    ];
    // The public client's refresh token is bound: no proof, or another key, is refused.
    let a = token_request(&idp, None, &[], &refresh).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let a = token_request(&idp, None, &[proof(&key(), &idp, None)], &refresh).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let a = token_request(&idp, None, &[proof(&kc, &idp, None)], &refresh).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP");
    assert_eq!(
        claims(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        thumbprint(&kc).as_str()
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn client_credentials_with_dpop_and_opaque_tokens() {
    let idp = start().await;
    for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let k = SigningKey::generate(alg).unwrap();
        let a = token_request(&idp, CONF, &[proof(&k, &idp, None)], &CC).await;
        assert_eq!(a.status, 200, "{alg}: {}", a.body);
        assert_eq!(a.body["token_type"], "DPoP");
        assert_eq!(
            claims(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
            thumbprint(&k).as_str()
        );
    }
    let k = key();
    let a = token_request(
        &idp,
        Some((OPAQUE_CLIENT_ID, OPAQUE_CLIENT_SECRET)),
        &[proof(&k, &idp, None)],
        &CC,
    )
    .await;
    assert_eq!(a.body["token_type"], "DPoP");
    let info = introspect(&idp, a.body["access_token"].as_str().unwrap()).await;
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], thumbprint(&k).as_str());
    // Without a proof: a Bearer token without cnf.
    let a = token_request(&idp, CONF, &[], &CC).await;
    assert_eq!(a.body["token_type"], "Bearer");
    assert!(
        claims(a.body["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn defective_proofs_get_invalid_dpop_proof() {
    let idp = start().await;
    let k = key();
    let url = idp.token_endpoint();
    let now = unix_now();
    let base = || proof_spec(&k, "POST", &url);
    let flip_signature = |t: String| {
        let (head, sig) = t.rsplit_once('.').unwrap();
        let first = if sig.starts_with('A') { 'B' } else { 'A' };
        format!("{head}.{first}{}", &sig[1..])
    };
    let rows: Vec<(&str, Vec<String>)> = vec![
        ("htm GET", vec![base().claim("htm", "GET").mint(&k)]),
        (
            "htu of the RS",
            vec![base().claim("htu", "https://mcp.test/mcp").mint(&k)],
        ),
        ("typ JWT", vec![base().typ("JWT").mint(&k)]),
        ("no typ", vec![base().without_header("typ").mint(&k)]),
        ("alg none", vec![base().alg("none").mint(&k)]),
        ("alg HS256", vec![base().alg("HS256").mint(&k)]),
        (
            "private jwk",
            vec![base().header("jwk", k.private_jwk()).mint(&k)],
        ),
        ("no jwk", vec![base().without_header("jwk").mint(&k)]),
        (
            "jwk of another key",
            vec![base().jwk(&key().public_jwk()).mint(&k)],
        ),
        ("bad signature", vec![flip_signature(base().mint(&k))]),
        (
            "iat one hour ago",
            vec![base().claim("iat", now - 3600).mint(&k)],
        ),
        (
            "iat in one hour",
            vec![base().claim("iat", now + 3600).mint(&k)],
        ),
        ("no jti", vec![base().without_claim("jti").mint(&k)]),
        ("no htm", vec![base().without_claim("htm").mint(&k)]),
        ("two DPoP headers", vec![base().mint(&k), base().mint(&k)]),
        (
            "two segments",
            vec![{
                let t = base().mint(&k);
                t[..t.rfind('.').unwrap()].to_owned()
            }],
        ),
        ("garbage", vec!["%%%".to_owned()]),
    ];
    let mut failures = Vec::new();
    for (name, proofs) in rows {
        let a = token_request(&idp, CONF, &proofs, &CC).await;
        if (a.status, a.body["error"].as_str()) != (400, Some("invalid_dpop_proof"))
            || a.body.get("access_token").is_some()
        {
            failures.push(format!("{name}: {} {}", a.status, a.body));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // ±10 s of clock skew is tolerated (spec as-dpop-iat-skew).
    for skew in [-10, 10] {
        let p = base().claim("iat", unix_now() + skew).mint(&k);
        let a = token_request(&idp, CONF, &[p], &CC).await;
        assert_eq!(a.status, 200, "skew {skew}: {}", a.body);
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn replayed_proof_is_refused() {
    let idp = start().await;
    let k = key();
    let p = proof(&k, &idp, None);
    let a = token_request(&idp, CONF, std::slice::from_ref(&p), &CC).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = token_request(&idp, CONF, &[p], &CC).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_a_key() {
    let idp = start().await;
    let http = http();
    let k1 = key();
    let jkt = thumbprint(&k1);
    let (v, code) = authorize(
        &http,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[("dpop_jkt", &jkt)],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK),
        ("code_verifier", v.as_str()),
    ];
    let a = token_request(&idp, None, &[], &form).await;
    assert_eq!(a.body["error"], "invalid_dpop_proof");
    let a = token_request(&idp, None, &[proof(&key(), &idp, None)], &form).await;
    assert_eq!(a.body["error"], "invalid_grant");
    let a = token_request(&idp, None, &[proof(&k1, &idp, None)], &form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        claims(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt.as_str()
    );
    idp.shutdown().await;
}

fn is_nqchar(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

#[tokio::test]
async fn nonce_mode() {
    let idp = start().await;
    idp.set_dpop_nonce_required(true);
    let k = key();
    let http = http();
    let (v, code) = authorize(
        &http,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK),
        ("code_verifier", v.as_str()),
    ];
    // No nonce: 400 use_dpop_nonce with exactly one DPoP-Nonce header.
    let a = token_request(&idp, None, &[proof(&k, &idp, None)], &form).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{}",
        a.body
    );
    assert_eq!(a.nonces.len(), 1);
    let nonce = a.nonces[0].clone();
    assert!(is_nqchar(&nonce), "{nonce}");
    // A wrong nonce: refused, with a fresh nonce.
    let b = token_request(&idp, None, &[proof(&k, &idp, Some("not-the-nonce"))], &form).await;
    assert_eq!(b.status, 400);
    assert_eq!(b.body["error"], "use_dpop_nonce");
    assert_eq!(b.nonces.len(), 1);
    // The retry with the nonce succeeds: the challenge did not burn the code.
    let c = token_request(&idp, None, &[proof(&k, &idp, Some(&nonce))], &form).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["token_type"], "DPoP");
    // Without a proof at all, nonce mode does not apply (a Bearer token is issued).
    let d = token_request(&idp, CONF, &[], &CC).await;
    assert_eq!(d.status, 200);
    assert!(d.nonces.is_empty());
    // Switched off again: no nonce needed.
    idp.set_dpop_nonce_required(false);
    let e = token_request(&idp, CONF, &[proof(&k, &idp, None)], &CC).await;
    assert_eq!(e.status, 200, "{}", e.body);
    idp.shutdown().await;
}

#[tokio::test]
async fn proofs_from_the_crate_builder_are_accepted_and_its_defects_refused() {
    use mock_idp::dpop::ProofBuilder;
    let idp = start().await;
    let k = key();
    let good = ProofBuilder::new("POST", &idp.token_endpoint()).sign(&k);
    let a = token_request(&idp, CONF, &[good], &CC).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        claims(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        thumbprint(&k).as_str()
    );
    let base = || ProofBuilder::new("POST", &idp.token_endpoint());
    for (name, p) in [
        ("corrupt signature", base().corrupt_signature().sign(&k)),
        ("signed by another key", base().signed_by(&key()).sign(&k)),
        ("private jwk", base().private_jwk().sign(&k)),
        ("htm GET", base().htm("GET").sign(&k)),
        ("iat -1h", base().iat_offset(-3600).sign(&k)),
        ("empty jti", base().empty_jti().sign(&k)),
    ] {
        let a = token_request(&idp, CONF, &[p], &CC).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{name}: {}",
            a.body
        );
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn device_code_tokens_are_bound_to_the_proof_key_under_nonce_demands() {
    let idp = start_with(IdpConfig {
        device: DeviceFlowConfig {
            interval: 0,
            ..DeviceFlowConfig::default()
        },
        ..config()
    })
    .await;
    idp.set_dpop_nonce_required(true);
    let k = key();
    let (status, grant) = post_form(
        &http(),
        &idp.device_authorization_endpoint(),
        None,
        &[("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    let form = [
        ("grant_type", DEVICE_CODE_GRANT_TYPE),
        ("client_id", PUBLIC_CLIENT_ID),
        ("device_code", grant["device_code"].as_str().unwrap()),
    ];
    let a = token_request(&idp, None, &[proof(&k, &idp, None)], &form).await;
    assert_eq!(a.body["error"], "use_dpop_nonce", "{}", a.body);
    let nonce = a.nonces[0].clone();
    // The nonce challenge was not a poll: this is the one pending answer before approval.
    let b = token_request(&idp, None, &[proof(&k, &idp, Some(&nonce))], &form).await;
    assert_eq!(b.body["error"], "authorization_pending", "{}", b.body);
    let c = token_request(&idp, None, &[proof(&k, &idp, Some(&nonce))], &form).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["token_type"], "DPoP");
    let at = c.body["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"]["jkt"], thumbprint(&k).as_str());
    // A public client's refresh token is bound to the same key.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("refresh_token", c.body["refresh_token"].as_str().unwrap()),
    ];
    let d = token_request(&idp, None, &[], &refresh).await;
    assert_eq!(d.body["error"], "invalid_dpop_proof", "{}", d.body);
    idp.shutdown().await;
}

// ---- the DPoP faults (spec §2.5): each breaks one as.dpop.* behaviour, nothing else ----

/// A mock IdP with one fault.
async fn faulty(fault: AsFault) -> MockIdp {
    start_with(IdpConfig {
        faults: [fault].into(),
        ..config()
    })
    .await
}

/// A fresh code of `client_id` (authorization `extra` parameters) redeemed with `proofs`.
async fn redeem_as(
    idp: &MockIdp,
    client_id: &str,
    proofs: &[String],
    extra: &[(&str, &str)],
) -> Answer {
    let (v, code) = authorize(
        &http(),
        &idp.authorization_endpoint(),
        client_id,
        LOOPBACK,
        extra,
    )
    .await;
    token_request(
        idp,
        None,
        proofs,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", LOOPBACK),
            ("code_verifier", &v),
        ],
    )
    .await
}

async fn redeem(idp: &MockIdp, proofs: &[String]) -> Answer {
    redeem_as(idp, PUBLIC_CLIENT_ID, proofs, &[]).await
}

fn refused(a: &Answer) -> (u16, Option<&str>) {
    (a.status, a.body["error"].as_str())
}

fn cnf_jkt(a: &Answer) -> Value {
    claims(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"].clone()
}

#[tokio::test]
async fn token_type_faults_misreport_the_binding() {
    let k = key();
    let idp = faulty(AsFault::DpopTokenTypeBearer).await;
    let a = redeem(&idp, &[proof(&k, &idp, None)]).await;
    assert_eq!(a.body["token_type"], "Bearer", "{}", a.body);
    assert_eq!(cnf_jkt(&a), thumbprint(&k).as_str(), "still bound");
    idp.shutdown().await;

    let idp = faulty(AsFault::DpopTokenTypeUnconditional).await;
    let a = redeem(&idp, &[]).await;
    assert_eq!(a.body["token_type"], "DPoP", "{}", a.body);
    assert_eq!(cnf_jkt(&a), Value::Null, "bound to no key");
    idp.shutdown().await;
}

#[tokio::test]
async fn cnf_missing_mints_an_unbound_token_called_dpop() {
    let idp = faulty(AsFault::DpopCnfMissing).await;
    let a = redeem(&idp, &[proof(&key(), &idp, None)]).await;
    assert_eq!(a.body["token_type"], "DPoP", "{}", a.body);
    assert_eq!(cnf_jkt(&a), Value::Null);
    idp.shutdown().await;
}

#[tokio::test]
async fn signature_unchecked_takes_a_corrupted_proof() {
    let idp = faulty(AsFault::DpopSignatureUnchecked).await;
    let k = key();
    let good = proof(&k, &idp, None);
    let (head, sig) = good.rsplit_once('.').unwrap();
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    let bad = format!("{head}.{first}{}", &sig[1..]);
    let a = redeem(&idp, &[bad]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The other checks still run: htm GET is refused.
    let get = proof_spec(&k, "GET", &idp.token_endpoint()).mint(&k);
    let a = redeem(&idp, &[get]).await;
    assert_eq!(refused(&a), (400, Some("invalid_dpop_proof")));
    idp.shutdown().await;
}

#[tokio::test]
async fn iat_strict_refuses_ten_seconds_of_skew() {
    let idp = faulty(AsFault::DpopIatStrict).await;
    let k = key();
    for skew in [-10, 10] {
        let p = proof_spec(&k, "POST", &idp.token_endpoint())
            .claim("iat", unix_now() + skew)
            .mint(&k);
        let a = redeem(&idp, &[p]).await;
        assert_eq!(
            refused(&a),
            (400, Some("invalid_dpop_proof")),
            "skew {skew}"
        );
    }
    let a = redeem(&idp, &[proof(&k, &idp, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}

#[tokio::test]
async fn nonce_value_unchecked_takes_any_nonce_once_it_demands_one() {
    let idp = faulty(AsFault::DpopNonceValueUnchecked).await;
    idp.set_dpop_nonce_required(true);
    let k = key();
    let a = redeem(&idp, &[proof(&k, &idp, None)]).await;
    assert_eq!(refused(&a), (400, Some("use_dpop_nonce")));
    assert_eq!(a.nonces.len(), 1);
    let a = redeem(&idp, &[proof(&k, &idp, Some("never-issued"))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}

#[tokio::test]
async fn replay_accepted_takes_the_same_proof_twice() {
    let idp = faulty(AsFault::DpopReplayAccepted).await;
    let p = proof(&key(), &idp, None);
    for _ in 0..2 {
        let a = redeem(&idp, std::slice::from_ref(&p)).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn refresh_unbound_refreshes_with_any_key_or_none() {
    let idp = faulty(AsFault::DpopRefreshUnbound).await;
    let kc = key();
    let a = redeem(&idp, &[proof(&kc, &idp, None)]).await;
    assert_eq!(
        cnf_jkt(&a),
        thumbprint(&kc).as_str(),
        "the access token is bound"
    );
    let rt = a.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("refresh_token", rt.as_str()),
    ];
    let a = token_request(&idp, None, &[proof(&key(), &idp, None)], &refresh).await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}

#[tokio::test]
async fn bound_client_unenforced_issues_bearer_tokens_without_a_proof() {
    let register = |idp: &MockIdp| {
        let endpoint = idp.registration_endpoint();
        async move {
            let body: Value = http()
                .post(endpoint)
                .json(&serde_json::json!({
                    "redirect_uris": ["http://127.0.0.1/callback"],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "dpop_bound_access_tokens": true,
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["client_id"].as_str().unwrap().to_owned()
        }
    };
    // Compliant: a proof is required.
    let idp = start().await;
    let client = register(&idp).await;
    let a = redeem_as(&idp, &client, &[], &[]).await;
    assert_eq!(refused(&a), (400, Some("invalid_dpop_proof")));
    idp.shutdown().await;

    let idp = faulty(AsFault::DpopBoundClientUnenforced).await;
    let client = register(&idp).await;
    let a = redeem_as(&idp, &client, &[], &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
    idp.shutdown().await;
}

#[tokio::test]
async fn jkt_ignored_redeems_a_bound_code_with_another_key() {
    let idp = faulty(AsFault::DpopJktIgnored).await;
    let jkt = thumbprint(&key());
    let a = redeem_as(
        &idp,
        PUBLIC_CLIENT_ID,
        &[proof(&key(), &idp, None)],
        &[("dpop_jkt", &jkt)],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}

#[tokio::test]
async fn ath_refused_refuses_token_endpoint_proofs_with_ath() {
    let idp = faulty(AsFault::DpopAthRefused).await;
    let k = key();
    let with_ath = proof_spec(&k, "POST", &idp.token_endpoint())
        .claim("ath", mock_idp::jwk::access_token_hash("no-such-token"))
        .mint(&k);
    let a = redeem(&idp, &[with_ath]).await;
    assert_eq!(refused(&a), (400, Some("invalid_dpop_proof")));
    let a = redeem(&idp, &[proof(&k, &idp, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}

// ---- pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1) ----

/// Pushes a valid authorization request of the public client with `proofs` and `extra`:
/// the answer and the PKCE verifier.
async fn push(idp: &MockIdp, proofs: &[String], extra: &[(&str, &str)]) -> (Answer, String) {
    let (verifier, challenge) = pkce();
    let mut form = vec![
        ("response_type", "code"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("redirect_uri", LOOPBACK),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-par"),
    ];
    form.extend_from_slice(extra);
    let par = format!("{}/par", idp.issuer());
    (dpop_post(&par, None, proofs, &form).await, verifier)
}

/// The authorization endpoint's answer to a pushed request sent by reference: the code.
async fn code_by_reference(idp: &MockIdp, request_uri: &str) -> Option<String> {
    let resp = http()
        .get(idp.authorization_endpoint())
        .query(&[
            ("client_id", PUBLIC_CLIENT_ID),
            ("request_uri", request_uri),
        ])
        .send()
        .await
        .unwrap();
    if resp.status().as_u16() != 302 {
        return None;
    }
    let (_, params) = location_params(&resp);
    assert_eq!(param(&params, "state"), Some("st-par"), "the pushed state");
    param(&params, "code").map(str::to_owned)
}

/// A pushed code of the public client, redeemed with `proofs`.
async fn redeem_pushed(idp: &MockIdp, push_proofs: &[String], proofs: &[String]) -> Answer {
    let (a, verifier) = push(idp, push_proofs, &[]).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let request_uri = a.body["request_uri"].as_str().unwrap();
    let code = code_by_reference(idp, request_uri).await.expect("a code");
    token_request(
        idp,
        None,
        proofs,
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

fn par_proof(key: &SigningKey, idp: &MockIdp) -> String {
    proof_spec(key, "POST", &format!("{}/par", idp.issuer())).mint(key)
}

#[tokio::test]
async fn a_pushed_proof_binds_the_code_and_must_agree_with_dpop_jkt() {
    let idp = start().await;
    let (k1, k2) = (key(), key());
    let metadata: Value = http()
        .get(idp.urls(IssuerKind::Trusted).metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["pushed_authorization_request_endpoint"],
        format!("{}/par", idp.issuer())
    );
    // dpop_jkt of another key than the push's proof: refused.
    let (a, _) = push(
        &idp,
        &[par_proof(&k1, &idp)],
        &[("dpop_jkt", &thumbprint(&k2))],
    )
    .await;
    assert_eq!(refused(&a), (400, Some("invalid_dpop_proof")));
    // A proof made for the token endpoint is refused at the PAR endpoint (htu).
    let (a, _) = push(&idp, &[proof(&k1, &idp, None)], &[]).await;
    assert_eq!(refused(&a), (400, Some("invalid_dpop_proof")));
    // The pushed proof's key binds the code.
    let a = redeem_pushed(&idp, &[par_proof(&k1, &idp)], &[proof(&k2, &idp, None)]).await;
    assert_eq!(refused(&a), (400, Some("invalid_grant")));
    let a = redeem_pushed(&idp, &[par_proof(&k1, &idp)], &[proof(&k1, &idp, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(cnf_jkt(&a), thumbprint(&k1).as_str());
    // Without a proof at the push, the code is not bound.
    let a = redeem_pushed(&idp, &[], &[proof(&k2, &idp, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A request_uri is used once.
    let (a, _) = push(&idp, &[], &[]).await;
    let request_uri = a.body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(code_by_reference(&idp, request_uri).await.is_some());
    assert!(code_by_reference(&idp, request_uri).await.is_none());
    idp.shutdown().await;
}

#[tokio::test]
async fn par_unbound_ignores_the_pushed_proof() {
    let idp = faulty(AsFault::DpopParUnbound).await;
    let (k1, k2) = (key(), key());
    let (a, _) = push(
        &idp,
        &[par_proof(&k1, &idp)],
        &[("dpop_jkt", &thumbprint(&k2))],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = redeem_pushed(&idp, &[par_proof(&k1, &idp)], &[proof(&k2, &idp, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    idp.shutdown().await;
}
