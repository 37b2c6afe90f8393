//! Command-line interface. Exit codes follow design.md: 0 success, 2 usage or config error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use mock_idp::keystore::KeyRing;
use mock_idp::server::{AsFault, IdpConfig, IssuerKind, KeySource, MockIdp};

use crate::engine::authorization_server::{AsClient, AsContext};

use crate::model::exit;
use reports::baseline::{Baseline, StaleEntry};
use reports::event::{Collector, Event, Fanout, Report, RunEnd, RunInfo, Sink};
use reports::record::{CheckRecord, DocsSite};
use reports::terminal::{StatusLevel, Style, Terminal};

// Output that never panics: a closed stdout (a pipe into `head`) just drops the rest.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
use crate::wire::discovery::as_metadata_urls;
use reference_server::{Config as DemoConfig, Fault, ReferenceServer};

/// The version and the commit it was built from (suite/build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MCP_AUTHSPEC_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "mcp-authspec",
    version = VERSION,
    about = "Conformance suite and fuzz harness for MCP authorization"
)]
pub struct Cli {
    /// Without a command: `run` with its defaults (the embedded demo) and the config file's
    /// options.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance checks. Without --target: against the embedded reference server
    /// and mock IdP on loopback.
    Run(RunArgs),
    /// Write a commented example config file (every key a `run` option) to start from.
    Init(crate::config::InitArgs),
    /// List every check: id, level and title.
    List,
    /// Show what a check tests: requirement, references, stimulus, accepted responses, and
    /// the reference-server fault that demonstrates its failure.
    Explain {
        /// The check id (`mcp-authspec list` shows them).
        id: String,
    },
    /// Write the requirement catalogue from the checks' metadata: `catalogue.md` (every check
    /// in one table) and `checks/<id>.md` (one page per check) under --out. Other files there
    /// are left alone.
    Docs {
        /// The folder (the repository's `docs/` when run from its root).
        #[arg(long, default_value = "docs")]
        out: PathBuf,
        /// Write nothing: list how the files under --out differ from what would be written,
        /// and exit 1 when they do.
        #[arg(long)]
        check: bool,
    },
    /// Baselines of known failures.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// The embedded mock identity provider.
    #[command(subcommand)]
    Idp(IdpCommand),
    /// Fuzz a live target (malformed credentials, odd claims in validly signed tokens, mutated
    /// DPoP proofs): nothing invalid accepted, no 5xx, no answer missing; a violation is shrunk
    /// to a minimal input and reported.
    Fuzz(crate::netfuzz::cli::FuzzArgs),
    /// Serve the reference MCP server (compliant, or with fault profiles) until interrupted.
    DemoServer(DemoServerArgs),
    /// Print a shell completion script (e.g. `mcp-authspec completions bash >
    /// ~/.local/share/bash-completion/completions/mcp-authspec`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --out write one page per command into a folder
    /// (`mcp-authspec.1`, `mcp-authspec-run.1`, …).
    Man {
        /// The folder for one page per command.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct DemoServerArgs {
    /// Address to bind (loopback by default).
    #[arg(long, default_value = "127.0.0.1:9500", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Issuer whose tokens are accepted (exact `iss`).
    #[arg(long)]
    issuer: String,
    /// JWKS URL of the issuer; default: read from its RFC 8414 / OpenID metadata.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Resource identifier expected in `aud`; default the MCP endpoint URL.
    #[arg(long)]
    resource: Option<String>,
    /// DPoP (RFC 9449): off (Bearer only), optional (both schemes, as the embedded demo), or
    /// required (DPoP-bound tokens only).
    #[arg(long, value_enum, default_value_t = DemoDpop::Optional)]
    dpop: DemoDpop,
    /// With DPoP on, demand a server nonce in every proof (RFC 9449 §9).
    #[arg(long)]
    dpop_nonce: bool,
    /// A fault profile to switch on (repeatable); `--fault list` prints them.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// Where the canary tool sends its upstream call (the upstream API a run hosts with
    /// `run --canary-upstream`).
    #[arg(long)]
    canary_upstream: Option<String>,
}

/// `demo-server --dpop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoDpop {
    Off,
    Optional,
    Required,
}

