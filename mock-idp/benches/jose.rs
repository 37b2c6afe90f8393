//! Throughput of the JOSE core, single thread: access tokens minted per second per algorithm,
//! beside the `jsonwebtoken` crate signing the same claims with the same keys in the same run,
//! and DPoP proofs validated per second.
//!
//! Run: `cargo bench -p mock-idp --bench jose` (optionally `-- --seconds 2`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use mock_idp::alg::Algorithm;
use mock_idp::dpop::{DpopValidator, ProofBuilder, RequestContext, ValidatorConfig};
use mock_idp::keys::SigningKey;
use mock_idp::token::TokenSpec;

fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up, then count whole iterations inside the budget.
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn jsonwebtoken_key(key: &SigningKey) -> (jsonwebtoken::Algorithm, jsonwebtoken::EncodingKey) {
    let pem = key.to_pkcs8_pem().expect("asymmetric key");
    match key.alg() {
        Algorithm::Es256 => (
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        ),
        Algorithm::Es384 => (
            jsonwebtoken::Algorithm::ES384,
            jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        ),
        Algorithm::Rs256 => (
            jsonwebtoken::Algorithm::RS256,
            jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        ),
        Algorithm::Ps256 => (
            jsonwebtoken::Algorithm::PS256,
            jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        ),
        Algorithm::EdDsa => (
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        ),
        other => panic!("no bench for {other}"),
    }
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let spec = TokenSpec::access_token(
        "https://idp.test",
        "https://mcp.test/mcp",
        "alice",
        "client-1",
        "mcp:tools",
    );
    println!("tokens minted per second, single thread, {seconds} s per cell");
    println!(
        "{:<7} {:>14} {:>16} {:>7}",
        "alg", "mcp-authspec", "jsonwebtoken", "ratio"
    );
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
    ] {
        let key = SigningKey::generate(alg).unwrap().with_kid("k1");
        let ours = rate(budget, || {
            black_box(spec.mint(black_box(&key)));
        });
        let (jalg, jkey) = jsonwebtoken_key(&key);
        let mut header = jsonwebtoken::Header::new(jalg);
        header.typ = Some("at+jwt".into());
        header.kid = Some("k1".into());
        let claims = serde_json::Value::Object(spec.claims_json().to_map());
        let theirs = rate(budget, || {
            black_box(jsonwebtoken::encode(&header, black_box(&claims), &jkey).unwrap());
        });
        println!(
            "{:<7} {:>14.0} {:>16.0} {:>6.2}x",
            alg.name(),
            ours,
            theirs,
            ours / theirs
        );
    }

    println!();
    println!("DPoP proofs validated per second, single thread, replay cache on (each proof fresh)");
    println!(
        "{:<7} {:>14} {:>16}",
        "alg", "validated/s", "proofs in pool"
    );
    let url = "https://mcp.test/mcp";
    let access_token = spec.mint(&SigningKey::generate(Algorithm::Es256).unwrap());
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        // Pre-mint a pool of distinct proofs (fresh jti each), so only validation is timed.
        let now = mock_idp::unix_now();
        let minting = std::time::Instant::now();
        let mut pool = Vec::new();
        while minting.elapsed() < budget || pool.len() < 64 {
            pool.push(
                ProofBuilder::new("POST", url)
                    .now(now)
                    .ath_for(&access_token)
                    .sign(&key),
            );
        }
        let validator = DpopValidator::new(ValidatorConfig {
            replay_capacity: pool.len() + 1,
            ..ValidatorConfig::default()
        });
        let ctx = RequestContext::new("POST", url).with_access_token(&access_token);
        let start = std::time::Instant::now();
        for proof in &pool {
            validator
                .validate(&[proof.as_str()], &ctx, now)
                .expect("fresh proof validates");
        }
        let per_second = pool.len() as f64 / start.elapsed().as_secs_f64();
        println!("{:<7} {:>14.0} {:>16}", alg.name(), per_second, pool.len());
    }
}
