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
        let mut in_force = Self::demo();
        match meta.applies {
            Applies::Always => {}
            Applies::UnderProfile { profile, .. } => in_force.profiles.push(profile),
            Applies::InVersions { versions, .. } => {
                if !versions.contains(&in_force.version) {
                    in_force.version = *versions.last().expect("a version");
                }
            }
        }
        in_force
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