impl From<DemoDpop> for reference_server::DpopMode {
    fn from(mode: DemoDpop) -> Self {
        match mode {
            DemoDpop::Off => Self::Off,
            DemoDpop::Optional => Self::Optional,
            DemoDpop::Required => Self::Required,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// MCP endpoint of a deployed server configured to trust the mock IdP this run hosts.
    #[arg(long)]
    pub target: Option<String>,
    /// Switch on a fault of the embedded reference server (repeatable; not with --target).
    #[arg(long = "demo-fault", value_name = "NAME", value_parser = str::parse::<Fault>)]
    pub demo_faults: Vec<Fault>,
    /// Switch on a fault of the embedded mock IdP as an authorization server (repeatable; not
    /// with --target), for the as.* checks.
    #[arg(long = "demo-as-fault", value_name = "NAME", value_parser = str::parse::<AsFault>)]
    pub demo_as_faults: Vec<AsFault>,
    /// Which party to test: rs (the MCP server), as (its authorization server) or all.
    #[arg(long, value_enum, default_value = "all")]
    pub role: RoleChoice,
    /// The authorization server to test (its issuer identifier) instead of the one the
    /// target's PRM names; without --target, only this authorization server is tested.
    #[arg(long = "as", value_name = "ISSUER")]
    pub as_issuer: Option<String>,
    /// For the as.* checks against a real authorization server: a redirect URI registered for
    /// the public client --client-id names (http://127.0.0.1/callback or
    /// http://localhost/callback lets a login end at the run's listener, on any port). Without
    /// --client-id the run registers its own client when the server offers registration.
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// For the as.cimd.* checks: the public https base URL under which the authorization
    /// server fetches the client ID metadata documents the run hosts, forwarded (by a tunnel or
    /// reverse proxy) to --cimd-listen. Default: https://127.0.0.1:<port> with the test CA of
    /// fixtures/tls, which the authorization server must trust.
    #[arg(long, value_name = "URL", requires = "cimd_listen")]
    pub cimd_base_url: Option<url::Url>,
    /// With --cimd-base-url: the loopback address where the run serves the documents in plain
    /// http for the tunnel to forward to.
    #[arg(long, value_name = "ADDR", requires = "cimd_base_url")]
    pub cimd_listen: Option<SocketAddr>,
    /// Run only checks whose id matches (glob, repeatable).
    #[arg(long = "check")]
    pub checks: Vec<String>,
    /// Skip checks whose id matches (glob, repeatable).
    #[arg(long = "skip")]
    pub skips: Vec<String>,
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Known failures (TOML, each entry a check id or glob with a mandatory reason): listed
    /// failures do not fail the run; a listed check that passes again does (stale entry).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Colours on the terminal: auto (a terminal, and NO_COLOR unset), always or never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Which checks get a line as they finish.
    #[arg(long, value_enum, default_value = "all")]
    pub status_level: ShownChecks,
    /// Which checks are repeated with their evidence at the end.
    #[arg(long, value_enum, default_value = "non-pass")]
    pub final_status_level: ShownChecks,
    /// Audience of valid tokens (default: PRM resource).
    #[arg(long)]
    pub audience: Option<String>,
    /// Scope of valid tokens (default: found by calibration, trying the challenge's scope,
    /// then every scope in scopes_supported, then none).
    #[arg(long)]
    pub scope: Option<String>,
    /// Signing algorithm of valid tokens (default: found by calibration, trying ES256, RS256,
    /// PS256, EdDSA and ES384 in turn).
    #[arg(long, value_parser = parse_signing_alg)]
    pub signing_alg: Option<mock_idp::alg::Algorithm>,
    /// The MCP revision whose authorization rules are in force (2025-06-18, 2025-11-25,
    /// 2026-07-28): levels that differ between revisions follow it.
    #[arg(long, default_value = "2026-07-28", value_parser = parse_spec_version)]
    pub spec_version: crate::model::SpecVersion,
    /// A profile the target claims (repeatable): rfc9068 (RFC 9068 JWT access tokens: typ and
    /// required claims checked) or dpop (DPoP required; detected when the PRM says
    /// dpop_bound_access_tokens_required). Rows of an undeclared profile report INFO.
    #[arg(long = "profile", value_parser = parse_profile)]
    pub profiles: Vec<crate::model::Profile>,
    /// With --target: a tool that needs more scope than the valid token carries, for the
    /// rs.scope.* checks (its extra scope is learned from its 403 challenge unless
    /// --step-up-scope says it).
    #[arg(long, requires = "target")]
    pub step_up_tool: Option<String>,
    /// The scope the step-up tool needs beyond the valid token's.
    #[arg(long, requires = "step_up_tool")]
    pub step_up_scope: Option<String>,
    /// Arguments of the step-up tool's call (a JSON object).
    #[arg(long, requires = "step_up_tool", value_parser = parse_json_object)]
    pub step_up_args: Option<serde_json::Value>,
    /// With --target: a tool whose calls have an observable side effect, for
    /// rs.token.passthrough and rs.auth.no-processing-before-auth. The target must be
    /// configured to make it call the upstream this run hosts (--canary-upstream).
    #[arg(long, requires_all = ["target", "canary_upstream"])]
    pub canary_tool: Option<String>,
    /// Where the run hosts the canary's upstream API (the tool calls http://ADDR/upstream;
    /// what arrives there is counted and searched for the client's token).
    #[arg(long, requires = "canary_tool", value_parser = parse_listen)]
    pub canary_upstream: Option<SocketAddr>,
    /// Arguments of the canary tool's call (a JSON object).
    #[arg(long, requires = "canary_tool", value_parser = parse_json_object)]
    pub canary_args: Option<serde_json::Value>,
    /// With --target: where the mock IdP listens (the target must reach it).
    #[arg(long, default_value = "127.0.0.1:9400", value_parser = parse_listen)]
    pub idp_listen: SocketAddr,
    /// With --target: the mock IdP's public base URL, if the target reaches it by another name.
    #[arg(long)]
    pub idp_issuer: Option<String>,
    /// With --target: the key folder shared with `idp serve`, for targets that read keys only
    /// at start-up.
    #[arg(long, default_value = ".mcp-authspec/idp-keys")]
    pub idp_keys: PathBuf,
    /// Warnings fail the run too.
    #[arg(long)]
    pub strict: bool,
    /// Checks run at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Tokens from the target's own authorization server instead of a mock IdP it trusts.
    #[command(flatten)]
    pub sources: crate::source::setup::SourceArgs,
    /// Read by `config::expand` before the command line is parsed.
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
}

/// Where a command writes its reports (`run` and `fuzz`): each from the one event stream.
#[derive(Debug, Default, clap::Args)]
pub struct ReportArgs {
    /// Write the JSON report (schema_version 1) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the Markdown summary (for a CI step summary or a pull-request comment) here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write JUnit XML (one testsuite per area) here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write one self-contained HTML report (opens offline, loads nothing) here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write SARIF 2.1.0 (one rule per check, one result per failure, warning and error; for
    /// code scanning) here.
    #[arg(long)]
    pub sarif: Option<PathBuf>,
    /// Write every report into this folder with default names (report.json, junit.xml,
    /// summary.md, report.html, report.sarif); `--out` alone uses reports/out.
    #[arg(long, num_args = 0..=1, default_missing_value = "reports/out")]
    pub out: Option<PathBuf>,
    /// Where the HTML and SARIF reports link each check's catalogue page: the URL of a
    /// published copy of this repository at the tool's version, under which docs/checks/<id>.md
    /// is (the GitHub Action passes the action's own repository and ref). Default: file: links
    /// into the source tree the binary was built from.
    #[arg(long, value_name = "URL", value_parser = parse_docs_base_url)]
    pub docs_base_url: Option<url::Url>,
}

impl ReportArgs {
    /// Writes every requested report of `report`; `strict` counts warnings as JUnit failures.
    pub fn write(&self, report: &reports::event::Report, strict: bool) -> Result<(), String> {
        let docs = self
            .docs_base_url
            .clone()
            .map_or(DocsSite::SourceTree, DocsSite::published);
        for (path, kind) in self.files()? {
            let text = match kind {
                ReportKind::Json => reports::json::render_text(report),
                ReportKind::Markdown => reports::markdown::render(report),
                ReportKind::Junit => {
                    reports::junit::render(report, strict).map_err(|e| e.to_string())?
                }
                ReportKind::Html => reports::html::render(report, &docs),
                ReportKind::Sarif => reports::sarif::render(report, &docs),
            };
            write_file(&path, &text)?;
        }
        Ok(())
    }

    /// Every requested report file: each explicit path, plus the `--out` folder's defaults.
    fn files(&self) -> Result<Vec<(PathBuf, ReportKind)>, String> {
        let mut files: Vec<(PathBuf, ReportKind)> = [
            (&self.json, ReportKind::Json),
            (&self.markdown, ReportKind::Markdown),
            (&self.junit, ReportKind::Junit),
            (&self.html, ReportKind::Html),
            (&self.sarif, ReportKind::Sarif),
        ]
        .into_iter()
        .filter_map(|(path, kind)| path.clone().map(|p| (p, kind)))
        .collect();
        if let Some(dir) = &self.out {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for (name, kind) in [
                ("report.json", ReportKind::Json),
                ("summary.md", ReportKind::Markdown),
                ("junit.xml", ReportKind::Junit),
                ("report.html", ReportKind::Html),
                ("report.sarif", ReportKind::Sarif),
            ] {
                if !files.iter().any(|(_, k)| *k == kind) {
                    files.push((dir.join(name), kind));
                }
            }
        }
        Ok(files)
    }
}

/// The report files a command writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportKind {
    Json,
    Markdown,
    Junit,
    Html,
    Sarif,
}

/// When the terminal gets colours.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Which party a run tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleChoice {
    /// The MCP server (rs.* checks).
    Rs,
    /// Its authorization server (as.* checks).
    As,
    /// Both.
    All,
}

