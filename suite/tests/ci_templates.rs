//! The CI integrations as their runners would run them, without a runner: the GitHub Action's
//! composite steps (action.yml) and the GitLab template's job (ci/gitlab/mcp-authspec.yml) run
//! as plain shell with the variables GitHub and GitLab set. A cache hit is played by putting
//! the binary under test where the cache would restore it; steps that are other actions
//! (cache, artifact and SARIF upload) are not run, but what they would be given is checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(relative)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{label}-{}", mock_idp::random_b64url(6)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Puts the binary under test at `root/bin/mcp-authspec`, as a cache restore would.
fn restore_binary(root: &Path) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_mcp-authspec"),
        root.join("bin/mcp-authspec"),
    )
    .unwrap();
}

/// A folder holding a `cargo` that fails, first on PATH: proves a step did not reinstall.
fn failing_cargo(dir: &Path) -> String {
    let stub = dir.join("stub-bin");
    std::fs::create_dir_all(&stub).unwrap();
    let cargo = stub.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho 'cargo ran: the cached binary was not used' >&2\nexit 97\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", stub.display(), std::env::var("PATH").unwrap())
}

/// Runs `script` as GitHub and GitLab run a bash step: `bash --noprofile --norc -eo pipefail`.
fn bash(script: &str, cwd: &Path, env: &BTreeMap<String, String>) -> (i32, String) {
    let file = cwd.join(format!(".step-{}.sh", mock_idp::random_b64url(6)));
    std::fs::write(&file, script).unwrap();
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .current_dir(cwd)
        .envs(env)
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), log)
}

// ---- GitHub: a composite action's steps ----

