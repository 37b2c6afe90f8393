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
use suite::source::auth_code::{Login, Secret};
use suite::source::login_form::FormLogin;

/// Rows that only the built-in form driver can evaluate (it sees the credential POST's answer,
/// which a login command hides).
const NEEDS_FORM_DRIVER: [&str; 1] = ["as.authorize.no-307"];

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
        Verdict::Pass,
        "server.mjs enables dynamic client registration at a loopback http endpoint",
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
        "as.metadata.cimd-flag",
        Verdict::Pass,
        "server.mjs enables features.clientIdMetadataDocument, advertised as client_id_metadata_document_supported: true",
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
        "as.authorize.redirect-missing",
        Verdict::Pass,
        "a registered client with two loopback redirect URIs and no redirect_uri in its request gets an error page before any login",
    ),
    (
        "as.authorize.redirect-uri-scheme",
        Verdict::Pass,
        "http://client.test/cb is refused at registration with invalid_redirect_uri (a native client's http redirect URI must be loopback)",
    ),
    (
        "as.dcr.success",
        Verdict::Pass,
        "201 with every registered member, no client_secret for none, plus registration_client_uri and registration_access_token (features.registrationManagement)",
    ),
    (
        "as.dcr.invalid-redirect",
        Verdict::Pass,
        "plain http off loopback, a fragment, a relative URI and javascript: each refused with 400 invalid_redirect_uri",
    ),
    (
        "as.dcr.invalid-metadata",
        Verdict::Pass,
        "jwks with jwks_uri, implicit with code, and auth method bogus each refused with 400 invalid_client_metadata",
    ),
    (
        "as.dcr.public-needs-pkce",
        Verdict::Pass,
        "pkce.required applies to registered clients too: no code_challenge is refused with invalid_request before any login",
    ),
    (
        "as.dcr.application-type",
        Verdict::Pass,
        "native with a loopback redirect registered as native; web with the same redirect is accepted too (recorded)",
    ),
    (
        "as.dcr.open",
        Verdict::Pass,
        "features.registration without initialAccessToken: open registration, 201",
    ),
    (
        "as.dcr.no-cache",
        Verdict::Pass,
        "the registration answer has Cache-Control: no-store",
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
        "as.authorize.clickjacking",
        Verdict::Fail,
        "its login page (/interaction/<uid>, the development interactions server.mjs keeps and \
         oidc-provider's docs say to replace in production) sends neither Content-Security-Policy \
         frame-ancestors nor X-Frame-Options: any site may frame it (RFC 9700 §4.16 MUST)",
    ),
    (
        "as.authorize.no-307",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login page: the answer to the \
         credential POST is seen only by the built-in form driver",
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
        "as.token.resource-unknown",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.default-aud",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.refresh.resource-binding",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.token.guessing",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.at.typ",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.at.claims",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation",
    ),
    (
        "as.at.alg",
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
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation (server.mjs enables registration, so the row registers its dpop_bound_access_tokens client)",
    ),
    (
        "as.token.code-other-client",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation (its second client is registered through server.mjs's open registration)",
    ),
    (
        "as.refresh.client-binding",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no code without login automation (its second client is registered through server.mjs's open registration)",
    ),
    // §2.7: oidc-provider resolves a URL client_id before any login (the tool's documents are
    // on 127.0.0.1 under fixtures/tls's CA, which the harness makes Node trust).
    (
        "as.refresh.reuse-revokes",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no refresh token without login automation",
    ),
    (
        "as.cimd.happy",
        Verdict::Pass,
        "fetches the document once and goes on to its login page (with a login: a code and a token for the document's client)",
    ),
    (
        "as.cimd.client-id-mismatch",
        Verdict::Pass,
        "compares the document's client_id with the URL as a string (invalid_client_metadata error page)",
    ),
    (
        "as.cimd.redirect-not-listed",
        Verdict::Pass,
        "an unlisted redirect_uri gets its invalid_redirect_uri error page",
    ),
    (
        "as.cimd.bad-document",
        Verdict::Fail,
        "it never reads the Content-Type of the document: one served as text/html is accepted, which the CIMD draft's \"MUST treat all other … content types as an error response\" forbids (non-JSON, an array and a missing redirect_uris are refused)",
    ),
    (
        "as.cimd.url-grammar",
        Verdict::Pass,
        "http, dot-segment, fragment and userinfo client_id URLs fail isValidClientIdUrl, so they are unknown clients, never fetched",
    ),
    (
        "as.cimd.no-shared-secret",
        Verdict::Pass,
        "client_secret and client_secret_basic documents are refused (invalid_client_metadata)",
    ),
    (
        "as.cimd.redirect-follow",
        Verdict::Pass,
        "fetches with redirect: 'manual' and takes only a 200: the 302 is a failed fetch",
    ),
    (
        "as.cimd.ssrf",
        Verdict::Pass,
        "its SSRF guard refuses every special-use address but the 127.0.0.1 server.mjs lets through: the documents on 127.0.0.2 and [::1] are never requested",
    ),
    (
        "as.cimd.size-limit",
        Verdict::Pass,
        "fetchResponseBodyLimits caps documents at 5 KiB and fetches time out after 2.5 s",
    ),
    (
        "as.cimd.cache",
        Verdict::Warn,
        "it keeps every document at least cacheDuration.min (30 s by default) whatever Cache-Control says, so a max-age=0 document changed within 30 s is not fetched again (SHOULD honour the cache headers)",
    ),
    // §2.1/§2.3/§2.4 remaining rows.
    (
        "as.metadata.protected-resources",
        Verdict::Skip,
        "oidc-provider's metadata has no protected_resources (optional, RFC 9728 §4)",
    ),
    (
        "as.metadata.signed",
        Verdict::Skip,
        "oidc-provider's metadata has no signed_metadata (optional, RFC 8414 §2.1)",
    ),
    (
        "as.token.code-expired",
        Verdict::NotEvaluated,
        "the run gives no --code-expiry-wait (the wait takes minutes), with or without a login",
    ),
    (
        "as.token.pkce-downgrade",
        Verdict::Skip,
        "server.mjs sets pkce.required for every client: the registered confidential client's authorization request without code_challenge is refused, so no downgrade is possible",
    ),
    (
        "as.token.code-reuse-revokes",
        Verdict::Skip,
        "server.mjs enables introspection only with --opaque: no introspection_endpoint to observe the revocation through",
    ),
    (
        "as.at.client-vs-user",
        Verdict::NotEvaluated,
        "a valid authorization request gets oidc-provider's login step: no user token to compare without login automation",
    ),
    // RFC 8693 token exchange
    (
        "as.exchange.success-shape",
        Verdict::Skip,
        "oidc-provider implements no RFC 8693 token exchange grant (only through a custom grant handler, which server.mjs does not register): grant_types_supported does not list it",
    ),
    (
        "as.exchange.audience",
        Verdict::Skip,
        "oidc-provider implements no RFC 8693 token exchange grant (only through a custom grant handler, which server.mjs does not register): grant_types_supported does not list it",
    ),
    (
        "as.exchange.scope",
        Verdict::Skip,
        "oidc-provider implements no RFC 8693 token exchange grant (only through a custom grant handler, which server.mjs does not register): grant_types_supported does not list it",
    ),
    (
        "as.exchange.foreign-subject",
        Verdict::Skip,
        "oidc-provider implements no RFC 8693 token exchange grant (only through a custom grant handler, which server.mjs does not register): grant_types_supported does not list it",
    ),
    (
        "as.exchange.invalid-subject",
        Verdict::Skip,
        "oidc-provider implements no RFC 8693 token exchange grant (only through a custom grant handler, which server.mjs does not register): grant_types_supported does not list it",
    ),
];

/// Rows that stay NotEvaluated with a login: they need a flag the runs here do not give.
const NEEDS_FLAG: [&str; 1] = ["as.token.code-expired"];

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
    let verdicts = run_as_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |_, _| {},
    )
    .await
    .into_iter()
    .map(|(m, o)| (m.id, (o.verdict, o.message)))
    .collect();
    // Every client the registration rows registered is deleted again (RFC 7592, which
    // server.mjs enables with features.registrationManagement).
    let clean_up = ctx.registrations.clean_up(&ctx.driver).await;
    assert!(clean_up.deleted >= 9, "{clean_up:?}");
    assert_eq!(clean_up.left_behind(), 0, "{clean_up:?}");
    verdicts
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

