//! The `as.*` checks against a third-party authorization server we did not write
//! (oidc-provider, compat/authorization-servers/oidc-provider), started on loopback: every
//! verdict is the one this table states and justifies, and none is an Error of the tool.

mod real_as;

use std::collections::BTreeMap;

use std::time::Duration;

use compat::authorization_server::{PUBLIC_CLIENT_ID, REDIRECT_PATH};
use suite::engine::authorization_server::{AsClient, AsContext};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::run_as_checks;
use suite::http::{Driver, Limits};
use suite::model::Verdict;
use suite::source::auth_code::Login;

/// Each as.* check's expected verdict on oidc-provider as server.mjs configures it, and why.
const EXPECTED: &[(&str, Verdict, &str)] = &[
    (
        "as.metadata.available",
        Verdict::Pass,
        "serves RFC 8414 and OpenID metadata",
    ),
    (
        "as.metadata.path-insertion",
        Verdict::Pass,
        "its issuer has no path: the RFC 8414 URL is the root well-known one",
    ),
    (
        "as.metadata.issuer-identical",
        Verdict::Pass,
        "issuer is the identifier exactly",
    ),
    (
        "as.metadata.issuer-format",
        Verdict::Pass,
        "loopback http issuer, no query or fragment",
    ),
    (
        "as.metadata.required",
        Verdict::Pass,
        "every RFC 8414 and OpenID required member, code listed",
    ),
    (
        "as.metadata.pkce",
        Verdict::Pass,
        "code_challenge_methods_supported is [S256]",
    ),
    ("as.metadata.empty-arrays", Verdict::Pass, "no empty array"),
    (
        "as.metadata.no-none",
        Verdict::Pass,
        "none not listed for client authentication",
    ),
    ("as.metadata.jwks", Verdict::Pass, "public keys only"),
    (
        "as.metadata.oauth-oidc-consistent",
        Verdict::Pass,
        "one document served at both URLs",
    ),
    (
        "as.metadata.registration",
        Verdict::Skip,
        "server.mjs enables no dynamic client registration",
    ),
    (
        "as.metadata.dpop-algs",
        Verdict::Pass,
        "DPoP on, asymmetric algorithms only",
    ),
    (
        "as.metadata.https-endpoints",
        Verdict::Pass,
        "loopback http endpoints (a test deployment)",
    ),
    (
        "as.authorize.pkce-required",
        Verdict::Pass,
        "pkce.required: every authorization request needs code_challenge",
    ),
    (
        "as.authorize.pkce-method-unsupported",
        Verdict::Pass,
        "S512 refused with invalid_request",
    ),
    (
        "as.authorize.pkce-plain",
        Verdict::Pass,
        "only S256 is configured: plain refused",
    ),
    (
        "as.authorize.pkce-challenge-syntax",
        Verdict::Pass,
        "a 42-character or +/ challenge refused",
    ),
    (
        "as.authorize.redirect-exact",
        Verdict::Pass,
        "exact matching, loopback port variation only",
    ),
    (
        "as.authorize.bad-client-no-redirect",
        Verdict::Pass,
        "an unknown client gets an error page",
    ),
    (
        "as.authorize.response-type",
        Verdict::Info,
        "token refused as unsupported; code id_token refused as invalid_request (the hybrid type needs openid and a nonce), a refusal whose error code is only recorded",
    ),
    (
        "as.authorize.resource-invalid",
        Verdict::Pass,
        "resourceIndicators refuses relative and fragment resources with invalid_target",
    ),
    (
        "as.authorize.duplicate-params",
        Verdict::Pass,
        "repeated state or code_challenge refused",
    ),
    (
        "as.authorize.state",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: its response is read only after a login (with login.mjs both states come back exactly, the 2 KB one too)",
    ),
    (
        "as.authorize.iss",
        Verdict::Pass,
        "the error response (S512) carries iss and the metadata advertises it; the success response is read after a login",
    ),
    (
        "as.authorize.unknown-params",
        Verdict::Pass,
        "foo=bar is ignored: the login step follows as for the valid request",
    ),
    (
        "as.authorize.empty-params",
        Verdict::Pass,
        "scope= is taken as omitted: the login step follows",
    ),
    (
        "as.authorize.loopback-port",
        Verdict::Pass,
        "a native client's http://127.0.0.1/callback accepted with port 53117",
    ),
    (
        "as.authorize.no-cors",
        Verdict::Pass,
        "no CORS at the authorization endpoint",
    ),
    (
        "as.token.success-shape",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.pkce-missing-verifier",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.pkce-wrong-verifier",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.code-reuse",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.redirect-mismatch",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.invalid-client",
        Verdict::Pass,
        "a failed Basic authentication (unknown client; the public client, registered with none) gets 401 invalid_client with a Basic challenge",
    ),
    (
        "as.token.duplicate-params",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.grant-types",
        Verdict::Pass,
        "password and foo refused with unsupported_grant_type",
    ),
    (
        "as.token.error-shape",
        Verdict::Pass,
        "400 (401 for invalid_client) JSON errors with Cache-Control: no-store",
    ),
    (
        "as.token.aud",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.resource-mismatch",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.short-lived",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.refresh.rotation",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.refresh.scope-escalation",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.token-type",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.cnf",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.invalid-proof",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.iat-skew",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.nonce",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation (with login.mjs: Skip, see WITH_LOGIN)",
    ),
    (
        "as.dpop.replay",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.refresh-bound",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.jkt-binding",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.par-binding",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation (its PAR endpoint is on by default)",
    ),
    (
        "as.dpop.holder-of-key-required",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.ath-at-token",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.dpop.bound-client",
        Verdict::Skip,
        "server.mjs enables no dynamic client registration: no client can be registered with dpop_bound_access_tokens",
    ),
];

