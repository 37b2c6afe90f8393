//! `mcp-authspec demo-server` as a user runs it, against an in-process mock IdP.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use mock_idp::server::{IdpConfig, MockIdp};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
}

/// Starts `demo-server` on a free loopback port trusting `issuer`, with `extra` arguments; its
/// banner lines up to "Ctrl-C …" (the first names the MCP URL). Stdout keeps being drained so
/// the server never writes to a closed pipe.
async fn start_demo(issuer: &str, extra: &[&str]) -> (std::process::Child, Vec<String>) {
    let mut child = binary()
        .args(["demo-server", "--listen", "127.0.0.1:0", "--issuer", issuer])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv() {
            let done = line.starts_with("Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    (child, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_server_with_a_fault_shows_the_fault() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let (mut child, lines) = start_demo(idp.issuer(), &["--fault", "ignore-aud"]).await;
    let url = lines[0].rsplit(' ').next().unwrap().to_owned();
    let wrong_aud = idp.mint(&idp.valid_token_spec("https://other.test/mcp", "mcp:read"));
    let resp = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {wrong_aud}"))
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "ignore-aud accepts a token for another audience"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn fault_names_are_checked_and_listed() {
    let out = binary()
        .args([
            "demo-server",
            "--issuer",
            "http://127.0.0.1:9",
            "--fault",
            "list",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("reject-everything"));
    let out = binary()
        .args([
            "demo-server",
            "--issuer",
            "http://127.0.0.1:9",
            "--fault",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("accept-no-exp"));
}

/// `--dpop required --dpop-nonce`: Bearer is refused with a DPoP challenge, the PRM says DPoP
/// is required, and a bound token with a proof first gets `use_dpop_nonce`.
#[tokio::test(flavor = "multi_thread")]
async fn demo_server_dpop_modes_are_selectable() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let (mut child, lines) =
        start_demo(idp.issuer(), &["--dpop", "required", "--dpop-nonce"]).await;
    let url = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Required, nonces demanded")),
        "{lines:?}"
    );
    let client = reqwest::Client::new();
    let initialize = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let bearer = idp.mint(&idp.valid_token_spec(&url, "mcp:read"));
    let resp = client
        .post(&url)
        .header("authorization", format!("Bearer {bearer}"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("DPoP "), "{challenge}");

    let key = mock_idp::keys::SigningKey::generate(mock_idp::alg::Algorithm::Es256).unwrap();
    let jkt = mock_idp::dpop::proof::minimal_public_jwk(&key).thumbprint();
    let bound = idp.mint(&idp.valid_token_spec(&url, "mcp:read").cnf_jkt(&jkt));
    let proof = mock_idp::dpop::ProofBuilder::new("POST", &url)
        .ath_for(&bound)
        .sign(&key);
    let resp = client
        .post(&url)
        .header("authorization", format!("DPoP {bound}"))
        .header("dpop", proof)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("dpop-nonce"));
    let _ = child.kill();
    let _ = child.wait();
}
