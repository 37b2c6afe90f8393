//! Deployed servers with their own authorization server (issue 13): the run takes real tokens
//! from a token source — here the embedded mock IdP playing a real AS the tool holds no key
//! of (client credentials over its token endpoint, a token command) — and derives the attack
//! stimuli from them. Every check whose needs the source does not meet is NotEvaluated by the
//! runner, naming what would enable it; no check decides that itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mock_idp::server::{
    CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, Client, IdpConfig, IssuerKind, MockIdp,
    PUBLIC_CLIENT_ID,
};
use reference_server::Fault;
use suite::engine::accepted::Calibration;
use suite::engine::applicability::MINT_HINT;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{Embedded, TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::{SpecVersion, Verdict};
use suite::source::setup::SourceArgs;

/// A second client of the mock IdP (same secret as the first, for one secret file).
const SECOND_CLIENT_ID: &str = "authspec-second-principal";

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

/// The messages the runner gives a check whose needs the source does not meet.
const RUNNER_HINTS: [&str; 6] = [
    MINT_HINT,
    "add --dpop",
    "opaque one",
    "issued a JWT",
    "--second-token-env",
    "--other-resource",
];

fn secret_file() -> tempfile_path::Path {
    tempfile_path::Path::with(CONFIDENTIAL_CLIENT_SECRET)
}

/// A file removed on drop (no extra crate for one temporary file).
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);
    impl Path {
        pub fn with(content: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "mcp-authspec-test-{}-{}",
                std::process::id(),
                mock_idp::random_b64url(8)
            ));
            std::fs::write(&path, content).unwrap();
            Self(path)
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn client_credentials(secret: &tempfile_path::Path, dpop: bool) -> SourceArgs {
    SourceArgs {
        client_credentials: true,
        client_id: Some(CONFIDENTIAL_CLIENT_ID.into()),
        client_secret_file: Some(secret.0.clone()),
        dpop,
        ..SourceArgs::default()
    }
}

/// Runs the selected checks against a reference server with `faults` that trusts the mock
/// IdP, with tokens only from `source` (the run mints nothing).
async fn run(
    faults: &BTreeSet<Fault>,
    source: SourceArgs,
    selection: &Selection,
) -> (Calibration, Verdicts) {
    run_in(SpecVersion::NEWEST, faults, source, selection).await
}

/// [`run`] holding the target to `version` of the MCP specification.
async fn run_in(
    version: SpecVersion,
    faults: &BTreeSet<Fault>,
    source: SourceArgs,
    selection: &Selection,
) -> (Calibration, Verdicts) {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    // A second confidential client: its client-credentials tokens name another subject.
    idp.register_client(
        IssuerKind::Trusted,
        Client::confidential(SECOND_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, &[]),
    );
    let env = Embedded::start_with(idp, faults).await.unwrap();
    let mut ctx = context_from(
        &env.server.mcp_url(),
        TokenSupply::Planned(Box::new(source)),
        &TokenDefaults::default(),
        None,
        Some(env.canary()),
        Limits::default(),
    )
    .await
    .unwrap();
    assert!(ctx.idp.is_none(), "nothing may be minted in this mode");
    ctx.spec_version = version;
    let results = run_checks(&ctx, selection, RunOptions::default(), |_, _| {}).await;
    let verdicts = results
        .into_iter()
        .map(|(m, o)| (m.id, (o.verdict, o.message)))
        .collect();
    (ctx.calibration.clone(), verdicts)
}

