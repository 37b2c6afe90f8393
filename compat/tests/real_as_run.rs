//! Issue 13 "Done when": a target that trusts only a third-party authorization server
//! (oidc-provider, installed from its lock file) is run with `--client-credentials` and with
//! `--token-command`; the stimuli derived from its real tokens catch the reference server's
//! signature faults; with `--dpop` the proof checks run and catch DPoP faults. The tool holds
//! no key of this authorization server.

use std::time::Instant;

use compat::authorization_server::{CC_CLIENT_ID, CC_CLIENT_SECRET};
use reference_server::{Config, Fault, ReferenceServer};
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

mod real_as;
use real_as::{assert_caught, bad, only, ran, run, start};

struct SecretFile(std::path::PathBuf);

impl SecretFile {
    fn new(content: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "mcp-authspec-real-as-{}-{}",
            std::process::id(),
            mock_idp::random_b64url(8)
        ));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn client_credentials(secret: &SecretFile, dpop: bool) -> SourceArgs {
    SourceArgs {
        client_credentials: true,
        client_id: Some(CC_CLIENT_ID.into()),
        client_secret_file: Some(secret.0.clone()),
        dpop,
        ..SourceArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_from_oidc_provider_run_and_derived_stimuli_catch_faults() {
    let Some(server) = start() else { return };
    let secret = SecretFile::new(CC_CLIENT_SECRET);
    let started = Instant::now();
    let (calibration, verdicts) = run(
        server.issuer(),
        &[],
        client_credentials(&secret, false),
        &Selection::default(),
    )
    .await;
    assert!(
        matches!(calibration, Calibration::Issued(_)),
        "{}",
        calibration.describe()
    );
    assert!(bad(&verdicts).is_empty(), "{}", bad(&verdicts));
    eprintln!(
        "oidc-provider, client credentials: {} of {} checks ran in {:.1} s",
        ran(&verdicts),
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );
    let cases = [
        ("accept-alg-none", "rs.token.alg-none"),
        ("skip-signature", "rs.token.broken-signature"),
        ("accept-null-signature", "rs.token.null-signature"),
        ("hs256-public-key", "rs.token.hs256-public-key"),
        ("trust-embedded-jwk", "rs.token.embedded-jwk"),
        ("trust-jku", "rs.token.jku-spoof"),
    ];
    assert_caught(
        server.issuer(),
        || client_credentials(&secret, false),
        &cases,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_printing_an_oidc_provider_token_is_a_source() {
    let Some(server) = start() else { return };
    let reference = ReferenceServer::start(
        Config::discover(server.issuer()).with_faults([Fault::AcceptAlgNone]),
    )
    .await
    .unwrap();
    // The command prints the token endpoint's JSON answer, as `curl` would.
    let metadata: serde_json::Value = reqwest::get(server.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = reqwest::Client::new()
        .post(metadata["token_endpoint"].as_str().unwrap())
        .basic_auth(CC_CLIENT_ID, Some(CC_CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", reference.resource()),
            ("scope", "mcp:read"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = SecretFile::new(&answer);
    let source = SourceArgs {
        token_command: Some(format!("cat '{}'", file.0.display())),
        ..SourceArgs::default()
    };
    let ctx = context_from(
        &reference.mcp_url(),
        TokenSupply::Planned(Box::new(source)),
        &TokenDefaults::default(),
        None,
        None,
        Limits::default(),
    )
    .await
    .unwrap();
    assert!(
        matches!(ctx.calibration, Calibration::Issued(_)),
        "{}",
        ctx.calibration.describe()
    );
    let results = run_checks(
        &ctx,
        &only("rs.token.alg-none"),
        RunOptions::default(),
        |_, _| {},
    )
    .await;
    assert_eq!(
        results[0].1.verdict,
        Verdict::Fail,
        "{}",
        results[0].1.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_tokens_from_oidc_provider_run_the_proof_checks() {
    let Some(server) = start() else { return };
    let secret = SecretFile::new(CC_CLIENT_SECRET);
    let selection = only("rs.dpop.*");
    let (calibration, verdicts) = run(
        server.issuer(),
        &[],
        client_credentials(&secret, true),
        &selection,
    )
    .await;
    match &calibration {
        Calibration::Issued(i) => assert!(i.bound_accepted, "{}", calibration.describe()),
        other => panic!("{}", other.describe()),
    }
    assert!(bad(&verdicts).is_empty(), "{}", bad(&verdicts));
    let passed = verdicts
        .values()
        .filter(|(v, _)| *v == Verdict::Pass)
        .count();
    eprintln!(
        "oidc-provider, --dpop: {passed} of {} DPoP checks passed",
        verdicts.len()
    );
    assert!(passed >= 20, "{verdicts:#?}");
    let cases = [
        ("dpop-skip-signature", "rs.dpop.alg-none"),
        ("dpop-ignore-htm", "rs.dpop.htm-mismatch"),
        ("dpop-ignore-ath", "rs.dpop.ath-wrong"),
    ];
    assert_caught(
        server.issuer(),
        || client_credentials(&secret, true),
        &cases,
    )
    .await;
}
