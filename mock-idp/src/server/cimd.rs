//! Client ID Metadata Documents (spec §2.7; draft-ietf-oauth-client-id-metadata-document-00,
//! as MCP pins it): a `client_id` that is a URL names a JSON document, the client's metadata,
//! which the IdP fetches and caches.
//!
//! - The URL must be `https` with a path, and have no dot segments, fragment or userinfo
//!   (§3); a URL breaking these is refused without a fetch. A query is allowed.
//! - The fetch is a GET with `Accept: application/json`, trusting only the configured CA
//!   certificates, within one timeout and a size limit (§6.6 recommends 5 kB), following no
//!   redirect (a later draft's rule; -00 is silent), accepting only `200`.
//! - The document is JSON (`application/json` or `application/…+json`), an object whose
//!   `client_id` is the URL exactly (§4.1, simple string comparison), with a non-empty
//!   `redirect_uris` array of strings (§4.5), without `client_secret` or
//!   `client_secret_expires_at` and without a shared-secret `token_endpoint_auth_method`
//!   (§4.1). Its client is public (`none`).
//! - Valid documents are cached as `Cache-Control` says (`no-store`, `no-cache`, `max-age=0`:
//!   not kept; `max-age=N`: N seconds, at most a day; no header: 5 minutes); failures and
//!   invalid documents are not (§4.4).
//!
//! The handlers that read a client hold the issuer lock and cannot fetch, so a request's URL
//! client_id is resolved first ([`CimdLookup::resolve`]) and the result handed to them.
//!
//! SSRF protection (§6.5) is out of scope: the mock is a test IdP, and it fetches loopback
//! hosts on purpose, since the tool serves its documents there.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::AsFault;
use super::clients::{Client, ClientAuthMethod};
use super::config::CimdConfig;
use super::state::{IssuerState, Shared};

/// How long a document without cache headers is kept.
const DEFAULT_LIFETIME: i64 = 300;
/// The longest a document is kept, whatever its `max-age`.
const MAX_LIFETIME: i64 = 24 * 3600;
/// How long `as-cimd-cache-ignores-headers` keeps every document.
const FAULT_LIFETIME: i64 = 3600;
/// Limits of `as-cimd-no-size-limit`.
const FAULT_MAX_BYTES: usize = 8 * 1024 * 1024;
const FAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects `as-cimd-follows-redirects` follows.
const FAULT_MAX_REDIRECTS: usize = 5;
/// Cache entries kept before expired ones are pruned.
const PRUNE_THRESHOLD: usize = 1024;
/// Token endpoint authentication methods built on a shared secret (CIMD §4.1).
const SHARED_SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// True if `client_id` starts with a URL scheme (RFC 3986 §3.1: a letter, then letters,
/// digits, `+`, `-` or `.`, then `:`): such an id names a client ID metadata document.
pub(crate) fn is_url_client_id(client_id: &str) -> bool {
    client_id.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    })
}

/// Why no client answers to a `client_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoClient {
    /// Not registered (and not a URL this IdP resolves).
    Unregistered,
    /// A URL client id whose document could not be used, and why.
    Document(String),
}

impl NoClient {
    /// The one-line reason shown, `unregistered` for a client that is not registered.
    pub(crate) fn reason(&self, unregistered: &str) -> String {
        match self {
            NoClient::Unregistered => unregistered.to_owned(),
            NoClient::Document(why) => format!("client ID metadata document refused: {why}"),
        }
    }
}

/// A request's URL `client_id`, resolved before the synchronous handling.
#[derive(Debug, Clone, Default)]
pub(crate) struct CimdLookup {
    /// The URL and its client, or why it has none; `None` when the request names no URL.
    resolved: Option<(String, Result<Client, String>)>,
}

