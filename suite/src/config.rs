//! The config file (issue 15): every `run` option in TOML, keyed by its long flag name.
//!
//! There is no second description of the options to keep in step with the command line: the
//! keys, their kinds (flag, one value, repeatable) and their value parsers are read from
//! `RunArgs`'s own clap definition, the file becomes command-line tokens, and clap parses the
//! file's tokens together with the real command line. An option the command line gives
//! replaces the file's (a repeatable one's whole list), and so does any option it conflicts
//! with; the rest of the file stays in force.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::{ArgMatches, ValueSource};
use clap::{Arg, ArgAction, Args as _, CommandFactory as _};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The file a run reads when `--config` names none, from the current folder, if it exists.
pub const DEFAULT_FILE: &str = "mcp-authspec.toml";

/// What `mcp-authspec init` writes.
pub const EXAMPLE: &str = include_str!("config_example.toml");

/// The ids of [`ConfigArgs`]: options about the file, which the file cannot set.
const CONFIG_IDS: [&str; 2] = ["config", "no_config"];

/// `--config` and `--no-config`, on `run` and `baseline write`, and before any command (for
/// `mcp-authspec` alone, which is `run`).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Read run options from this TOML file: each key a long option name (`target = "URL"`,
    /// `check = ["rs.token.*"]`, `strict = true`); options on the command line replace the
    /// file's. Default: ./mcp-authspec.toml when it exists (`mcp-authspec init` writes one).
    #[arg(long, value_name = "PATH", help_heading = "Config file")]
    pub config: Option<PathBuf>,
    /// Do not read ./mcp-authspec.toml.
    #[arg(long, conflicts_with = "config", help_heading = "Config file")]
    pub no_config: bool,
}

/// `mcp-authspec init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to write the example.
    #[arg(default_value = DEFAULT_FILE)]
    pub path: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// A config file that cannot be used, with the line at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// One option of a config file, as the command-line tokens it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOption {
    /// The key as written (the long option name).
    pub key: String,
    /// The clap id of the option.
    pub id: String,
    pub line: usize,
    pub tokens: Vec<OsString>,
}

/// The options of a config file, each checked against `run`'s definition.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub options: Vec<FileOption>,
}

/// The `run` options as clap defines them (`baseline write` flattens the same `RunArgs`).
fn run_options() -> clap::Command {
    crate::cli::RunArgs::augment_args(clap::Command::new("run"))
}

