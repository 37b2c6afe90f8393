//! A whole run: the target (embedded demo or a deployed server), discovery, the context, the
//! selected checks, and the exit code.

use std::collections::BTreeSet;
use std::sync::Arc;

use mock_idp::server::{IdpConfig, MockIdp};
use reference_server::{
    ADMIN_SCOPE, ADMIN_TOOL, CANARY_TOOL, Config as DemoConfig, Fault, ReferenceServer,
};

use crate::check::{CheckMeta, Outcome};
use crate::engine::context::{Canary, Context, StepUp};
use crate::engine::discovery::discover;
use crate::engine::runner::{self, RunOptions};
use crate::engine::select::Selection;
use crate::http::{Driver, Limits};
use crate::model::{Verdict, exit};

/// The embedded demo: the mock IdP and the reference server it trusts, on loopback.
pub struct Embedded {
    pub idp: Arc<MockIdp>,
    pub server: ReferenceServer,
}

impl Embedded {
    pub async fn start(faults: &BTreeSet<Fault>) -> Result<Self, String> {
        let idp = MockIdp::start(IdpConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        Self::start_with(Arc::new(idp), faults).await
    }

    /// A reference server with these faults trusting an already running IdP.
    pub async fn start_with(idp: Arc<MockIdp>, faults: &BTreeSet<Fault>) -> Result<Self, String> {
        let mut config = DemoConfig::new(idp.issuer(), &idp.jwks_url());
        config.faults = faults.clone();
        let server = ReferenceServer::start(config)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { idp, server })
    }

    /// The reference server's counted tool.
    pub fn canary(&self) -> Canary {
        Canary {
            tool: CANARY_TOOL.to_owned(),
            count: Arc::new(self.server.canary_probe()),
        }
    }

    /// The reference server's tool that needs an extra scope.
    pub fn step_up() -> StepUp {
        StepUp {
            tool: ADMIN_TOOL.to_owned(),
            extra_scope: ADMIN_SCOPE.to_owned(),
        }
    }
}

/// Overrides of the valid-token defaults taken from discovery.
#[derive(Debug, Clone, Default)]
pub struct TokenDefaults {
    pub audience: Option<String>,
    pub scope: Option<String>,
}

/// Discovers the target and builds the context every check runs on.
pub async fn context(
    endpoint: &str,
    idp: Option<Arc<MockIdp>>,
    defaults: &TokenDefaults,
    step_up: Option<StepUp>,
    canary: Option<Canary>,
    limits: Limits,
) -> Result<Context, String> {
    let driver = Driver::new(limits).map_err(|e| e.to_string())?;
    let discovery = discover(&driver, endpoint).await;
    let audience = defaults
        .audience
        .clone()
        .unwrap_or_else(|| discovery.resource().to_owned());
    let scope = defaults
        .scope
        .clone()
        .or_else(|| discovery.scope_hint())
        .unwrap_or_default();
    Ok(Context {
        driver,
        endpoint: endpoint.to_owned(),
        discovery,
        audience,
        scope,
        idp,
        step_up,
        canary,
    })
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

/// The exit code of a finished run (design.md "Exit codes").
pub fn exit_code(results: &[(CheckMeta, Outcome)], strict: bool, reachable: bool) -> u8 {
    if results.is_empty() {
        return exit::NO_CHECKS;
    }
    if !reachable {
        return exit::NOT_EVALUATED;
    }
    let bad =
        |v: Verdict| matches!(v, Verdict::Fail | Verdict::Error) || (strict && v == Verdict::Warn);
    if results.iter().any(|(_, o)| bad(o.verdict)) {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}
