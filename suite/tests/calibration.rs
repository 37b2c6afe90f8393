//! Calibration finds before it judges (issue 12 item 1): a server whose validator takes only
//! RS256, or only EdDSA, runs to the same verdicts as one that takes ES256 (rows that attack
//! another algorithm's keys are Skip, saying so); a server that needs a scope the mock IdP did
//! not know gets tokens with it, from the token endpoint too; a server that accepts nothing
//! gets one Error that says what was tried, not one per check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mock_idp::alg::Algorithm;
use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::Fault;
use suite::engine::accepted::Calibration;
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{Embedded, TokenDefaults, context, run_checks};
use suite::http::Limits;
use suite::model::Verdict;

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

/// Runs the whole catalogue against a demo server adjusted by `adjust`; returns the
/// calibration and every verdict.
async fn run(
    idp: &Arc<MockIdp>,
    faults: &BTreeSet<Fault>,
    adjust: impl FnOnce(&mut reference_server::Config),
) -> (Calibration, Verdicts) {
    run_with(idp, faults, Some(Embedded::step_up()), adjust).await
}

/// As `run`, with the step-up tool the run is told about (`None`: as a deployed server
/// without --step-up-tool).
async fn run_with(
    idp: &Arc<MockIdp>,
    faults: &BTreeSet<Fault>,
    step_up: Option<suite::engine::context::StepUp>,
    adjust: impl FnOnce(&mut reference_server::Config),
) -> (Calibration, Verdicts) {
    let env = Embedded::start_adjusted(idp.clone(), faults, false, adjust)
        .await
        .unwrap();
    let mut ctx = context(
        &env.server.mcp_url(),
        Some(idp.clone()),
        &TokenDefaults::default(),
        step_up,
        Some(env.canary()),
        Limits::default(),
    )
    .await
    .unwrap();
    ctx.declare_profiles(&Embedded::profiles());
    let results = run_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await;
    env.server.shutdown().await;
    let verdicts = results
        .into_iter()
        .map(|(m, o)| (m.id, (o.verdict, o.message)))
        .collect();
    (ctx.calibration, verdicts)
}

fn found_alg(calibration: &Calibration) -> Algorithm {
    calibration
        .found()
        .unwrap_or_else(|| panic!("calibration found nothing: {}", calibration.describe()))
        .alg
}

