//! Client ID metadata documents (spec §2.7) at the mock IdP: a small document server (https
//! with the test-only loopback CA of `fixtures/tls`, or plain http) serves documents per path
//! and logs every fetch; the real mock IdP is driven over loopback HTTP.

mod idp_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idp_support::{get_json, http, location_params, param, pkce, post_form, rings};
use mock_idp::server::{AsFault, CimdConfig, IdpConfig, MockIdp};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

const TLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/tls");
const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

fn tls_file(name: &str) -> String {
    format!("{TLS_DIR}/{name}")
}

fn ca_pem() -> String {
    std::fs::read_to_string(tls_file("ca.pem")).unwrap()
}

/// One answer of the document server.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Without `Content-Length` the body ends when the connection closes.
    content_length: bool,
    /// Each byte of the body sent after this pause (a slow drip).
    drip: Option<Duration>,
}

impl Answer {
    /// `doc` as `application/json`.
    fn json(doc: &Value) -> Self {
        Self::typed("application/json", doc.to_string().into_bytes())
    }

    fn typed(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            content_length: true,
            drip: None,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn redirect(location: &str) -> Self {
        Self::typed("text/plain", Vec::new())
            .status(302)
            .header("Location", location)
    }
}

/// A request the document server received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fetch {
    host: String,
    target: String,
    accept: Option<String>,
}

#[derive(Default)]
struct DocState {
    routes: Mutex<HashMap<String, Answer>>,
    log: Mutex<Vec<Fetch>>,
}

/// The document server: answers by request target (path and query), logs every request.
#[derive(Clone)]
struct DocServer {
    /// `https://127.0.0.1:<port>`
    origin: String,
    /// The same server under another origin: `https://localhost:<port>`.
    other_origin: String,
    /// `http://127.0.0.1:<port>`: the same routes over plain http.
    plain_origin: String,
    state: Arc<DocState>,
}

impl DocServer {
    async fn start() -> Self {
        let state = Arc::new(DocState::default());
        let certs = CertificateDer::pem_file_iter(tls_file("localhost.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_file("localhost.key")).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tls_port, plain_port) = (
            tls.local_addr().unwrap().port(),
            plain.local_addr().unwrap().port(),
        );
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = tls.accept().await {
                let (acceptor, s) = (acceptor.clone(), s.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(stream, &s).await;
                    }
                });
            }
        });
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = plain.accept().await {
                let s = s.clone();
                tokio::spawn(async move { serve(stream, &s).await });
            }
        });
        Self {
            origin: format!("https://127.0.0.1:{tls_port}"),
            other_origin: format!("https://localhost:{tls_port}"),
            plain_origin: format!("http://127.0.0.1:{plain_port}"),
            state,
        }
    }

    fn route(&self, target: &str, answer: Answer) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(target.into(), answer);
    }

    /// Serves at `target` a valid document for `<origin><target>` (loopback redirect URI).
    fn valid(&self, target: &str) -> String {
        let url = format!("{}{target}", self.origin);
        self.route(target, Answer::json(&document(&url)));
        url
    }

    fn fetches(&self) -> Vec<Fetch> {
        self.state.log.lock().unwrap().clone()
    }

    fn fetches_of(&self, target: &str) -> usize {
        self.fetches().iter().filter(|f| f.target == target).count()
    }
}

/// A minimal document: `client_id` and one loopback redirect URI, no `client_name`.
fn document(client_id: &str) -> Value {
    json!({ "client_id": client_id, "redirect_uris": [LOOPBACK_REDIRECT] })
}