/// The contexts a composite action's expressions read.
struct Contexts {
    github: BTreeMap<&'static str, &'static str>,
    inputs: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Contexts {
    /// `github.NAME`, `inputs.NAME` or `steps.ID.outputs.NAME`: the only contexts action.yml
    /// may use.
    fn lookup(&self, path: &str) -> String {
        let parts: Vec<&str> = path.trim().split('.').collect();
        match parts.as_slice() {
            ["github", name] => self
                .github
                .get(*name)
                .unwrap_or_else(|| panic!("the test sets no github.{name}"))
                .to_string(),
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("action.yml reads an undeclared input {name:?}"))
                .clone(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .and_then(|outputs| outputs.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!("the test's evaluator does not know the expression {path:?}"),
        }
    }

    /// Replaces every `${{ expr }}` in `text`.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("unclosed ${{") + start;
            out.push_str(&self.lookup(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// A step's `if:`, and whether it runs after a failed step (`!cancelled()` or `always()`).
    /// Terms joined by `&&`: status functions, `X == 'v'` and `X != 'v'`.
    fn condition(&self, expression: &str) -> (bool, bool) {
        let inner = expression
            .trim()
            .trim_start_matches("${{")
            .trim_end_matches("}}");
        let mut holds = true;
        let mut after_failure = false;
        for term in inner.split("&&").map(str::trim) {
            match term {
                "!cancelled()" | "always()" => after_failure = true,
                _ => {
                    let (path, equal, literal) = if let Some((l, r)) = term.split_once("!=") {
                        (l, false, r)
                    } else if let Some((l, r)) = term.split_once("==") {
                        (l, true, r)
                    } else {
                        panic!("the test's evaluator does not know the condition {term:?}")
                    };
                    let literal = literal.trim().trim_matches('\'');
                    holds &= (self.lookup(path) == literal) == equal;
                }
            }
        }
        (holds, after_failure)
    }
}

/// What became of one step.
#[derive(Debug)]
enum StepRun {
    Skipped,
    Shell {
        exit: i32,
        log: String,
    },
    /// Another action, with the `with:` it would get.
    Action {
        uses: String,
        with: BTreeMap<String, String>,
    },
}

/// One run of the action: each step's fate, the summary, and the action's outputs.
struct ActionRun {
    steps: Vec<(String, StepRun)>,
    summary: String,
    outputs: BTreeMap<String, String>,
    workspace: PathBuf,
}

impl ActionRun {
    fn step(&self, name_start: &str) -> &StepRun {
        &self
            .steps
            .iter()
            .find(|(name, _)| name.starts_with(name_start))
            .unwrap_or_else(|| panic!("no step {name_start:?}"))
            .1
    }

    fn log(&self) -> String {
        format!("{:#?}", self.steps)
    }
}

/// Runs action.yml's steps with `given` inputs (the rest at their defaults), as a runner with
/// a warm cache would, in a workspace holding `files` (name, text).
fn run_action(given: &[(&str, &str)], files: &[(&str, &str)]) -> ActionRun {
    let action = yaml("action.yml");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().unwrap() {
        let default = spec["default"].as_str().unwrap_or_default();
        inputs.insert(name.as_str().unwrap().to_owned(), default.to_owned());
    }
    for (name, value) in given {
        assert!(inputs.contains_key(*name), "action.yml has no input {name}");
        inputs.insert((*name).to_owned(), (*value).to_owned());
    }
    let mut contexts = Contexts {
        // As a workflow using `uses: example-owner/mcp-authspec@v1` on github.com sees them.
        github: BTreeMap::from([
            ("server_url", "https://github.com"),
            ("action_repository", "example-owner/mcp-authspec"),
            ("action_ref", "v1"),
        ]),
        inputs,
        steps: BTreeMap::new(),
    };

    let home = scratch("gh-action");
    let workspace = home.join("workspace");
    let runner_temp = home.join("runner-temp");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::create_dir_all(&runner_temp).unwrap();
    for (name, text) in files {
        let path = workspace.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let summary_file = home.join("step-summary.md");
    let mut base_env: BTreeMap<String, String> = [
        ("CI", "true".to_owned()),
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_ACTION_PATH", repo_root().display().to_string()),
        ("GITHUB_WORKSPACE", workspace.display().to_string()),
        ("RUNNER_OS", "Linux".to_owned()),
        ("RUNNER_TEMP", runner_temp.display().to_string()),
        ("GITHUB_STEP_SUMMARY", summary_file.display().to_string()),
        ("PATH", failing_cargo(&home)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    base_env.insert("HOME".into(), std::env::var("HOME").unwrap_or_default());

    let mut steps = Vec::new();
    let mut failed = false;
    for (index, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = step["name"].as_str().unwrap_or("unnamed").to_owned();
        let (holds, after_failure) = step["if"]
            .as_str()
            .map_or((true, false), |c| contexts.condition(c));
        if !holds || (failed && !after_failure) {
            steps.push((name, StepRun::Skipped));
            continue;
        }
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("__{index}"), str::to_owned);
        let mut outputs = BTreeMap::new();
        let run = if let Some(script) = step["run"].as_str() {
            assert_eq!(step["shell"].as_str(), Some("bash"), "{name}");
            assert!(
                !script.contains("${{"),
                "{name}: inputs reach scripts through env, never pasted into them"
            );
            let mut env = base_env.clone();
            for (key, value) in step["env"].as_mapping().into_iter().flatten() {
                env.insert(
                    key.as_str().unwrap().to_owned(),
                    contexts.substitute(value.as_str().unwrap()),
                );
            }
            let output_file = home.join(format!("output-{index}"));
            std::fs::write(&output_file, "").unwrap();
            env.insert("GITHUB_OUTPUT".into(), output_file.display().to_string());
            let (exit, log) = bash(script, &workspace, &env);
            for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                let (key, value) = line.split_once('=').expect("key=value outputs");
                outputs.insert(key.to_owned(), value.to_owned());
            }
            failed |= exit != 0;
            StepRun::Shell { exit, log }
        } else {
            let uses = step["uses"].as_str().unwrap().to_owned();
            let with: BTreeMap<String, String> = step["with"]
                .as_mapping()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let value = v
                        .as_str()
                        .map_or_else(|| format!("{v:?}"), |s| contexts.substitute(s));
                    (k.as_str().unwrap().to_owned(), value)
                })
                .collect();
            if uses.starts_with("actions/cache@") {
                restore_binary(Path::new(&with["path"]));
                outputs.insert("cache-hit".into(), "true".into());
            }
            StepRun::Action { uses, with }
        };
        contexts.steps.insert(id, outputs);
        steps.push((name, run));
    }

    let outputs = action["outputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, spec)| {
            (
                name.as_str().unwrap().to_owned(),
                contexts.substitute(spec["value"].as_str().unwrap()),
            )
        })
        .collect();
    ActionRun {
        steps,
        summary: std::fs::read_to_string(&summary_file).unwrap_or_default(),
        outputs,
        workspace,
    }
}

/// The `with:` a step that is another action would get; `action` is its `uses:` up to the `@`.
fn with_of<'a>(run: &'a ActionRun, step: &str, action: &str) -> &'a BTreeMap<String, String> {
    match run.step(step) {
        StepRun::Action { uses, with } if uses.split('@').next() == Some(action) => with,
        other => panic!("{step}: not {action}: {other:?}"),
    }
}

