//! Every fault profile proven both ways, over real loopback HTTP against the real mock IdP.
//!
//! `shows(f, …)` is the probe for fault `f`: it starts a reference server with the given
//! faults and answers whether the defect `f` introduces is visible. The compliant server
//! shows none; each fault shows its own; and (the matrix) each fault shows no other fault's
//! defect except the overlaps declared in `OVERLAPS`. The `match` is exhaustive, so a new
//! fault without a probe does not compile.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Env, call, initialize};
use mock_idp::alg::Algorithm;
use mock_idp::forge::{
    Attack, CritForm, ForgeContext, HmacHash, PublicKeyForm, ScalarDefect, Structure, cert,
};
use mock_idp::jws::Jws;
use mock_idp::keys::SigningKey;
use mock_idp::server::{
    CONFIDENTIAL_CLIENT_ID, IssuerKind, RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET,
};
use mock_idp::token::TokenSpec;
use mock_idp::unix_now;
use reference_server::{
    ADMIN_SCOPE, ADMIN_TOOL, BASE_SCOPE, CANARY_TOOL, Config, Fault, IntrospectionConfig,
    MetadataSigner, PARENT_SCOPE, ReferenceServer, TrustedIssuer, UPSTREAM_CREDENTIAL,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Server fault → other faults' probes it legitimately also shows (it is a superset).
const OVERLAPS: &[(Fault, &[Fault])] = &[
    (
        Fault::IgnoreIss,
        &[
            Fault::AcceptNoIss,
            Fault::IssNormalized,
            Fault::AcceptOtherTenant,
        ],
    ),
    (Fault::AcceptOtherTenant, &[Fault::IssNormalized]),
    // Running every tools/call before authentication runs those with expired tokens too.
    (Fault::ProcessBeforeAuth, &[Fault::ProcessBeforeExpCheck]),
    (Fault::AcceptRogueIssuer, &[Fault::AcceptOtherTenant]),
    // Never reading active takes an altered handle, which the AS reports inactive.
    (Fault::AcceptInactive, &[Fault::IntrospectionCachePrefix]),
    (Fault::IgnoreAud, &[Fault::AudSameOrigin]),
    (Fault::AcceptExpired, &[Fault::LeewayHuge]),
    (Fault::AcceptIdToken, &[Fault::IgnoreTyp]),
    (
        Fault::SkipSignature,
        &[
            Fault::AcceptAlgNone,
            Fault::Hs256PublicKey,
            Fault::TrustEmbeddedJwk,
            Fault::TrustJku,
            Fault::AcceptPsychicSignature,
            Fault::AcceptNullSignature,
            Fault::AcceptBlankHmac,
            Fault::AcceptWeakHmac,
            Fault::HmacKidLookup,
            Fault::Hs256KidPem,
            Fault::KidAlgFallback,
            Fault::RsaAnyPadding,
            Fault::EcdsaCurveFromKey,
            Fault::EcdsaNoRangeCheck,
            Fault::EcdsaLenientLength,
            Fault::AcceptHighS,
            Fault::TrustX5c,
            Fault::IssuerKeysPooled,
        ],
    ),
    // No range check at all accepts r = s = 0 too.
    (Fault::EcdsaNoRangeCheck, &[Fault::AcceptPsychicSignature]),
    (
        Fault::SessionIsAuthentication,
        &[Fault::UnauthenticatedDelete],
    ),
    (
        Fault::IgnoreCrit,
        &[Fault::AcceptCritUnknown, Fault::LaxCrit],
    ),
    // A proof whose alg is never checked may use any algorithm.
    (
        Fault::DpopSkipSignature,
        &[
            Fault::DpopAlgsUnenforced,
            Fault::DpopTrustJku,
            Fault::DpopAcceptWeakRsa,
        ],
    ),
    // A verifier that never reads htu forgives a trailing slash too.
    (Fault::DpopIgnoreHtu, &[Fault::DpopHtuTrailingSlash]),
];

fn overlaps(server: Fault, probe: Fault) -> bool {
    OVERLAPS
        .iter()
        .any(|(s, probes)| *s == server && probes.contains(&probe))
}

async fn start(config: Config) -> ReferenceServer {
    ReferenceServer::start(config).await.unwrap()
}

/// Calibrated refusal: the base valid token is accepted and the variant is not.
async fn refuses_variant(env: &Env, server: &ReferenceServer, variant: String) -> bool {
    env.accepts(server, &env.mint(&env.valid(server))).await && !env.accepts(server, &variant).await
}

/// The anonymous `initialize` answer.
async fn anonymous(env: &Env, server: &ReferenceServer) -> common::Reply {
    env.post(&server.mcp_url()).json(initialize()).send().await
}

async fn prm(env: &Env, server: &ReferenceServer) -> Option<Value> {
    let r = env.get(server.prm_url()).send().await;
    (r.status == StatusCode::OK).then_some(r.body)
}

/// The answer to the admin tool with only the base scope, in a session the token opened.
async fn step_up_reply(env: &Env, server: &ReferenceServer) -> Option<common::Reply> {
    let token = env.mint(&env.valid(server));
    let session = env.open_session(server, &token).await?;
    let r = env
        .post(&server.mcp_url())
        .bearer(&token)
        .session(&session)
        .json(call(ADMIN_TOOL))
        .send()
        .await;
    Some(r)
}

/// The status of a `tools/list` with bob's valid token on a session alice opened, once bob's
/// own session serves him; `None` when a control fails.
async fn cross_user_status(
    env: &Env,
    server: &ReferenceServer,
    v: &mock_idp::token::TokenSpec,
) -> Option<u16> {
    let alice = env.mint(&v.clone().subject("alice"));
    let bob = env.mint(&v.clone().subject("bob"));
    let alices = env.open_session(server, &alice).await?;
    let bobs = env.open_session(server, &bob).await?;
    let list = |session: String| {
        env.post(&server.mcp_url())
            .bearer(&bob)
            .session(&session)
            .json(common::request("tools/list"))
            .send()
    };
    if !list(bobs).await.accepted() {
        return None;
    }
    Some(list(alices).await.status.as_u16())
}

/// The trusted issuer's key of `alg` (its ring has one per algorithm).
fn trusted_key(env: &Env, alg: Algorithm) -> &SigningKey {
    env.idp.key_ring(IssuerKind::Trusted).get(alg).unwrap()
}

/// `attack` forged from `V` with the trusted key of `alg` as the victim.
fn forged_against(
    env: &Env,
    v: &mock_idp::token::TokenSpec,
    alg: Algorithm,
    attack: Attack,
) -> String {
    let ctx = ForgeContext {
        victim: trusted_key(env, alg),
        attacker: env.idp.signing_key(IssuerKind::Rogue),
        listener_url: "http://127.0.0.1:9/unused",
        spec: v,
    };
    attack.forge(&ctx).unwrap()
}

/// A loopback server answering `body` at `/x5u.pem`, counting requests.
async fn counted_listener(body: String) -> (String, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/x5u.pem",
        axum::routing::get(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            body
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x5u.pem", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits, task)
}

/// The `signed_metadata` of a server with these faults that has the trusted issuer sign it.
async fn signed_metadata(env: &Env, config: Config) -> Option<Jws> {
    let mut config = config;
    let key = env.idp.signing_key(IssuerKind::Trusted).clone();
    let issuer = env.idp.issuer().to_owned();
    config.signed_metadata = Some(MetadataSigner::new(move |members| {
        let spec = members
            .iter()
            .fold(TokenSpec::new().typ("JWT"), |spec, (name, value)| {
                spec.claim(name, value.clone())
            });
        spec.claim("iss", issuer.as_str()).mint(&key)
    }));
    let s = start(config).await;
    let doc = prm(env, &s).await?;
    Jws::parse(doc.get("signed_metadata")?.as_str()?).ok()
}

fn introspecting(env: &Env, config: Config, endpoint: &str) -> Config {
    let mut config = config;
    config.introspection = Some(IntrospectionConfig::new(
        endpoint,
        RESOURCE_SERVER_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_SECRET,
    ));
    let _ = env;
    config
}

/// Whether a server with `faults` shows the defect `probe` introduces.
async fn shows(probe: Fault, env: &Env, faults: &[Fault]) -> bool {
    let config = env.config(faults);
    let server = start(config.clone()).await;
    let s = &server;
    let v = env.valid(s);
    let now = unix_now();
    let accepts = |spec: mock_idp::token::TokenSpec| async move {
        env.session_call(s, &env.mint(&spec), CANARY_TOOL).await
    };
    let forged = |attack: Attack| env.forge(&env.valid(s), &attack).unwrap();
    match probe {
        // §1.1
        Fault::NoWwwAuthenticate => {
            let r = anonymous(env, s).await;
            r.status == StatusCode::UNAUTHORIZED && r.www_authenticate().is_none()
        }
        Fault::NoResourceMetadata => {
            env.get(s.prm_url()).send().await.status == StatusCode::NOT_FOUND
                && env.get(s.prm_root_url()).send().await.status == StatusCode::NOT_FOUND
        }
        Fault::NoResourceMetadataParam => {
            prm(env, s).await.is_some()
                && anonymous(env, s)
                    .await
                    .challenge()
                    .is_some_and(|c| c.get("resource_metadata").is_none())
        }
        Fault::ErrorOnNoToken => anonymous(env, s)
            .await
            .challenge()
            .is_some_and(|c| c.get("error").is_some()),
        Fault::ErrorOnUnsupportedScheme => env
            .post(&s.mcp_url())
            .header("authorization", "Basic dXNlcjpwYXNz")
            .json(initialize())
            .send()
            .await
            .challenge()
            .is_some_and(|c| c.get("error").is_some()),
        Fault::NoScopeInChallenge => anonymous(env, s)
            .await
            .challenge()
            .is_some_and(|c| c.get("scope").is_none()),
        Fault::AdvertiseOfflineAccess => anonymous(env, s)
            .await
            .challenge()
            .and_then(|c| c.get("scope").map(|s| s.contains("offline_access")))
            .unwrap_or(false),
        Fault::MalformedChallenge => anonymous(env, s)
            .await
            .challenge()
            .is_some_and(|c| c.has_duplicates()),
        Fault::PrmRequiresToken => {
            env.get(s.prm_url()).send().await.status == StatusCode::UNAUTHORIZED
        }
        Fault::PrmResourceMismatch => prm(env, s).await.is_some_and(|p| {
            let r = p["resource"].as_str().unwrap_or_default();
            r.split('#').next() != Some(s.resource())
        }),
        Fault::PrmResourceFragment => prm(env, s)
            .await
            .is_some_and(|p| p["resource"].as_str().unwrap_or_default().contains('#')),
        Fault::PrmNoAuthorizationServers => prm(env, s).await.is_some_and(|p| {
            p.get("authorization_servers")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
        }),
        Fault::PrmIssuerMismatch => prm(env, s).await.is_some_and(|p| {
            p.get("authorization_servers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a[..] != [json!(env.idp.issuer())])
        }),
        Fault::PrmEmptyArray => prm(env, s).await.is_some_and(|p| {
            p.as_object().unwrap().iter().any(|(k, v)| {
                k != "bearer_methods_supported" && v.as_array().is_some_and(|a| a.is_empty())
            })
        }),
        Fault::PrmAdvertisesQuery => prm(env, s).await.is_some_and(|p| {
            p["bearer_methods_supported"]
                .as_array()
                .is_some_and(|m| m.contains(&json!("query")))
        }),
        Fault::NoCorsExpose => {
            let r = env
                .post(&s.mcp_url())
                .header("origin", "https://client.test")
                .json(initialize())
                .send()
                .await;
            !r.header("access-control-expose-headers")
                .is_some_and(|h| h.to_ascii_lowercase().contains("www-authenticate"))
        }
        Fault::ResourceMetadataPlainHttp => anonymous(env, s)
            .await
            .challenge()
            .and_then(|c| c.get("resource_metadata").map(str::to_owned))
            .and_then(|u| url::Url::parse(&u).ok())
            .is_some_and(|u| {
                u.scheme() == "http"
                    && !matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
            }),
        Fault::OriginCheckLeaks => {
            let r = env
                .post(&s.mcp_url())
                .header("origin", "https://evil.example")
                .json(initialize())
                .send()
                .await;
            r.status == StatusCode::FORBIDDEN && r.text.contains("mcp-authspec-reference")
        }
        Fault::PrmSignedMetadataUnsigned => signed_metadata(env, config)
            .await
            .is_some_and(|jws| jws.alg() == Some("none")),
        Fault::PrmSignedMetadataBadSignature => {
            signed_metadata(env, config).await.is_some_and(|jws| {
                let key = env.idp.signing_key(IssuerKind::Trusted).verifying_key();
                let alg = jws.alg().and_then(Algorithm::from_name);
                alg.is_some_and(|alg| {
                    key.verify(alg, jws.signing_input(), jws.signature(), false)
                        .is_err()
                })
            })
        }
        // §1.2
        Fault::AcceptQueryToken => {
            let with = |t: String| {
                env.post(&format!("{}?access_token={t}", s.mcp_url()))
                    .json(initialize())
                    .send()
            };
            with(env.mint(&v)).await.accepted()
                && with("x.y.z".into())
                    .await
                    .challenge()
                    .is_some_and(|c| c.get("error") == Some("invalid_token"))
        }
        Fault::AcceptFormToken => {
            let with = |t: String| {
                env.post(&s.mcp_url())
                    .raw(
                        "application/x-www-form-urlencoded",
                        format!("access_token={t}"),
                    )
                    .send()
            };
            with(env.mint(&v)).await.status != StatusCode::UNAUTHORIZED
                && with("x.y.z".into())
                    .await
                    .challenge()
                    .is_some_and(|c| c.get("error") == Some("invalid_token"))
        }
        Fault::CaseSensitiveScheme => {
            let token = env.mint(&v);
            env.accepts(s, &token).await
                && !env
                    .post(&s.mcp_url())
                    .header("authorization", format!("bearer {token}"))
                    .json(initialize())
                    .send()
                    .await
                    .accepted()
        }
        Fault::FirstAuthorizationWins => env
            .post(&s.mcp_url())
            .bearer(&env.mint(&v))
            .header("authorization", "Bearer other")
            .json(initialize())
            .send()
            .await
            .accepted(),
        Fault::LastAuthorizationWins => {
            let token = env.mint(&v);
            let two_fields = env
                .post(&s.mcp_url())
                .header("authorization", "Bearer other")
                .bearer(&token)
                .json(initialize())
                .send()
                .await
                .accepted();
            let joined = env
                .post(&s.mcp_url())
                .header("authorization", format!("Bearer other, Bearer {token}"))
                .json(initialize())
                .send()
                .await
                .accepted();
            two_fields && joined
        }
        Fault::LenientCredentials => env
            .post(&s.mcp_url())
            .header("authorization", format!("Bearer {} extra", env.mint(&v)))
            .json(initialize())
            .send()
            .await
            .accepted(),
        Fault::AllowAnonymous => anonymous(env, s).await.accepted(),
        Fault::SessionIsAuthentication => {
            let Some(session) = env.open_session(s, &env.mint(&v)).await else {
                return false;
            };
            let before = s.canary_count();
            let r = env
                .post(&s.mcp_url())
                .session(&session)
                .json(call(CANARY_TOOL))
                .send()
                .await;
            r.accepted() && s.canary_count() == before + 1
        }
        Fault::SessionNotBound => {
            let alice = env.mint(&v.clone().subject("alice"));
            let bob = env.mint(&v.clone().subject("bob"));
            let Some(session) = env.open_session(s, &alice).await else {
                return false;
            };
            let before = s.canary_count();
            let r = env
                .post(&s.mcp_url())
                .bearer(&bob)
                .session(&session)
                .json(call(CANARY_TOOL))
                .send()
                .await;
            r.accepted() && s.canary_count() == before + 1
        }
        Fault::SessionMismatch500 => cross_user_status(env, s, &v).await == Some(500),
        Fault::SessionMismatch400 => cross_user_status(env, s, &v).await == Some(400),
        Fault::UnauthenticatedDelete => {
            let Some(session) = env.open_session(s, &env.mint(&v)).await else {
                return false;
            };
            env.delete(&s.mcp_url())
                .session(&session)
                .send()
                .await
                .status
                .is_success()
        }
        Fault::ProcessBeforeAuth => {
            let before = s.canary_count();
            env.post(&s.mcp_url())
                .session("nope")
                .json(call(CANARY_TOOL))
                .send()
                .await;
            s.canary_count() != before
        }
        Fault::ProcessBeforeExpCheck => {
            let expired = env.mint(&v.clone().iat(now - 1200).exp(now - 600));
            let before = s.canary_count();
            let r = env
                .post(&s.mcp_url())
                .bearer(&expired)
                .session("nope")
                .json(call(CANARY_TOOL))
                .send()
                .await;
            r.status == StatusCode::UNAUTHORIZED && s.canary_count() != before
        }
        Fault::Error500OnGarbage => {
            env.post(&s.mcp_url())
                .bearer("garbage")
                .json(initialize())
                .send()
                .await
                .status
                == StatusCode::INTERNAL_SERVER_ERROR
        }
        Fault::Error500OnLongKid => {
            // A parseable token whose kid is one byte over the limit.
            let token = env.mint(&v.clone().kid(&"k".repeat(65)));
            env.post(&s.mcp_url())
                .bearer(&token)
                .json(initialize())
                .send()
                .await
                .status
                == StatusCode::INTERNAL_SERVER_ERROR
        }
        Fault::Error500OnNullClaim => {
            // A validly signed token with one claim set to null.
            let token = env.mint(&v.clone().claim("sub", Value::Null));
            env.post(&s.mcp_url())
                .bearer(&token)
                .json(initialize())
                .send()
                .await
                .status
                == StatusCode::INTERNAL_SERVER_ERROR
        }
        Fault::RejectEverything => !accepts(v).await,
        Fault::QueryTokenWins => {
            let token = env.mint(&v);
            let with_query = |query: &'static str| {
                env.post(&format!("{}?access_token={query}", s.mcp_url()))
                    .bearer(&token)
                    .json(initialize())
                    .send()
            };
            env.accepts(s, &token).await
                && with_query("x.y.z")
                    .await
                    .challenge()
                    .is_some_and(|c| c.get("error") == Some("invalid_token"))
        }
        // §1.3
        Fault::IgnoreAud => accepts(v.aud("https://other.test/mcp")).await,
        Fault::AudSameOrigin => {
            let origin = url::Url::parse(s.resource())
                .unwrap()
                .origin()
                .ascii_serialization();
            accepts(v.aud(&format!("{origin}/other-mcp"))).await
        }
        Fault::AudCaseSensitive => {
            let upper = s.resource().replacen("http://", "HTTP://", 1);
            refuses_variant(env, s, env.mint(&v.aud(&upper))).await
        }
        Fault::IgnoreIss => accepts(v.iss("http://127.0.0.1:9/evil")).await,
        Fault::AcceptNoIss => accepts(v.without_claim("iss")).await,
        Fault::IssNormalized => accepts(v.iss(&format!("{}/", env.idp.issuer()))).await,
        Fault::AcceptOtherTenant => {
            let spec = env
                .idp
                .token_spec_for(IssuerKind::OtherTenant, s.resource(), BASE_SCOPE);
            env.session_call(
                s,
                &env.idp.mint_as(IssuerKind::OtherTenant, &spec),
                CANARY_TOOL,
            )
            .await
        }
        Fault::AcceptRogueIssuer => {
            let spec = env
                .idp
                .token_spec_for(IssuerKind::Rogue, s.resource(), BASE_SCOPE);
            env.session_call(s, &env.idp.mint_rogue(&spec), CANARY_TOOL)
                .await
        }
        Fault::TokenPassthrough => {
            let mut config = config;
            config.canary_upstream = Some(env.upstream_url());
            let s = start(config).await;
            let token = env.mint(&env.valid(&s));
            let seen = env.harness.upstream_auth.lock().unwrap().len();
            if !env.session_call(&s, &token, CANARY_TOOL).await {
                return false;
            }
            let auth = env.harness.upstream_auth.lock().unwrap()[seen..].to_vec();
            auth.iter().any(|a| a.contains(&token))
                && !auth.iter().any(|a| a.contains(UPSTREAM_CREDENTIAL))
        }
        Fault::IssuerKeysPooled => {
            // Trusting two issuers, V (iss = the main one) signed with the second one's key.
            let mut config = config;
            let second = env.idp.urls(IssuerKind::Second);
            config.additional_issuers = vec![TrustedIssuer::new(&second.issuer, &second.jwks_uri)];
            let s = start(config).await;
            let v = env.valid(&s);
            let own = env
                .idp
                .token_spec_for(IssuerKind::Second, s.resource(), BASE_SCOPE);
            env.session_call(&s, &env.idp.mint_as(IssuerKind::Second, &own), CANARY_TOOL)
                .await
                && env
                    .session_call(&s, &env.idp.mint_as(IssuerKind::Second, &v), CANARY_TOOL)
                    .await
        }
        // §1.4
        Fault::AcceptNoExp => accepts(v.without_claim("exp")).await,
        Fault::AcceptExpired => accepts(v.iat(now - 3 * 86_400).exp(now - 2 * 86_400)).await,
        Fault::LeewayHuge => accepts(v.iat(now - 1200).exp(now - 900)).await,
        Fault::IgnoreNbf => accepts(v.nbf(now + 3600)).await,
        Fault::IgnoreIat => accepts(v.iat(now + 3600)).await,
        Fault::LaxClaimTypes => accepts(v.claim("exp", (now + 300).to_string())).await,
        Fault::LaxRequiredClaims => accepts(v.without_claim("jti")).await,
        Fault::IgnoreTyp => accepts(v.typ("JWT")).await,
        Fault::TypExact => refuses_variant(env, s, env.mint(&v.typ("application/at+jwt"))).await,
        Fault::AcceptIdToken => {
            let id_token = v
                .typ("JWT")
                .aud(CONFIDENTIAL_CLIENT_ID)
                .claim("azp", CONFIDENTIAL_CLIENT_ID)
                .claim("nonce", "n-0S6_WzA2Mj")
                .claim("auth_time", now)
                .without_claim("scope");
            env.accepts(s, &env.mint(&id_token)).await
        }
        Fault::AcceptDuplicateClaims => {
            env.accepts(
                s,
                &forged(Attack::DuplicateAud {
                    other: "https://other.test/mcp",
                }),
            )
            .await
        }
        Fault::AcceptCritUnknown => {
            env.accepts(s, &forged(Attack::Crit(CritForm::Unknown)))
                .await
        }
        Fault::LaxCrit => env.accepts(s, &forged(Attack::Crit(CritForm::Empty))).await,
        Fault::IgnoreCrit => {
            env.accepts(s, &forged(Attack::Crit(CritForm::Unknown)))
                .await
                && env.accepts(s, &forged(Attack::Crit(CritForm::Empty))).await
        }
        Fault::LenientBase64 => {
            env.accepts(s, &forged(Attack::Malformed(Structure::Padding)))
                .await
        }
        Fault::NestedInnerOnly => env.accepts(s, &forged(Attack::NestedAttackerOuter)).await,
        Fault::NoJwksRateLimit => {
            let rogue = env.idp.signing_key(IssuerKind::Rogue);
            for i in 0..4 {
                let spec = env.valid(s).kid(&format!("unknown-{i}"));
                env.accepts(s, &spec.mint(rogue)).await;
            }
            s.jwks_fetches() >= 4
        }
        Fault::JwksNeverRefresh => {
            // Refused without a second fetch (a pinned cache fetches, then refuses).
            matches!(rotated_key_answer(env, config).await, Some((false, fetches)) if fetches <= 1)
        }
        Fault::JwksPinnedKeys => {
            // Refetched (it saw the new key) and still refused.
            matches!(rotated_key_answer(env, config).await, Some((false, fetches)) if fetches >= 2)
        }
        Fault::AcceptInactive => {
            let s = start(introspecting(
                env,
                config,
                &env.idp.introspection_endpoint(),
            ))
            .await;
            let expired = env.idp.register_opaque(json!({
                "sub": "alice", "aud": s.resource(), "scope": BASE_SCOPE, "exp": now - 600
            }));
            env.accepts(&s, &expired).await
        }
        Fault::IntrospectionCachePrefix => {
            let s = start(introspecting(
                env,
                config,
                &env.idp.introspection_endpoint(),
            ))
            .await;
            let v = env.idp.register_opaque(json!({
                "sub": "alice", "aud": s.resource(), "scope": BASE_SCOPE, "exp": now + 600
            }));
            let altered = mock_idp::forge::opaque_variants(&v);
            env.accepts(&s, &v).await && env.accepts(&s, &altered[1].1).await
        }
        Fault::IntrospectionFailOpen => {
            let s = start(introspecting(env, config, "http://127.0.0.1:9/introspect")).await;
            env.accepts(&s, &mock_idp::random_b64url(32)).await
        }
        // §1.5
        Fault::AcceptAlgNone => {
            env.accepts(
                s,
                &forged(Attack::AlgNone {
                    spelling: "none",
                    keep_signature: false,
                }),
            )
            .await
        }
        Fault::SkipSignature => env.accepts(s, &forged(Attack::SignatureBroken)).await,
        Fault::Hs256PublicKey => {
            let hash = HmacHash::Sha256;
            let form = PublicKeyForm::JwkJson;
            env.accepts(s, &forged(Attack::HmacWithPublicKey { form, hash }))
                .await
        }
        Fault::Hs384Hs512PublicKey => {
            let form = PublicKeyForm::Raw;
            let with = |hash| forged(Attack::HmacWithPublicKey { form, hash });
            env.accepts(s, &with(HmacHash::Sha384)).await
                && env.accepts(s, &with(HmacHash::Sha512)).await
                && !env.accepts(s, &with(HmacHash::Sha256)).await
        }
        Fault::TrustEmbeddedJwk => {
            env.accepts(
                s,
                &forged(Attack::EmbeddedJwk {
                    keep_victim_kid: false,
                }),
            )
            .await
        }
        Fault::TrustJku => env.accepts(s, &forged(Attack::Jku)).await,
        Fault::AcceptPsychicSignature => {
            env.accepts(s, &forged(Attack::PsychicSignature { der: false }))
                .await
        }
        Fault::AcceptNullSignature => env.accepts(s, &forged(Attack::SignatureStripped)).await,
        Fault::AcceptBlankHmac => env.accepts(s, &forged(Attack::HmacEmptySecret)).await,
        Fault::AcceptWeakHmac => {
            env.accepts(s, &forged(Attack::HmacWeakSecret("secret")))
                .await
        }
        Fault::HmacKidLookup => {
            let sql = Attack::KidInjection {
                kid: "x' UNION SELECT '1';--",
                secret: b"1",
            };
            env.accepts(s, &forged(sql)).await
        }
        Fault::Hs256KidPem => env.accepts(s, &forged(Attack::KidWithHmac)).await,
        Fault::KidAlgFallback => {
            let rsa = trusted_key(env, Algorithm::Rs256).kid().unwrap().to_owned();
            env.accepts(s, &forged(Attack::ForeignKid(rsa))).await
        }
        Fault::RsaAnyPadding => {
            let token = forged_against(env, &v, Algorithm::Rs256, Attack::RsaFamilySwitch);
            env.accepts(s, &token).await
        }
        Fault::EcdsaCurveFromKey => {
            let token = forged_against(env, &v, Algorithm::Es384, Attack::CurveRelabeled);
            env.accepts(s, &token).await
        }
        Fault::EcdsaNoRangeCheck => {
            let out_of_range = Attack::ScalarOutOfRange(ScalarDefect::RIsOrder);
            env.accepts(s, &forged(out_of_range)).await
        }
        Fault::EcdsaLenientLength => {
            env.accepts(s, &forged(Attack::SignatureTrailingBytes))
                .await
        }
        Fault::AcceptHighS => env.accepts(s, &forged(Attack::HighS)).await,
        Fault::TrustX5c => env.accepts(s, &forged(Attack::X5c)).await,
        Fault::TrustX5u => {
            // The defect is the fetch plus the trust: an x5u URL serving the rogue key's
            // certificate is requested, and the token it signed is accepted.
            let rogue = env.idp.signing_key(IssuerKind::Rogue);
            let pem = cert::to_pem(&cert::self_signed(rogue).unwrap());
            let (url, hits, listener) = counted_listener(pem).await;
            let ctx = ForgeContext {
                victim: env.idp.signing_key(IssuerKind::Trusted),
                attacker: rogue,
                listener_url: &url,
                spec: &v,
            };
            let accepted = env.accepts(s, &Attack::X5u.forge(&ctx).unwrap()).await;
            listener.abort();
            accepted && hits.load(Ordering::SeqCst) > 0
        }
        Fault::KidCommandSleep => {
            let sleep = forged(Attack::KidInjection {
                kid: "|sleep 10",
                secret: b"",
            });
            let started = std::time::Instant::now();
            let accepted = env.accepts(s, &sleep).await;
            !accepted && started.elapsed() >= Duration::from_secs(5)
        }
        // §1.6
        Fault::Scope401 => step_up_reply(env, s)
            .await
            .is_some_and(|r| r.status == StatusCode::UNAUTHORIZED),
        Fault::Scope403Bare => step_up_reply(env, s)
            .await
            .is_some_and(|r| r.status == StatusCode::FORBIDDEN && r.www_authenticate().is_none()),
        Fault::ScopeChallengeIncomplete => {
            let Some(r) = step_up_reply(env, s).await else {
                return false;
            };
            r.status == StatusCode::FORBIDDEN
                && r.challenge().is_some_and(|c| {
                    !c.get("scope")
                        .unwrap_or_default()
                        .split(' ')
                        .any(|x| x == ADMIN_SCOPE)
                })
        }
        Fault::IgnoreScopeHierarchy => {
            env.accepts(s, &env.mint(&v)).await
                && !env
                    .session_call(s, &env.mint(&v.scope(PARENT_SCOPE)), ADMIN_TOOL)
                    .await
        }
        Fault::ScopeFirstOnly => {
            env.accepts(s, &env.mint(&v)).await
                && !env
                    .session_call(
                        s,
                        &env.mint(&v.scope(&format!("{ADMIN_SCOPE} {BASE_SCOPE}"))),
                        CANARY_TOOL,
                    )
                    .await
        }
        Fault::ScopeCaseInsensitive => {
            let upper = ADMIN_SCOPE.to_ascii_uppercase();
            env.session_call(
                s,
                &env.mint(&v.scope(&format!("{BASE_SCOPE} {upper}"))),
                ADMIN_TOOL,
            )
            .await
        }
        // §1.7 (each probe starts its own DPoP-enabled server with the same faults)
        Fault::DpopProofOptional => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[]).await.accepted()
        }
        Fault::DpopFirstProofWins => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            dpop_calibrated(env, &d).await
                && dpop_send(env, &d, &token, &[proof, "x".into()])
                    .await
                    .accepted()
        }
        Fault::DpopLaxTyp => dpop_accepts_variant(env, faults, |p| p.typ("JWT")).await,
        Fault::DpopSkipSignature => {
            dpop_accepts_variant(env, faults, |p| p.corrupt_signature()).await
        }
        Fault::DpopAcceptPrivateJwk => dpop_accepts_variant(env, faults, |p| p.private_jwk()).await,
        Fault::DpopIgnoreHtm => dpop_accepts_variant(env, faults, |p| p.htm("PUT")).await,
        Fault::DpopIgnoreHtu => {
            dpop_accepts_variant(env, faults, |p| {
                p.htu_variant(mock_idp::dpop::HtuVariant::Path("/other-mcp".into()))
            })
            .await
        }
        Fault::DpopIgnoreIat => dpop_accepts_variant(env, faults, |p| p.iat_offset(-3600)).await,
        Fault::DpopIgnoreAth => {
            dpop_accepts_variant(env, faults, |p| p.ath_for("another-token")).await
        }
        Fault::DpopIgnoreJkt => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let other = dpop_proof(&d, &token).sign(dpop_other_key());
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[other]).await.accepted()
        }
        Fault::DpopAcceptBearerDowngrade => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            dpop_calibrated(env, &d).await && env.accepts(&d, &token).await
        }
        Fault::DpopAcceptUnbound => {
            let d = dpop_server(env, faults, false).await;
            let token = env.mint(&env.valid(&d));
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[proof]).await.accepted()
        }
        Fault::DpopNoReplayCache => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            let once = std::slice::from_ref(&proof);
            dpop_send(env, &d, &token, once).await.accepted()
                && dpop_send(env, &d, &token, once).await.accepted()
        }
        Fault::DpopReplayRace => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            // A sequential replay is refused, and yet concurrent copies get in.
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            let once = std::slice::from_ref(&proof);
            let sequential_refused = dpop_send(env, &d, &token, once).await.accepted()
                && !dpop_send(env, &d, &token, once).await.accepted();
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            sequential_refused && concurrent_accepted(env, &d, &token, &proof, 16).await > 1
        }
        Fault::DpopBearerChallenge => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let bad = dpop_proof(&d, &token).htm("PUT").sign(dpop_key());
            let r = dpop_send(env, &d, &token, &[bad]).await;
            let schemes = challenge_schemes(&r);
            dpop_calibrated(env, &d).await
                && r.status == StatusCode::UNAUTHORIZED
                && schemes.iter().any(|s| s.eq_ignore_ascii_case("bearer"))
                && !schemes.iter().any(|s| s.eq_ignore_ascii_case("dpop"))
        }
        Fault::DpopAdvertiseHs256 => {
            let d = dpop_server(env, faults, false).await;
            prm(env, &d).await.is_some_and(|doc| {
                doc["dpop_signing_alg_values_supported"]
                    .as_array()
                    .is_some_and(|algs| algs.iter().any(|a| a == "HS256"))
            })
        }
        Fault::DpopPrmClaimsRequired => {
            let d = dpop_server(env, faults, false).await;
            let says_required = prm(env, &d)
                .await
                .is_some_and(|doc| doc["dpop_bound_access_tokens_required"] == json!(true));
            says_required && env.accepts(&d, &env.mint(&env.valid(&d))).await
        }
        Fault::DpopNonceAnyValue => {
            let d = dpop_server(env, faults, true).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).nonce("bogus").sign(dpop_key());
            dpop_nonce_calibrated(env, &d).await
                && dpop_send(env, &d, &token, &[proof]).await.accepted()
        }
        Fault::DpopNonceNoHeader => {
            let d = dpop_server(env, faults, true).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            let r = dpop_send(env, &d, &token, &[proof]).await;
            r.status == StatusCode::UNAUTHORIZED
                && r.text.contains("use_dpop_nonce")
                && r.header("dpop-nonce").is_none()
        }
        Fault::DpopAthPadded => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let padded = dpop_proof(&d, &token)
                .ath(&padded_ath(&token))
                .sign(dpop_key());
            env.accepts(&d, &env.mint(&env.valid(&d))).await
                && !dpop_calibrated(env, &d).await
                && dpop_send(env, &d, &token, &[padded]).await.accepted()
        }
        Fault::DpopHtuExact => {
            dpop_refuses_variant(env, faults, |p| {
                p.htu_variant(mock_idp::dpop::HtuVariant::PercentEncodeUnreserved)
            })
            .await
        }
        Fault::DpopIatNoFuture => dpop_refuses_variant(env, faults, |p| p.iat_offset(10)).await,
        Fault::DpopReplayByBytes => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let builder = dpop_proof(&d, &token);
            let first = builder.sign(dpop_key());
            let second = builder.sign(dpop_key());
            let once = std::slice::from_ref(&first);
            dpop_send(env, &d, &token, once).await.accepted()
                && !dpop_send(env, &d, &token, once).await.accepted()
                && first != second
                && dpop_send(env, &d, &token, &[second]).await.accepted()
        }
        Fault::DpopSchemeCaseSensitive => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            let lower = env
                .post(&d.mcp_url())
                .header("authorization", format!("dpop {token}"))
                .header("dpop", proof)
                .json(initialize())
                .send()
                .await;
            dpop_calibrated(env, &d).await && !lower.accepted()
        }
        Fault::Dpop500OnNonStringMember => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).claim("htm", 0).sign(dpop_key());
            dpop_send(env, &d, &token, &[proof]).await.status == StatusCode::INTERNAL_SERVER_ERROR
        }
        Fault::DpopAlgsUnenforced => {
            let d = dpop_server(env, faults, false).await;
            let es512 = dpop_es512_key();
            let token = dpop_bound(env, &d, es512);
            let proof = dpop_proof(&d, &token).sign(es512);
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[proof]).await.accepted()
        }
        Fault::DpopIgnoreExp => {
            dpop_accepts_variant(env, faults, |p| p.claim("exp", unix_now() - 60)).await
        }
        Fault::DpopStrictMembers => {
            dpop_refuses_variant(env, faults, |p| {
                p.header("x-foo", "bar").claim("tx_id", "t-1")
            })
            .await
        }
        Fault::DpopJtiUnchecked => dpop_accepts_variant(env, faults, |p| p.empty_jti()).await,
        Fault::DpopThumbprintAllMembers => {
            let mut jwk = mock_idp::dpop::proof::minimal_public_jwk(dpop_key()).to_json();
            jwk["kid"] = json!("k-1");
            jwk["use"] = json!("sig");
            dpop_refuses_variant(env, faults, |p| p.header("jwk", jwk.clone())).await
        }
        Fault::DpopTrustJku => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let rogue = env.idp.signing_key(IssuerKind::Rogue);
            // Signed by the key the jku serves; the embedded jwk stays the bound one.
            let proof = dpop_proof(&d, &token)
                .header("jku", format!("{}/rogue-jwks", env.harness_url))
                .alg(rogue.alg().name())
                .signed_by(rogue)
                .sign(dpop_key());
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[proof]).await.accepted()
        }
        Fault::DpopProofAsToken => {
            let d = dpop_server(env, faults, false).await;
            let proof = dpop_proof(&d, "no-token").sign(dpop_key());
            dpop_calibrated(env, &d).await
                && dpop_send(env, &d, &proof, std::slice::from_ref(&proof))
                    .await
                    .accepted()
        }
        Fault::DpopNonceDowngrade => {
            let d = dpop_server(env, faults, true).await;
            let token = dpop_bound(env, &d, dpop_key());
            let without = dpop_proof(&d, &token).sign(dpop_key());
            dpop_nonce_calibrated(env, &d).await
                && dpop_send(env, &d, &token, &[without]).await.accepted()
        }
        Fault::DpopHtuQueryStrict => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            let with_query = env
                .post(&format!("{}?x=1", d.mcp_url()))
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .json(initialize())
                .send()
                .await;
            dpop_calibrated(env, &d).await && !with_query.accepted()
        }
        Fault::DpopHeaderNameCaseSensitive => {
            let d = dpop_server(env, faults, false).await;
            let token = dpop_bound(env, &d, dpop_key());
            let proof = dpop_proof(&d, &token).sign(dpop_key());
            // Field names go out title-cased: `Dpop:`.
            let title_case = reqwest::Client::builder()
                .http1_title_case_headers()
                .build()
                .unwrap();
            let accepted = title_case
                .post(d.mcp_url())
                .header("accept", "application/json, text/event-stream")
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .json(&initialize())
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .is_some();
            dpop_calibrated(env, &d).await && !accepted
        }
        Fault::DpopNonceConstant => {
            let d = dpop_server(env, faults, true).await;
            let token = dpop_bound(env, &d, dpop_key());
            let mut nonces = Vec::new();
            for _ in 0..2 {
                let proof = dpop_proof(&d, &token).sign(dpop_key());
                let r = dpop_send(env, &d, &token, &[proof]).await;
                nonces.push(r.header("dpop-nonce").map(str::to_owned));
            }
            nonces[0].is_some() && nonces[0] == nonces[1]
        }
        Fault::DpopAcceptWeakRsa => {
            let d = dpop_server(env, faults, false).await;
            let weak = mock_idp::forge::weak_rsa::WeakRsaKey::fixture_1024();
            let jwk = weak.public_jwk();
            let jkt = mock_idp::jwk::Jwk::from_json(&jwk).unwrap().thumbprint();
            let token = env.mint(&env.valid(&d).cnf_jkt(&jkt));
            let (header, claims) = dpop_proof(&d, &token)
                .header("jwk", jwk)
                .alg("RS256")
                .parts(dpop_key());
            let input = format!(
                "{}.{}",
                mock_idp::b64::encode(header.to_bytes()),
                mock_idp::b64::encode(claims.to_bytes())
            );
            let proof = format!(
                "{input}.{}",
                mock_idp::b64::encode(weak.sign_rs256(input.as_bytes()))
            );
            dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[proof]).await.accepted()
        }
        Fault::DpopHtuTrailingSlash => {
            dpop_accepts_variant(env, faults, |p| {
                p.htu_variant(mock_idp::dpop::HtuVariant::TrailingSlash)
            })
            .await
        }
    }
}

