//! The fuzz corpus on stable: every checked-in input of the wire-parser targets
//! (`fuzz/corpus/<target>/`) and every saved reproducer (`fuzz/regressions/<target>/`) goes
//! through the same `suite::fuzzing` entry point the fuzzer calls, with the same assertions.
//! (The JOSE/DPoP targets are replayed by `mock-idp/tests/fuzz_corpus.rs`.)
//!
//! It also holds the seed-corpus generator, run on demand:
//! `cargo test -p suite --test fuzz_corpus -- --ignored generate_seed_corpus` — it starts the
//! mock IdP and the reference server on loopback and records real material (challenges,
//! metadata, JWKS, tokens, DPoP proofs, forged attack tokens) for every target.

use std::collections::BTreeMap;
use std::path::Path;

use mock_idp::alg::Algorithm;
use mock_idp::dpop::ProofBuilder;
use mock_idp::forge::{Attack, ForgeContext};
use mock_idp::fuzzing::corpus::{fuzz_dir, replay};
use mock_idp::fuzzing::{self as jose, FIXED_NOW, fixture_key};
use mock_idp::jws::{Jws, ParseOptions};
use mock_idp::keys::SigningKey;
use mock_idp::server::{IdpConfig, MockIdp};
use mock_idp::token::TokenSpec;
use reference_server::{BASE_SCOPE, Config, ReferenceServer};

#[test]
fn www_authenticate_corpus() {
    replay("www_authenticate", &suite::fuzzing::www_authenticate);
}

#[test]
fn prm_corpus() {
    replay("prm", &suite::fuzzing::prm);
}

#[test]
fn as_metadata_corpus() {
    replay("as_metadata", &suite::fuzzing::as_metadata);
}

// ---- the seed-corpus generator ----

/// Seed inputs per target, by file name.
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, name: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.0
            .entry(target)
            .or_default()
            .insert(name.into(), data.into());
    }

    /// A token for the token targets, and its decoded header and claims for the JSON ones.
    fn token(&mut self, name: &str, token: &str) {
        for target in ["jws_compact", "access_token", "differential_jws"] {
            self.add(target, name, token);
        }
        if let Ok(jws) = Jws::parse_with(token, &ParseOptions::lenient()) {
            self.add(
                "jose_header",
                format!("{name}-header"),
                jws.header().to_bytes(),
            );
            self.add("jose_header", format!("{name}-claims"), jws.payload());
            let mut round_trip = vec![0u8];
            round_trip.extend(jws.header().to_bytes());
            round_trip.push(0);
            round_trip.extend(jws.payload());
            self.add("round_trip", name, round_trip);
        }
    }

    fn write(&self, root: &Path) {
        for (target, files) in &self.0 {
            let dir = root.join("corpus").join(target);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, data) in files {
                std::fs::write(dir.join(name), data).unwrap();
            }
        }
    }
}

