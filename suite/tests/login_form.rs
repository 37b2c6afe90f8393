//! The built-in login form driver: it logs in on the mock IdP's login and consent pages, and
//! every way a login can go wrong ends in a clear error, never a hang or a panic. Pages no real
//! authorization server would serve (endless, huge, silent, off-origin) come from wiremock.

use std::time::Duration;

use mock_idp::server::{IdpConfig, LoginConfig, MockIdp, PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS};
use suite::http::{Driver, Limits};
use suite::source::auth_code::Secret;
use suite::source::login_form::{FormError, FormLogin, log_in};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

fn login(password: &str) -> FormLogin {
    FormLogin {
        user: "alice".into(),
        password: Secret::new(password),
        user_field: None,
        password_field: None,
    }
}

fn driver(timeout: Duration) -> Driver {
    Driver::new(Limits {
        request_timeout: timeout,
        ..Limits::default()
    })
    .unwrap()
}

/// A valid authorization request to the mock IdP, logging in as alice / "right".
async fn mock_idp_request(consent: bool) -> (MockIdp, url::Url) {
    let idp = MockIdp::start(IdpConfig {
        login: Some(LoginConfig {
            username: "alice".into(),
            password: "right".into(),
            consent,
        }),
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let mut url = url::Url::parse(&format!("{}/authorize", idp.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", PUBLIC_CLIENT_ID)
        .append_pair("redirect_uri", PUBLIC_REDIRECT_URIS[0])
        .append_pair("state", "st4te")
        .append_pair(
            "code_challenge",
            &mock_idp::jwk::pkce_s256("v".repeat(43).as_str()),
        )
        .append_pair("code_challenge_method", "S256");
    (idp, url)
}

#[tokio::test]
async fn it_logs_in_through_the_login_and_consent_pages_to_the_redirect() {
    for consent in [false, true] {
        let (idp, url) = mock_idp_request(consent).await;
        let (reached, observed) = log_in(
            driver(Duration::from_secs(10)),
            &url,
            PUBLIC_REDIRECT_URIS[0],
            &login("right"),
            Duration::from_secs(30),
        )
        .await;
        let target = reached.unwrap();
        let params: std::collections::BTreeMap<String, String> =
            target.query_pairs().into_owned().collect();
        assert!(params.contains_key("code"), "{params:?}");
        assert_eq!(params["state"], "st4te");
        assert_eq!(params["iss"], idp.issuer());
        let first = observed.first_page.unwrap();
        let first = first.response.unwrap();
        assert_eq!(
            first.header("x-frame-options"),
            Some("DENY"),
            "the login page's headers are recorded"
        );
        let redirect = observed.post_redirect.unwrap();
        assert_eq!(redirect.status, 303);
        assert_eq!(redirect.credential_post, !consent);
        // The recorded credential POST carries no password.
        for e in &observed.exchanges {
            let body = e.request.body.clone().unwrap_or_default();
            assert!(!String::from_utf8_lossy(&body).contains("right"), "{e:?}");
        }
    }
}

#[tokio::test]
async fn a_wrong_password_is_said_as_such() {
    let (_idp, url) = mock_idp_request(false).await;
    let (reached, observed) = log_in(
        driver(Duration::from_secs(10)),
        &url,
        PUBLIC_REDIRECT_URIS[0],
        &login("wrong"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(reached.unwrap_err(), FormError::LoginRejected);
    assert!(observed.post_redirect.is_none());
}

#[tokio::test]
async fn a_misnamed_field_override_is_said_as_such() {
    let (_idp, url) = mock_idp_request(false).await;
    let given = FormLogin {
        password_field: Some("passwd".into()),
        ..login("right")
    };
    let (reached, _) = log_in(
        driver(Duration::from_secs(10)),
        &url,
        PUBLIC_REDIRECT_URIS[0],
        &given,
        Duration::from_secs(30),
    )
    .await;
    let err = reached.unwrap_err();
    assert!(
        matches!(&err, FormError::NoForm(why) if why.contains("passwd")),
        "{err}"
    );
}

/// One hostile page at `/authorize` (and whatever else `mount` adds); the driver's error.
async fn against(response: ResponseTemplate, timeout: Duration) -> FormError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/authorize"))
        .respond_with(response)
        .mount(&server)
        .await;
    let url = url::Url::parse(&format!("{}/authorize?x=1", server.uri())).unwrap();
    let started = std::time::Instant::now();
    let (reached, _) = log_in(
        driver(timeout),
        &url,
        REDIRECT_URI,
        &login("pw"),
        Duration::from_secs(20),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(15), "bounded");
    reached.unwrap_err()
}

fn html(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/html")
}

#[tokio::test]
async fn hostile_pages_end_in_clear_errors() {
    let no_form = against(html("<p>Hello</p>"), Duration::from_secs(5)).await;
    assert!(matches!(no_form, FormError::NoForm(_)), "{no_form}");

    let elsewhere = against(
        ResponseTemplate::new(302).insert_header("location", "https://login.other.test/x?code=1"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        matches!(&elsewhere, FormError::OtherOrigin(to, _) if to.contains("other.test")),
        "{elsewhere}"
    );

    let huge = format!("<form>{}</form>", "x".repeat(2 * 1024 * 1024));
    let too_large = against(html(&huge), Duration::from_secs(5)).await;
    assert!(matches!(too_large, FormError::TooLarge(_)), "{too_large}");

    let silent = against(
        html("<p>late</p>").set_delay(Duration::from_secs(30)),
        Duration::from_secs(1),
    )
    .await;
    assert!(
        matches!(&silent, FormError::Transport(_, why) if why.contains("within")),
        "{silent}"
    );

    // An approval form that posts back to a page with the same form, forever.
    let endless = html(
        "<form method=post action=/authorize><input type=hidden name=n value=1>\
         <button>Continue</button></form>",
    );
    let server = MockServer::start().await;
    for m in ["GET", "POST"] {
        Mock::given(method(m))
            .and(path("/authorize"))
            .respond_with(endless.clone())
            .mount(&server)
            .await;
    }
    let url = url::Url::parse(&format!("{}/authorize", server.uri())).unwrap();
    let (reached, observed) = log_in(
        driver(Duration::from_secs(5)),
        &url,
        REDIRECT_URI,
        &login("pw"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(reached.unwrap_err(), FormError::TooManySteps);
    assert!(observed.exchanges.len() <= suite::source::login_form::MAX_REQUESTS);

    // A same-origin redirect loop.
    let looping = against(
        ResponseTemplate::new(302).insert_header("location", "/authorize?x=1"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(looping, FormError::TooManySteps);

    let refusing = against(
        html("<form method=post><button name=op value=cancel>Cancel</button></form>"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        matches!(refusing, FormError::NoApprovingButton(_)),
        "{refusing}"
    );
}
