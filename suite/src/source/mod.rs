//! Token sources (design.md "Token source and its capabilities"): where the run's valid tokens
//! come from when the target trusts its own authorization server rather than the embedded mock
//! IdP — a token the user already has, a command that prints one, or an OAuth grant the tool
//! runs against the real authorization server.
//!
//! A source states what it can give ([`Gives`]); the runner reads every check's needs against
//! it once (`engine/applicability.rs`). Tokens near `exp` are re-acquired before a positive
//! control uses them; a token that cannot be renewed and has expired is an error, never a
//! control sent with a dead token.

pub mod auth_code;
pub mod command;
pub mod grant;
pub mod login_form;
pub mod safety;
pub mod setup;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use mock_idp::keys::SigningKey;
use serde_json::Value;

pub use auth_code::{AuthCode, Login};
pub use command::TokenCommand;
pub use grant::{Client, ClientAuth, ClientCredentials, DeviceCode, Grant, Request};
pub use safety::OriginPolicy;

/// How long before `exp` a renewable token is replaced (a run's checks take seconds each, and
/// clocks drift).
pub const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// How the `Authorization` header carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    /// Bound to the tool's DPoP key (RFC 9449): sent with a proof of that key.
    Dpop,
}

/// A token as the source gave it.
#[derive(Clone)]
pub struct Issued {
    pub token: String,
    pub scheme: Scheme,
    /// Unix seconds, from the token's `exp` or the grant's `expires_in`; `None` when neither
    /// says (an opaque token from a command).
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for Issued {
    // The token is a credential: never in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("token", &"<redacted>")
            .field("scheme", &self.scheme)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Issued {
    /// A token whose lifetime is read from its own `exp` when it is a JWT, else from
    /// `expires_in` (seconds from `now`).
    pub fn new(token: String, scheme: Scheme, expires_in: Option<i64>, now: i64) -> Self {
        let expires_at = jwt_claims(&token)
            .and_then(|c| c.get("exp").and_then(Value::as_i64))
            .or_else(|| expires_in.map(|s| now + s));
        Self {
            token,
            scheme,
            expires_at,
        }
    }

    /// Whether the token is expired, or will be within `margin`, at `now`.
    pub fn expires_within(&self, now: i64, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|exp| exp <= now + margin.as_secs() as i64)
    }

    /// The claims when the token is a JWS compact JWT (a real AS may issue opaque tokens).
    pub fn claims(&self) -> Option<Value> {
        jwt_claims(&self.token)
    }
}

/// The payload of a compact JWS, when the token is one.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = mock_idp::b64::decode_lenient(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.is_object().then_some(claims)
}

/// Where a token comes from.
pub enum Acquire {
    /// A token the user already has (`--token-env`, `--token-file`, `--token`): one token,
    /// not renewable.
    Given { token: String, origin: GivenFrom },
    /// `--token-command`: run whenever a fresh token is needed.
    Command(TokenCommand),
    /// An OAuth grant the tool runs against the authorization server.
    Grant(Grant),
}

/// Where a given token was read from, for messages.
#[derive(Debug, Clone)]
pub enum GivenFrom {
    Env(String),
    File(PathBuf),
    Argument,
}

impl std::fmt::Display for GivenFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GivenFrom::Env(var) => write!(f, "--token-env {var}"),
            GivenFrom::File(path) => write!(f, "--token-file {}", path.display()),
            GivenFrom::Argument => write!(f, "--token"),
        }
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// What a source can give (design.md): read by the runner against every check's needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gives {
    /// A fresh token whenever one is due (commands and grants; not a given token).
    pub renewable: bool,
    /// Tokens bound to the tool's DPoP key.
    pub dpop_bound: bool,
}

/// One principal's tokens: the source, the DPoP key tokens are bound to (with `--dpop`), and
/// the token in use.
pub struct TokenSource {
    acquire: std::sync::Arc<Acquire>,
    dpop: Option<&'static SigningKey>,
    current: Mutex<Option<Issued>>,
    /// Serialises renewals: two checks finding the token due renew it once.
    renewing: tokio::sync::Mutex<()>,
}