async fn text(http: &reqwest::Client, url: &str) -> Vec<u8> {
    http.get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

fn fixed_access_token(alg: Algorithm) -> TokenSpec {
    TokenSpec::new()
        .typ("at+jwt")
        .iss(jose::ISSUER)
        .aud(jose::AUDIENCE)
        .subject("alice")
        .client_id("client")
        .scope("mcp")
        .iat(FIXED_NOW)
        .exp(FIXED_NOW + 300)
        .jti("seed")
        .kid(fixture_key(alg).kid().unwrap_or_default())
}

#[tokio::test]
#[ignore = "writes fuzz/corpus; run on demand"]
async fn generate_seed_corpus() {
    let mut seeds = Seeds::default();
    let http = reqwest::Client::new();
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let server = ReferenceServer::start(Config::new(idp.issuer(), &idp.jwks_url()))
        .await
        .unwrap();

    // Real material from the mock IdP: metadata, JWKS, an access token.
    seeds.add(
        "as_metadata",
        "mock-idp",
        text(&http, &idp.metadata_url()).await,
    );
    let jwks = text(&http, &idp.jwks_url()).await;
    seeds.add("jwk", "mock-idp-jwks", jwks.clone());
    let set: serde_json::Value = serde_json::from_slice(&jwks).unwrap();
    for (i, key) in set["keys"].as_array().unwrap().iter().enumerate() {
        seeds.add("jwk", format!("mock-idp-key-{i}"), key.to_string());
    }
    let real = idp.mint(&idp.valid_token_spec(server.resource(), BASE_SCOPE));
    seeds.token("mock-idp-access-token", &real);

    // Real material from the reference server: PRM and challenges.
    seeds.add(
        "prm",
        "reference-server",
        text(&http, server.prm_url()).await,
    );
    let unauthenticated = http.post(server.mcp_url()).send().await.unwrap();
    let garbage = http
        .post(server.mcp_url())
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    for (name, reply) in [("no-token", unauthenticated), ("bad-token", garbage)] {
        let lines: Vec<String> = reply
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        seeds.add("www_authenticate", name, lines.join("\n"));
    }
    for (name, value) in [
        (
            "rfc6750-example",
            "Bearer realm=\"example\", error=\"invalid_token\", error_description=\"The access token expired\"",
        ),
        (
            "rfc9449-example",
            "DPoP algs=\"ES256 PS256\", error=\"use_dpop_nonce\"",
        ),
        (
            "token68-and-list",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer, Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\"",
        ),
    ] {
        seeds.add("www_authenticate", name, value);
    }
    for (name, value) in [
        (
            "minimal",
            r#"{"resource":"https://mcp.fuzz.test/mcp","authorization_servers":["https://idp.fuzz.test/trusted"]}"#,
        ),
        (
            "defective",
            r#"{"resource":"https://mcp.fuzz.test/mcp/","scopes_supported":[],"jwks_uri":"http://evil.test/j","resource":"x","dpop_signing_alg_values_supported":["ES256","HS256","none"]}"#,
        ),
    ] {
        seeds.add("prm", name, value);
    }
    seeds.add(
        "as_metadata",
        "minimal",
        r#"{"issuer":"https://idp.fuzz.test/trusted","authorization_endpoint":"https://idp.fuzz.test/a","token_endpoint":"https://idp.fuzz.test/t","response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}"#,
    );
    seeds.add(
        "as_metadata",
        "defective",
        r#"{"issuer":"https://idp.fuzz.test/trusted/","token_endpoint":"https://as.test/t","code_challenge_methods_supported":["plain"],"token_endpoint_auth_signing_alg_values_supported":["none"]}"#,
    );

    // Tokens the fixed validator accepts (fixture keys, fixed clock), and their attacks.
    for alg in jose::ALLOWED {
        let spec = fixed_access_token(alg);
        seeds.token(
            &format!("valid-{}", alg.name().to_lowercase()),
            &spec.mint(fixture_key(alg)),
        );
        seeds.add(
            "jwk",
            format!("fixture-{}", alg.name().to_lowercase()),
            fixture_key(alg).public_jwk().to_json().to_string(),
        );
        seeds.add(
            "jwk",
            format!("fixture-{}-private", alg.name().to_lowercase()),
            fixture_key(alg).private_jwk().to_string(),
        );
    }
    let attacker = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("attacker");
    let victim_spec = fixed_access_token(Algorithm::Es256);
    let ctx = ForgeContext {
        victim: fixture_key(Algorithm::Es256),
        attacker: &attacker,
        listener_url: "http://127.0.0.1:9/jwks",
        spec: &victim_spec,
    };
    for attack in Attack::catalogue() {
        if let Ok(token) = attack.forge(&ctx) {
            let name: String = attack
                .name()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            seeds.token(&format!("attack-{name}"), &token);
        }
    }

    // DPoP proofs for the fixed request: valid ones, and one per refused defect.
    let key = fixture_key(Algorithm::Es256);
    let proof = || {
        ProofBuilder::new(jose::DPOP_METHOD, jose::DPOP_URL)
            .now(FIXED_NOW)
            .ath_for(jose::ACCESS_TOKEN)
    };
    let proofs = [
        ("valid", proof().sign(key)),
        ("valid-with-nonce", proof().nonce("n-1").sign(key)),
        ("htm-get", proof().htm("GET").sign(key)),
        ("no-ath", proof().no_ath().sign(key)),
        ("private-jwk", proof().private_jwk().sign(key)),
        ("corrupted-signature", proof().corrupt_signature().sign(key)),
        ("alg-none", proof().alg("none").sign(key)),
        ("old-iat", proof().iat(FIXED_NOW - 3600).sign(key)),
        ("other-key", proof().sign(fixture_key(Algorithm::EdDsa))),
        ("typ-jwt", proof().typ("JWT").sign(key)),
    ];
    for (name, p) in &proofs {
        seeds.add("dpop_proof", *name, p.as_str());
    }
    seeds.add(
        "dpop_proof",
        "two-fields",
        format!("{}\n{}", proofs[0].1, proofs[1].1),
    );

    seeds.write(&fuzz_dir());
    let total: usize = seeds
        .0
        .values()
        .flat_map(|f| f.values())
        .map(Vec::len)
        .sum();
    assert!(total < 1024 * 1024, "seed corpus is {total} bytes");
    eprintln!(
        "wrote {} files, {total} bytes",
        seeds.0.values().map(BTreeMap::len).sum::<usize>()
    );
}