/// One HTTP/1.1 exchange, then the connection closes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, state: &DocState) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    state.log.lock().unwrap().push(Fetch {
        host: header("host").unwrap_or_default(),
        target: target.clone(),
        accept: header("accept"),
    });
    let answer = state.routes.lock().unwrap().get(&target).cloned();
    let answer =
        answer.unwrap_or_else(|| Answer::typed("text/plain", b"none".to_vec()).status(404));
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", answer.status);
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if answer.content_length {
        out.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    }
    out.push_str("\r\n");
    if stream.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    match answer.drip {
        None => {
            let _ = stream.write_all(&answer.body).await;
        }
        Some(pause) => {
            for byte in &answer.body {
                tokio::time::sleep(pause).await;
                if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

fn cimd_config() -> CimdConfig {
    CimdConfig {
        trust_roots_pem: vec![ca_pem()],
        ..CimdConfig::default()
    }
}

async fn idp_with(faults: &[AsFault], cimd: CimdConfig) -> MockIdp {
    MockIdp::start(IdpConfig {
        keys: rings(),
        faults: faults.iter().copied().collect(),
        cimd,
        ..IdpConfig::default()
    })
    .await
    .expect("mock IdP starts")
}

/// What an authorization request got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 302 with a code, to this redirect URI (without its query).
    Code(String),
    /// 400 without `Location` (an error page).
    ErrorPage,
    /// Anything else: status, `Location`.
    Other(u16, Option<String>),
}

/// An authorization request for `client_id` (and `redirect_uri` when given); the outcome and
/// the page text.
async fn authorize(
    idp: &MockIdp,
    client_id: &str,
    redirect_uri: Option<&str>,
) -> (Outcome, String) {
    let (_, challenge) = pkce();
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st"),
    ];
    if let Some(r) = redirect_uri {
        query.push(("redirect_uri", r));
    }
    let resp = http()
        .get(idp.authorization_endpoint())
        .query(&query)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let outcome = match (status, &location) {
        (302, Some(_)) => {
            let (location, params) = location_params(&resp);
            if param(&params, "code").is_some() {
                Outcome::Code(location.split('?').next().unwrap().to_owned())
            } else {
                Outcome::Other(status, Some(location))
            }
        }
        (400, None) => Outcome::ErrorPage,
        _ => Outcome::Other(status, location),
    };
    (outcome, resp.text().await.unwrap_or_default())
}

async fn outcome_of(idp: &MockIdp, client_id: &str) -> Outcome {
    authorize(idp, client_id, Some(LOOPBACK_REDIRECT)).await.0
}

fn code() -> Outcome {
    Outcome::Code(LOOPBACK_REDIRECT.into())
}

/// An authorization (which must succeed) and its code's redemption by `client_id`, public or
/// with a `client_secret` in the body: the token endpoint's status and answer.
async fn code_flow(
    idp: &MockIdp,
    client_id: &str,
    redirect: &str,
    secret: Option<&str>,
) -> (u16, Value) {
    let endpoint = idp.authorization_endpoint();
    let (verifier, code) =
        idp_support::authorize(&http(), &endpoint, client_id, redirect, &[]).await;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", &verifier),
        ("redirect_uri", redirect),
        ("client_id", client_id),
    ];
    form.extend(secret.map(|s| ("client_secret", s)));
    post_form(&http(), &idp.token_endpoint(), None, &form).await
}