impl CimdLookup {
    /// Resolves `client_id` when it is a URL this IdP fetches (never under
    /// `as-cimd-unsupported` or `as-cimd-ignored`); otherwise nothing is fetched.
    pub(crate) async fn resolve(shared: &Shared, client_id: Option<&str>) -> CimdLookup {
        let Some(id) = client_id.filter(|id| is_url_client_id(id)) else {
            return CimdLookup::default();
        };
        let faults = &shared.config.faults;
        if faults.contains(&AsFault::CimdUnsupported) || faults.contains(&AsFault::CimdIgnored) {
            return CimdLookup::default();
        }
        let client = shared.cimd.client(id, shared.now()).await;
        CimdLookup {
            resolved: Some((id.to_owned(), client)),
        }
    }

    /// The client `client_id` names: a registered client, or the one its document describes.
    pub(crate) fn find(&self, st: &IssuerState, client_id: &str) -> Result<Client, NoClient> {
        match &self.resolved {
            Some((url, resolved)) if url == client_id => {
                resolved.clone().map_err(NoClient::Document)
            }
            _ => st
                .clients
                .get(client_id)
                .cloned()
                .ok_or(NoClient::Unregistered),
        }
    }
}

/// A document's client, kept until `fresh_until` (IdP clock, seconds).
#[derive(Debug, Clone)]
struct Cached {
    client: Client,
    fresh_until: i64,
}

