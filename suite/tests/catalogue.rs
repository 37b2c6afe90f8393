//! Proven both ways (design rule 4): every check passes against the compliant reference
//! server and fails — Fail or Warn as its level says — against each fault profile listed in
//! its `broken_by`; against `reject-everything` no token check passes. A check without a
//! fault that breaks it makes this test fail.
//!
//! Checks of opaque-token introspection (spec INTRO rows) apply only to a server that
//! introspects at the mock IdP: they are Skip against the default reference server and are
//! proven against one configured for introspection. Likewise the PRM signed_metadata checks
//! (Skip on the default demo, whose reports must hold no token-shaped string) are proven
//! against a server whose PRM carries it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mock_idp::server::{
    IdpConfig, MockIdp, RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET,
};
use reference_server::{Config as DemoConfig, Fault, IntrospectionConfig, ReferenceServer};
use suite::catalog;
use suite::catalog::dpop::needs_dpop_nonce;
use suite::catalog::prm::needs_signed_metadata;
use suite::catalog::token::needs_introspection;
use suite::check::Applies;
use suite::check::Need;
use suite::engine::runner::RunOptions;
use suite::engine::select::{Glob, Selection};
use suite::engine::session::{Embedded, TokenDefaults, UpstreamRecorder, context, run_checks};
use suite::http::Limits;
use suite::model::{Profile, SpecVersion, Verdict};

/// Which reference server a check is proven against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// The default: JWT access tokens validated locally.
    Default,
    /// Opaque tokens introspected at the mock IdP (JWTs still validated locally), with a short
    /// introspection timeout so a stalled answer is a failure, not a wait.
    Introspecting,
    /// DPoP with server nonces demanded (spec §1.7 nonce rows; Skip on the default demo).
    DpopNonce,
    /// The default with PRM signed_metadata (spec rs-prm-signed-metadata).
    SignedMetadata,
}

impl Server {
    fn of(id: &str) -> Self {
        if needs_introspection(id) {
            Server::Introspecting
        } else if needs_dpop_nonce(id) {
            Server::DpopNonce
        } else if needs_signed_metadata(id) {
            Server::SignedMetadata
        } else {
            Server::Default
        }
    }
}

async fn start(idp: &Arc<MockIdp>, faults: &BTreeSet<Fault>, server: Server) -> Embedded {
    if server == Server::Default {
        return Embedded::start_with(idp.clone(), faults).await.unwrap();
    }
    if server == Server::SignedMetadata {
        return Embedded::start_signing_metadata(idp.clone(), faults)
            .await
            .unwrap();
    }
    let upstream = UpstreamRecorder::start().await.unwrap();
    let mut config = DemoConfig::new(idp.issuer(), &idp.jwks_url());
    config.faults = faults.clone();
    config.canary_upstream = Some(upstream.url().to_owned());
    if server == Server::DpopNonce {
        config.dpop = reference_server::DpopMode::Optional;
        config.dpop_nonce = true;
        return Embedded {
            idp: idp.clone(),
            server: ReferenceServer::start(config).await.unwrap(),
            upstream,
        };
    }
    let mut introspection = IntrospectionConfig::new(
        &idp.introspection_endpoint(),
        RESOURCE_SERVER_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_SECRET,
    );
    introspection.timeout = Duration::from_secs(1);
    config.introspection = Some(introspection);
    Embedded {
        idp: idp.clone(),
        server: ReferenceServer::start(config).await.unwrap(),
        upstream,
    }
}

/// The spec version and profiles a run holds the target to.
#[derive(Debug, Clone)]
struct InForce {
    version: SpecVersion,
    profiles: Vec<Profile>,
}

impl InForce {
    /// What the embedded demo declares: the newest revision, and the RFC 9068 profile the
    /// reference server implements.
    fn demo() -> Self {
        Self {
            version: SpecVersion::NEWEST,
            profiles: Embedded::profiles(),
        }
    }

