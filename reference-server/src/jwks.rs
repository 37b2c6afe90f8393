//! The issuer's keys, fetched over HTTP from its `jwks_uri`, cached, and refetched when a token
//! names an unknown `kid` — at most once per `min_refresh`, so hostile tokens cannot turn the
//! server into a JWKS hammer (RFC 8725 §3.10; spec rs-kid-unknown).

use std::time::{Duration, Instant};

use mock_idp::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;

/// A cached JWK Set.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    min_refresh: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

impl JwksCache {
    pub fn new(url: String, min_refresh: Duration) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client builds"),
            min_refresh,
            state: Mutex::new(State::default()),
        }
    }

    /// The cached keys; fetched first if never fetched, or refreshed if `kid` is unknown and
    /// the last fetch is older than the refresh interval.
    pub async fn keys_for(&self, kid: Option<&str>) -> Vec<Jwk> {
        let mut state = self.state.lock().await;
        let known = kid.is_none_or(|k| state.keys.iter().any(|j| j.kid.as_deref() == Some(k)));
        let stale = state
            .fetched_at
            .is_none_or(|t| !known && t.elapsed() >= self.min_refresh);
        if stale {
            state.fetched_at = Some(Instant::now());
            if let Some(keys) = self.fetch().await {
                state.keys = keys;
            }
        }
        state.keys.clone()
    }

    async fn fetch(&self) -> Option<Vec<Jwk>> {
        let body = self
            .client
            .get(&self.url)
            .send()
            .await
            .ok()?
            .bytes()
            .await
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
        Some(JwkSet::from_json(&value).ok()?.keys)
    }
}
