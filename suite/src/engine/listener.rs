//! A loopback listener under the tool's control: it serves documents the attacker controls
//! (the rogue key `K_x` as a JWKS for `jku`, its self-signed certificate for `x5u`) at
//! unguessable paths and counts every request, so a check can tell whether the target fetched a
//! URL taken from a token header (spec rs-jku-spoof, rs-x5u-x5c-spoof: the SSRF half, SHOULD).
//!
//! It also hosts client ID metadata documents (spec §2.7) for the authorization server to fetch:
//! the same paths are served over https (the test-only loopback certificate of `fixtures/tls`,
//! which the authorization server under test must trust) and plain http, with any status,
//! headers and pace a stimulus needs (redirects, cache headers, a slow drip).
//!
//! One listener per process, on its own threads with blocking I/O, so it outlives any one async
//! runtime (tests start several). Checks group what they publish under a topic: `begin` forgets
//! the topic's earlier documents, `topic_hits` counts the requests for the current ones and
//! `take_new_hits` those since it was last asked. Two runs of the same check at the same time in
//! one process share the topic and may see each other's requests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Longest request head read; the rest of a larger request is ignored.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Connections served at once; more are closed unanswered (the target is untrusted).
const MAX_CONNECTIONS: usize = 16;
/// How long one connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a dripped answer goes on before the listener closes the connection.
const DRIP_LIMIT: Duration = Duration::from_secs(20);

/// The test-only loopback certificate (for `localhost`, 127.0.0.1 and ::1) and its key.
const TLS_CERTIFICATE: &[u8] = include_bytes!("../../../fixtures/tls/localhost.pem");
const TLS_KEY: &[u8] = include_bytes!("../../../fixtures/tls/localhost.key");
/// The CA that signed it, which an authorization server fetching from the listener trusts.
pub const TLS_CA: &str = include_str!("../../../fixtures/tls/ca.pem");

/// The client ID metadata document settings of a mock IdP that fetches from this listener (the
/// tests, and the embedded demo with a shorter deadline): it trusts the test CA and gives a
/// fetch one second, so the slow document of as.cimd.size-limit costs a second rather than the
/// default five.
pub fn mock_idp_cimd() -> mock_idp::server::CimdConfig {
    mock_idp::server::CimdConfig {
        trust_roots_pem: vec![TLS_CA.to_owned()],
        fetch_timeout: Duration::from_secs(1),
        ..Default::default()
    }
}

/// How the listener answers the requests for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Header fields, `content-type` among them; `cache-control: no-store` unless one is given.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sends the body one byte per interval (up to [`DRIP_LIMIT`]): a host too slow to wait for.
    pub drip: Option<Duration>,
}

impl Answer {
    /// `200` with `body` as `content_type`.
    pub fn document(content_type: &str, body: Vec<u8>) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            drip: None,
        }
    }

    /// A `302` to `location`.
    pub fn redirect(location: &str) -> Answer {
        Answer {
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
            drip: None,
        }
    }

    /// The answer with another status.
    pub fn with_status(mut self, status: u16) -> Answer {
        self.status = status;
        self
    }

    /// The answer with one more header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The answer sent one byte per `interval`.
    pub fn dripped(mut self, interval: Duration) -> Answer {
        self.drip = Some(interval);
        self
    }
}

/// A served document and the requests it received.
struct Document {
    answer: Answer,
    hits: u64,
}

#[derive(Default)]
struct State {
    /// Path → document.
    documents: HashMap<String, Document>,
    /// Topic → the paths published under it since its last `begin`.
    topics: HashMap<&'static str, Vec<String>>,
    /// Topic → the requests `take_new_hits` already reported.
    reported: HashMap<&'static str, u64>,
}

/// The process-wide loopback listener.
pub struct Listener {
    base_url: String,
    /// `https://127.0.0.1:<port>`, when the TLS socket started.
    https_base_url: Option<String>,
    /// `https://127.0.0.2:<port>` and `https://[::1]:<port>`, those that started.
    internal_https_base_urls: Vec<String>,
    state: Arc<Mutex<State>>,
}

