//! The config file as a user meets it: `init` writes an example that a run reads from the
//! current folder (no `--config` needed), the command line replaces the file's options, a bad
//! file is one error naming its line (exit 2), and `--no-config` leaves the file out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mcp_authspec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A folder of its own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("config-{}", mock_idp::random_b64url(8)));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The check ids of a JSON report.
fn checks_in(report: &Path) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn init_writes_an_example_that_a_run_in_that_folder_reads() {
    let dir = TempDir::new();
    let init = mcp_authspec(&dir.0, &["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));
    let again = mcp_authspec(&dir.0, &["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("mcp-authspec.toml exists (--force replaces it)"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        mcp_authspec(&dir.0, &["init", "--force"]).status.code(),
        Some(0)
    );

    let config = dir.0.join("mcp-authspec.toml");
    let mut example = std::fs::read_to_string(&config).unwrap();
    example.push_str(
        "check = [\"rs.challenge.*\"]\njson = \"reports/run.json\"\nstatus-level = \"none\"\n",
    );
    std::fs::write(&config, example).unwrap();
    std::fs::create_dir(dir.0.join("reports")).unwrap();

    // `mcp-authspec` alone is `run`, with the file of the current folder.
    let run = mcp_authspec(&dir.0, &[]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(
        text(&run.stderr).contains("Options from mcp-authspec.toml"),
        "{}",
        text(&run.stderr)
    );
    let checks = checks_in(&dir.0.join("reports/run.json"));
    assert!(checks.len() > 1, "{checks:?}");
    assert!(
        checks.iter().all(|c| c.starts_with("rs.challenge.")),
        "{checks:?}"
    );

    // The command line's --check replaces the file's list, its --json the file's path.
    let run = mcp_authspec(
        &dir.0,
        &[
            "run",
            "--check",
            "rs.challenge.syntax",
            "--json",
            "cli.json",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(checks_in(&dir.0.join("cli.json")), ["rs.challenge.syntax"]);
}

#[test]
fn a_bad_file_is_one_error_naming_its_line_and_no_config_leaves_it_out() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("mcp-authspec.toml"),
        "role = \"rs\"\n# the server\ntargt = \"https://mcp.example/mcp\"\n",
    )
    .unwrap();
    let run = mcp_authspec(&dir.0, &["run"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        text(&run.stderr),
        "error: mcp-authspec.toml:3: unknown key \"targt\" (did you mean \"target\"?)\n"
    );

    let secret = dir.0.join("secret.toml");
    std::fs::write(&secret, "client-secret = \"s3cr3t-value\"\n").unwrap();
    let run = mcp_authspec(&dir.0, &["run", "--config", "secret.toml"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("secret.toml:1: client-secret: secrets are not written"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");

    let missing = mcp_authspec(&dir.0, &["run", "--config", "absent.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("error: absent.toml: "));

    let run = mcp_authspec(
        &dir.0,
        &[
            "run",
            "--no-config",
            "--check",
            "rs.challenge.syntax",
            "--json",
            "r.json",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(checks_in(&dir.0.join("r.json")), ["rs.challenge.syntax"]);
}