fn listing(verdicts: &Verdicts, filter: impl Fn(Verdict) -> bool) -> String {
    verdicts
        .iter()
        .filter(|(_, (v, _))| filter(*v))
        .map(|(id, (v, m))| format!("{id}: {v:?} {m}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_run_is_clean_on_a_compliant_server_and_needs_are_data() {
    let secret = secret_file();
    let (calibration, verdicts) = run(
        &BTreeSet::new(),
        client_credentials(&secret, false),
        &Selection::default(),
    )
    .await;
    assert!(
        matches!(calibration, Calibration::Issued(_)),
        "{}",
        calibration.describe()
    );
    let wrong = listing(&verdicts, |v| matches!(v, Verdict::Fail | Verdict::Error));
    assert!(wrong.is_empty(), "false verdicts in issued mode:\n{wrong}");
    // Every NotEvaluated comes from the runner's reading of needs, not from a check.
    let undeclared: String = verdicts
        .iter()
        .filter(|(_, (v, m))| {
            *v == Verdict::NotEvaluated && !RUNNER_HINTS.iter().any(|h| m.contains(h))
        })
        .map(|(id, (_, m))| format!("{id}: {m}\n"))
        .collect();
    assert!(
        undeclared.is_empty(),
        "checks deciding applicability themselves (declare their needs):\n{undeclared}"
    );
    for derived in [
        "rs.token.alg-none",
        "rs.token.null-signature",
        "rs.token.broken-signature",
        "rs.token.hs256-public-key",
        "rs.token.embedded-jwk",
        "rs.token.jku-spoof",
        "rs.token.hs384-hs512-public-key",
        "rs.token.iss-rogue",
        "rs.token.iss-key-mismatch",
        "rs.token.bearer-valid",
    ] {
        assert_eq!(
            verdicts[derived].0,
            Verdict::Pass,
            "{derived}: {:?}",
            verdicts[derived]
        );
    }
    let ran = verdicts
        .values()
        .filter(|(v, _)| *v != Verdict::NotEvaluated)
        .count();
    println!(
        "client credentials: {ran} of {} checks ran; not evaluated:\n{}",
        verdicts.len(),
        listing(&verdicts, |v| v == Verdict::NotEvaluated)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_stimuli_catch_the_signature_faults_through_a_real_token() {
    let secret = secret_file();
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
    for (fault, check) in cases {
        let faults: BTreeSet<Fault> = [fault.parse().unwrap()].into();
        let selection = Selection {
            include: vec![Glob::new(check)],
            skip: vec![],
        };
        let (_, verdicts) = run(&faults, client_credentials(&secret, false), &selection).await;
        assert_eq!(
            verdicts[check].0,
            Verdict::Fail,
            "{fault} not caught by {check}: {}",
            verdicts[check].1
        );
    }
}

/// The cross-user session check runs with two principals from the AS (two clients' client
/// credentials tokens, whose `sub` differ): it passes on the compliant server and catches
/// `session-not-bound` (a SHOULD: Warn); without a second principal the runner names the flags; a second
/// principal with the same subject is one clear Error, not a false Fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_principal_runs_the_cross_user_session_check() {
    let secret = secret_file();
    let check = "rs.session.cross-user";
    // The versions whose sessions the requirement binds (MCP Security Best Practices).
    const SESSIONS: SpecVersion = SpecVersion::V2025_11_25;
    let selection = Selection {
        include: vec![Glob::new(check)],
        skip: vec![],
    };
    let two = |second_client: &str| SourceArgs {
        second_client_id: Some(second_client.into()),
        second_client_secret_file: Some(secret.0.clone()),
        ..client_credentials(&secret, false)
    };
    let (_, clean) = run_in(
        SESSIONS,
        &BTreeSet::new(),
        two(SECOND_CLIENT_ID),
        &selection,
    )
    .await;
    assert_eq!(clean[check].0, Verdict::Pass, "{:?}", clean[check]);
    let faults: BTreeSet<Fault> = ["session-not-bound".parse().unwrap()].into();
    let (_, broken) = run_in(SESSIONS, &faults, two(SECOND_CLIENT_ID), &selection).await;
    // A SHOULD of MCP's Security Best Practices: the unbound session warns.
    assert_eq!(broken[check].0, Verdict::Warn, "{:?}", broken[check]);
    let (_, alone) = run_in(
        SESSIONS,
        &faults,
        client_credentials(&secret, false),
        &selection,
    )
    .await;
    assert_eq!(alone[check].0, Verdict::NotEvaluated, "{:?}", alone[check]);
    assert!(
        alone[check].1.contains("--second-client-id"),
        "{}",
        alone[check].1
    );
    let (_, same) = run_in(SESSIONS, &faults, two(CONFIDENTIAL_CLIENT_ID), &selection).await;
    assert_eq!(same[check].0, Verdict::Error, "{:?}", same[check]);
    assert!(
        same[check].1.contains("both name the subject"),
        "{}",
        same[check].1
    );
}

/// `--other-resource`: the same grant's token for another resource reaches the target as
/// rs.token.aud-wrong's stimulus: refused by the compliant server, accepted under `ignore-aud`;
/// without the flag the runner names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_token_for_another_resource_is_the_wrong_audience_stimulus() {
    let secret = secret_file();
    let check = "rs.token.aud-wrong";
    let selection = Selection {
        include: vec![Glob::new(check)],
        skip: vec![],
    };
    let other = || SourceArgs {
        other_resource: Some("https://other-mcp.test/mcp".into()),
        ..client_credentials(&secret, false)
    };
    let (_, clean) = run(&BTreeSet::new(), other(), &selection).await;
    assert_eq!(clean[check].0, Verdict::Pass, "{:?}", clean[check]);
    let faults: BTreeSet<Fault> = ["ignore-aud".parse().unwrap()].into();
    let (_, broken) = run(&faults, other(), &selection).await;
    assert_eq!(broken[check].0, Verdict::Fail, "{:?}", broken[check]);
    let (_, without) = run(&faults, client_credentials(&secret, false), &selection).await;
    assert_eq!(
        without[check].0,
        Verdict::NotEvaluated,
        "{:?}",
        without[check]
    );
    assert!(
        without[check].1.contains("--other-resource"),
        "{}",
        without[check].1
    );
}

/// RFC 8628 end to end: the tool asks the mock IdP's device authorization endpoint for a code,
/// polls its token endpoint as a public client until the (auto-approving) user approves, and
/// the derived stimuli reach the target through the token it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_grant_is_a_source_and_its_token_carries_the_derived_stimuli() {
    let device = || SourceArgs {
        device_code: true,
        client_id: Some(PUBLIC_CLIENT_ID.into()),
        ..SourceArgs::default()
    };
    let selection = Selection {
        include: vec![
            Glob::new("rs.token.alg-none"),
            Glob::new("rs.token.bearer-valid"),
        ],
        skip: vec![],
    };
    let (calibration, clean) = run(&BTreeSet::new(), device(), &selection).await;
    assert!(
        matches!(calibration, Calibration::Issued(_)),
        "{}",
        calibration.describe()
    );
    for check in ["rs.token.alg-none", "rs.token.bearer-valid"] {
        assert_eq!(clean[check].0, Verdict::Pass, "{check}: {:?}", clean[check]);
    }
    let faults: BTreeSet<Fault> = ["accept-alg-none".parse().unwrap()].into();
    let (_, broken) = run(&faults, device(), &selection).await;
    assert_eq!(
        broken["rs.token.alg-none"].0,
        Verdict::Fail,
        "accept-alg-none not caught through a device-code token: {}",
        broken["rs.token.alg-none"].1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_is_a_source_and_its_failure_is_one_clear_error() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let env = Embedded::start_with(idp.clone(), &BTreeSet::new())
        .await
        .unwrap();
    let token = idp.mint(&idp.valid_token_spec(&env.server.mcp_url(), &idp.config().default_scope));
    let file = tempfile_path::Path::with(&token);
    let source = SourceArgs {
        token_command: Some(format!("cat '{}'", file.0.display())),
        ..SourceArgs::default()
    };
    let selection = Selection {
        include: vec![Glob::new("rs.token.*")],
        skip: vec![],
    };
    let ctx = context_from(
        &env.server.mcp_url(),
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
    let results = run_checks(&ctx, &selection, RunOptions::default(), |_, _| {}).await;
    let alg_none = results
        .iter()
        .find(|(m, _)| m.id == "rs.token.alg-none")
        .unwrap();
    assert_eq!(alg_none.1.verdict, Verdict::Pass, "{}", alg_none.1.message);

    // A failing command: every token check NotEvaluated, one Error saying why.
    let failing = SourceArgs {
        token_command: Some("echo 'login required' >&2; exit 7".into()),
        ..SourceArgs::default()
    };
    let ctx = context_from(
        &env.server.mcp_url(),
        TokenSupply::Planned(Box::new(failing)),
        &TokenDefaults::default(),
        None,
        None,
        Limits::default(),
    )
    .await
    .unwrap();
    let results = run_checks(&ctx, &selection, RunOptions::default(), |_, _| {}).await;
    let errors: Vec<_> = results
        .iter()
        .filter(|(_, o)| o.verdict == Verdict::Error)
        .collect();
    assert_eq!(errors.len(), 1, "one Error, at the positive control's row");
    assert!(
        errors[0].1.message.contains("exit status: 7"),
        "{}",
        errors[0].1.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_tokens_from_the_authorization_server_run_the_proof_checks() {
    let secret = secret_file();
    let selection = Selection {
        include: vec![Glob::new("rs.dpop.*")],
        skip: vec![],
    };
    let (calibration, verdicts) = run(
        &BTreeSet::new(),
        client_credentials(&secret, true),
        &selection,
    )
    .await;
    match &calibration {
        Calibration::Issued(i) => assert!(i.bound_accepted, "{}", calibration.describe()),
        other => panic!("{}", other.describe()),
    }
    let wrong = listing(&verdicts, |v| matches!(v, Verdict::Fail | Verdict::Error));
    assert!(wrong.is_empty(), "false verdicts:\n{wrong}");
    let ran = verdicts
        .values()
        .filter(|(v, _)| *v == Verdict::Pass)
        .count();
    assert!(
        ran >= 20,
        "only {ran} DPoP checks passed:\n{}",
        listing(&verdicts, |_| true)
    );
    for (fault, check) in [
        ("dpop-skip-signature", "rs.dpop.alg-none"),
        ("dpop-ignore-htm", "rs.dpop.htm-mismatch"),
    ] {
        let faults: BTreeSet<Fault> = [fault.parse().unwrap()].into();
        let (_, verdicts) = run(&faults, client_credentials(&secret, true), &selection).await;
        assert_eq!(
            verdicts[check].0,
            Verdict::Fail,
            "{fault} not caught by {check}: {}",
            verdicts[check].1
        );
    }
}