/// Fetches, validates and caches client ID metadata documents.
pub(crate) struct CimdResolver {
    http: reqwest::Client,
    /// Internal addresses documents may still be fetched from.
    internal_allowed: Vec<std::net::IpAddr>,
    /// Whether any CA certificate is trusted: without one, no https document can be fetched.
    has_trust_roots: bool,
    timeout: Duration,
    max_bytes: usize,
    faults: BTreeSet<AsFault>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdResolver")
            .field("has_trust_roots", &self.has_trust_roots)
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl CimdResolver {
    /// A resolver for `config`; an error names a trust root that is not usable PEM.
    pub(crate) fn new(config: &CimdConfig, faults: &BTreeSet<AsFault>) -> Result<Self, String> {
        let mut roots = Vec::new();
        for (i, pem) in config.trust_roots_pem.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("CIMD trust root {}: not PEM certificates: {e}", i + 1))?;
            if certs.is_empty() {
                return Err(format!("CIMD trust root {}: no certificate in it", i + 1));
            }
            roots.extend(certs);
        }
        let has_trust_roots = !roots.is_empty();
        let follows = faults.contains(&AsFault::CimdFollowsRedirects);
        let redirects = if follows {
            // Never on to https without a trust root: the system's roots are not trusted.
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > FAULT_MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if !has_trust_roots && attempt.url().scheme() == "https" {
                    attempt.error("no CIMD trust root is configured")
                } else {
                    attempt.follow()
                }
            })
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = reqwest::Client::builder().no_proxy().redirect(redirects);
        if has_trust_roots {
            builder = builder.tls_certs_only(roots);
        }
        let http = builder
            .build()
            .map_err(|e| format!("CIMD HTTP client: {e}"))?;
        let unlimited = faults.contains(&AsFault::CimdNoSizeLimit);
        Ok(Self {
            http,
            internal_allowed: config.internal_addresses_allowed.clone(),
            has_trust_roots,
            timeout: if unlimited {
                FAULT_TIMEOUT
            } else {
                config.fetch_timeout
            },
            max_bytes: if unlimited {
                FAULT_MAX_BYTES
            } else {
                config.max_document_bytes
            },
            faults: faults.clone(),
            cache: Mutex::default(),
        })
    }

    fn has(&self, fault: AsFault) -> bool {
        self.faults.contains(&fault)
    }

    /// The client the document at `url` describes: from the cache while fresh, else fetched.
    async fn client(&self, url: &str, now: i64) -> Result<Client, String> {
        if let Some(cached) = self.cached(url, now) {
            return Ok(cached);
        }
        self.check_url(url)?;
        if !self.has(AsFault::CimdSsrf) {
            self.check_address(url).await?;
        }
        let fetched = tokio::time::timeout(self.timeout, self.fetch(url))
            .await
            .map_err(|_| {
                format!(
                    "fetching {url} took longer than {} ms",
                    self.timeout.as_millis()
                )
            })??;
        let client = self.client_from(url, &fetched)?;
        let lifetime = if self.has(AsFault::CimdCacheIgnoresHeaders) {
            FAULT_LIFETIME
        } else {
            cache_lifetime(fetched.cache_control.as_deref())
        };
        if lifetime > 0 {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= PRUNE_THRESHOLD {
                cache.retain(|_, c| now < c.fresh_until);
            }
            cache.insert(
                url.to_owned(),
                Cached {
                    client: client.clone(),
                    fresh_until: now + lifetime,
                },
            );
        }
        Ok(client)
    }

    fn cached(&self, url: &str, now: i64) -> Option<Client> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(url)
            .filter(|c| now < c.fresh_until)
            .map(|c| c.client.clone())
    }

    /// The URL rules of CIMD §3, checked on the string as sent (a parser would resolve dot
    /// segments and hide them); `as-cimd-url-lax` only needs a URL it can fetch.
    fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("client_id {url} is not a URL: {e}"))?;
        if self.has(AsFault::CimdUrlLax) {
            return match parsed.scheme() {
                "https" | "http" => Ok(()),
                other => Err(format!("client_id scheme {other} cannot be fetched")),
            };
        }
        check_url_grammar(url)
    }

    /// Refuses a URL whose host is, or resolves to, an internal address not allowed (SSRF,
    /// CIMD §6). The fetch resolves the name again: a rebinding name could still slip through,
    /// which a test IdP accepts.
    async fn check_address(&self, url: &str) -> Result<(), String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("client_id {url} is not a URL: {e}"))?;
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses: Vec<std::net::IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => vec![ip.into()],
            Some(url::Host::Ipv6(ip)) => vec![ip.into()],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| format!("client_id host {name} does not resolve: {e}"))?
                .map(|a| a.ip())
                .collect(),
            None => return Err(format!("client_id {url} names no host")),
        };
        match addresses
            .into_iter()
            .find(|ip| is_internal(*ip) && !self.internal_allowed.contains(ip))
        {
            Some(ip) => Err(format!(
                "client_id {url} names an internal address ({ip}): not fetched (SSRF)"
            )),
            None => Ok(()),
        }
    }

    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        if url
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
            && !self.has_trust_roots
        {
            return Err(format!(
                "cannot fetch {url}: no CIMD trust root is configured (IdpConfig::cimd, \
                 --cimd-ca), and the system's are not trusted"
            ));
        }
        let mut resp = self
            .http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("fetching {url} failed: {}", error_chain(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(format!(
                "{url} answered {status}: redirects are not followed"
            ));
        }
        if status != StatusCode::OK {
            return Err(format!("{url} answered {status}, not 200"));
        }
        let too_large = || {
            format!(
                "the document at {url} is larger than {} bytes",
                self.max_bytes
            )
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let header_text = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header_text(header::CONTENT_TYPE);
        let cache_control = header_text(header::CACHE_CONTROL);
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading {url} failed: {}", error_chain(&e)))?
        {
            // Nothing past the limit's first extra byte is kept.
            let room = self.max_bytes + 1 - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() > self.max_bytes {
                return Err(too_large());
            }
        }
        Ok(Fetched {
            content_type,
            cache_control,
            body,
        })
    }

    /// The client a fetched document describes, if the document is valid.
    fn client_from(&self, url: &str, fetched: &Fetched) -> Result<Client, String> {
        let lenient = self.has(AsFault::CimdDocumentUnchecked);
        if !lenient && !is_json_media_type(fetched.content_type.as_deref()) {
            return Err(format!(
                "the document's Content-Type is {}, not application/json",
                fetched.content_type.as_deref().unwrap_or("absent")
            ));
        }
        let value: Value = serde_json::from_slice(&fetched.body)
            .map_err(|e| format!("the document is not JSON: {e}"))?;
        let doc = match value {
            Value::Object(doc) => doc,
            Value::Array(items) if lenient => match items.into_iter().next() {
                Some(Value::Object(doc)) => doc,
                _ => return Err("the document is a JSON array, not an object".into()),
            },
            _ => return Err("the document is not a JSON object".into()),
        };
        let named = doc.get("client_id").and_then(Value::as_str);
        if named != Some(url) && !self.has(AsFault::CimdClientIdUnchecked) {
            return Err(match named {
                Some(other) => format!("the document's client_id {other} is not {url}"),
                None => "the document has no client_id string".into(),
            });
        }
        let redirect_uris = redirect_uris(&doc, lenient)?;
        let secrets = !self.has(AsFault::CimdSharedSecretAccepted);
        if secrets
            && let Some(member) = ["client_secret", "client_secret_expires_at"]
                .into_iter()
                .find(|m| doc.contains_key(*m))
        {
            return Err(format!("the document carries {member}"));
        }
        let method = match doc.get("token_endpoint_auth_method") {
            None => None,
            Some(Value::String(m)) => Some(m.as_str()),
            Some(_) => return Err("token_endpoint_auth_method is not a string".into()),
        };
        let uris: Vec<&str> = redirect_uris.iter().map(String::as_str).collect();
        let public = Client::public(url, &uris);
        match method {
            None | Some("none") => Ok(public),
            Some(m) if SHARED_SECRET_METHODS.contains(&m) && secrets => Err(format!(
                "token_endpoint_auth_method {m} relies on a shared secret"
            )),
            Some(m) if SHARED_SECRET_METHODS.contains(&m) => {
                Ok(shared_secret_client(public, &doc, m))
            }
            Some(m) => Err(format!(
                "token_endpoint_auth_method {m} is not supported by this server"
            )),
        }
    }
}