/// The rows whose verdict with login.mjs is not Pass, and why.
const WITH_LOGIN: &[(&str, Verdict, &str)] = &[(
    "as.dpop.nonce",
    Verdict::Skip,
    "server.mjs demands DPoP nonces only with --dpop-nonce (RFC 9449 §8: nonces are the server's choice); the nonce-mode test runs the row",
)];

/// Runs every as.* check against oidc-provider as its public native client, logging in with
/// `login` when given (and asking for `mcp:read` then, the scope its resources grant).
async fn verdicts_of(
    server: &compat::authorization_server::ThirdPartyAs,
    login: Option<Login>,
) -> BTreeMap<&'static str, (Verdict, String)> {
    let driver = Driver::new(Limits::default()).unwrap();
    let mut ctx = AsContext::discover(driver, server.issuer(), None).await;
    // server.mjs's public native client and its registered loopback redirect URI.
    ctx.client = Some(AsClient {
        client_id: PUBLIC_CLIENT_ID.to_owned(),
        redirect_uri: format!("http://127.0.0.1{REDIRECT_PATH}"),
    });
    if login.is_some() {
        ctx.scope = Some("mcp:read".into());
    }
    ctx.login = login;
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
async fn oidc_provider_gets_the_verdicts_the_table_justifies() {
    let Some(server) = real_as::start() else {
        return;
    };
    let verdicts = verdicts_of(&server, None).await;
    let mut wrong = String::new();
    for (id, due, why) in EXPECTED {
        let (verdict, message) = &verdicts[id];
        if verdict != due {
            wrong.push_str(&format!(
                "{id}: {verdict:?}, expected {due:?} ({why}): {message}\n"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
    assert_eq!(
        verdicts.len(),
        EXPECTED.len(),
        "every as.* check has a justified row here"
    );
}

/// With login automation (oidc-provider's own login pages driven by its login.mjs as
/// `--login-command`), every row the table marks NotEvaluated for want of a login runs and
/// passes; every other verdict stays as the table says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_login_command_the_rows_that_redeem_a_code_run_and_pass() {
    let Some(server) = real_as::start() else {
        return;
    };
    let verdicts = verdicts_of(&server, Some(login_of(&server))).await;
    let mut wrong = String::new();
    let mut ran = 0;
    for (id, due, why) in EXPECTED {
        let (verdict, message) = &verdicts[id];
        let due = match WITH_LOGIN.iter().find(|(login_id, ..)| login_id == id) {
            Some((_, due, _)) => *due,
            None if *due == Verdict::NotEvaluated => {
                ran += 1;
                Verdict::Pass
            }
            None => *due,
        };
        if *verdict != due {
            wrong.push_str(&format!(
                "{id}: {verdict:?}, expected {due:?} ({why}): {message}\n"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
    assert!(ran >= 11, "{ran} rows needed a login");
}

/// login.mjs as `--login-command`.
fn login_of(server: &compat::authorization_server::ThirdPartyAs) -> Login {
    Login {
        command: Some(server.login_command().join(" ")),
        redirect_port: 0,
        timeout: Duration::from_secs(60),
    }
}

/// With `--dpop-nonce` (every token-endpoint proof needs a nonce oidc-provider issued) and
/// login.mjs, the as.dpop.* rows that redeem a code pass, as.dpop.nonce included; the
/// registration row stays Skip (no dynamic client registration).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_dpop_nonce_mode_the_dpop_rows_pass() {
    let options = compat::authorization_server::AsOptions {
        dpop_nonce: true,
        ..compat::authorization_server::AsOptions::new("RS256")
    };
    let Some(server) = real_as::start_with(&options) else {
        return;
    };
    let verdicts = verdicts_of(&server, Some(login_of(&server))).await;
    let mut wrong = String::new();
    for (id, (verdict, message)) in verdicts.iter().filter(|(id, _)| id.starts_with("as.dpop.")) {
        let due = if *id == "as.dpop.bound-client" {
            Verdict::Skip
        } else {
            Verdict::Pass
        };
        if *verdict != due {
            wrong.push_str(&format!("{id}: {verdict:?}, expected {due:?}: {message}\n"));
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
}
