//! A real third-party authorization server (node-oidc-provider, `compat/authorization-servers/
//! oidc-provider`) started on loopback, proving over HTTP what the tool's real-AS mode relies
//! on: discovery, client credentials with a resource indicator (RFC 8707) giving an RFC 9068
//! JWT for that resource, DPoP binding (RFC 9449, with a nonce retry), authorization code +
//! PKCE through the login command, the device flow through the approval command, and the
//! reference server accepting such a token (RS256; of ES256 tokens only the low-S half: see
//! the last test).
//!
//! Each test starts its own server (about half a second). Without `npm ci` there, every test is
//! skipped with a note, except under `CI`, where that fails.

use std::process::Stdio;
use std::time::Instant;

use compat::authorization_server::{
    CC_CLIENT_ID, CC_CLIENT_SECRET, LOGIN_USERNAME, PUBLIC_CLIENT_ID, REDIRECT_PATH,
};
use compat::{AsOptions, ThirdPartyAs};
use mock_idp::alg::{Algorithm, EcCurve};
use mock_idp::dpop::proof::ProofBuilder;
use mock_idp::ecdsa::is_high_s;
use mock_idp::jwk::Jwk;
use mock_idp::jws::Jws;
use mock_idp::keys::{SigningKey, VerifyingKey};
use reference_server::{Config, ReferenceServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Any loopback MCP URL is a resource server to this AS.
const RESOURCE: &str = "http://127.0.0.1:1234/mcp";

/// The server, or None (with a note) when it is not installed outside CI.
fn start(options: AsOptions) -> Option<ThirdPartyAs> {
    if !ThirdPartyAs::is_installed() {
        let note = "oidc-provider is not installed: run npm ci in compat/authorization-servers/oidc-provider";
        assert!(std::env::var_os("CI").is_none(), "under CI: {note}");
        eprintln!("note: skipped: {note}");
        return None;
    }
    let started = Instant::now();
    let server = ThirdPartyAs::start_with(&options).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "oidc-provider ({}{}) at {} started in {:.2} s",
        options.alg,
        if options.dpop_nonce {
            ", DPoP nonce"
        } else {
            ""
        },
        server.issuer(),
        started.elapsed().as_secs_f64()
    );
    Some(server)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

async fn metadata(server: &ThirdPartyAs) -> Value {
    let (status, _, doc) = json_of(http().get(server.metadata_url()).send().await.unwrap()).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

fn endpoint(doc: &Value, name: &str) -> String {
    doc[name]
        .as_str()
        .unwrap_or_else(|| panic!("metadata has no {name}: {doc}"))
        .to_owned()
}

/// Header and claims of a compact JWS (no verification: the reference server does that).
fn decode(jwt: &str) -> (Value, Value) {
    let part = |s: &str| -> Value {
        serde_json::from_slice(&mock_idp::b64::decode_strict(s).unwrap()).unwrap()
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    (part(parts[0]), part(parts[1]))
}

async fn client_credentials(server: &ThirdPartyAs, resource: &str, scope: &str) -> Value {
    let token_endpoint = endpoint(&metadata(server).await, "token_endpoint");
    let (status, _, body) = json_of(
        http()
            .post(&token_endpoint)
            .basic_auth(CC_CLIENT_ID, Some(CC_CLIENT_SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}\n{}", server.stderr());
    body
}

/// The access token is an RFC 9068 JWT for `resource` with `scope`, signed with `alg` by a key
/// of the issuer's JWKS.
async fn assert_at_jwt(server: &ThirdPartyAs, token: &str, alg: &str, resource: &str, scope: &str) {
    let (header, claims) = decode(token);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], alg, "{header}");
    assert_eq!(claims["iss"], server.issuer(), "{claims}");
    assert_eq!(claims["aud"], resource, "{claims}");
    assert_eq!(claims["scope"], scope, "{claims}");
    for claim in ["sub", "client_id", "iat", "exp", "jti"] {
        assert!(claims.get(claim).is_some(), "no {claim}: {claims}");
    }
    let jwks_uri = endpoint(&metadata(server).await, "jwks_uri");
    let jwks: Value = http()
        .get(&jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    assert_eq!(
        key["kty"],
        if alg == "ES256" { "EC" } else { "RSA" },
        "{key}"
    );
    assert!(key.get("d").is_none(), "private JWK published: {key}");
}

#[tokio::test]
async fn discovery_at_both_well_known_paths() {
    let Some(server) = start(AsOptions::new("RS256")) else {
        return;
    };
    let doc = metadata(&server).await;
    assert_eq!(doc["issuer"], server.issuer());
    for name in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "device_authorization_endpoint",
    ] {
        assert!(
            endpoint(&doc, name).starts_with(server.issuer()),
            "{name}: {doc}"
        );
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        doc["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256")),
        "{doc}"
    );
    for scope in ["openid", "mcp:read", "mcp:write"] {
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope)),
            "{doc}"
        );
    }
    // oidc-provider also serves RFC 8414's path (same document, issuer without a path).
    let (status, _, rfc8414) = json_of(
        http()
            .get(format!(
                "{}/.well-known/oauth-authorization-server",
                server.issuer()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{rfc8414}");
    assert_eq!(rfc8414, doc);
}

#[tokio::test]
async fn client_credentials_gives_an_rs256_at_jwt_for_the_resource() {
    let Some(server) = start(AsOptions::new("RS256")) else {
        return;
    };
    let body = client_credentials(&server, RESOURCE, "mcp:read").await;
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["scope"], "mcp:read", "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_at_jwt(&server, token, "RS256", RESOURCE, "mcp:read").await;
    let (_, claims) = decode(token);
    assert_eq!(claims["sub"], CC_CLIENT_ID, "{claims}");
    assert_eq!(claims["client_id"], CC_CLIENT_ID, "{claims}");

    // client_secret_post works for the same client; a wrong secret and a non-loopback
    // resource are refused.
    let token_endpoint = endpoint(&metadata(&server).await, "token_endpoint");
    let post = |form: Vec<(&'static str, &'static str)>| {
        let request = http().post(&token_endpoint).form(&form);
        async move { json_of(request.send().await.unwrap()).await }
    };
    let (status, _, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CC_CLIENT_ID),
        ("client_secret", CC_CLIENT_SECRET),
        ("resource", RESOURCE),
        ("scope", "mcp:read mcp:write"),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "mcp:read mcp:write", "{body}");
    let (status, _, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CC_CLIENT_ID),
        ("client_secret", "wrong"),
        ("resource", RESOURCE),
    ])
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let (status, _, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CC_CLIENT_ID),
        ("client_secret", CC_CLIENT_SECRET),
        ("resource", "https://mcp.example.com/mcp"),
    ])
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_target", "{body}");
}