#[tokio::test]
async fn the_compliant_server_shows_no_defect() {
    let env = Env::start().await;
    let mut shown = Vec::new();
    for &probe in Fault::ALL {
        if shows(probe, &env, &[]).await {
            shown.push(probe);
        }
    }
    assert!(shown.is_empty(), "the compliant server shows {shown:?}");
    assert_eq!(env.jku_hits(), 0, "the compliant server fetched a jku URL");
}

#[tokio::test]
async fn every_fault_shows_its_defect() {
    let env = Env::start().await;
    let mut missing = Vec::new();
    for &fault in Fault::ALL {
        if !shows(fault, &env, &[fault]).await {
            missing.push(fault);
        }
    }
    assert!(missing.is_empty(), "faults that do not show: {missing:?}");
}

/// Each fault changes exactly its behaviour: run every probe against every faulty server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_changes_only_its_behaviour() {
    let env = Env::start().await;
    let mut unexpected = BTreeSet::new();
    for &fault in Fault::ALL {
        for &probe in Fault::ALL {
            if probe == fault {
                continue;
            }
            if shows(probe, &env, &[fault]).await != overlaps(fault, probe) {
                unexpected.insert((fault.name(), probe.name()));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "(server fault, probe) pairs that disagree with OVERLAPS: {unexpected:?}"
    );
}

#[tokio::test]
async fn every_fault_but_reject_everything_still_serves_a_valid_token() {
    let env = Env::start().await;
    for &fault in Fault::ALL {
        let server = env.server(&[fault]).await;
        let token = env.mint(&env.valid(&server));
        let works = env.session_call(&server, &token, CANARY_TOOL).await;
        assert_eq!(works, fault != Fault::RejectEverything, "{fault}");
    }
}

#[tokio::test]
async fn faults_combine() {
    let env = Env::start().await;
    let faults = [Fault::SkipSignature, Fault::IgnoreIss];
    let server = env.server(&faults).await;
    assert_eq!(server.faults().len(), 2);
    // Neither fault alone accepts the rogue issuer's token; together they do.
    let spec = env
        .idp
        .token_spec_for(IssuerKind::Rogue, server.resource(), BASE_SCOPE);
    let rogue = env.idp.mint_rogue(&spec);
    assert!(env.session_call(&server, &rogue, CANARY_TOOL).await);
    for single in faults {
        let s = env.server(&[single]).await;
        let spec = env
            .idp
            .token_spec_for(IssuerKind::Rogue, s.resource(), BASE_SCOPE);
        assert!(
            !env.accepts(&s, &env.idp.mint_rogue(&spec)).await,
            "{single}"
        );
    }
}

// ---- §1.7 DPoP probes ----

/// A reference server with DPoP optional (nonces when asked) and these faults.
async fn dpop_server(env: &Env, faults: &[Fault], nonce: bool) -> ReferenceServer {
    let mut config = env.config(faults);
    config.dpop = reference_server::DpopMode::Optional;
    config.dpop_nonce = nonce;
    start(config).await
}

/// The client's DPoP key, and a second one for key-mismatch probes.
fn dpop_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::Es256).unwrap())
}

