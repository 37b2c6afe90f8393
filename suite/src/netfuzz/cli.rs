//! `mcp-authspec fuzz`: runs the network-fuzzing strategies and reports each through the same
//! event stream and sinks as a conformance run (terminal, JSON, JUnit, Markdown, HTML), one
//! check per strategy: `rs.fuzz.malformed-credential`, `rs.fuzz.odd-claims`,
//! `rs.fuzz.dpop-proof`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_idp::jws::{Jws, ParseOptions};
use mock_idp::server::{IdpConfig, IssuerKind, KeySource, MockIdp};
use reports::event::{Collector, Event, Fanout, RunEnd, RunInfo, Sink};
use reports::model::{Level, Verdict};
use reports::record::{
    CheckRecord, CredentialRecord, ExchangeOutcome, ExchangeRecord, RequestRecord, ResponseRecord,
    SpecRefRecord,
};
use reports::terminal::{StatusLevel, Style, Terminal};
use serde_json::Value;

use super::claims::ClaimsProbe;
use super::dpop::DpopProbe;
use super::{
    Exchange, FuzzConfig, FuzzOutcome, MalformedProbe, NotApplicable, Probe, Violation,
    curl_command, run_probe,
};
use crate::engine::context::Context;
use crate::model::exit;

/// The check id of the malformed-credential strategy.
pub const CHECK_ID: &str = "rs.fuzz.malformed-credential";
/// The check id of the odd-claims strategy.
pub const CLAIMS_CHECK_ID: &str = "rs.fuzz.odd-claims";
/// The check id of the DPoP-proof strategy.
pub const DPOP_CHECK_ID: &str = "rs.fuzz.dpop-proof";

/// Which strategies a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyChoice {
    /// Malformed tokens and Authorization/DPoP fields, none signed by a trusted key.
    Malformed,
    /// Validly signed tokens with odd header and claim values (needs a target trusting the
    /// mock IdP this run hosts).
    Claims,
    /// Mutated DPoP proofs for DPoP-bound tokens (needs, besides, a target advertising DPoP).
    Dpop,
    /// Every strategy; those that do not apply are reported Skip or NotEvaluated with why.
    All,
}

/// One strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Malformed,
    Claims,
    Dpop,
}

impl StrategyChoice {
    pub fn kinds(self) -> Vec<Kind> {
        match self {
            StrategyChoice::Malformed => vec![Kind::Malformed],
            StrategyChoice::Claims => vec![Kind::Claims],
            StrategyChoice::Dpop => vec![Kind::Dpop],
            StrategyChoice::All => vec![Kind::Malformed, Kind::Claims, Kind::Dpop],
        }
    }
}

/// A strategy's place in the reports: its check id, row, texts, and the level of a 5xx or a
/// missing answer (the spec rows differ: MUST for malformed credentials, SHOULD for the
/// claims and proof rows).
struct KindMeta {
    id: &'static str,
    row: &'static str,
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    server_error_level: Level,
    refs: fn() -> Vec<SpecRefRecord>,
}

fn spec_ref(source: &str, section: &str, requirement: &str, url: &str) -> SpecRefRecord {
    SpecRefRecord {
        source: source.into(),
        section: section.into(),
        requirement: requirement.into(),
        url: url.into(),
    }
}

fn oauth_errors() -> SpecRefRecord {
    spec_ref(
        "OAuth 2.1",
        "§5.3",
        "Errors are OAuth error responses: a 5xx answer to a bad credential is a failure.",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-5.3",
    )
}

