//! `--auth-code` against a third-party authorization server (issue 13): oidc-provider on
//! loopback issues the tokens through its own login pages, driven by its login command
//! (`node login.mjs`, given the authorization URL by the tool); the tool's loopback listener
//! receives the code. The checks run on the real token, and a reference-server fault is
//! caught through it. The tool holds no key of this authorization server.

use std::collections::BTreeMap;
use std::time::Instant;

use compat::authorization_server::{AsOptions, PUBLIC_CLIENT_ID, ThirdPartyAs};
use reference_server::{Config, Fault, ReferenceServer};
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

fn start() -> Option<ThirdPartyAs> {
    if !ThirdPartyAs::is_installed() {
        let note = "oidc-provider is not installed: run npm ci in compat/authorization-servers/oidc-provider";
        assert!(std::env::var_os("CI").is_none(), "under CI: {note}");
        eprintln!("note: skipped: {note}");
        return None;
    }
    Some(ThirdPartyAs::start_with(&AsOptions::new("RS256")).unwrap_or_else(|e| panic!("{e}")))
}

/// `--auth-code --client-id <public client> --login-command "node <dir>/login.mjs"`.
fn auth_code(server: &ThirdPartyAs, dpop: bool) -> SourceArgs {
    let command = server
        .login_command()
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    SourceArgs {
        auth_code: true,
        client_id: Some(PUBLIC_CLIENT_ID.into()),
        login_command: Some(command),
        login_timeout: Some(60),
        dpop,
        ..SourceArgs::default()
    }
}

/// Runs the selection against a reference server with `faults` trusting `server`.
async fn run(
    server: &ThirdPartyAs,
    faults: &[Fault],
    dpop: bool,
    selection: &Selection,
) -> (Calibration, Verdicts) {
    let mut config = Config::discover(server.issuer()).with_faults(faults.iter().copied());
    if dpop {
        config.dpop = reference_server::DpopMode::Optional;
    }
    let reference = ReferenceServer::start(config)
        .await
        .unwrap_or_else(|e| panic!("reference server: {e}"));
    let ctx = context_from(
        &reference.mcp_url(),
        TokenSupply::Planned(Box::new(auth_code(server, dpop))),
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

fn only(check: &str) -> Selection {
    Selection {
        include: vec![Glob::new(check)],
        skip: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_login_pages_give_a_token_and_a_fault_is_caught() {
    let Some(server) = start() else { return };
    let started = Instant::now();
    let (calibration, verdicts) = run(&server, &[], false, &Selection::default()).await;
    assert!(
        matches!(calibration, Calibration::Issued(_)),
        "{}\n{}",
        calibration.describe(),
        server.stderr()
    );
    assert!(bad(&verdicts).is_empty(), "{}", bad(&verdicts));
    assert_eq!(
        verdicts["rs.token.bearer-valid"].0,
        Verdict::Pass,
        "{:?}",
        verdicts["rs.token.bearer-valid"]
    );
    let ran = verdicts
        .values()
        .filter(|(v, _)| *v != Verdict::NotEvaluated)
        .count();
    eprintln!(
        "oidc-provider, --auth-code: {ran} of {} checks ran in {:.1} s",
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );

    let (_, verdicts) = run(
        &server,
        &[Fault::AcceptAlgNone],
        false,
        &only("rs.token.alg-none"),
    )
    .await;
    assert_eq!(
        verdicts["rs.token.alg-none"].0,
        Verdict::Fail,
        "{:?}",
        verdicts["rs.token.alg-none"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_binds_an_auth_code_token_to_the_tools_dpop_key() {
    let Some(server) = start() else { return };
    let (calibration, verdicts) = run(&server, &[], true, &only("rs.dpop.*")).await;
    match &calibration {
        Calibration::Issued(i) => assert!(i.bound_accepted, "{}", calibration.describe()),
        other => panic!("{}\n{}", other.describe(), server.stderr()),
    }
    assert!(bad(&verdicts).is_empty(), "{}", bad(&verdicts));
    let (_, verdicts) = run(
        &server,
        &[Fault::DpopIgnoreHtm],
        true,
        &only("rs.dpop.htm-mismatch"),
    )
    .await;
    assert_eq!(
        verdicts["rs.dpop.htm-mismatch"].0,
        Verdict::Fail,
        "{:?}",
        verdicts["rs.dpop.htm-mismatch"]
    );
}
