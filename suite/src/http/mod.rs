//! The HTTP driver: sends probe requests exactly as asked (repeated header fields stay
//! separate lines), never follows redirects, bounds every body and deadline, and records each
//! exchange for evidence. Sinks only ever see the redacted form (`redact`).

pub mod redact;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Limits that protect the tool from a hostile target (design.md "Safety of the tool itself").
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Response bodies are cut here (1 MiB by default).
    pub max_body_bytes: usize,
    /// Whole request deadline, connect to last body byte.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A request as a check wants it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    pub method: String,
    pub url: String,
    /// In order; a name may repeat and each occurrence becomes its own field line.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl ProbeRequest {
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json_body(mut self, body: &serde_json::Value) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(serde_json::to_vec(body).expect("JSON value serialises"));
        self
    }
}

/// A response as received (body possibly cut at the limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// True when the body went past `max_body_bytes` and was cut.
    pub truncated: bool,
}

impl RecordedResponse {
    /// Every value of a header, field lines kept apart (names compared case-insensitively).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }
}

/// Why no complete response came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("request could not be built: {0}")]
    BadRequest(String),
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Other(String),
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: ProbeRequest,
    pub response: Result<RecordedResponse, TransportError>,
    pub elapsed: Duration,
}

/// The HTTP client every probe goes through.
#[derive(Debug, Clone)]
pub struct Driver {
    client: reqwest::Client,
    /// The same client writing HTTP/1 field names title-cased (`Dpop:`), where `client` writes
    /// them in lower case (spec rs-dpop-header-name-case).
    title_case_client: reqwest::Client,
    limits: Limits,
    /// Requests sent through this driver and its clones.
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Every distinct set of challenges its responses carried (spec rs-www-auth-syntax).
    challenges: std::sync::Arc<ChallengeLog>,
}

/// A response's `WWW-Authenticate` field values and the exchange that first carried them.
#[derive(Debug, Clone)]
pub struct SeenChallenges {
    pub values: Vec<String>,
    /// The first exchange with exactly these values; its response body is cut to
    /// `ChallengeLog::KEPT_BODY_BYTES` (the headers are what matters here).
    pub exchange: Exchange,
}

/// Every distinct set of `WWW-Authenticate` values the responses of a run carried, so the
/// syntax check can judge challenges other checks provoked (spec rs-www-auth-syntax: "every
/// value seen during the run"). Bounded: a hostile target cannot grow it without limit.
#[derive(Debug, Default)]
pub struct ChallengeLog {
    seen: std::sync::Mutex<Vec<SeenChallenges>>,
}

impl ChallengeLog {
    /// Distinct value sets kept; later new ones are dropped.
    pub const MAX_DISTINCT: usize = 64;
    /// Response body bytes kept with each exchange.
    pub const KEPT_BODY_BYTES: usize = 4096;

    fn record(&self, exchange: &Exchange) {
        let Ok(response) = &exchange.response else {
            return;
        };
        let values: Vec<String> = response
            .header_values("www-authenticate")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::MAX_DISTINCT || seen.iter().any(|s| s.values == values) {
            return;
        }
        let mut kept = exchange.clone();
        if let Ok(r) = &mut kept.response
            && r.body.len() > Self::KEPT_BODY_BYTES
        {
            r.body.truncate(Self::KEPT_BODY_BYTES);
            r.truncated = true;
        }
        seen.push(SeenChallenges {
            values,
            exchange: kept,
        });
    }

    /// What was recorded so far, in the order first seen.
    pub fn snapshot(&self) -> Vec<SeenChallenges> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Driver {
    pub fn new(limits: Limits) -> Result<Self, TransportError> {
        let builder = || {
            reqwest::Client::builder()
                // A redirect hides a missing 401 (spec §3.1 tp-no-auto-redirect), and
                // credentials must never follow one to another host.
                .redirect(reqwest::redirect::Policy::none())
                .timeout(limits.request_timeout)
                .connect_timeout(limits.request_timeout)
        };
        let built =
            |b: reqwest::ClientBuilder| b.build().map_err(|e| TransportError::Other(e.to_string()));
        Ok(Self {
            client: built(builder())?,
            title_case_client: built(builder().http1_title_case_headers())?,
            limits,
            sent: Default::default(),
            challenges: Default::default(),
        })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many requests were sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every distinct set of `WWW-Authenticate` values seen so far by this driver and its
    /// clones (checks run concurrently: what the others have received up to now).
    pub fn challenges_seen(&self) -> Vec<SeenChallenges> {
        self.challenges.snapshot()
    }

    /// Sends the request and records the exchange; never panics on what the target does.
    pub async fn send(&self, request: ProbeRequest) -> Exchange {
        self.send_with(&self.client, request).await
    }

    /// As `send`, with HTTP/1 field names title-cased on the wire.
    pub async fn send_title_case(&self, request: ProbeRequest) -> Exchange {
        self.send_with(&self.title_case_client, request).await
    }

    async fn send_with(&self, client: &reqwest::Client, request: ProbeRequest) -> Exchange {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let deadline = self.limits.request_timeout;
        let performed = self.perform(client, &request);
        let response = match tokio::time::timeout(deadline, performed).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(deadline)),
        };
        let exchange = Exchange {
            request,
            response,
            elapsed: started.elapsed(),
        };
        self.challenges.record(&exchange);
        exchange
    }

    async fn perform(
        &self,
        client: &reqwest::Client,
        request: &ProbeRequest,
    ) -> Result<RecordedResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TransportError::BadRequest(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| TransportError::BadRequest(format!("header name {name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| TransportError::BadRequest(format!("header {name}: {e}")))?;
            headers.append(name, value);
        }
        let mut builder = client.request(method, &request.url).headers(headers);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(classify_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(classify_error)? {
            let room = self.limits.max_body_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RecordedResponse {
            status,
            headers,
            body,
            truncated,
        })
    }
}

fn classify_error(e: reqwest::Error) -> TransportError {
    if e.is_builder() {
        TransportError::BadRequest(e.to_string())
    } else if e.is_timeout() {
        TransportError::Timeout(Duration::ZERO)
    } else if e.is_connect() {
        TransportError::Connect(e.to_string())
    } else {
        TransportError::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(www: &[&str], body_len: usize) -> Exchange {
        Exchange {
            request: ProbeRequest::new("POST", "http://127.0.0.1:9/mcp"),
            response: Ok(RecordedResponse {
                status: 401,
                headers: www
                    .iter()
                    .map(|v| ("WWW-Authenticate".to_owned(), (*v).to_owned()))
                    .collect(),
                body: vec![b'x'; body_len],
                truncated: false,
            }),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn the_challenge_log_keeps_each_distinct_set_once_and_stays_bounded() {
        let log = ChallengeLog::default();
        log.record(&exchange(&["Bearer a=\"1\""], 10));
        log.record(&exchange(&["Bearer a=\"1\""], 10));
        log.record(&exchange(
            &["Bearer a=\"1\"", "DPoP algs=\"ES256\""],
            100_000,
        ));
        log.record(&exchange(&[], 10));
        let seen = log.snapshot();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].values.len(), 2);
        let kept = seen[1].exchange.response.as_ref().unwrap();
        assert!(kept.truncated && kept.body.len() == ChallengeLog::KEPT_BODY_BYTES);
        for n in 0..2 * ChallengeLog::MAX_DISTINCT {
            log.record(&exchange(&[&format!("Bearer n=\"{n}\"")], 1));
        }
        assert_eq!(log.snapshot().len(), ChallengeLog::MAX_DISTINCT);
    }
}
