//! Where real credentials may go (issue "Safety"): only to the target's origin and to the
//! authorization server the target names (or the user names), over HTTPS unless the host is
//! loopback. Anything else stops the run with a message saying which flag allows it.

use url::{Host, Url};

use super::SourceError;

/// The origins real credentials may be sent to.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<url::Origin>,
    /// `--allow-insecure-http`: plain HTTP to a host that is not loopback.
    pub allow_insecure_http: bool,
}

/// Whether `url` names this machine (plain HTTP stays on it).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl OriginPolicy {
    /// Allows the origin of `url` (the target, the authorization server it names, a URL the
    /// user gave, `--allow-origin`).
    pub fn allow(&mut self, url: &str) -> Result<(), SourceError> {
        let parsed = Url::parse(url).map_err(|e| SourceError(format!("{url}: {e}")))?;
        let origin = parsed.origin();
        if !self.allowed.contains(&origin) {
            self.allowed.push(origin);
        }
        Ok(())
    }

    /// Refuses to send real credentials (`what`: "the client secret") to `url` unless its
    /// origin is allowed and it is HTTPS or loopback.
    pub fn check(&self, url: &str, what: &str) -> Result<(), SourceError> {
        let parsed = Url::parse(url).map_err(|e| SourceError(format!("{url}: {e}")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) || self.allow_insecure_http => {}
            "http" => {
                return Err(SourceError(format!(
                    "refusing to send {what} to {url} over plain HTTP: use HTTPS, or \
                     --allow-insecure-http if this network is trusted"
                )));
            }
            other => {
                return Err(SourceError(format!(
                    "refusing to send {what} to {url}: scheme {other} is not HTTP(S)"
                )));
            }
        }
        if !self.allowed.contains(&parsed.origin()) {
            return Err(SourceError(format!(
                "refusing to send {what} to {url}: its origin is neither the target's nor the \
                 authorization server's its metadata names; --allow-origin {} allows it",
                parsed.origin().ascii_serialization()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_origins_and_no_remote_plain_http() {
        let mut policy = OriginPolicy::default();
        policy.allow("https://as.example/tenant").unwrap();
        policy.allow("http://127.0.0.1:9400/").unwrap();
        policy.allow("http://10.0.0.5/").unwrap();
        assert!(policy.check("https://as.example/token", "x").is_ok());
        assert!(policy.check("http://127.0.0.1:9400/token", "x").is_ok());
        let other = policy.check("https://evil.example/token", "the client secret");
        assert!(
            other
                .unwrap_err()
                .0
                .contains("--allow-origin https://evil.example")
        );
        let port = policy.check("https://as.example:8443/token", "x");
        assert!(port.is_err(), "another port is another origin");
        let remote_http = policy.check("http://10.0.0.5/token", "x").unwrap_err();
        assert!(remote_http.0.contains("--allow-insecure-http"));
        policy.allow_insecure_http = true;
        assert!(policy.check("http://10.0.0.5/token", "x").is_ok());
        assert!(policy.check("ftp://as.example/", "x").is_err());
    }
}