    /// Where `meta` binds at its own level: its profile declared, a revision it names.
    fn binding(meta: &suite::check::CheckMeta) -> Self {
        let demo = Self::demo();
        let (version, profiles) = meta.applies.binding(demo.version, demo.profiles);
        Self { version, profiles }
    }

    /// Where `meta` does not bind at its own level: no profile declared, or a revision it
    /// does not name. `None` for a check that binds everywhere.
    fn not_binding(meta: &suite::check::CheckMeta) -> Option<Self> {
        match meta.applies {
            Applies::Always => None,
            Applies::UnderProfile { profile, .. } => Some(Self {
                version: SpecVersion::NEWEST,
                profiles: Profile::ALL.into_iter().filter(|p| *p != profile).collect(),
            }),
            Applies::InVersions { versions, .. } => Some(Self {
                version: *SpecVersion::ALL.iter().find(|v| !versions.contains(v))?,
                profiles: Embedded::profiles(),
            }),
        }
    }
}

async fn run(
    idp: &Arc<MockIdp>,
    faults: &BTreeSet<Fault>,
    selection: &Selection,
    server: Server,
) -> Vec<(&'static str, Verdict, String)> {
    run_in(idp, faults, selection, server, &InForce::demo()).await
}

async fn run_in(
    idp: &Arc<MockIdp>,
    faults: &BTreeSet<Fault>,
    selection: &Selection,
    server: Server,
    in_force: &InForce,
) -> Vec<(&'static str, Verdict, String)> {
    let env = start(idp, faults, server).await;
    let mut ctx = context(
        &env.server.mcp_url(),
        Some(idp.clone()),
        &TokenDefaults::default(),
        Some(Embedded::step_up()),
        Some(env.canary()),
        Limits::default(),
    )
    .await
    .unwrap();
    ctx.spec_version = in_force.version;
    ctx.declare_profiles(&in_force.profiles);
    let results = run_checks(&ctx, selection, RunOptions::default(), |_, _| {}).await;
    env.server.shutdown().await;
    results
        .into_iter()
        .map(|(m, o)| (m.id, o.verdict, format!("{} | {}", o.message, o.actual)))
        .collect()
}

fn faults(combo: &str) -> BTreeSet<Fault> {
    combo.split('+').map(|f| f.parse().unwrap()).collect()
}

fn only(ids: &[&str]) -> Selection {
    Selection {
        include: ids.iter().map(|id| Glob::new(id)).collect(),
        skip: vec![],
    }
}

fn dpop_nonce_ids() -> Vec<&'static str> {
    catalog::all()
        .iter()
        .map(|c| c.meta.id)
        .filter(|id| needs_dpop_nonce(id))
        .collect()
}

