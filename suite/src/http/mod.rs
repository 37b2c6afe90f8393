//! The HTTP driver: sends probe requests exactly as asked (repeated header fields stay
//! separate lines), never follows redirects, bounds every body and deadline, and records each
//! exchange for evidence. Sinks only ever see the redacted form (`redact`).

pub mod redact;

use std::sync::{Arc, OnceLock};
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

/// A response as received: its status line and headers arrived. The body may be cut at the
/// limit (`truncated`) or have ended early (`body_incomplete`); either way the status and the
/// headers are evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// True when the body went past `max_body_bytes` and was cut.
    pub truncated: bool,
    /// Set when the body could not be read whole (the target closed or reset the connection
    /// before the body's end, or it did not arrive before the deadline): why, in one sentence.
    /// `body` holds what arrived.
    pub body_incomplete: Option<String>,
}

impl RecordedResponse {
    /// A whole response with these header fields and body (tests of graders).
    #[cfg(test)]
    pub(crate) fn fake(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Self {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            truncated: false,
            body_incomplete: None,
        }
    }

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

/// Why no response came back. A response whose status line and headers arrived is never a
/// `TransportError`: it is a `RecordedResponse`, marked `body_incomplete` when its body was
/// cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request cannot be written as HTTP (a header the probe asked for is not a valid
    /// field), so nothing was sent: the tool's doing, not the target's.
    #[error("the request was not sent because {0}")]
    NotSent(String),
    /// The target did not answer at all: no connection, or no status line before the deadline
    /// or before it closed the connection.
    #[error("the target did not answer: {0}")]
    NoAnswer(NoAnswer),
    /// An answer began, but its status line and headers could not be read whole (malformed, or
    /// larger than the HTTP client takes).
    #[error("the target's answer could not be read because {0}")]
    IncompleteAnswer(String),
}

/// How the target did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoAnswer {
    /// No connection could be opened (refused, unreachable, failed TLS handshake).
    #[error("no connection could be opened ({0})")]
    Unreachable(String),
    /// The connection was closed, reset or broke before a status line arrived; the text says
    /// which ("the connection was reset").
    #[error("{0} before a status line arrived")]
    Closed(String),
    /// No status line arrived before the request deadline.
    #[error("no status line arrived within {} s", .0.as_secs_f32())]
    TimedOut(Duration),
}

impl TransportError {
    /// The target closed the connection before any byte of an answer: what a pooled
    /// connection the server had already closed looks like, the one failure worth a second
    /// attempt on a new connection.
    pub fn closed_before_answer(&self) -> bool {
        matches!(self, TransportError::NoAnswer(NoAnswer::Closed(_)))
    }
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: ProbeRequest,
    pub response: Result<RecordedResponse, TransportError>,
    pub elapsed: Duration,
    /// Set when the first attempt met a connection closed before any byte of an answer and the
    /// request was sent once more on a new connection: that first failure. `response` is what
    /// the second attempt got.
    pub retried_after: Option<TransportError>,
}

/// The Driver could not build its HTTP client (the TLS roots, for instance).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HTTP client could not be built: {0}")]
pub struct ClientBuildError(String);

/// Idle pooled connections are dropped after this long, below the shortest keep-alive common
/// servers use (gunicorn 2 s; Node, uvicorn and hypercorn 5 s), so a request seldom meets a
/// connection the server has closed meanwhile; the retry in `Driver::send` covers the rest.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// A client that pools its connections and one that opens a new connection for every request
/// (for the second attempt after a pooled connection turned out closed).
#[derive(Debug, Clone)]
struct Clients {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
}

/// The HTTP client every probe goes through.
#[derive(Debug, Clone)]
pub struct Driver {
    clients: Clients,
    /// The same clients writing HTTP/1 field names title-cased (`Dpop:`), where `clients`
    /// write them in lower case (spec rs-dpop-header-name-case).
    title_case_clients: Clients,
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

/// The TLS configuration of every driver: what reqwest builds by default (the platform's
/// verifier, TLS 1.2 and 1.3, HTTP/1.1), made once per process, since building it reads the
/// system's trust roots again for every client and a form login alone starts a driver of four.
pub fn tls_config() -> Result<rustls::ClientConfig, ClientBuildError> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("the platform's TLS verifier: {e}"))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
        .map_err(ClientBuildError)
}

