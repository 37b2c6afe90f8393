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

pub mod claims;
pub mod cli;
pub mod dpop;
pub mod stimulus;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::BoxedStrategy;
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
    /// The target fetched the tool's listener URL that the input carried (SSRF; spec
    /// rs-fuzz-claims, rs-jku-spoof).
    OutboundFetch { hits: u64 },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Accepted { status } => write!(
                f,
                "accepted a credential it must refuse (HTTP {status} with a JSON-RPC result)"
            ),
            Violation::ServerError { status } => {
                write!(f, "answered a fuzzed credential with HTTP {status}")
            }
            Violation::NoAnswer { error } => {
                write!(f, "did not answer within the deadline: {error}")
            }
            Violation::OutboundFetch { hits } => write!(
                f,
                "fetched the tool's listener URL carried in the credential ({hits} request(s))"
            ),
        }
    }
}

/// One kind of fuzzing: the inputs it generates, the credential fields that carry one, and
/// which answers its oracle allows. Tokens and proofs are made afresh for every request (a
/// proof is single-use), so an input is a recipe, and shrinking shrinks the recipe.
pub trait Probe: Send + Sync + 'static {
    type Input: Clone + std::fmt::Debug + Send + 'static;

    /// The proptest strategy of inputs.
    fn strategy(&self) -> BoxedStrategy<Self::Input>;

    /// The request that carries `input`, and whether its acceptance is allowed (judged on
    /// the concrete bytes); `Err` when it cannot be sent.
    fn render(&self, input: &Self::Input) -> Result<Rendered, String>;

    /// Called after every answer (headers of the response when one came): learns from it
    /// (a DPoP nonce) and reports what the answer itself cannot show (a listener fetch).
    fn after_answer(
        &self,
        _input: &Self::Input,
        _response: Option<&HeaderMap>,
    ) -> Option<Violation> {
        None
    }

    /// The input decoded for a reader.
    fn describe(&self, input: &Self::Input) -> String;

    /// Whether the fields carry credentials the target accepts (validly signed tokens), which
    /// reports must show only as fingerprints.
    fn carries_valid_credentials(&self) -> bool;
}

/// One input made concrete.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The credential header fields, in order.
    pub fields: Vec<(&'static str, String)>,
    /// Whether the target may accept it (2xx with a JSON-RPC result): only where the input is
    /// semantically valid.
    pub may_accept: bool,
}

/// The malformed-credential strategy: [`stimulus::stimulus`], none of which may be accepted.
pub struct MalformedProbe;

impl Probe for MalformedProbe {
    type Input = Stimulus;

    fn strategy(&self) -> BoxedStrategy<Stimulus> {
        use proptest::strategy::Strategy as _;
        stimulus::stimulus().boxed()
    }

    fn render(&self, input: &Stimulus) -> Result<Rendered, String> {
        Ok(Rendered {
            fields: input.headers(),
            may_accept: false,
        })
    }

    fn describe(&self, input: &Stimulus) -> String {
        input.describe()
    }

    fn carries_valid_credentials(&self) -> bool {
        false
    }
}

