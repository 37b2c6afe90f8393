//! Secrets never leak (issue: "a test runs a full demo with every sink on and searches every
//! output for every secret and token value used"). The whole catalogue runs in-process against
//! the embedded reference server with faults (so failures carry evidence), every sink renders
//! the run, and every output is searched for every credential the run sent (taken from the
//! unredacted evidence), the mock IdP's client secrets and its private keys. A second test
//! does the same through the binary with `--out`, looking for anything shaped like a JWT.
//!
//! Decoded JOSE headers and claims are shown beside fingerprints, so both tests also walk
//! every decoded credential in the report: no JWK in it (a DPoP proof's `jwk`, a forged
//! token's) may show a private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) — the
//! catalogue sends `rs.dpop.private-jwk`'s proof with `d` and `rs.dpop.alg-symmetric`'s with an
//! oct `k` — and the in-process run adds every such value it sent to the secrets it searches.

use std::collections::BTreeSet;
use std::sync::Arc;

use mock_idp::jws::{Jws, ParseOptions};
use mock_idp::server::{
    CONFIDENTIAL_CLIENT_SECRET, IdpConfig, IssuerKind, MockIdp, OPAQUE_CLIENT_SECRET,
    RESOURCE_SERVER_CLIENT_SECRET,
};
use reports::event::{Collector, Event, Fanout, RunEnd, RunInfo, Sink};
use reports::terminal::{StatusLevel, Terminal};
use serde_json::Value;
use suite::check::{CheckMeta, Outcome};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{Embedded, TokenDefaults, context, run_checks};
use suite::http::redact::{PRIVATE_JWK_MEMBERS, PRIVATE_MEMBER_REMOVED};
use suite::http::{Exchange, Limits};

/// Every credential a request carried, exactly as sent.
fn credentials_sent(e: &Exchange) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in &e.request.headers {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("dpop") {
            found.push(value.clone());
            if let Some((_, credential)) = value.split_once(' ') {
                found.push(credential.trim().to_owned());
            }
        }
    }
    if let Some((_, query)) = e.request.url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("access_token", token)) = pair.split_once('=') {
                found.push(token.to_owned());
            }
        }
    }
    found.retain(|s| s.len() >= 8);
    found
}

/// Calls `found(member, value)` for every private member of every JWK in `value`: an object
/// with a `kty`, the value of a `jwk` member, or an element of a `keys` array.
fn private_members(value: &Value, is_key: bool, found: &mut impl FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => {
            let is_key = is_key || map.contains_key("kty");
            for (name, v) in map {
                if is_key && PRIVATE_JWK_MEMBERS.contains(&name.as_str()) {
                    found(name, v);
                } else {
                    private_members(v, name == "jwk" || name == "keys", found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| private_members(v, is_key, found)),
        _ => {}
    }
}

/// Every private JWK member value in the decoded header and claims of the credentials a
/// request carried, as sent (before any redaction), with its member name.
fn private_members_sent(e: &Exchange) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for credential in credentials_sent(e) {
        let Ok(jws) = Jws::parse_with(&credential, &ParseOptions::lenient()) else {
            continue;
        };
        let mut parts = vec![Value::Object(jws.header().to_map())];
        parts.extend(jws.claims_lenient().ok().map(|c| Value::Object(c.to_map())));
        for part in parts {
            private_members(&part, false, &mut |name, v| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                out.push((name.to_owned(), text));
            });
        }
    }
    out
}

/// No decoded credential of the JSON report shows a private JWK member other than as the
/// placeholder; returns how many placeholders there are (so a test can tell it saw some).
fn assert_no_private_member_shown(report: &Value) -> usize {
    let checks = report["checks"].as_array().expect("checks");
    let mut shown = 0;
    for check in checks {
        for exchange in check["evidence"].as_array().into_iter().flatten() {
            for credential in exchange["credentials"].as_array().into_iter().flatten() {
                for part in ["jose_header", "claims"] {
                    private_members(&credential[part], false, &mut |name, v| {
                        shown += 1;
                        assert_eq!(
                            v.as_str(),
                            Some(PRIVATE_MEMBER_REMOVED),
                            "{}: a decoded {part} shows the private JWK member {name:?}",
                            check["id"]
                        );
                    });
                }
            }
        }
    }
    shown
}