impl RoleChoice {
    fn runs_rs(self) -> bool {
        self != RoleChoice::As
    }

    fn runs_as(self) -> bool {
        self != RoleChoice::Rs
    }
}

/// Which checks the terminal shows (as nextest's status levels).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShownChecks {
    None,
    Fail,
    Warn,
    NonPass,
    All,
}

impl From<ShownChecks> for StatusLevel {
    fn from(shown: ShownChecks) -> Self {
        match shown {
            ShownChecks::None => StatusLevel::None,
            ShownChecks::Fail => StatusLevel::Fail,
            ShownChecks::Warn => StatusLevel::Warn,
            ShownChecks::NonPass => StatusLevel::NonPass,
            ShownChecks::All => StatusLevel::All,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Run the checks (same options as `run`) and write every failure, warning and error to
    /// FILE as a known failure with the given reason.
    Write {
        /// The baseline file to write (TOML).
        file: PathBuf,
        /// Why these failures are expected (required: every entry carries one; edit the file
        /// to give entries their own).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// Serve the mock IdP (trusted, rogue and other-tenant issuers) until interrupted.
    Serve {
        /// Address to bind (loopback by default).
        #[arg(long, default_value = "127.0.0.1:9400", value_parser = parse_listen)]
        listen: SocketAddr,
        /// Public base URL when the IdP is reached under another name (proxy, port mapping);
        /// default `http://<listen>`. Issuers are this URL plus their path.
        #[arg(long)]
        issuer: Option<String>,
        /// Key folder: created on first start, reused afterwards so a server is configured once.
        #[arg(long, default_value = ".mcp-authspec/idp-keys")]
        keys: PathBuf,
        /// Audience of the example token printed at start-up.
        #[arg(long, default_value = mock_idp::server::DEFAULT_AUDIENCE)]
        audience: String,
        /// Demand server nonces in DPoP proofs at the token endpoint.
        #[arg(long)]
        dpop_nonce: bool,
        /// An authorization-server fault profile to switch on (repeatable; see
        /// `mcp-authspec list` for the as.* checks each breaks).
        #[arg(long = "fault", value_name = "NAME")]
        faults: Vec<String>,
        /// Login mode: the authorization endpoint shows a login form for this user instead of
        /// approving every valid request at once.
        #[arg(long, value_name = "USER", requires = "login_password_env")]
        login_user: Option<String>,
        /// The environment variable holding the login-mode password.
        #[arg(long, value_name = "VAR", requires = "login_user")]
        login_password_env: Option<String>,
        /// In login mode, a consent page (Allow / Deny) after the login.
        #[arg(long, requires = "login_user")]
        login_consent: bool,
        /// A PEM file of CA certificates trusted when fetching client ID metadata documents
        /// (repeatable); only these are trusted, never the system's. Default: the test CA of
        /// fixtures/tls, under which `mcp-authspec run` serves its documents.
        #[arg(long = "cimd-ca", value_name = "PATH")]
        cimd_ca: Vec<PathBuf>,
        /// How long an authorization code can be redeemed, in seconds (default: 60).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..))]
        code_lifetime: Option<i64>,
        /// A resource the metadata lists in protected_resources (repeatable; RFC 9728 §4).
        #[arg(long = "protected-resource", value_name = "URI")]
        protected_resources: Vec<String>,
    },
    /// Generate a key ring (one key per algorithm) as PEM and JWK files.
    Keygen {
        /// Folder to write into (created if missing; existing keys are kept).
        #[arg(long)]
        out: PathBuf,
        /// Prefix of each key's kid: `<prefix>-es256`, …
        #[arg(long, default_value = "trusted")]
        prefix: String,
    },
}

pub fn main() -> ExitCode {
    let expanded = match crate::config::expand(std::env::args_os().collect()) {
        Ok(expanded) => expanded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let config_file = expanded.file.as_ref().map(|f| f.path.display().to_string());
    let cli = match Cli::try_parse_from(expanded.argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            if let Some(file) = config_file.filter(|_| e.use_stderr()) {
                eprintln!("note: with the options of {file} (--no-config leaves it out)");
            }
            return ExitCode::from(code);
        }
    };
    if let Some(file) = &config_file {
        // On stderr: a file read without being named should never go unnoticed.
        eprintln!("Options from {file} (the command line's take precedence).");
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run(cli: Cli) -> Result<u8, String> {
    let command = match cli.command {
        Some(c) => c,
        // The defaults of `run`, exactly as if the user had typed it.
        None => Cli::try_parse_from(["mcp-authspec", "run"])
            .ok()
            .and_then(|c| c.command)
            .ok_or("internal: default run arguments do not parse")?,
    };
    match command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mcp-authspec", &mut out);
            print_bytes(&out);
            Ok(exit::SUCCESS)
        }
        Command::Man { out: None } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| e.to_string())?;
            print_bytes(&page);
            Ok(exit::SUCCESS)
        }
        Command::Man { out: Some(dir) } => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            say!("Wrote the man pages under {}", dir.display());
            Ok(exit::SUCCESS)
        }
        Command::Fuzz(args) => crate::netfuzz::cli::main(args),
        Command::List => {
            for m in crate::catalog::metas() {
                say!("{:<40} {:<6} {}", m.id, m.level.as_str(), m.title);
            }
            Ok(exit::SUCCESS)
        }
        Command::Init(args) => {
            crate::config::write_example(&args)?;
            let reads_it = if args.path == std::path::Path::new(crate::config::DEFAULT_FILE) {
                "`mcp-authspec run` reads it from this folder".to_owned()
            } else {
                format!(
                    "`mcp-authspec run --config {}` reads it",
                    args.path.display()
                )
            };
            say!(
                "Wrote {}: uncomment what you need; {reads_it}.",
                args.path.display()
            );
            Ok(exit::SUCCESS)
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(run_command(args)).map(|(code, _)| code)
        }
        Command::Explain { id } => {
            let meta = crate::catalog::metas()
                .into_iter()
                .find(|m| m.id == id)
                .ok_or_else(|| format!("no check {id:?} (mcp-authspec list shows every id)"))?;
            say!("{}", crate::explain::explain(&meta));
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            say!("{}", runtime.block_on(crate::explain::demonstrate(&meta))?);
            Ok(exit::SUCCESS)
        }
        Command::Docs { out, check: true } => {
            let differences = crate::docs::differences(&out);
            for d in &differences {
                say!("{}: {d}", out.display());
            }
            if differences.is_empty() {
                say!("{} is up to date", out.display());
                Ok(exit::SUCCESS)
            } else {
                say!("Regenerate with: {}", crate::docs::REGENERATE);
                Ok(exit::FAILURES)
            }
        }
        Command::Docs { out, check: false } => {
            let written = crate::docs::write(&out)?;
            say!("Wrote {written} file(s) under {}", out.display());
            Ok(exit::SUCCESS)
        }
        Command::Baseline(BaselineCommand::Write { file, reason, run }) => {
            if reason.trim().is_empty() {
                return Err("--reason must say why the failures are expected".into());
            }
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            let (_, report) = runtime.block_on(run_command(run))?;
            let baseline = Baseline::from_failures(&report.checks, &reason);
            write_file(&file, &baseline.to_toml())?;
            say!(
                "Wrote {} known failure(s) to {}",
                baseline.entries().len(),
                file.display()
            );
            Ok(exit::SUCCESS)
        }
        Command::DemoServer(args) => {
            if args.faults.iter().any(|f| f == "list") {
                for fault in Fault::ALL {
                    say!("{:<24} {}", fault.name(), fault.description());
                }
                return Ok(exit::SUCCESS);
            }
            let faults = args
                .faults
                .iter()
                .map(|f| f.parse::<Fault>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(serve_demo(args, faults))?;
            Ok(exit::SUCCESS)
        }
        Command::Idp(IdpCommand::Serve {
            listen,
            issuer,
            keys,
            audience,
            dpop_nonce,
            faults,
            login_user,
            login_password_env,
            login_consent,
            cimd_ca,
            code_lifetime,
            protected_resources,
        }) => {
            let faults = faults
                .iter()
                .map(|f| f.parse::<AsFault>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            let login = match (login_user, login_password_env) {
                (Some(username), Some(var)) => Some(mock_idp::server::LoginConfig {
                    username,
                    password: crate::source::login_form::password_from_env(&var)
                        .map_err(|e| e.to_string())?,
                    consent: login_consent,
                }),
                _ => None,
            };
            let trust_roots_pem: Vec<String> = cimd_ca
                .iter()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("--cimd-ca {}: {e}", path.display()))
                })
                .collect::<Result<_, _>>()?;
            let config = IdpConfig {
                listen,
                public_base_url: issuer,
                keys: KeySource::Dir(keys),
                require_dpop_nonce: dpop_nonce,
                faults,
                login,
                // Without --cimd-ca it trusts the test CA of the tool's own document host.
                cimd: mock_idp::server::CimdConfig {
                    trust_roots_pem: if trust_roots_pem.is_empty() {
                        vec![crate::engine::listener::TLS_CA.to_owned()]
                    } else {
                        trust_roots_pem
                    },
                    ..Default::default()
                },
                code_lifetime: code_lifetime.unwrap_or(IdpConfig::default().code_lifetime),
                protected_resources,
                ..IdpConfig::default()
            };
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(serve_idp(config, &audience))?;
            Ok(exit::SUCCESS)
        }
        Command::Idp(IdpCommand::Keygen { out, prefix }) => {
            let ring = KeyRing::load_or_generate(&out, &prefix).map_err(|e| e.to_string())?;
            for key in ring.keys() {
                say!(
                    "{}  {}",
                    key.alg(),
                    out.join(format!("{}.pem", key.kid().unwrap_or("?")))
                        .display()
                );
            }
            Ok(exit::SUCCESS)
        }
    }
}