/// An ES512 key: an algorithm the reference server does not advertise.
fn dpop_es512_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::Es512).unwrap())
}

fn dpop_other_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::Es256).unwrap())
}

/// `Vd`: `V` bound to `key` (cnf.jkt).
fn dpop_bound(env: &Env, server: &ReferenceServer, key: &SigningKey) -> String {
    let jkt = mock_idp::dpop::proof::minimal_public_jwk(key).thumbprint();
    env.mint(&env.valid(server).cnf_jkt(&jkt))
}

/// `P` for `initialize` on the server with `ath` of `token`.
fn dpop_proof(server: &ReferenceServer, token: &str) -> mock_idp::dpop::ProofBuilder {
    mock_idp::dpop::ProofBuilder::new("POST", &server.mcp_url()).ath_for(token)
}

/// `initialize` with `Authorization: DPoP <token>` and these `DPoP` fields.
async fn dpop_send(
    env: &Env,
    server: &ReferenceServer,
    token: &str,
    proofs: &[String],
) -> common::Reply {
    let mut req = env
        .post(&server.mcp_url())
        .header("authorization", format!("DPoP {token}"));
    for proof in proofs {
        req = req.header("dpop", proof);
    }
    req.json(initialize()).send().await
}

/// The positive control: `Vd` with a fresh valid proof is accepted.
async fn dpop_calibrated(env: &Env, server: &ReferenceServer) -> bool {
    let token = dpop_bound(env, server, dpop_key());
    let proof = dpop_proof(server, &token).sign(dpop_key());
    dpop_send(env, server, &token, &[proof]).await.accepted()
}

