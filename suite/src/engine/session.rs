//! A whole run: the target (embedded demo or a deployed server), discovery, the context, the
//! selected checks, and the exit code.

use std::collections::BTreeSet;
use std::sync::Arc;

use mock_idp::server::{IdpConfig, IssuerKind, KeySource, MockIdp};
use reference_server::{
    ADMIN_SCOPE, ADMIN_TOOL, CANARY_TOOL, Config as DemoConfig, Fault, MetadataSigner,
    PARENT_SCOPE, ReferenceServer, TrustedIssuer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::check::{CheckMeta, Outcome};
use crate::engine::accepted::{Calibration, calibrate, calibrate_issued};
use crate::engine::clock::ServerClock;
use crate::engine::context::{Canary, Context, RotatedKey, StepUp, UpstreamLog};
use crate::engine::discovery::discover;
use crate::engine::runner::{self, RunOptions};
use crate::engine::select::Selection;
use crate::http::{Driver, Limits};
use crate::model::{Profile, SpecVersion};
use crate::source::IssuedTokens;
use crate::source::setup::{AuthorizationServer, SourceArgs, TargetFacts};

/// The embedded demo: the mock IdP, the reference server it trusts, and the upstream API the
/// server's canary calls, all on loopback.
pub struct Embedded {
    pub idp: Arc<MockIdp>,
    pub server: ReferenceServer,
    pub upstream: UpstreamRecorder,
}

impl Embedded {
    pub async fn start(faults: &BTreeSet<Fault>) -> Result<Self, String> {
        let idp = MockIdp::start(IdpConfig {
            keys: KeySource::Demo,
            ..IdpConfig::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        Self::start_with(Arc::new(idp), faults).await
    }

    /// A reference server with these faults trusting an already running IdP: its trusted
    /// issuer and its second one (spec rs-multi-as-isolation: two authorization servers, each
    /// with its own keys). Its PRM carries `signed_metadata` only when a fault about it is
    /// selected: that JWS would be a token-shaped string in every report, which the reports
    /// promise never to hold (`start_signing_metadata` serves it regardless).
    pub async fn start_with(idp: Arc<MockIdp>, faults: &BTreeSet<Fault>) -> Result<Self, String> {
        let sign = faults.iter().any(|f| {
            matches!(
                f,
                Fault::PrmSignedMetadataUnsigned | Fault::PrmSignedMetadataBadSignature
            )
        });
        Self::start_configured(idp, faults, sign).await
    }

    /// As `start_with`, with PRM `signed_metadata` attested by the trusted issuer (spec
    /// rs-prm-signed-metadata).
    pub async fn start_signing_metadata(
        idp: Arc<MockIdp>,
        faults: &BTreeSet<Fault>,
    ) -> Result<Self, String> {
        Self::start_configured(idp, faults, true).await
    }

    async fn start_configured(
        idp: Arc<MockIdp>,
        faults: &BTreeSet<Fault>,
        sign_metadata: bool,
    ) -> Result<Self, String> {
        Self::start_adjusted(idp, faults, sign_metadata, |_| {}).await
    }

    /// As `start_with`, with the reference server's configuration adjusted by `adjust` after
    /// the demo's settings (accepted algorithms, scopes: a server configured otherwise).
    pub async fn start_adjusted(
        idp: Arc<MockIdp>,
        faults: &BTreeSet<Fault>,
        sign_metadata: bool,
        adjust: impl FnOnce(&mut DemoConfig),
    ) -> Result<Self, String> {
        // The demo's DPoP client signs with published keys too: nothing to generate.
        crate::engine::context::DpopClient::use_demo_keys();
        let upstream = UpstreamRecorder::start()
            .await
            .map_err(|e| format!("cannot start the upstream recorder: {e}"))?;
        let mut config = DemoConfig::new(idp.issuer(), &idp.jwks_url());
        config.faults = faults.clone();
        let second = idp.urls(IssuerKind::Second);
        config.additional_issuers = vec![TrustedIssuer::new(&second.issuer, &second.jwks_uri)];
        if sign_metadata {
            let signer = idp.clone();
            config.signed_metadata = Some(MetadataSigner::new(move |members| {
                signer.sign_metadata(IssuerKind::Trusted, members)
            }));
        }
        // A short key-refresh cooldown (at most two JWKS fetches a second) keeps the demo quick
        // (rs.token.jwks-rotation waits it out) and still bounds refetches, which
        // rs.token.jwks-refetch-bounded checks.
        config.jwks_min_refresh = std::time::Duration::from_millis(500);
        config.canary_upstream = Some(upstream.url().to_owned());
        // Bearer and DPoP both, so the Bearer checks and the DPoP checks (spec §1.7) all run.
        config.dpop = reference_server::DpopMode::Optional;
        adjust(&mut config);
        let server = ReferenceServer::start(config)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            idp,
            server,
            upstream,
        })
    }

    /// The reference server's counted tool, and what its upstream received.
    pub fn canary(&self) -> Canary {
        Canary {
            tool: CANARY_TOOL.to_owned(),
            count: Arc::new(self.server.canary_probe()),
            upstream: Some(self.upstream.log()),
        }
    }

    /// The profiles the reference server implements, declared by every run against it: RFC
    /// 9068 (it checks `typ` and the required claims). Its DPoP is optional, not required.
    pub fn profiles() -> Vec<Profile> {
        vec![Profile::Rfc9068]
    }

    /// The reference server's tool that needs an extra scope, and the scope that implies it.
    pub fn step_up() -> StepUp {
        StepUp {
            tool: ADMIN_TOOL.to_owned(),
            extra_scope: ADMIN_SCOPE.to_owned(),
            parent_scope: Some(PARENT_SCOPE.to_owned()),
        }
    }
}

/// A mock upstream API on loopback that records every raw request and answers `200 {}`: the
/// harness side of the canary (spec §0.3), so rs-token-passthrough can see what the target
/// sends upstream. Stops when dropped.
pub struct UpstreamRecorder {
    log: UpstreamLog,
    task: JoinHandle<()>,
}

/// A recorded request is cut here; what a target forwards fits easily.
const MAX_UPSTREAM_REQUEST: usize = 256 * 1024;
/// A connection that sends no complete request within this time is dropped.
const UPSTREAM_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl UpstreamRecorder {
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on((std::net::Ipv4Addr::LOCALHOST, 0).into()).await
    }

    /// As `start`, on a chosen address (`--canary-upstream`: the deployed target's canary tool
    /// is configured to call `http://<addr>/upstream`).
    pub async fn start_on(addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let url = format!("http://{}/upstream", listener.local_addr()?);
        let log = UpstreamLog::new(&url);
        let task = tokio::spawn(accept_upstream(listener, log.clone()));
        Ok(Self { log, task })
    }

    /// Where the target's canary should send its upstream calls.
    pub fn url(&self) -> &str {
        self.log.url()
    }

    pub fn log(&self) -> UpstreamLog {
        self.log.clone()
    }
}