#[tokio::test]
async fn client_credentials_with_alg_es256() {
    let Some(server) = start(AsOptions::new("ES256")) else {
        return;
    };
    let body = client_credentials(&server, RESOURCE, "mcp:read").await;
    let token = body["access_token"].as_str().unwrap();
    assert_at_jwt(&server, token, "ES256", RESOURCE, "mcp:read").await;
}

/// client_credentials with a DPoP proof (RFC 9449 §5), retrying once with the server's nonce
/// after `use_dpop_nonce` (§8). Returns the token response and whether a retry was needed.
async fn dpop_client_credentials(server: &ThirdPartyAs, key: &SigningKey) -> (Value, bool) {
    let token_endpoint = endpoint(&metadata(server).await, "token_endpoint");
    let mut nonce: Option<String> = None;
    for attempt in 0..2 {
        let mut proof = ProofBuilder::new("POST", &token_endpoint);
        if let Some(n) = &nonce {
            proof = proof.nonce(n);
        }
        let (status, headers, body) = json_of(
            http()
                .post(&token_endpoint)
                .basic_auth(CC_CLIENT_ID, Some(CC_CLIENT_SECRET))
                .header("DPoP", proof.sign(key))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", RESOURCE),
                    ("scope", "mcp:read"),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        if status == 200 {
            return (body, attempt == 1);
        }
        assert_eq!(status, 400, "{body}\n{}", server.stderr());
        assert_eq!(body["error"], "use_dpop_nonce", "{body}");
        nonce = Some(
            headers
                .get("dpop-nonce")
                .expect("use_dpop_nonce comes with a DPoP-Nonce header")
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    panic!("no token after the nonce retry");
}

#[tokio::test]
async fn dpop_bound_client_credentials_with_and_without_a_nonce() {
    for dpop_nonce in [false, true] {
        let Some(server) = start(AsOptions {
            dpop_nonce,
            ..AsOptions::new("RS256")
        }) else {
            return;
        };
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let (body, retried) = dpop_client_credentials(&server, &key).await;
        assert_eq!(retried, dpop_nonce, "a retry only when a nonce is demanded");
        assert_eq!(body["token_type"], "DPoP", "{body}");
        let token = body["access_token"].as_str().unwrap();
        assert_at_jwt(&server, token, "RS256", RESOURCE, "mcp:read").await;
        let (_, claims) = decode(token);
        assert_eq!(
            claims["cnf"]["jkt"],
            key.public_jwk().thumbprint(),
            "{claims}"
        );
    }
}

/// Answers one HTTP request on a loopback listener with 200 and returns its target.
async fn one_request(listener: tokio::net::TcpListener) -> String {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the request head");
        head.extend_from_slice(&buf[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await
        .unwrap();
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap();
    let mut parts = line.split(' ');
    assert_eq!(parts.next(), Some("GET"), "{line}");
    parts.next().unwrap().to_owned()
}

/// Runs a command line plus `args`: its exit status and stderr.
async fn run(command: &[String], args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn authorization_code_with_pkce_through_the_login_command() {
    let Some(server) = start(AsOptions::new("RS256")) else {
        return;
    };
    let doc = metadata(&server).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!(
        "http://127.0.0.1:{}{REDIRECT_PATH}",
        listener.local_addr().unwrap().port()
    );
    let verifier = mock_idp::random_b64url(32);
    let state = mock_idp::random_b64url(16);
    let url = reqwest::Url::parse_with_params(
        &endpoint(&doc, "authorization_endpoint"),
        &[
            ("response_type", "code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", &redirect_uri),
            ("scope", "openid mcp:read"),
            ("resource", RESOURCE),
            ("code_challenge", &mock_idp::jwk::pkce_s256(&verifier)),
            ("code_challenge_method", "S256"),
            ("state", &state),
        ],
    )
    .unwrap();

    let started = Instant::now();
    let callback = tokio::spawn(one_request(listener));
    // The URL in the environment rather than as argument: both are read.
    let (ok, stderr) = run(
        &server.login_command(),
        &[],
        &[("MCP_AUTHSPEC_AUTHORIZATION_URL", url.as_str())],
    )
    .await;
    assert!(ok, "login command failed: {stderr}\n{}", server.stderr());
    let target = callback.await.unwrap();
    eprintln!(
        "login command reached the redirect URI in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let callback = reqwest::Url::parse(&format!("http://127.0.0.1{target}")).unwrap();
    assert_eq!(callback.path(), REDIRECT_PATH);
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(state.as_str()));
    // RFC 9207: oidc-provider names itself in the authorization response.
    assert_eq!(param("iss").as_deref(), Some(server.issuer()));
    let code = param("code").expect("a code");

    let token_endpoint = endpoint(&doc, "token_endpoint");
    let (status, _, body) = json_of(
        http()
            .post(&token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("client_id", PUBLIC_CLIENT_ID),
                ("code_verifier", &verifier),
                ("resource", RESOURCE),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}\n{}", server.stderr());
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_at_jwt(&server, token, "RS256", RESOURCE, "mcp:read").await;
    let (_, claims) = decode(token);
    assert_eq!(claims["sub"], LOGIN_USERNAME, "{claims}");
    assert_eq!(claims["client_id"], PUBLIC_CLIENT_ID, "{claims}");

    // The refresh token gives another access token for the same resource.
    let refresh = body["refresh_token"].as_str().expect("a refresh token");
    let (status, _, body) = json_of(
        http()
            .post(&token_endpoint)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", PUBLIC_CLIENT_ID),
                ("resource", RESOURCE),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_at_jwt(&server, token, "RS256", RESOURCE, "mcp:read").await;
}

#[tokio::test]
async fn the_login_command_fails_on_a_wrong_password_and_a_missing_pkce() {
    let Some(server) = start(AsOptions::new("RS256")) else {
        return;
    };
    let doc = metadata(&server).await;
    let redirect_uri = format!("http://127.0.0.1:9{REDIRECT_PATH}");
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", PUBLIC_CLIENT_ID.to_owned()),
        ("redirect_uri", redirect_uri),
        ("scope", "mcp:read".to_owned()),
        ("resource", RESOURCE.to_owned()),
        (
            "code_challenge",
            mock_idp::jwk::pkce_s256("v".repeat(43).as_str()),
        ),
        ("code_challenge_method", "S256".to_owned()),
    ];
    let url = reqwest::Url::parse_with_params(&endpoint(&doc, "authorization_endpoint"), &params)
        .unwrap();
    let (ok, stderr) = run(
        &server.login_command(),
        &[url.as_str()],
        &[("MCP_AUTHSPEC_LOGIN_PASSWORD", "not-the-password")],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("HTTP 401"), "{stderr}");

    // Without PKCE the AS sends invalid_request to the redirect URI: the command delivers it
    // (so the tool sees the error too) and fails with it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!(
        "http://127.0.0.1:{}{REDIRECT_PATH}",
        listener.local_addr().unwrap().port()
    );
    params.retain(|(k, _)| !k.starts_with("code_challenge"));
    for (k, v) in &mut params {
        if *k == "redirect_uri" {
            *v = redirect_uri.clone();
        }
    }
    let url = reqwest::Url::parse_with_params(&endpoint(&doc, "authorization_endpoint"), &params)
        .unwrap();
    let callback = tokio::spawn(one_request(listener));
    let (ok, stderr) = run(&server.login_command(), &[url.as_str()], &[]).await;
    assert!(!ok);
    assert!(stderr.contains("error=invalid_request"), "{stderr}");
    assert!(callback.await.unwrap().contains("error=invalid_request"));
}

#[tokio::test]
async fn device_flow_through_the_approval_command() {
    let Some(server) = start(AsOptions::new("ES256")) else {
        return;
    };
    let doc = metadata(&server).await;
    let (status, _, grant) = json_of(
        http()
            .post(endpoint(&doc, "device_authorization_endpoint"))
            .form(&[
                ("client_id", PUBLIC_CLIENT_ID),
                ("scope", "mcp:read mcp:write"),
                ("resource", RESOURCE),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    let device_code = grant["device_code"].as_str().unwrap();
    let token_endpoint = endpoint(&doc, "token_endpoint");
    let poll = || {
        http()
            .post(&token_endpoint)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", PUBLIC_CLIENT_ID),
                ("resource", RESOURCE),
            ])
            .send()
    };
    let (status, _, body) = json_of(poll().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "authorization_pending", "{body}");

    let started = Instant::now();
    let (ok, stderr) = run(
        &server.device_approve_command(),
        &[
            grant["verification_uri"].as_str().unwrap(),
            grant["user_code"].as_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(ok, "approval failed: {stderr}\n{}", server.stderr());
    eprintln!(
        "device code approved in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let (status, _, body) = json_of(poll().await.unwrap()).await;
    assert_eq!(status, 200, "{body}\n{}", server.stderr());
    let token = body["access_token"].as_str().unwrap();
    assert_at_jwt(&server, token, "ES256", RESOURCE, "mcp:read mcp:write").await;

    // The same user code a second time is refused.
    let (ok, stderr) = run(
        &server.device_approve_command(),
        &[
            grant["verification_uri"].as_str().unwrap(),
            grant["user_code"].as_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("user code refused"), "{stderr}");
}

/// `initialize` on the reference server with `token` as Bearer.
async fn initialize(
    reference: &ReferenceServer,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    json_of(
        http()
            .post(reference.mcp_url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "third_party_as", "version": "0"}}}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The reference server, trusting the AS by discovery (`Config::discover`: RFC 8414's path
/// answers first), takes its RS256 client-credentials token on `initialize`: RFC 9068 profile
/// (`typ` at+jwt, `client_id`, `iat`, `jti`), audience = its resource, issuer by exact match.
#[tokio::test]
async fn the_reference_server_accepts_an_rs256_client_credentials_token() {
    let Some(server) = start(AsOptions::new("RS256")) else {
        return;
    };
    let reference = ReferenceServer::start(Config::discover(server.issuer()))
        .await
        .unwrap_or_else(|e| panic!("reference server: {e}"));
    let body = client_credentials(&server, reference.resource(), "mcp:read").await;
    let token = body["access_token"].as_str().unwrap();
    let (status, headers, answer) = initialize(&reference, token).await;
    assert_eq!(
        status,
        200,
        "refused: {answer}; WWW-Authenticate: {:?}; token {:?}",
        headers.get("www-authenticate"),
        decode(token)
    );
    assert!(answer.get("result").is_some(), "{answer}");
    reference.shutdown().await;
}

/// ES256: oidc-provider signs with Node's crypto (through jose), which does not normalise
/// ECDSA signatures to low S, so about half of its ES256 tokens carry s > n/2. The reference
/// server refuses every high-S signature (spec rs-ecdsa-high-s, unless `Fault::AcceptHighS`)
/// with `invalid_token` "signature: bad signature", although such a signature is valid ECDSA
/// (RFC 7518 §3.4 does not ask for low S): proven here by verifying it ourselves.
#[tokio::test]
async fn the_reference_server_refuses_the_high_s_half_of_es256_tokens() {
    let Some(server) = start(AsOptions::new("ES256")) else {
        return;
    };
    let reference = ReferenceServer::start(Config::discover(server.issuer()))
        .await
        .unwrap_or_else(|e| panic!("reference server: {e}"));
    let jwks: Value = http()
        .get(endpoint(&metadata(&server).await, "jwks_uri"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (mut low, mut high) = (0, 0);
    // A token is high-S with probability 1/2: 64 draws miss one kind with probability 2^-63.
    for _ in 0..64 {
        let body = client_credentials(&server, reference.resource(), "mcp:read").await;
        let token = body["access_token"].as_str().unwrap();
        let jws = Jws::parse(token).unwrap();
        let (header, _) = decode(token);
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap();
        let key = VerifyingKey::from_jwk(&Jwk::from_json(jwk).unwrap()).unwrap();
        // Valid ECDSA either way.
        key.verify(
            Algorithm::Es256,
            jws.signing_input(),
            jws.signature(),
            false,
        )
        .unwrap_or_else(|e| panic!("oidc-provider's signature does not verify: {e}"));
        let is_high = is_high_s(EcCurve::P256, &jws.signature()[32..]);
        let (status, _, answer) = initialize(&reference, token).await;
        if is_high {
            high += 1;
            assert_eq!(status, 401, "a high-S token accepted: {answer}");
            assert_eq!(
                answer["error_description"], "signature: bad signature",
                "{answer}"
            );
        } else {
            low += 1;
            assert_eq!(status, 200, "a low-S token refused: {answer}");
            assert!(answer.get("result").is_some(), "{answer}");
        }
        if low > 0 && high > 0 {
            break;
        }
    }
    assert!(low > 0 && high > 0, "low-S {low}, high-S {high}");
    eprintln!(
        "ES256: low-S accepted, high-S refused ({} tokens)",
        low + high
    );
    reference.shutdown().await;
}
