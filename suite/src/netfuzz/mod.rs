//! Network fuzzing of a live target (`mcp-authspec fuzz --target URL`).
//!
//! proptest strategies ([`stimulus`]) generate malformed tokens, proofs and `Authorization` /
//! `DPoP` fields; each goes to the target in an MCP `initialize` request. The oracle (spec
//! §0.4 "never 5xx", rs-auth-malformed-credentials, rs-not-a-jwt, rs-dpop-fuzz): a malformed
//! credential is never accepted (2xx with a JSON-RPC `result`), never answered with 5xx, and
//! always answered before the per-request deadline. The first violation is shrunk by proptest
//! to a minimal stimulus, sent once more to record the exchange, and reported.
//!
//! Bounds: requests go only to the target URL the user named; at most `max_requests` of them
//! (shrinking included), at most `rate` per second, generation stops at `duration` and
//! shrinking at `shrink_time`. The same seed gives the same sequence of stimuli.

pub mod cli;
pub mod stimulus;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::wire::jsonrpc;
pub use stimulus::Stimulus;

/// How a fuzzing run is bounded.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// The MCP endpoint; nothing else is ever contacted.
    pub target: String,
    /// How long new stimuli are generated.
    pub duration: Duration,
    pub seed: u64,
    /// Requests at most, shrinking included.
    pub max_requests: u64,
    /// Requests per second at most.
    pub rate: u32,
    /// Deadline of one request: no answer by then is a violation.
    pub request_timeout: Duration,
    /// Time allowed to shrink a violation.
    pub shrink_time: Duration,
}

impl FuzzConfig {
    pub fn new(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            duration: Duration::from_secs(60),
            seed: 0,
            max_requests: 20_000,
            rate: 200,
            request_timeout: Duration::from_secs(10),
            shrink_time: Duration::from_secs(60),
        }
    }
}

/// What a violating answer was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// 2xx with a JSON-RPC `result`: the malformed credential was accepted.
    Accepted { status: u16 },
    /// A 5xx answer.
    ServerError { status: u16 },
    /// No answer within the deadline (or the connection failed mid-run).
    NoAnswer { error: String },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Accepted { status } => write!(
                f,
                "accepted a malformed credential (HTTP {status} with a JSON-RPC result)"
            ),
            Violation::ServerError { status } => {
                write!(f, "answered a malformed credential with HTTP {status}")
            }
            Violation::NoAnswer { error } => {
                write!(f, "did not answer within the deadline: {error}")
            }
        }
    }
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub stimulus: Stimulus,
    /// Status, when an answer came.
    pub status: Option<u16>,
    pub content_type: Option<String>,
    /// The start of the body (lossy UTF-8).
    pub body: String,
    pub elapsed: Duration,
    pub violation: Option<Violation>,
}

/// A shrunk violation.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The minimal stimulus proptest shrank to, re-sent once to record this exchange.
    pub minimal: Exchange,
    /// The stimulus as first found.
    pub original: Stimulus,
    /// Requests spent shrinking.
    pub shrink_requests: u64,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct FuzzOutcome {
    pub requests: u64,
    pub elapsed: Duration,
    /// The negative control: the answer to a request without credentials.
    pub control_status: Option<u16>,
    pub finding: Option<Finding>,
}

/// The MCP request every stimulus rides on.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-authspec-fuzz","version":"0"}}}"#;

/// Bodies are read up to this size only.
const MAX_BODY: usize = 64 * 1024;

fn client(config: &FuzzConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.request_timeout)
        .build()
        .map_err(|e| e.to_string())
}

/// Sends `initialize` with these credential fields and judges the answer.
pub async fn send(
    http: &reqwest::Client,
    target: &str,
    stimulus: &Stimulus,
) -> Result<Exchange, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in stimulus.headers() {
        let value = HeaderValue::from_str(&value).map_err(|e| format!("{name}: {e}"))?;
        headers.append(HeaderName::from_static(name), value);
    }
    let started = Instant::now();
    let sent = http
        .post(target)
        .headers(headers)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await;
    let mut exchange = Exchange {
        stimulus: stimulus.clone(),
        status: None,
        content_type: None,
        body: String::new(),
        elapsed: Duration::ZERO,
        violation: None,
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            exchange.elapsed = started.elapsed();
            exchange.violation = Some(Violation::NoAnswer {
                error: e.to_string(),
            });
            return Ok(exchange);
        }
    };
    let status = response.status().as_u16();
    exchange.status = Some(status);
    exchange.content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_bounded(response).await;
    exchange.elapsed = started.elapsed();
    exchange.violation = match &body {
        Err(error) => Some(Violation::NoAnswer {
            error: error.clone(),
        }),
        Ok(_) if (500..600).contains(&status) => Some(Violation::ServerError { status }),
        Ok(bytes)
            if (200..300).contains(&status)
                && jsonrpc::classify(exchange.content_type.as_deref(), bytes).is_result() =>
        {
            Some(Violation::Accepted { status })
        }
        Ok(_) => None,
    };
    if let Ok(bytes) = body {
        exchange.body = String::from_utf8_lossy(&bytes).into_owned();
    }
    Ok(exchange)
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Ok(body)
}

