//! Network fuzzing proven both ways, over loopback HTTP, one pair per strategy: against the
//! compliant reference server nothing breaks the oracle; against its fault the fuzzer finds the
//! violation and shrinks it to the minimal input — `error-500-on-long-kid` (malformed: a 65-byte
//! kid, one byte over the limit), `error-500-on-null-claim` (claims: one claim set to null),
//! `trust-jku` (claims: the listener URL in jku is fetched), `dpop-500-on-non-string-member`
//! (dpop: one proof member of another JSON type) — and the command reports it in every sink
//! with the command lines that reproduce it.

use std::sync::Arc;
use std::time::Duration;

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::{Config, DpopMode, Fault, ReferenceServer};
use suite::engine::context::Context;
use suite::engine::session::{TokenDefaults, context};
use suite::netfuzz::claims::{ClaimsProbe, OddValue, Place};
use suite::netfuzz::dpop::{DpopProbe, Mutation};
use suite::netfuzz::stimulus::{Layout, Token};
use suite::netfuzz::{Finding, FuzzConfig, FuzzOutcome, Violation, run, run_probe};

async fn server(idp: &MockIdp, faults: &[Fault]) -> ReferenceServer {
    ReferenceServer::start(
        Config::new(idp.issuer(), &idp.jwks_url()).with_faults(faults.iter().copied()),
    )
    .await
    .unwrap()
}

fn config(target: &str, seconds: u64) -> FuzzConfig {
    FuzzConfig {
        duration: Duration::from_secs(seconds),
        seed: 7,
        max_requests: 5_000,
        rate: 1_000,
        request_timeout: Duration::from_secs(5),
        shrink_time: Duration::from_secs(60),
        ..FuzzConfig::new(target)
    }
}

/// More than 100 requests and no finding; prints the figures.
fn assert_nothing_found<I: std::fmt::Debug>(outcome: FuzzOutcome<I>) {
    assert!(outcome.requests > 100, "{} requests", outcome.requests);
    eprintln!(
        "{} requests in {:.1} s, no finding",
        outcome.requests,
        outcome.elapsed.as_secs_f32()
    );
    assert!(
        outcome.finding.is_none(),
        "{:?}",
        outcome.finding.map(|f| f.minimal)
    );
}

