//! The `as.*` catalogue proven both ways on the mock IdP (design rule 4): every check passes
//! against the compliant mock IdP; under every fault a check lists in `broken_by` it fails
//! (at its level: Fail for a MUST, Warn for a SHOULD); every fault profile breaks at least one
//! check, and only checks that list it (the isolation matrix).

use std::collections::{BTreeMap, BTreeSet};

use mock_idp::server::{AsFault, IdpConfig, MockIdp, PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS};
use suite::engine::authorization_server::{AsClient, AsContext};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::run_as_checks;
use suite::http::{Driver, Limits};
use suite::model::{Level, Verdict};

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

async fn run_against(faults: BTreeSet<AsFault>) -> Verdicts {
    let idp = MockIdp::start(IdpConfig {
        faults,
        // DPoP nonces demanded at the token endpoint, so as.dpop.nonce has nonces to judge
        // (only requests with a DPoP proof are concerned).
        require_dpop_nonce: true,
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let driver = Driver::new(Limits::default()).unwrap();
    let mut ctx = AsContext::discover(driver, idp.issuer(), None).await;
    ctx.client = Some(AsClient {
        client_id: PUBLIC_CLIENT_ID.to_owned(),
        redirect_uri: PUBLIC_REDIRECT_URIS[0].to_owned(),
    });
    run_as_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await
    .into_iter()
    .map(|(m, o)| (m.id, (o.verdict, o.message)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_as_check_passes_on_the_compliant_mock_idp_and_fails_under_its_faults() {
    let metas: Vec<_> = suite::catalog::authorization_server_checks()
        .into_iter()
        .map(|c| c.meta)
        .collect();
    assert!(metas.len() >= 13, "{} as.* checks", metas.len());
    let compliant = run_against(BTreeSet::new()).await;
    for meta in &metas {
        assert!(meta.id.starts_with("as."), "{}", meta.id);
        assert!(!meta.broken_by.is_empty(), "{} names no fault", meta.id);
        let (verdict, message) = &compliant[meta.id];
        assert_eq!(
            *verdict,
            Verdict::Pass,
            "{} on the compliant IdP: {message}",
            meta.id
        );
    }
    let mut broken_somewhere: BTreeSet<&str> = BTreeSet::new();
    for fault in AsFault::ALL {
        let verdicts = run_against([*fault].into()).await;
        for meta in &metas {
            let (verdict, message) = &verdicts[meta.id];
            if meta.broken_by.contains(&fault.name()) {
                let due = match meta.level {
                    Level::Must => Verdict::Fail,
                    Level::Should => Verdict::Warn,
                    // A recorded behaviour: reported, never failing.
                    _ => Verdict::Info,
                };
                assert_eq!(
                    *verdict,
                    due,
                    "{fault} should break {} ({}): {message}",
                    meta.id,
                    meta.level.as_str()
                );
                assert!(!message.is_empty());
                broken_somewhere.insert(fault.name());
            } else {
                // Isolation: a fault breaks only the checks that list it. A fault that hides
                // every document leaves the other rows nothing to read (Error) or to compare
                // (Skip).
                let unreadable = *fault == AsFault::NoMetadata
                    && matches!(verdict, Verdict::Error | Verdict::Skip);
                assert!(
                    *verdict == Verdict::Pass || unreadable,
                    "{fault} changed {} to {verdict:?} without listing it: {message}",
                    meta.id
                );
            }
        }
    }
    for fault in AsFault::ALL {
        assert!(
            broken_somewhere.contains(fault.name()),
            "{fault} breaks no as.* check"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_authorization_server_gives_errors_not_verdicts() {
    let driver = Driver::new(Limits::default()).unwrap();
    // A loopback port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = AsContext::discover(driver, &format!("http://127.0.0.1:{port}/tenant"), None).await;
    let results = run_as_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await;
    for (meta, outcome) in results {
        assert_ne!(
            outcome.verdict,
            Verdict::Pass,
            "{}: {}",
            meta.id,
            outcome.message
        );
        assert!(!outcome.message.is_empty());
    }
}
