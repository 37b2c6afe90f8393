//! The requirement catalogue in `docs/` is what `mcp-authspec docs` generates from the checks'
//! metadata: a check added, renamed or re-levelled without regenerating it fails here, with the
//! command that regenerates it. The hand-written files of `docs/` (levels, adding a check,
//! architecture) are not generated and not compared.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

#[test]
fn the_checked_in_catalogue_is_what_the_checks_metadata_gives() {
    let docs = repo().join("docs");
    let differences = suite::docs::differences(&docs);
    assert!(
        differences.is_empty(),
        "docs/ is out of date with the checks' metadata:\n  {}\nRegenerate it from the \
         repository's root with:\n  {}",
        differences.join("\n  "),
        suite::docs::REGENERATE
    );
}

#[test]
fn the_docs_command_writes_exactly_the_checked_in_files() {
    let dir = std::env::temp_dir().join(format!("docs-{}", mock_idp::random_b64url(8)));
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(["docs", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let docs = repo().join("docs");
    let mut compared = 0;
    for (name, _) in suite::docs::generate() {
        let written = std::fs::read_to_string(dir.join(&name)).unwrap();
        let checked_in = std::fs::read_to_string(docs.join(&name)).unwrap_or_default();
        assert!(
            written == checked_in,
            "docs/{name} is not what `mcp-authspec docs` writes; regenerate with: {}",
            suite::docs::REGENERATE
        );
        compared += 1;
    }
    assert_eq!(compared, suite::catalog::metas().len() + 1);
    // `--check` agrees, and says what to run when it does not.
    let check = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
            .args(["docs", "--check", "--out"])
            .arg(dir)
            .output()
            .unwrap()
    };
    assert_eq!(check(&dir).status.code(), Some(0));
    std::fs::write(dir.join("catalogue.md"), "# stale\n").unwrap();
    let stale = check(&dir);
    assert_eq!(stale.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&stale.stdout);
    assert!(
        stdout.contains("catalogue.md differs") && stdout.contains(suite::docs::REGENERATE),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_points_at_the_catalogue_inside_the_repository() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("docs/catalogue.md"),
        "README links the catalogue"
    );
    assert!(
        !readme.contains("../"),
        "README points outside the repository"
    );
    for hand_written in ["adding-a-check.md", "architecture.md"] {
        assert!(
            repo().join("docs").join(hand_written).is_file(),
            "docs/{hand_written}"
        );
    }
}
