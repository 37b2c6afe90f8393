//! Proven both ways (design rule 4): every check passes against the compliant reference
//! server and fails — Fail or Warn as its level says — against each fault profile listed in
//! its `broken_by`; against `reject-everything` no token check passes. A check without a
//! fault that breaks it makes this test fail.

use std::collections::BTreeSet;
use std::sync::Arc;

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::Fault;
use suite::catalog;
use suite::check::Need;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{Embedded, TokenDefaults, context, run_checks};
use suite::http::Limits;
use suite::model::Verdict;

async fn run(
    idp: &Arc<MockIdp>,
    faults: &BTreeSet<Fault>,
    selection: &Selection,
) -> Vec<(&'static str, Verdict, String)> {
    let env = Embedded::start_with(idp.clone(), faults).await.unwrap();
    let ctx = context(
        &env.server.mcp_url(),
        Some(idp.clone()),
        &TokenDefaults::default(),
        Some(Embedded::step_up()),
        Some(env.canary()),
        Limits::default(),
    )
    .await
    .unwrap();
    let results = run_checks(&ctx, selection, RunOptions::default(), |_, _| {}).await;
    env.server.shutdown().await;
    results
        .into_iter()
        .map(|(m, o)| (m.id, o.verdict, format!("{} | {}", o.message, o.actual)))
        .collect()
}

fn faults(combo: &str) -> BTreeSet<Fault> {
    combo.split('+').map(|f| f.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_is_proven_both_ways() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let compliant = run(&idp, &BTreeSet::new(), &Selection::default()).await;
    assert_eq!(compliant.len(), catalog::all().len());
    for (id, verdict, detail) in &compliant {
        assert_eq!(
            *verdict,
            Verdict::Pass,
            "{id} on the compliant server: {detail}"
        );
    }
    for check in catalog::all() {
        let meta = check.meta;
        assert!(
            !meta.broken_by.is_empty(),
            "{} has no fault profile that breaks it",
            meta.id
        );
        let only = Selection {
            include: vec![Glob::new(meta.id)],
            skip: vec![],
        };
        for combo in meta.broken_by {
            let results = run(&idp, &faults(combo), &only).await;
            assert_eq!(results.len(), 1);
            let (_, verdict, detail) = &results[0];
            assert_eq!(
                *verdict,
                meta.level.broken_verdict(),
                "{} under {combo}: {detail}",
                meta.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_everything_passes_no_token_check() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let results = run(&idp, &faults("reject-everything"), &Selection::default()).await;
    let needs_tokens: BTreeSet<&str> = catalog::all()
        .iter()
        .filter(|c| c.meta.needs.contains(&Need::MintedToken))
        .map(|c| c.meta.id)
        .collect();
    assert!(!needs_tokens.is_empty());
    for (id, verdict, detail) in results {
        if needs_tokens.contains(id) {
            assert_ne!(
                verdict,
                Verdict::Pass,
                "{id} passed against reject-everything: {detail}"
            );
        }
    }
}