/// Every check has the baseline's verdict, except rows that attack another algorithm's keys:
/// Skip, saying why. Returns those.
fn same_verdicts(baseline: &Verdicts, other: &Verdicts, alg: &str) -> Vec<&'static str> {
    assert_eq!(baseline.len(), other.len());
    let mut skipped = Vec::new();
    for (id, (verdict, message)) in other {
        let (expected, _) = &baseline[id];
        if verdict == expected {
            continue;
        }
        assert!(
            *expected == Verdict::Pass
                && *verdict == Verdict::Skip
                && message.contains("attacks keys of other algorithms"),
            "{id} against the {alg}-only server: {verdict:?} ({message}), {expected:?} against \
             the default"
        );
        skipped.push(*id);
    }
    skipped
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_takes_one_algorithm_runs_to_the_same_verdicts() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let none = BTreeSet::new();
    let (calibration, baseline) = run(&idp, &none, |_| {}).await;
    assert_eq!(found_alg(&calibration), Algorithm::Es256);
    assert!(
        baseline
            .values()
            .all(|(v, _)| matches!(v, Verdict::Pass | Verdict::Skip)),
        "{baseline:?}"
    );

    let (calibration, rs256) = run(&idp, &none, |c| c.allowed_algs = vec![Algorithm::Rs256]).await;
    assert_eq!(found_alg(&calibration), Algorithm::Rs256);
    assert_eq!(calibration.found().unwrap().algs, vec![Algorithm::Rs256]);
    let skipped = same_verdicts(&baseline, &rs256, "RS256");
    // The ECDSA rows attack EC keys only; every RSA and generic row ran.
    assert!(
        skipped.contains(&"rs.token.psychic-signature"),
        "{skipped:?}"
    );
    assert!(
        !skipped.contains(&"rs.token.hs256-public-key"),
        "{skipped:?}"
    );

    let (calibration, eddsa) = run(&idp, &none, |c| c.allowed_algs = vec![Algorithm::EdDsa]).await;
    assert_eq!(found_alg(&calibration), Algorithm::EdDsa);
    same_verdicts(&baseline, &eddsa, "EdDSA");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_the_idp_did_not_know_is_found_and_granted() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    assert!(
        !idp.config()
            .scopes_supported
            .iter()
            .any(|s| s == "mcp:tools")
    );
    let (calibration, verdicts) = run(&idp, &BTreeSet::new(), |c| {
        c.base_scope = "mcp:tools".into();
    })
    .await;
    let found = calibration.found().expect("a valid token");
    assert_eq!(found.scope, "mcp:tools");
    // The DPoP-bound token comes from the IdP's token endpoint, which now grants the scope.
    let (verdict, message) = &verdicts["rs.dpop.valid"];
    assert_eq!(*verdict, Verdict::Pass, "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_accepts_nothing_gets_one_error_saying_what_was_tried() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let faults: BTreeSet<Fault> = ["reject-everything".parse().unwrap()].into();
    let (calibration, verdicts) = run(&idp, &faults, |_| {}).await;
    let Calibration::Failed(failure) = &calibration else {
        panic!("calibration should fail: {}", calibration.describe());
    };
    // 2 typs × 1 audience (PRM resource = endpoint) × scopes × 5 algorithms.
    assert!(failure.tried.len() >= 10, "{:?}", failure.tried);
    let errors: Vec<_> = verdicts
        .iter()
        .filter(|(_, (v, _))| *v == Verdict::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (id, (_, message)) = errors[0];
    assert_eq!(*id, "rs.token.bearer-valid");
    assert!(
        message.contains("RS256") && message.contains("at+jwt"),
        "{message}"
    );
    let (verdict, message) = &verdicts["rs.token.aud-wrong"];
    assert_eq!(*verdict, Verdict::NotEvaluated, "{message}");
    assert!(message.contains("calibration"), "{message}");
}

/// Spec OQ-33: a server that requires its scope on every request (not per tool) gets the
/// seven scope checks through `initialize` with a valid token lacking that scope, with no
/// step-up tool named; answering it 401 invalid_token fails rs.scope.insufficient.
#[tokio::test(flavor = "multi_thread")]
async fn scope_checks_run_on_a_server_that_requires_its_scope_on_every_request() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let scope_ids = [
        "rs.scope.insufficient",
        "rs.scope.not-401",
        "rs.scope.single-challenge",
        "rs.scope.hierarchy",
        "rs.scope.order-dupes",
        "rs.scope.case",
        "rs.scope.format",
    ];
    let every_request = |faults: BTreeSet<Fault>| {
        let idp = idp.clone();
        async move {
            let (calibration, verdicts) = run_with(&idp, &faults, None, |c| {
                c.scope_on_every_request = true;
            })
            .await;
            (
                calibration.found().expect("a valid token").clone(),
                verdicts,
            )
        }
    };
    let (found, compliant) = every_request(BTreeSet::new()).await;
    assert!(found.scope_required, "{}", found.describe());
    for id in scope_ids {
        let (verdict, message) = &compliant[id];
        let expected = if id == "rs.scope.hierarchy" {
            // No hierarchy is declared for the target (OQ-28).
            Verdict::Skip
        } else {
            Verdict::Pass
        };
        assert_eq!(*verdict, expected, "{id}: {message}");
    }
    let (_, scope_401) = every_request(["scope-401".parse().unwrap()].into()).await;
    for id in ["rs.scope.insufficient", "rs.scope.not-401"] {
        let (verdict, message) = &scope_401[id];
        assert_eq!(*verdict, Verdict::Fail, "{id}: {message}");
    }
}
