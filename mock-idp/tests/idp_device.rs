//! The device authorization grant (RFC 8628) over loopback HTTP: the device authorization
//! response, polling (`authorization_pending`, `slow_down`, `expired_token`, `access_denied`),
//! tokens as the code grant issues them, single use, and decisions at the verification URI.
//! DPoP-bound device tokens are in `idp_dpop.rs`, malformed requests in `idp_malformed.rs`.

mod idp_support;

use std::time::Duration;

use idp_support::{claims, config, http, introspect, post_form, start, start_with};
use mock_idp::server::{
    CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DEFAULT_SUBJECT, DEVICE_CODE_GRANT_TYPE,
    DeviceApproval, DeviceFlowConfig, IdpConfig, MockIdp, PUBLIC_CLIENT_ID,
};
use serde_json::Value;

const AUD: &str = "https://mcp.test/mcp";
const CONF: Option<(&str, &str)> = Some((CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET));

async fn start_device(device: DeviceFlowConfig) -> MockIdp {
    start_with(IdpConfig { device, ..config() }).await
}

fn deciding(approval: DeviceApproval) -> DeviceFlowConfig {
    DeviceFlowConfig {
        approval,
        ..DeviceFlowConfig::default()
    }
}

/// A successful device authorization request of the public client.
async fn begin(idp: &MockIdp, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("client_id", PUBLIC_CLIENT_ID)];
    form.extend_from_slice(extra);
    let (status, body) =
        post_form(&http(), &idp.device_authorization_endpoint(), None, &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn device_code(grant: &Value) -> &str {
    grant["device_code"].as_str().unwrap()
}

/// One poll of the token endpoint by the public client.
async fn poll(idp: &MockIdp, device_code: &str) -> (u16, Value) {
    post_form(
        &http(),
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", DEVICE_CODE_GRANT_TYPE),
            ("client_id", PUBLIC_CLIENT_ID),
            ("device_code", device_code),
        ],
    )
    .await
}