#[tokio::test(flavor = "multi_thread")]
async fn no_sink_shows_a_token_a_client_secret_or_a_private_key() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    // dpop-skip-signature makes rs.dpop.alg-symmetric fail, so its oct-`k` proof is evidence
    // too (a passing probed check keeps its first probe's exchange only).
    let faults: BTreeSet<_> = [
        "ignore-aud",
        "accept-query-token",
        "skip-signature",
        "dpop-accept-private-jwk",
        "dpop-skip-signature",
    ]
    .iter()
    .map(|f| f.parse().unwrap())
    .collect();
    let env = Embedded::start_with(idp.clone(), &faults).await.unwrap();
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

    let Rendered {
        report,
        terminal,
        mut secrets,
        private_sent,
    } = run_and_render(&ctx).await;
    env.server.shutdown().await;
    assert!(
        report.checks.iter().any(|c| !c.evidence.is_empty()),
        "the faults must produce failures with evidence"
    );
    assert!(
        secrets.len() > 20,
        "the run sent credentials: {}",
        secrets.len()
    );

    // The stimulus keys' private members: a `d` and a symmetric `k` at least were sent.
    for member in ["d", "k"] {
        assert!(
            private_sent.iter().any(|(name, _)| name == member),
            "the run sent a proof whose jwk has {member:?}: {private_sent:?}"
        );
    }
    secrets.extend(
        private_sent
            .into_iter()
            .map(|(_, value)| value)
            .filter(|v| v.len() >= 16),
    );
    let removed = assert_no_private_member_shown(
        &serde_json::from_str(&reports::json::render_text(&report)).unwrap(),
    );
    assert!(
        removed >= 2,
        "the report's decoded proofs had private members: {removed}"
    );
    secrets.extend(
        [
            CONFIDENTIAL_CLIENT_SECRET,
            RESOURCE_SERVER_CLIENT_SECRET,
            OPAQUE_CLIENT_SECRET,
        ]
        .map(str::to_owned),
    );
    for kind in [IssuerKind::Trusted, IssuerKind::Rogue] {
        let key = idp.signing_key(kind);
        if let Some(d) = key.private_jwk().get("d").and_then(|d| d.as_str()) {
            secrets.insert(d.to_owned());
        }
        if let Some(pem) = key.to_pkcs8_pem() {
            // Any full line of the base64 body is enough to give the key away.
            secrets.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 32)
                    .map(str::to_owned),
            );
        }
    }

    assert_no_sink_shows(&report, &terminal, &secrets);
}

/// What one in-process run rendered, and the credentials it sent.
struct Rendered {
    report: reports::event::Report,
    terminal: String,
    /// Every credential the run's requests carried, as sent.
    secrets: BTreeSet<String>,
    /// Every private JWK member value in a credential sent, with its member name.
    private_sent: Vec<(String, String)>,
}

/// Runs the whole catalogue, then has the terminal and the collector render it.
async fn run_and_render(ctx: &suite::engine::context::Context) -> Rendered {
    let info = run_info(
        &ctx.endpoint,
        ctx.calibration.describe(),
        ctx.token_source(),
    );
    let results = run_checks(ctx, &Selection::default(), RunOptions::default(), |_, _| {}).await;
    render(&info, &results)
}

/// The header of a test run against `target`.
fn run_info(target: &str, calibration: String, token_source: String) -> RunInfo {
    RunInfo {
        tool_version: "test".into(),
        spec_version: "2025-11-25".into(),
        profiles: Vec::new(),
        calibration,
        token_source,
        target: target.to_owned(),
        profile: "secrets test".into(),
        selected: 0,
        started_unix: 0,
    }
}