impl Drop for UpstreamRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_upstream(listener: TcpListener, log: UpstreamLog) {
    while let Ok((stream, _)) = listener.accept().await {
        let log = log.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(UPSTREAM_READ_TIMEOUT, record_upstream(stream, log)).await;
        });
    }
}

/// Reads one request (head and body, bounded), records it, answers, closes.
async fn record_upstream(mut stream: TcpStream, log: UpstreamLog) -> std::io::Result<()> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    while !request_complete(&raw) && raw.len() < MAX_UPSTREAM_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    raw.truncate(MAX_UPSTREAM_REQUEST);
    log.record(raw);
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
        .await?;
    stream.shutdown().await
}

/// Whether `raw` holds a whole HTTP/1.1 request: the head, then `Content-Length` bytes or a
/// chunked body up to its last chunk.
fn request_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        return body.ends_with(b"0\r\n\r\n");
    }
    let length = header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

pub use crate::engine::accepted::TokenDefaults;

/// The step-up tool of a deployed target (`--step-up-tool`): the extra scope it needs is
/// `given`, or learned from its answer to a call with the valid token, which must be a 403
/// challenge naming scopes beyond the valid token's (spec rs-scope-insufficient).
pub async fn learn_step_up(
    ctx: &Context,
    tool: &str,
    given: Option<&str>,
) -> Result<StepUp, String> {
    if let Some(extra) = given {
        return Ok(StepUp {
            tool: tool.to_owned(),
            extra_scope: extra.to_owned(),
            parent_scope: None,
        });
    }
    let token = ctx
        .valid_token()
        .ok_or("--step-up-tool needs a valid token, and calibration found none")?;
    let credential = crate::engine::probe::Credential::Bearer(token);
    let session = crate::engine::calibrate::open_session(ctx, &credential)
        .await
        .map_err(|o| format!("--step-up-tool {tool}: {}", o.message))?;
    let exchange = ctx
        .send(
            &credential,
            Some(&session),
            &crate::engine::probe::tools_call_body(tool, ctx.arguments_for(tool)),
        )
        .await;
    let held: Vec<&str> = ctx.scope.split(' ').collect();
    let challenged = exchange.response.as_ref().ok().and_then(|r| {
        let scope = crate::expect::challenges(r)
            .ok()?
            .iter()
            .find_map(|c| c.param("scope").map(str::to_owned))?;
        (r.status == 403).then_some(scope)
    });
    let extra: Vec<&str> = challenged
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty() && !held.contains(s))
        .collect();
    if extra.is_empty() {
        let seen = match &exchange.response {
            Ok(r) => format!("HTTP {}", r.status),
            Err(e) => e.to_string(),
        };
        return Err(format!(
            "--step-up-tool {tool}: a call with the valid token (scope {:?}) was answered {seen}, \
             not with a 403 challenge naming another scope; say which scope it needs with \
             --step-up-scope",
            ctx.scope
        ));
    }
    Ok(StepUp {
        tool: tool.to_owned(),
        extra_scope: extra.join(" "),
        parent_scope: None,
    })
}