/// A fetched document, before validation.
struct Fetched {
    content_type: Option<String>,
    cache_control: Option<String>,
    body: Vec<u8>,
}

/// The client `as-cimd-shared-secret-accepted` makes of a document naming a shared-secret
/// method: confidential with the document's `client_secret`, public without one.
fn shared_secret_client(public: Client, doc: &Map<String, Value>, method: &str) -> Client {
    let Some(secret) = doc.get("client_secret").and_then(Value::as_str) else {
        return public;
    };
    Client {
        client_secret: Some(secret.to_owned()),
        auth_method: ClientAuthMethod::from_name(method)
            .unwrap_or(ClientAuthMethod::ClientSecretBasic),
        ..public
    }
}

/// `redirect_uris`: a non-empty array of strings (`lenient`: an absent member is no URI).
fn redirect_uris(doc: &Map<String, Value>, lenient: bool) -> Result<Vec<String>, String> {
    match doc.get("redirect_uris") {
        None if lenient => Ok(Vec::new()),
        None => Err("the document has no redirect_uris".into()),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|u| u.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "redirect_uris holds a value that is not a string".into()),
        Some(_) => Err("redirect_uris is not a non-empty array".into()),
    }
}

/// Whether `ip` is an address of this host or its networks rather than the internet:
/// unspecified, loopback, private, shared (RFC 6598), link-local, or their IPv6 kin.
fn is_internal(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(v4.into()))
        }
    }
}

/// CIMD §3 on the raw string: `https`, a path other than `/`, no `.` or `..` segment (percent
/// encoded or not), no fragment, no userinfo. A query is allowed (SHOULD NOT only).
pub(crate) fn check_url_grammar(url: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("client_id {url} {why}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("contains whitespace or control characters");
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return refuse("is not a URL");
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return refuse("does not use https");
    }
    let Some(after) = rest.strip_prefix("//") else {
        return refuse("has no host");
    };
    if url.contains('#') {
        return refuse("has a fragment");
    }
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, path_and_query) = after.split_at(authority_end);
    if authority.contains('@') {
        return refuse("carries userinfo");
    }
    if authority.is_empty() {
        return refuse("has no host");
    }
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    if path.is_empty() || path == "/" {
        return refuse("has no path");
    }
    let dot_segment = path.split('/').any(|seg| {
        let decoded = seg.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return refuse("has a dot segment");
    }
    url::Url::parse(url).map_err(|e| format!("client_id {url} is not a URL: {e}"))?;
    Ok(())
}

