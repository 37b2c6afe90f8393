//! Authorization servers no real one would be (wiremock): garbage or HTML where metadata
//! belongs, answers slower than the deadline, huge bodies, metadata that points every endpoint
//! back at the garbage. Every `as.*` check reports, none passes on such a server (there is
//! nothing to pass on), and nothing panics or hangs.

use std::time::Duration;

use serde_json::json;
use suite::engine::authorization_server::{AsClient, AsContext};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::run_as_checks;
use suite::http::{Driver, Limits};
use suite::model::Verdict;
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run_against(server: &MockServer) -> Vec<(&'static str, Verdict, String)> {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        request_timeout: Duration::from_millis(400),
    };
    let driver = Driver::new(limits).unwrap();
    let issuer = format!("{}/tenant", server.uri());
    let mut ctx = AsContext::discover(driver, &issuer, None).await;
    ctx.client = Some(AsClient {
        client_id: "mcp-authspec".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
    });
    let options = RunOptions {
        concurrency: 8,
        check_deadline: Duration::from_secs(20),
        ..RunOptions::default()
    };
    let results = run_as_checks(&ctx, &Selection::default(), options, |_, _| {}).await;
    assert_eq!(
        results.len(),
        suite::catalog::authorization_server_checks().len(),
        "every check reports"
    );
    results
        .into_iter()
        .map(|(m, o)| {
            assert!(
                !o.message.is_empty(),
                "{}: a verdict without a sentence",
                m.id
            );
            (m.id, o.verdict, o.message)
        })
        .collect()
}

fn assert_nothing_passes(results: &[(&str, Verdict, String)]) {
    for (id, verdict, message) in results {
        assert_ne!(
            *verdict,
            Verdict::Pass,
            "{id} passed on a hostile server: {message}"
        );
    }
}

async fn everything(template: ResponseTemplate) -> Vec<(&'static str, Verdict, String)> {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    run_against(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_where_metadata_belongs() {
    let results =
        everything(ResponseTemplate::new(200).set_body_string("\u{0}\u{1}garbage{{{")).await;
    assert_nothing_passes(&results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_where_metadata_belongs() {
    let results = everything(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body>Sign in</body></html>"),
    )
    .await;
    assert_nothing_passes(&results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_slower_than_the_deadline() {
    let results = everything(ResponseTemplate::new(200).set_delay(Duration::from_secs(2))).await;
    for (id, verdict, message) in &results {
        // A row that waits minutes runs only when asked to (and says which flag asks).
        if *id == "as.token.code-expired" {
            assert_eq!(*verdict, Verdict::NotEvaluated, "{id}: {message}");
            assert!(message.contains("--code-expiry-wait"), "{message}");
            continue;
        }
        assert_eq!(*verdict, Verdict::Error, "{id}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bodies_are_cut_not_swallowed() {
    let body = format!("{{\"issuer\":\"{}\"}}", "x".repeat(4 * 1024 * 1024));
    let results = everything(ResponseTemplate::new(200).set_body_string(body)).await;
    assert_nothing_passes(&results);
}

/// A server publishing valid-looking RFC 8414 metadata for issuer `<uri>/tenant` (code flow,
/// PKCE S256) with its endpoints on the same server, `endpoints` (member, path) and the
/// members of `members` added.
async fn serving_metadata(endpoints: &[(&str, &str)], members: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut metadata = json!({
        "issuer": format!("{uri}/tenant"),
        "authorization_endpoint": format!("{uri}/authorize"),
        "token_endpoint": format!("{uri}/token"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    });
    for (name, path) in endpoints {
        metadata[*name] = json!(format!("{uri}{path}"));
    }
    if let serde_json::Value::Object(members) = members {
        for (name, value) in members {
            metadata[name] = value;
        }
    }
    Mock::given(path("/.well-known/oauth-authorization-server/tenant"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&metadata))
        .mount(&server)
        .await;
    server
}

/// Valid-looking metadata whose endpoints all answer garbage: the metadata rows judge the
/// document, and every authorization-endpoint row ends in Error (its positive control cannot
/// hold), never in a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_pointing_at_garbage_endpoints() {
    let server = serving_metadata(&[("jwks_uri", "/jwks")], json!({})).await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("<<garbage>>"))
        .mount(&server)
        .await;
    let results = run_against(&server).await;
    for (id, verdict, message) in &results {
        // The rows with a client of their own register it first: without a registration
        // endpoint they are Skip.
        let registers = message.contains("names no registration_endpoint");
        if id.starts_with("as.authorize.") && *id != "as.authorize.no-cors" && !registers {
            assert_eq!(*verdict, Verdict::Error, "{id}: {message}");
            assert!(message.contains("positive control"), "{id}: {message}");
        }
    }
}

/// A DPoP-advertising authorization server that issues a code and answers every token (and
/// registration) request with garbage: each as.dpop.* row ends in an Error naming its positive
/// control or its setup, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_rows_against_a_token_endpoint_that_answers_garbage() {
    let server = serving_metadata(
        &[("registration_endpoint", "/register")],
        json!({ "dpop_signing_alg_values_supported": ["ES256"] }),
    )
    .await;
    Mock::given(path("/authorize"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "http://127.0.0.1/callback?code=c0de"),
        )
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("<<garbage>>"))
        .mount(&server)
        .await;
    let results = run_against(&server).await;
    let dpop: Vec<_> = results
        .iter()
        .filter(|(id, ..)| id.starts_with("as.dpop."))
        .collect();
    assert!(dpop.len() >= 10, "{} as.dpop.* rows", dpop.len());
    for (id, verdict, message) in dpop {
        assert_eq!(*verdict, Verdict::Error, "{id}: {message}");
        assert!(
            message.contains("positive control") || message.contains("setup"),
            "{id}: {message}"
        );
    }
}