/// The whole flow for a URL client: authorization (any loopback port), token exchange as a
/// public client, PAR; one fetch of the document for all of it (cached 5 minutes).
#[tokio::test]
async fn a_document_client_completes_the_flow() {
    let docs = DocServer::start().await;
    let idp = idp_with(&[], cimd_config()).await;
    let client_id = docs.valid("/c/app.json");
    let redirect = "http://127.0.0.1:53117/callback";
    let (status, body) = code_flow(&idp, &client_id, redirect, None).await;
    assert_eq!(status, 200, "{body}");
    let claims = idp_support::claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], client_id.as_str());

    // PAR, then the authorization endpoint with the request_uri.
    let (_, challenge) = pkce();
    let (status, pushed) = post_form(
        &http(),
        &format!("{}/par", idp.issuer()),
        None,
        &[
            ("client_id", &client_id),
            ("response_type", "code"),
            ("redirect_uri", LOOPBACK_REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{pushed}");
    let resp = http()
        .get(idp.authorization_endpoint())
        .query(&[
            ("client_id", client_id.as_str()),
            ("request_uri", pushed["request_uri"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(location_params(&resp).1.iter().any(|(k, _)| k == "code"));

    let fetches = docs.fetches();
    assert_eq!(fetches.len(), 1, "{fetches:?}");
    assert_eq!(fetches[0].target, "/c/app.json");
    assert_eq!(fetches[0].accept.as_deref(), Some("application/json"));
    idp.shutdown().await;
}

#[tokio::test]
async fn metadata_advertises_cimd() {
    for (faults, advertised) in [(vec![], true), (vec![AsFault::CimdUnsupported], false)] {
        let idp = idp_with(&faults, CimdConfig::default()).await;
        let urls = idp.urls(mock_idp::server::IssuerKind::Trusted);
        assert_eq!(urls.discovery_urls.len(), 3);
        for url in &urls.discovery_urls {
            let doc = get_json(url).await;
            let flag = doc.get("client_id_metadata_document_supported");
            assert_eq!(flag == Some(&json!(true)), advertised, "{url}: {flag:?}");
            assert_eq!(flag.is_none(), !advertised, "{url}");
        }
        idp.shutdown().await;
    }
}

/// URLs breaking CIMD §3 are refused with an error page, without a fetch; a query is allowed.
#[tokio::test]
async fn url_grammar_is_checked_before_any_fetch() {
    let docs = DocServer::start().await;
    let idp = idp_with(&[], cimd_config()).await;
    let o = &docs.origin;
    for target in ["/c/app.json", "/", "/d/app.json", "/c/u.json"] {
        docs.valid(target);
    }
    for (bad, reason) in [
        (
            format!("{}/c/app.json", docs.plain_origin),
            "does not use https",
        ),
        (o.clone(), "has no path"),
        (format!("{o}/"), "has no path"),
        (format!("{o}/c/../d/app.json"), "dot segment"),
        (format!("{o}/c/%2e%2E/d/app.json"), "dot segment"),
        (format!("{o}/./d/app.json"), "dot segment"),
        (format!("{o}/c/app.json#x"), "fragment"),
        (
            o.replace("https://", "https://u:p@") + "/c/u.json",
            "userinfo",
        ),
    ] {
        let (outcome, page) = authorize(&idp, &bad, Some(LOOPBACK_REDIRECT)).await;
        assert_eq!(outcome, Outcome::ErrorPage, "{bad}");
        assert!(page.contains(reason), "{bad}: {page}");
    }
    assert_eq!(docs.fetches(), vec![], "nothing fetched");

    let with_query = docs.valid("/c/app.json?v=1");
    assert_eq!(outcome_of(&idp, &with_query).await, code());
    assert_eq!(docs.fetches_of("/c/app.json?v=1"), 1);
    idp.shutdown().await;
}

/// The fetch: only 200, no redirect followed, within the size limit and the timeout, over TLS
/// trusting only the configured roots.
#[tokio::test]
async fn fetch_rules() {
    let docs = DocServer::start().await;
    let idp = idp_with(
        &[],
        CimdConfig {
            fetch_timeout: Duration::from_millis(500),
            ..cimd_config()
        },
    )
    .await;
    let o = docs.origin.clone();
    let url = |t: &str| format!("{o}{t}");

    // A redirect to a document that would be valid is not followed.
    let target = docs.valid("/elsewhere.json");
    docs.route(
        "/c/moved.json",
        Answer::json(&document(&url("/c/moved.json")))
            .status(302)
            .header("Location", &target),
    );
    let (outcome, page) = authorize(&idp, &url("/c/moved.json"), Some(LOOPBACK_REDIRECT)).await;
    assert_eq!(outcome, Outcome::ErrorPage);
    assert!(page.contains("redirects are not followed"), "{page}");
    assert_eq!(docs.fetches_of("/elsewhere.json"), 0);

    for status in [201, 203, 404, 500] {
        let t = format!("/c/status-{status}.json");
        docs.route(&t, Answer::json(&document(&url(&t))).status(status));
        let (outcome, page) = authorize(&idp, &url(&t), Some(LOOPBACK_REDIRECT)).await;
        assert_eq!(outcome, Outcome::ErrorPage, "{status}");
        assert!(page.contains(&status.to_string()), "{page}");
    }

    // Size: 5000 bytes pass, 5001 do not, with or without Content-Length.
    let padded = |t: &str, size: usize| {
        let mut doc = document(&url(t));
        let base = doc.to_string().len() + r#","client_name":"""#.len();
        doc["client_name"] = json!("x".repeat(size - base));
        let body = doc.to_string().into_bytes();
        assert_eq!(body.len(), size);
        body
    };
    for (t, size, length, due) in [
        ("/c/5000.json", 5000, true, code()),
        ("/c/5001.json", 5001, true, Outcome::ErrorPage),
        ("/c/5000-open.json", 5000, false, code()),
        ("/c/5001-open.json", 5001, false, Outcome::ErrorPage),
    ] {
        let mut answer = Answer::typed("application/json", padded(t, size));
        answer.content_length = length;
        docs.route(t, answer);
        let (outcome, page) = authorize(&idp, &url(t), Some(LOOPBACK_REDIRECT)).await;
        assert_eq!(outcome, due, "{t}: {page}");
        if due == Outcome::ErrorPage {
            assert!(page.contains("larger than 5000 bytes"), "{page}");
        }
    }
    // A 2 MB body without Content-Length is refused.
    let mut huge = Answer::typed("application/json", vec![b' '; 2 << 20]);
    huge.content_length = false;
    docs.route("/c/huge.json", huge);
    assert_eq!(
        outcome_of(&idp, &url("/c/huge.json")).await,
        Outcome::ErrorPage
    );

    // A slow drip outlasts the one timeout.
    let mut slow = Answer::json(&document(&url("/c/slow.json")));
    slow.drip = Some(Duration::from_millis(20));
    docs.route("/c/slow.json", slow);
    let started = std::time::Instant::now();
    let (outcome, page) = authorize(&idp, &url("/c/slow.json"), Some(LOOPBACK_REDIRECT)).await;
    assert_eq!(outcome, Outcome::ErrorPage);
    assert!(page.contains("took longer than 500 ms"), "{page}");
    assert!(started.elapsed() < Duration::from_secs(2));
    idp.shutdown().await;

    // Without a trust root no https document is fetched (the system's roots are not used).
    let bare = idp_with(&[], CimdConfig::default()).await;
    let valid = docs.valid("/c/app.json");
    let (outcome, page) = authorize(&bare, &valid, Some(LOOPBACK_REDIRECT)).await;
    assert_eq!(outcome, Outcome::ErrorPage);
    assert!(page.contains("no CIMD trust root"), "{page}");
    assert_eq!(docs.fetches_of("/c/app.json"), 0);
    bare.shutdown().await;

    // A configured root that did not issue the server's certificate: the TLS check fails.
    let leaf_only = idp_with(
        &[],
        CimdConfig {
            trust_roots_pem: vec![std::fs::read_to_string(tls_file("localhost.pem")).unwrap()],
            ..CimdConfig::default()
        },
    )
    .await;
    assert_eq!(outcome_of(&leaf_only, &valid).await, Outcome::ErrorPage);
    leaf_only.shutdown().await;

    let bad = MockIdp::start(IdpConfig {
        keys: rings(),
        cimd: CimdConfig {
            trust_roots_pem: vec!["not PEM".into()],
            ..CimdConfig::default()
        },
        ..IdpConfig::default()
    })
    .await;
    assert!(bad.unwrap_err().to_string().contains("CIMD trust root 1"));
}

/// The document's content type, shape, client_id, redirect_uris and (absent) secrets.
#[tokio::test]
async fn document_rules() {
    let docs = DocServer::start().await;
    let idp = idp_with(&[], cimd_config()).await;
    let o = docs.origin.clone();
    let mut n = 0;
    let mut check = async |build: &dyn Fn(&str) -> Answer, due: Outcome, reason: &str| {
        n += 1;
        let t = format!("/c/{n}.json");
        let url = format!("{o}{t}");
        docs.route(&t, build(&url));
        let (outcome, page) = authorize(&idp, &url, Some(LOOPBACK_REDIRECT)).await;
        assert_eq!(outcome, due, "{t}: {page}");
        assert!(page.contains(reason), "{t}: {page}");
    };
    let with = |f: fn(&mut Value)| {
        move |url: &str| {
            let mut doc = document(url);
            f(&mut doc);
            Answer::json(&doc)
        }
    };
    let page = Outcome::ErrorPage;
    check(&with(|_| {}), code(), "").await;
    let typed =
        |ct: &'static str| move |url: &str| Answer::typed(ct, document(url).to_string().into());
    check(&typed("application/json; charset=utf-8"), code(), "").await;
    check(&typed("application/client-metadata+json"), code(), "").await;
    check(
        &typed("text/html"),
        page.clone(),
        "Content-Type is text/html",
    )
    .await;
    check(&typed("text/plain"), page.clone(), "not application/json").await;
    check(
        &|_: &str| Answer::typed("application/json", b"{not json".to_vec()),
        page.clone(),
        "not JSON",
    )
    .await;
    check(
        &|url: &str| Answer::json(&json!([document(url)])),
        page.clone(),
        "not a JSON object",
    )
    .await;
    check(
        &|_: &str| Answer::json(&json!("text")),
        page.clone(),
        "not a JSON object",
    )
    .await;
    check(
        &|url: &str| Answer::json(&document(&format!("{url}/"))),
        page.clone(),
        "is not",
    )
    .await;
    check(
        &|_: &str| Answer::json(&document("https://other.test/c/app.json")),
        page.clone(),
        "is not",
    )
    .await;
    check(
        &with(|d| drop(d.as_object_mut().unwrap().remove("client_id"))),
        page.clone(),
        "no client_id",
    )
    .await;
    check(
        &with(|d| drop(d.as_object_mut().unwrap().remove("redirect_uris"))),
        page.clone(),
        "no redirect_uris",
    )
    .await;
    check(
        &with(|d| d["redirect_uris"] = json!([])),
        page.clone(),
        "not a non-empty array",
    )
    .await;
    check(
        &with(|d| d["redirect_uris"] = json!(LOOPBACK_REDIRECT)),
        page.clone(),
        "not a non-empty array",
    )
    .await;
    check(
        &with(|d| d["redirect_uris"] = json!([LOOPBACK_REDIRECT, 1])),
        page.clone(),
        "not a string",
    )
    .await;
    check(
        &with(|d| d["client_secret"] = json!("s")),
        page.clone(),
        "carries client_secret",
    )
    .await;
    check(
        &with(|d| d["client_secret_expires_at"] = json!(0)),
        page.clone(),
        "client_secret_expires_at",
    )
    .await;
    check(
        &with(|d| d["token_endpoint_auth_method"] = json!("client_secret_basic")),
        page.clone(),
        "shared secret",
    )
    .await;
    check(
        &with(|d| d["token_endpoint_auth_method"] = json!("client_secret_post")),
        page.clone(),
        "shared secret",
    )
    .await;
    check(
        &with(|d| d["token_endpoint_auth_method"] = json!("client_secret_jwt")),
        page.clone(),
        "shared secret",
    )
    .await;
    check(
        &with(|d| d["token_endpoint_auth_method"] = json!("none")),
        code(),
        "",
    )
    .await;
    check(&with(|d| d["client_name"] = json!("An app")), code(), "").await;

    // The redirect URI must be listed (loopback: any port); one listed one is the default.
    let url = docs.valid("/c/listed.json");
    for (redirect, due) in [
        (Some("http://127.0.0.1:9/other"), Outcome::ErrorPage),
        (Some("http://127.0.0.1/callback/x"), Outcome::ErrorPage),
        (
            Some("http://127.0.0.1:9/callback"),
            Outcome::Code("http://127.0.0.1:9/callback".into()),
        ),
        (None, code()),
    ] {
        assert_eq!(authorize(&idp, &url, redirect).await.0, due, "{redirect:?}");
    }

    // At the token endpoint an unusable document is invalid_client (401).
    let broken = format!("{o}/c/broken.json");
    docs.route(
        "/c/broken.json",
        Answer::typed("text/html", document(&broken).to_string().into()),
    );
    let (status, body) = post_form(
        &http(),
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", "y"),
            ("client_id", &broken),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    idp.shutdown().await;
}

/// Cache-Control is honoured; failures and invalid documents are not cached.
#[tokio::test]
async fn cache_follows_cache_control() {
    let docs = DocServer::start().await;
    let idp = idp_with(&[], cimd_config()).await;
    let o = docs.origin.clone();
    // (Cache-Control, clock advance after the first request, fetches after the second). The
    // IdP clock also moves with real time, so the advances keep 10 s clear of each lifetime's
    // edge (at the edge a second ticking between the two requests decides).
    for (i, (cache_control, advance, fetches)) in [
        (None, 0, 1),
        (None, 290, 1),
        (None, 310, 2),
        (Some("max-age=0"), 0, 2),
        (Some("no-store"), 0, 2),
        (Some("no-cache"), 0, 2),
        (Some("public, max-age=60"), 50, 1),
        (Some("public, max-age=60"), 70, 2),
        (Some("max-age=9999999"), 86_390, 1),
        (Some("max-age=9999999"), 86_410, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let t = format!("/c/cache-{i}.json");
        let url = format!("{o}{t}");
        let mut answer = Answer::json(&document(&url));
        if let Some(cc) = cache_control {
            answer = answer.header("Cache-Control", cc);
        }
        docs.route(&t, answer);
        assert_eq!(outcome_of(&idp, &url).await, code());
        idp.advance_clock(advance);
        assert_eq!(outcome_of(&idp, &url).await, code());
        assert_eq!(
            docs.fetches_of(&t),
            fetches,
            "{cache_control:?} after {advance} s"
        );
    }

    // A failed fetch and an invalid document are fetched again next time.
    for (t, first) in [
        (
            "/c/failed.json",
            Answer::typed("text/plain", Vec::new()).status(500),
        ),
        (
            "/c/invalid.json",
            Answer::json(&json!({"client_id": "https://other.test/x"})),
        ),
    ] {
        let url = format!("{o}{t}");
        docs.route(t, first);
        assert_eq!(outcome_of(&idp, &url).await, Outcome::ErrorPage);
        docs.route(t, Answer::json(&document(&url)));
        assert_eq!(outcome_of(&idp, &url).await, code());
        assert_eq!(docs.fetches_of(t), 2, "{t}");
    }
    idp.shutdown().await;
}

/// One stimulus of the fault probes; each observation is the outcome and the fetches made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Probe {
    Advertised,
    Valid,
    ClientIdMismatch,
    RedirectNotListed,
    HtmlContentType,
    Array,
    NoRedirectUris,
    HttpUrl,
    NoPath,
    DotSegment,
    Fragment,
    Userinfo,
    ClientSecret,
    SecretMethod,
    CrossOriginRedirect,
    Large,
    Slow,
    NoStoreTwice,
}

const PROBES: [Probe; 18] = [
    Probe::Advertised,
    Probe::Valid,
    Probe::ClientIdMismatch,
    Probe::RedirectNotListed,
    Probe::HtmlContentType,
    Probe::Array,
    Probe::NoRedirectUris,
    Probe::HttpUrl,
    Probe::NoPath,
    Probe::DotSegment,
    Probe::Fragment,
    Probe::Userinfo,
    Probe::ClientSecret,
    Probe::SecretMethod,
    Probe::CrossOriginRedirect,
    Probe::Large,
    Probe::Slow,
    Probe::NoStoreTwice,
];

/// What a probe observed: its outcome and how many requests the document server received.
type Observed = (Outcome, usize);

const FAULT_TIMEOUT_MS: u64 = 400;

/// Runs every probe against a fresh IdP with `faults` and a fresh document server.
async fn observe(faults: &[AsFault]) -> Vec<(Probe, Observed)> {
    let docs = DocServer::start().await;
    let idp = idp_with(
        faults,
        CimdConfig {
            fetch_timeout: Duration::from_millis(FAULT_TIMEOUT_MS),
            ..cimd_config()
        },
    )
    .await;
    let o = docs.origin.clone();
    let mut seen = Vec::new();
    for probe in PROBES {
        let before = docs.fetches().len();
        let redirect = Some(LOOPBACK_REDIRECT);
        let (client_id, redirect) = match probe {
            Probe::Advertised => {
                let doc = get_json(&idp.metadata_url()).await;
                let advertised = doc["client_id_metadata_document_supported"] == json!(true);
                let outcome = if advertised {
                    code()
                } else {
                    Outcome::ErrorPage
                };
                seen.push((probe, (outcome, 0)));
                continue;
            }
            Probe::Valid => (docs.valid("/p/valid.json"), redirect),
            Probe::ClientIdMismatch => {
                docs.route(
                    "/p/mismatch.json",
                    Answer::json(&document(&format!("{o}/p/other.json"))),
                );
                (format!("{o}/p/mismatch.json"), redirect)
            }
            Probe::RedirectNotListed => (
                docs.valid("/p/unlisted.json"),
                Some("http://127.0.0.1:9/other"),
            ),
            Probe::HtmlContentType => {
                let url = format!("{o}/p/html.json");
                docs.route(
                    "/p/html.json",
                    Answer::typed("text/html", document(&url).to_string().into()),
                );
                (url, redirect)
            }
            Probe::Array => {
                let url = format!("{o}/p/array.json");
                docs.route("/p/array.json", Answer::json(&json!([document(&url)])));
                (url, redirect)
            }
            Probe::NoRedirectUris => {
                let url = format!("{o}/p/no-redirects.json");
                docs.route(
                    "/p/no-redirects.json",
                    Answer::json(&json!({ "client_id": url })),
                );
                (url, Some("http://127.0.0.1:9/anywhere"))
            }
            Probe::HttpUrl => {
                let url = format!("{}/p/plain.json", docs.plain_origin);
                docs.route("/p/plain.json", Answer::json(&document(&url)));
                (url, redirect)
            }
            Probe::NoPath => {
                docs.route("/", Answer::json(&document(&o)));
                (o.clone(), redirect)
            }
            Probe::DotSegment => {
                let url = format!("{o}/p/../dot.json");
                docs.route("/dot.json", Answer::json(&document(&url)));
                (url, redirect)
            }
            Probe::Fragment => {
                let url = format!("{o}/p/fragment.json#x");
                docs.route("/p/fragment.json", Answer::json(&document(&url)));
                (url, redirect)
            }
            Probe::Userinfo => {
                let url = o.replace("https://", "https://u:p@") + "/p/userinfo.json";
                docs.route("/p/userinfo.json", Answer::json(&document(&url)));
                (url, redirect)
            }
            Probe::ClientSecret => {
                let url = format!("{o}/p/secret.json");
                let mut doc = document(&url);
                doc["client_secret"] = json!("s3cret");
                docs.route("/p/secret.json", Answer::json(&doc));
                (url, redirect)
            }
            Probe::SecretMethod => {
                let url = format!("{o}/p/basic.json");
                let mut doc = document(&url);
                doc["token_endpoint_auth_method"] = json!("client_secret_basic");
                docs.route("/p/basic.json", Answer::json(&doc));
                (url, redirect)
            }
            Probe::CrossOriginRedirect => {
                let url = format!("{o}/p/moved.json");
                // The other origin serves the client's metadata (its client_id copied).
                docs.route("/evil/app.json", Answer::json(&document(&url)));
                let target = format!("{}/evil/app.json", docs.other_origin);
                docs.route("/p/moved.json", Answer::redirect(&target));
                (url, redirect)
            }
            Probe::Large => {
                let url = format!("{o}/p/large.json");
                let mut doc = document(&url);
                doc["client_name"] = json!("x".repeat(1 << 20));
                docs.route("/p/large.json", Answer::json(&doc));
                (url, redirect)
            }
            Probe::Slow => {
                let url = format!("{o}/p/slow.json");
                let mut answer = Answer::json(&document(&url));
                let pause = (FAULT_TIMEOUT_MS as usize * 2) / answer.body.len() + 1;
                answer.drip = Some(Duration::from_millis(pause as u64));
                docs.route("/p/slow.json", answer);
                (url, redirect)
            }
            Probe::NoStoreTwice => {
                let url = format!("{o}/p/no-store.json");
                docs.route(
                    "/p/no-store.json",
                    Answer::json(&document(&url)).header("Cache-Control", "max-age=0"),
                );
                // The first request fills the cache (if anything does).
                authorize(&idp, &url, redirect).await;
                (url, redirect)
            }
        };
        let (outcome, _) = authorize(&idp, &client_id, redirect).await;
        seen.push((probe, (outcome, docs.fetches().len() - before)));
    }
    idp.shutdown().await;
    seen
}

/// What the compliant IdP does for each probe.
fn compliant(probe: Probe) -> Observed {
    let page = Outcome::ErrorPage;
    match probe {
        Probe::Advertised => (code(), 0),
        Probe::Valid => (code(), 1),
        Probe::HttpUrl | Probe::NoPath | Probe::DotSegment | Probe::Fragment | Probe::Userinfo => {
            (page, 0)
        }
        Probe::NoStoreTwice => (code(), 2),
        _ => (page, 1),
    }
}

/// Each §2.7 fault changes exactly the probes it names, and no other.
#[tokio::test]
async fn cimd_faults_break_what_they_say() {
    let all_pages: Vec<(Probe, Observed)> = PROBES
        .iter()
        .map(|p| (*p, (Outcome::ErrorPage, 0)))
        .collect();
    let ignored: Vec<(Probe, Observed)> = all_pages
        .iter()
        .filter(|(p, _)| *p != Probe::Advertised)
        .cloned()
        .collect();
    let faults: [(AsFault, Vec<(Probe, Observed)>); 10] = [
        // Never fetches, never advertises; every URL client is unknown.
        (AsFault::CimdUnsupported, all_pages),
        // Advertises, but never fetches: every URL client is unknown.
        (AsFault::CimdIgnored, ignored),
        (
            AsFault::CimdClientIdUnchecked,
            vec![(Probe::ClientIdMismatch, (code(), 1))],
        ),
        (
            AsFault::CimdRedirectUnchecked,
            vec![(
                Probe::RedirectNotListed,
                (Outcome::Code("http://127.0.0.1:9/other".into()), 1),
            )],
        ),
        (
            AsFault::CimdDocumentUnchecked,
            vec![
                (Probe::HtmlContentType, (code(), 1)),
                (Probe::Array, (code(), 1)),
                (
                    Probe::NoRedirectUris,
                    (Outcome::Code("http://127.0.0.1:9/anywhere".into()), 1),
                ),
            ],
        ),
        (
            AsFault::CimdUrlLax,
            [
                Probe::HttpUrl,
                Probe::NoPath,
                Probe::DotSegment,
                Probe::Fragment,
                Probe::Userinfo,
            ]
            .map(|p| (p, (code(), 1)))
            .to_vec(),
        ),
        (
            AsFault::CimdSharedSecretAccepted,
            vec![
                (Probe::ClientSecret, (code(), 1)),
                (Probe::SecretMethod, (code(), 1)),
            ],
        ),
        (
            AsFault::CimdFollowsRedirects,
            vec![(Probe::CrossOriginRedirect, (code(), 2))],
        ),
        (
            AsFault::CimdNoSizeLimit,
            vec![(Probe::Large, (code(), 1)), (Probe::Slow, (code(), 1))],
        ),
        (
            AsFault::CimdCacheIgnoresHeaders,
            vec![(Probe::NoStoreTwice, (code(), 1))],
        ),
    ];
    let baseline = observe(&[]).await;
    let due: Vec<_> = PROBES.iter().map(|p| (*p, compliant(*p))).collect();
    assert_eq!(baseline, due, "the compliant IdP");
    for (fault, changed) in faults {
        let seen = observe(&[fault]).await;
        let due: Vec<_> = PROBES
            .iter()
            .map(|p| {
                let observed = changed
                    .iter()
                    .find(|(c, _)| c == p)
                    .map_or_else(|| compliant(*p), |(_, o)| o.clone());
                (*p, observed)
            })
            .collect();
        assert_eq!(seen, due, "{fault}");
    }
}

/// Under `as-cimd-unsupported` a URL client is unknown at the token endpoint too, and the
/// document is never fetched; under `as-cimd-shared-secret-accepted` the document's secret
/// authenticates its client.
#[tokio::test]
async fn token_endpoint_under_faults() {
    let docs = DocServer::start().await;
    let idp = idp_with(&[AsFault::CimdUnsupported], cimd_config()).await;
    let url = docs.valid("/c/app.json");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("code_verifier", "y"),
        ("client_id", url.as_str()),
    ];
    let (status, body) = post_form(&http(), &idp.token_endpoint(), None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(docs.fetches(), vec![]);
    idp.shutdown().await;

    let idp = idp_with(&[AsFault::CimdSharedSecretAccepted], cimd_config()).await;
    let url = format!("{}/c/secret.json", docs.origin);
    let mut doc = document(&url);
    doc["client_secret"] = json!("s3cret");
    doc["token_endpoint_auth_method"] = json!("client_secret_post");
    docs.route("/c/secret.json", Answer::json(&doc));
    let (status, body) = code_flow(&idp, &url, LOOPBACK_REDIRECT, Some("s3cret")).await;
    assert_eq!(status, 200, "{body}");
    idp.shutdown().await;
}