/// Every sink's rendering of a run's results, and the credentials its requests carried.
fn render(info: &RunInfo, results: &[(CheckMeta, Outcome)]) -> Rendered {
    let mut terminal = Terminal::new(Vec::new(), StatusLevel::All, StatusLevel::All);
    let mut collector = Collector::default();
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    let mut private_sent: Vec<(String, String)> = Vec::new();
    {
        let mut stream = Fanout::new(vec![&mut terminal, &mut collector]);
        stream.event(&Event::RunStarted(info));
        for (meta, o) in results {
            for e in &o.evidence {
                secrets.extend(credentials_sent(e));
                private_sent.extend(private_members_sent(e));
            }
            stream.event(&Event::CheckFinished(&suite::output::record(meta, o)));
        }
        stream.event(&Event::RunFinished(&RunEnd {
            exit_code: 1,
            reason: "test".into(),
            duration_ms: 0,
        }));
    }
    Rendered {
        report: collector.into_report().unwrap(),
        terminal: String::from_utf8(terminal.into_inner()).unwrap(),
        secrets,
        private_sent,
    }
}

/// The as.* checks against the mock IdP with token-endpoint faults (so the token rows fail
/// with their exchanges as evidence): no authorization code, PKCE verifier, access or refresh
/// token that crossed the mock IdP's token endpoint shows in any sink. With a registration
/// fault too (a client_secret handed to a public client, so as.dcr.success fails with the
/// registration answers as evidence): no client secret or RFC 7592 registration access token
/// the registration endpoint issued shows either.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_rows_show_no_code_verifier_or_token() {
    use mock_idp::server::AsFault;

    let faults = [
        AsFault::TokenCodeReuse,
        AsFault::TokenPkceVerifierOptional,
        AsFault::TokenSuccessShape,
        AsFault::TokenAudDefault,
        AsFault::RefreshNoRotation,
        AsFault::RefreshScopeWidened,
        AsFault::DcrSecretForPublic,
    ];
    let idp = MockIdp::start(IdpConfig {
        faults: faults.into_iter().collect(),
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let ctx = as_context(&idp).await;
    let results = suite::engine::session::run_as_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await;
    let info = run_info(
        idp.issuer(),
        String::new(),
        "none (authorization server role)".into(),
    );
    let Rendered {
        report,
        terminal,
        mut secrets,
        ..
    } = render(&info, &results);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.id.starts_with("as.") && !c.evidence.is_empty())
        .map(|c| c.id.as_str())
        .collect();
    for id in [
        "as.token.code-reuse",
        "as.refresh.rotation",
        "as.token.success-shape",
        "as.dcr.success",
    ] {
        assert!(
            failed.contains(&id),
            "{id} carries its exchanges: {failed:?}"
        );
    }
    let exchanged = idp.credentials_exchanged();
    assert!(
        exchanged.len() >= 20,
        "codes, verifiers and tokens crossed the token endpoint: {}",
        exchanged.len()
    );
    secrets.extend(exchanged);
    assert_no_sink_shows(&report, &terminal, &secrets);
}

/// The as.* context of a run against the mock IdP as its public client.
async fn as_context(idp: &MockIdp) -> suite::engine::authorization_server::AsContext {
    use mock_idp::server::{PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS};
    use suite::engine::authorization_server::{AsClient, AsContext};
    let driver = suite::http::Driver::new(Limits::default()).unwrap();
    let mut ctx = AsContext::discover(driver, idp.issuer(), None).await;
    ctx.client = Some(AsClient {
        client_id: PUBLIC_CLIENT_ID.to_owned(),
        redirect_uri: PUBLIC_REDIRECT_URIS[0].to_owned(),
    });
    ctx
}

/// No sink's rendering of `report` (and no terminal line) holds any of `secrets`.
fn assert_no_sink_shows(
    report: &reports::event::Report,
    terminal: &str,
    secrets: &BTreeSet<String>,
) {
    let outputs = [
        ("terminal", terminal.to_owned()),
        ("json", reports::json::render_text(report)),
        ("junit", reports::junit::render(report, true).unwrap()),
        ("markdown", reports::markdown::render(report)),
        ("html", reports::html::render(report, &Default::default())),
        ("sarif", reports::sarif::render(report, &Default::default())),
    ];
    for (sink, text) in &outputs {
        assert!(text.len() > 1000, "{sink} rendered the run");
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{sink} shows a secret (first characters {:?})",
                &secret[..8.min(secret.len())]
            );
        }
    }
}

