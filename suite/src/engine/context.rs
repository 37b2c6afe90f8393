//! What every check runs against: the target, the recording HTTP driver, discovery results, the
//! valid-token defaults, and the token source.

use std::sync::Arc;

use mock_idp::server::{IssuerKind, MockIdp};
use mock_idp::token::TokenSpec;
use serde_json::Value;

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
}

/// The canary tool and a way to read its side-effect count.
#[derive(Clone)]
pub struct Canary {
    pub tool: String,
    pub count: Arc<dyn Fn() -> u64 + Send + Sync>,
}

/// A tool whose call needs `extra_scope` on top of the default scope.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub tool: String,
    pub extra_scope: String,
}

impl Context {
    /// The valid token `V` as a spec (spec §0.3), when tokens can be minted.
    pub fn valid_spec(&self) -> Option<TokenSpec> {
        Some(
            self.idp
                .as_ref()?
                .valid_token_spec(&self.audience, &self.scope),
        )
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

    /// `initialize` with the credential: the basic probe `Req(h)`.
    pub async fn initialize(&self, credential: &Credential) -> Exchange {
        self.send(credential, None, &probe::initialize_body()).await
    }
}
