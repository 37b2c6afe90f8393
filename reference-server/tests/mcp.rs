//! The MCP and metadata side of the reference server: streamable HTTP, JSON-RPC errors,
//! sessions, SSE framing, CORS, Origin, protected resource metadata, start-up options.

mod common;

use common::{Env, call, initialize, initialized, request};
use mock_idp::server::IssuerKind;
use reference_server::{
    ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, Config, Fault, PROTOCOL_VERSIONS, ReferenceServer,
    ResponseMode, StartError,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn streamable_http_session_lifecycle() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let url = server.mcp_url();
    let init = env
        .post(&url)
        .bearer(&token)
        .json(initialize())
        .send()
        .await;
    assert!(init.accepted());
    assert_eq!(init.header("content-type"), Some("application/json"));
    let result = &init.body["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(result["serverInfo"]["name"], "mcp-authspec-reference");
    let session = init.session.unwrap();
    let post = |body: Value| {
        env.post(&url)
            .bearer(&token)
            .session(&session)
            .json(body)
            .send()
    };
    let r = post(initialized()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.text.is_empty());
    assert_eq!(post(request("ping")).await.body["result"], json!({}));
    let tools = post(request("tools/list")).await.body["result"]["tools"].clone();
    let names: Vec<_> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!(CANARY_TOOL), json!(ADMIN_TOOL)]);
    let r = post(call(CANARY_TOOL)).await;
    assert_eq!(r.body["result"]["content"][0]["type"], "text");
    assert_eq!(server.canary_count(), 1);
    // JSON-RPC level errors are 200 with an error object.
    let r = post(call("no-such-tool")).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::OK, json!(-32602))
    );
    let r = post(request("no/such/method")).await;
    assert_eq!(r.body["error"]["code"], -32601);
    // A response from the client is accepted without a body.
    let r = post(json!({"jsonrpc":"2.0","id":9,"result":{}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // GET: no server-initiated stream.
    let r = env
        .get(&url)
        .bearer(&token)
        .header("accept", "text/event-stream")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("POST, DELETE"));
    // DELETE ends the session; it is unknown afterwards.
    assert_eq!(server.session_count(), 1);
    let r = env
        .delete(&url)
        .bearer(&token)
        .session(&session)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(server.session_count(), 0);
    assert_eq!(post(call(CANARY_TOOL)).await.status, StatusCode::NOT_FOUND);
    let r = env
        .delete(&url)
        .bearer(&token)
        .session(&session)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(server.canary_count(), 1);
}

#[tokio::test]
async fn json_rpc_and_session_errors() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let url = server.mcp_url();
    let session = env.open_session(&server, &token).await.unwrap();
    let raw = |body: &'static str| {
        env.post(&url)
            .bearer(&token)
            .session(&session)
            .raw("application/json", body)
            .send()
    };
    for (body, code) in [
        ("{", -32700),
        ("[]", -32600),
        (
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
            -32600,
        ),
        ("42", -32600),
        ("{\"id\":1,\"method\":\"ping\"}", -32600),
        ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", -32600),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
            -32600,
        ),
        ("{\"jsonrpc\":\"2.0\",\"id\":1}", -32600),
    ] {
        let r = raw(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.body["error"]["code"], code, "{body}");
    }
    // No session id, an unknown one, an unsupported protocol version header.
    let r = env
        .post(&url)
        .bearer(&token)
        .json(request("ping"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = env
        .post(&url)
        .bearer(&token)
        .session("unknown")
        .json(request("ping"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = env
        .post(&url)
        .bearer(&token)
        .session(&session)
        .header("mcp-protocol-version", "1999-01-01")
        .json(request("ping"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for v in PROTOCOL_VERSIONS {
        let r = env
            .post(&url)
            .bearer(&token)
            .session(&session)
            .header("mcp-protocol-version", v)
            .json(request("ping"))
            .send()
            .await;
        assert!(r.accepted(), "{v}");
    }
    // An unknown requested version is answered with the latest.
    let mut init = initialize();
    init["params"]["protocolVersion"] = json!("1999-01-01");
    let r = env.post(&url).bearer(&token).json(init).send().await;
    assert_eq!(
        r.body["result"]["protocolVersion"],
        *PROTOCOL_VERSIONS.last().unwrap()
    );
    // Accept that allows neither JSON nor SSE.
    let r = env
        .post(&url)
        .bearer(&token)
        .header("accept", "text/html")
        .json(initialize())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
}

fn sse_data(text: &str) -> Value {
    assert!(text.starts_with("event: message\n"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn sse_framing() {
    let env = Env::start().await;
    // Configured SSE mode.
    let mut config = env.config(&[]);
    config.response_mode = ResponseMode::Sse;
    let server = ReferenceServer::start(config).await.unwrap();
    let token = env.mint(&env.valid(&server));
    let init = env
        .post(&server.mcp_url())
        .bearer(&token)
        .json(initialize())
        .send()
        .await;
    assert_eq!(init.header("content-type"), Some("text/event-stream"));
    assert!(sse_data(&init.text)["result"]["serverInfo"].is_object());
    let session = init.session.unwrap();
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .session(&session)
        .json(call(CANARY_TOOL))
        .send()
        .await;
    assert!(sse_data(&r.text)["result"]["content"].is_array());
    assert_eq!(server.canary_count(), 1);
    // Refusals stay plain HTTP answers with their challenge.
    let r = env.post(&server.mcp_url()).json(initialize()).send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // JSON mode, but the client accepts only SSE.
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .header("accept", "text/event-stream")
        .json(initialize())
        .send()
        .await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse_data(&r.text)["id"], 1);
}

#[tokio::test]
async fn protected_resource_metadata() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    assert_eq!(
        server.prm_url(),
        format!(
            "http://{}/.well-known/oauth-protected-resource/mcp",
            server.local_addr()
        )
    );
    for url in [server.prm_url(), server.prm_root_url()] {
        for auth in [None, Some("Bearer bogus")] {
            let mut req = env.get(url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await;
            assert_eq!(r.status, StatusCode::OK, "{url} {auth:?}");
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(
                r.body,
                json!({
                    "resource": server.resource(),
                    "authorization_servers": [env.idp.issuer()],
                    "scopes_supported": [BASE_SCOPE, "mcp:write", "mcp:admin"],
                    "bearer_methods_supported": ["header"],
                    "resource_name": "mcp-authspec reference server",
                })
            );
        }
    }
    let head = env.http.head(server.prm_url()).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let r = env.post(server.prm_url()).json(json!({})).send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = env
        .get(&format!(
            "http://{}/.well-known/oauth-protected-resource/other",
            server.local_addr()
        ))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The metadata names the issuer whose metadata says so.
    let asm = env.get(&env.idp.metadata_url()).send().await;
    assert_eq!(asm.body["issuer"], env.idp.issuer());
}

#[tokio::test]
async fn a_configured_resource_identifier() {
    let env = Env::start().await;
    let mut config = env.config(&[]);
    config.resource = Some("https://mcp.example.test/tenant/mcp".into());
    let server = ReferenceServer::start(config).await.unwrap();
    assert_eq!(server.resource(), "https://mcp.example.test/tenant/mcp");
    assert!(
        server
            .prm_url()
            .ends_with("/.well-known/oauth-protected-resource/tenant/mcp")
    );
    let prm = env.get(server.prm_url()).send().await;
    assert_eq!(prm.body["resource"], "https://mcp.example.test/tenant/mcp");
    // aud must name the configured identifier, not the local URL.
    let v = env.idp.valid_token_spec(server.resource(), BASE_SCOPE);
    assert!(env.session_call(&server, &env.mint(&v), CANARY_TOOL).await);
    let local = v.aud(&server.mcp_url());
    assert!(!env.accepts(&server, &env.mint(&local)).await);
}

#[tokio::test]
async fn cors_and_origin() {
    let env = Env::start().await;
    let server = env.server(&[]).await;
    let token = env.mint(&env.valid(&server));
    let pre = env
        .http
        .request(reqwest::Method::OPTIONS, server.mcp_url())
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("Authorization") && allowed.contains("Mcp-Session-Id"));
    let r = env
        .post(&server.mcp_url())
        .header("origin", "https://evil.test")
        .json(initialize())
        .send()
        .await;
    // Authentication runs first: an unauthenticated request learns only the 401.
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"));
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .header("origin", "https://evil.test")
        .json(initialize())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .header("origin", "http://localhost:6274")
        .json(initialize())
        .send()
        .await;
    assert!(r.accepted());
    assert_eq!(server.session_count(), 1);
}

#[tokio::test]
async fn start_options() {
    let env = Env::start().await;
    // The JWKS URL discovered from the issuer's RFC 8414 metadata.
    let server = ReferenceServer::start(Config::discover(env.idp.issuer()))
        .await
        .unwrap();
    assert!(
        env.session_call(&server, &env.mint(&env.valid(&server)), CANARY_TOOL)
            .await
    );
    assert_eq!(server.issuer(), env.idp.issuer());
    let no_metadata = ReferenceServer::start(Config::discover("http://127.0.0.1:9/nowhere")).await;
    assert!(matches!(no_metadata, Err(StartError::Discovery(_))));
    // Symmetric algorithms cannot be allowed.
    let mut config = env.config(&[]);
    config.allowed_algs.push(mock_idp::alg::Algorithm::Hs256);
    assert!(matches!(
        ReferenceServer::start(config).await,
        Err(StartError::Config(_))
    ));
    // A narrower allow-list refuses the IdP's ES256 tokens.
    let mut config = env.config(&[]);
    config.allowed_algs = vec![mock_idp::alg::Algorithm::Rs256];
    let rs_only = ReferenceServer::start(config).await.unwrap();
    assert!(!env.accepts(&rs_only, &env.mint(&env.valid(&rs_only))).await);
    // A taken address is a bind error; shutdown frees it.
    let mut config = env.config(&[]);
    config.listen = server.local_addr();
    assert!(matches!(
        ReferenceServer::start(config).await,
        Err(StartError::Bind(..))
    ));
    let url = server.mcp_url();
    server.shutdown().await;
    assert!(env.http.post(&url).send().await.is_err());
    // Fault names parse with a helpful error.
    assert_eq!(Fault::from_name("ignore-aud"), Ok(Fault::IgnoreAud));
    let err = Fault::from_name("ignore-everything")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ignore-everything") && err.contains("reject-everything"));
}

#[tokio::test]
async fn rfc9068_profile_off() {
    let env = Env::start().await;
    let mut config = env.config(&[]);
    config.rfc9068_profile = false;
    let server = ReferenceServer::start(config).await.unwrap();
    let v = env.valid(&server);
    for (what, spec, ok) in [
        ("typ JWT", v.clone().typ("JWT"), true),
        ("no typ", v.clone().without_header("typ"), true),
        ("at+jwt", v.clone(), true),
        (
            "no jti, client_id, iat",
            v.clone()
                .without_claim("jti")
                .without_claim("client_id")
                .without_claim("iat"),
            true,
        ),
        ("typ dpop+jwt", v.clone().typ("dpop+jwt"), false),
        ("typ id_token+jwt", v.clone().typ("id_token+jwt"), false),
        ("no exp", v.clone().without_claim("exp"), false),
        ("no sub", v.clone().without_claim("sub"), false),
    ] {
        assert_eq!(env.accepts(&server, &env.mint(&spec)).await, ok, "{what}");
    }
    // Other issuers stay untrusted.
    let rogue = env
        .idp
        .token_spec_for(IssuerKind::Rogue, server.resource(), BASE_SCOPE);
    assert!(!env.accepts(&server, &env.idp.mint_rogue(&rogue)).await);
}

#[tokio::test]
async fn the_canary_reports_upstream_with_its_own_credential() {
    let env = Env::start().await;
    let mut config = env.config(&[]);
    config.canary_upstream = Some(env.upstream_url());
    let server = ReferenceServer::start(config).await.unwrap();
    let token = env.mint(&env.valid(&server));
    assert!(env.session_call(&server, &token, CANARY_TOOL).await);
    let seen = env.harness.upstream_auth.lock().unwrap().clone();
    assert_eq!(
        seen,
        [format!("Bearer {}", reference_server::UPSTREAM_CREDENTIAL)]
    );
}