/// Bytes to stdout; a closed stdout (a pipe into `head`) just drops them, as `say!` does.
fn print_bytes(bytes: &[u8]) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(bytes);
}

fn parse_json_object(s: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err("tool arguments must be a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

fn parse_spec_version(s: &str) -> Result<crate::model::SpecVersion, String> {
    use crate::model::SpecVersion;
    SpecVersion::parse(s).ok_or_else(|| {
        let names: Vec<&str> = SpecVersion::ALL.iter().map(|v| v.as_str()).collect();
        format!("{s:?} is not one of {}", names.join(", "))
    })
}

fn parse_profile(s: &str) -> Result<crate::model::Profile, String> {
    use crate::model::Profile;
    Profile::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.as_str()).collect();
        format!("{s:?} is not one of {}", names.join(", "))
    })
}

/// `--signing-alg`: one of the algorithms the mock IdP signs access tokens with.
pub fn parse_signing_alg(s: &str) -> Result<mock_idp::alg::Algorithm, String> {
    use crate::engine::accepted::CANDIDATE_ALGS;
    CANDIDATE_ALGS
        .into_iter()
        .find(|a| a.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = CANDIDATE_ALGS.iter().map(|a| a.name()).collect();
            format!("{s:?} is not one of {}", names.join(", "))
        })
}

/// `--docs-base-url`: an absolute http(s) URL, since reports are read away from this machine.
fn parse_docs_base_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(format!(
            "{s:?}: expected an http or https URL, not {other}:"
        )),
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("{s:?} is not an address like 127.0.0.1:9400: {e}"))
}

async fn serve_idp(config: IdpConfig, audience: &str) -> Result<(), String> {
    let idp = MockIdp::start(config).await.map_err(|e| e.to_string())?;
    let trusted = idp.urls(IssuerKind::Trusted);
    say!("mock IdP listening on {}", idp.local_addr());
    say!();
    say!("Configure the server under test to trust:");
    say!("  issuer      {}", trusted.issuer);
    say!("  jwks_uri    {}", trusted.jwks_uri);
    say!("  metadata    {}", trusted.metadata_url);
    say!("  token       {}", trusted.token_endpoint);
    say!();
    say!("Other issuers (never trusted by a correct server):");
    for (label, kind) in [
        ("rogue", IssuerKind::Rogue),
        ("other tenant", IssuerKind::OtherTenant),
    ] {
        say!("  {label:<12} {}", idp.issuer_of(kind));
    }
    say!();
    say!("Pre-registered clients:");
    say!(
        "  {} (client secret {})",
        mock_idp::server::CONFIDENTIAL_CLIENT_ID,
        mock_idp::server::CONFIDENTIAL_CLIENT_SECRET
    );
    say!(
        "  {} (public, loopback redirect URIs)",
        mock_idp::server::PUBLIC_CLIENT_ID
    );
    say!();
    let example = idp.mint(&idp.valid_token_spec(audience, &idp.config().default_scope));
    say!("Example valid access token (aud {audience}, 5 min):");
    say!("{example}");
    say!();
    say!("Ctrl-C stops the IdP.");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    idp.shutdown().await;
    Ok(())
}

