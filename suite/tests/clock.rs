//! tp-clock: the run reads the target's clock from its `Date` header and bases `iat`/`exp` of
//! valid tokens on it, so a target whose clock is ten minutes ahead is tested with tokens that
//! are valid by its clock. (wiremock: no real server would let a test set its clock.)

use std::sync::Arc;

use mock_idp::server::{IdpConfig, MockIdp};
use suite::engine::session::{TokenDefaults, context};
use suite::http::Limits;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_target_ten_minutes_ahead_gets_tokens_dated_by_its_clock() {
    // The IdP first: its key generation takes a while under load, and the Date below is fixed.
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let target = MockServer::start().await;
    let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(600);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("date", httpdate::fmt_http_date(ahead).as_str())
                .insert_header("www-authenticate", "Bearer"),
        )
        .mount(&target)
        .await;
    let ctx = context(
        &format!("{}/mcp", target.uri()),
        Some(idp.clone()),
        &TokenDefaults {
            audience: Some("https://mcp.test/mcp".into()),
            scope: Some("mcp:read".into()),
            signing_alg: None,
        },
        None,
        None,
        Limits::default(),
    )
    .await
    .unwrap();
    assert!(ctx.clock.is_measured());
    let offset = ctx.clock.offset_secs();
    // The header is fixed at mount time, so the measured offset shrinks by the time since.
    assert!((596..=601).contains(&offset), "offset {offset}");
    let spec = ctx.valid_spec().unwrap();
    let iat = spec
        .claims_json()
        .get("iat")
        .and_then(|v| v.as_i64())
        .unwrap();
    assert!((iat - (idp.now() + offset)).abs() <= 2, "iat {iat}");
    assert!(ctx.clock.describe().contains("ahead"));
}
