//! `mcp-authspec fuzz`: runs the network fuzzer and reports its finding through the same event
//! stream and sinks as a conformance run (terminal, JSON, JUnit, Markdown, HTML), as one check
//! `rs.fuzz.malformed-credential`.

use std::path::PathBuf;
use std::time::Duration;

use reports::event::{Collector, Event, Fanout, RunEnd, RunInfo, Sink};
use reports::model::{Level, Verdict};
use reports::record::{
    CheckRecord, CredentialRecord, ExchangeOutcome, ExchangeRecord, RequestRecord, ResponseRecord,
    SpecRefRecord,
};
use reports::terminal::{StatusLevel, Style, Terminal};

use super::{Exchange, FuzzConfig, FuzzOutcome, curl_command};
use crate::model::exit;

/// The check id a fuzzing finding is reported under.
pub const CHECK_ID: &str = "rs.fuzz.malformed-credential";

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// MCP endpoint to fuzz; requests go to this URL only.
    #[arg(long)]
    pub target: String,
    /// How long to generate new inputs (`60s`, `2m`, or seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seed of the input sequence: the same seed sends the same inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests at most, shrinking included.
    #[arg(long, default_value_t = 20_000)]
    pub max_requests: u64,
    /// Requests per second at most.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Deadline of one request: no answer by then is a finding.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the Markdown summary here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
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

    /// The command line that repeats this run.
    pub fn reproduce(&self) -> String {
        format!(
            "mcp-authspec fuzz --target '{}' --seed {} --duration {}s --max-requests {} --rate {}",
            self.target,
            self.seed,
            self.duration.as_secs().max(1),
            self.max_requests,
            self.rate
        )
    }
}

fn exchange_record(target: &str, e: &Exchange) -> ExchangeRecord {
    let headers: Vec<(String, String)> = e
        .stimulus
        .headers()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
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
        }),
        (None, Some(v)) => ExchangeOutcome::Error(v.to_string()),
        (None, None) => ExchangeOutcome::Error("no answer".into()),
    };
    let credentials = e
        .stimulus
        .headers()
        .into_iter()
        .map(|(name, value)| CredentialRecord {
            carrier: name.to_owned(),
            scheme: (name == "authorization").then(|| e.stimulus.scheme.clone()),
            fingerprint: crate::http::redact::fingerprint(&value),
            jose_header: None,
            claims: None,
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
        credentials,
    }
}

/// The run's one record: a pass, or the shrunk violation with the commands that reproduce it.
pub fn record(args: &FuzzArgs, outcome: &FuzzOutcome) -> CheckRecord {
    let expected = vec![
        "a refusal (401, or 400 for a malformed request), never 2xx with a JSON-RPC result".into(),
        "never a 5xx answer".into(),
        format!("an answer within {} s", args.request_timeout.as_secs_f32()),
    ];
    let (verdict, message, actual, evidence) = match &outcome.finding {
        None => (
            Verdict::Pass,
            format!(
                "{} malformed credentials sent in {:.1} s, none accepted, none answered with 5xx, all answered in time",
                outcome.requests,
                outcome.elapsed.as_secs_f32()
            ),
            String::new(),
            Vec::new(),
        ),
        Some(finding) => {
            let minimal = &finding.minimal;
            let violation = minimal.violation.as_ref().map_or_else(
                || "no longer violates when re-sent (flaky target)".to_owned(),
                ToString::to_string,
            );
            (
                Verdict::Fail,
                format!(
                    "{violation}; minimal input after {} shrinking requests: {}",
                    finding.shrink_requests, minimal.stimulus
                ),
                format!(
                    "{violation}\nminimal input: {}\n  decoded: {}\nas first found: {}\nreproduce the run: {}\nsend the minimal input: {}",
                    minimal.stimulus,
                    minimal.stimulus.describe(),
                    finding.original,
                    args.reproduce(),
                    curl_command(&args.target, &minimal.stimulus)
                ),
                vec![exchange_record(&args.target, minimal)],
            )
        }
    };
    CheckRecord {
        id: CHECK_ID.into(),
        row: "rs-auth-malformed-credentials".into(),
        title: "Malformed credentials are refused, never with 5xx, always in time".into(),
        summary: "Network fuzzing: generated malformed tokens, proofs and Authorization/DPoP fields are sent to the target; none may be accepted, answered with 5xx or left unanswered.".into(),
        level: Level::Must,
        verdict,
        message,
        expected,
        actual,
        evidence,
        duration_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        refs: vec![
            SpecRefRecord {
                source: "RFC 6750".into(),
                section: "§3.1".into(),
                requirement: "A malformed or invalid access token is refused (invalid_request / invalid_token).".into(),
                url: "https://www.rfc-editor.org/rfc/rfc6750#section-3.1".into(),
            },
            SpecRefRecord {
                source: "OAuth 2.1".into(),
                section: "§5.3".into(),
                requirement: "Errors are OAuth error responses: a 5xx answer to a bad credential is a failure.".into(),
                url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-5.3".into(),
            },
        ],
        tags: vec!["fuzz".into()],
        baseline: None,
    }
}

/// Renders a finished report as one file's text.
type RenderReport = fn(&reports::event::Report) -> Result<String, String>;

/// Runs `mcp-authspec fuzz`; returns the exit code.
pub fn main(args: FuzzArgs) -> Result<u8, String> {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let info = RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_version: crate::catalog::MCP_SPEC_VERSION.to_owned(),
        target: args.target.clone(),
        profile: format!(
            "network fuzzing: seed {}, {} s, at most {} requests at {}/s",
            args.seed,
            args.duration.as_secs(),
            args.max_requests,
            args.rate
        ),
        selected: 1,
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
    let (code, reason, record) = match runtime.block_on(super::run(config)) {
        Ok(outcome) => {
            let record = record(&args, &outcome);
            let code = if record.verdict == Verdict::Pass {
                exit::SUCCESS
            } else {
                exit::FAILURES
            };
            let reason = match &outcome.finding {
                None => {
                    "no malformed credential was accepted, answered with 5xx or left unanswered"
                        .to_owned()
                }
                Some(_) => "a malformed credential broke the oracle (see the finding)".to_owned(),
            };
            (code, reason, Some((record, outcome.elapsed)))
        }
        Err(why) => (exit::NOT_EVALUATED, why, None),
    };
    if let Some((record, _)) = &record {
        stream.event(&Event::CheckFinished(record));
    }
    let end = RunEnd {
        exit_code: code,
        reason,
        duration_ms: record
            .as_ref()
            .map_or(0, |(_, d)| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    stream.event(&Event::RunFinished(&end));
    drop(stream);
    let report = collector
        .into_report()
        .ok_or("the run produced no report")?;
    let files: [(&Option<PathBuf>, RenderReport); 4] = [
        (&args.json, |r| Ok(reports::json::render_text(r))),
        (&args.markdown, |r| Ok(reports::markdown::render(r))),
        (&args.junit, |r| {
            reports::junit::render(r, false).map_err(|e| e.to_string())
        }),
        (&args.html, |r| Ok(reports::html::render(r))),
    ];
    for (path, render) in files {
        if let Some(path) = path {
            std::fs::write(path, render(&report)?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
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