impl TokenSource {
    pub fn new(acquire: std::sync::Arc<Acquire>, dpop: Option<&'static SigningKey>) -> Self {
        Self {
            acquire,
            dpop,
            current: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn gives(&self) -> Gives {
        Gives {
            renewable: !matches!(self.acquire.as_ref(), Acquire::Given { .. }),
            dpop_bound: self.dpop.is_some(),
        }
    }

    /// One phrase for the report header ("client credentials at https://as/token as client
    /// mcp-x, DPoP-bound").
    pub fn describe(&self) -> String {
        let what = match self.acquire.as_ref() {
            Acquire::Given { origin, .. } => format!("a given token ({origin})"),
            Acquire::Command(c) => c.describe(),
            Acquire::Grant(g) => g.describe(),
        };
        if self.dpop.is_some() {
            format!("{what}, DPoP-bound to the tool's key")
        } else {
            what
        }
    }

    /// The token in use, if one was acquired.
    pub fn current(&self) -> Option<Issued> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes sure a token valid for at least [`RENEW_BEFORE_EXPIRY`] is in use: acquires the
    /// first one, renews one that is due, and refuses to go on with an expired token that
    /// cannot be renewed.
    pub async fn ensure_fresh(&self, now: i64) -> Result<Issued, SourceError> {
        let _renewing = self.renewing.lock().await;
        if let Some(current) = self.current() {
            if !current.expires_within(now, RENEW_BEFORE_EXPIRY) {
                return Ok(current);
            }
            if !self.gives().renewable {
                if current.expires_within(now, Duration::ZERO) {
                    return Err(SourceError(format!(
                        "the token from {} expired at {} (Unix time) and cannot be renewed: give \
                         a fresh one, or use --token-command or a grant, which are renewed",
                        self.describe(),
                        current.expires_at.unwrap_or_default()
                    )));
                }
                return Ok(current);
            }
        }
        let issued = self.acquire(now).await?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(issued.clone());
        Ok(issued)
    }

    async fn acquire(&self, now: i64) -> Result<Issued, SourceError> {
        let scheme = if self.dpop.is_some() {
            Scheme::Dpop
        } else {
            Scheme::Bearer
        };
        match self.acquire.as_ref() {
            Acquire::Given { token, origin } => {
                let token = token.trim();
                if token.is_empty() {
                    return Err(SourceError(format!("{origin} gave an empty token")));
                }
                Ok(Issued::new(token.to_owned(), scheme, None, now))
            }
            Acquire::Command(command) => {
                let (token, expires_in) = command.run().await?;
                Ok(Issued::new(token, scheme, expires_in, now))
            }
            Acquire::Grant(grant) => {
                let (token, expires_in, bound) = grant.obtain(self.dpop).await?;
                let scheme = if bound { Scheme::Dpop } else { Scheme::Bearer };
                if self.dpop.is_some() && !bound {
                    return Err(SourceError(format!(
                        "--dpop: {} issued a Bearer token, not a DPoP-bound one (token_type is \
                         not DPoP): the authorization server does not bind tokens to proof keys",
                        grant.describe()
                    )));
                }
                Ok(Issued::new(token, scheme, expires_in, now))
            }
        }
    }
}

/// A real token of the target's authorization server for a resource that is not the target
/// (`--other-resource`), obtained with the same grant: the target must refuse it
/// (rs.token.aud-wrong). An authorization server that will not issue one is no fault of the
/// target, so its refusal is kept for the message and the run goes on.
pub struct OtherResource {
    pub resource: String,
    source: TokenSource,
    failure: Mutex<Option<String>>,
}

impl OtherResource {
    /// Tokens this close to `exp` are not used: a refusal must be about the audience alone.
    const MIN_LIFETIME: Duration = Duration::from_secs(10);

    pub fn new(resource: String, source: TokenSource) -> Self {
        Self {
            resource,
            source,
            failure: Mutex::new(None),
        }
    }

    /// Obtains or renews the token; a failure is kept, not returned.
    pub async fn renew(&self, now: i64) {
        let failure = self.source.ensure_fresh(now).await.err().map(|e| e.0);
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = failure;
    }

    /// Why no token for the other resource is at hand, when the authorization server refused.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The Bearer token for the other resource, when one valid for a while is at hand.
    pub fn token(&self, now: i64) -> Option<String> {
        self.source
            .current()
            .filter(|i| i.scheme == Scheme::Bearer && !i.expires_within(now, Self::MIN_LIFETIME))
            .map(|i| i.token)
    }
}

/// The run's real tokens: Bearer `V` and, with `--dpop`, `Vd` bound to the tool's key
/// (each from the same grant), optionally a second principal's (for the cross-user checks),
/// and the authorization server's published keys (for stimuli that confuse a public key with
/// a secret).
pub struct IssuedTokens {
    pub bearer: Option<TokenSource>,
    pub bound: Option<TokenSource>,
    pub second: Option<TokenSource>,
    /// A token for a resource that is not the target (`--other-resource`).
    pub other_resource: Option<OtherResource>,
    /// The JWKS the authorization server publishes, when it was found.
    pub published_keys: Option<Value>,
}

impl IssuedTokens {
    /// One line for the report header.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(b) = &self.bearer {
            parts.push(b.describe());
        }
        if let Some(b) = &self.bound {
            parts.push(b.describe());
        }
        if let Some(s) = &self.second {
            parts.push(format!("second principal: {}", s.describe()));
        }
        if let Some(o) = &self.other_resource {
            parts.push(format!("tokens for another resource, {}", o.resource));
        }
        parts.join("; ")
    }

