//! The compatibility bed: the whole catalogue against every third-party stack of `compat/`,
//! compared with its `expected.toml` (one trial per stack).
//!
//! Each trial starts the mock IdP in-process and an upstream recorder, spawns the stack with
//! `PORT`, `ISSUER`, `JWKS_URI`, `RESOURCE` and `UPSTREAM_URL` pointing at them, waits for its
//! ready line and its PRM, builds the context as `mcp-authspec run --target` does (plus the
//! stack's `canary` tool, counted by the upstream recorder), runs every check, writes the JSON
//! report to `target/compat/<stack>.json` (and the table of all of them to
//! `target/compat/summary.md`), and fails on any verdict that differs from
//! `expected.toml` or any entry there without a justification.
//!
//! `COMPAT_BLESS=1` rewrites `expected.toml` from the run (keeping each `why` whose verdict
//! stayed). A stack whose runtime is not installed (no node_modules, no venv) is skipped with a
//! note, except under `CI`, where that fails. Trials run one at a time unless
//! `--test-threads` says otherwise: a run's timing checks should not compete for the CPU.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use compat::{Expected, Stack};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use mock_idp::server::{IdpConfig, IssuerKind, MockIdp};
use reports::event::{Report, RunEnd, RunInfo};
use reports::model::Profile;
use reports::model::Verdict;
use reports::record::CheckRecord;
use suite::engine::context::Canary;
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{self, TokenDefaults, UpstreamRecorder};
use suite::http::Limits;