impl Listener {
    /// The listener, started on first use; `None` when no loopback port can be bound.
    pub fn shared() -> Option<&'static Listener> {
        static SHARED: OnceLock<Option<Listener>> = OnceLock::new();
        SHARED.get_or_init(Listener::start).as_ref()
    }

    fn start() -> Option<Listener> {
        let socket = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        let base_url = format!("http://{}", socket.local_addr().ok()?);
        let state = Arc::new(Mutex::new(State::default()));
        let served = state.clone();
        std::thread::Builder::new()
            .name("mcp-authspec-listener".into())
            .spawn(move || accept_loop(socket, None, served))
            .ok()?;
        let https_base_url = start_https(state.clone(), Ipv4Addr::LOCALHOST.into());
        // Internal addresses other than the one the documents live at (spec as-cimd-ssrf):
        // whatever fetches a document there took a URL naming an internal host. Each is
        // optional (an IPv6-less container, a system where only 127.0.0.1 is configured).
        let internal_https_base_urls = [
            std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ]
        .into_iter()
        .filter_map(|ip| start_https(state.clone(), ip))
        .collect();
        Some(Listener {
            base_url,
            https_base_url,
            internal_https_base_urls,
            state,
        })
    }

    /// The same documents over https at other internal addresses (127.0.0.2, [::1]), as far as
    /// they could be bound: the hosts of SSRF stimuli.
    pub fn internal_https_base_urls(&self) -> &[String] {
        &self.internal_https_base_urls
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `https://127.0.0.1:<port>`: the same documents over TLS, with the certificate of
    /// `fixtures/tls` ([`TLS_CA`] signed it); `None` when its socket could not start.
    pub fn https_base_url(&self) -> Option<&str> {
        self.https_base_url.as_deref()
    }

    /// Also serves every document in plain http at `address` (a loopback address a tunnel or
    /// reverse proxy forwards a public https name to).
    pub fn serve_also_at(&self, address: std::net::SocketAddr) -> std::io::Result<()> {
        let socket = TcpListener::bind(address)?;
        let served = self.state.clone();
        std::thread::Builder::new()
            .name("mcp-authspec-listener-extra".into())
            .spawn(move || accept_loop(socket, None, served))
            .map(drop)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `body` at a fresh unguessable path ending in `file_name`; returns its URL.
    pub fn publish(&self, file_name: &str, content_type: &'static str, body: Vec<u8>) -> String {
        let path = format!("/{}/{file_name}", mock_idp::random_b64url(12));
        self.publish_at(&path, content_type, body)
    }

    /// Serves `body` at exactly `path` (which starts with `/`); returns its URL.
    fn publish_at(&self, path: &str, content_type: &'static str, body: Vec<u8>) -> String {
        self.answer_at(path, Answer::document(content_type, body));
        format!("{}{path}", self.base_url)
    }

    /// Answers requests for `path` (which starts with `/`) with `answer` from now on, over
    /// both schemes; the requests counted so far stay counted.
    pub fn answer_at(&self, path: &str, answer: Answer) {
        let mut state = self.lock();
        let hits = state.documents.get(path).map_or(0, |d| d.hits);
        state
            .documents
            .insert(path.to_owned(), Document { answer, hits });
    }

    /// Stops answering `path` (404 from now on).
    pub fn withdraw(&self, path: &str) {
        self.lock().documents.remove(path);
    }

    /// Requests received so far for a URL `publish` returned, or for a path (0 for any other).
    pub fn hits(&self, url: &str) -> u64 {
        let path = [Some(self.base_url.as_str()), self.https_base_url()]
            .into_iter()
            .flatten()
            .chain(self.internal_https_base_urls.iter().map(String::as_str))
            .find_map(|base| url.strip_prefix(base))
            .unwrap_or(url);
        self.lock().documents.get(path).map_or(0, |d| d.hits)
    }

    /// Starts a topic afresh: its earlier documents are no longer served or counted.
    pub fn begin(&self, topic: &'static str) {
        let mut state = self.lock();
        state.reported.remove(topic);
        let old = state.topics.remove(topic).unwrap_or_default();
        for path in old {
            state.documents.remove(&path);
        }
    }

    /// `publish` under a topic.
    pub fn publish_for(
        &self,
        topic: &'static str,
        file_name: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> String {
        let url = self.publish(file_name, content_type, body);
        let path = url[self.base_url.len()..].to_owned();
        self.lock().topics.entry(topic).or_default().push(path);
        url
    }

    /// Hosts an authorization server under the topic: an issuer identifier at a fresh
    /// unguessable path, its RFC 8414 and OpenID Connect discovery metadata at every location
    /// a client derives from it (path-inserted and appended), and `jwks` as its key set.
    /// Returns the issuer identifier.
    pub fn host_issuer(&self, topic: &'static str, jwks: &serde_json::Value) -> String {
        let tail = format!("/{}", mock_idp::random_b64url(12));
        let issuer = format!("{}{tail}", self.base_url);
        let jwks_uri = self.publish_at(
            &format!("{tail}/jwks.json"),
            "application/json",
            jwks.to_string().into_bytes(),
        );
        let metadata = serde_json::json!({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
        });
        let mut paths = vec![format!("{tail}/jwks.json")];
        for path in [
            format!("/.well-known/oauth-authorization-server{tail}"),
            format!("/.well-known/openid-configuration{tail}"),
            format!("{tail}/.well-known/openid-configuration"),
        ] {
            self.publish_at(&path, "application/json", metadata.to_string().into_bytes());
            paths.push(path);
        }
        self.lock().topics.entry(topic).or_default().extend(paths);
        issuer
    }

    /// Requests received for the topic's documents since its last `begin`.
    pub fn topic_hits(&self, topic: &'static str) -> u64 {
        Self::hits_of(&self.lock(), topic)
    }

    /// Requests received for the topic's documents since the last call (or `begin`): a check
    /// that sends its stimuli one by one and grades each answer before sending the next sees
    /// the requests each stimulus caused.
    pub fn take_new_hits(&self, topic: &'static str) -> u64 {
        let mut state = self.lock();
        let total = Self::hits_of(&state, topic);
        let before = state.reported.insert(topic, total).unwrap_or(0);
        total.saturating_sub(before)
    }

    fn hits_of(state: &State, topic: &'static str) -> u64 {
        state.topics.get(topic).map_or(0, |paths| {
            paths
                .iter()
                .filter_map(|p| state.documents.get(p))
                .map(|d| d.hits)
                .sum()
        })
    }
}

/// Binds a TLS socket at `ip` and serves it; its base URL, or `None` when it cannot start.
fn start_https(state: Arc<Mutex<State>>, ip: std::net::IpAddr) -> Option<String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(TLS_CERTIFICATE)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let key = PrivateKeyDer::from_pem_slice(TLS_KEY).ok()?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .ok()?;
    let socket = TcpListener::bind((ip, 0)).ok()?;
    let base_url = format!("https://{}", socket.local_addr().ok()?);
    let tls = Arc::new(config);
    std::thread::Builder::new()
        .name("mcp-authspec-listener-tls".into())
        .spawn(move || accept_loop(socket, Some(tls), state))
        .ok()?;
    Some(base_url)
}

fn accept_loop(
    socket: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<Mutex<State>>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in socket.incoming().flatten() {
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closes the connection
        }
        let state = state.clone();
        let done = active.clone();
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("mcp-authspec-listener-conn".into())
            .spawn(move || {
                let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
                match tls.map(rustls::ServerConnection::new) {
                    None => serve(stream, &state),
                    Some(Ok(session)) => serve(rustls::StreamOwned::new(session, stream), &state),
                    Some(Err(_)) => {}
                }
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Answers one request: the answer for its path (any method counts as a hit), else 404.
fn serve(mut stream: impl Read + Write, state: &Mutex<State>) {
    let Some(path) = read_request_path(&mut stream) else {
        return;
    };
    let found = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.documents.get_mut(&path).map(|d| {
            d.hits += 1;
            d.answer.clone()
        })
    };
    let answer = found
        .unwrap_or_else(|| Answer::document("text/plain", b"not found".to_vec()).with_status(404));
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !answer
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
    {
        head.push_str("cache-control: no-store\r\n");
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        answer.body.len()
    ));
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    match answer.drip {
        None => {
            let _ = stream.write_all(&answer.body);
        }
        Some(interval) => {
            let started = std::time::Instant::now();
            for byte in &answer.body {
                if started.elapsed() > DRIP_LIMIT || stream.write_all(&[*byte]).is_err() {
                    break;
                }
                let _ = stream.flush();
                std::thread::sleep(interval);
            }
        }
    }
    let _ = stream.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        _ => "Status",
    }
}

/// The path of the request line (query dropped), once the head is read; `None` for anything
/// that is not a bounded HTTP/1 request head.
fn read_request_path(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            break;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    request_path(&head)
}

fn request_path(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    let (_method, target, version) = (words.next()?, words.next()?, words.next()?);
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    path.starts_with('/').then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    fn get(url: &str) -> Option<(String, Vec<u8>)> {
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_at(rest.find('/')?);
        let mut s = TcpStream::connect(host).ok()?;
        write!(s, "GET {path}?x=1 HTTP/1.1\r\nhost: {host}\r\n\r\n").ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).ok()?;
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        Some((head, answer[split + 4..].to_vec()))
    }

    #[test]
    fn hosts_an_issuer_with_its_metadata_and_keys() {
        let l = Listener::shared().expect("a loopback port");
        l.begin("test-issuer");
        let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]});
        let issuer = l.host_issuer("test-issuer", &jwks);
        let tail = issuer.strip_prefix(l.base_url()).unwrap();
        for path in [
            format!("/.well-known/oauth-authorization-server{tail}"),
            format!("/.well-known/openid-configuration{tail}"),
            format!("{tail}/.well-known/openid-configuration"),
        ] {
            let (head, body) = get(&format!("{}{path}", l.base_url())).unwrap();
            assert!(head.starts_with("HTTP/1.1 200 OK"), "{path}: {head}");
            let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(doc["issuer"], issuer.as_str());
            let (_, keys) = get(doc["jwks_uri"].as_str().unwrap()).unwrap();
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&keys).unwrap(),
                jwks
            );
        }
        assert_eq!(l.topic_hits("test-issuer"), 6);
        l.begin("test-issuer");
        let (head, _) = get(&format!("{issuer}/.well-known/openid-configuration")).unwrap();
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    }

    #[test]
    fn serves_published_documents_and_counts_requests_per_topic() {
        let l = Listener::shared().expect("a loopback port");
        l.begin("test-topic");
        let url = l.publish_for(
            "test-topic",
            "jwks.json",
            "application/json",
            b"{}".to_vec(),
        );
        assert!(url.starts_with(l.base_url()) && url.ends_with("/jwks.json"));
        assert_eq!((l.hits(&url), l.topic_hits("test-topic")), (0, 0));
        let (head, body) = get(&url).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert_eq!(body, b"{}");
        assert_eq!(l.take_new_hits("test-topic"), 1);
        get(&url).unwrap();
        assert_eq!((l.hits(&url), l.topic_hits("test-topic")), (2, 2));
        assert_eq!(l.take_new_hits("test-topic"), 1);
        assert_eq!(l.take_new_hits("test-topic"), 0);
        // Unknown paths are 404 and count for nothing.
        let (head, _) = get(&format!("{}/nope/jwks.json", l.base_url())).unwrap();
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        // A new round forgets the earlier documents.
        l.begin("test-topic");
        assert_eq!((l.hits(&url), l.topic_hits("test-topic")), (0, 0));
        assert_eq!(l.take_new_hits("test-topic"), 0);
        let (head, _) = get(&url).unwrap();
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    }

    #[tokio::test]
    async fn serves_answers_over_https_under_the_test_ca_and_counts_both_schemes() {
        let l = Listener::shared().expect("a loopback port");
        let https = l.https_base_url().expect("the https socket").to_owned();
        let ca = reqwest::Certificate::from_pem(TLS_CA.as_bytes()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let path = format!("/test-tls/{}/doc.json", mock_idp::random_b64url(8));
        l.answer_at(
            &path,
            Answer::document("application/json", b"{}".to_vec())
                .with_header("cache-control", "max-age=0"),
        );
        let answer = client.get(format!("{https}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["cache-control"], "max-age=0");
        assert_eq!(answer.bytes().await.unwrap().as_ref(), b"{}");
        l.answer_at(&path, Answer::redirect("https://localhost/elsewhere"));
        let answer = client.get(format!("{https}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        assert_eq!(answer.headers()["location"], "https://localhost/elsewhere");
        let (head, _) = get(&format!("{}{path}", l.base_url())).unwrap();
        assert!(head.starts_with("HTTP/1.1 302 Found"), "{head}");
        assert_eq!(l.hits(&format!("{https}{path}")), 3);
        l.withdraw(&path);
        let answer = client.get(format!("{https}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 404);
    }

    #[test]
    fn request_lines_are_read_strictly() {
        assert_eq!(
            request_path(b"GET /a/b?c=d HTTP/1.1\r\nhost: x\r\n\r\n"),
            Some("/a/b".into())
        );
        assert_eq!(request_path(b"GET http://x/a HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_path(b"GET /a\r\n\r\n"), None);
        assert_eq!(request_path(b"\xff\xfe /a HTTP/1.1\r\n"), None);
        assert_eq!(request_path(b""), None);
    }
}