impl Kind {
    fn meta(self) -> KindMeta {
        match self {
            Kind::Malformed => KindMeta {
                id: CHECK_ID,
                row: "rs-auth-malformed-credentials",
                name: "malformed",
                title: "Malformed credentials are refused, never with 5xx, always in time",
                summary: "Network fuzzing: generated malformed tokens, proofs and Authorization/DPoP fields are sent to the target; none may be accepted, answered with 5xx or left unanswered.",
                server_error_level: Level::Must,
                refs: || {
                    vec![
                        spec_ref(
                            "RFC 6750",
                            "§3.1",
                            "A malformed or invalid access token is refused (invalid_request / invalid_token).",
                            "https://www.rfc-editor.org/rfc/rfc6750#section-3.1",
                        ),
                        oauth_errors(),
                    ]
                },
            },
            Kind::Claims => KindMeta {
                id: CLAIMS_CHECK_ID,
                row: "rs-fuzz-claims",
                name: "claims",
                title: "Validly signed tokens with odd claim values never crash the RS",
                summary: "Network fuzzing (jwt_tool -M er / -M cc): tokens signed by the trusted key with header parameters and claims set to null, true, false, 0, \"jwt_tool\", 10 KB strings or the tool's listener URL; never 5xx, never a fetch of the listener URL, accepted only where the value is semantically valid.",
                server_error_level: Level::Should,
                refs: || {
                    vec![
                        oauth_errors(),
                        spec_ref(
                            "RFC 7519",
                            "§4.1",
                            "Registered claims have defined types; a token whose claims are invalid is refused.",
                            "https://www.rfc-editor.org/rfc/rfc7519#section-4.1",
                        ),
                        spec_ref(
                            "RFC 8725",
                            "§3.10",
                            "Do not fetch keys from URLs taken from the token (jku, x5u): SSRF.",
                            "https://www.rfc-editor.org/rfc/rfc8725#section-3.10",
                        ),
                    ]
                },
            },
            Kind::Dpop => KindMeta {
                id: DPOP_CHECK_ID,
                row: "rs-dpop-fuzz",
                name: "dpop",
                title: "Mutated DPoP proofs never crash the RS or get through",
                summary: "Network fuzzing: byte- and JSON-level mutations of a valid DPoP proof for a DPoP-bound token (deletions, type swaps, unicode, proofs up to 1 MB, member order, whitespace); accepted only when the mutation keeps the proof's meaning, never 5xx.",
                server_error_level: Level::Should,
                refs: || {
                    vec![
                        spec_ref(
                            "RFC 9449",
                            "§4.3",
                            "A proof failing any validation step is refused.",
                            "https://www.rfc-editor.org/rfc/rfc9449#section-4.3",
                        ),
                        oauth_errors(),
                    ]
                },
            },
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// MCP endpoint to fuzz; requests go to this URL only.
    #[arg(long)]
    pub target: String,
    /// Which strategies run: malformed (tokens no trusted key signed), claims (validly signed
    /// tokens with odd header/claim values), dpop (mutated proofs for DPoP-bound tokens) or all.
    /// claims and dpop host the mock IdP (--idp-*) and apply only to a target that trusts it
    /// (dpop also only when the target advertises DPoP); otherwise they are reported Skip or
    /// NotEvaluated with the reason.
    #[arg(long, value_enum, default_value = "all")]
    pub strategy: StrategyChoice,
    /// How long each strategy generates new inputs (`60s`, `2m`, or seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seed of the input sequence: the same seed sends the same inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests at most per strategy, shrinking included.
    #[arg(long, default_value_t = 20_000)]
    pub max_requests: u64,
    /// Requests per second at most.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Deadline of one request: no answer by then is a finding.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// claims/dpop: where the mock IdP listens (the target must trust its issuer).
    #[arg(long, default_value = "127.0.0.1:9400")]
    pub idp_listen: SocketAddr,
    /// claims/dpop: the mock IdP's public base URL, if the target reaches it by another name.
    #[arg(long)]
    pub idp_issuer: Option<String>,
    /// claims/dpop: the key folder shared with `idp serve`.
    #[arg(long, default_value = ".mcp-authspec/idp-keys")]
    pub idp_keys: PathBuf,
    /// claims/dpop: audience of valid tokens (default: PRM resource).
    #[arg(long)]
    pub audience: Option<String>,
    /// claims/dpop: scope of valid tokens (default: the challenge's scope, else scopes_supported).
    #[arg(long)]
    pub scope: Option<String>,
    /// Warnings (a 5xx to a validly signed token or proof, a listener fetch: SHOULD) fail the
    /// run too.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub reports: crate::cli::ReportArgs,
}

/// `90`, `90s`, `2m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 60s"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("{text:?}: unit must be ms, s or m")),
    }
}