/// The positive control on a nonce server: the demanded nonce, then acceptance with it.
async fn dpop_nonce_calibrated(env: &Env, server: &ReferenceServer) -> bool {
    let token = dpop_bound(env, server, dpop_key());
    let first = dpop_proof(server, &token).sign(dpop_key());
    let r = dpop_send(env, server, &token, &[first]).await;
    let Some(nonce) = r.header("dpop-nonce").map(str::to_owned) else {
        return false;
    };
    let retry = dpop_proof(server, &token).nonce(&nonce).sign(dpop_key());
    dpop_send(env, server, &token, &[retry]).await.accepted()
}

/// Calibrated: the valid proof is accepted, and so is the edited one.
async fn dpop_accepts_variant(
    env: &Env,
    faults: &[Fault],
    edit: impl Fn(mock_idp::dpop::ProofBuilder) -> mock_idp::dpop::ProofBuilder,
) -> bool {
    let d = dpop_server(env, faults, false).await;
    let token = dpop_bound(env, &d, dpop_key());
    let variant = edit(dpop_proof(&d, &token)).sign(dpop_key());
    dpop_calibrated(env, &d).await && dpop_send(env, &d, &token, &[variant]).await.accepted()
}

/// Calibrated: the valid proof is accepted, and the edited one is not.
async fn dpop_refuses_variant(
    env: &Env,
    faults: &[Fault],
    edit: impl Fn(mock_idp::dpop::ProofBuilder) -> mock_idp::dpop::ProofBuilder,
) -> bool {
    let d = dpop_server(env, faults, false).await;
    let token = dpop_bound(env, &d, dpop_key());
    let variant = edit(dpop_proof(&d, &token)).sign(dpop_key());
    dpop_calibrated(env, &d).await && !dpop_send(env, &d, &token, &[variant]).await.accepted()
}