fn introspection_ids() -> Vec<&'static str> {
    catalog::all()
        .iter()
        .map(|c| c.meta.id)
        .filter(|id| needs_introspection(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_is_proven_both_ways() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let compliant = run(
        &idp,
        &BTreeSet::new(),
        &Selection::default(),
        Server::Default,
    )
    .await;
    assert_eq!(compliant.len(), catalog::all().len());
    for (id, verdict, detail) in &compliant {
        let expected = match Server::of(id) {
            Server::Default => Verdict::Pass,
            Server::Introspecting | Server::DpopNonce | Server::SignedMetadata => Verdict::Skip,
        };
        assert_eq!(*verdict, expected, "{id} on the compliant server: {detail}");
    }
    let introspecting = introspection_ids();
    let compliant = run(
        &idp,
        &BTreeSet::new(),
        &only(&introspecting),
        Server::Introspecting,
    )
    .await;
    assert_eq!(compliant.len(), introspecting.len());
    for (id, verdict, detail) in &compliant {
        assert_eq!(
            *verdict,
            Verdict::Pass,
            "{id} on the compliant introspecting server: {detail}"
        );
    }
    let nonce_ids = dpop_nonce_ids();
    let compliant = run(&idp, &BTreeSet::new(), &only(&nonce_ids), Server::DpopNonce).await;
    assert_eq!(compliant.len(), nonce_ids.len());
    for (id, verdict, detail) in &compliant {
        assert_eq!(
            *verdict,
            Verdict::Pass,
            "{id} on the compliant DPoP nonce server: {detail}"
        );
    }
    let signed_ids: Vec<&str> = catalog::all()
        .iter()
        .map(|c| c.meta.id)
        .filter(|id| needs_signed_metadata(id))
        .collect();
    let compliant = run(
        &idp,
        &BTreeSet::new(),
        &only(&signed_ids),
        Server::SignedMetadata,
    )
    .await;
    assert_eq!(compliant.len(), signed_ids.len());
    for (id, verdict, detail) in &compliant {
        assert_eq!(
            *verdict,
            Verdict::Pass,
            "{id} on the compliant server with signed metadata: {detail}"
        );
    }
    for check in catalog::all() {
        let meta = check.meta;
        assert!(
            !meta.broken_by.is_empty(),
            "{} has no fault profile that breaks it",
            meta.id
        );
        for combo in meta.broken_by {
            let results = run_in(
                &idp,
                &faults(combo),
                &only(&[meta.id]),
                Server::of(meta.id),
                &InForce::binding(&meta),
            )
            .await;
            assert_eq!(results.len(), 1);
            let (_, verdict, detail) = &results[0];
            assert_eq!(
                *verdict,
                meta.level.broken_verdict(),
                "{} under {combo}: {detail}",
                meta.id
            );
            // Where the requirement does not bind at its level, the same fault is reported at
            // the level in force, saying what it would be (design.md "the level rule").
            if let Some(elsewhere) = InForce::not_binding(&meta) {
                let results = run_in(
                    &idp,
                    &faults(combo),
                    &only(&[meta.id]),
                    Server::of(meta.id),
                    &elsewhere,
                )
                .await;
                let (_, verdict, detail) = &results[0];
                let (level, _) =
                    meta.applies
                        .level_in_force(meta.level, elsewhere.version, &elsewhere.profiles);
                assert_eq!(
                    *verdict,
                    level.broken_verdict(),
                    "{} under {combo} in {elsewhere:?}: {detail}",
                    meta.id
                );
                assert!(detail.starts_with("would "), "{}: {detail}", meta.id);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_everything_passes_no_token_check() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let needs_tokens: BTreeSet<&str> = catalog::all()
        .iter()
        .filter(|c| c.meta.needs.contains(&Need::MintedToken))
        .map(|c| c.meta.id)
        .collect();
    assert!(!needs_tokens.is_empty());
    let refuse_all = faults("reject-everything");
    let mut results = run(&idp, &refuse_all, &Selection::default(), Server::Default).await;
    results.extend(
        run(
            &idp,
            &refuse_all,
            &only(&introspection_ids()),
            Server::Introspecting,
        )
        .await,
    );
    for (id, verdict, detail) in results {
        if needs_tokens.contains(id) {
            assert_ne!(
                verdict,
                Verdict::Pass,
                "{id} passed against reject-everything: {detail}"
            );
        }
    }
}

/// OQ-3: a server that demands nonces may bound a proof's age through them, so an accepted
/// stale or future `iat` is waived there (Skip, saying why) while it fails elsewhere (above).
#[tokio::test(flavor = "multi_thread")]
async fn iat_refusal_is_waived_when_the_target_demands_nonces() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let ids = ["rs.dpop.iat-stale", "rs.dpop.iat-future"];
    let compliant = run(&idp, &BTreeSet::new(), &only(&ids), Server::DpopNonce).await;
    let lax = run(
        &idp,
        &faults("dpop-ignore-iat"),
        &only(&ids),
        Server::DpopNonce,
    )
    .await;
    assert_eq!((compliant.len(), lax.len()), (2, 2));
    for (id, verdict, detail) in compliant {
        assert_eq!(
            verdict,
            Verdict::Pass,
            "{id} on the compliant nonce server: {detail}"
        );
    }
    for (id, verdict, detail) in lax {
        assert_eq!(
            verdict,
            Verdict::Skip,
            "{id} under dpop-ignore-iat with nonces: {detail}"
        );
        assert!(detail.contains("OQ-3"), "{id}: {detail}");
    }
}

/// How the HTTP layer in front of the reference server refuses a request head over 16 KB.
#[derive(Debug, Clone, Copy)]
enum HeadLimit {
    /// As Node: `431` with `Connection: close` and no length, then the socket destroyed with
    /// the rest of the request unread, which resets the connection.
    Node431,
    /// A plain `400` without a challenge, then the connection closed.
    Plain400,
}

/// The head size over which the proxy refuses a request (Node's default).
const HEAD_LIMIT: usize = 16 * 1024;

/// A proxy on loopback in front of `upstream` (the reference server's `host:port`): a request
/// whose head is over 16 KB is refused as `limit` says; any other is forwarded, one request
/// per connection (`connection: close` both ways). Returns the proxy's MCP endpoint.
async fn head_limiting_proxy(upstream: &str, limit: HeadLimit) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/mcp", listener.local_addr().unwrap());
    let upstream = upstream.to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                    if buf.len() > HEAD_LIMIT {
                        break None;
                    }
                    match client.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head_end = match head_end {
                    Some(end) if end <= HEAD_LIMIT => end,
                    _ => {
                        let refusal: &[u8] = match limit {
                            HeadLimit::Node431 => {
                                b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
                                  Connection: close\r\n\r\n"
                            }
                            HeadLimit::Plain400 => {
                                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\
                                  connection: close\r\n\r\n"
                            }
                        };
                        // Dropped with the request partly unread: the connection is reset.
                        let _ = client.write_all(refusal).await;
                        return;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match client.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let mut forwarded = buf[..head_end - 2].to_vec();
                forwarded.extend_from_slice(b"connection: close\r\n\r\n");
                forwarded.extend_from_slice(&buf[head_end..head_end + length]);
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let mut answer = Vec::new();
                if server.write_all(&forwarded).await.is_ok()
                    && server.read_to_end(&mut answer).await.is_ok()
                {
                    let _ = client.write_all(&answer).await;
                }
            });
        }
    });
    endpoint
}

