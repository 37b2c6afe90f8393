//! Command-line interface. Exit codes follow design.md: 0 success, 2 usage or config error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mock_idp::keystore::KeyRing;

use crate::model::exit;

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
}

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
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
