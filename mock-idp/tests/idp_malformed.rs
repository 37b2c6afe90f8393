//! Every malformed request gets the right OAuth error with the right status, never a panic
//! or a 5xx. One table per endpoint: request → expected status and error code.

mod idp_support;

use base64::Engine as _;
use idp_support::{http, location_params, param, pkce, start};
use mock_idp::server::{
    CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, MockIdp, PUBLIC_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET,
};
use reqwest::Method;
use serde_json::Value;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// What a row expects back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A JSON OAuth error with this status and code.
    Json(u16, &'static str),
    /// The authorization endpoint's error page: 400, no `Location`, the code in the page.
    Page(&'static str),
    /// An HTML page with this status, no `Location`, and this text in it.
    Html(u16, &'static str),
    /// A redirect to the client with `error`, `state` and `iss`.
    Redirect(&'static str),
}

struct Row {
    name: &'static str,
    method: Method,
    /// Appended to the endpoint URL (a raw query string for GETs).
    suffix: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    expect: Expect,
}

fn basic(id: &str, secret: &str) -> (&'static str, String) {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    ("authorization", format!("Basic {token}"))
}

fn conf() -> (&'static str, String) {
    basic(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
}

fn rs() -> (&'static str, String) {
    basic(RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET)
}

fn ct(v: &str) -> (&'static str, String) {
    ("content-type", v.to_owned())
}

fn post(
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Row {
    Row {
        name,
        method: Method::POST,
        suffix: String::new(),
        headers,
        body: body.into(),
        expect,
    }
}

fn get(name: &'static str, query: String, expect: Expect) -> Row {
    Row {
        name,
        method: Method::GET,
        suffix: if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        },
        headers: Vec::new(),
        body: Vec::new(),
        expect,
    }
}

fn other_method(name: &'static str, method: Method, expect: Expect) -> Row {
    Row {
        name,
        method,
        suffix: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        expect,
    }
}

/// RFC 6749 §5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E.
fn oauth_charset(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

async fn run(idp: &MockIdp, endpoint: &str, rows: Vec<Row>) {
    let client = http();
    let mut failures = Vec::new();
    for row in rows {
        let mut req = client.request(row.method.clone(), format!("{endpoint}{}", row.suffix));
        for (k, v) in &row.headers {
            req = req.header(*k, v);
        }
        if !row.body.is_empty() {
            req = req.body(row.body.clone());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let problem = match row.expect {
            Expect::Json(want_status, want_error) => {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let error = body["error"].as_str().unwrap_or_default();
                let desc = body["error_description"].as_str().unwrap_or_default();
                if (status, error) != (want_status, want_error) {
                    Some(format!("got {status} {body}"))
                } else if headers.get("cache-control").is_none_or(|v| v != "no-store") {
                    Some("no Cache-Control: no-store".into())
                } else if !headers["content-type"].to_str().unwrap().starts_with(JSON) {
                    Some("not JSON".into())
                } else if !oauth_charset(error) || !oauth_charset(desc) {
                    Some(format!(
                        "error or description outside the RFC 6749 charset: {body}"
                    ))
                } else if status == 401
                    && !headers
                        .get("www-authenticate")
                        .is_some_and(|v| v.to_str().unwrap().starts_with("Basic "))
                {
                    Some("401 without a Basic challenge".into())
                } else if status == 405 && headers.get("allow").is_none() {
                    Some("405 without Allow".into())
                } else {
                    None
                }
            }
            Expect::Page(want_text) | Expect::Html(_, want_text) => {
                let want_status = match row.expect {
                    Expect::Html(s, _) => s,
                    _ => 400,
                };
                let location = headers.get("location").cloned();
                let text = resp.text().await.unwrap_or_default();
                if status != want_status || location.is_some() || !text.contains(want_text) {
                    Some(format!("got {status}, Location {location:?}, page {text}"))
                } else {
                    None
                }
            }
            Expect::Redirect(want_error) => {
                if status != 302 {
                    Some(format!(
                        "got {status}: {}",
                        resp.text().await.unwrap_or_default()
                    ))
                } else {
                    let (location, params) = location_params(&resp);
                    if !location.starts_with("http://127.0.0.1:5000/callback?")
                        || param(&params, "error") != Some(want_error)
                        || param(&params, "iss") != Some(idp.issuer())
                        || param(&params, "code").is_some()
                    {
                        Some(format!("redirected to {location}"))
                    } else {
                        None
                    }
                }
            }
        };
        if let Some(p) = problem {
            failures.push(format!("{}: expected {:?}, {p}", row.name, row.expect));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn token_endpoint_table() {
    use Expect::Json;
    let idp = start().await;
    let huge = format!("grant_type=client_credentials&x={}", "a".repeat(70 * 1024));
    let cc = "grant_type=client_credentials";
    let rows = vec![
        other_method("GET", Method::GET, Json(405, "invalid_request")),
        other_method("PUT", Method::PUT, Json(405, "invalid_request")),
        post(
            "no content type",
            vec![conf()],
            cc,
            Json(400, "invalid_request"),
        ),
        post(
            "JSON body",
            vec![conf(), ct(JSON)],
            r#"{"grant_type":"client_credentials"}"#,
            Json(400, "invalid_request"),
        ),
        post(
            "text body",
            vec![conf(), ct("text/plain")],
            cc,
            Json(400, "invalid_request"),
        ),
        post(
            "body over 64 KiB",
            vec![conf(), ct(FORM)],
            huge,
            Json(400, "invalid_request"),
        ),
        post(
            "non-UTF-8 body",
            vec![conf(), ct(FORM)],
            b"grant_type=\xff\xfe".to_vec(),
            Json(400, "invalid_request"),
        ),
        post(
            "percent-encoded non-UTF-8",
            vec![conf(), ct(FORM)],
            "grant_type=%FF",
            Json(400, "invalid_request"),
        ),
        post(
            "empty body",
            vec![conf(), ct(FORM)],
            "",
            Json(400, "invalid_request"),
        ),
        post(
            "empty grant_type",
            vec![conf(), ct(FORM)],
            "grant_type=",
            Json(400, "invalid_request"),
        ),
        post(
            "password grant",
            vec![conf(), ct(FORM)],
            "grant_type=password&username=a&password=b",
            Json(400, "unsupported_grant_type"),
        ),
        post(
            "unknown grant",
            vec![conf(), ct(FORM)],
            "grant_type=foo",
            Json(400, "unsupported_grant_type"),
        ),
        post(
            "implicit grant",
            vec![conf(), ct(FORM)],
            "grant_type=implicit",
            Json(400, "unsupported_grant_type"),
        ),
        post(
            "duplicate grant_type",
            vec![conf(), ct(FORM)],
            "grant_type=client_credentials&grant_type=client_credentials",
            Json(400, "invalid_request"),
        ),
        post(
            "duplicate code",
            vec![conf(), ct(FORM)],
            "grant_type=authorization_code&code=a&code=b",
            Json(400, "invalid_request"),
        ),
        post(
            "duplicate scope",
            vec![conf(), ct(FORM)],
            "grant_type=client_credentials&scope=mcp:read&scope=mcp:write",
            Json(400, "invalid_request"),
        ),
        post(
            "no client authentication",
            vec![ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "wrong Basic secret",
            vec![basic(CONFIDENTIAL_CLIENT_ID, "nope"), ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "unknown Basic client",
            vec![basic("nobody", "x"), ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "Basic not base64",
            vec![("authorization", "Basic !!!".into()), ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "Basic without colon",
            vec![("authorization", "Basic YWJj".into()), ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "Bearer instead of Basic",
            vec![("authorization", "Bearer abc".into()), ct(FORM)],
            cc,
            Json(401, "invalid_client"),
        ),
        post(
            "two Authorization headers",
            vec![conf(), conf(), ct(FORM)],
            cc,
            Json(400, "invalid_request"),
        ),
        post(
            "wrong post secret",
            vec![ct(FORM)],
            format!("{cc}&client_id={CONFIDENTIAL_CLIENT_ID}&client_secret=nope"),
            Json(400, "invalid_client"),
        ),
        post(
            "unknown post client",
            vec![ct(FORM)],
            format!("{cc}&client_id=nobody&client_secret=x"),
            Json(400, "invalid_client"),
        ),
        post(
            "confidential client without secret",
            vec![ct(FORM)],
            format!("{cc}&client_id={CONFIDENTIAL_CLIENT_ID}"),
            Json(400, "invalid_client"),
        ),
        post(
            "public client with a secret",
            vec![ct(FORM)],
            format!(
                "grant_type=authorization_code&code=x&client_id={PUBLIC_CLIENT_ID}&client_secret=x"
            ),
            Json(400, "invalid_client"),
        ),
        post(
            "secret without client_id",
            vec![ct(FORM)],
            format!("{cc}&client_secret=x"),
            Json(400, "invalid_request"),
        ),
        post(
            "Basic and post together",
            vec![conf(), ct(FORM)],
            format!("{cc}&client_secret={CONFIDENTIAL_CLIENT_SECRET}"),
            Json(400, "invalid_request"),
        ),
        post(
            "client_id differs from Basic",
            vec![conf(), ct(FORM)],
            format!("{cc}&client_id={PUBLIC_CLIENT_ID}"),
            Json(400, "invalid_request"),
        ),
        post(
            "client assertion",
            vec![ct(FORM)],
            format!(
                "{cc}&client_id={CONFIDENTIAL_CLIENT_ID}&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c"
            ),
            Json(400, "invalid_client"),
        ),
        post(
            "public client, client_credentials",
            vec![ct(FORM)],
            format!("{cc}&client_id={PUBLIC_CLIENT_ID}"),
            Json(400, "unauthorized_client"),
        ),
        post(
            "resource-server client, client_credentials",
            vec![rs(), ct(FORM)],
            cc,
            Json(400, "unauthorized_client"),
        ),
        post(
            "unknown scope",
            vec![conf(), ct(FORM)],
            format!("{cc}&scope=root"),
            Json(400, "invalid_scope"),
        ),
        post(
            "malformed scope",
            vec![conf(), ct(FORM)],
            format!("{cc}&scope=mcp:read++mcp:write"),
            Json(400, "invalid_scope"),
        ),
        post(
            "relative resource",
            vec![conf(), ct(FORM)],
            format!("{cc}&resource=/mcp"),
            Json(400, "invalid_target"),
        ),
        post(
            "resource with fragment",
            vec![conf(), ct(FORM)],
            format!("{cc}&resource=https%3A%2F%2Fmcp.test%2Fmcp%23f"),
            Json(400, "invalid_target"),
        ),
        post(
            "code missing",
            vec![conf(), ct(FORM)],
            "grant_type=authorization_code",
            Json(400, "invalid_request"),
        ),
        post(
            "code unknown",
            vec![conf(), ct(FORM)],
            "grant_type=authorization_code&code=nope&code_verifier=x",
            Json(400, "invalid_grant"),
        ),
        post(
            "refresh_token missing",
            vec![conf(), ct(FORM)],
            "grant_type=refresh_token",
            Json(400, "invalid_request"),
        ),
        post(
            "refresh_token unknown",
            vec![conf(), ct(FORM)],
            "grant_type=refresh_token&refresh_token=nope",
            Json(400, "invalid_grant"),
        ),
        post(
            "garbage DPoP proof",
            vec![conf(), ct(FORM), ("dpop", "not-a-jwt".into())],
            cc,
            Json(400, "invalid_dpop_proof"),
        ),
        post(
            "empty DPoP header",
            vec![conf(), ct(FORM), ("dpop", String::new())],
            cc,
            Json(400, "invalid_dpop_proof"),
        ),
    ];
    run(&idp, &idp.token_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn authorization_endpoint_table() {
    use Expect::{Json, Page, Redirect};
    let idp = start().await;
    let (_, challenge) = pkce();
    let redirect = "http%3A%2F%2F127.0.0.1%3A5000%2Fcallback";
    let good = format!(
        "response_type=code&client_id={PUBLIC_CLIENT_ID}&redirect_uri={redirect}&code_challenge={challenge}&code_challenge_method=S256&state=s1"
    );
    let without = |name: &str| {
        good.split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join("&")
    };
    let with = |extra: &str| format!("{good}&{extra}");
    let conf_redirect = |uri: &str| {
        format!(
            "response_type=code&client_id={CONFIDENTIAL_CLIENT_ID}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
            url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        )
    };
    let mut rows = vec![
        get("no parameters", String::new(), Page("invalid_request")),
        get(
            "no client_id",
            without("client_id"),
            Page("invalid_request"),
        ),
        get(
            "unknown client",
            good.replace(PUBLIC_CLIENT_ID, "nobody"),
            Page("invalid_client"),
        ),
        get(
            "duplicate client_id",
            with(&format!("client_id={PUBLIC_CLIENT_ID}")),
            Page("invalid_request"),
        ),
        get(
            "duplicate redirect_uri",
            with(&format!("redirect_uri={redirect}")),
            Page("invalid_request"),
        ),
        get(
            "unregistered loopback path",
            good.replace("callback", "other"),
            Page("invalid_request"),
        ),
        get(
            "loopback host swapped",
            good.replace("127.0.0.1", "localhost.evil.test"),
            Page("invalid_request"),
        ),
        get(
            "several registered, none named",
            conf_redirect("").replace("&redirect_uri=", ""),
            Page("invalid_request"),
        ),
        get(
            "client without redirect URIs",
            format!("response_type=code&client_id={RESOURCE_SERVER_CLIENT_ID}"),
            Page("invalid_request"),
        ),
        get(
            "duplicate state",
            with("state=s2"),
            Redirect("invalid_request"),
        ),
        get(
            "duplicate code_challenge",
            with(&format!("code_challenge={challenge}")),
            Redirect("invalid_request"),
        ),
        get(
            "no response_type",
            without("response_type"),
            Redirect("invalid_request"),
        ),
        get(
            "response_type token",
            good.replace("response_type=code", "response_type=token"),
            Redirect("unsupported_response_type"),
        ),
        get(
            "response_type code id_token",
            good.replace("response_type=code", "response_type=code+id_token"),
            Redirect("unsupported_response_type"),
        ),
        get(
            "no code_challenge",
            without("code_challenge"),
            Redirect("invalid_request"),
        ),
        get(
            "no code_challenge_method",
            without("code_challenge_method"),
            Redirect("invalid_request"),
        ),
        get(
            "plain",
            good.replace("method=S256", "method=plain"),
            Redirect("invalid_request"),
        ),
        get(
            "S512",
            good.replace("method=S256", "method=S512"),
            Redirect("invalid_request"),
        ),
        get(
            "42-character challenge",
            good.replace(&challenge, &challenge[..42]),
            Redirect("invalid_request"),
        ),
        get(
            "challenge with +",
            good.replace(&challenge, &format!("{}%2B", &challenge[..42])),
            Redirect("invalid_request"),
        ),
        get(
            "unknown scope",
            with("scope=__invalid__"),
            Redirect("invalid_scope"),
        ),
        get(
            "relative resource",
            with("resource=%2Fmcp"),
            Redirect("invalid_target"),
        ),
        get(
            "resource with fragment",
            with("resource=https%3A%2F%2Fmcp.test%2Fmcp%23f"),
            Redirect("invalid_target"),
        ),
        get(
            "request object",
            with("request=a.b.c"),
            Redirect("request_not_supported"),
        ),
        get(
            "request_uri",
            with("request_uri=urn%3Ax"),
            Redirect("request_uri_not_supported"),
        ),
        get(
            "response_mode fragment",
            with("response_mode=fragment"),
            Redirect("invalid_request"),
        ),
        get(
            "malformed dpop_jkt",
            with("dpop_jkt=abc"),
            Redirect("invalid_request"),
        ),
        other_method("POST", Method::POST, Json(405, "invalid_request")),
        other_method(
            "CORS preflight",
            Method::OPTIONS,
            Json(405, "invalid_request"),
        ),
    ];
    // spec as-authz-redirect-exact: mutations of https://client.test/cb are never redirected to.
    for uri in [
        "https://client.test/cb/",
        "https://client.test/cb/x",
        "https://client.test/cb?x=1",
        "https://client.test/CB",
        "https://CLIENT.test/cb",
        "http://client.test/cb",
        "https://client.test:8443/cb",
        "https://evil.client.test/cb",
        "https://client.test.evil/cb",
        "https://user@client.test/cb",
        "https://client.test/cb#f",
        "https://client.test/%63b",
        "javascript:alert(1)",
    ] {
        rows.push(get(
            "redirect_uri mutation",
            conf_redirect(uri),
            Page("invalid_request"),
        ));
    }
    run(&idp, &idp.authorization_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn registration_endpoint_table() {
    use Expect::Json;
    let idp = start().await;
    let j = || vec![ct(JSON)];
    let meta = "invalid_client_metadata";
    let redirect = "invalid_redirect_uri";
    let huge = format!(r#"{{"client_name":"{}"}}"#, "a".repeat(70 * 1024));
    let rows = vec![
        other_method("GET", Method::GET, Json(405, "invalid_request")),
        post(
            "no content type",
            vec![],
            r#"{"redirect_uris":["https://c.test/cb"]}"#,
            Json(400, meta),
        ),
        post(
            "form content type",
            vec![ct(FORM)],
            "redirect_uris=https://c.test/cb",
            Json(400, meta),
        ),
        post("not JSON", j(), "{redirect_uris:", Json(400, meta)),
        post(
            "trailing garbage",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"]} x"#,
            Json(400, meta),
        ),
        post(
            "JSON array",
            j(),
            r#"[{"redirect_uris":["https://c.test/cb"]}]"#,
            Json(400, meta),
        ),
        post("JSON string", j(), r#""x""#, Json(400, meta)),
        post(
            "non-UTF-8",
            j(),
            b"{\"client_name\":\"\xff\"}".to_vec(),
            Json(400, meta),
        ),
        post(
            "duplicate member",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"redirect_uris":["https://evil.test/cb"]}"#,
            Json(400, meta),
        ),
        post("body over 64 KiB", j(), huge, Json(400, "invalid_request")),
        post("empty body", j(), "", Json(400, meta)),
        post(
            "non-loopback http",
            j(),
            r#"{"redirect_uris":["http://client.test/cb"]}"#,
            Json(400, redirect),
        ),
        post(
            "fragment",
            j(),
            r#"{"redirect_uris":["https://c.test/cb#f"]}"#,
            Json(400, redirect),
        ),
        post(
            "relative",
            j(),
            r#"{"redirect_uris":["/cb"]}"#,
            Json(400, redirect),
        ),
        post(
            "javascript:",
            j(),
            r#"{"redirect_uris":["javascript:alert(1)"]}"#,
            Json(400, redirect),
        ),
        post(
            "missing redirect_uris",
            j(),
            r#"{"client_name":"x"}"#,
            Json(400, redirect),
        ),
        post(
            "redirect_uris not an array",
            j(),
            r#"{"redirect_uris":"https://c.test/cb"}"#,
            Json(400, meta),
        ),
        post(
            "redirect_uris holds a number",
            j(),
            r#"{"redirect_uris":[1]}"#,
            Json(400, meta),
        ),
        post(
            "jwks and jwks_uri",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"jwks":{"keys":[]},"jwks_uri":"https://c.test/jwks"}"#,
            Json(400, meta),
        ),
        post(
            "implicit with code",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"grant_types":["implicit"],"response_types":["code"]}"#,
            Json(400, meta),
        ),
        post(
            "bogus auth method",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"token_endpoint_auth_method":"bogus"}"#,
            Json(400, meta),
        ),
        post(
            "response type token",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"response_types":["token"]}"#,
            Json(400, meta),
        ),
        post(
            "code grant without code response",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"response_types":[]}"#,
            Json(400, meta),
        ),
        post(
            "public client_credentials",
            j(),
            r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}"#,
            Json(400, meta),
        ),
        post(
            "unknown scope",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"scope":"root"}"#,
            Json(400, meta),
        ),
        post(
            "client_name a number",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"client_name":1}"#,
            Json(400, meta),
        ),
        post(
            "bad application_type",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"application_type":"tv"}"#,
            Json(400, meta),
        ),
        post(
            "software statement",
            j(),
            r#"{"redirect_uris":["https://c.test/cb"],"software_statement":"a.b.c"}"#,
            Json(400, "unapproved_software_statement"),
        ),
    ];
    run(&idp, &idp.registration_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn introspection_endpoint_table() {
    use Expect::Json;
    let idp = start().await;
    let huge = format!("token={}", "a".repeat(70 * 1024));
    let rows = vec![
        other_method("GET", Method::GET, Json(405, "invalid_request")),
        post(
            "no client authentication",
            vec![ct(FORM)],
            "token=x",
            Json(401, "invalid_client"),
        ),
        post(
            "wrong secret",
            vec![basic(RESOURCE_SERVER_CLIENT_ID, "nope"), ct(FORM)],
            "token=x",
            Json(401, "invalid_client"),
        ),
        post(
            "public client",
            vec![ct(FORM)],
            format!("token=x&client_id={PUBLIC_CLIENT_ID}"),
            Json(401, "invalid_client"),
        ),
        post(
            "missing token",
            vec![rs(), ct(FORM)],
            "token_type_hint=access_token",
            Json(400, "invalid_request"),
        ),
        post(
            "duplicate token",
            vec![rs(), ct(FORM)],
            "token=a&token=b",
            Json(400, "invalid_request"),
        ),
        post(
            "JSON body",
            vec![rs(), ct(JSON)],
            r#"{"token":"x"}"#,
            Json(400, "invalid_request"),
        ),
        post(
            "no content type",
            vec![rs()],
            "token=x",
            Json(400, "invalid_request"),
        ),
        post(
            "body over 64 KiB",
            vec![rs(), ct(FORM)],
            huge,
            Json(400, "invalid_request"),
        ),
    ];
    run(&idp, &idp.introspection_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn device_authorization_endpoint_table() {
    use Expect::Json;
    let idp = start().await;
    let huge = format!("client_id={PUBLIC_CLIENT_ID}&x={}", "a".repeat(70 * 1024));
    let public = format!("client_id={PUBLIC_CLIENT_ID}");
    let rows = vec![
        other_method("GET", Method::GET, Json(405, "invalid_request")),
        post(
            "no content type",
            vec![],
            public.clone(),
            Json(400, "invalid_request"),
        ),
        post(
            "JSON body",
            vec![ct(JSON)],
            format!(r#"{{"client_id":"{PUBLIC_CLIENT_ID}"}}"#),
            Json(400, "invalid_request"),
        ),
        post(
            "body over 64 KiB",
            vec![ct(FORM)],
            huge,
            Json(400, "invalid_request"),
        ),
        post(
            "no client",
            vec![ct(FORM)],
            "scope=mcp:read",
            Json(401, "invalid_client"),
        ),
        post(
            "unknown client",
            vec![ct(FORM)],
            "client_id=nobody",
            Json(400, "invalid_client"),
        ),
        post(
            "confidential client without its secret",
            vec![ct(FORM)],
            format!("client_id={CONFIDENTIAL_CLIENT_ID}"),
            Json(400, "invalid_client"),
        ),
        post(
            "wrong secret",
            vec![basic(CONFIDENTIAL_CLIENT_ID, "nope"), ct(FORM)],
            "",
            Json(401, "invalid_client"),
        ),
        post(
            "public client with a secret",
            vec![ct(FORM)],
            format!("{public}&client_secret=x"),
            Json(400, "invalid_client"),
        ),
        post(
            "client without the device grant",
            vec![rs(), ct(FORM)],
            "",
            Json(400, "unauthorized_client"),
        ),
        post(
            "duplicate client_id",
            vec![ct(FORM)],
            format!("{public}&{public}"),
            Json(400, "invalid_request"),
        ),
        post(
            "unknown scope",
            vec![ct(FORM)],
            format!("{public}&scope=mcp:nope"),
            Json(400, "invalid_scope"),
        ),
        post(
            "malformed scope",
            vec![ct(FORM)],
            format!("{public}&scope=a%20%20b"),
            Json(400, "invalid_scope"),
        ),
        post(
            "relative resource",
            vec![ct(FORM)],
            format!("{public}&resource=/mcp"),
            Json(400, "invalid_target"),
        ),
        post(
            "resource with a fragment",
            vec![ct(FORM)],
            format!("{public}&resource=https://a.test/mcp%23f"),
            Json(400, "invalid_target"),
        ),
    ];
    run(&idp, &idp.device_authorization_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn device_code_grant_table() {
    use Expect::Json;
    let idp = start().await;
    let grant = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";
    let (_, issued) = idp_support::post_form(
        &http(),
        &idp.device_authorization_endpoint(),
        None,
        &[("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    let code = issued["device_code"].as_str().unwrap();
    let rows = vec![
        post(
            "no device_code",
            vec![ct(FORM)],
            format!("{grant}&client_id={PUBLIC_CLIENT_ID}"),
            Json(400, "invalid_request"),
        ),
        post(
            "unknown device_code",
            vec![ct(FORM)],
            format!("{grant}&client_id={PUBLIC_CLIENT_ID}&device_code=nope"),
            Json(400, "invalid_grant"),
        ),
        post(
            "duplicate device_code",
            vec![ct(FORM)],
            format!("{grant}&client_id={PUBLIC_CLIENT_ID}&device_code={code}&device_code={code}"),
            Json(400, "invalid_request"),
        ),
        post(
            "another client's device_code",
            vec![conf(), ct(FORM)],
            format!("{grant}&device_code={code}"),
            Json(400, "invalid_grant"),
        ),
        post(
            "client without the device grant",
            vec![rs(), ct(FORM)],
            format!("{grant}&device_code={code}"),
            Json(400, "unauthorized_client"),
        ),
        post(
            "malformed resource",
            vec![ct(FORM)],
            format!("{grant}&client_id={PUBLIC_CLIENT_ID}&device_code={code}&resource=mcp"),
            Json(400, "invalid_target"),
        ),
        post(
            "no client",
            vec![ct(FORM)],
            format!("{grant}&device_code={code}"),
            Json(401, "invalid_client"),
        ),
    ];
    run(&idp, &idp.token_endpoint(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn device_verification_uri_table() {
    use Expect::{Html, Json};
    let idp = start().await;
    let rows = vec![
        other_method("PUT", Method::PUT, Json(405, "invalid_request")),
        post(
            "no content type",
            vec![],
            "user_code=BCDF-GHJK&action=approve",
            Html(400, "Content-Type must be"),
        ),
        post(
            "no user_code",
            vec![ct(FORM)],
            "action=approve",
            Html(400, "user_code must be"),
        ),
        post(
            "user_code outside the alphabet",
            vec![ct(FORM)],
            "user_code=AEIO-U123&action=approve",
            Html(400, "user_code must be"),
        ),
        post(
            "unknown user_code",
            vec![ct(FORM)],
            "user_code=BCDF-GHJK&action=approve",
            Html(400, "unknown user code"),
        ),
        post(
            "no action",
            vec![ct(FORM)],
            "user_code=BCDF-GHJK",
            Html(400, "action must be"),
        ),
        post(
            "unknown action",
            vec![ct(FORM)],
            "user_code=BCDF-GHJK&action=maybe",
            Html(400, "action must be"),
        ),
        get(
            "markup in the user code is escaped",
            "user_code=%3Cscript%3E".into(),
            Html(200, "&lt;script&gt;"),
        ),
    ];
    run(&idp, &idp.device_verification_uri(), rows).await;
    idp.shutdown().await;
}

#[tokio::test]
async fn discovery_endpoints_table() {
    use Expect::Json;
    let idp = start().await;
    let urls = idp.urls(mock_idp::server::IssuerKind::Trusted);
    run(
        &idp,
        &urls.metadata_url,
        vec![other_method(
            "POST metadata",
            Method::POST,
            Json(405, "invalid_request"),
        )],
    )
    .await;
    run(
        &idp,
        &urls.jwks_uri,
        vec![other_method(
            "DELETE jwks",
            Method::DELETE,
            Json(405, "invalid_request"),
        )],
    )
    .await;
    run(
        &idp,
        idp.base_url(),
        vec![
            get("unknown path", String::new(), Json(404, "invalid_request")),
            other_method(
                "unknown path, POST",
                Method::POST,
                Json(404, "invalid_request"),
            ),
        ],
    )
    .await;
    idp.shutdown().await;
}

/// Pseudo-random bytes (xorshift), so failures reproduce.
fn noise(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn random_input_never_gets_a_server_error() {
    let idp = start().await;
    let client = http();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let posts = [
        idp.token_endpoint(),
        idp.introspection_endpoint(),
        idp.registration_endpoint(),
        idp.device_authorization_endpoint(),
        idp.device_verification_uri(),
    ];
    for i in 0..60usize {
        let len = noise(&mut seed, 1)[0] as usize * (1 + i % 4);
        let body = noise(&mut seed, len);
        let content_type = [FORM, JSON, "text/plain"][i % 3];
        for url in &posts {
            let resp = client
                .post(url)
                .header("content-type", content_type)
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(&body[..body.len().min(24)])
                    ),
                )
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert!((400..500).contains(&status), "{url}: {status} for {body:?}");
        }
        // Random query strings at the authorization endpoint (percent-encoded noise).
        let query: String = url::form_urlencoded::byte_serialize(&body).collect();
        let pairs = format!("client_id={PUBLIC_CLIENT_ID}&{query}={query}&response_type={query}");
        let resp = client
            .get(format!("{}?{pairs}", idp.authorization_endpoint()))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(status == 302 || status == 400, "authorize: {status}");
    }
    idp.shutdown().await;
}
