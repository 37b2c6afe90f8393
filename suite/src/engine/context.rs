//! What every check runs against: the target, the recording HTTP driver, discovery results, the
//! valid-token defaults, and the token source.

use std::sync::{Arc, Mutex};

use mock_idp::server::{IssuerKind, MockIdp};
use mock_idp::token::TokenSpec;
use serde_json::Value;

use crate::engine::clock::ServerClock;
use crate::engine::discovery::Discovery;
use crate::engine::probe::{self, Credential};
use crate::http::{Driver, Exchange};

/// The run's view of the target.
pub struct Context {
    pub driver: Driver,
    /// The MCP endpoint `E`.
    pub endpoint: String,
    pub discovery: Discovery,
    /// `aud` of valid tokens: PRM `resource` unless overridden.
    pub audience: String,
    /// `scope` of valid tokens: the challenge's, else `scopes_supported`, unless overridden.
    pub scope: String,
    /// The embedded mock IdP the target trusts, when tokens can be minted.
    pub idp: Option<Arc<MockIdp>>,
    /// A tool that needs a scope beyond `scope`, for the step-up checks.
    pub step_up: Option<StepUp>,
    /// Reads how many canary calls the target processed (spec §0.3 Canary), when observable.
    pub canary: Option<Canary>,
    /// Held by checks while they call tools, so a canary count or upstream log one check
    /// reads is not moved by another check running at the same time.
    pub tool_calls: tokio::sync::Mutex<()>,
    /// The target's clock as estimated from its `Date` header (tp-clock).
    pub clock: ServerClock,
}

/// The canary tool and a way to read its side-effect count.
#[derive(Clone)]
pub struct Canary {
    pub tool: String,
    pub count: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// What the canary's upstream API received, when the harness plays that upstream.
    pub upstream: Option<UpstreamLog>,
}

/// The raw HTTP requests a harness-controlled upstream API received (spec §0.3 Canary), so a
/// check can see what the target forwards upstream (rs-token-passthrough).
#[derive(Clone)]
pub struct UpstreamLog {
    url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl UpstreamLog {
    /// An empty log for the upstream API at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            requests: Arc::default(),
        }
    }

    /// Where the upstream API listens: also the audience of tokens meant for it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// At most this many requests are kept; later ones are dropped (a hostile target cannot
    /// grow the log without bound).
    pub const MAX_REQUESTS: usize = 10_000;

    pub fn record(&self, raw: Vec<u8>) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if requests.len() < Self::MAX_REQUESTS {
            requests.push(raw);
        }
    }

    /// How many requests were recorded so far: a mark for `since`.
    pub fn len(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The requests recorded after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Vec<u8>> {
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests.get(mark..).unwrap_or_default().to_vec()
    }
}

/// A tool whose call needs `extra_scope` on top of the default scope.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub tool: String,
    pub extra_scope: String,
    /// A broader scope the operator declares to imply `extra_scope` (V3 scope hierarchies,
    /// spec OQ-28: not discoverable, so only from configuration).
    pub parent_scope: Option<String>,
}

impl Context {
    /// The valid token `V` as a spec (spec §0.3), when tokens can be minted; `iat` and `exp`
    /// follow the target's clock when it differs from ours.
    pub fn valid_spec(&self) -> Option<TokenSpec> {
        let idp = self.idp.as_ref()?;
        let spec = idp.valid_token_spec(&self.audience, &self.scope);
        let offset = self.clock.offset_secs();
        if offset == 0 {
            return Some(spec);
        }
        let now = idp.now() + offset;
        Some(spec.iat(now).exp(now + idp.config().access_token_lifetime))
    }

    /// The target's current time (Unix seconds): the base of every time-based stimulus.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Mints with the trusted issuer's key.
    pub fn mint(&self, spec: &TokenSpec) -> Option<String> {
        Some(self.idp.as_ref()?.mint(spec))
    }

    /// Mints as another issuer (rogue, other tenant).
    pub fn mint_as(&self, kind: IssuerKind, spec: &TokenSpec) -> Option<String> {
        Some(self.idp.as_ref()?.mint_as(kind, spec))
    }

    pub fn valid_token(&self) -> Option<String> {
        self.mint(&self.valid_spec()?)
    }

    /// Sends one MCP message with the given credential.
    pub async fn send(
        &self,
        credential: &Credential,
        session: Option<&str>,
        body: &Value,
    ) -> Exchange {
        self.driver
            .send(probe::rpc(&self.endpoint, credential, session, body))
            .await
    }

    /// Serialises tool calls across concurrently running checks while the guard lives: every
    /// check that calls a tool (successfully or not) holds it, so canary counts and upstream
    /// logs are attributable to the check that reads them.
    pub async fn tool_calls_exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.tool_calls.lock().await
    }

    /// `initialize` with the credential: the basic probe `Req(h)`.
    pub async fn initialize(&self, credential: &Credential) -> Exchange {
        self.send(credential, None, &probe::initialize_body()).await
    }
}
