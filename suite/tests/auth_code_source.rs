//! `--auth-code` (issue 13): the authorization code grant with PKCE against the mock IdP acting
//! as the target's real authorization server (the tool mints nothing), the login driven by a
//! `--login-command` that follows the authorization URL with curl to the tool's loopback
//! listener. The run gets a token and its checks run; a reference-server fault is caught
//! through the token; a forged state, an error redirect and a failing login command each end
//! in one clear error, never a panic or a hang; and the binary's outputs (stdout, stderr,
//! every report file) never show the authorization code.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_idp::server::{IdpConfig, MockIdp, PUBLIC_CLIENT_ID};
use reference_server::Fault;
use suite::engine::accepted::Calibration;
use suite::engine::context::Context;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{Embedded, TokenDefaults, TokenSupply, context_from, run_checks};
use suite::http::Limits;
use suite::model::Verdict;
use suite::source::setup::{AuthorizationServer, SourceArgs, TargetFacts};

type Verdicts = BTreeMap<&'static str, (Verdict, String)>;

/// No run here may take longer (a hang is a failure, not a stuck CI job).
const BOUND: Duration = Duration::from_secs(180);

/// A fresh path in the temporary folder.
fn temp_path(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "mcp-authspec-{what}-{}-{}",
        std::process::id(),
        mock_idp::random_b64url(8)
    ))
}

/// A login script in a temporary file, removed on drop; run as `sh <file> <url>`.
struct Script(std::path::PathBuf);

impl Script {
    fn new(body: &str) -> Self {
        let path = temp_path("login");
        std::fs::write(&path, body).unwrap();
        Self(path)
    }

    fn command(&self) -> String {
        format!("sh '{}'", self.0.display())
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn have_curl() -> bool {
    let found = std::process::Command::new("curl")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI: curl is needed by the login commands of these tests"
        );
        eprintln!("note: skipped: curl is not installed");
    }
    found
}

/// Follows the authorization URL (the last argument) through the redirect to the listener.
const FOLLOW: &str = "curl -sf -o /dev/null -L";

fn auth_code(login_command: &str, dpop: bool) -> SourceArgs {
    SourceArgs {
        auth_code: true,
        client_id: Some(PUBLIC_CLIENT_ID.into()),
        login_command: Some(login_command.to_owned()),
        login_timeout: Some(60),
        dpop,
        ..SourceArgs::default()
    }
}

