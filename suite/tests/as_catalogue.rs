//! The `as.*` catalogue proven both ways on the mock IdP (design rule 4): every check passes
//! against the compliant mock IdP; under every fault a check lists in `broken_by` it fails
//! (at its level: Fail for a MUST, Warn for a SHOULD); every fault profile breaks at least one
//! check, and only checks that list it (the isolation matrix).
//!
//! The compliant mock IdP runs twice: approving at once, and in login mode (a login form and
//! a consent page, the built-in form driver logging in), where every row keeps its verdict and
//! the authorization-UI rows have pages to grade (approving at once, they find none: Skip).
//! The faults of those pages run in login mode, the others approving at once (the
//! authorization-endpoint rows read a refusal only before a login).

use std::collections::{BTreeMap, BTreeSet};

use mock_idp::server::{
    AsFault, IdpConfig, LoginConfig, MockIdp, PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS,
};
use suite::check::Need;
use suite::engine::authorization_server::{AsClient, AsContext};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::run_as_checks;
use suite::http::{Driver, Limits};
use suite::model::{Level, SpecVersion, Verdict};
use suite::source::auth_code::{Login, Secret};
use suite::source::login_form::FormLogin;

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

/// The rows about the login and consent pages, which need the mock IdP in login mode.
const UI_ROWS: [&str; 2] = ["as.authorize.clickjacking", "as.authorize.no-307"];

/// Of the faults that break authorization-endpoint rows (proven behind the mock IdP's login
/// page, so that a probe answered by a login step is followed through it), those proven with
/// the mock IdP approving at once: a redirect to a mutated or foreign redirect URI happens only
/// after the login, where the loopback listener standing in for the client cannot see it; and
/// a server refusing a loopback redirect URI's variable port refuses every login's listener,
/// whatever the row. Every other fault is proven approving at once (a login adds nothing to
/// what it breaks, only time).
const AT_ONCE_FAULTS: [AsFault; 5] = [
    AsFault::LoopbackPortFixed,
    AsFault::RedirectHttpAllowed,
    AsFault::RedirectPrefixMatch,
    AsFault::RedirectForUnknownClient,
    AsFault::RedirectDefaultOfSeveral,
];

/// The resource R of every run: the mock IdP lists it in protected_resources, as the
/// deployment of a resource server would configure it.
const RESOURCE: &str = "http://127.0.0.1:9/mcp";

/// How the code-expiry row is proven: codes living 2 s, redeemed after 3 s. Other runs leave
/// the wait unset (the row is NotEvaluated there), so only its own runs wait.
const CODE_LIFETIME_SECONDS: i64 = 2;
const CODE_EXPIRY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether a check waits for a code to expire (proven by its own test below).
fn waits(meta: &suite::check::CheckMeta) -> bool {
    meta.needs.contains(&Need::CodeExpiryWait)
}

/// The faults that leave the token exchange rows no valid subject token (see the isolation
/// matrix).
const SUBJECT_SPOILING_FAULTS: [AsFault; 2] = [AsFault::TokenAudDefault, AsFault::AtKeyUnpublished];

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

/// How the mock IdP meets a valid authorization request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// It approves at once (the default).
    AtOnce,
    /// A login form and a consent page, driven by the form driver.
    LoginForm,
}

async fn run_against(faults: BTreeSet<AsFault>, mode: Mode) -> Verdicts {
    run_selected(faults, mode, &Selection::default(), None).await
}

