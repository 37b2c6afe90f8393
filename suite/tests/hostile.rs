//! Targets that no real server would be: garbage bodies, missing headers, slow answers past the
//! deadline, huge bodies, redirects (wiremock). Each run finishes; the token checks end in
//! `Error` (their controls cannot hold), never in `Pass`, and nothing panics or hangs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mock_idp::server::{IdpConfig, MockIdp};
use suite::catalog;
use suite::check::Need;
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{TokenDefaults, context, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run_against(template: ResponseTemplate) -> BTreeMap<&'static str, Verdict> {
    let target = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&target)
        .await;
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        request_timeout: Duration::from_millis(400),
    };
    let endpoint = format!("{}/mcp", target.uri());
    let ctx = context(
        &endpoint,
        Some(idp),
        &TokenDefaults::default(),
        None,
        None,
        limits,
    )
    .await
    .unwrap();
    let options = RunOptions {
        concurrency: 8,
        check_deadline: Duration::from_secs(20),
        ..RunOptions::default()
    };
    let results = run_checks(&ctx, &Selection::default(), options, |_, _| {}).await;
    assert_eq!(results.len(), catalog::all().len(), "every check reports");
    results
        .into_iter()
        .map(|(m, o)| (m.id, o.verdict))
        .collect()
}

fn token_checks() -> Vec<&'static str> {
    catalog::all()
        .into_iter()
        .filter(|c| c.meta.needs.contains(&Need::MintedToken))
        .map(|c| c.meta.id)
        .collect()
}

fn assert_no_token_check_passes(verdicts: &BTreeMap<&'static str, Verdict>) {
    for id in token_checks() {
        let v = verdicts[id];
        assert!(
            matches!(v, Verdict::Error | Verdict::NotEvaluated | Verdict::Fail),
            "{id}: {v:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_bodies() {
    let v = run_against(ResponseTemplate::new(200).set_body_string("\u{0}\u{1}garbage{{{")).await;
    assert_no_token_check_passes(&v);
    // A 200 with garbage to an anonymous request is no challenge: a MUST broken.
    assert_eq!(v["rs.challenge.no-token"], Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_without_any_header() {
    let v = run_against(ResponseTemplate::new(401)).await;
    assert_no_token_check_passes(&v);
    assert_eq!(v["rs.challenge.no-token"], Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_slower_than_the_deadline() {
    let v = run_against(ResponseTemplate::new(401).set_delay(Duration::from_secs(2))).await;
    assert_no_token_check_passes(&v);
    assert_eq!(v["rs.challenge.no-token"], Verdict::Error);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_bodies_are_cut_not_swallowed() {
    let body = "x".repeat(4 * 1024 * 1024);
    let v = run_against(ResponseTemplate::new(200).set_body_string(body)).await;
    assert_no_token_check_passes(&v);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed() {
    let v = run_against(
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/login"),
    )
    .await;
    assert_no_token_check_passes(&v);
    assert_eq!(v["rs.challenge.no-token"], Verdict::Fail);
}