/// The rows that need a login and, once logged in, give another verdict than Pass, with why.
const WITH_LOGIN: &[(&str, Verdict, &str)] = &[
    (
        "as.token.default-aud",
        Verdict::Skip,
        "without a resource parameter oidc-provider issues an opaque access token (for its \
     userinfo endpoint): RFC 9068 §3's default audience concerns JWT access tokens, and an \
     opaque token's audience is not read",
    ),
    (
        "as.dpop.nonce",
        Verdict::Skip,
        "server.mjs demands DPoP nonces only with --dpop-nonce (RFC 9449 §8: nonces are the server's choice); the nonce-mode test runs the row",
    ),
];

/// The verdict, once logged in, of a row that needs a login: Pass unless [`WITH_LOGIN`] says.
fn logged_in(id: &str) -> Verdict {
    WITH_LOGIN
        .iter()
        .find(|(row, ..)| *row == id)
        .map_or(Verdict::Pass, |(_, verdict, _)| *verdict)
}

/// Every verdict of a run with a login that differs from the table (a row the table marks
/// NotEvaluated for want of a login is due [`logged_in`], unless `still_undecided` names it),
/// and how many rows the login made run.
fn logged_in_mismatches(
    verdicts: &BTreeMap<&'static str, (Verdict, String)>,
    still_undecided: &[&str],
) -> (String, usize) {
    let mut wrong = String::new();
    let mut ran = 0;
    for (id, due, why) in EXPECTED {
        let (verdict, message) = &verdicts[id];
        let due = if *due == Verdict::NotEvaluated && !still_undecided.contains(id) {
            ran += 1;
            logged_in(id)
        } else {
            *due
        };
        if *verdict != due {
            wrong.push_str(&format!(
                "{id}: {verdict:?}, expected {due:?} ({why}): {message}\n"
            ));
        }
    }
    (wrong, ran)
}

