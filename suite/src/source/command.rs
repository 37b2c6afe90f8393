//! `--token-command CMD`: a command the tool runs whenever it needs a fresh token (e.g.
//! `az account get-access-token --query accessToken -o tsv`). Its stdout is the token, or
//! JSON with `access_token` (and `expires_in`); its stderr goes to the tool's stderr (a login
//! prompt stays visible); a non-zero exit is an error naming the code.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::SourceError;

/// How long a token command may run (a device login in it can take a person a while).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// At most this much stdout is read: a token is a few kilobytes.
const MAX_STDOUT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct TokenCommand {
    /// Run by `sh -c`, so pipes and quoting work as typed.
    pub command: String,
}

impl TokenCommand {
    pub fn describe(&self) -> String {
        // Only the program: arguments may hold credentials, and this line reaches reports.
        let program = self.command.split_whitespace().next().unwrap_or_default();
        format!("--token-command ({program} …)")
    }

    /// Runs the command: the token and, when its JSON says, its lifetime in seconds.
    pub async fn run(&self) -> Result<(String, Option<i64>), SourceError> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SourceError(format!("{}: could not start: {e}", self.describe())))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| SourceError(format!("{}: no stdout to read", self.describe())))?;
        let read = async {
            use tokio::io::AsyncReadExt as _;
            let mut out = Vec::new();
            let mut limited = (&mut stdout).take(MAX_STDOUT as u64 + 1);
            limited.read_to_end(&mut out).await.map(|_| out)
        };
        let (out, status) = match tokio::time::timeout(COMMAND_TIMEOUT, async {
            let out = read.await;
            (out, child.wait().await)
        })
        .await
        {
            Ok(done) => done,
            Err(_) => {
                return Err(SourceError(format!(
                    "{} did not finish within {} s",
                    self.describe(),
                    COMMAND_TIMEOUT.as_secs()
                )));
            }
        };
        let status = status.map_err(|e| SourceError(format!("{}: {e}", self.describe())))?;
        if !status.success() {
            return Err(SourceError(format!(
                "{} failed ({status}); its stderr is above",
                self.describe()
            )));
        }
        let out =
            out.map_err(|e| SourceError(format!("{}: reading stdout: {e}", self.describe())))?;
        if out.len() > MAX_STDOUT {
            return Err(SourceError(format!(
                "{} printed more than {MAX_STDOUT} bytes: not a token",
                self.describe()
            )));
        }
        parse_output(&out).map_err(|why| SourceError(format!("{}: {why}", self.describe())))
    }
}

/// A token from a command's stdout: the whole trimmed text, or JSON with `access_token`
/// (`az`, `gcloud --format=json`, an OAuth token response).
pub fn parse_output(out: &[u8]) -> Result<(String, Option<i64>), String> {
    let text = std::str::from_utf8(out).map_err(|_| "its output is not UTF-8".to_owned())?;
    let text = text.trim();
    if text.is_empty() {
        return Err("it printed nothing (expected a token on stdout)".into());
    }
    if text.starts_with('{') {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| format!("its JSON output does not parse: {e}"))?;
        let token = json
            .get("access_token")
            .or_else(|| json.get("accessToken"))
            .and_then(Value::as_str)
            .ok_or("its JSON output has no access_token (or accessToken) string")?;
        let expires_in = json.get("expires_in").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        return Ok((token.to_owned(), expires_in));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(
            "its output has several words: print only the token, or JSON with access_token".into(),
        );
    }
    Ok((text.to_owned(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_forms() {
        assert_eq!(
            parse_output(b"abc.def.ghi\n").unwrap(),
            ("abc.def.ghi".into(), None)
        );
        assert_eq!(
            parse_output(br#"{"access_token":"t","expires_in":3599}"#).unwrap(),
            ("t".into(), Some(3599))
        );
        assert_eq!(
            parse_output(br#"{"accessToken":"t","expires_in":"60"}"#).unwrap(),
            ("t".into(), Some(60))
        );
        assert!(parse_output(b"").unwrap_err().contains("nothing"));
        assert!(
            parse_output(b"Bearer abc")
                .unwrap_err()
                .contains("several words")
        );
        assert!(
            parse_output(b"{\"x\":1}")
                .unwrap_err()
                .contains("access_token")
        );
        assert!(parse_output(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[tokio::test]
    async fn runs_reports_exit_codes_and_timeouts_are_bounded() {
        let ok = TokenCommand {
            command: "printf '%s' tok123".into(),
        };
        assert_eq!(ok.run().await.unwrap().0, "tok123");
        let failing = TokenCommand {
            command: "echo oops >&2; exit 3".into(),
        };
        let err = failing.run().await.unwrap_err();
        assert!(err.0.contains("exit status: 3"), "{err}");
    }
}
