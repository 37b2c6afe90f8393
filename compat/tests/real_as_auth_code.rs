//! `--auth-code` against a third-party authorization server (issue 13): oidc-provider on
//! loopback issues the tokens through its own login pages, driven by its login command
//! (`node login.mjs`, given the authorization URL by the tool); the tool's loopback listener
//! receives the code. The checks run on the real token, and a reference-server fault is
//! caught through it. The tool holds no key of this authorization server.

use std::time::Instant;

use compat::authorization_server::{PUBLIC_CLIENT_ID, ThirdPartyAs};
use suite::engine::accepted::Calibration;
use suite::engine::select::Selection;
use suite::model::Verdict;
use suite::source::setup::SourceArgs;

mod real_as;
use real_as::{assert_caught, bad, only, ran, run, start};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_login_pages_give_a_token_and_a_fault_is_caught() {
    let Some(server) = start() else { return };
    let started = Instant::now();
    let (calibration, verdicts) = run(
        server.issuer(),
        &[],
        auth_code(&server, false),
        &Selection::default(),
    )
    .await;
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
    eprintln!(
        "oidc-provider, --auth-code: {} of {} checks ran in {:.1} s",
        ran(&verdicts),
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );

    assert_caught(
        server.issuer(),
        || auth_code(&server, false),
        &[("accept-alg-none", "rs.token.alg-none")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_binds_an_auth_code_token_to_the_tools_dpop_key() {
    let Some(server) = start() else { return };
    let (calibration, verdicts) = run(
        server.issuer(),
        &[],
        auth_code(&server, true),
        &only("rs.dpop.*"),
    )
    .await;
    match &calibration {
        Calibration::Issued(i) => assert!(i.bound_accepted, "{}", calibration.describe()),
        other => panic!("{}\n{}", other.describe(), server.stderr()),
    }
    assert!(bad(&verdicts).is_empty(), "{}", bad(&verdicts));
    assert_caught(
        server.issuer(),
        || auth_code(&server, true),
        &[("dpop-ignore-htm", "rs.dpop.htm-mismatch")],
    )
    .await;
}