impl FuzzArgs {
    fn config(&self) -> Result<FuzzConfig, String> {
        let url = url::Url::parse(&self.target).map_err(|e| format!("--target: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("--target must be an http(s) URL".into());
        }
        Ok(FuzzConfig {
            duration: self.duration,
            seed: self.seed,
            max_requests: self.max_requests.max(1),
            rate: self.rate.max(1),
            request_timeout: self.request_timeout,
            ..FuzzConfig::new(&self.target)
        })
    }

    /// The command line that repeats this run (all strategies), or one strategy of it.
    pub fn reproduce(&self) -> String {
        self.reproduce_strategy(None)
    }

    fn reproduce_strategy(&self, kind: Option<Kind>) -> String {
        let mut line = format!(
            "mcp-authspec fuzz --target '{}' --seed {} --duration {}s --max-requests {} --rate {}",
            self.target,
            self.seed,
            self.duration.as_secs().max(1),
            self.max_requests,
            self.rate
        );
        if let Some(kind) = kind {
            line.push_str(&format!(" --strategy {}", kind.meta().name));
            if kind != Kind::Malformed {
                line.push_str(&format!(
                    " --idp-listen {} --idp-keys '{}'",
                    self.idp_listen,
                    self.idp_keys.display()
                ));
                if let Some(issuer) = &self.idp_issuer {
                    line.push_str(&format!(" --idp-issuer '{issuer}'"));
                }
                for (flag, value) in [("--audience", &self.audience), ("--scope", &self.scope)] {
                    if let Some(v) = value {
                        line.push_str(&format!(" {flag} '{v}'"));
                    }
                }
            }
        }
        line
    }
}

/// Long strings in decoded credentials (10 KB claims, padding) are cut for the reports.
fn abbreviate(value: Value) -> Value {
    const KEEP: usize = 64;
    match value {
        Value::String(s) if s.len() > 4 * KEEP => {
            let head: String = s.chars().take(KEEP).collect();
            Value::from(format!("{head}… ({} bytes)", s.len()))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(abbreviate).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, abbreviate(v))).collect())
        }
        other => other,
    }
}

/// A credential field as the reports show it: fingerprinted when it is a valid credential,
/// with its decoded JOSE header and claims when it parses as a JWS (no private JWK member).
fn credential_record(name: &str, value: &str, scheme: Option<String>) -> CredentialRecord {
    let credential = match name {
        "authorization" => value.split_once(' ').map_or(value, |(_, t)| t.trim()),
        _ => value,
    };
    let jws = Jws::parse_with(credential, &ParseOptions::lenient()).ok();
    let decode = |obj: mock_idp::json::JsonObject| {
        abbreviate(crate::http::redact::without_private_key_members(
            Value::Object(obj.to_map()),
        ))
    };
    CredentialRecord {
        carrier: name.to_owned(),
        scheme,
        fingerprint: crate::http::redact::fingerprint(credential),
        jose_header: jws.as_ref().map(|j| decode(j.header().clone())),
        claims: jws.and_then(|j| j.claims_lenient().ok()).map(decode),
    }
}

fn exchange_record<I>(target: &str, e: &Exchange<I>, redact: bool) -> ExchangeRecord {
    let headers: Vec<(String, String)> = e
        .headers
        .iter()
        .map(|(n, v)| {
            let shown = if redact {
                crate::http::redact::redact_header_value(n, v)
            } else {
                v.clone()
            };
            ((*n).to_owned(), shown)
        })
        .collect();
    let outcome = match (e.status, &e.violation) {
        (Some(status), _) => ExchangeOutcome::Response(ResponseRecord {
            status,
            headers: e
                .content_type
                .iter()
                .map(|ct| ("content-type".to_owned(), ct.clone()))
                .collect(),
            body: e.body.chars().take(2048).collect(),
            truncated: e.body.chars().count() > 2048,
            body_incomplete: None,
        }),
        (None, Some(v)) => ExchangeOutcome::Error(v.to_string()),
        (None, None) => ExchangeOutcome::Error("no answer".into()),
    };
    let credentials = e
        .headers
        .iter()
        .map(|(name, value)| {
            let scheme = (*name == "authorization")
                .then(|| value.split(' ').next().unwrap_or_default().to_owned());
            credential_record(name, value, scheme)
        })
        .collect();
    ExchangeRecord {
        request: RequestRecord {
            method: "POST".into(),
            url: target.to_owned(),
            headers,
        },
        outcome,
        elapsed_ms: u64::try_from(e.elapsed.as_millis()).unwrap_or(u64::MAX),
        retried_after: None,
        credentials,
    }
}

