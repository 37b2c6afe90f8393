//! Discovery as an MCP client does it, against the real reference server and mock IdP.

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::{Config, Fault, ReferenceServer};
use suite::engine::discovery::{PrmSource, discover};
use suite::http::{Driver, Limits};
use suite::wire::metadata::Finding;

async fn setup(faults: &[Fault]) -> (MockIdp, ReferenceServer) {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let mut config = Config::new(idp.issuer(), &idp.jwks_url());
    config.faults = faults.iter().copied().collect();
    let server = ReferenceServer::start(config).await.unwrap();
    (idp, server)
}

#[tokio::test]
async fn discovers_prm_from_the_challenge_and_the_as_by_path_insertion() {
    let (idp, server) = setup(&[]).await;
    let driver = Driver::new(Limits::default()).unwrap();
    let d = discover(&driver, &server.mcp_url()).await;
    assert_eq!(d.prm_source, Some(PrmSource::Challenge));
    assert_eq!(d.prm_url.as_deref(), Some(server.prm_url()));
    assert_eq!(d.resource(), server.resource());
    assert_eq!(d.scope_hint().as_deref(), Some("mcp:read"));
    assert_eq!(d.authorization_servers.len(), 1);
    let asm = &d.authorization_servers[0];
    assert_eq!(asm.issuer, idp.issuer());
    assert_eq!(asm.url, idp.metadata_url());
    assert_eq!(asm.document.findings, []);
    // anonymous initialize, PRM, AS metadata
    assert_eq!(d.exchanges.len(), 3);
}

#[tokio::test]
async fn without_prm_discovery_says_what_it_tried() {
    let (_idp, server) = setup(&[Fault::NoResourceMetadata]).await;
    let driver = Driver::new(Limits::default()).unwrap();
    let d = discover(&driver, &server.mcp_url()).await;
    assert!(d.prm.is_none());
    assert!(d.authorization_servers.is_empty());
    // anonymous initialize, then the path-inserted and the root well-known URLs
    assert_eq!(d.exchanges.len(), 3);
    assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
}

#[tokio::test]
async fn a_mismatched_prm_resource_is_a_finding() {
    let (_idp, server) = setup(&[Fault::PrmResourceMismatch]).await;
    let driver = Driver::new(Limits::default()).unwrap();
    let d = discover(&driver, &server.mcp_url()).await;
    let prm = d.prm.unwrap();
    assert!(
        prm.findings
            .iter()
            .any(|f| matches!(f, Finding::IdentifierMismatch { .. })),
        "{:?}",
        prm.findings
    );
}
