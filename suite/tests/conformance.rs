//! The catalogue as a libtest-mimic harness: one trial per check against the embedded reference
//! server and mock IdP, so `cargo test -p suite --test conformance [FILTER]` and nextest work
//! on checks. Set `MCP_AUTHSPEC_DEMO_FAULTS=ignore-aud,…` to run it against a faulty server.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};
use suite::catalog;
use suite::engine::context::Context;
use suite::engine::runner::Check;
use suite::engine::session::{Embedded, TokenDefaults, context};
use suite::http::Limits;
use suite::model::Verdict;
use tokio::runtime::Runtime;

struct Env {
    runtime: Runtime,
    ctx: Context,
    _embedded: Embedded,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = Runtime::new().expect("tokio runtime");
        let faults: BTreeSet<reference_server::Fault> = std::env::var("MCP_AUTHSPEC_DEMO_FAULTS")
            .unwrap_or_default()
            .split(',')
            .filter(|f| !f.is_empty())
            .map(|f| f.parse().expect("known fault name"))
            .collect();
        let (embedded, ctx) = runtime.block_on(async {
            let embedded = Embedded::start(&faults)
                .await
                .expect("embedded demo starts");
            let ctx = context(
                &embedded.server.mcp_url(),
                Some(embedded.idp.clone()),
                &TokenDefaults::default(),
                Some(Embedded::step_up()),
                Some(embedded.canary()),
                Limits::default(),
            )
            .await
            .expect("context");
            (embedded, ctx)
        });
        Env {
            runtime,
            ctx,
            _embedded: embedded,
        }
    })
}

fn trial(checks: Arc<Vec<Check<Context>>>, index: usize) -> Trial {
    let meta = checks[index].meta;
    Trial::test(meta.id, move || {
        let env = env();
        let outcome = env.runtime.block_on((checks[index].run)(&env.ctx));
        match outcome.verdict {
            Verdict::Fail | Verdict::Error => Err(Failed::from(format!(
                "{}: {}\nexpected: {}\nactual: {}",
                outcome.verdict,
                outcome.message,
                outcome.expected.join("; "),
                outcome.actual
            ))),
            _ => Ok(()),
        }
    })
    .with_kind(meta.level.as_str())
}

fn main() {
    let args = Arguments::from_args();
    let checks = Arc::new(catalog::all());
    let trials = (0..checks.len())
        .map(|i| trial(checks.clone(), i))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