/// The same with tokens from the target's own authorization server (issue 13): the mock IdP
/// plays a real AS the tool holds no key of, and every credential that crossed its token and
/// device endpoints — the client secret, device codes, authorization codes, PKCE verifiers,
/// access tokens Bearer and DPoP-bound, refresh tokens — is searched for in every sink, beside
/// every credential the run sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_authorization_server_runs_credentials_reach_no_sink() {
    use mock_idp::server::{CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};
    use suite::engine::session::{TokenSupply, context_from};
    use suite::source::setup::{ClientAuthArg, SourceArgs};

    let secret_path =
        std::env::temp_dir().join(format!("secrets-client-{}", mock_idp::random_b64url(8)));
    std::fs::write(&secret_path, CONFIDENTIAL_CLIENT_SECRET).unwrap();
    let sources = [
        // The secret in the form body (post), so it crosses as a parameter too.
        SourceArgs {
            client_credentials: true,
            client_id: Some(CONFIDENTIAL_CLIENT_ID.into()),
            client_secret_file: Some(secret_path.clone()),
            client_auth: Some(ClientAuthArg::Post),
            dpop: true,
            ..SourceArgs::default()
        },
        SourceArgs {
            device_code: true,
            client_id: Some(PUBLIC_CLIENT_ID.into()),
            ..SourceArgs::default()
        },
        // Authorization code, PKCE verifier and refresh token cross the token endpoint; the
        // login command follows the authorization URL to the tool's loopback redirect.
        SourceArgs {
            auth_code: true,
            client_id: Some(PUBLIC_CLIENT_ID.into()),
            login_command: Some("curl -sf -o /dev/null -L".into()),
            dpop: true,
            ..SourceArgs::default()
        },
    ];
    let faults: BTreeSet<_> = ["accept-alg-none", "skip-signature", "dpop-skip-signature"]
        .iter()
        .map(|f| f.parse().unwrap())
        .collect();
    for source in sources {
        let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
        let env = Embedded::start_with(idp.clone(), &faults).await.unwrap();
        let ctx = context_from(
            &env.server.mcp_url(),
            TokenSupply::Planned(Box::new(source)),
            &TokenDefaults::default(),
            None,
            Some(env.canary()),
            Limits::default(),
        )
        .await
        .unwrap();
        assert!(ctx.idp.is_none(), "tokens come from the AS only");
        let Rendered {
            report,
            terminal,
            mut secrets,
            ..
        } = run_and_render(&ctx).await;
        env.server.shutdown().await;
        assert!(
            report.checks.iter().any(|c| !c.evidence.is_empty()),
            "the faults must produce failures with evidence"
        );
        // The header names the source (and the sinks render it, searched below).
        assert!(
            [
                "client credentials at",
                "device code at",
                "authorization code + PKCE at"
            ]
            .iter()
            .any(|grant| report.info.token_source.contains(grant))
                && terminal.contains("Token source: the target's own authorization server"),
            "{}",
            report.info.token_source
        );
        let exchanged = idp.credentials_exchanged();
        assert!(
            exchanged.len() >= 2,
            "the run obtained tokens at the AS: {}",
            exchanged.len()
        );
        secrets.extend(exchanged);
        secrets.insert(CONFIDENTIAL_CLIENT_SECRET.to_owned());
        assert_no_sink_shows(&report, &terminal, &secrets);
    }
    let _ = std::fs::remove_file(&secret_path);
}