fn base_record(kind: Kind, verdict: Verdict, level: Level, elapsed: Duration) -> CheckRecord {
    let meta = kind.meta();
    CheckRecord {
        id: meta.id.into(),
        row: meta.row.into(),
        title: meta.title.into(),
        summary: meta.summary.into(),
        level,
        verdict,
        message: String::new(),
        expected: Vec::new(),
        actual: String::new(),
        evidence: Vec::new(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        refs: (meta.refs)(),
        tags: vec!["fuzz".into()],
        baseline: None,
    }
}

/// The level a violation breaks: acceptance of what must be refused is a MUST; a 5xx or no
/// answer is the strategy's row level; a listener fetch is a SHOULD (rs-jku-spoof, SSRF half).
fn violation_level(kind: Kind, violation: Option<&Violation>) -> Level {
    match violation {
        Some(Violation::Accepted { .. }) => Level::Must,
        Some(Violation::OutboundFetch { .. }) => Level::Should,
        _ => kind.meta().server_error_level,
    }
}

/// A strategy's record: a pass, or the shrunk violation with the commands that reproduce it.
pub fn record_for<P: Probe>(
    args: &FuzzArgs,
    kind: Kind,
    probe: &P,
    outcome: &FuzzOutcome<P::Input>,
) -> CheckRecord {
    let expected = vec![
        "a refusal (401, or 400 for a malformed request), never 2xx with a JSON-RPC result — except for inputs the spec lets through (semantically valid values, layout-only proof changes)".into(),
        "never a 5xx answer".into(),
        format!("an answer within {} s", args.request_timeout.as_secs_f32()),
        "no request to the tool's listener URL".into(),
    ];
    let Some(finding) = &outcome.finding else {
        let mut record = base_record(kind, Verdict::Pass, Level::Must, outcome.elapsed);
        record.message = format!(
            "{} inputs sent in {:.1} s, none accepted where it must be refused, none answered with 5xx, all answered in time",
            outcome.requests,
            outcome.elapsed.as_secs_f32()
        );
        record.expected = expected;
        return record;
    };
    let minimal = &finding.minimal;
    let level = violation_level(kind, minimal.violation.as_ref());
    let mut record = base_record(kind, level.broken_verdict(), level, outcome.elapsed);
    let violation = minimal.violation.as_ref().map_or_else(
        || "no longer violates when re-sent (flaky target)".to_owned(),
        ToString::to_string,
    );
    let described = probe.describe(&minimal.input);
    record.message = format!(
        "{violation}; minimal input after {} shrinking requests: {described}",
        finding.shrink_requests
    );
    let resend = if probe.carries_valid_credentials() {
        // The fields hold tokens the target accepts: never printed, minted afresh instead.
        "send the minimal input: repeat the run (tokens and proofs are minted afresh; the report shows them as fingerprints with their decoded header and claims)".to_owned()
    } else {
        format!(
            "send the minimal input: {}",
            curl_command(&args.target, &minimal.headers)
        )
    };
    record.actual = format!(
        "{violation}\nminimal input: {described}\nas first found: {}\nreproduce the run: {}\n{resend}",
        probe.describe(&finding.original),
        args.reproduce_strategy(Some(kind)),
    );
    record.expected = expected;
    record.evidence = vec![exchange_record(
        &args.target,
        minimal,
        probe.carries_valid_credentials(),
    )];
    record
}

/// The record of a strategy that did not run, with why.
fn record_not_applicable(kind: Kind, why: &NotApplicable, elapsed: Duration) -> CheckRecord {
    let mut record = base_record(kind, why.verdict, Level::Must, elapsed);
    record.message = why.reason.clone();
    record
}

/// The malformed-credential record (kept for callers of the single-strategy form).
pub fn record(args: &FuzzArgs, outcome: &FuzzOutcome) -> CheckRecord {
    record_for(args, Kind::Malformed, &MalformedProbe, outcome)
}

/// Hosts the mock IdP and discovers the target, for the strategies that mint tokens.
async fn minting_context(args: &FuzzArgs) -> Result<Arc<Context>, String> {
    let config = IdpConfig {
        listen: args.idp_listen,
        public_base_url: args.idp_issuer.clone(),
        keys: KeySource::Dir(args.idp_keys.clone()),
        ..IdpConfig::default()
    };
    let idp = MockIdp::start(config)
        .await
        .map_err(|e| format!("could not host the mock IdP on {}: {e}", args.idp_listen))?;
    let trusted = idp.urls(IssuerKind::Trusted);
    eprintln!(
        "claims/dpop strategies: the target must trust issuer {} (JWKS {})",
        trusted.issuer, trusted.jwks_uri
    );
    let defaults = crate::engine::session::TokenDefaults {
        audience: args.audience.clone(),
        scope: args.scope.clone(),
        signing_alg: None,
    };
    crate::engine::session::context(
        &args.target,
        Some(Arc::new(idp)),
        &defaults,
        None,
        None,
        crate::http::Limits::default(),
    )
    .await
    .map(Arc::new)
}

/// Runs one strategy to its record; `Err` when the target did not answer at all.
async fn run_kind(
    args: &FuzzArgs,
    config: &FuzzConfig,
    kind: Kind,
    ctx: Option<&Result<Arc<Context>, String>>,
) -> (CheckRecord, bool) {
    let started = Instant::now();
    let unreachable = |why: String| {
        (
            record_not_applicable(
                kind,
                &NotApplicable {
                    verdict: Verdict::Error,
                    reason: why,
                },
                started.elapsed(),
            ),
            false,
        )
    };
    let not_applicable =
        |why: NotApplicable| (record_not_applicable(kind, &why, started.elapsed()), true);
    if kind == Kind::Malformed {
        return match run_probe(config.clone(), Arc::new(MalformedProbe)).await {
            Ok(outcome) => (record_for(args, kind, &MalformedProbe, &outcome), true),
            Err(why) => unreachable(why),
        };
    }
    let ctx = match ctx {
        Some(Ok(ctx)) => ctx.clone(),
        Some(Err(why)) => {
            return not_applicable(NotApplicable {
                verdict: Verdict::NotEvaluated,
                reason: why.clone(),
            });
        }
        None => {
            return not_applicable(NotApplicable {
                verdict: Verdict::NotEvaluated,
                reason: "no mock IdP hosted".into(),
            });
        }
    };
    let http = match super::client(config) {
        Ok(h) => h,
        Err(why) => return unreachable(why),
    };
    macro_rules! fuzz_with {
        ($probe:expr) => {
            match $probe {
                Err(why) => not_applicable(why),
                Ok(probe) => {
                    let probe = Arc::new(probe);
                    match run_probe(config.clone(), probe.clone()).await {
                        Ok(outcome) => (record_for(args, kind, &*probe, &outcome), true),
                        Err(why) => unreachable(why),
                    }
                }
            }
        };
    }
    match kind {
        Kind::Claims => fuzz_with!(ClaimsProbe::prepare(ctx, &http).await),
        _ => fuzz_with!(DpopProbe::prepare(ctx, &http).await),
    }
}

/// Runs `mcp-authspec fuzz`; returns the exit code.
pub fn main(args: FuzzArgs) -> Result<u8, String> {
    let config = args.config()?;
    let kinds = args.strategy.kinds();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let info = RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_version: crate::model::SpecVersion::NEWEST.as_str().to_owned(),
        profiles: Vec::new(),
        calibration: String::new(),
        token_source: String::new(),
        target: args.target.clone(),
        profile: format!(
            "network fuzzing ({}): seed {}, {} s and at most {} requests per strategy at {}/s",
            kinds
                .iter()
                .map(|k| k.meta().name)
                .collect::<Vec<_>>()
                .join(", "),
            args.seed,
            args.duration.as_secs(),
            args.max_requests,
            args.rate
        ),
        selected: kinds.len(),
        started_unix: mock_idp::unix_now(),
    };
    let style = {
        use std::io::IsTerminal as _;
        let no_color = std::env::var("NO_COLOR").ok();
        Style::for_output(std::io::stdout().is_terminal(), None, no_color.as_deref())
    };
    let mut terminal = Terminal::styled(
        std::io::stdout(),
        StatusLevel::All,
        StatusLevel::NonPass,
        style,
    );
    let mut collector = Collector::default();
    let mut stream = Fanout::new(vec![&mut terminal, &mut collector]);
    stream.event(&Event::RunStarted(&info));
    let started = Instant::now();
    let mut records = Vec::new();
    let mut reachable = true;
    runtime.block_on(async {
        // Kept alive (the hosted IdP with it) until every strategy has run.
        let ctx = if kinds.iter().any(|k| *k != Kind::Malformed) {
            Some(minting_context(&args).await)
        } else {
            None
        };
        for kind in &kinds {
            let (record, answered) = run_kind(&args, &config, *kind, ctx.as_ref()).await;
            reachable &= answered;
            stream.event(&Event::CheckFinished(&record));
            records.push(record);
        }
    });
    let code = reports::record::exit_code(&records, args.strict, reachable, 0);
    let reason = if !reachable {
        "the target did not answer a request without credentials".to_owned()
    } else if code == exit::SUCCESS {
        "no fuzzed input broke the oracle".to_owned()
    } else {
        "a fuzzed input broke the oracle (see the findings)".to_owned()
    };
    let end = RunEnd {
        exit_code: code,
        reason,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    stream.event(&Event::RunFinished(&end));
    drop(stream);
    let report = collector
        .into_report()
        .ok_or("the run produced no report")?;
    args.reports.write(&report, args.strict)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