/// The context of a run against a reference server with `faults` trusting the mock IdP, with
/// tokens only from `source`.
async fn context(faults: &BTreeSet<Fault>, source: SourceArgs) -> (Context, Embedded) {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let env = Embedded::start_with(idp, faults).await.unwrap();
    let ctx = tokio::time::timeout(
        BOUND,
        context_from(
            &env.server.mcp_url(),
            TokenSupply::Planned(Box::new(source)),
            &TokenDefaults::default(),
            None,
            Some(env.canary()),
            Limits::default(),
        ),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert!(ctx.idp.is_none(), "nothing may be minted in this mode");
    (ctx, env)
}

async fn verdicts(ctx: &Context, selection: &Selection) -> Verdicts {
    let results = tokio::time::timeout(
        BOUND,
        run_checks(ctx, selection, RunOptions::default(), |_, _| {}),
    )
    .await
    .expect("no hang");
    results
        .into_iter()
        .map(|(m, o)| (m.id, (o.verdict, o.message)))
        .collect()
}

fn only(glob: &str) -> Selection {
    Selection {
        include: vec![Glob::new(glob)],
        skip: vec![],
    }
}

fn listing(verdicts: &Verdicts, filter: impl Fn(Verdict) -> bool) -> String {
    verdicts
        .iter()
        .filter(|(_, (v, _))| filter(*v))
        .map(|(id, (v, m))| format!("{id}: {v:?} {m}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_command_gets_a_token_the_checks_run_and_renewal_uses_the_refresh_token() {
    if !have_curl() {
        return;
    }
    let count = temp_path("logins");
    let script = Script::new(&format!(
        "echo login >> '{}'\nexec {FOLLOW} \"$1\"\n",
        count.display()
    ));
    let started = Instant::now();
    let (ctx, _env) = context(&BTreeSet::new(), auth_code(&script.command(), false)).await;
    assert!(
        matches!(ctx.calibration, Calibration::Issued(_)),
        "{}",
        ctx.calibration.describe()
    );
    let issued = ctx.issued.as_ref().unwrap();
    assert!(
        issued.describe().contains("authorization code + PKCE"),
        "{}",
        issued.describe()
    );
    let results = verdicts(&ctx, &Selection::default()).await;
    let wrong = listing(&results, |v| matches!(v, Verdict::Fail | Verdict::Error));
    assert!(
        wrong.is_empty(),
        "false verdicts through --auth-code:\n{wrong}"
    );
    for check in [
        "rs.token.bearer-valid",
        "rs.token.alg-none",
        "rs.token.hs256-public-key",
    ] {
        assert_eq!(
            results[check].0,
            Verdict::Pass,
            "{check}: {:?}",
            results[check]
        );
    }
    let ran = results
        .values()
        .filter(|(v, _)| *v != Verdict::NotEvaluated)
        .count();
    eprintln!(
        "--auth-code: {ran} of {} checks ran in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );

    // A token that is due is renewed with the refresh token: no second login.
    let source = issued.bearer.as_ref().unwrap();
    let first = source.current().unwrap();
    let exp = first.expires_at.expect("a JWT with exp");
    let renewed = source.ensure_fresh(exp - 1).await.unwrap();
    assert_ne!(renewed.token, first.token, "the token was not renewed");
    let logins = std::fs::read_to_string(&count).unwrap_or_default();
    let _ = std::fs::remove_file(&count);
    assert_eq!(
        logins.lines().count(),
        1,
        "renewal logged in again instead of using the refresh token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_is_caught_through_an_auth_code_token() {
    if !have_curl() {
        return;
    }
    let faults: BTreeSet<Fault> = [Fault::AcceptAlgNone].into();
    let (ctx, _env) = context(&faults, auth_code(FOLLOW, false)).await;
    let results = verdicts(&ctx, &only("rs.token.alg-none")).await;
    assert_eq!(
        results["rs.token.alg-none"].0,
        Verdict::Fail,
        "{:?}",
        results["rs.token.alg-none"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dpop_the_code_is_redeemed_for_a_bound_token_and_the_proof_checks_run() {
    if !have_curl() {
        return;
    }
    let (ctx, _env) = context(&BTreeSet::new(), auth_code(FOLLOW, true)).await;
    match &ctx.calibration {
        Calibration::Issued(i) => assert!(i.bound_accepted, "{}", ctx.calibration.describe()),
        other => panic!("{}", other.describe()),
    }
    let results = verdicts(&ctx, &only("rs.dpop.*")).await;
    let wrong = listing(&results, |v| matches!(v, Verdict::Fail | Verdict::Error));
    assert!(wrong.is_empty(), "false verdicts:\n{wrong}");
    let passed = results
        .values()
        .filter(|(v, _)| *v == Verdict::Pass)
        .count();
    assert!(passed >= 20, "{}", listing(&results, |_| true));
}

/// The one Error a run whose login fails gives, at the positive control's row.
async fn login_error(login_command: &str) -> String {
    let (ctx, _env) = context(&BTreeSet::new(), auth_code(login_command, false)).await;
    let results = verdicts(&ctx, &only("rs.token.*")).await;
    let errors: Vec<_> = results
        .iter()
        .filter(|(_, (v, _))| *v == Verdict::Error)
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one Error, at the positive control's row:\n{}",
        listing(&results, |_| true)
    );
    errors[0].1.1.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_state_an_error_redirect_and_a_failing_command_are_clear_errors() {
    if !have_curl() {
        return;
    }
    // The redirect delivered with another state than the request's.
    let forged = Script::new(
        "loc=$(curl -s -o /dev/null -w '%{redirect_url}' \"$1\") || exit 1\n\
         curl -s -o /dev/null \"$(printf '%s' \"$loc\" | sed 's/state=[^&]*/state=forged/')\"\n",
    );
    let message = login_error(&forged.command()).await;
    assert!(message.contains("state mismatch"), "{message}");

    // The authorization server refuses the request and says so at the redirect URI.
    let refused = Script::new(&format!(
        "{FOLLOW} \"$(printf '%s' \"$1\" | sed 's/response_type=code/response_type=token/')\"\n"
    ));
    let message = login_error(&refused.command()).await;
    assert!(
        message.contains("error=unsupported_response_type"),
        "{message}"
    );

    // A login command that fails without reaching the redirect.
    let started = Instant::now();
    let message = login_error("echo 'cannot log in' >&2; false").await;
    assert!(message.contains("exit status: 1"), "{message}");
    assert!(message.contains("--login-command"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");
}

#[tokio::test]
async fn one_source_at_a_time_and_the_login_page_must_be_the_named_authorization_server() {
    let key: &'static mock_idp::keys::SigningKey = Box::leak(Box::new(
        mock_idp::keys::SigningKey::generate(mock_idp::alg::Algorithm::Es256).unwrap(),
    ));
    let target = |authorization_endpoint: &str| TargetFacts {
        endpoint: "https://mcp.example/mcp".into(),
        resource: "https://mcp.example/mcp".into(),
        scope_hint: None,
        authorization_server: Some(AuthorizationServer {
            issuer: "https://as.example".into(),
            token_endpoint: Some("https://as.example/token".into()),
            authorization_endpoint: Some(authorization_endpoint.into()),
            ..AuthorizationServer::default()
        }),
    };
    let two = SourceArgs {
        token_env: Some("T".into()),
        ..auth_code("true", false)
    };
    let err = two
        .resolve(&target("https://as.example/authorize"), None, key)
        .await
        .err()
        .expect("two sources refused");
    assert!(err.0.contains("name one token source"), "{err}");
    assert!(err.0.contains("--auth-code"), "{err}");
    let elsewhere = auth_code("true", false)
        .resolve(&target("https://login.evil.example/authorize"), None, key)
        .await
        .err()
        .expect("an authorization endpoint on another origin refused");
    assert!(
        elsewhere
            .0
            .contains("--allow-origin https://login.evil.example"),
        "{elsewhere}"
    );
    assert!(
        auth_code("true", true)
            .resolve(&target("https://as.example/authorize"), None, key)
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_never_shows_the_authorization_code_in_any_output() {
    if !have_curl() {
        return;
    }
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let env = Embedded::start_with(idp, &[Fault::AcceptAlgNone].into())
        .await
        .unwrap();
    let seen = temp_path("callback");
    // The login command keeps the redirect it followed (with the code) for this test only.
    let script = Script::new(&format!(
        "curl -sf -o /dev/null -L -w '%{{url_effective}}' \"$1\" >> '{}'\n",
        seen.display()
    ));
    let dir = temp_path("out");
    let out = tokio::time::timeout(
        BOUND,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
            .args(["run", "--target", &env.server.mcp_url()])
            .args(["--auth-code", "--client-id", PUBLIC_CLIENT_ID])
            .args([
                "--login-command",
                &script.command(),
                "--check",
                "rs.token.*",
            ])
            .arg("--out")
            .arg(&dir)
            .output(),
    )
    .await
    .expect("no hang")
    .unwrap();
    let callback = std::fs::read_to_string(&seen).unwrap_or_default();
    let _ = std::fs::remove_file(&seen);
    let code = url::Url::parse(callback.trim())
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "no code was delivered ({callback:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "accept-alg-none fails:\n{stdout}"
    );
    assert!(
        stdout.contains("Token source: ") && stdout.contains("authorization code + PKCE at"),
        "{stdout}"
    );
    let mut texts = vec![
        ("stdout".to_owned(), stdout),
        (
            "stderr".to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(texts.len() >= 6, "stdout, stderr and every report file");
    for (name, text) in texts {
        assert!(!text.contains(&code), "{name} shows the authorization code");
    }
}