impl ConfigFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: None,
            message: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the content of `path`: relative paths in it are relative to the file's
    /// folder (as from anywhere `--config` names it, the file means the same files).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let error = |line: Option<usize>, message: String| ConfigError {
            file: path.to_owned(),
            line,
            message,
        };
        let table = DeTable::parse(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            error(line, format!("not TOML: {}", e.message().trim_end()))
        })?;
        let command = run_options();
        let base = path.parent().unwrap_or(Path::new(""));
        let mut entries: Vec<_> = table.get_ref().iter().collect();
        // The first mistake in the file is the one reported.
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut options = Vec::new();
        for (key, value) in entries {
            let line = line_of(text, key.span().start);
            let option = file_option(&command, key.get_ref(), value, base)
                .map_err(|message| error(Some(line), message))?;
            if let Some((id, tokens)) = option {
                options.push(FileOption {
                    key: key.get_ref().to_string(),
                    id,
                    line,
                    tokens,
                });
            }
        }
        Ok(Self {
            path: path.to_owned(),
            options,
        })
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The clap id and tokens of `key = value`, `None` for a flag set to false; the message says
/// what is wrong with it.
fn file_option(
    command: &clap::Command,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    base: &Path,
) -> Result<Option<(String, Vec<OsString>)>, String> {
    if let Some(references) = secret_references(command, key) {
        return Err(format!(
            "{key}: secrets are not written in a config file; name where the secret is \
             instead: {}",
            references.join(" or ")
        ));
    }
    let Some(arg) = command
        .get_arguments()
        .find(|a| a.get_long() == Some(key) && !CONFIG_IDS.contains(&a.get_id().as_str()))
    else {
        return Err(unknown_key(command, key));
    };
    let long = format!("--{key}");
    let value = value.get_ref();
    let texts = match arg.get_action() {
        ArgAction::SetTrue => match value {
            DeValue::Boolean(true) => {
                return Ok(Some((arg.get_id().to_string(), vec![long.into()])));
            }
            DeValue::Boolean(false) => return Ok(None),
            other => return Err(wrong_type(key, "true or false", other)),
        },
        ArgAction::Append => match value {
            DeValue::Array(items) => items
                .iter()
                .map(|item| {
                    scalar_text(item.get_ref()).ok_or_else(|| {
                        wrong_type(key, "a list of strings or integers", item.get_ref())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => vec![
                scalar_text(other)
                    .ok_or_else(|| wrong_type(key, "a list of strings or integers", other))?,
            ],
        },
        ArgAction::Set => {
            // `out = true` is `--out` alone: the option's value is optional.
            let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            match value {
                DeValue::Boolean(true) if optional => {
                    return Ok(Some((arg.get_id().to_string(), vec![long.into()])));
                }
                DeValue::Boolean(false) if optional => return Ok(None),
                other => vec![
                    scalar_text(other)
                        .ok_or_else(|| wrong_type(key, "a string or an integer", other))?,
                ],
            }
        }
        _ => return Err(format!("{key} cannot be set in a config file")),
    };
    if key.ends_with("-env") && !texts.iter().all(|t| is_env_name(t)) {
        return Err(format!(
            "{key} names an environment variable (letters, digits and _, not starting with a \
             digit), not the value it holds"
        ));
    }
    let is_path = arg.get_value_parser().type_id() == std::any::TypeId::of::<PathBuf>();
    let tokens: Vec<OsString> = texts
        .into_iter()
        .map(|text| {
            let text = if is_path && !base.as_os_str().is_empty() && Path::new(&text).is_relative()
            {
                base.join(&text).into_os_string()
            } else {
                OsString::from(text)
            };
            let mut token = OsString::from(format!("{long}="));
            token.push(text);
            token
        })
        .collect();
    check_values(arg, &tokens).map_err(|why| format!("{key}: {why}"))?;
    Ok(Some((arg.get_id().to_string(), tokens)))
}

/// A string or an integer as the option's text (numbers may be written bare: `concurrency = 4`).
fn scalar_text(value: &DeValue<'_>) -> Option<String> {
    match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n.to_string()),
        _ => None,
    }
}

fn wrong_type(key: &str, expected: &str, found: &DeValue<'_>) -> String {
    let found = match found.type_str() {
        kind @ ("integer" | "array") => format!("an {kind}"),
        kind => format!("a {kind}"),
    };
    format!("{key} takes {expected}, not {found}")
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// For a key that would hold a secret itself, the keys that name where it is instead: an
/// option with an `-env` or `-file` twin carries the secret on the command line (`token`), and
/// names like `client-secret` or `password` are what someone writing one in a file would try.
fn secret_references(command: &clap::Command, key: &str) -> Option<Vec<String>> {
    let longs: Vec<&str> = command.get_arguments().filter_map(Arg::get_long).collect();
    let twins: Vec<String> = ["-env", "-file"]
        .iter()
        .map(|suffix| format!("{key}{suffix}"))
        .filter(|twin| longs.contains(&twin.as_str()))
        .collect();
    if !twins.is_empty() {
        return Some(twins.iter().map(|t| format!("{t} = \"…\"")).collect());
    }
    // A misspelt reference (`client_secret_env`) is an unknown key with a suggestion.
    let names_a_reference = ["env", "file", "command"].iter().any(|s| key.ends_with(s));
    if names_a_reference || longs.contains(&key) {
        return None;
    }
    let word = ["secret", "password", "token"]
        .into_iter()
        .find(|w| key.contains(w))?;
    Some(
        longs
            .iter()
            .filter(|l| l.contains(word) && (l.ends_with("-env") || l.ends_with("-file")))
            .map(|l| format!("{l} = \"…\""))
            .collect(),
    )
}

fn unknown_key(command: &clap::Command, key: &str) -> String {
    let nearest = command
        .get_arguments()
        .filter(|a| !CONFIG_IDS.contains(&a.get_id().as_str()))
        .filter_map(Arg::get_long)
        .map(|long| (strsim::jaro(key, long), long))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match (key, nearest) {
        ("config" | "no-config", _) => format!("{key} cannot be set in a config file"),
        (_, Some((_, long))) => format!("unknown key {key:?} (did you mean {long:?}?)"),
        _ => format!(
            "unknown key {key:?}: the keys are the long options of `mcp-authspec run \
             --help`, without the dashes, at the top level (no sections)"
        ),
    }
}

/// Runs the option's own value parser over `tokens`, alone (its relations to other options
/// are checked when the whole command line is parsed).
fn check_values(arg: &Arg, tokens: &[OsString]) -> Result<(), String> {
    use clap::builder::Resettable::Reset;
    let alone = arg
        .clone()
        .required(false)
        .requires(Reset)
        .conflicts_with(Reset)
        .overrides_with(Reset)
        .group(Reset);
    clap::Command::new("config")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from(tokens)
        .map(drop)
        .map_err(|e| value_error(&e))
}

/// What is wrong with a value, in one line: the value parser's own reason, or the values
/// allowed, else clap's message without its prefix and usage hint.
fn value_error(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use std::error::Error as _;
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.as_str(),
        _ => "",
    };
    match (
        error.kind(),
        error.source(),
        error.get(ContextKind::ValidValue),
    ) {
        (ErrorKind::ValueValidation, Some(why), _) => format!("invalid value {value:?}: {why}"),
        (ErrorKind::InvalidValue, _, Some(ContextValue::Strings(allowed))) => format!(
            "invalid value {value:?} (possible values: {})",
            allowed.join(", ")
        ),
        _ => {
            let text = error.render().to_string();
            let text = text.split("\n\n").next().unwrap_or_default();
            let text = text.trim_start_matches("error:");
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    }
}

/// The command line to parse, and the config file whose options it holds.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub argv: Vec<OsString>,
    pub file: Option<ConfigFile>,
}

/// `argv` with the options of the config file in force: `--config PATH`, else
/// `./mcp-authspec.toml` when it exists (not with `--no-config`), for `run`, `baseline write`
/// and no command (then `run` is added). Options the command line gives, or conflicts with,
/// are left out of the file's. An `argv` clap will refuse anyway comes back unchanged, for
/// clap to say why.
pub fn expand(argv: Vec<OsString>) -> Result<Expanded, String> {
    let unchanged = |argv| Ok(Expanded { argv, file: None });
    let Ok(matches) = crate::cli::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&argv)
    else {
        return unchanged(argv);
    };
    let top = config_args(&matches);
    let (given, add_run) = match matches.subcommand() {
        None => (None, true),
        Some(("run", run)) => (Some(run), false),
        Some(("baseline", baseline)) => match baseline.subcommand() {
            Some(("write", run)) => (Some(run), false),
            _ => return unchanged(argv),
        },
        Some((name, _)) if top.config.is_some() => {
            return Err(format!(
                "--config applies to `run` and `baseline write`, not to `{name}`"
            ));
        }
        Some(_) => return unchanged(argv),
    };
    let run = given.map(config_args).unwrap_or_default();
    if top.no_config || run.no_config {
        return unchanged(argv);
    }
    let path = match run.config.or(top.config) {
        Some(path) => path,
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return unchanged(argv),
    };
    let file = ConfigFile::read(&path).map_err(|e| e.to_string())?;
    let command = run_options();
    let on_command_line: Vec<&Arg> = command
        .get_arguments()
        .filter(|a| {
            given.is_some_and(|m| {
                m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
            })
        })
        .collect();
    let mut tokens: Vec<OsString> = Vec::new();
    if add_run {
        tokens.push("run".into());
    }
    for option in &file.options {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == option.id.as_str())
            .expect("a file option is a run option");
        let replaced = on_command_line.iter().any(|given| {
            given.get_id() == arg.get_id()
                || command.get_arg_conflicts_with(given).contains(&arg)
                || command.get_arg_conflicts_with(arg).contains(given)
        });
        if !replaced {
            tokens.extend(option.tokens.iter().cloned());
        }
    }
    // Before a `--`, after which every token is a positional value.
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let mut argv = argv;
    argv.splice(at..at, tokens);
    Ok(Expanded {
        argv,
        file: Some(file),
    })
}

