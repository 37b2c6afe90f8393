//! A real third-party OAuth 2.0 authorization server on loopback, for tests of the tool's mode
//! that obtains real tokens from a real AS (client credentials, device code, authorization code
//! + PKCE through a login command, DPoP-bound tokens).
//!
//! The server is panva's node-oidc-provider, installed with `npm ci` from the lock file in
//! `compat/authorization-servers/oidc-provider/` and configured by its `server.mjs` (see the
//! README there). [`ThirdPartyAs::start`] spawns it on an ephemeral port, waits for its
//! `issuer <URL>` line and kills it when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// The confidential client for `client_credentials` (`client_secret_basic` or `_post`).
pub const CC_CLIENT_ID: &str = "mcp-authspec-cc";
/// Its secret unless `OIDC_CC_SECRET` is set in the server's environment.
pub const CC_CLIENT_SECRET: &str = "cc-secret";
/// The public native client: authorization code (PKCE S256 required), refresh token, device
/// code; redirect URI [`REDIRECT_PATH`] on `http://127.0.0.1` with any port.
pub const PUBLIC_CLIENT_ID: &str = "mcp-authspec-public";
/// The path of the public client's registered loopback redirect URI.
pub const REDIRECT_PATH: &str = "/callback";
/// The scopes a loopback resource server gets (besides `openid` and `offline_access`).
pub const MCP_SCOPES: [&str; 2] = ["mcp:read", "mcp:write"];
/// The password of every account on the login form (any username).
pub const LOGIN_PASSWORD: &str = "secret";
/// The account the login commands sign in as unless `MCP_AUTHSPEC_LOGIN_USERNAME` says
/// otherwise (so the `sub` of user tokens).
pub const LOGIN_USERNAME: &str = "mcp-authspec-user";
/// How long [`ThirdPartyAs::start`] waits for the `issuer` line (generous: on a loaded CI
/// machine one start took over 20 s, its key generation competing with the other tests).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOptions {
    /// The access-token signing algorithm: `RS256` or `ES256` (`--alg`).
    pub alg: String,
    /// Demand a DPoP nonce in every proof at the token endpoint (`--dpop-nonce`).
    pub dpop_nonce: bool,
    /// Issue opaque access tokens and serve RFC 7662 introspection (`--opaque`).
    pub opaque: bool,
}

impl AsOptions {
    pub fn new(alg: &str) -> Self {
        Self {
            alg: alg.to_owned(),
            dpop_nonce: false,
            opaque: false,
        }
    }
}

/// A running oidc-provider, killed when dropped.
pub struct ThirdPartyAs {
    issuer: String,
    child: Child,
    /// Held open: the server exits when its standard input closes (if this process dies).
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
}

impl ThirdPartyAs {
    /// The folder of the server: `compat/authorization-servers/oidc-provider`.
    pub fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("authorization-servers/oidc-provider")
    }

    /// Whether `npm ci` has installed it.
    pub fn is_installed() -> bool {
        Self::dir().join("node_modules/oidc-provider").is_dir()
    }

    /// Starts it with access tokens signed with `alg` (`RS256` or `ES256`).
    pub fn start(alg: &str) -> Result<Self, String> {
        Self::start_with(&AsOptions::new(alg))
    }

    pub fn start_with(options: &AsOptions) -> Result<Self, String> {
        if !matches!(options.alg.as_str(), "RS256" | "ES256") {
            return Err(format!("alg must be RS256 or ES256, not {:?}", options.alg));
        }
        let dir = Self::dir();
        if !Self::is_installed() {
            return Err(format!(
                "oidc-provider is not installed ({} has no node_modules/oidc-provider): run npm ci in compat/authorization-servers/oidc-provider",
                dir.display()
            ));
        }
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .args(["--port", "0", "--alg", &options.alg])
            .current_dir(&dir)
            // The test CA the tool's client ID metadata documents are served under.
            .env(
                "NODE_EXTRA_CA_CERTS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tls/ca.pem"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if options.dpop_nonce {
            command.arg("--dpop-nonce");
        }
        if options.opaque {
            command.arg("--opaque");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run node server.mjs in {}: {e}", dir.display()))?;

        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let mut pipe = child.stderr.take().expect("piped");
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        // The first stdout line is the issuer; the rest is drained so the server never blocks.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });

        let first = rx.recv_timeout(START_TIMEOUT);
        let stdin = child.stdin.take();
        let mut server = ThirdPartyAs {
            issuer: String::new(),
            child,
            stdin,
            stderr,
        };
        match first {
            Ok(line) => match line.strip_prefix("issuer ") {
                Some(issuer) => {
                    server.issuer = issuer.trim().to_owned();
                    Ok(server)
                }
                None => Err(server.fail(
                    stderr_reader,
                    &format!("first line is not `issuer <URL>`: {line:?}"),
                )),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => Err(server.fail(
                stderr_reader,
                &format!("no issuer line within {} s", START_TIMEOUT.as_secs()),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(server.fail(stderr_reader, "exited before printing its issuer"))
            }
        }
    }

    /// Ends the process and says why, with what it wrote on stderr.
    fn fail(mut self, stderr_reader: JoinHandle<()>, why: &str) -> String {
        self.stop();
        let _ = stderr_reader.join();
        let status = self
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.to_string())
            .unwrap_or_default();
        format!(
            "oidc-provider (node server.mjs in {}): {why} ({status}); stderr:\n{}",
            Self::dir().display(),
            self.stderr()
        )
    }

    fn stop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The issuer identifier, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its OpenID Connect discovery document (RFC 8414's path answers the same document).
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The login command: run with the authorization URL appended as last argument (or in
    /// `MCP_AUTHSPEC_AUTHORIZATION_URL`), it signs in and delivers the redirect to the
    /// loopback redirect URI; exit 0 when a code was delivered.
    pub fn login_command(&self) -> Vec<String> {
        node_script("login.mjs")
    }

    /// The device-approval command: run with `<verification_uri> <user_code>` appended, it
    /// enters the code, confirms and signs in; exit 0 when approved.
    pub fn device_approve_command(&self) -> Vec<String> {
        node_script("device-approve.mjs")
    }

    /// Everything the server wrote on stderr so far (warnings, token-endpoint errors).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn node_script(name: &str) -> Vec<String> {
    vec![
        "node".to_owned(),
        ThirdPartyAs::dir().join(name).display().to_string(),
    ]
}

impl Drop for ThirdPartyAs {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ThirdPartyAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThirdPartyAs")
            .field("issuer", &self.issuer)
            .field("pid", &self.child.id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_and_es256_are_offered() {
        let err = ThirdPartyAs::start("HS256").unwrap_err();
        assert!(err.contains("RS256 or ES256"), "{err}");
    }

    #[test]
    fn the_commands_are_node_and_an_absolute_script_path() {
        for (command, script) in [
            (node_script("login.mjs"), "login.mjs"),
            (node_script("device-approve.mjs"), "device-approve.mjs"),
        ] {
            assert_eq!(command[0], "node");
            let path = Path::new(&command[1]);
            assert!(path.is_absolute() && path.ends_with(script), "{path:?}");
            assert!(path.is_file(), "{path:?} is missing");
        }
    }
}