/// Discovers the target, calibrates the valid token, and builds the context every check runs
/// on.
pub async fn context(
    endpoint: &str,
    idp: Option<Arc<MockIdp>>,
    defaults: &TokenDefaults,
    step_up: Option<StepUp>,
    canary: Option<Canary>,
    limits: Limits,
) -> Result<Context, String> {
    let supply = match idp {
        Some(idp) => TokenSupply::Minted(idp),
        None => TokenSupply::Nothing,
    };
    context_from(endpoint, supply, defaults, step_up, canary, limits).await
}

/// Where a run's tokens come from.
pub enum TokenSupply {
    /// The embedded mock IdP, which the target trusts: any token can be minted.
    Minted(Arc<MockIdp>),
    /// A token source of the target's own authorization server.
    Issued(Arc<IssuedTokens>),
    /// A token source named by flags, resolved once discovery found the target's
    /// authorization server.
    Planned(Box<SourceArgs>),
    /// No tokens (anonymous checks only).
    Nothing,
}

/// As [`context`], with tokens from `supply`.
pub async fn context_from(
    endpoint: &str,
    supply: TokenSupply,
    defaults: &TokenDefaults,
    step_up: Option<StepUp>,
    canary: Option<Canary>,
    limits: Limits,
) -> Result<Context, String> {
    let driver = Driver::new(limits).map_err(|e| e.to_string())?;
    let clock = measure_clock(&driver, endpoint).await;
    let discovery = discover(&driver, endpoint).await;
    let dpop = crate::engine::context::DpopClient::new();
    let (idp, issued) = match supply {
        TokenSupply::Minted(idp) => (Some(idp), None),
        TokenSupply::Issued(issued) => (None, Some(issued)),
        TokenSupply::Planned(args) => {
            let facts = target_facts(&discovery);
            let issued = args
                .resolve(&facts, defaults.scope.as_deref(), dpop.key())
                .await
                .map_err(|e| e.to_string())?;
            (None, Some(Arc::new(issued)))
        }
        TokenSupply::Nothing => (None, None),
    };
    let calibration = match (&idp, &issued) {
        (Some(idp), _) => calibrate(&driver, endpoint, idp, &clock, &discovery, defaults).await,
        (None, Some(issued)) => calibrate_issued(&driver, endpoint, issued, dpop.key()).await,
        (None, None) => Calibration::NotRun,
    };
    let issued_claims = issued
        .as_ref()
        .and_then(|i| i.current())
        .and_then(|t| t.claims());
    let issued_claim = |name: &str| {
        issued_claims.as_ref().and_then(|c| match c.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first()?.as_str().map(str::to_owned),
            _ => None,
        })
    };
    let (audience, scope) = match calibration.found() {
        Some(found) => (found.audience.clone(), found.scope.clone()),
        None if issued.is_some() => (
            issued_claim("aud").unwrap_or_else(|| discovery.resource().to_owned()),
            issued_claim("scope").unwrap_or_default(),
        ),
        None => (
            defaults
                .audience
                .clone()
                .unwrap_or_else(|| discovery.resource().to_owned()),
            defaults
                .scope
                .clone()
                .or_else(|| discovery.scope_hint())
                .unwrap_or_default(),
        ),
    };
    let profiles = detected_profiles(&discovery);
    let rotated_key = match (&idp, calibration.found()) {
        (Some(idp), Some(found)) => publish_rotated_key(idp, found.alg),
        _ => None,
    };
    Ok(Context {
        driver,
        endpoint: endpoint.to_owned(),
        discovery,
        audience,
        scope,
        calibration,
        spec_version: SpecVersion::NEWEST,
        profiles,
        rotated_key,
        tool_arguments: Default::default(),
        idp,
        issued,
        step_up,
        canary,
        tool_calls: tokio::sync::Mutex::new(()),
        clock,
        dpop,
    })
}

/// What a token source needs to know of the target, from discovery.
fn target_facts(discovery: &crate::engine::discovery::Discovery) -> TargetFacts {
    let authorization_server = discovery.authorization_servers.first().map(|a| {
        let member = |name: &str| a.document.str(name).map(str::to_owned);
        AuthorizationServer {
            issuer: a.issuer.clone(),
            token_endpoint: member("token_endpoint"),
            device_authorization_endpoint: member("device_authorization_endpoint"),
            authorization_endpoint: member("authorization_endpoint"),
            iss_parameter_supported: a
                .document
                .bool("authorization_response_iss_parameter_supported")
                == Some(true),
            jwks_uri: member("jwks_uri"),
        }
    });
    TargetFacts {
        endpoint: discovery.endpoint.clone(),
        resource: discovery.resource().to_owned(),
        scope_hint: discovery.scope_hint(),
        authorization_server,
    }
}