/// `application/json` or `application/<x>+json`, parameters allowed (CIMD §4.1).
fn is_json_media_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || subtype.len() > 5 && subtype.ends_with("+json"))
}

/// Seconds a valid document is kept, from its `Cache-Control` (RFC 9111 §5.2.2): 0 for
/// `no-store`, `no-cache` or `max-age=0`; `max-age` up to a day; 5 minutes without either.
fn cache_lifetime(cache_control: Option<&str>) -> i64 {
    let Some(value) = cache_control else {
        return DEFAULT_LIFETIME;
    };
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive
            .split_once('=')
            .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return 0;
        }
        if name.eq_ignore_ascii_case("max-age") {
            // An unreadable max-age makes the answer stale (RFC 9111 §4.2.1).
            let seconds = arg
                .map(|a| a.trim_matches('"'))
                .and_then(|a| a.parse::<u64>().ok())
                .unwrap_or(0);
            max_age = Some(i64::try_from(seconds).unwrap_or(i64::MAX).min(MAX_LIFETIME));
        }
    }
    max_age.unwrap_or(DEFAULT_LIFETIME)
}

/// An error and its sources on one line (reqwest's top-level message alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_client_ids() {
        for url in ["https://c.test/a.json", "http:x", "urn:x", "a+b-c.d:x"] {
            assert!(is_url_client_id(url), "{url}");
        }
        for id in ["authspec-public", "", ":x", "1https://x", "a b:c", "abc"] {
            assert!(!is_url_client_id(id), "{id}");
        }
    }

    #[test]
    fn url_grammar() {
        for ok in [
            "https://c.test/app.json",
            "https://c.test:8443/c/app.json",
            "https://127.0.0.1:1/c/app.json?v=1",
            "HTTPS://c.test/a",
            "https://c.test/a..b/.x",
        ] {
            assert_eq!(check_url_grammar(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://c.test/app.json", "https"),
            ("https://c.test", "no path"),
            ("https://c.test/", "no path"),
            ("https://c.test?x=1", "no path"),
            ("https://c.test/c/../app.json", "dot segment"),
            ("https://c.test/./app.json", "dot segment"),
            ("https://c.test/c/%2e%2E/app.json", "dot segment"),
            ("https://c.test/c/.%2e", "dot segment"),
            ("https://c.test/app.json#x", "fragment"),
            ("https://c.test/app.json#", "fragment"),
            ("https://u:p@c.test/app.json", "userinfo"),
            ("https://u@c.test/app.json", "userinfo"),
            ("https:/c.test/app.json", "no host"),
            ("https:///app.json", "no host"),
            ("https://c.test/a b", "whitespace"),
        ] {
            let err = check_url_grammar(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/client-metadata+json",
        ] {
            assert!(is_json_media_type(Some(ok)), "{ok}");
        }
        for bad in [
            None,
            Some("text/html"),
            Some("text/json"),
            Some("application/+json"),
            Some("application/jsonx"),
            Some("application/json-seq"),
            Some("json"),
        ] {
            assert!(!is_json_media_type(bad), "{bad:?}");
        }
    }

    #[test]
    fn cache_lifetimes() {
        assert_eq!(cache_lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(cache_lifetime(Some("public")), DEFAULT_LIFETIME);
        assert_eq!(cache_lifetime(Some("max-age=0")), 0);
        assert_eq!(cache_lifetime(Some("public, max-age=120")), 120);
        assert_eq!(cache_lifetime(Some("Max-Age=\"30\"")), 30);
        assert_eq!(cache_lifetime(Some("max-age=99999999")), MAX_LIFETIME);
        assert_eq!(cache_lifetime(Some("max-age=x")), 0);
        assert_eq!(cache_lifetime(Some("max-age=60, no-store")), 0);
        assert_eq!(cache_lifetime(Some("no-cache")), 0);
    }
}
