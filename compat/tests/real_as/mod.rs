//! What the tests of runs against oidc-provider (`real_as_run.rs`, `real_as_auth_code.rs`)
//! share: starting it (skipped with a note when it is not installed, a failure under CI), one
//! run of a selection against a reference server trusting it, and reading the verdicts.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;

use compat::authorization_server::{AsOptions, ThirdPartyAs};
use reference_server::{Config, Fault, ReferenceServer};
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

pub type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

pub fn start() -> Option<ThirdPartyAs> {
    start_with(&AsOptions::new("RS256"))
}

/// As [`start`], with these options (opaque tokens, another algorithm, nonces).
pub fn start_with(options: &AsOptions) -> Option<ThirdPartyAs> {
    if !ThirdPartyAs::is_installed() {
        let note = "oidc-provider is not installed: run npm ci in compat/authorization-servers/oidc-provider";
        assert!(std::env::var_os("CI").is_none(), "under CI: {note}");
        eprintln!("note: skipped: {note}");
        return None;
    }
    Some(ThirdPartyAs::start_with(options).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs the selection against a reference server with `faults` trusting `issuer`, with
/// tokens only from `source`.
pub async fn run(
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

/// Runs the selection against a reference server configured so (e.g. introspecting opaque
/// tokens at the authorization server), with tokens only from `source`.
pub async fn run_on(
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

/// The Fail and Error verdicts, one line each.
pub fn bad(verdicts: &Verdicts) -> String {
    verdicts
        .iter()
        .filter(|(_, (v, _))| matches!(v, Verdict::Fail | Verdict::Error))
        .map(|(id, (v, m))| format!("{id}: {v:?} {m}\n"))
        .collect()
}

/// A run against a compliant server has no Fail and no Error; returns how many checks ran
/// (were not NotEvaluated), and prints it with the run time.
pub fn clean_run(mode: &str, verdicts: &Verdicts, started: std::time::Instant) -> usize {
    assert!(bad(verdicts).is_empty(), "{mode}: {}", bad(verdicts));
    let ran = ran(verdicts);
    eprintln!(
        "oidc-provider, {mode}: {ran} of {} checks ran in {:.1} s",
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );
    ran
}

/// How many checks were evaluated (not NotEvaluated).
pub fn ran(verdicts: &Verdicts) -> usize {
    verdicts
        .values()
        .filter(|(v, _)| *v != Verdict::NotEvaluated)
        .count()
}

/// Each fault of the reference server makes its check FAIL through tokens from `source`.
pub async fn assert_caught(issuer: &str, source: impl Fn() -> SourceArgs, cases: &[(&str, &str)]) {
    for (fault, check) in cases {
        let fault: Fault = fault.parse().unwrap();
        let (_, verdicts) = run(issuer, &[fault], source(), &only(check)).await;
        assert_failed(&verdicts, check, fault);
    }
}

/// Each fault makes its check FAIL on a reference server configured by `config` (given the
/// fault) with tokens from `source`.
pub async fn assert_caught_on(
    config: impl AsyncFn(Fault) -> Config,
    source: impl Fn() -> SourceArgs,
    cases: &[(&str, &str)],
) {
    for (fault, check) in cases {
        let fault: Fault = fault.parse().unwrap();
        let (_, verdicts) = run_on(config(fault).await, source(), &only(check)).await;
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

pub fn only(check: &str) -> Selection {
    Selection {
        include: vec![Glob::new(check)],
        skip: vec![],
    }
}