/// How many of `k` concurrent copies of one DPoP request were accepted.
async fn concurrent_accepted(
    env: &Env,
    server: &ReferenceServer,
    token: &str,
    proof: &str,
    k: usize,
) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..k {
        let request = env
            .http
            .post(server.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .json(&initialize());
        set.spawn(async move {
            let Ok(reply) = request.send().await else {
                return false;
            };
            reply.status().is_success()
                && reply
                    .json::<Value>()
                    .await
                    .is_ok_and(|body| body.get("result").is_some())
        });
    }
    set.join_all().await.into_iter().filter(|&ok| ok).count()
}

/// The schemes of every `WWW-Authenticate` challenge (one per field line here).
fn challenge_schemes(r: &common::Reply) -> Vec<String> {
    r.headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split([' ', ',']).next().unwrap_or_default().to_owned())
        .collect()
}

/// The token's SHA-256 in standard base64 with padding (the `dpop-ath-padded` mistake).
fn padded_ath(token: &str) -> String {
    let mut text: String = mock_idp::jwk::access_token_hash(token)
        .replace('-', "+")
        .replace('_', "/");
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// A server that refreshes its keys without delay, shown a token signed by a key published
/// after its first fetch: whether it accepted it, and how many JWKS fetches it made. `None`
/// when it refused the valid token already.
async fn rotated_key_answer(env: &Env, config: Config) -> Option<(bool, u64)> {
    let mut config = config;
    config.jwks_uri = Some(env.harness_jwks_url());
    config.jwks_min_refresh = Duration::ZERO;
    let s = start(config).await;
    if !env.accepts(&s, &env.mint(&env.valid(&s))).await {
        return None;
    }
    let kid = format!("rotated-{}", mock_idp::random_b64url(6));
    let key = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid(kid);
    env.harness
        .extra_keys
        .lock()
        .unwrap()
        .push(key.public_jwk());
    let accepted = env.accepts(&s, &env.valid(&s).mint(&key)).await;
    Some((accepted, s.jwks_fetches()))
}