/// The `error` of an answer that must be a 400 OAuth error.
fn error_of((status, body): (u16, Value)) -> String {
    assert_eq!(status, 400, "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// The `error` of a poll that must fail.
async fn poll_error(idp: &MockIdp, device_code: &str) -> String {
    error_of(poll(idp, device_code).await)
}

/// A refresh request of the public client.
async fn refresh(idp: &MockIdp, refresh_token: &str) -> (u16, Value) {
    post_form(
        &http(),
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Posts a decision to the verification URI; returns the status and the page.
async fn decide(idp: &MockIdp, user_code: &str, action: &str) -> (u16, String) {
    let resp = http()
        .post(idp.device_verification_uri())
        .form(&[("user_code", user_code), ("action", action)])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn pending_then_tokens_as_the_code_grant_issues_them() {
    let idp = start().await;
    let resp = http()
        .post(idp.device_authorization_endpoint())
        .form(&[
            ("client_id", PUBLIC_CLIENT_ID),
            ("scope", "mcp:read mcp:write"),
            ("resource", AUD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let grant: Value = resp.json().await.unwrap();
    let user_code = grant["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{grant}");
    assert!(user_code.char_indices().all(|(i, c)| if i == 4 {
        c == '-'
    } else {
        "BCDFGHJKLMNPQRSTVWXZ".contains(c)
    }));
    assert!(device_code(&grant).len() >= 43, "unguessable device_code");
    assert_eq!(grant["verification_uri"], idp.device_verification_uri());
    assert_eq!(
        grant["verification_uri_complete"],
        format!("{}?user_code={user_code}", idp.device_verification_uri())
    );
    assert_eq!(grant["expires_in"], 300);
    assert_eq!(grant["interval"], 1);

    // The page behind verification_uri_complete shows the code and who asks.
    let page = http()
        .get(grant["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let page = page.text().await.unwrap();
    assert!(
        page.contains(user_code) && page.contains(PUBLIC_CLIENT_ID),
        "{page}"
    );

    assert_eq!(
        poll_error(&idp, device_code(&grant)).await,
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, tokens) = poll(&idp, device_code(&grant)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    assert!(
        tokens["refresh_token"].is_string(),
        "the client may refresh"
    );
    let c = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(c["iss"], idp.issuer());
    assert_eq!(c["sub"], DEFAULT_SUBJECT);
    assert_eq!(c["client_id"], PUBLIC_CLIENT_ID);
    assert_eq!(c["aud"], AUD);
    assert_eq!(c["scope"], "mcp:read mcp:write");
    assert!(c.get("cnf").is_none());

    let (status, refreshed) = refresh(&idp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    idp.shutdown().await;
}

#[tokio::test]
async fn confidential_client_authenticates_and_gets_approved_at_once() {
    let idp = start_device(deciding(DeviceApproval::ApproveAfter { pending_polls: 0 })).await;
    let client = http();
    let (status, body) = post_form(&client, &idp.device_authorization_endpoint(), CONF, &[]).await;
    assert_eq!(status, 200, "{body}");
    let code = device_code(&body);
    let form = [
        ("grant_type", DEVICE_CODE_GRANT_TYPE),
        ("device_code", code),
    ];
    // The public client cannot redeem a confidential client's device code.
    assert_eq!(poll_error(&idp, code).await, "invalid_grant");
    let (status, tokens) = post_form(&client, &idp.token_endpoint(), CONF, &form).await;
    assert_eq!(status, 200, "{tokens}");
    let c = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(c["client_id"], CONFIDENTIAL_CLIENT_ID);
    assert_eq!(c["sub"], DEFAULT_SUBJECT, "the user, not the client");
    assert_eq!(c["scope"], "mcp:read", "the default scope");
    idp.shutdown().await;
}

#[tokio::test]
async fn polling_faster_than_the_interval_gets_slow_down_and_a_longer_interval() {
    // A 5 s interval keeps "too fast" true even on a stalled machine; the clock is advanced.
    let idp = start_device(DeviceFlowConfig {
        interval: 5,
        ..DeviceFlowConfig::default()
    })
    .await;
    let grant = begin(&idp, &[]).await;
    assert_eq!(grant["interval"], 5);
    let code = device_code(&grant);
    assert_eq!(poll_error(&idp, code).await, "authorization_pending");
    assert_eq!(poll_error(&idp, code).await, "slow_down");
    // The interval is now 5 + 5 s (RFC 8628 §3.5): the original 5 s is too fast.
    idp.advance_clock(5);
    assert_eq!(poll_error(&idp, code).await, "slow_down");
    idp.advance_clock(15);
    let (status, tokens) = poll(&idp, code).await;
    assert_eq!(status, 200, "{tokens}");
    idp.shutdown().await;
}

#[tokio::test]
async fn interval_and_its_growth_are_configurable() {
    let idp = start_device(DeviceFlowConfig {
        interval: 0,
        slow_down_step: 0,
        approval: DeviceApproval::ApproveAfter { pending_polls: 3 },
        ..DeviceFlowConfig::default()
    })
    .await;
    let grant = begin(&idp, &[]).await;
    assert_eq!(grant["interval"], 0);
    for _ in 0..3 {
        assert_eq!(
            poll_error(&idp, device_code(&grant)).await,
            "authorization_pending"
        );
    }
    assert_eq!(poll(&idp, device_code(&grant)).await.0, 200);
    idp.shutdown().await;
}

#[tokio::test]
async fn an_undecided_grant_expires() {
    let idp = start_device(deciding(DeviceApproval::Manual)).await;
    let grant = begin(&idp, &[]).await;
    let code = device_code(&grant);
    assert_eq!(poll_error(&idp, code).await, "authorization_pending");
    idp.advance_clock(2);
    assert_eq!(poll_error(&idp, code).await, "authorization_pending");
    idp.advance_clock(300);
    assert_eq!(poll_error(&idp, code).await, "expired_token");
    let (status, page) = decide(&idp, grant["user_code"].as_str().unwrap(), "approve").await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");
    idp.shutdown().await;
}

#[tokio::test]
async fn a_denied_grant_gets_access_denied() {
    let idp = start_device(deciding(DeviceApproval::DenyAfter { pending_polls: 1 })).await;
    let code = device_code(&begin(&idp, &[]).await).to_owned();
    assert_eq!(poll_error(&idp, &code).await, "authorization_pending");
    idp.advance_clock(1);
    assert_eq!(poll_error(&idp, &code).await, "access_denied");
    idp.advance_clock(1);
    assert_eq!(
        poll_error(&idp, &code).await,
        "access_denied",
        "and stays so"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn decisions_at_the_verification_uri() {
    let idp = start_device(deciding(DeviceApproval::Manual)).await;
    // Denied by hand.
    let grant = begin(&idp, &[]).await;
    let user_code = grant["user_code"].as_str().unwrap();
    assert_eq!(decide(&idp, user_code, "deny").await.0, 200);
    assert_eq!(poll_error(&idp, device_code(&grant)).await, "access_denied");

    // Approved by hand, the code typed in lower case without its dash.
    let grant = begin(&idp, &[]).await;
    let code = device_code(&grant);
    assert_eq!(poll_error(&idp, code).await, "authorization_pending");
    let typed = grant["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let (status, page) = decide(&idp, &typed, "approve").await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = decide(&idp, &typed, "deny").await;
    assert_eq!(status, 400, "already decided: {page}");
    idp.advance_clock(1);
    assert_eq!(poll(&idp, code).await.0, 200);
    idp.shutdown().await;
}

#[tokio::test]
async fn a_device_code_is_single_use() {
    let idp = start_device(deciding(DeviceApproval::ApproveAfter { pending_polls: 0 })).await;
    let code = device_code(&begin(&idp, &[]).await).to_owned();
    let (status, tokens) = poll(&idp, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&idp, access_token).await["active"], true);
    idp.advance_clock(1);
    assert_eq!(poll_error(&idp, &code).await, "invalid_grant");
    // As with a reused authorization code, the tokens of the first redemption are revoked.
    assert_eq!(introspect(&idp, access_token).await["active"], false);
    let refreshed = refresh(&idp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(error_of(refreshed), "invalid_grant");
    idp.shutdown().await;
}

#[tokio::test]
async fn resources_named_at_device_authorization_bound_the_token_request() {
    let idp = start_device(deciding(DeviceApproval::ApproveAfter { pending_polls: 0 })).await;
    let code = device_code(&begin(&idp, &[("resource", AUD)]).await).to_owned();
    let mut form = vec![
        ("grant_type", DEVICE_CODE_GRANT_TYPE),
        ("client_id", PUBLIC_CLIENT_ID),
        ("device_code", code.as_str()),
        ("resource", "https://other.test/mcp"),
    ];
    let refused = post_form(&http(), &idp.token_endpoint(), None, &form).await;
    assert_eq!(error_of(refused), "invalid_target");
    form[3].1 = AUD;
    let (status, tokens) = post_form(&http(), &idp.token_endpoint(), None, &form).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["aud"], AUD);
    idp.shutdown().await;
}

#[tokio::test]
async fn metadata_advertises_the_device_grant() {
    let idp = start().await;
    let doc = http()
        .get(idp.metadata_url())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        doc["device_authorization_endpoint"],
        idp.device_authorization_endpoint()
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&DEVICE_CODE_GRANT_TYPE.into())
    );
    idp.shutdown().await;
}