/// The terminal output and every report file of one run of the binary with `args` and
/// `--out`, by name, after checking its exit code.
fn binary_outputs(args: &[&str], exit: i32) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("secrets-{}", mock_idp::random_b64url(8)));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(args)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(exit), "{args:?}");
    let mut texts = vec![(
        "stdout".to_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(texts.len() >= 4, "terminal plus every report file");
    texts
}

/// No output holds anything shaped like a JWT, nor the confidential client's secret.
fn assert_nothing_token_shaped(texts: &[(String, String)]) {
    for (name, text) in texts {
        // A compact JWS starts with a base64url JSON object: `eyJ`, then a dot and more.
        for (i, _) in text.match_indices("eyJ") {
            let run: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            assert!(
                run.matches('.').count() < 1 || run.len() < 24,
                "{name} holds a token-shaped string: {}…",
                &run[..run.len().min(16)]
            );
        }
        assert!(!text.contains(CONFIDENTIAL_CLIENT_SECRET), "{name}");
    }
}

#[test]
fn the_binarys_outputs_hold_nothing_shaped_like_a_token() {
    let texts = binary_outputs(&["run", "--demo-fault", "skip-signature"], 1);
    let (_, json) = texts
        .iter()
        .find(|(name, _)| name.ends_with("report.json"))
        .expect("report.json");
    let removed = assert_no_private_member_shown(&serde_json::from_str(json).unwrap());
    assert!(
        removed >= 1,
        "rs.dpop.private-jwk's proof is evidence: {removed}"
    );
    assert_nothing_token_shaped(&texts);
}

/// The as.* token rows through the binary, failing (so their code redemptions, with JWT
/// access tokens in the answers, are evidence in every report file).
#[test]
fn the_binarys_token_endpoint_evidence_holds_nothing_shaped_like_a_token() {
    let texts = binary_outputs(
        &[
            "run",
            "--role",
            "as",
            "--check",
            "as.token.*",
            "--check",
            "as.refresh.*",
            "--demo-as-fault",
            "as-token-code-reuse",
            "--demo-as-fault",
            "as-refresh-no-rotation",
        ],
        1,
    );
    let (_, json) = texts
        .iter()
        .find(|(name, _)| name.ends_with("report.json"))
        .expect("report.json");
    assert!(
        json.contains("as.token.code-reuse") && json.contains("access_token"),
        "the failing redemptions are evidence"
    );
    assert_nothing_token_shaped(&texts);
}

/// The built-in login form driver against the mock IdP in login mode, with the faults of its
/// pages (so both authorization-UI rows fail with the login's exchanges as evidence): neither
/// the password nor any session cookie the login set shows in any sink.
#[tokio::test(flavor = "multi_thread")]
async fn the_form_drivers_password_and_session_cookies_reach_no_sink() {
    use mock_idp::server::{AsFault, LoginConfig};
    use suite::source::auth_code::{Login, Secret};
    use suite::source::login_form::FormLogin;

    const PASSWORD: &str = "pw-Zq8vT3nLx0-never-in-a-report";
    let idp = MockIdp::start(IdpConfig {
        // Token rows failing too: their codes came through the form driver's logins.
        faults: [
            AsFault::LoginFramable,
            AsFault::LoginRedirect307,
            AsFault::TokenCodeReuse,
            AsFault::TokenSuccessShape,
            AsFault::RefreshNoRotation,
        ]
        .into(),
        login: Some(LoginConfig {
            username: "alice".into(),
            password: PASSWORD.into(),
            consent: false,
        }),
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let mut ctx = as_context(&idp).await;
    ctx.login = Some(Login {
        command: None,
        form: Some(FormLogin {
            user: "alice".into(),
            password: Secret::new(PASSWORD),
            user_field: None,
            password_field: None,
        }),
        redirect_port: 0,
        timeout: std::time::Duration::from_secs(30),
    });
    let results = suite::engine::session::run_as_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await;
    let mut secrets: BTreeSet<String> = [PASSWORD.to_owned()].into();
    for (meta, outcome) in &results {
        if meta.id == "as.authorize.clickjacking" || meta.id == "as.authorize.no-307" {
            assert_eq!(
                outcome.verdict,
                suite::model::Verdict::Fail,
                "{}: {}",
                meta.id,
                outcome.message
            );
        }
        for e in &outcome.evidence {
            let set = e
                .response
                .as_ref()
                .map(|r| r.header_values("set-cookie"))
                .unwrap_or_default();
            for cookie in set {
                let value = cookie.split(';').next().unwrap_or_default();
                let value = value.split_once('=').map_or(value, |(_, v)| v);
                secrets.insert(value.to_owned());
            }
        }
    }
    assert!(secrets.len() >= 2, "the login set a session cookie");
    let info = run_info(
        idp.issuer(),
        String::new(),
        "none (authorization server role)".into(),
    );
    let Rendered {
        report, terminal, ..
    } = render(&info, &results);
    assert_no_sink_shows(&report, &terminal, &secrets);
}
