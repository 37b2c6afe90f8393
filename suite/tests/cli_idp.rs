//! `mcp-authspec idp serve` as a user runs it: a real process on loopback that prints what a
//! server must be configured with and an example token that verifies against the JWKS it
//! serves; keys persist across restarts; bad arguments exit 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use mock_idp::alg::Algorithm;
use mock_idp::jwk::JwkSet;
use mock_idp::jws::{Jws, Verifier};
use mock_idp::keys::VerifyingKey;

struct Served {
    child: Child,
    issuer: String,
    jwks_uri: String,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(keys: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(["idp", "serve", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys)
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut issuer, mut jwks_uri) = (String::new(), String::new());
    let mut token = String::new();
    let mut next_is_token = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if next_is_token {
            token = line.trim().to_owned();
            break;
        }
        let field = |name: &str| line.trim().strip_prefix(name).map(|v| v.trim().to_owned());
        if let Some(v) = field("issuer") {
            issuer = v;
        } else if let Some(v) = field("jwks_uri") {
            jwks_uri = v;
        }
        next_is_token = line.starts_with("Example valid access token");
    }
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || for _ in lines {});
    Served {
        child,
        issuer,
        jwks_uri,
        token,
    }
}

fn fetch_jwks(url: &str) -> JwkSet {
    let body = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() });
    JwkSet::from_json(&serde_json::from_str(&body).unwrap()).unwrap()
}

#[test]
fn serve_prints_a_token_that_verifies_against_the_served_jwks() {
    let keys = std::env::temp_dir().join(format!("idp-cli-{}", mock_idp::random_b64url(6)));
    let first = serve(&keys);
    assert!(
        first.issuer.starts_with("http://127.0.0.1:"),
        "{}",
        first.issuer
    );
    let jwks = fetch_jwks(&first.jwks_uri);
    let verifier = Verifier::new(&[Algorithm::Es256])
        .with_keys(jwks.keys.iter().map(|k| VerifyingKey::from_jwk(k).unwrap()));
    let jws = Jws::parse(&first.token).unwrap();
    verifier.verify(&jws).unwrap();
    assert_eq!(
        jws.claims().unwrap().get_str("iss"),
        Some(first.issuer.as_str())
    );
    drop(first);
    // A restart with the same folder serves the same keys.
    let second = serve(&keys);
    assert_eq!(fetch_jwks(&second.jwks_uri).to_json(), jwks.to_json());
    drop(second);
    let _ = std::fs::remove_dir_all(&keys);
}

#[test]
fn bad_arguments_exit_with_the_usage_code() {
    for args in [
        &["idp", "serve", "--listen", "not-an-address"][..],
        &["idp", "frobnicate"],
        &["run", "--no-such-flag"],
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}