/// Why a strategy does not run against this target: `Skip` (the target does not claim the
/// capability), `NotEvaluated` (this run cannot test it) or `Error` (a control failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotApplicable {
    pub verdict: crate::model::Verdict,
    pub reason: String,
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange<I = Stimulus> {
    pub input: I,
    /// The credential fields as sent.
    pub headers: Vec<(&'static str, String)>,
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
pub struct Finding<I = Stimulus> {
    /// The minimal input proptest shrank to, re-sent once to record this exchange.
    pub minimal: Exchange<I>,
    /// The input as first found.
    pub original: I,
    /// Requests spent shrinking.
    pub shrink_requests: u64,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct FuzzOutcome<I = Stimulus> {
    pub requests: u64,
    pub elapsed: Duration,
    /// The negative control: the answer to a request without credentials.
    pub control_status: Option<u16>,
    pub finding: Option<Finding<I>>,
}

/// The MCP request every stimulus rides on.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-authspec-fuzz","version":"0"}}}"#;

/// Bodies are read up to this size only.
const MAX_BODY: usize = 64 * 1024;

pub(crate) fn client(config: &FuzzConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.request_timeout)
        .build()
        .map_err(|e| e.to_string())
}

/// Sends `initialize` with these credential fields and judges the answer (malformed
/// stimuli: none may be accepted).
pub async fn send(
    http: &reqwest::Client,
    target: &str,
    stimulus: &Stimulus,
) -> Result<Exchange, String> {
    send_input(http, target, &MalformedProbe, stimulus).await
}

/// An answer to one request, read within the bounds.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, or why it could not be read.
    pub body: Result<Vec<u8>, String>,
}

impl Answer {
    /// 2xx with a JSON-RPC `result` (spec §0.4 [A]).
    pub fn accepted(&self) -> bool {
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        (200..300).contains(&self.status)
            && self
                .body
                .as_ref()
                .is_ok_and(|b| jsonrpc::classify(content_type, b).is_result())
    }
}

/// Sends `initialize` with exactly these header fields.
pub(crate) async fn post(
    http: &reqwest::Client,
    target: &str,
    fields: &[(&'static str, String)],
) -> Result<Result<Answer, String>, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let value = HeaderValue::from_str(value).map_err(|e| format!("{name}: {e}"))?;
        headers.append(HeaderName::from_static(name), value);
    }
    let sent = http
        .post(target)
        .headers(headers)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await;
    Ok(match sent {
        // A timeout says so in its text (the oracle tells a hang from a closed connection).
        Err(e) if e.is_timeout() => Err(format!("timed out: {e}")),
        Err(e) => Err(e.to_string()),
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = read_bounded(response).await;
            Ok(Answer {
                status,
                headers,
                body,
            })
        }
    })
}

/// Header bytes beyond which a server may close the connection instead of answering (RFC 6585
/// §5: 431; servers cap their header buffers well below this).
const OVERSIZED_HEADER_BYTES: usize = 64 * 1024;