/// `--config`/`--no-config` as parsed (partly, when the rest of the command line is wrong).
fn config_args(matches: &ArgMatches) -> ConfigArgs {
    ConfigArgs {
        config: matches.get_one::<PathBuf>("config").cloned(),
        no_config: matches
            .get_one::<bool>("no_config")
            .copied()
            .unwrap_or(false),
    }
}

/// `mcp-authspec init`: writes [`EXAMPLE`], never over an existing file unless `force`.
pub fn write_example(args: &InitArgs) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let shown = args.path.display();
    let mut file = options.open(&args.path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{shown} exists (--force replaces it)")
        } else {
            format!("{shown}: {e}")
        }
    })?;
    file.write_all(EXAMPLE.as_bytes())
        .map_err(|e| format!("{shown}: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command, RunArgs};

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("mcp-authspec.toml"), text)
    }

    fn error(text: &str) -> ConfigError {
        parse(text).expect_err("the file is refused")
    }

    /// A config file in a folder of its own, removed when dropped.
    struct TempConfig(PathBuf);

    impl TempConfig {
        fn new(text: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("config-{}", mock_idp::random_b64url(8)));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("run.toml"), text).unwrap();
            Self(dir)
        }

        fn path(&self) -> String {
            self.0.join("run.toml").display().to_string()
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The `run` options `args` come to with `config`'s file in force.
    fn run_args(config: &TempConfig, args: &[&str]) -> RunArgs {
        let argv = ["mcp-authspec", "run", "--config", &config.path()]
            .iter()
            .chain(args)
            .map(OsString::from)
            .collect();
        let expanded = expand(argv).unwrap();
        match Cli::try_parse_from(expanded.argv).unwrap().command {
            Some(Command::Run(args)) => args,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn each_kind_of_option_becomes_its_command_line_tokens() {
        let file = parse(
            "target = \"https://mcp.example/mcp\"\ncheck = [\"rs.token.*\", \"rs.prm.*\"]\n\
             skip = \"rs.dpop.*\"\nstrict = true\ndpop = false\nconcurrency = 4\nout = true\n",
        )
        .unwrap();
        let tokens: Vec<(&str, usize, Vec<&str>)> = file
            .options
            .iter()
            .map(|o| {
                let tokens = o.tokens.iter().map(|t| t.to_str().unwrap()).collect();
                (o.key.as_str(), o.line, tokens)
            })
            .collect();
        assert_eq!(
            tokens,
            [
                ("target", 1, vec!["--target=https://mcp.example/mcp"]),
                ("check", 2, vec!["--check=rs.token.*", "--check=rs.prm.*"]),
                ("skip", 3, vec!["--skip=rs.dpop.*"]),
                ("strict", 4, vec!["--strict"]),
                ("concurrency", 6, vec!["--concurrency=4"]),
                ("out", 7, vec!["--out"]),
            ]
        );
    }

    #[test]
    fn an_unknown_key_names_its_line_and_the_nearest_key() {
        let e = error("role = \"rs\"\n\ntargt = \"https://mcp.example/mcp\"\n");
        assert_eq!(e.line, Some(3));
        assert_eq!(
            e.to_string(),
            "mcp-authspec.toml:3: unknown key \"targt\" (did you mean \"target\"?)"
        );
        assert!(error("demo_fault = []").message.contains("\"demo-fault\""));
        assert_eq!(
            error("client_secret_env = \"SECRET\"").message,
            "unknown key \"client_secret_env\" (did you mean \"client-secret-env\"?)"
        );
        let far = error("colour-scheme = \"dark\"").message;
        assert!(
            far.contains("long options of `mcp-authspec run --help`"),
            "{far}"
        );
    }

    #[test]
    fn sections_and_the_config_options_are_refused() {
        assert!(
            error("[reports]\nout = \"x\"")
                .message
                .contains("no sections")
        );
        assert_eq!(
            error("[target]\nurl = \"x\"").message,
            "target takes a string or an integer, not a table"
        );
        for key in ["config", "no-config"] {
            assert_eq!(
                error(&format!("{key} = true")).message,
                format!("{key} cannot be set in a config file")
            );
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_line() {
        let e = error("role = \"rs\"\nstrict = \"yes\"\n");
        assert_eq!(e.line, Some(2));
        assert_eq!(e.message, "strict takes true or false, not a string");
        assert_eq!(
            error("target = [\"a\", \"b\"]").message,
            "target takes a string or an integer, not an array"
        );
        assert_eq!(
            error("check = [1.5]").message,
            "check takes a list of strings or integers, not a float"
        );
    }

    #[test]
    fn a_value_the_option_refuses_names_its_line_and_why() {
        let e = error("\n\nspec-version = \"1999\"\n");
        assert_eq!(e.line, Some(3));
        assert_eq!(
            e.to_string(),
            "mcp-authspec.toml:3: spec-version: invalid value \"1999\": \"1999\" is not one of \
             2025-06-18, 2025-11-25, 2026-07-28"
        );
        assert_eq!(
            error("role = \"everyone\"").message,
            "role: invalid value \"everyone\" (possible values: rs, as, all)"
        );
        assert!(
            error("profile = [\"rfc9068\", \"jwt\"]")
                .message
                .starts_with("profile: invalid value \"jwt\"")
        );
        let fault = error("role = \"rs\"\ndemo-fault = [\"accept-expired\", \"nope\"]");
        assert_eq!(fault.line, Some(2));
        assert!(
            fault
                .message
                .starts_with("demo-fault: invalid value \"nope\": unknown fault profile"),
            "{fault}"
        );
        assert!(
            error("concurrency = \"many\"")
                .message
                .starts_with("concurrency: invalid value \"many\"")
        );
    }

    #[test]
    fn toml_that_does_not_parse_names_its_line() {
        let e = error("role = \"rs\"\ntarget = https://mcp.example\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("not TOML: "), "{}", e.message);
    }

    #[test]
    fn secrets_are_refused_without_repeating_them() {
        for (text, references) in [
            (
                "token = \"eyJhbGciOi.secret\"",
                "token-env = \"…\" or token-file = \"…\"",
            ),
            (
                "client-secret = \"hunter2-secret\"",
                "client-secret-env = \"…\" or client-secret-file = \"…\"",
            ),
            (
                "login-password = \"hunter2-secret\"",
                "login-password-env = \"…\"",
            ),
            (
                "password = \"hunter2-secret\"",
                "login-password-env = \"…\"",
            ),
        ] {
            let e = error(text);
            assert_eq!(e.line, Some(1));
            assert!(
                e.message
                    .contains("secrets are not written in a config file"),
                "{e}"
            );
            assert!(e.message.ends_with(references), "{e}");
            assert!(!e.to_string().contains("secret\""), "{e}");
        }
        let e = error("client-secret-env = \"hunter2 secret\"");
        assert!(e.message.contains("names an environment variable"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(parse("client-secret-env = \"MCP_SECRET\"").is_ok());
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let file = ConfigFile::parse(
            Path::new("ci/mcp-authspec.toml"),
            "json = \"out/report.json\"\nbaseline = \"/etc/known.toml\"\ntarget = \"mcp\"\n",
        )
        .unwrap();
        let tokens: Vec<_> = file.options.iter().map(|o| o.tokens.clone()).collect();
        assert_eq!(
            tokens,
            [
                vec![OsString::from("--json=ci/out/report.json")],
                vec![OsString::from("--baseline=/etc/known.toml")],
                vec![OsString::from("--target=mcp")],
            ]
        );
    }

    #[test]
    fn the_file_sets_run_options_the_command_line_does_not() {
        let config = TempConfig::new(
            "target = \"https://mcp.example/mcp\"\nspec-version = \"2025-06-18\"\n\
             profile = [\"dpop\"]\ncheck = [\"rs.token.*\", \"rs.prm.*\"]\nstrict = true\n\
             client-secret-env = \"SECRET\"\n",
        );
        let args = run_args(&config, &[]);
        assert_eq!(args.target.as_deref(), Some("https://mcp.example/mcp"));
        assert_eq!(args.spec_version.as_str(), "2025-06-18");
        assert_eq!(args.profiles, [crate::model::Profile::Dpop]);
        assert_eq!(args.checks, ["rs.token.*", "rs.prm.*"]);
        assert!(args.strict);
        assert_eq!(args.sources.client_secret_env.as_deref(), Some("SECRET"));
    }

    #[test]
    fn the_command_line_replaces_scalars_lists_and_conflicting_options() {
        let config = TempConfig::new(
            "target = \"https://mcp.example/mcp\"\ncheck = [\"rs.token.*\", \"rs.prm.*\"]\n\
             skip = [\"rs.dpop.*\"]\nclient-secret-env = \"SECRET\"\n",
        );
        let args = run_args(
            &config,
            &[
                "--target",
                "https://other.example/mcp",
                "--check",
                "rs.challenge.*",
                "--client-secret-file",
                "secret.txt",
            ],
        );
        assert_eq!(args.target.as_deref(), Some("https://other.example/mcp"));
        assert_eq!(args.checks, ["rs.challenge.*"]);
        assert_eq!(args.skips, ["rs.dpop.*"]);
        assert_eq!(args.sources.client_secret_env, None);
        assert_eq!(
            args.sources.client_secret_file,
            Some(PathBuf::from("secret.txt"))
        );
    }

    #[test]
    fn a_requirement_may_be_met_by_the_file() {
        let config = TempConfig::new("client-id = \"mcp-authspec\"\n");
        let args = run_args(&config, &["--client-credentials"]);
        assert!(args.sources.client_credentials);
        assert_eq!(args.sources.client_id.as_deref(), Some("mcp-authspec"));
    }

    #[test]
    fn no_command_and_baseline_write_read_the_file_too() {
        let config = TempConfig::new("check = [\"rs.prm.*\"]\n");
        let path = config.path();
        let bare = expand(
            ["mcp-authspec", "--config", &path]
                .map(OsString::from)
                .to_vec(),
        );
        match Cli::try_parse_from(bare.unwrap().argv).unwrap().command {
            Some(Command::Run(args)) => assert_eq!(args.checks, ["rs.prm.*"]),
            other => panic!("not run: {other:?}"),
        }
        let argv = [
            "mcp-authspec",
            "baseline",
            "write",
            "known.toml",
            "--reason",
            "r",
            "--config",
            &path,
        ];
        let expanded = expand(argv.map(OsString::from).to_vec()).unwrap();
        match Cli::try_parse_from(expanded.argv).unwrap().command {
            Some(Command::Baseline(crate::cli::BaselineCommand::Write { run, file, .. })) => {
                assert_eq!(run.checks, ["rs.prm.*"]);
                assert_eq!(file, PathBuf::from("known.toml"));
            }
            other => panic!("not baseline write: {other:?}"),
        }
    }

    #[test]
    fn no_config_and_other_commands_leave_the_command_line_alone() {
        let config = TempConfig::new("check = [\"rs.prm.*\"]\n");
        let path = config.path();
        for argv in [
            vec!["mcp-authspec", "run", "--config", &path, "--no-config"],
            vec!["mcp-authspec", "list"],
        ] {
            let argv: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
            assert_eq!(expand(argv.clone()).unwrap().argv, argv);
        }
        let other = ["mcp-authspec", "--config", &path, "list"].map(OsString::from);
        assert!(
            expand(other.to_vec())
                .unwrap_err()
                .contains("not to `list`")
        );
        let missing = [
            "mcp-authspec",
            "run",
            "--config",
            "/nonexistent/mcp-authspec.toml",
        ];
        let e = expand(missing.map(OsString::from).to_vec()).unwrap_err();
        assert!(e.starts_with("/nonexistent/mcp-authspec.toml: "), "{e}");
    }

    #[test]
    fn the_example_parses_and_so_does_every_option_it_shows_commented_out() {
        let example = parse(EXAMPLE).unwrap();
        assert!(example.options.iter().any(|o| o.key == "spec-version"));
        let commented: Vec<&str> = EXAMPLE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") && !l.contains('`'))
            .collect();
        assert!(commented.len() > 30, "{commented:?}");
        for line in commented {
            if let Err(e) = parse(line) {
                panic!("{line}: {e}");
            }
        }
    }
}
