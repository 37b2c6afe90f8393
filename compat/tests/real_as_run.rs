//! Issue 13 "Done when": a target that trusts only a third-party authorization server
//! (oidc-provider, installed from its lock file) is run with `--client-credentials` and with
//! `--token-command`; the stimuli derived from its real tokens catch the reference server's
//! signature faults; with `--dpop` the proof checks run and catch DPoP faults; with opaque
//! tokens introspected at it, the altered-token check catches a prefix-matching cache. The tool
//! holds no key of this authorization server.

use std::collections::BTreeMap;
use std::time::Instant;

use compat::authorization_server::{AsOptions, CC_CLIENT_ID, CC_CLIENT_SECRET, ThirdPartyAs};
use reference_server::{Config, Fault, IntrospectionConfig, ReferenceServer};
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

fn start() -> Option<ThirdPartyAs> {
    start_with(&AsOptions::new("RS256"))
}

fn start_with(options: &AsOptions) -> Option<ThirdPartyAs> {
    if !ThirdPartyAs::is_installed() {
        let note = "oidc-provider is not installed: run npm ci in compat/authorization-servers/oidc-provider";
        assert!(std::env::var_os("CI").is_none(), "under CI: {note}");
        eprintln!("note: skipped: {note}");
        return None;
    }
    Some(ThirdPartyAs::start_with(options).unwrap_or_else(|e| panic!("{e}")))
}

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

/// Runs the selection against a reference server with `faults` trusting `issuer`.
async fn run(
    issuer: &str,
    faults: &[Fault],
    source: SourceArgs,
    selection: &Selection,
) -> (Calibration, Verdicts) {
    let mut config = Config::discover(issuer).with_faults(faults.iter().copied());
    if source.dpop {
        // A server that takes DPoP-bound tokens beside Bearer ones.
        config.dpop = reference_server::DpopMode::Optional;
    }
    run_on(config, source, selection).await
}

/// Runs the selection against a reference server configured so.
async fn run_on(
    config: Config,
    source: SourceArgs,
    selection: &Selection,
) -> (Calibration, Verdicts) {
    let reference = ReferenceServer::start(config)
        .await
        .unwrap_or_else(|e| panic!("reference server: {e}"));
    let ctx = context_from(
        &reference.mcp_url(),
        TokenSupply::Planned(Box::new(source)),
        &TokenDefaults {
            scope: Some("mcp:read".into()),
            ..TokenDefaults::default()
        },
        None,
        None,
        Limits::default(),
    )
    .await
    .unwrap();
    if matches!(&ctx.calibration, Calibration::Issued(found) if found.jwt) {
        assert!(
            ctx.issued_jws().is_some_and(|t| t.public_key().is_some()),
            "the AS's published key verifying its token was not found: {:?}",
            ctx.issued.as_ref().map(|i| i.published_keys.is_some())
        );
    }
    let results = run_checks(&ctx, selection, RunOptions::default(), |_, _| {}).await;
    let verdicts = results
        .into_iter()
        .map(|(m, o)| (m.id, (o.verdict, o.message)))
        .collect();
    (ctx.calibration.clone(), verdicts)
}

fn bad(verdicts: &Verdicts) -> String {
    verdicts
        .iter()
        .filter(|(_, (v, _))| matches!(v, Verdict::Fail | Verdict::Error))
        .map(|(id, (v, m))| format!("{id}: {v:?} {m}\n"))
        .collect()
}

/// A run against a compliant server has no Fail and no Error; returns how many checks ran
/// (were not NotEvaluated), and prints it with the run time.
fn clean_run(mode: &str, verdicts: &Verdicts, started: Instant) -> usize {
    assert!(bad(verdicts).is_empty(), "{mode}: {}", bad(verdicts));
    let ran = verdicts
        .values()
        .filter(|(v, _)| *v != Verdict::NotEvaluated)
        .count();
    eprintln!(
        "oidc-provider, {mode}: {ran} of {} checks ran in {:.1} s",
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );
    ran
}

/// Each fault of the reference server makes its check FAIL through tokens from `issuer`.
async fn assert_caught(issuer: &str, secret: &SecretFile, dpop: bool, cases: &[(&str, &str)]) {
    for (fault, check) in cases {
        let fault: Fault = fault.parse().unwrap();
        let selection = only(check);
        let (_, verdicts) = run(
            issuer,
            &[fault],
            client_credentials(secret, dpop),
            &selection,
        )
        .await;
        assert_failed(&verdicts, check, fault);
    }
}

/// Each fault of a reference server introspecting at `issuer` makes its check FAIL through
/// the opaque tokens it issues.
async fn assert_caught_opaque(issuer: &str, secret: &SecretFile, cases: &[(&str, &str)]) {
    for (fault, check) in cases {
        let fault: Fault = fault.parse().unwrap();
        let config = introspecting(issuer).await.with_faults([fault]);
        let (_, verdicts) = run_on(config, client_credentials(secret, false), &only(check)).await;
        assert_failed(&verdicts, check, fault);
    }
}

fn assert_failed(verdicts: &Verdicts, check: &str, fault: Fault) {
    assert_eq!(
        verdicts[check].0,
        Verdict::Fail,
        "{fault:?}: {:?}",
        verdicts[check]
    );
}

fn only(check: &str) -> Selection {
    Selection {
        include: vec![Glob::new(check)],
        skip: vec![],
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
    assert_caught(server.issuer(), &secret, false, &cases).await;
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
    let cases = [("introspection-cache-prefix", "rs.token.opaque-altered")];
    assert_caught_opaque(server.issuer(), &secret, &cases).await;
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
    assert_caught(server.issuer(), &secret, true, &cases).await;
}
