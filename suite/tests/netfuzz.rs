//! Network fuzzing proven both ways, over loopback HTTP: against the compliant reference server
//! nothing breaks the oracle; against the `error-500-on-long-kid` fault the fuzzer finds the
//! 500, shrinks it to the minimal input (a 65-byte kid, one byte over the limit) and reports it
//! in every sink with the command lines that reproduce it.

use std::time::Duration;

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::{Config, Fault, ReferenceServer};
use suite::netfuzz::stimulus::{Layout, Token};
use suite::netfuzz::{FuzzConfig, Violation, run};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliant_server_survives_fuzzing() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let s = server(&idp, &[]).await;
    let outcome = run(config(&s.mcp_url(), 4)).await.unwrap();
    assert_eq!(outcome.control_status, Some(401));
    assert!(outcome.requests > 100, "{} requests", outcome.requests);
    assert!(
        outcome.finding.is_none(),
        "{:?}",
        outcome.finding.map(|f| f.minimal)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fuzzer_finds_and_shrinks_the_long_kid_crash() {
    let idp = MockIdp::start(IdpConfig::default()).await.unwrap();
    let s = server(&idp, &[Fault::Error500OnLongKid]).await;
    let outcome = run(config(&s.mcp_url(), 20)).await.unwrap();
    let finding = outcome.finding.expect("the fuzzer finds the 500");
    let minimal = &finding.minimal;
    assert_eq!(
        minimal.violation,
        Some(Violation::ServerError { status: 500 })
    );
    let Token::Jwt(shape) = &minimal.stimulus.token else {
        panic!("a JWT-shaped minimal input: {}", minimal.stimulus);
    };
    // Shrunk to the boundary: one byte over 64, and nothing else left that it does not need.
    assert_eq!(
        shape.kid.as_deref().map(str::len),
        Some(65),
        "{}",
        minimal.stimulus
    );
    assert_eq!(shape.layout, Layout::Compact);
    assert!(shape.header.is_empty() && shape.claims.is_empty());
    assert!(shape.signature.is_empty());
    assert_eq!(minimal.stimulus.scheme, "Bearer");
    assert!(minimal.stimulus.dpop.is_none());
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
        .arg("--json")
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .arg("--html")
        .arg(dir.join("report.html"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let reproduce = format!("mcp-authspec fuzz --target '{}' --seed 7", s.mcp_url());
    assert!(stdout.contains("rs.fuzz.malformed-credential"), "{stdout}");
    for file in ["report.json", "junit.xml", "summary.md", "report.html"] {
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
    let _ = std::fs::remove_dir_all(&dir);
    drop((idp, s));
}