/// OQ-31: the two checks that send a 64 KB header pass against a target whose HTTP layer
/// refuses it (431 and a reset connection, as Node does, or a plain 400), and fail against
/// servers that take it (a 500 to the 64 KB token, a 64 KB `jti` accepted).
#[tokio::test(flavor = "multi_thread")]
async fn oversized_credentials_refused_by_the_http_layer_pass() {
    let ids = ["rs.auth.malformed-credentials", "rs.dpop.jti-oversized"];
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    for limit in [HeadLimit::Node431, HeadLimit::Plain400] {
        // Behind the proxy, proofs name the proxy's URL in `htu`: the server does not check it
        // (its one defect, which neither check is about).
        let env = Embedded::start_with(idp.clone(), &faults("dpop-ignore-htu"))
            .await
            .unwrap();
        let upstream = env.server.local_addr().to_string();
        let endpoint = head_limiting_proxy(&upstream, limit).await;
        let ctx = context(
            &endpoint,
            Some(idp.clone()),
            &TokenDefaults::default(),
            None,
            None,
            Limits::default(),
        )
        .await
        .unwrap();
        let results = run_checks(&ctx, &only(&ids), RunOptions::default(), |_, _| {}).await;
        assert_eq!(results.len(), 2);
        for (meta, outcome) in results {
            assert_eq!(
                outcome.verdict,
                Verdict::Pass,
                "{} behind {limit:?}: {} | {}",
                meta.id,
                outcome.message,
                outcome.actual
            );
        }
        env.server.shutdown().await;
    }
    for (id, fault) in [
        ("rs.auth.malformed-credentials", "error-500-on-garbage"),
        ("rs.dpop.jti-oversized", "dpop-jti-unchecked"),
    ] {
        let results = run(&idp, &faults(fault), &only(&[id]), Server::Default).await;
        let (_, verdict, detail) = &results[0];
        let level = catalog::all()
            .into_iter()
            .find(|c| c.meta.id == id)
            .unwrap()
            .meta
            .level;
        assert_eq!(
            *verdict,
            level.broken_verdict(),
            "{id} under {fault}: {detail}"
        );
        assert!(detail.contains("64 KB"), "{id} under {fault}: {detail}");
    }
}