/// The issuer's `jwks_uri`, read from its metadata in MCP discovery order.
async fn discover_jwks_uri(issuer: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    for url in as_metadata_urls(issuer).map_err(|e| e.to_string())? {
        let Ok(resp) = client.get(&url).send().await else {
            continue;
        };
        if !resp.status().is_success() {
            continue;
        }
        let Ok(doc) = resp.json::<serde_json::Value>().await else {
            continue;
        };
        if doc["issuer"] == issuer
            && let Some(jwks) = doc["jwks_uri"].as_str()
        {
            return Ok(jwks.to_owned());
        }
    }
    Err(format!(
        "no metadata with a jwks_uri found for issuer {issuer}; pass --jwks-uri"
    ))
}

async fn serve_demo(
    args: DemoServerArgs,
    faults: std::collections::BTreeSet<Fault>,
) -> Result<(), String> {
    let issuer = args.issuer;
    let jwks_uri = match args.jwks_uri {
        Some(u) => u,
        None => discover_jwks_uri(&issuer).await?,
    };
    let mut config = DemoConfig::new(&issuer, &jwks_uri);
    config.listen = args.listen;
    config.resource = args.resource;
    config.dpop = args.dpop.into();
    config.dpop_nonce = args.dpop_nonce && args.dpop != DemoDpop::Off;
    config.faults = faults;
    config.canary_upstream = args.canary_upstream;
    let server = ReferenceServer::start(config)
        .await
        .map_err(|e| e.to_string())?;
    say!("reference MCP server on {}", server.mcp_url());
    say!("  resource    {}", server.resource());
    say!("  metadata    {}", server.prm_url());
    say!("  trusts      {issuer} (keys from {jwks_uri})");
    say!(
        "  dpop        {:?}{}",
        args.dpop,
        if args.dpop_nonce && args.dpop != DemoDpop::Off {
            ", nonces demanded"
        } else {
            ""
        }
    );
    let names: Vec<_> = server.faults().iter().map(|f| f.name()).collect();
    say!(
        "  faults      {}",
        if names.is_empty() {
            "none (compliant)".to_owned()
        } else {
            names.join(", ")
        }
    );
    say!("Ctrl-C stops the server.");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.shutdown().await;
    Ok(())
}

/// The demo's mock IdP gives up a client ID metadata document fetch after this: the dripped
/// document of as.cimd.size-limit (a byte per 100 ms) waits it out, and ends the run, while a
/// valid document on loopback comes in milliseconds.
const DEMO_CIMD_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(600);