    /// The first principal's token in use (Bearer, else DPoP-bound).
    pub fn current(&self) -> Option<Issued> {
        [&self.bearer, &self.bound]
            .into_iter()
            .flatten()
            .find_map(TokenSource::current)
    }
}

/// Reads a secret from an environment variable, with a message naming the variable.
pub fn secret_from_env(var: &str, what: &str) -> Result<String, SourceError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => Err(SourceError(format!(
            "{what}: the environment variable {var} is empty"
        ))),
        Err(_) => Err(SourceError(format!(
            "{what}: the environment variable {var} is not set"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            mock_idp::b64::encode(br#"{"alg":"RS256"}"#),
            mock_idp::b64::encode(claims.as_bytes())
        )
    }

    #[test]
    fn expiry_comes_from_exp_then_expires_in() {
        let issued = Issued::new(jwt(r#"{"exp":1000}"#), Scheme::Bearer, Some(5), 0);
        assert_eq!(issued.expires_at, Some(1000));
        let opaque = Issued::new("opaque".into(), Scheme::Bearer, Some(300), 100);
        assert_eq!(opaque.expires_at, Some(400));
        assert!(opaque.expires_within(341, RENEW_BEFORE_EXPIRY));
        assert!(!opaque.expires_within(339, RENEW_BEFORE_EXPIRY));
        let unknown = Issued::new("opaque".into(), Scheme::Bearer, None, 100);
        assert!(!unknown.expires_within(i64::MAX / 2, RENEW_BEFORE_EXPIRY));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let issued = Issued::new("s3cret-token".into(), Scheme::Bearer, None, 0);
        assert!(!format!("{issued:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn an_expired_given_token_is_refused_not_used() {
        let source = TokenSource::new(
            std::sync::Arc::new(Acquire::Given {
                token: jwt(r#"{"exp":1000}"#),
                origin: GivenFrom::Env("T".into()),
            }),
            None,
        );
        assert!(source.ensure_fresh(500).await.is_ok());
        let err = source.ensure_fresh(2000).await.unwrap_err();
        assert!(err.0.contains("--token-env T"), "{err}");
        assert!(err.0.contains("expired"), "{err}");
    }
}
