//! RFC 8693 token exchange over loopback HTTP: an MCP server's client (registered through DCR
//! with the grant and the resource it stands for) exchanges a user's token for its resource
//! for a token to an upstream API; every refusal of the compliant policy; and each
//! `as-exchange-*` fault's defect, probed exhaustively.

mod idp_support;

use idp_support::{authorize, claims, config, http, post_form, start, start_with};
use mock_idp::server::{
    ACCESS_TOKEN_TYPE, AsFault, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, IdpConfig,
    JWT_TOKEN_TYPE, MockIdp, PUBLIC_CLIENT_ID, TOKEN_EXCHANGE_GRANT_TYPE,
};
use serde_json::{Value, json};

/// The MCP server's resource (the subject token's audience).
const MCP: &str = "https://mcp.test/mcp";
/// The upstream API the MCP server calls.
const UPSTREAM: &str = "https://upstream.test/api";
/// Another resource server, whose tokens the MCP server must not exchange.
const OTHER: &str = "https://other.test/mcp";
const LOOPBACK: &str = "http://127.0.0.1:53117/callback";

/// A confidential client registered for the exchange grant, standing for `resource`.
async fn register_exchanger(idp: &MockIdp, resource: &str) -> (String, String) {
    let resp = http()
        .post(idp.registration_endpoint())
        .json(&json!({
            "grant_types": [TOKEN_EXCHANGE_GRANT_TYPE],
            "token_endpoint_auth_method": "client_secret_basic",
            "client_name": "an MCP server",
            "resource": resource,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["resource"], resource);
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The user's access token for `resource` with `scope`, from a code flow of the public client.
async fn user_token(idp: &MockIdp, resource: &str, scope: &str) -> String {
    let client = http();
    let (verifier, code) = authorize(
        &client,
        &idp.authorization_endpoint(),
        PUBLIC_CLIENT_ID,
        LOOPBACK,
        &[("resource", resource), ("scope", scope)],
    )
    .await;
    let (status, body) = post_form(
        &client,
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", LOOPBACK),
            ("code_verifier", &verifier),
            ("client_id", PUBLIC_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// An exchange of `subject` by `client` with `extra` parameters: (status, body, Cache-Control).
async fn exchange(
    idp: &MockIdp,
    client: (&str, &str),
    subject: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    form.extend_from_slice(extra);
    post_form(&http(), &idp.token_endpoint(), Some(client), &form).await
}

/// Started IdP, the exchanging client, a user token for `MCP` (scope mcp:read).
async fn scene(faults: &[AsFault]) -> (MockIdp, (String, String), String) {
    let idp = start_with(IdpConfig {
        faults: faults.iter().copied().collect(),
        ..config()
    })
    .await;
    let exchanger = register_exchanger(&idp, MCP).await;
    let subject = user_token(&idp, MCP, "mcp:read").await;
    (idp, exchanger, subject)
}

fn pair(c: &(String, String)) -> (&str, &str) {
    (c.0.as_str(), c.1.as_str())
}

#[tokio::test]
async fn an_mcp_server_exchanges_its_token_for_an_upstream_token() {
    let (idp, exchanger, subject) = scene(&[]).await;
    let meta: Value = http()
        .get(idp.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(TOKEN_EXCHANGE_GRANT_TYPE))
    );
    let resp = http()
        .post(idp.token_endpoint())
        .basic_auth(&exchanger.0, Some(&exchanger.1))
        .form(&[
            ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE),
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("resource", UPSTREAM),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "mcp:read");
    assert!(body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().unwrap());
    let user = claims(&subject);
    assert_eq!(c["aud"], UPSTREAM, "exactly the requested target");
    assert_eq!(c["sub"], user["sub"], "the user stays the subject");
    assert_eq!(c["act"], json!({ "sub": exchanger.0 }));
    assert_eq!(c["client_id"], exchanger.0);
    assert_eq!(c["iss"], idp.issuer());

    // audience (a logical name here too must be a known URI), narrower scope, jwt type.
    let (status, body) = exchange(
        &idp,
        pair(&exchanger),
        &subject,
        &[
            ("audience", UPSTREAM),
            ("requested_token_type", JWT_TOKEN_TYPE),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], JWT_TOKEN_TYPE);
    // The subject token type jwt is taken as well.
    let (status, body) = post_form(
        &http(),
        &idp.token_endpoint(),
        Some(pair(&exchanger)),
        &[
            ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE),
            ("subject_token", &subject),
            ("subject_token_type", JWT_TOKEN_TYPE),
            ("resource", UPSTREAM),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let wide = user_token(&idp, MCP, "mcp:read mcp:write").await;
    let (status, body) = exchange(
        &idp,
        pair(&exchanger),
        &wide,
        &[("resource", UPSTREAM), ("scope", "mcp:write")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "mcp:write");
}

/// A request the compliant policy refuses: what it is, the client (id, secret), the subject
/// token, the other parameters and the error due.
type Refusal<'a> = (
    &'a str,
    (&'a str, &'a str),
    String,
    Vec<(&'a str, &'a str)>,
    &'a str,
);

#[tokio::test]
async fn the_compliant_policy_refuses_what_it_must() {
    let (idp, exchanger, subject) = scene(&[]).await;
    let ex = pair(&exchanger);
    let target = ("resource", UPSTREAM);
    let cases: Vec<Refusal> = vec![
        (
            "a client that stands for no resource",
            (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
            subject.clone(),
            vec![target],
            "invalid_request",
        ),
        (
            "an unknown target",
            ex,
            subject.clone(),
            vec![("resource", "https://mcp-authspec.invalid/api")],
            "invalid_target",
        ),
        ("no target", ex, subject.clone(), vec![], "invalid_request"),
        (
            "a scope beyond the subject token's",
            ex,
            subject.clone(),
            vec![target, ("scope", "mcp:read mcp:write")],
            "invalid_scope",
        ),
        (
            "a subject token for another resource",
            ex,
            user_token(&idp, OTHER, "mcp:read").await,
            vec![target],
            "invalid_request",
        ),
        (
            "a subject token with an altered signature",
            ex,
            altered(&subject),
            vec![target],
            "invalid_request",
        ),
        (
            "garbage",
            ex,
            "not-a-token".to_owned(),
            vec![target],
            "invalid_request",
        ),
        (
            "an actor token",
            ex,
            subject.clone(),
            vec![
                target,
                ("actor_token", subject.as_str()),
                ("actor_token_type", ACCESS_TOKEN_TYPE),
            ],
            "invalid_request",
        ),
        (
            "an unsupported requested_token_type",
            ex,
            subject.clone(),
            vec![
                target,
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ],
            "invalid_request",
        ),
    ];
    for (what, client, token, extra, error) in &cases {
        let (status, body) = exchange(&idp, *client, token, extra).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(*error)),
            "{what}: {body}"
        );
    }
    // The public client has no secret and no such grant.
    let (status, body) = post_form(
        &http(),
        &idp.token_endpoint(),
        None,
        &[
            ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE),
            ("client_id", PUBLIC_CLIENT_ID),
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("resource", UPSTREAM),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // Nor can a public client register for it.
    let resp = http()
        .post(idp.registration_endpoint())
        .json(&json!({
            "grant_types": [TOKEN_EXCHANGE_GRANT_TYPE],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // An expired subject token.
    idp.advance_clock(301);
    let (status, body) = exchange(&idp, ex, &subject, &[target]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// The token with a character in the middle of its signature changed (the last one may carry
/// only padding bits).
fn altered(token: &str) -> String {
    let at = token.len() - 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    format!("{}{swapped}{}", &token[..at], &token[at + 1..])
}

#[tokio::test]
async fn each_exchange_fault_breaks_its_behaviour() {
    let upstream = [("resource", UPSTREAM)];

    let (idp, ex, subject) = scene(&[AsFault::ExchangeSuccessShape]).await;
    let (status, body) = exchange(&idp, pair(&ex), &subject, &upstream).await;
    assert_eq!(status, 200);
    assert!(body.get("issued_token_type").is_none(), "{body}");

    let (idp, ex, subject) = scene(&[AsFault::ExchangeAudienceWidened]).await;
    let (status, body) = exchange(&idp, pair(&ex), &subject, &upstream).await;
    assert_eq!(status, 200);
    let aud = claims(body["access_token"].as_str().unwrap())["aud"].clone();
    assert_eq!(aud, json!([UPSTREAM, MCP]));
    // An unknown target is still refused.
    let (status, _) = exchange(
        &idp,
        pair(&ex),
        &subject,
        &[("resource", "https://mcp-authspec.invalid/api")],
    )
    .await;
    assert_eq!(status, 400);

    let (idp, ex, subject) = scene(&[AsFault::ExchangeScopeWidened]).await;
    let (status, body) = exchange(
        &idp,
        pair(&ex),
        &subject,
        &[("resource", UPSTREAM), ("scope", "mcp:read mcp:write")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "mcp:read mcp:write");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["scope"],
        "mcp:read mcp:write"
    );

    let (idp, ex, _) = scene(&[AsFault::ExchangeForeignSubject]).await;
    let foreign = user_token(&idp, OTHER, "mcp:read").await;
    let (status, body) = exchange(&idp, pair(&ex), &foreign, &upstream).await;
    assert_eq!(status, 200, "{body}");
    // A client that stands for nothing exchanges too.
    let (status, _) = exchange(
        &idp,
        (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        &foreign,
        &upstream,
    )
    .await;
    assert_eq!(status, 200);

    let (idp, ex, subject) = scene(&[AsFault::ExchangeSubjectUnverified]).await;
    let (status, body) = exchange(&idp, pair(&ex), &altered(&subject), &upstream).await;
    assert_eq!(status, 200, "{body}");
    idp.advance_clock(301);
    let (status, _) = exchange(&idp, pair(&ex), &subject, &upstream).await;
    assert_eq!(status, 200, "expired, still exchanged");
    // Garbage stays garbage.
    let (status, _) = exchange(&idp, pair(&ex), "not-a-token", &upstream).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_configured_client_stands_for_its_resources() {
    let idp = start().await;
    let mut client = mock_idp::server::Client::confidential("mcp-server", "s3cret", &[]);
    client.resources = vec![MCP.to_owned()];
    idp.register_client(mock_idp::server::IssuerKind::Trusted, client);
    let subject = user_token(&idp, MCP, "mcp:read").await;
    let (status, body) = exchange(
        &idp,
        ("mcp-server", "s3cret"),
        &subject,
        &[("resource", UPSTREAM)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