/// Sends `initialize` carrying `input` and judges the answer with `probe`'s oracle. `Err`:
/// the input was not representable, nothing was sent.
pub async fn send_input<P: Probe>(
    http: &reqwest::Client,
    target: &str,
    probe: &P,
    input: &P::Input,
) -> Result<Exchange<P::Input>, String> {
    let rendered = probe.render(input)?;
    let started = Instant::now();
    let answer = post(http, target, &rendered.fields).await?;
    let mut exchange = Exchange {
        input: input.clone(),
        headers: rendered.fields,
        status: None,
        content_type: None,
        body: String::new(),
        elapsed: started.elapsed(),
        violation: None,
    };
    let answer = match answer {
        Ok(a) => a,
        Err(error) => {
            let late = probe.after_answer(input, None);
            // Header fields past what HTTP servers take (hyper refuses ~400 KB with 431 and
            // closes): the connection closing while the request is still being written is a
            // refusal, not a crash. A hang stays a finding.
            let header_bytes: usize = exchange
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum();
            let refused_oversized =
                header_bytes > OVERSIZED_HEADER_BYTES && !error.starts_with("timed out");
            exchange.violation = if refused_oversized {
                late
            } else {
                Some(Violation::NoAnswer { error }).or(late)
            };
            return Ok(exchange);
        }
    };
    let status = answer.status;
    exchange.status = Some(status);
    exchange.content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let accepted = answer.accepted();
    let observed = probe.after_answer(input, Some(&answer.headers));
    exchange.violation = match &answer.body {
        Err(error) => Some(Violation::NoAnswer {
            error: error.clone(),
        }),
        Ok(_) if (500..600).contains(&status) => Some(Violation::ServerError { status }),
        Ok(_) if accepted && !rendered.may_accept => Some(Violation::Accepted { status }),
        Ok(_) => observed,
    };
    if let Ok(bytes) = &answer.body {
        exchange.body = String::from_utf8_lossy(bytes).into_owned();
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

/// Runs the malformed-credential fuzzer against `config.target`. `Err` only when the target
/// cannot be fuzzed at all (the control request got no answer).
pub async fn run(config: FuzzConfig) -> Result<FuzzOutcome, String> {
    run_probe(config, Arc::new(MalformedProbe)).await
}

/// Runs one strategy against `config.target` within the config's bounds. `Err` only when the
/// target cannot be fuzzed at all (the control request got no answer).
pub async fn run_probe<P: Probe>(
    config: FuzzConfig,
    probe: Arc<P>,
) -> Result<FuzzOutcome<P::Input>, String> {
    let http = client(&config)?;
    let started = Instant::now();
    // Negative control: without credentials a protected resource answers (401). No answer at
    // all means there is nothing to fuzz.
    let control = post(&http, &config.target, &[])
        .await?
        .map_err(|e| format!("the target did not answer a request without credentials: {e}"))?;
    let control_status = Some(control.status);

    let handle = tokio::runtime::Handle::current();
    let cfg = config.clone();
    tokio::task::spawn_blocking(move || fuzz_blocking(&handle, &http, &cfg, &*probe, started))
        .await
        .map_err(|e| format!("fuzzing thread: {e}"))?
        .map(|(requests, finding)| FuzzOutcome {
            requests,
            elapsed: started.elapsed(),
            control_status,
            finding,
        })
}

/// The findings loop's result: requests sent, and the shrunk violation if one was found.
type LoopResult<I> = Result<(u64, Option<Finding<I>>), String>;

fn fuzz_blocking<P: Probe>(
    handle: &tokio::runtime::Handle,
    http: &reqwest::Client,
    config: &FuzzConfig,
    probe: &P,
    started: Instant,
) -> LoopResult<P::Input> {
    let requests = AtomicU64::new(0);
    let found = AtomicBool::new(false);
    let requests_at_find = AtomicU64::new(0);
    let first: Mutex<Option<P::Input>> = Mutex::new(None);
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
    let result = runner.run(&probe.strategy(), |input| {
        let shrinking = found.load(Ordering::SeqCst);
        // Past the generation deadline or the request budget, new inputs pass unsent; while
        // shrinking only the budget (and proptest's shrink time) bound the work.
        if (!shrinking && started.elapsed() >= config.duration) || !budget_left(&requests) {
            return Ok(());
        }
        pacer.wait();
        requests.fetch_add(1, Ordering::SeqCst);
        let exchange = match handle.block_on(send_input(http, &config.target, probe, &input)) {
            Ok(e) => e,
            // Not representable as a header value: nothing was sent.
            Err(_) => return Ok(()),
        };
        match exchange.violation {
            None => Ok(()),
            Some(violation) => {
                if !found.swap(true, Ordering::SeqCst) {
                    requests_at_find.store(requests.load(Ordering::SeqCst), Ordering::SeqCst);
                    *first.lock().unwrap_or_else(|e| e.into_inner()) = Some(input.clone());
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
    // Record the minimal input's exchange (and check it still violates).
    requests.fetch_add(1, Ordering::SeqCst);
    let exchange = handle.block_on(send_input(http, &config.target, probe, &minimal))?;
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

/// A shell command that sends these credential fields once (only for inputs that carry no
/// valid credential: the malformed ones are not secrets).
pub fn curl_command(target: &str, headers: &[(&'static str, String)]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut parts = vec!["curl -i -X POST".to_owned(), quote(target)];
    for (name, value) in headers {
        parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
    }
    parts.push("-H 'content-type: application/json'".into());
    parts.push("-H 'accept: application/json, text/event-stream'".into());
    parts.push(format!("--data {}", quote(INITIALIZE)));
    parts.join(" ")
}
