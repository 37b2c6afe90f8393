//! The issuer's keys, fetched over HTTP from its `jwks_uri`, cached, and refetched when a token
//! names an unknown `kid` — at most once per `min_refresh`, so hostile tokens cannot turn the
//! server into a JWKS hammer (RFC 8725 §3.10; spec rs-kid-unknown). Also: RFC 8414 discovery
//! of a `jwks_uri`, and bounded JSON fetches.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mock_idp::jwk::JwkSet;
use mock_idp::keys::VerifyingKey;
use serde_json::Value;
use tokio::sync::Mutex;

/// Largest JSON document the server reads from another server.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The HTTP client for outbound fetches: no redirects, short timeouts. One per process
/// (building one loads the TLS roots); no idle connections are kept, so it is safe to use
/// from several runtimes.
pub fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(3))
                .pool_max_idle_per_host(0)
                .build()
                .expect("HTTP client builds")
        })
        .clone()
}

/// Sends `req` and reads a JSON body of at most 256 KiB from a 200 answer.
pub async fn fetch_json(req: reqwest::RequestBuilder) -> Result<Value, String> {
    serde_json::from_slice(&fetch_body(req).await?).map_err(|e| e.to_string())
}

/// Sends `req` and reads a body of at most 256 KiB from a 200 answer.
async fn fetch_body(req: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let mut resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("status {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("document too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The public key of a DER certificate, read the way the `trust-x5c`/`trust-x5u` faults do:
/// no chain, no trust anchor, no validity period.
pub fn certificate_key(der: &[u8]) -> Result<VerifyingKey, String> {
    let jwk = mock_idp::forge::cert::public_jwk(der).ok_or("unreadable certificate")?;
    VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string())
}

/// Fetches the PEM certificate (chain) at `url` and returns the key of the first certificate
/// (the `trust-x5u` fault).
pub async fn fetch_certificate_key(
    client: &reqwest::Client,
    url: &str,
) -> Result<VerifyingKey, String> {
    let body = fetch_body(client.get(url)).await?;
    let text = String::from_utf8(body).map_err(|_| "certificate is not PEM text")?;
    let chain = mock_idp::forge::cert::from_pem(&text);
    certificate_key(chain.first().ok_or("no CERTIFICATE in the PEM text")?)
}

/// Fetches a JWK Set and keeps the keys that parse as public verification keys.
pub async fn fetch_keys(client: &reqwest::Client, url: &str) -> Result<Vec<VerifyingKey>, String> {
    let value = fetch_json(client.get(url)).await?;
    let set = JwkSet::from_json(&value).map_err(|e| e.to_string())?;
    Ok(set
        .keys
        .iter()
        .filter(|k| !k.has_private_material())
        .filter_map(|k| VerifyingKey::from_jwk(k).ok())
        .collect())
}

/// True when `url` points at this machine. The faults that fetch URLs taken from a token
/// (`trust-jku`, `trust-x5u`, `accept-rogue-issuer`) only ever follow such URLs: the defect is
/// shown without turning a demo server into a fetcher of arbitrary hosts.
pub fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The metadata URLs of an issuer in MCP discovery order: RFC 8414 path insertion, OpenID
/// Connect path insertion, OpenID Connect appended.
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ]
}

/// The `jwks_uri` of the first metadata document whose `issuer` is exactly `issuer`.
pub async fn discover_jwks_uri(client: &reqwest::Client, issuer: &str) -> Result<String, String> {
    for url in metadata_urls(issuer) {
        if let Ok(doc) = fetch_json(client.get(&url)).await
            && doc.get("issuer").and_then(Value::as_str) == Some(issuer)
            && let Some(jwks) = doc.get("jwks_uri").and_then(Value::as_str)
        {
            return Ok(jwks.to_owned());
        }
    }
    Err(format!(
        "no metadata with issuer {issuer:?} and a jwks_uri found"
    ))
}

/// When an unknown `kid` may trigger a refetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// At most once per `min_refresh` (compliant).
    Bounded(Duration),
    /// Every time (the `no-jwks-rate-limit` fault).
    Always,
    /// Never after the first successful fetch (the `jwks-never-refresh` fault).
    Never,
    /// As `Bounded`, but only the keys of the first successful fetch are ever trusted (the
    /// `jwks-pinned-keys` fault).
    Pinned(Duration),
}

/// A cached JWK Set.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    refresh: Refresh,
    fetches: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: Vec<VerifyingKey>,
    fetched_at: Option<Instant>,
    ever_succeeded: bool,
    /// The kids of the first successful fetch (kept for `Refresh::Pinned`).
    first_kids: Vec<Option<String>>,
}

impl JwksCache {
    pub fn new(url: String, refresh: Refresh) -> Self {
        Self {
            url,
            client: client(),
            refresh,
            fetches: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        }
    }

    /// How many times the JWKS was requested.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The cached keys; fetched first if never fetched, or refreshed if `kid` is unknown and
    /// the refresh policy allows it.
    pub async fn keys_for(&self, kid: Option<&str>) -> Vec<VerifyingKey> {
        let mut state = self.state.lock().await;
        let known = kid.is_none_or(|k| state.keys.iter().any(|j| j.kid() == Some(k)));
        let refetch = match (state.fetched_at, self.refresh) {
            (None, _) => true,
            (Some(_), _) if known => false,
            (Some(_), Refresh::Never) => !state.ever_succeeded,
            (Some(_), Refresh::Always) => true,
            (Some(t), Refresh::Bounded(min) | Refresh::Pinned(min)) => t.elapsed() >= min,
        };
        if refetch {
            state.fetched_at = Some(Instant::now());
            self.fetches.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut keys) = fetch_keys(&self.client, &self.url).await {
                if !state.ever_succeeded {
                    state.first_kids = keys.iter().map(|k| k.kid().map(str::to_owned)).collect();
                } else if matches!(self.refresh, Refresh::Pinned(_)) {
                    let first = &state.first_kids;
                    keys.retain(|k| first.contains(&k.kid().map(str::to_owned)));
                }
                state.keys = keys;
                state.ever_succeeded = true;
            }
        }
        state.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_count_as_local() {
        assert!(is_loopback_url("http://127.0.0.1:9/jwks"));
        assert!(is_loopback_url("http://[::1]/jwks"));
        assert!(is_loopback_url("http://localhost:8080/x"));
        assert!(!is_loopback_url("https://example.com/jwks"));
        assert!(!is_loopback_url("http://127.0.0.1.example/jwks"));
        assert!(!is_loopback_url("not a url"));
    }
}