/// Publishes a new key of `alg` in the trusted issuer's JWKS, after calibration made the
/// target fetch and cache the old set, so that rs.token.jwks-rotation can present it late in
/// the run, when a cache with a 30–60 s refetch cooldown (common JWKS clients) has had time.
fn publish_rotated_key(idp: &MockIdp, alg: mock_idp::alg::Algorithm) -> Option<RotatedKey> {
    let kid = format!("trusted-rotated-{}", mock_idp::random_b64url(6));
    let key = mock_idp::keys::SigningKey::generate(alg)
        .ok()?
        .with_kid(kid);
    let jwks_requests_before = idp.jwks_requests(IssuerKind::Trusted);
    idp.publish_key(IssuerKind::Trusted, key.clone());
    Some(RotatedKey {
        key,
        published: std::time::Instant::now(),
        jwks_requests_before,
    })
}

/// The profiles a target states itself: DPoP required when its PRM says
/// `dpop_bound_access_tokens_required: true` (RFC 9728 §2). Nothing states RFC 9068 (spec §0.1
/// JWT-AT): only the operator can declare it.
fn detected_profiles(discovery: &crate::engine::discovery::Discovery) -> Vec<Profile> {
    let dpop_required = discovery.prm.as_ref().is_some_and(|p| {
        p.object.get("dpop_bound_access_tokens_required") == Some(&serde_json::Value::Bool(true))
    });
    if dpop_required {
        vec![Profile::Dpop]
    } else {
        Vec::new()
    }
}

/// Estimates the target's clock from the `Date` header of an anonymous request (tp-clock);
/// without one, the local clock is assumed.
async fn measure_clock(driver: &Driver, endpoint: &str) -> ServerClock {
    let sent = std::time::SystemTime::now();
    let exchange = driver
        .send(crate::engine::probe::rpc(
            endpoint,
            &crate::engine::probe::Credential::None,
            None,
            &crate::engine::probe::initialize_body(),
        ))
        .await;
    let received = std::time::SystemTime::now();
    exchange
        .response
        .ok()
        .and_then(|r| r.header("date").map(str::to_owned))
        .and_then(|date| ServerClock::from_date(&date, sent, received))
        .unwrap_or(ServerClock::LOCAL)
}

/// Whether the target answered at all: the anonymous discovery request got a response.
pub fn reachable(ctx: &Context) -> bool {
    ctx.discovery
        .exchanges
        .first()
        .is_some_and(|e| e.response.is_ok())
}

/// Runs the selected catalogue checks.
pub async fn run_checks(
    ctx: &Context,
    selection: &Selection,
    options: RunOptions,
    on_finished: impl FnMut(&CheckMeta, &Outcome),
) -> Vec<(CheckMeta, Outcome)> {
    let checks = crate::catalog::all();
    runner::run(&checks, selection, ctx, options, on_finished).await
}

/// Runs the selected `as.*` checks against an authorization server.
pub async fn run_as_checks(
    ctx: &crate::engine::authorization_server::AsContext,
    selection: &Selection,
    options: RunOptions,
    on_finished: impl FnMut(&CheckMeta, &Outcome),
) -> Vec<(CheckMeta, Outcome)> {
    let checks = crate::catalog::authorization_server_checks();
    runner::run(&checks, selection, ctx, options, on_finished).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_complete_after_its_head_and_body() {
        assert!(!request_complete(b"POST /upstream HTTP/1.1\r\nhost: h\r\n"));
        assert!(request_complete(b"GET / HTTP/1.1\r\nhost: h\r\n\r\n"));
        let head = b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
        assert!(!request_complete(&[&head[..], b"ab"].concat()));
        assert!(request_complete(&[&head[..], b"abcd"].concat()));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n";
        assert!(!request_complete(chunked));
        assert!(request_complete(&[&chunked[..], b"0\r\n\r\n"].concat()));
    }

    #[tokio::test]
    async fn the_upstream_recorder_keeps_what_it_received() {
        let upstream = UpstreamRecorder::start().await.unwrap();
        let log = upstream.log();
        let reply = reqwest::Client::new()
            .post(upstream.url())
            .bearer_auth("forwarded")
            .body("{\"n\":1}")
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        let seen = log.since(0);
        assert_eq!(seen.len(), 1);
        let text = String::from_utf8_lossy(&seen[0]);
        assert!(text.contains("Bearer forwarded") && text.ends_with("{\"n\":1}"));
    }
}