/// The finding (`what` when there is none); prints how many requests found and shrank it.
fn found<I>(outcome: FuzzOutcome<I>, what: &str) -> Finding<I> {
    let finding = outcome.finding.expect(what);
    eprintln!(
        "found after {} requests, {} shrinking, {:.1} s in all",
        outcome.requests - finding.shrink_requests,
        finding.shrink_requests,
        outcome.elapsed.as_secs_f32()
    );
    finding
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliant_server_survives_fuzzing() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let s = server(&idp, &[]).await;
    let outcome = run(config(&s.mcp_url(), 4)).await.unwrap();
    assert_eq!(outcome.control_status, Some(401));
    assert_nothing_found(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fuzzer_finds_and_shrinks_the_long_kid_crash() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let s = server(&idp, &[Fault::Error500OnLongKid]).await;
    let outcome = run(config(&s.mcp_url(), 20)).await.unwrap();
    let finding = found(outcome, "the fuzzer finds the 500");
    let minimal = &finding.minimal;
    assert_eq!(
        minimal.violation,
        Some(Violation::ServerError { status: 500 })
    );
    let Token::Jwt(shape) = &minimal.input.token else {
        panic!("a JWT-shaped minimal input: {}", minimal.input);
    };
    // Shrunk to the boundary: one byte over 64, and nothing else left that it does not need.
    assert_eq!(
        shape.kid.as_deref().map(str::len),
        Some(65),
        "{}",
        minimal.input
    );
    assert_eq!(shape.layout, Layout::Compact);
    assert!(shape.header.is_empty() && shape.claims.is_empty());
    assert!(shape.signature.is_empty());
    assert_eq!(minimal.input.scheme, "Bearer");
    assert!(minimal.input.dpop.is_none());
    assert!(finding.shrink_requests > 0);
}

#[test]
fn the_command_reports_the_finding_in_every_sink() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (idp, s) = runtime.block_on(async {
        let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
        let s = server(&idp, &[Fault::Error500OnLongKid]).await;
        (idp, s)
    });
    let dir = std::env::temp_dir().join(format!("netfuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args([
            "fuzz",
            "--target",
            &s.mcp_url(),
            "--duration",
            "20s",
            "--seed",
            "7",
        ])
        .args(["--rate", "1000", "--max-requests", "5000"])
        // Every strategy: claims and dpop host their own IdP, which this server does not
        // trust, so they are reported as not evaluated / skipped, with the reason.
        .args(["--strategy", "all", "--idp-listen", "127.0.0.1:0"])
        .arg("--idp-keys")
        .arg(dir.join("idp-keys"))
        .arg("--json")
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .arg("--html")
        .arg(dir.join("report.html"))
        .arg("--sarif")
        .arg(dir.join("report.sarif"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let reproduce = format!("mcp-authspec fuzz --target '{}' --seed 7", s.mcp_url());
    assert!(stdout.contains("rs.fuzz.malformed-credential"), "{stdout}");
    for file in [
        "report.json",
        "junit.xml",
        "summary.md",
        "report.html",
        "report.sarif",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text.contains("rs.fuzz.malformed-credential"),
            "{file} lacks the finding"
        );
        assert!(text.contains("500"), "{file} lacks the status");
    }
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(
        json.contains(&reproduce.replace('\'', "\\'")) || json.contains(&reproduce),
        "{json}"
    );
    assert!(json.contains("curl -i -X POST"));
    for id in ["rs.fuzz.odd-claims", "rs.fuzz.dpop-proof"] {
        assert!(json.contains(id), "{id} is reported");
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop((idp, s));
}

// ---- claims (rs-fuzz-claims) and dpop (rs-dpop-fuzz) ----

/// A reference server (DPoP optional when asked) and the context the minting strategies use:
/// the embedded IdP the server trusts, discovery done.
async fn minting_target(faults: &[Fault], dpop: bool) -> (Arc<Context>, ReferenceServer) {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let mut config = Config::new(idp.issuer(), &idp.jwks_url()).with_faults(faults.iter().copied());
    if dpop {
        config.dpop = DpopMode::Optional;
    }
    let s = ReferenceServer::start(config).await.unwrap();
    let ctx = context(
        &s.mcp_url(),
        Some(Arc::new(idp)),
        &TokenDefaults::default(),
        None,
        None,
        suite::http::Limits::default(),
    )
    .await
    .unwrap();
    (Arc::new(ctx), s)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliant_server_survives_claims_fuzzing() {
    let (ctx, s) = minting_target(&[], false).await;
    let probe = Arc::new(ClaimsProbe::prepare(ctx, &http()).await.unwrap());
    let outcome = run_probe(config(&s.mcp_url(), 4), probe).await.unwrap();
    assert_nothing_found(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claims_fuzzer_finds_and_shrinks_the_null_claim_crash() {
    let (ctx, s) = minting_target(&[Fault::Error500OnNullClaim], false).await;
    let probe = Arc::new(ClaimsProbe::prepare(ctx, &http()).await.unwrap());
    let outcome = run_probe(config(&s.mcp_url(), 20), probe).await.unwrap();
    let finding = found(outcome, "the fuzzer finds the 500");
    let minimal = &finding.minimal;
    assert_eq!(
        minimal.violation,
        Some(Violation::ServerError { status: 500 })
    );
    // Shrunk to one (name, value) pair: a claim set to null.
    let [one] = minimal.input.substitutions.as_slice() else {
        panic!("one substitution: {}", minimal.input.describe());
    };
    assert_eq!(
        (one.rule().place, one.value),
        (Place::Claims, OddValue::Null)
    );
    assert!(finding.shrink_requests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claims_fuzzer_sees_a_fetch_of_the_listener_url() {
    let (ctx, s) = minting_target(&[Fault::TrustJku], false).await;
    let probe = Arc::new(ClaimsProbe::prepare(ctx, &http()).await.unwrap());
    let outcome = run_probe(config(&s.mcp_url(), 20), probe).await.unwrap();
    let finding = found(outcome, "the fuzzer sees the fetch");
    let minimal = &finding.minimal;
    assert!(
        matches!(minimal.violation, Some(Violation::OutboundFetch { .. })),
        "{:?}",
        minimal.violation
    );
    let [one] = minimal.input.substitutions.as_slice() else {
        panic!("one substitution: {}", minimal.input.describe());
    };
    assert_eq!(
        (one.rule().place, one.rule().name, one.value),
        (Place::Header, "jku", OddValue::ListenerUrl)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliant_server_survives_dpop_fuzzing() {
    let (ctx, s) = minting_target(&[], true).await;
    let probe = Arc::new(DpopProbe::prepare(ctx, &http()).await.unwrap());
    let outcome = run_probe(config(&s.mcp_url(), 4), probe).await.unwrap();
    assert_nothing_found(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dpop_fuzzer_finds_and_shrinks_the_mistyped_member_crash() {
    let (ctx, s) = minting_target(&[Fault::Dpop500OnNonStringMember], true).await;
    let probe = Arc::new(DpopProbe::prepare(ctx, &http()).await.unwrap());
    let outcome = run_probe(config(&s.mcp_url(), 20), probe).await.unwrap();
    let finding = found(outcome, "the fuzzer finds the 500");
    let minimal = &finding.minimal;
    assert_eq!(
        minimal.violation,
        Some(Violation::ServerError { status: 500 })
    );
    // Shrunk to one member of another type, at the first index that shows it.
    match &minimal.input {
        Mutation::Retype { member, .. } | Mutation::Unicode { member, .. } => {
            assert!(*member < 6, "{:?}", minimal.input)
        }
        other => panic!("a type change: {other:?}"),
    }
    assert!(finding.shrink_requests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_proof_is_answered_by_the_compliant_server() {
    use suite::netfuzz::dpop::{MAX_PADDING, Part};
    let (ctx, s) = minting_target(&[], true).await;
    let probe = DpopProbe::prepare(ctx, &http()).await.unwrap();
    for part in [Part::Header, Part::Claims] {
        let huge = Mutation::Pad {
            part,
            bytes: MAX_PADDING,
        };
        let exchange = suite::netfuzz::send_input(&http(), &s.mcp_url(), &probe, &huge)
            .await
            .unwrap();
        let proof = &exchange.headers[1].1;
        assert!(proof.len() > 900 * 1024 && proof.len() <= 1024 * 1024);
        assert_eq!(exchange.violation, None, "HTTP {:?}", exchange.status);
        eprintln!(
            "{} KB proof: HTTP {:?}",
            proof.len() / 1024,
            exchange.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_fuzzing_is_skipped_without_dpop() {
    let (ctx, _s) = minting_target(&[], false).await;
    let skipped = DpopProbe::prepare(ctx, &http()).await.err().unwrap();
    assert_eq!(skipped.verdict, suite::model::Verdict::Skip);
}