async fn run_command(args: RunArgs) -> Result<(u8, Report), String> {
    use std::sync::Arc;

    use crate::engine::runner;
    use crate::engine::select::{Glob, Selection};
    use crate::engine::session::{self, Embedded, TokenDefaults};

    let faults: std::collections::BTreeSet<Fault> = args.demo_faults.iter().copied().collect();
    if args.target.is_some() && !faults.is_empty() {
        return Err("--demo-fault applies to the embedded demo, not to --target".into());
    }
    let as_faults: std::collections::BTreeSet<AsFault> =
        args.demo_as_faults.iter().copied().collect();
    if args.target.is_some() && !as_faults.is_empty() {
        return Err("--demo-as-fault applies to the embedded demo, not to --target".into());
    }
    let as_only = args.target.is_none() && args.as_issuer.is_some();
    if as_only && (!faults.is_empty() || !as_faults.is_empty()) {
        return Err(
            "--as without --target tests that authorization server only: the demo \
                    faults do not apply"
                .into(),
        );
    }
    if as_only && args.role == RoleChoice::Rs {
        return Err("--role rs needs an MCP server: give --target, or drop --as".into());
    }
    let baseline = match &args.baseline {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(Baseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let selection = Selection {
        include: args.checks.iter().map(|g| Glob::new(g)).collect(),
        skip: args.skips.iter().map(|g| Glob::new(g)).collect(),
    };
    let defaults = TokenDefaults {
        audience: args.audience.clone(),
        scope: args.scope.clone(),
        signing_alg: args.signing_alg,
    };
    // Keep the embedded servers (or the hosted IdP) alive for the whole run.
    // A token source replaces minting: no mock IdP is hosted for a deployed target then.
    let minted_or_planned = |idp: Arc<MockIdp>| {
        if args.sources.any() {
            session::TokenSupply::Planned(Box::new(args.sources.clone()))
        } else {
            session::TokenSupply::Minted(idp)
        }
    };
    // The demo's mock IdP shows a login form and a consent page that the form driver fills,
    // so every demo run drives it; not under a demo fault of the authorization endpoint,
    // whose refusals the rows read only before a login.
    let demo_login = (args.target.is_none()
        && as_faults
            .iter()
            .all(|f| matches!(f, AsFault::LoginFramable | AsFault::LoginRedirect307)))
    .then(|| crate::source::login_form::FormLogin {
        user: "demo".to_owned(),
        password: crate::source::auth_code::Secret::new(mock_idp::random_b64url(16)),
        user_field: None,
        password_field: None,
    });
    let (endpoint, supply, step_up, embedded, profile) = match &args.target {
        None if as_only => {
            return run_as_only(&args, &selection, baseline.as_ref()).await;
        }
        None => {
            let idp = MockIdp::start(IdpConfig {
                keys: KeySource::Demo,
                faults: as_faults.clone(),
                cimd: mock_idp::server::CimdConfig {
                    fetch_timeout: DEMO_CIMD_FETCH_TIMEOUT,
                    ..crate::engine::listener::mock_idp_cimd()
                },
                login: demo_login.as_ref().map(|l| mock_idp::server::LoginConfig {
                    username: l.user.clone(),
                    password: l.password.expose().to_owned(),
                    consent: true,
                }),
                ..IdpConfig::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            let embedded = Embedded::start_with(Arc::new(idp), &faults).await?;
            let names: Vec<&str> = faults
                .iter()
                .map(|f| f.name())
                .chain(as_faults.iter().map(|f| f.name()))
                .collect();
            let label = if names.is_empty() {
                "compliant".to_owned()
            } else {
                names.join(", ")
            };
            say!(
                "Embedded demo: reference server {} ({label}), mock IdP {}",
                embedded.server.mcp_url(),
                embedded.idp.issuer()
            );
            (
                embedded.server.mcp_url(),
                minted_or_planned(embedded.idp.clone()),
                Some(Embedded::step_up()),
                Some(embedded),
                format!("embedded demo: {label}"),
            )
        }
        Some(target) if args.sources.any() => (
            target.clone(),
            session::TokenSupply::Planned(Box::new(args.sources.clone())),
            None,
            None,
            "target with its own authorization server".to_owned(),
        ),
        Some(target) => {
            let config = IdpConfig {
                listen: args.idp_listen,
                public_base_url: args.idp_issuer.clone(),
                keys: KeySource::Dir(args.idp_keys.clone()),
                ..IdpConfig::default()
            };
            let idp = MockIdp::start(config).await.map_err(|e| e.to_string())?;
            let trusted = idp.urls(IssuerKind::Trusted);
            say!("The server under test must trust this issuer for the run:");
            say!("  issuer      {}", trusted.issuer);
            say!("  jwks_uri    {}", trusted.jwks_uri);
            say!("  audience    its own resource identifier (override with --audience)");
            let second = idp.urls(IssuerKind::Second);
            say!(
                "Optionally also trust {} (JWKS {}) to run rs.token.multi-as-isolation.",
                second.issuer,
                second.jwks_uri
            );
            (
                target.clone(),
                session::TokenSupply::Minted(Arc::new(idp)),
                None,
                None,
                "target trusting the run's mock IdP".to_owned(),
            )
        }
    };
    // A deployed target's canary calls the upstream this run hosts.
    let hosted_upstream = match (&args.canary_tool, args.canary_upstream) {
        (Some(_), Some(addr)) => Some(
            session::UpstreamRecorder::start_on(addr)
                .await
                .map_err(|e| format!("--canary-upstream {addr}: {e}"))?,
        ),
        _ => None,
    };
    let canary = match (&args.canary_tool, &hosted_upstream) {
        (Some(tool), Some(upstream)) => {
            say!(
                "The canary tool {tool} must call {} (counted, searched for tokens).",
                upstream.url()
            );
            let log = upstream.log();
            let count = log.clone();
            Some(crate::engine::context::Canary {
                tool: tool.clone(),
                count: Arc::new(move || count.len() as u64),
                upstream: Some(log),
            })
        }
        _ => embedded.as_ref().map(Embedded::canary),
    };
    let mut ctx = session::context_from(
        &endpoint,
        supply,
        &defaults,
        step_up,
        canary,
        crate::http::Limits::default(),
    )
    .await?;

    for (tool, arguments) in [
        (&args.step_up_tool, &args.step_up_args),
        (&args.canary_tool, &args.canary_args),
    ] {
        if let (Some(tool), Some(arguments)) = (tool, arguments) {
            ctx.tool_arguments.insert(tool.clone(), arguments.clone());
        }
    }
    if let Some(tool) = &args.step_up_tool {
        ctx.step_up =
            Some(session::learn_step_up(&ctx, tool, args.step_up_scope.as_deref()).await?);
    }
    ctx.spec_version = args.spec_version;
    if embedded.is_some() {
        ctx.declare_profiles(&Embedded::profiles());
    }
    ctx.declare_profiles(&args.profiles);
    say!("{}", ctx.clock.describe());
    let options = crate::engine::runner::RunOptions {
        concurrency: args.concurrency.max(1),
        started_first: crate::catalog::STARTED_FIRST,
        ..Default::default()
    };
    let selected = selected_count(&selection, args.role);
    let info = RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_version: ctx.spec_version.as_str().to_owned(),
        profiles: ctx.profiles.clone(),
        calibration: ctx.calibration.describe(),
        token_source: ctx.token_source(),
        target: endpoint.clone(),
        profile,
        selected,
        started_unix: mock_idp::unix_now(),
    };
    let started = std::time::Instant::now();
    let style = terminal_style(args.color);
    let mut terminal = Terminal::styled(
        std::io::stdout(),
        args.status_level.into(),
        args.final_status_level.into(),
        style,
    );
    let mut collector = Collector::default();
    let mut stream = Fanout::new(vec![&mut terminal, &mut collector]);
    stream.event(&Event::RunStarted(&info));
    // A selection without any as.* check leaves the authorization server alone (no discovery,
    // no registration).
    let as_selected = crate::catalog::authorization_server_checks()
        .iter()
        .any(|c| selection.selects(c.meta.id));
    // The authorization server's context is made before the rs.* checks run, so that both
    // roles' checks share one pool of --concurrency slots: the as.* checks need not wait for
    // the slowest rs.* check.
    let mut no_authorization_server = false;
    let as_ctx = if args.role.runs_as() && as_selected {
        // The authorization server --as names, else the first one the PRM names (read even
        // when its metadata could not be: that is for the as.metadata checks to say).
        let issuer = args.as_issuer.clone().or_else(|| {
            ctx.discovery.prm.as_ref().and_then(|p| {
                p.strings("authorization_servers")
                    .first()
                    .map(|s| (*s).to_owned())
            })
        });
        match issuer {
            Some(issuer) => {
                let mut as_ctx = AsContext::discover(
                    ctx.driver.clone(),
                    &issuer,
                    Some(ctx.discovery.resource().to_owned()),
                )
                .await;
                as_ctx.spec_version = ctx.spec_version;
                as_ctx.profiles = ctx.profiles.clone();
                as_ctx.client = as_client(&args, ctx.idp.as_deref());
                as_ctx.login = match as_login(&args)? {
                    Some(login) => Some(login),
                    None => demo_login.map(|form| crate::source::auth_code::Login {
                        command: None,
                        form: Some(form),
                        redirect_port: 0,
                        timeout: std::time::Duration::from_secs(30),
                    }),
                };
                as_ctx.scope = args.scope.clone().or_else(|| ctx.discovery.scope_hint());
                as_ctx.cimd_base_url = cimd_hosting(&args)?;
                as_ctx.code_expiry_wait = args.sources.code_expiry_wait_duration();
                as_ctx.exchange_client =
                    args.sources.exchange_client().map_err(|e| e.to_string())?;
                as_ctx.confidential_client = args
                    .sources
                    .confidential_client()
                    .map_err(|e| e.to_string())?;
                as_ctx.exchange_target = args.sources.other_resource.clone();
                let client = choose_as_client(&mut as_ctx, args.sources.client_id.is_some()).await;
                Some((as_ctx, client))
            }
            None => {
                no_authorization_server = true;
                None
            }
        }
    } else {
        None
    };
    // The discovery above fetched the trusted issuer's JWKS; rs.token.jwks-rotation counts the
    // target's fetches only.
    if let (Some(idp), Some(rotated)) = (&ctx.idp, ctx.rotated_key.as_mut()) {
        rotated.jwks_requests_before = idp.jwks_requests(IssuerKind::Trusted);
    }
    let mut records = Vec::new();
    let mut as_client_line = as_ctx.as_ref().map(|(_, line)| line.clone());
    let mut finished = |meta: &crate::check::CheckMeta, outcome: &crate::check::Outcome| {
        // Said where the as.* results begin, as when the roles ran one after the other.
        if meta.id.starts_with("as.")
            && let Some(line) = as_client_line.take()
        {
            say!("{line}");
        }
        let mut record = crate::output::record(meta, outcome);
        if let Some(baseline) = &baseline {
            baseline.mark(&mut record);
        }
        stream.event(&Event::CheckFinished(&record));
        records.push(record);
    };
    let rs_checks = crate::catalog::all();
    let as_checks = crate::catalog::authorization_server_checks();
    let mut jobs = Vec::new();
    if args.role.runs_rs() {
        jobs.extend(runner::jobs(&rs_checks, &selection, &ctx, options));
    }
    if let Some((as_ctx, _)) = &as_ctx {
        jobs.extend(runner::jobs(&as_checks, &selection, as_ctx, options));
    }
    runner::run_jobs(jobs, options, &mut finished).await;
    if no_authorization_server {
        say!(
            "The target's PRM names no authorization server (and --as names none): the \
             as.* checks did not run."
        );
    }
    if let Some((as_ctx, _)) = &as_ctx {
        clean_up_registrations(as_ctx).await;
    }
    let stale = baseline
        .as_ref()
        .map(|b| b.stale(&records))
        .unwrap_or_default();
    let code =
        reports::record::exit_code(&records, args.strict, session::reachable(&ctx), stale.len());
    let mut reason = exit_reason(code, &records, &stale, args.strict);
    if ctx.issued.is_some() {
        reason.push_str(&format!("; {}", issued_mode_summary(&records)));
    }
    let end = RunEnd {
        exit_code: code,
        reason,
        duration_ms: crate::model::duration_ms(&started.elapsed()),
    };
    stream.event(&Event::RunFinished(&end));
    drop(stream);
    let report = collector
        .into_report()
        .ok_or("the run produced no report")?;
    args.reports.write(&report, args.strict)?;
    Ok((code, report))
}

/// The terminal's style for `--color` (NO_COLOR honoured).
fn terminal_style(color: ColorChoice) -> Style {
    use std::io::IsTerminal as _;
    let choice = match color {
        ColorChoice::Auto => None,
        ColorChoice::Always => Some(true),
        ColorChoice::Never => Some(false),
    };
    let no_color = std::env::var("NO_COLOR").ok();
    Style::for_output(std::io::stdout().is_terminal(), choice, no_color.as_deref())
}

/// How many checks of the roles in force the selection selects.
fn selected_count(selection: &crate::engine::select::Selection, role: RoleChoice) -> usize {
    let rs = crate::catalog::all()
        .iter()
        .filter(|c| role.runs_rs() && selection.selects(c.meta.id))
        .count();
    let r#as = crate::catalog::authorization_server_checks()
        .iter()
        .filter(|c| role.runs_as() && selection.selects(c.meta.id))
        .count();
    rs + r#as
}

/// The client the as.authorize.* rows act as: `--client-id` with `--redirect-uri`, else the
/// mock IdP's own public client when the authorization server is the run's mock IdP.
fn as_client(args: &RunArgs, idp: Option<&MockIdp>) -> Option<AsClient> {
    match (&args.sources.client_id, &args.redirect_uri) {
        (Some(client_id), Some(redirect_uri)) => Some(AsClient {
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.clone(),
        }),
        _ if args.as_issuer.is_none() => idp.map(|_| AsClient {
            client_id: mock_idp::server::PUBLIC_CLIENT_ID.to_owned(),
            redirect_uri: mock_idp::server::PUBLIC_REDIRECT_URIS[0].to_owned(),
        }),
        _ => None,
    }
}

/// The client the as.* rows act as, and the line of the run's output that says so (issue 14):
/// the one given or the mock IdP's own, else a public native client the run registers when the
/// authorization server offers dynamic client registration (deleted at the end of the run).
async fn choose_as_client(ctx: &mut AsContext, client_id_given: bool) -> String {
    if let Some(client) = &ctx.client {
        return format!(
            "as.* checks act as client {} with redirect URI {}.",
            client.client_id, client.redirect_uri
        );
    }
    if client_id_given {
        return "as.* checks have no client: --client-id needs its --redirect-uri.".to_owned();
    }
    let Some(endpoint) = ctx.registration_endpoint().map(str::to_owned) else {
        return "as.* checks have no client: give --client-id and --redirect-uri (the \
                authorization server offers no dynamic client registration)."
            .to_owned();
    };
    let registered = crate::engine::registration::register_run_client(
        &ctx.driver,
        &ctx.registrations,
        &endpoint,
    )
    .await;
    match registered {
        Ok(client) => {
            let line = format!(
                "as.* checks act as client {}, a public native client this run registered at \
                 {endpoint} (redirect URI {}).",
                client.client_id, client.redirect_uri
            );
            ctx.client = Some(client);
            line
        }
        Err(why) => format!("as.* checks have no client: {why}."),
    }
}

/// Deletes every client the run registered (RFC 7592) and says how many it left behind.
async fn clean_up_registrations(ctx: &AsContext) {
    let clean_up = ctx.registrations.clean_up(&ctx.driver).await;
    if let Some(sentence) = clean_up.describe() {
        say!("{sentence}");
    }
}

/// How the as.* rows that redeem a code log in at a real authorization server:
/// `--login-command`, or the form driver (`--login-user`), with `--redirect-port` and
/// `--login-timeout`.
fn as_login(args: &RunArgs) -> Result<Option<crate::source::auth_code::Login>, String> {
    let form = args.sources.form_login().map_err(|e| e.to_string())?;
    let command = args.sources.login_command.clone();
    if command.is_none() && form.is_none() {
        return Ok(None);
    }
    Ok(Some(crate::source::auth_code::Login {
        command,
        form,
        redirect_port: args.sources.redirect_port.unwrap_or(0),
        timeout: std::time::Duration::from_secs(args.sources.login_timeout.unwrap_or(300)),
    }))
}

/// Where the as.cimd.* checks host their documents: `--cimd-base-url`, served through
/// `--cimd-listen` (which must be a loopback address: the run listens nowhere else), or the
/// listener's own https socket (`None`).
fn cimd_hosting(args: &RunArgs) -> Result<Option<String>, String> {
    let (Some(base), Some(listen)) = (&args.cimd_base_url, args.cimd_listen) else {
        return Ok(None);
    };
    if base.scheme() != "https" {
        return Err(format!(
            "--cimd-base-url {base}: client ID metadata document URLs use https"
        ));
    }
    if !listen.ip().is_loopback() {
        return Err(format!(
            "--cimd-listen {listen}: the run listens on loopback addresses only"
        ));
    }
    let listener = crate::engine::listener::Listener::shared()
        .ok_or("--cimd-listen: the tool's listener could not start")?;
    listener
        .serve_also_at(listen)
        .map_err(|e| format!("--cimd-listen {listen}: {e}"))?;
    Ok(Some(base.as_str().trim_end_matches('/').to_owned()))
}

/// `run --as ISSUER` without `--target`: the `as.*` checks against that authorization server
/// alone, with every sink as a full run has.
async fn run_as_only(
    args: &RunArgs,
    selection: &crate::engine::select::Selection,
    baseline: Option<&Baseline>,
) -> Result<(u8, Report), String> {
    use crate::engine::session;
    let issuer = args.as_issuer.clone().unwrap_or_default();
    let driver =
        crate::http::Driver::new(crate::http::Limits::default()).map_err(|e| e.to_string())?;
    let mut ctx = AsContext::discover(driver, &issuer, None).await;
    ctx.spec_version = args.spec_version;
    ctx.profiles = args.profiles.clone();
    ctx.client = as_client(args, None);
    ctx.login = as_login(args)?;
    ctx.scope = args.scope.clone();
    ctx.cimd_base_url = cimd_hosting(args)?;
    ctx.code_expiry_wait = args.sources.code_expiry_wait_duration();
    ctx.exchange_client = args.sources.exchange_client().map_err(|e| e.to_string())?;
    ctx.confidential_client = args
        .sources
        .confidential_client()
        .map_err(|e| e.to_string())?;
    ctx.exchange_target = args.sources.other_resource.clone();
    say!(
        "{}",
        choose_as_client(&mut ctx, args.sources.client_id.is_some()).await
    );
    let info = RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_version: ctx.spec_version.as_str().to_owned(),
        profiles: ctx.profiles.clone(),
        calibration: String::new(),
        token_source: String::new(),
        target: issuer.clone(),
        profile: "authorization server only (--as)".to_owned(),
        selected: selected_count(selection, RoleChoice::As),
        started_unix: mock_idp::unix_now(),
    };
    let started = std::time::Instant::now();
    let mut terminal = Terminal::styled(
        std::io::stdout(),
        args.status_level.into(),
        args.final_status_level.into(),
        terminal_style(args.color),
    );
    let mut collector = Collector::default();
    let mut stream = Fanout::new(vec![&mut terminal, &mut collector]);
    stream.event(&Event::RunStarted(&info));
    let mut records = Vec::new();
    let options = crate::engine::runner::RunOptions {
        concurrency: args.concurrency.max(1),
        started_first: crate::catalog::STARTED_FIRST,
        ..Default::default()
    };
    session::run_as_checks(&ctx, selection, options, |meta, outcome| {
        let mut record = crate::output::record(meta, outcome);
        if let Some(baseline) = baseline {
            baseline.mark(&mut record);
        }
        stream.event(&Event::CheckFinished(&record));
        records.push(record);
    })
    .await;
    clean_up_registrations(&ctx).await;
    let stale = baseline.map(|b| b.stale(&records)).unwrap_or_default();
    let reachable = ctx
        .documents
        .fetched
        .iter()
        .any(|f| f.exchange.response.is_ok());
    let code = reports::record::exit_code(&records, args.strict, reachable, stale.len());
    let end = RunEnd {
        exit_code: code,
        reason: exit_reason(code, &records, &stale, args.strict),
        duration_ms: crate::model::duration_ms(&started.elapsed()),
    };
    stream.event(&Event::RunFinished(&end));
    drop(stream);
    let report = collector
        .into_report()
        .ok_or("the run produced no report")?;
    args.reports.write(&report, args.strict)?;
    Ok((code, report))
}

/// Why the run ends with `code`, in one sentence for every report.
/// With a token source: how many checks ran, and how many need a mock IdP the target trusts.
fn issued_mode_summary(records: &[CheckRecord]) -> String {
    use crate::model::Verdict;
    let needs_mint = records
        .iter()
        .filter(|r| {
            r.verdict == Verdict::NotEvaluated
                && r.message.contains(crate::engine::applicability::MINT_HINT)
        })
        .count();
    let ran = records
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::NotEvaluated))
        .count();
    format!(
        "with the target's own authorization server {ran} of {} checks ran; {needs_mint} need a \
         mock IdP the target trusts",
        records.len()
    )
}

