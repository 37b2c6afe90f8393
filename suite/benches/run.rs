//! Wall time and request count of a full catalogue run against the loopback reference server
//! (discovery included), over several runs in one process.
//!
//! Run: `cargo bench -p suite --bench run` (optionally `-- --runs 10`).

use std::collections::BTreeSet;
use std::time::Instant;

use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{Embedded, TokenDefaults, context, run_checks};
use suite::http::Limits;

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let embedded = Embedded::start(&BTreeSet::new()).await.unwrap();
        println!("full run against the loopback reference server, {runs} runs");
        println!(
            "{:>4} {:>10} {:>9} {:>7}",
            "run", "wall ms", "requests", "checks"
        );
        let mut walls = Vec::new();
        for i in 1..=runs {
            let started = Instant::now();
            let ctx = context(
                &embedded.server.mcp_url(),
                Some(embedded.idp.clone()),
                &TokenDefaults::default(),
                Some(Embedded::step_up()),
                Some(embedded.canary()),
                Limits::default(),
            )
            .await
            .unwrap();
            let results = run_checks(
                &ctx,
                &Selection::default(),
                RunOptions::default(),
                |_, _| {},
            )
            .await;
            let wall = started.elapsed().as_secs_f64() * 1000.0;
            walls.push(wall);
            // Discovery's requests are counted too: discovery uses the same driver.
            println!(
                "{i:>4} {wall:>10.1} {:>9} {:>7}",
                ctx.driver.requests_sent(),
                results.len()
            );
        }
        walls.sort_by(f64::total_cmp);
        println!("median wall {:.1} ms", walls[walls.len() / 2]);
    });
}
