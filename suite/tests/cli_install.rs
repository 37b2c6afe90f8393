//! What an installed binary offers besides checks: `--version` with the commit it was built
//! from, shell completions and man pages generated from the one clap definition.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Runs `program args` with `input` on stdin; None when the program is not installed.
fn pipe(program: &str, args: &[&str], input: &str) -> Option<Output> {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

#[test]
fn version_names_the_crate_version_and_the_commit() {
    let out = stdout(&run(&["--version"]));
    assert!(
        out.starts_with(&format!(
            "mcp-authspec {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    // Built from a checkout: the commit is HEAD's (the build script reruns when HEAD moves).
    if let Ok(head) = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        && head.status.success()
    {
        let head = String::from_utf8(head.stdout).unwrap();
        assert!(out.contains(&format!("(commit {})", head.trim())), "{out}");
    }
}

#[test]
fn bash_completion_is_valid_bash_and_completes_subcommands_and_flags() {
    let script = stdout(&run(&["completions", "bash"]));
    for word in [
        "run",
        "explain",
        "completions",
        "--target",
        "--json",
        "--demo-fault",
    ] {
        assert!(script.contains(word), "no {word} in the bash completion");
    }
    let checked = pipe("bash", &["-n"], &script).expect("bash is installed");
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn every_shell_clap_supports_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&run(&["completions", shell]));
        assert!(script.contains("mcp-authspec"), "{shell}: {script}");
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_renders_without_warnings() {
    let page = stdout(&run(&["man"]));
    assert!(page.contains(".TH mcp-authspec 1"), "{page}");
    assert!(page.contains("completions"), "the page lists every command");
    // groff in warning mode (UTF-8 input through preconv, as man does): a roff mistake, such as
    // an unknown request or a bad escape, is a warning.
    match pipe("groff", &["-k", "-man", "-ww", "-z"], &page) {
        Some(o) => assert!(
            o.status.success() && o.stderr.is_empty(),
            "groff: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        None => eprintln!("groff not installed: the man page's roff is not checked"),
    }
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = std::env::temp_dir().join(format!("man-{}", mock_idp::random_b64url(6)));
    stdout(&run(&["man", "--out", dir.to_str().unwrap()]));
    for page in [
        "mcp-authspec.1",
        "mcp-authspec-run.1",
        "mcp-authspec-idp-serve.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
