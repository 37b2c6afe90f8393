//! Command-line interface. Exit codes follow design.md: 0 success, 2 usage or config error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mock_idp::keystore::KeyRing;
use mock_idp::server::{IdpConfig, IssuerKind, KeySource, MockIdp};

use crate::model::exit;
use crate::wire::discovery::as_metadata_urls;
use reference_server::{Config as DemoConfig, Fault, ReferenceServer};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-authspec",
    version,
    about = "Conformance suite and fuzz harness for MCP authorization"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The embedded mock identity provider.
    #[command(subcommand)]
    Idp(IdpCommand),
    /// Serve the reference MCP server (compliant, or with fault profiles) until interrupted.
    DemoServer {
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
        /// A fault profile to switch on (repeatable); `--fault list` prints them.
        #[arg(long = "fault")]
        faults: Vec<String>,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::DemoServer {
            listen,
            issuer,
            jwks_uri,
            resource,
            faults,
        } => {
            if faults.iter().any(|f| f == "list") {
                for fault in Fault::ALL {
                    println!("{:<24} {}", fault.name(), fault.description());
                }
                return Ok(());
            }
            let faults = faults
                .iter()
                .map(|f| f.parse::<Fault>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(serve_demo(listen, issuer, jwks_uri, resource, faults))
        }
        Command::Idp(IdpCommand::Serve {
            listen,
            issuer,
            keys,
            audience,
            dpop_nonce,
        }) => {
            let config = IdpConfig {
                listen,
                public_base_url: issuer,
                keys: KeySource::Dir(keys),
                require_dpop_nonce: dpop_nonce,
                ..IdpConfig::default()
            };
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(serve_idp(config, &audience))
        }
        Command::Idp(IdpCommand::Keygen { out, prefix }) => {
            let ring = KeyRing::load_or_generate(&out, &prefix).map_err(|e| e.to_string())?;
            for key in ring.keys() {
                println!(
                    "{}  {}",
                    key.alg(),
                    out.join(format!("{}.pem", key.kid().unwrap_or("?")))
                        .display()
                );
            }
            Ok(())
        }
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("{s:?} is not an address like 127.0.0.1:9400: {e}"))
}

async fn serve_idp(config: IdpConfig, audience: &str) -> Result<(), String> {
    let idp = MockIdp::start(config).await.map_err(|e| e.to_string())?;
    let trusted = idp.urls(IssuerKind::Trusted);
    println!("mock IdP listening on {}", idp.local_addr());
    println!();
    println!("Configure the server under test to trust:");
    println!("  issuer      {}", trusted.issuer);
    println!("  jwks_uri    {}", trusted.jwks_uri);
    println!("  metadata    {}", trusted.metadata_url);
    println!("  token       {}", trusted.token_endpoint);
    println!();
    println!("Other issuers (never trusted by a correct server):");
    for (label, kind) in [
        ("rogue", IssuerKind::Rogue),
        ("other tenant", IssuerKind::OtherTenant),
    ] {
        println!("  {label:<12} {}", idp.issuer_of(kind));
    }
    println!();
    println!("Pre-registered clients:");
    println!(
        "  {} (client secret {})",
        mock_idp::server::CONFIDENTIAL_CLIENT_ID,
        mock_idp::server::CONFIDENTIAL_CLIENT_SECRET
    );
    println!(
        "  {} (public, loopback redirect URIs)",
        mock_idp::server::PUBLIC_CLIENT_ID
    );
    println!();
    let example = idp.mint(&idp.valid_token_spec(audience, &idp.config().default_scope));
    println!("Example valid access token (aud {audience}, 5 min):");
    println!("{example}");
    println!();
    println!("Ctrl-C stops the IdP.");
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
    listen: SocketAddr,
    issuer: String,
    jwks_uri: Option<String>,
    resource: Option<String>,
    faults: std::collections::BTreeSet<Fault>,
) -> Result<(), String> {
    let jwks_uri = match jwks_uri {
        Some(u) => u,
        None => discover_jwks_uri(&issuer).await?,
    };
    let mut config = DemoConfig::new(&issuer, &jwks_uri);
    config.listen = listen;
    config.resource = resource;
    config.faults = faults;
    let server = ReferenceServer::start(config)
        .await
        .map_err(|e| e.to_string())?;
    println!("reference MCP server on {}", server.mcp_url());
    println!("  resource    {}", server.resource());
    println!("  metadata    {}", server.prm_url());
    println!("  trusts      {issuer} (keys from {jwks_uri})");
    let names: Vec<_> = server.faults().iter().map(|f| f.name()).collect();
    println!(
        "  faults      {}",
        if names.is_empty() {
            "none (compliant)".to_owned()
        } else {
            names.join(", ")
        }
    );
    println!("Ctrl-C stops the server.");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.shutdown().await;
    Ok(())
}