fn exit_reason(code: u8, records: &[CheckRecord], stale: &[StaleEntry], strict: bool) -> String {
    use crate::model::Verdict;
    let count = |v: Verdict| {
        records
            .iter()
            .filter(|r| r.verdict == v && r.baseline.is_none())
            .count()
    };
    let expected = records.iter().filter(|r| r.baseline.is_some()).count();
    let known = if expected > 0 {
        format!(" ({expected} known failure(s) expected by the baseline)")
    } else {
        String::new()
    };
    match code {
        exit::SUCCESS if strict => {
            format!("every selected check passed or was not applicable{known}")
        }
        exit::SUCCESS => {
            format!("no MUST failed and nothing errored (warnings allowed without --strict){known}")
        }
        exit::FAILURES => {
            let mut parts = vec![
                format!("{} failed", count(Verdict::Fail)),
                format!("{} errored", count(Verdict::Error)),
            ];
            if strict {
                parts.push(format!("{} warned under --strict", count(Verdict::Warn)));
            }
            for entry in stale {
                parts.push(format!(
                    "stale baseline entry {:?}: now passes ({})",
                    entry.check,
                    entry.now_passing.join(", ")
                ));
            }
            parts.join(", ") + &known
        }
        exit::NOT_EVALUATED => "the target could not be evaluated: it did not answer".into(),
        exit::NO_CHECKS => "no check matched the selection".into(),
        _ => "unexpected exit code".into(),
    }
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