/// One finished stack, for the summary printed after all trials.
struct Ran {
    stack: String,
    counts: String,
    tally: [usize; Verdict::ALL.len()],
    started_in: Duration,
    checks_in: Duration,
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stacks = Stack::discover(root).expect("compat/*/stack.toml parse");
    assert!(stacks.len() >= 5, "the bed has at least five stacks");
    let ran = Arc::new(Mutex::new(Vec::new()));
    let trials = stacks
        .into_iter()
        .map(|stack| {
            let ran = ran.clone();
            Trial::ignorable_test(stack.name.clone(), move || bed(&stack, &ran))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let mut ran = ran.lock().unwrap();
    ran.sort_by(|a, b| a.stack.cmp(&b.stack));
    if !ran.is_empty() {
        let path = target_dir().join("compat").join("summary.md");
        match std::fs::write(&path, summary(&ran)) {
            Ok(()) => println!("\nverdict table (compat/README.md): {}", path.display()),
            Err(e) => println!("\n{}: {e}", path.display()),
        }
        println!("\nstack                          start    checks   verdicts");
        for r in ran.iter() {
            println!(
                "{:<30} {:>5.1} s  {:>5.1} s   {}",
                r.stack,
                r.started_in.as_secs_f64(),
                r.checks_in.as_secs_f64(),
                r.counts
            );
        }
    }
    conclusion.exit();
}

/// The README's table of verdicts per stack, as Markdown.
fn summary(ran: &[Ran]) -> String {
    let mut text = String::from("| stack |");
    for v in Verdict::ALL {
        text.push_str(&format!(" {} |", v.as_str().replace('_', " ")));
    }
    text.push_str(" time |\n|---|");
    text.push_str(&"---|".repeat(Verdict::ALL.len() + 1));
    for r in ran {
        text.push_str(&format!("\n| `{}` |", r.stack));
        for n in r.tally {
            text.push_str(&format!(" {n} |"));
        }
        text.push_str(&format!(
            " {:.1} s ({:.1} s) |",
            r.checks_in.as_secs_f64(),
            r.started_in.as_secs_f64()
        ));
    }
    text.push('\n');
    text
}

fn bed(stack: &Stack, ran: &Mutex<Vec<Ran>>) -> Result<Completion, Failed> {
    if !stack.is_installed() {
        let note = format!(
            "{} is not installed ({} missing): run `{}` in compat/{}",
            stack.name,
            stack.installed.as_deref().unwrap_or_default(),
            stack.install,
            stack.name
        );
        if std::env::var_os("CI").is_some() {
            return Err(format!("under CI every stack must run: {note}").into());
        }
        println!("note: skipped: {note}");
        return Ok(Completion::ignored_with(note));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (records, report, started_in, checks_in) = runtime.block_on(run(stack))?;
    let dir = target_dir().join("compat");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = dir.join(format!("{}.json", stack.name));
    std::fs::write(&json, reports::json::render_text(&report))
        .map_err(|e| format!("{}: {e}", json.display()))?;
    let counts = compat::counts(&records);
    println!(
        "{}: {counts}; started in {:.1} s, checks ran in {:.1} s; report {}",
        stack.name,
        started_in.as_secs_f64(),
        checks_in.as_secs_f64(),
        json.display()
    );
    ran.lock().unwrap().push(Ran {
        stack: stack.name.clone(),
        counts,
        tally: compat::tally(&records),
        started_in,
        checks_in,
    });

    let path = stack.expected_path();
    let mut expected = Expected::load(&path)?;
    if std::env::var_os("COMPAT_BLESS").is_some() {
        std::fs::write(&path, expected.bless(&stack.name, &records))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        expected = Expected::load(&path)?;
        println!("{}: blessed {}", stack.name, path.display());
    }
    let differences = expected.compare(&records);
    if differences.is_empty() {
        return Ok(Completion::Completed);
    }
    Err(format!(
        "{} differs from {} in {} check(s) (COMPAT_BLESS=1 rewrites it; then justify every entry):\n{}",
        stack.name,
        path.display(),
        differences.len(),
        compat::table(&differences)
    )
    .into())
}

/// `target/` of this build: the test binary is `target/<profile>/deps/bed-…`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

type Run = (Vec<CheckRecord>, Report, Duration, Duration);

async fn run(stack: &Stack) -> Result<Run, String> {
    let idp = Arc::new(
        MockIdp::start(IdpConfig::default())
            .await
            .map_err(|e| format!("mock IdP: {e}"))?,
    );
    let upstream = UpstreamRecorder::start()
        .await
        .map_err(|e| format!("upstream recorder: {e}"))?;
    let trusted = idp.urls(IssuerKind::Trusted);
    let port = free_port()?;
    let endpoint = format!("http://127.0.0.1:{port}/mcp");
    let started = Instant::now();
    let process = Process::spawn(
        stack,
        &[
            ("PORT", port.to_string()),
            ("ISSUER", trusted.issuer.clone()),
            ("JWKS_URI", trusted.jwks_uri.clone()),
            ("RESOURCE", endpoint.clone()),
            ("UPSTREAM_URL", upstream.url().to_owned()),
        ],
    )?;
    process.wait_ready(Duration::from_secs(stack.start_timeout))?;
    wait_for_prm(port).await.map_err(|e| process.failure(&e))?;
    let started_in = started.elapsed();

    let log = upstream.log();
    let count = log.clone();
    let canary = Canary {
        tool: "canary".to_owned(),
        count: Arc::new(move || count.len() as u64),
        upstream: Some(log),
    };
    let began = Instant::now();
    let mut ctx = session::context(
        &endpoint,
        Some(idp.clone()),
        &TokenDefaults::default(),
        None,
        Some(canary),
        Limits::default(),
    )
    .await?;
    // The profiles the stack claims, as an operator declares them with --profile.
    let claimed: Vec<Profile> = stack
        .profiles
        .iter()
        .map(|p| Profile::parse(p).ok_or_else(|| format!("{}: unknown profile {p:?}", stack.name)))
        .collect::<Result<_, _>>()?;
    ctx.declare_profiles(&claimed);
    let mut records = Vec::new();
    session::run_checks(
        &ctx,
        &Selection::default(),
        RunOptions::default(),
        |meta, outcome| {
            records.push(suite::output::record(meta, outcome));
        },
    )
    .await;
    let checks_in = began.elapsed();
    if process.exited() {
        return Err(process.failure("the stack exited during the run"));
    }
    let report = Report {
        info: RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            spec_version: ctx.spec_version.as_str().to_owned(),
            profiles: ctx.profiles.clone(),
            calibration: ctx.calibration.describe(),
            token_source: ctx.token_source(),
            target: endpoint,
            profile: describe(stack),
            selected: records.len(),
            started_unix: mock_idp::unix_now(),
        },
        end: Some(RunEnd {
            exit_code: reports::record::exit_code(&records, false, session::reachable(&ctx), 0),
            reason: format!("compatibility bed run of {}", stack.name),
            duration_ms: u64::try_from(checks_in.as_millis()).unwrap_or(u64::MAX),
        }),
        checks: records.clone(),
    };
    Ok((records, report, started_in, checks_in))
}

/// The report's `profile`: library, versions, and what the stack requires and claims.
fn describe(stack: &Stack) -> String {
    let mut text = format!(
        "compat bed: {} {} ({}) on {}",
        stack.library, stack.version, stack.ecosystem, stack.runs_on
    );
    if let Some(scope) = &stack.scope {
        text.push_str(&format!("; requires scope {scope} on every request"));
    }
    if !stack.profiles.is_empty() {
        text.push_str(&format!("; claims {}", stack.profiles.join(", ")));
    }
    text
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// The stack answers once its PRM does (the ready line may come just before it listens).
async fn wait_for_prm(port: u16) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if Instant::now() > deadline => {
                return Err(format!("GET {url}: HTTP {}", r.status()));
            }
            Err(e) if Instant::now() > deadline => return Err(format!("GET {url}: {e}")),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The stack's process (in a process group of its own, so `cargo run` and its child go
/// together), killed on drop; its output lines are kept for the failure message.
struct Process {
    child: Mutex<Child>,
    lines: mpsc::Receiver<String>,
    output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn spawn(stack: &Stack, env: &[(&str, String)]) -> Result<Self, String> {
        use std::os::unix::process::CommandExt as _;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let argv: Vec<String> = stack
            .start
            .iter()
            .map(|a| a.replace("{cargo}", &cargo))
            .collect();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&stack.dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: cannot start {:?}: {e}", stack.name, argv))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        // Both pipes are drained for the whole run, so the stack never blocks on a full pipe.
        drain(stdout, output.clone(), Some(tx));
        drain(stderr, output.clone(), None);
        Ok(Self {
            child: Mutex::new(child),
            lines,
            output,
        })
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("ready ") => return Ok(()),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(self.failure(&format!("no ready line within {timeout:?}")));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(self.failure("the stack exited before its ready line"));
                }
            }
        }
    }

    fn exited(&self) -> bool {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .is_ok_and(|s| s.is_some())
    }

    /// `why`, then the last lines the stack printed.
    fn failure(&self, why: &str) -> String {
        let output = self.output.lock().unwrap();
        let tail = output[output.len().saturating_sub(30)..].join("\n");
        format!("{why}; the stack's last output:\n{tail}")
    }
}

fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<Vec<String>>>,
    ready: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(tx) = &ready {
                let _ = tx.send(line.clone());
            }
            let mut kept = output.lock().unwrap();
            if kept.len() < 10_000 {
                kept.push(line);
            }
        }
    });
}

impl Drop for Process {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        // The whole group: `kill -KILL -- -<pgid>` (the group id is the child's pid).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}