#[test]
fn the_action_on_a_failing_demo_fails_with_its_summary_reports_and_sarif() {
    let run = run_action(
        &[
            ("args", "--demo-fault accept-alg-none"),
            ("upload-sarif", "true"),
        ],
        &[],
    );
    let log = run.log();
    assert!(
        matches!(run.step("Install"), StepRun::Skipped),
        "a cache hit installs nothing: {log}"
    );
    match run.step("Run mcp-authspec") {
        StepRun::Shell { exit, .. } => assert_eq!(*exit, 1, "failures exit 1: {log}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.outputs["exit-code"], "1");
    assert!(
        run.summary.contains("rs.token.alg-none"),
        "the step summary names the failed check: {}",
        run.summary
    );

    // The artifact step gets the reports folder (relative to the workspace, as GitHub reads
    // it), and every report is in it.
    let reports = run
        .workspace
        .join(&with_of(&run, "Upload the reports", "actions/upload-artifact")["path"]);
    for file in [
        "report.json",
        "junit.xml",
        "summary.md",
        "report.html",
        "report.sarif",
    ] {
        assert!(
            reports.join(file).is_file(),
            "{file} not in {reports:?}: {log}"
        );
    }
    assert_eq!(
        with_of(&run, "Upload the reports", "actions/upload-artifact")["name"],
        "mcp-authspec-reports"
    );
    // The SARIF step runs after the failure, on the report the run wrote.
    let sarif = &with_of(&run, "Upload SARIF", "github/codeql-action/upload-sarif")["sarif_file"];
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.workspace.join(sarif)).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Check pages are linked in the action's repository at the ref the workflow uses.
    let help = sarif["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"]
        .as_str()
        .unwrap();
    assert!(
        help.starts_with("https://github.com/example-owner/mcp-authspec/blob/v1/docs/checks/"),
        "{help}"
    );
}

#[test]
fn the_action_on_the_compliant_demo_with_a_config_file_passes_and_uploads_no_sarif_unless_asked() {
    let config = "check = [\"rs.challenge.*\", \"rs.prm.*\"]\nconcurrency = 4\n";
    let run = run_action(
        &[
            ("profiles", "rfc9068"),
            ("strict", "true"),
            ("config", "ci/authspec.toml"),
        ],
        &[("ci/authspec.toml", config)],
    );
    let log = run.log();
    match run.step("Run mcp-authspec") {
        StepRun::Shell { exit, .. } => assert_eq!(*exit, 0, "{log}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.outputs["exit-code"], "0");
    assert!(run.summary.contains("Exit code 0"), "{}", run.summary);
    // The config file's selection is in force: only its checks ran.
    let reports = run.workspace.join(&run.outputs["reports"]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter()
            .all(|id| id.starts_with("rs.challenge.") || id.starts_with("rs.prm.")),
        "{ids:?}"
    );
    assert!(
        matches!(run.step("Upload SARIF"), StepRun::Skipped),
        "{log}"
    );
    assert!(matches!(
        run.step("Upload the reports"),
        StepRun::Action { .. }
    ));
}

#[test]
fn the_action_on_a_usage_error_exits_2_and_says_so_in_the_summary() {
    let run = run_action(&[("role", "nobody")], &[]);
    match run.step("Run mcp-authspec") {
        StepRun::Shell { exit, log } => {
            assert_eq!(*exit, 2, "{log}");
            assert!(log.contains("nobody"), "clap names the bad value: {log}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        run.summary
            .contains("exited with 2 before writing its reports"),
        "{}",
        run.summary
    );
}

#[test]
fn every_declared_input_of_the_action_is_used() {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    let action = yaml("action.yml");
    for (name, _) in action["inputs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            text.contains(&format!("inputs.{name} }}}}"))
                || text.contains(&format!("inputs.{name} ==")),
            "input {name} is declared but no step reads it"
        );
    }
}

// ---- GitLab: the template's job ----