/// rs.scope.single-challenge judges the challenge only once min ∪ extra is shown to work: a
/// step-up tool that fails whatever the scope (one the target does not have), or a server
/// that cannot take two scope values at all (`scope-first-only`, whose challenge is complete),
/// is an Error that says so, not a Warn about the challenge.
#[tokio::test(flavor = "multi_thread")]
async fn single_challenge_needs_the_full_scope_to_work() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let id = "rs.scope.single-challenge";
    let mut missing_tool = Embedded::step_up();
    missing_tool.tool = "no-such-tool".into();
    for (faults, step_up) in [
        (BTreeSet::new(), missing_tool),
        (faults("scope-first-only"), Embedded::step_up()),
    ] {
        let env = Embedded::start_with(idp.clone(), &faults).await.unwrap();
        let ctx = context(
            &env.server.mcp_url(),
            Some(idp.clone()),
            &TokenDefaults::default(),
            Some(step_up.clone()),
            Some(env.canary()),
            Limits::default(),
        )
        .await
        .unwrap();
        let results = run_checks(&ctx, &only(&[id]), RunOptions::default(), |_, _| {}).await;
        env.server.shutdown().await;
        let (_, outcome) = &results[0];
        let case = format!("{id} with {faults:?} and step-up tool {}", step_up.tool);
        assert_eq!(
            outcome.verdict,
            Verdict::Error,
            "{case}: {}",
            outcome.message
        );
        assert!(
            outcome.message.starts_with("positive control"),
            "{case}: {}",
            outcome.message
        );
    }
}

/// Version-dependent levels (spec rs-401-resource-metadata, rs-prm-wellknown): a challenge
/// without resource_metadata fails in 2025-06-18 but only warns from 2025-11-25 when the
/// well-known PRM answers; a missing well-known PRM fails from 2025-11-25 when no challenge
/// names one, and warns in 2025-06-18, which requires the header instead.
#[tokio::test(flavor = "multi_thread")]
async fn resource_metadata_levels_follow_the_spec_version() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let in_version = |version| InForce {
        version,
        profiles: Embedded::profiles(),
    };
    let cases = [
        (
            "no-resource-metadata-param",
            "rs.challenge.resource-metadata",
            SpecVersion::V2025_06_18,
            Verdict::Fail,
        ),
        (
            "no-resource-metadata-param",
            "rs.challenge.resource-metadata",
            SpecVersion::V2026_07_28,
            Verdict::Warn,
        ),
        (
            "no-resource-metadata-param",
            "rs.challenge.resource-metadata",
            SpecVersion::V2025_11_25,
            Verdict::Warn,
        ),
        (
            "no-resource-metadata",
            "rs.prm.wellknown",
            SpecVersion::V2026_07_28,
            Verdict::Fail,
        ),
        (
            "no-resource-metadata",
            "rs.prm.wellknown",
            SpecVersion::V2025_06_18,
            Verdict::Warn,
        ),
    ];
    for (fault, id, version, expected) in cases {
        let results = run_in(
            &idp,
            &faults(fault),
            &only(&[id]),
            Server::Default,
            &in_version(version),
        )
        .await;
        let (_, verdict, detail) = &results[0];
        assert_eq!(
            *verdict, expected,
            "{id} under {fault} in {version}: {detail}"
        );
    }
}