/// [`run_against`] for the checks `selection` selects, with `--code-expiry-wait` set to
/// `code_expiry_wait` (and codes living [`CODE_LIFETIME_SECONDS`] then).
async fn run_selected(
    faults: BTreeSet<AsFault>,
    mode: Mode,
    selection: &Selection,
    code_expiry_wait: Option<std::time::Duration>,
) -> Verdicts {
    let login = (mode == Mode::LoginForm).then(|| LoginConfig {
        username: USER.to_owned(),
        password: PASSWORD.to_owned(),
        consent: true,
    });
    let code_lifetime = match code_expiry_wait {
        Some(_) => CODE_LIFETIME_SECONDS,
        None => IdpConfig::default().code_lifetime,
    };
    let idp = MockIdp::start(IdpConfig {
        faults,
        login,
        // Fetches client ID metadata documents from the tool's listener (its test CA).
        cimd: suite::engine::listener::mock_idp_cimd(),
        // DPoP nonces demanded at the token endpoint, so as.dpop.nonce has nonces to judge
        // (only requests with a DPoP proof are concerned).
        require_dpop_nonce: true,
        protected_resources: vec![RESOURCE.to_owned()],
        code_lifetime,
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let driver = Driver::new(Limits::default()).unwrap();
    let mut ctx = AsContext::discover(driver, idp.issuer(), Some(RESOURCE.to_owned())).await;
    ctx.code_expiry_wait = code_expiry_wait;
    ctx.client = Some(AsClient {
        client_id: PUBLIC_CLIENT_ID.to_owned(),
        redirect_uri: PUBLIC_REDIRECT_URIS[0].to_owned(),
    });
    if mode == Mode::LoginForm {
        ctx.login = Some(Login {
            command: None,
            form: Some(FormLogin {
                user: USER.to_owned(),
                password: Secret::new(PASSWORD),
                user_field: None,
                password_field: None,
            }),
            redirect_port: 0,
            timeout: std::time::Duration::from_secs(30),
        });
    }
    run_as_checks(&ctx, selection, RunOptions::default(), |_, _| {})
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
    let at_once = run_against(BTreeSet::new(), Mode::AtOnce).await;
    for meta in &metas {
        let (verdict, message) = &at_once[meta.id];
        let due = if UI_ROWS.contains(&meta.id) {
            Verdict::Skip
        } else if waits(meta) {
            Verdict::NotEvaluated
        } else {
            Verdict::Pass
        };
        if waits(meta) {
            assert!(message.contains("--code-expiry-wait"), "{message}");
        }
        assert_eq!(*verdict, due, "{} approving at once: {message}", meta.id);
    }
    let compliant = run_against(BTreeSet::new(), Mode::LoginForm).await;
    for meta in &metas {
        assert!(meta.id.starts_with("as."), "{}", meta.id);
        assert!(!meta.broken_by.is_empty(), "{} names no fault", meta.id);
        let (verdict, message) = &compliant[meta.id];
        let due = if waits(meta) {
            Verdict::NotEvaluated
        } else {
            Verdict::Pass
        };
        assert_eq!(*verdict, due, "{} on the compliant IdP: {message}", meta.id);
    }
    let behind_login: BTreeSet<&str> = metas
        .iter()
        .filter(|m| m.id.starts_with("as.authorize."))
        .flat_map(|m| m.broken_by.iter().copied())
        .collect();
    let mut broken_somewhere: BTreeSet<&str> = BTreeSet::new();
    for fault in single_behaviour_faults() {
        let mode = if behind_login.contains(fault.name()) && !AT_ONCE_FAULTS.contains(fault) {
            Mode::LoginForm
        } else {
            Mode::AtOnce
        };
        let verdicts = run_against([*fault].into(), mode).await;
        for meta in &metas {
            let (verdict, message) = &verdicts[meta.id];
            if waits(meta) {
                assert_eq!(*verdict, Verdict::NotEvaluated, "{}: {message}", meta.id);
                continue;
            }
            if meta.broken_by.contains(&fault.name()) {
                // The level in force in this run (no profile declared, the newest version).
                let (level, _) = meta
                    .applies
                    .level_in_force(meta.level, SpecVersion::NEWEST, &[]);
                let due = match level {
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
                    level.as_str()
                );
                assert!(!message.is_empty());
                broken_somewhere.insert(fault.name());
            } else {
                // Isolation: a fault breaks only the checks that list it. A fault that hides
                // every document leaves the other rows nothing to read (Error) or to compare
                // (Skip).
                let unreadable = *fault == AsFault::NoMetadata
                    && matches!(verdict, Verdict::Error | Verdict::Skip);
                // A registration endpoint that wants an initial access token leaves the rows
                // that register a client nothing to register with (NotEvaluated).
                let closed =
                    *fault == AsFault::DcrInitialTokenRequired && *verdict == Verdict::NotEvaluated;
                // A server that does not advertise client ID metadata documents is not
                // offered them (as.metadata.cimd-flag grades that); one that advertises them
                // but never fetches fails the happy row, and leaves the others no positive
                // control (Error).
                let no_cimd = meta.id.starts_with("as.cimd.")
                    && matches!(
                        (fault, verdict),
                        (AsFault::CimdUnsupported, Verdict::Skip)
                            | (AsFault::CimdIgnored, Verdict::Error)
                    );
                let no_page =
                    mode == Mode::AtOnce && UI_ROWS.contains(&meta.id) && *verdict == Verdict::Skip;
                // A fault that spoils the user's access token (minted for the default audience
                // whatever the resource, or signed with a key the server cannot verify by)
                // leaves the token exchange rows no subject token to exchange: their positive
                // control fails (Error), as it would at such a server.
                let no_subject = SUBJECT_SPOILING_FAULTS.contains(fault)
                    && meta.id.starts_with("as.exchange.")
                    && *verdict == Verdict::Error;
                assert!(
                    *verdict == Verdict::Pass
                        || unreadable
                        || closed
                        || no_cimd
                        || no_page
                        || no_subject,
                    "{fault} changed {} to {verdict:?} without listing it: {message}",
                    meta.id
                );
            }
        }
    }
    // The waiting rows' faults are proven by their own test.
    let waiting: BTreeSet<&str> = metas
        .iter()
        .filter(|m| waits(m))
        .flat_map(|m| m.broken_by.iter().copied())
        .collect();
    for fault in single_behaviour_faults() {
        assert!(
            broken_somewhere.contains(fault.name()) || waiting.contains(fault.name()),
            "{fault} breaks no as.* check"
        );
    }
}

/// The rows that wait for a code to expire, run alone with short code lifetimes: each passes
/// on the compliant mock IdP and fails (at its level) under each fault it lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_expiry_rows_pass_when_codes_expire_and_fail_when_they_do_not() {
    let waiting: Vec<_> = suite::catalog::authorization_server_checks()
        .into_iter()
        .map(|c| c.meta)
        .filter(waits)
        .collect();
    assert!(!waiting.is_empty());
    for meta in waiting {
        let selection = Selection {
            include: vec![suite::engine::select::Glob::new(meta.id)],
            skip: Vec::new(),
        };
        let wait = Some(CODE_EXPIRY_WAIT);
        let compliant = run_selected(BTreeSet::new(), Mode::AtOnce, &selection, wait).await;
        let (verdict, message) = &compliant[meta.id];
        assert_eq!(*verdict, Verdict::Pass, "{}: {message}", meta.id);
        for name in meta.broken_by {
            let fault: AsFault = name.parse().unwrap();
            let verdicts = run_selected([fault].into(), Mode::AtOnce, &selection, wait).await;
            let (verdict, message) = &verdicts[meta.id];
            let due = match meta.level {
                Level::Must => Verdict::Fail,
                Level::Should => Verdict::Warn,
                _ => Verdict::Info,
            };
            assert_eq!(*verdict, due, "{fault} should break {}: {message}", meta.id);
        }
    }
}

/// The faults that each break one behaviour; `as-reject-everything` breaks the whole server
/// and has its own test below.
fn single_behaviour_faults() -> impl Iterator<Item = &'static AsFault> {
    AsFault::ALL
        .iter()
        .filter(|f| **f != AsFault::RejectEverything)
}

/// An authorization server that refuses every request gets no pass from any check that sends
/// requests as a client (no vacuous pass): each has a positive control, which fails and says
/// so. (Checks that send no client request, such as the CORS preflight or the removed grants,
/// ask for a refusal and rightly pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_everything_passes_no_client_check() {
    let verdicts = run_against([AsFault::RejectEverything].into(), Mode::AtOnce).await;
    let metas: Vec<_> = suite::catalog::authorization_server_checks()
        .into_iter()
        .map(|c| c.meta)
        .collect();
    let client_checks: Vec<_> = metas
        .iter()
        .filter(|m| m.needs.contains(&Need::AsClient))
        .collect();
    assert!(
        client_checks.len() >= 40,
        "{} client checks",
        client_checks.len()
    );
    let mut passed = Vec::new();
    for meta in client_checks {
        let (verdict, message) = &verdicts[meta.id];
        if *verdict == Verdict::Pass {
            passed.push(format!("{}: {message}", meta.id));
        }
    }
    assert!(
        passed.is_empty(),
        "passed against as-reject-everything:\n{}",
        passed.join("\n")
    );
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