/// The documented job with `variables` as a user's job sets them: its script's exit, its log
/// and the project folder.
fn run_gitlab_job(variables: &[(&str, &str)], warm_cache: bool) -> (i32, String, PathBuf) {
    let template = yaml("ci/gitlab/mcp-authspec.yml");
    let job = &template["mcp-authspec"];
    let hidden = job["extends"]
        .as_str()
        .expect("the job extends the template");
    let base = &template[hidden];

    let project = scratch("gitlab-job");
    let mut env: BTreeMap<String, String> = [
        ("CI", "true".to_owned()),
        ("GITLAB_CI", "true".to_owned()),
        ("CI_PROJECT_DIR", project.display().to_string()),
        ("HOME", std::env::var("HOME").unwrap_or_default()),
        ("PATH", failing_cargo(&project)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut declared: Vec<(String, String)> = base["variables"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, value) in variables {
        assert!(
            declared.iter().any(|(k, _)| k == name),
            "the template documents no variable {name}"
        );
        declared.retain(|(k, _)| k != name);
        declared.push(((*name).to_owned(), (*value).to_owned()));
    }
    // GitLab expands $NAME in variable values from the variables before them; the longest
    // names first, so $CI does not eat the start of $CI_PROJECT_DIR.
    for (name, value) in declared {
        let mut known: Vec<(&String, &String)> = env.iter().collect();
        known.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let mut expanded = value;
        for (k, v) in known {
            expanded = expanded.replace(&format!("${k}"), v);
        }
        env.insert(name, expanded);
    }

    if warm_cache {
        let cached = base["cache"]["paths"][0].as_str().unwrap();
        let root = Path::new(&env["MCP_AUTHSPEC_ROOT"]);
        assert_eq!(
            root,
            project.join(cached.trim_end_matches('/')),
            "the cache keeps the binary"
        );
        restore_binary(root);
    }
    let script: Vec<&str> = base["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    let (exit, log) = bash(&script.join("\n"), &project, &env);
    (exit, log, project)
}

#[test]
fn the_gitlab_job_publishes_junit_and_html_even_when_checks_fail() {
    let root = repo_root().display().to_string();
    let (exit, log, project) = run_gitlab_job(
        &[
            ("MCP_AUTHSPEC_PATH", &root),
            ("MCP_AUTHSPEC_ARGS", "--demo-fault accept-alg-none"),
        ],
        true,
    );
    assert_eq!(exit, 1, "failures fail the job: {log}");
    assert!(
        !log.contains("cargo ran"),
        "the cached binary of this commit is used: {log}"
    );
    let template = yaml("ci/gitlab/mcp-authspec.yml");
    let artifacts = &template[".mcp-authspec"]["artifacts"];
    assert_eq!(
        artifacts["when"].as_str(),
        Some("always"),
        "reports of a failing run too"
    );
    let junit = artifacts["reports"]["junit"].as_str().unwrap();
    let junit = std::fs::read_to_string(project.join(junit)).unwrap();
    assert!(junit.contains("<testsuites") && junit.contains("rs.token.alg-none"));
    for path in artifacts["paths"].as_sequence().unwrap() {
        let path = project.join(path.as_str().unwrap());
        assert!(path.exists(), "artifact path {path:?} missing: {log}");
    }
    assert!(project.join("mcp-authspec-reports/report.html").is_file());
    assert!(
        artifacts["expose_as"].as_str().is_some(),
        "the HTML report is linked in the MR"
    );
}

#[test]
fn the_gitlab_job_passes_on_the_compliant_demo() {
    let root = repo_root().display().to_string();
    let (exit, log, _) = run_gitlab_job(&[("MCP_AUTHSPEC_PATH", &root)], true);
    assert_eq!(exit, 0, "{log}");
}

#[test]
fn the_gitlab_job_without_a_source_says_where_to_set_it() {
    let (exit, log, _) = run_gitlab_job(&[], false);
    assert_eq!(exit, 2, "{log}");
    assert!(log.contains("Set MCP_AUTHSPEC_GIT"), "{log}");
}

#[test]
fn the_gitlab_job_reinstalls_a_cached_binary_of_another_commit() {
    // A vendored source at a commit the cached binary was not built from.
    let source = scratch("vendored");
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(&source)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "another commit"]);
    let (exit, log, _) = run_gitlab_job(&[("MCP_AUTHSPEC_PATH", source.to_str().unwrap())], true);
    assert_eq!(exit, 97, "the stub cargo was called to reinstall: {log}");
    assert!(log.contains("cargo ran"), "{log}");
}
