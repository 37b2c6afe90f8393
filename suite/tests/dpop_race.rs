//! Measurement (not a pass/fail test): how often rs.dpop.replay-race's stimulus reveals the
//! `dpop-replay-race` fault for K = 2, 4, 8, 16, 32 concurrent copies of one proof, against the
//! loopback reference server. Run with
//! `cargo test --release -p suite --test dpop_race -- --ignored --nocapture`
//! (`DPOP_RACE_RUNS` sets the runs per K, default 50).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::Fault;
use suite::catalog::dpop::replay::{DEFAULT_RACE_COPIES, escalating_race_once, race_once};
use suite::engine::session::{Embedded, TokenDefaults, context};
use suite::http::Limits;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run explicitly with --ignored --nocapture"]
async fn replay_race_detection_rate() {
    let runs: usize = std::env::var("DPOP_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let faults = BTreeSet::from([Fault::DpopReplayRace]);
    let env = Embedded::start_with(idp.clone(), &faults).await.unwrap();
    let ctx = context(
        &env.server.mcp_url(),
        Some(idp.clone()),
        &TokenDefaults::default(),
        None,
        None,
        Limits::default(),
    )
    .await
    .unwrap();
    println!("K\truns\tdetected\trate\tmean accepted\tmean wall ms");
    for k in [2, 4, 8, 16, 32] {
        let mut detected = 0;
        let mut accepted = 0;
        let started = Instant::now();
        for _ in 0..runs {
            let result = race_once(&ctx, k).await.unwrap();
            assert!(
                result.accepted >= 1,
                "a fresh valid proof was never accepted"
            );
            accepted += result.accepted;
            if result.accepted > 1 {
                detected += 1;
            }
        }
        println!(
            "{k}\t{runs}\t{detected}\t{:.0}%\t{:.1}\t{:.1}",
            100.0 * detected as f64 / runs as f64,
            accepted as f64 / runs as f64,
            started.elapsed().as_secs_f64() * 1e3 / runs as f64
        );
    }
    // The check itself: rounds of K = 2, 4, … 32, stopping at the first detection.
    let mut detected = 0;
    let mut rounds = 0;
    let started = Instant::now();
    for _ in 0..runs {
        let results = escalating_race_once(&ctx, DEFAULT_RACE_COPIES)
            .await
            .unwrap();
        rounds += results.len();
        if results.last().is_some_and(|r| r.accepted > 1) {
            detected += 1;
        }
    }
    println!(
        "escalating 2..{DEFAULT_RACE_COPIES}\t{runs}\t{detected}\t{:.0}%\tmean rounds {:.2}\t{:.1}",
        100.0 * detected as f64 / runs as f64,
        rounds as f64 / runs as f64,
        started.elapsed().as_secs_f64() * 1e3 / runs as f64
    );
}