impl Driver {
    pub fn new(limits: Limits) -> Result<Self, ClientBuildError> {
        let builder = |title_case: bool, pooled: bool| {
            let b = reqwest::Client::builder()
                // A redirect hides a missing 401 (spec §3.1 tp-no-auto-redirect), and
                // credentials must never follow one to another host.
                .redirect(reqwest::redirect::Policy::none())
                // The whole deadline is `send`'s own, so a head that arrived in time is kept
                // when the body does not.
                .connect_timeout(limits.request_timeout)
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .tls_backend_preconfigured(tls_config()?);
            let b = if title_case {
                b.http1_title_case_headers()
            } else {
                b
            };
            let b = if pooled {
                b
            } else {
                b.pool_max_idle_per_host(0)
            };
            b.build().map_err(|e| ClientBuildError(e.to_string()))
        };
        let clients = |title_case| -> Result<Clients, ClientBuildError> {
            Ok(Clients {
                pooled: builder(title_case, true)?,
                fresh: builder(title_case, false)?,
            })
        };
        Ok(Self {
            clients: clients(false)?,
            title_case_clients: clients(true)?,
            limits,
            sent: Default::default(),
            challenges: Default::default(),
        })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many requests were sent so far (a request sent a second time after a closed
    /// connection counts once).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every distinct set of `WWW-Authenticate` values seen so far by this driver and its
    /// clones (checks run concurrently: what the others have received up to now).
    pub fn challenges_seen(&self) -> Vec<SeenChallenges> {
        self.challenges.snapshot()
    }

    /// Sends the request and records the exchange; never panics on what the target does.
    /// A request that meets a connection closed before any byte of an answer (a pooled
    /// connection the server had closed) is sent once more on a new connection, within the
    /// same deadline; the exchange keeps the first failure in `retried_after`.
    pub async fn send(&self, request: ProbeRequest) -> Exchange {
        self.send_with(&self.clients, request).await
    }

    /// As `send`, with HTTP/1 field names title-cased on the wire.
    pub async fn send_title_case(&self, request: ProbeRequest) -> Exchange {
        self.send_with(&self.title_case_clients, request).await
    }

    async fn send_with(&self, clients: &Clients, request: ProbeRequest) -> Exchange {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.limits.request_timeout;
        let mut retried_after = None;
        let response = match self.head(&clients.pooled, &request, deadline).await {
            Err(first) if first.closed_before_answer() => {
                let second = self.head(&clients.fresh, &request, deadline).await;
                retried_after = Some(first);
                second
            }
            head => head,
        };
        let response = match response {
            Ok(head) => Ok(self.read(head, deadline).await),
            Err(e) => Err(e),
        };
        let exchange = Exchange {
            request,
            response,
            elapsed: started.elapsed(),
            retried_after,
        };
        self.challenges.record(&exchange);
        exchange
    }

    /// Sends the request and waits for the status line and headers.
    async fn head(
        &self,
        client: &reqwest::Client,
        request: &ProbeRequest,
        deadline: tokio::time::Instant,
    ) -> Result<reqwest::Response, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            TransportError::NotSent(format!("{:?} is not an HTTP method", request.method))
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                TransportError::NotSent(format!("{name:?} is not a valid header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                TransportError::NotSent(format!("the {name} value is not a valid field value"))
            })?;
            headers.append(name, value);
        }
        let mut builder = client.request(method, &request.url).headers(headers);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        match tokio::time::timeout_at(deadline, builder.send()).await {
            Ok(sent) => sent.map_err(|e| self.classify(&e)),
            Err(_) => Err(TransportError::NoAnswer(NoAnswer::TimedOut(
                self.limits.request_timeout,
            ))),
        }
    }

    /// Reads the body up to the limit and the deadline. Whatever happens, the status and the
    /// headers are kept: a body that ends early is marked, never turned into an error.
    async fn read(
        &self,
        mut response: reqwest::Response,
        deadline: tokio::time::Instant,
    ) -> RecordedResponse {
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
        let mut body_incomplete = None;
        loop {
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    body_incomplete = Some(body_failure(&e));
                    break;
                }
                Err(_) => {
                    body_incomplete = Some(format!(
                        "the body did not finish within {} s",
                        self.limits.request_timeout.as_secs_f32()
                    ));
                    break;
                }
            };
            let room = self.limits.max_body_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        RecordedResponse {
            status,
            headers,
            body,
            truncated,
            body_incomplete,
        }
    }

    /// What a failed `send` (no status line and headers) means.
    fn classify(&self, e: &reqwest::Error) -> TransportError {
        if e.is_timeout() {
            return TransportError::NoAnswer(NoAnswer::TimedOut(self.limits.request_timeout));
        }
        if e.is_builder() {
            return TransportError::NotSent(innermost(e));
        }
        if e.is_connect() {
            return TransportError::NoAnswer(NoAnswer::Unreachable(innermost(e)));
        }
        if let Some(h) = find::<hyper::Error>(e) {
            if h.is_parse() || h.is_parse_too_large() || h.is_parse_status() {
                return TransportError::IncompleteAnswer(format!(
                    "its status line and headers could not be parsed ({h})"
                ));
            }
            if h.is_user() {
                return TransportError::NotSent(h.to_string());
            }
        }
        TransportError::NoAnswer(NoAnswer::Closed(connection_failure(e)))
    }
}

/// Every error in `e`'s source chain, `e` first.
fn chain(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
}

/// The first error of type `T` in `e`'s chain.
fn find<T: std::error::Error + 'static>(e: &reqwest::Error) -> Option<&T> {
    chain(e).find_map(|e| e.downcast_ref::<T>())
}

/// The most specific text of `e`'s chain (`Connection refused (os error 111)`), without the
/// layers of wrapping ("error sending request for url …: client error (Connect): …").
fn innermost(e: &reqwest::Error) -> String {
    chain(e).last().map(ToString::to_string).unwrap_or_default()
}

/// How a connection failed, in a few words ("the connection was reset").
fn connection_failure(e: &reqwest::Error) -> String {
    use std::io::ErrorKind;
    if let Some(io) = find::<std::io::Error>(e) {
        return match io.kind() {
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                "the connection was reset".into()
            }
            ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => "the connection was closed".into(),
            _ => format!("the connection failed ({io})"),
        };
    }
    match find::<hyper::Error>(e) {
        Some(h) if h.is_incomplete_message() || h.is_closed() || h.is_canceled() => {
            "the connection was closed".into()
        }
        _ => format!("the connection failed ({})", innermost(e)),
    }
}

/// Why a body could not be read whole, in one sentence.
fn body_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the body did not finish before the deadline".into();
    }
    let how = connection_failure(e);
    if how.starts_with("the connection failed") {
        format!("the body could not be read whole because {how}")
    } else {
        format!("{how} before the end of the body")
    }
}

#[cfg(test)]
mod against_servers;

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
                body_incomplete: None,
            }),
            elapsed: Duration::ZERO,
            retried_after: None,
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