/// With login automation (oidc-provider's own login pages driven by its login.mjs as
/// `--login-command`), every row the table marks NotEvaluated for want of a login runs and
/// passes, or gets the verdict [`WITH_LOGIN`] justifies; every other verdict stays as the
/// table says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_login_command_the_rows_that_redeem_a_code_run_and_pass() {
    let Some(server) = real_as::start() else {
        return;
    };
    let verdicts = verdicts_of(&server, Some(login_of(&server))).await;
    let undecided: Vec<&str> = NEEDS_FORM_DRIVER
        .iter()
        .chain(&NEEDS_FLAG)
        .copied()
        .collect();
    let (wrong, ran) = logged_in_mismatches(&verdicts, &undecided);
    assert!(wrong.is_empty(), "{wrong}");
    assert!(ran >= 11, "{ran} rows needed a login");
}

/// With the built-in form driver (`--login-user` / `--login-password-env`, exactly the user
/// and password login.mjs types: any user name, password `secret`), oidc-provider's own login
/// and consent pages are driven without a script: every row the table marks NotEvaluated for
/// want of a login runs and passes, and every other verdict stays as the table says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_form_driver_the_rows_that_need_a_login_run_and_pass() {
    let Some(server) = real_as::start() else {
        return;
    };
    let login = Login {
        command: None,
        form: Some(FormLogin {
            user: "mcp-authspec".into(),
            password: Secret::new("secret"),
            user_field: None,
            password_field: None,
        }),
        redirect_port: 0,
        timeout: Duration::from_secs(60),
    };
    let verdicts = verdicts_of(&server, Some(login)).await;
    let (wrong, ran) = logged_in_mismatches(&verdicts, &NEEDS_FLAG);
    assert!(wrong.is_empty(), "{wrong}");
    assert!(ran >= 12, "{ran} rows needed a login");
    // Its login POST answers 303 See Other (koa's redirect with the status oidc-provider sets).
    let no_307 = &verdicts["as.authorize.no-307"].1;
    assert!(no_307.contains("303"), "{no_307}");
}

/// login.mjs as `--login-command`.
fn login_of(server: &compat::authorization_server::ThirdPartyAs) -> Login {
    Login {
        command: Some(server.login_command().join(" ")),
        form: None,
        redirect_port: 0,
        timeout: Duration::from_secs(60),
    }
}

/// With `--dpop-nonce` (every token-endpoint proof needs a nonce oidc-provider issued) and
/// login.mjs, every as.dpop.* row passes, as.dpop.nonce included.
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
        if *verdict != Verdict::Pass {
            wrong.push_str(&format!("{id}: {verdict:?}, expected Pass: {message}\n"));
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
}
