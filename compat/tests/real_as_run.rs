//! Issue 13 "Done when": a target that trusts only a third-party authorization server
//! (oidc-provider, installed from its lock file) is run with `--client-credentials` and with
//! `--token-command`; the stimuli derived from its real tokens catch the reference server's
//! signature faults; with `--dpop` the proof checks run and catch DPoP faults; with opaque
//! tokens introspected at it, the altered-token check catches a prefix-matching cache. The tool
//! holds no key of this authorization server.

use std::time::Instant;

use compat::authorization_server::{AsOptions, CC_CLIENT_ID, CC_CLIENT_SECRET};
use reference_server::{Config, Fault, IntrospectionConfig, ReferenceServer};
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

mod real_as;
use real_as::{
    assert_caught, assert_caught_on, bad, clean_run, only, run, run_on, start, start_with,
};

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
    let ran = clean_run("client credentials", &verdicts, started);
    assert!(ran >= 44, "{ran} checks ran");
    let cases = [
        ("accept-alg-none", "rs.token.alg-none"),
        ("skip-signature", "rs.token.broken-signature"),
        ("accept-null-signature", "rs.token.null-signature"),
        ("hs256-public-key", "rs.token.hs256-public-key"),
        ("trust-embedded-jwk", "rs.token.embedded-jwk"),
        ("trust-jku", "rs.token.jku-spoof"),
        ("hs384-hs512-public-key", "rs.token.hs384-hs512-public-key"),
        ("accept-rogue-issuer", "rs.token.iss-rogue"),
        ("skip-signature", "rs.token.iss-key-mismatch"),
    ];
    assert_caught(
        server.issuer(),
        || client_credentials(&secret, false),
        &cases,
    )
    .await;
}

/// A reference server trusting `issuer` that validates opaque tokens by introspecting them
/// there, as the resource server client `mcp-authspec-cc`.
async fn introspecting(issuer: &str) -> Config {
    let metadata: serde_json::Value =
        reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let endpoint = metadata["introspection_endpoint"]
        .as_str()
        .expect("oidc-provider --opaque serves introspection");
    let mut config = Config::discover(issuer);
    config.introspection = Some(IntrospectionConfig::new(
        endpoint,
        CC_CLIENT_ID,
        CC_CLIENT_SECRET,
    ));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_from_oidc_provider_run_and_altered_handles_catch_a_prefix_cache() {
    let options = AsOptions {
        opaque: true,
        ..AsOptions::new("RS256")
    };
    let Some(server) = start_with(&options) else {
        return;
    };
    let secret = SecretFile::new(CC_CLIENT_SECRET);
    let started = Instant::now();
    let (calibration, verdicts) = run_on(
        introspecting(server.issuer()).await,
        client_credentials(&secret, false),
        &Selection::default(),
    )
    .await;
    match &calibration {
        Calibration::Issued(found) => assert!(!found.jwt, "{}", calibration.describe()),
        other => panic!("{}", other.describe()),
    }
    let ran = clean_run("client credentials, opaque tokens", &verdicts, started);
    assert!(ran >= 31, "{ran} checks ran");
    assert_eq!(
        verdicts["rs.token.opaque-altered"].0,
        Verdict::Pass,
        "{:?}",
        verdicts["rs.token.opaque-altered"]
    );
    let issuer = server.issuer();
    assert_caught_on(
        async |fault| introspecting(issuer).await.with_faults([fault]),
        || client_credentials(&secret, false),
        &[("introspection-cache-prefix", "rs.token.opaque-altered")],
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