/// Paces requests to at most `rate` per second.
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    fn wait(&self) {
        let wake = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let wake = (*next).max(Instant::now());
            *next = wake + self.interval;
            wake
        };
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
}

fn seeded_rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs the fuzzer against `config.target`. `Err` only when the target cannot be fuzzed at
/// all (the control request got no answer).
pub async fn run(config: FuzzConfig) -> Result<FuzzOutcome, String> {
    let http = client(&config)?;
    let started = Instant::now();
    // Negative control: without credentials a protected resource answers (401). No answer at
    // all means there is nothing to fuzz.
    let control = http
        .post(&config.target)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await
        .map_err(|e| format!("the target did not answer a request without credentials: {e}"))?;
    let control_status = Some(control.status().as_u16());
    drop(control);

    let handle = tokio::runtime::Handle::current();
    let cfg = config.clone();
    tokio::task::spawn_blocking(move || fuzz_blocking(&handle, &http, &cfg, started))
        .await
        .map_err(|e| format!("fuzzing thread: {e}"))?
        .map(|(requests, finding)| FuzzOutcome {
            requests,
            elapsed: started.elapsed(),
            control_status,
            finding,
        })
}

fn fuzz_blocking(
    handle: &tokio::runtime::Handle,
    http: &reqwest::Client,
    config: &FuzzConfig,
    started: Instant,
) -> Result<(u64, Option<Finding>), String> {
    let requests = AtomicU64::new(0);
    let found = AtomicBool::new(false);
    let requests_at_find = AtomicU64::new(0);
    let first: Mutex<Option<Stimulus>> = Mutex::new(None);
    let pacer = Pacer::new(config.rate);
    let budget_left = |requests: &AtomicU64| requests.load(Ordering::SeqCst) < config.max_requests;

    let proptest_config = ProptestConfig {
        cases: u32::try_from(config.max_requests).unwrap_or(u32::MAX),
        max_shrink_iters: u32::try_from(config.max_requests).unwrap_or(u32::MAX),
        max_shrink_time: u32::try_from(config.shrink_time.as_millis()).unwrap_or(u32::MAX),
        max_global_rejects: u32::MAX,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(proptest_config, seeded_rng(config.seed));
    let result = runner.run(&stimulus::stimulus(), |stimulus| {
        let shrinking = found.load(Ordering::SeqCst);
        // Past the generation deadline or the request budget, new stimuli pass unsent; while
        // shrinking only the budget (and proptest's shrink time) bound the work.
        if (!shrinking && started.elapsed() >= config.duration) || !budget_left(&requests) {
            return Ok(());
        }
        pacer.wait();
        requests.fetch_add(1, Ordering::SeqCst);
        let exchange = match handle.block_on(send(http, &config.target, &stimulus)) {
            Ok(e) => e,
            // Not representable as a header value: nothing was sent.
            Err(_) => return Ok(()),
        };
        match exchange.violation {
            None => Ok(()),
            Some(violation) => {
                if !found.swap(true, Ordering::SeqCst) {
                    requests_at_find.store(requests.load(Ordering::SeqCst), Ordering::SeqCst);
                    *first.lock().unwrap_or_else(|e| e.into_inner()) = Some(stimulus.clone());
                }
                Err(TestCaseError::fail(violation.to_string()))
            }
        }
    });
    let minimal = match result {
        Ok(()) => return Ok((requests.load(Ordering::SeqCst), None)),
        Err(TestError::Fail(_, minimal)) => minimal,
        Err(TestError::Abort(why)) => return Err(format!("fuzzing stopped: {why}")),
    };
    // Record the minimal stimulus's exchange (and check it still violates).
    requests.fetch_add(1, Ordering::SeqCst);
    let exchange = handle.block_on(send(http, &config.target, &minimal))?;
    let original = first
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| minimal.clone());
    let total = requests.load(Ordering::SeqCst);
    Ok((
        total,
        Some(Finding {
            minimal: exchange,
            original,
            shrink_requests: total.saturating_sub(requests_at_find.load(Ordering::SeqCst)),
        }),
    ))
}

/// A shell command that sends the stimulus once (the credential is malformed, not a secret).
pub fn curl_command(target: &str, stimulus: &Stimulus) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut parts = vec!["curl -i -X POST".to_owned(), quote(target)];
    for (name, value) in stimulus.headers() {
        parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
    }
    parts.push("-H 'content-type: application/json'".into());
    parts.push("-H 'accept: application/json, text/event-stream'".into());
    parts.push(format!("--data {}", quote(INITIALIZE)));
    parts.join(" ")
}
