//! `htu`: the comparison of RFC 9449 §4.3 check 9, and the URI variants the proof builder
//! produces to probe it.
//!
//! [`normalize`] applies RFC 3986 §6.2.2 (syntax-based: case of scheme and host, percent-encoding
//! of unreserved characters decoded and other escapes upper-cased, dot segments removed) and
//! §6.2.3 (scheme-based: default port dropped, empty path = `/`), and drops the query and the
//! fragment, which check 9 ignores. Nothing else is equated: `/mcp/` and `/mcp` differ.
//!
//! Before the `url` crate (a WHATWG parser) sees the text, it must be an RFC 3986 absolute URI
//! in plain ASCII with `http`/`https` and `//`: WHATWG parsing silently strips tabs and
//! newlines, turns `\` into `/` and accepts `https:host`, none of which a verifier should equate.

use url::{Position, Url};

/// Why a string cannot be compared as an `htu`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HtuError {
    #[error("character {ch:?} at offset {offset} is not allowed in a URI")]
    InvalidCharacter { offset: usize, ch: char },
    #[error("'%' at offset {offset} is not followed by two hex digits")]
    BadPercentEncoding { offset: usize },
    #[error("scheme is not http or https")]
    NotHttp,
    #[error("no \"//\" authority after the scheme")]
    NoAuthority,
    #[error("no host")]
    NoHost,
    #[error("{0}")]
    Parse(String),
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters RFC 3986 allows in a URI: unreserved, gen-delims, sub-delims and `%`.
fn is_uri_char(b: u8) -> bool {
    is_unreserved(b) || b"%:/?#[]@!$&'()*+,;=".contains(&b)
}

/// The normalised form of an absolute http(s) URI without its query and fragment.
pub fn normalize(uri: &str) -> Result<String, HtuError> {
    let bytes = uri.as_bytes();
    for (offset, ch) in uri.char_indices() {
        if !ch.is_ascii() || !is_uri_char(ch as u8) {
            return Err(HtuError::InvalidCharacter { offset, ch });
        }
    }
    for (offset, _) in uri.match_indices('%') {
        let ok = bytes.len() > offset + 2
            && bytes[offset + 1].is_ascii_hexdigit()
            && bytes[offset + 2].is_ascii_hexdigit();
        if !ok {
            return Err(HtuError::BadPercentEncoding { offset });
        }
    }
    let (scheme, rest) = uri.split_once(':').ok_or(HtuError::NotHttp)?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(HtuError::NotHttp);
    }
    if !rest.starts_with("//") {
        return Err(HtuError::NoAuthority);
    }
    let url = Url::parse(uri).map_err(|e| HtuError::Parse(e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(HtuError::NoHost);
    }
    // Scheme and host are lower-cased, the default port dropped, an empty path made "/" and
    // dot segments (including %2E forms) removed by the parser.
    Ok(normalize_percent(&url[..Position::AfterPath]))
}

/// Decodes escapes of unreserved characters and upper-cases the hex of all others
/// (RFC 3986 §6.2.2.1–6.2.2.2).
fn normalize_percent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let escape = (b[i] == b'%' && i + 2 < b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 3]).ok())
            .flatten()
            .filter(|hex| hex.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(v) if is_unreserved(v) => out.push(v as char),
            Some(v) => out.push_str(&format!("%{v:02X}")),
            None => {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
        }
        i += 3;
    }
    out
}

/// Whether a proof's `htu` names the request URI (RFC 9449 §4.3 check 9).
pub fn matches(htu: &str, request_uri: &str) -> Result<bool, HtuError> {
    Ok(normalize(htu)? == normalize(request_uri)?)
}

/// A deliberate change to an `htu`, applied on the text (never through a normalising parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HtuVariant {
    /// Replace any query and fragment with these (`None` leaves that part out).
    QueryFragment {
        query: Option<String>,
        fragment: Option<String>,
    },
    /// `HTTPS://MCP.TEST/mcp`: scheme and host upper-cased.
    UpperCaseSchemeHost,
    /// `https://mcp.test:443/mcp`: the scheme's default port written out.
    ExplicitDefaultPort,
    /// The first unreserved character of the path percent-encoded (`~` → `%7E`, `m` → `%6D`).
    PercentEncodeUnreserved,
    /// A `/` appended to the path, or removed when the path already ends with one.
    TrailingSlash,
    /// Another scheme (`http` for `https`).
    Scheme(String),
    /// Another host, port kept.
    Host(String),
    /// An explicit port.
    Port(u16),
    /// Another path (must start with `/`).
    Path(String),
}

/// A URI cut into its five RFC 3986 parts, as text.
struct Parts {
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

impl Parts {
    fn split(uri: &str) -> Option<Self> {
        let (scheme, rest) = uri.split_once("://")?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        Some(Self {
            scheme: scheme.to_owned(),
            authority: authority.to_owned(),
            path: path.to_owned(),
            query,
            fragment,
        })
    }

    fn join(&self) -> String {
        let mut s = format!("{}://{}{}", self.scheme, self.authority, self.path);
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        if let Some(f) = &self.fragment {
            s.push('#');
            s.push_str(f);
        }
        s
    }

    /// (userinfo with its '@', host, port with its ':')
    fn authority_parts(&self) -> (String, String, String) {
        let (userinfo, hostport) = match self.authority.rfind('@') {
            Some(i) => (&self.authority[..=i], &self.authority[i + 1..]),
            None => ("", self.authority.as_str()),
        };
        let port_at = match hostport.rfind(':') {
            Some(i) if !hostport[i..].contains(']') => i,
            _ => hostport.len(),
        };
        (
            userinfo.to_owned(),
            hostport[..port_at].to_owned(),
            hostport[port_at..].to_owned(),
        )
    }
}

impl HtuVariant {
    /// The changed URI; a string that is not `scheme://…` comes back unchanged.
    pub fn apply(&self, uri: &str) -> String {
        let Some(mut p) = Parts::split(uri) else {
            return uri.to_owned();
        };
        let (userinfo, host, port) = p.authority_parts();
        match self {
            HtuVariant::QueryFragment { query, fragment } => {
                p.query = query.clone();
                p.fragment = fragment.clone();
            }
            HtuVariant::UpperCaseSchemeHost => {
                p.scheme = p.scheme.to_ascii_uppercase();
                p.authority = format!("{userinfo}{}{port}", host.to_ascii_uppercase());
            }
            HtuVariant::ExplicitDefaultPort => {
                if port.is_empty() {
                    let default = if p.scheme.eq_ignore_ascii_case("http") {
                        80
                    } else {
                        443
                    };
                    p.authority = format!("{userinfo}{host}:{default}");
                }
            }
            HtuVariant::PercentEncodeUnreserved => {
                if let Some(i) = p.path.bytes().position(is_unreserved) {
                    let b = p.path.as_bytes()[i];
                    p.path = format!("{}%{b:02X}{}", &p.path[..i], &p.path[i + 1..]);
                }
            }
            HtuVariant::TrailingSlash => {
                if p.path.len() > 1 && p.path.ends_with('/') {
                    p.path.pop();
                } else {
                    p.path.push('/');
                }
            }
            HtuVariant::Scheme(s) => p.scheme = s.clone(),
            HtuVariant::Host(h) => p.authority = format!("{userinfo}{h}{port}"),
            HtuVariant::Port(n) => p.authority = format!("{userinfo}{host}:{n}"),
            HtuVariant::Path(path) => p.path = path.clone(),
        }
        p.join()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "https://mcp.test/mcp";

    #[test]
    fn normalisation_equates_what_rfc3986_equates() {
        for same in [
            "https://mcp.test/mcp",
            "HTTPS://MCP.test:443/mcp?x#y",
            "https://mcp.test/mcp?x=1",
            "https://mcp.test/mcp#frag",
            "https://mcp.test/m%63p",
            "https://mcp.test/%6dcp",
            "https://mcp.test/a/../mcp",
            "https://mcp.test/./mcp",
        ] {
            assert_eq!(matches(same, E), Ok(true), "{same}");
        }
        assert_eq!(normalize("https://mcp.test").unwrap(), "https://mcp.test/");
        assert_eq!(normalize("http://mcp.test:80").unwrap(), "http://mcp.test/");
        assert_eq!(
            normalize("https://mcp.test/%7e/%2f%c3").unwrap(),
            "https://mcp.test/~/%2F%C3"
        );
        assert_eq!(
            normalize("https://mcp.test:8443/x").unwrap(),
            "https://mcp.test:8443/x"
        );
    }

    #[test]
    fn normalisation_keeps_apart_what_differs() {
        for other in [
            "https://mcp.test/mcp/",
            "https://other.test/mcp",
            "https://mcp.test:8443/mcp",
            "http://mcp.test/mcp",
            "https://mcp.test/MCP",
            "https://mcp.test/other-mcp",
        ] {
            assert_eq!(matches(other, E), Ok(false), "{other}");
        }
    }

    #[test]
    fn what_only_a_whatwg_parser_would_accept_is_refused() {
        assert!(matches!(
            normalize("https://mcp.test/m\tcp"),
            Err(HtuError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            normalize("https:\\\\mcp.test\\mcp"),
            Err(HtuError::InvalidCharacter { .. })
        ));
        assert_eq!(normalize("https:mcp.test/mcp"), Err(HtuError::NoAuthority));
        assert_eq!(normalize("ftp://mcp.test/mcp"), Err(HtuError::NotHttp));
        assert_eq!(normalize("/mcp"), Err(HtuError::NotHttp));
        assert_eq!(
            normalize("https://mcp.test/%zz"),
            Err(HtuError::BadPercentEncoding { offset: 17 })
        );
        assert_eq!(
            normalize("https://mcp.test/%4"),
            Err(HtuError::BadPercentEncoding { offset: 17 })
        );
        assert!(normalize("https://mcp.tést/mcp").is_err());
        assert!(normalize(" https://mcp.test/mcp").is_err());
    }

    #[test]
    fn variants_change_only_what_they_name() {
        let v = |variant: HtuVariant| variant.apply(E);
        assert_eq!(
            v(HtuVariant::QueryFragment {
                query: Some("x=1".into()),
                fragment: Some("f".into())
            }),
            "https://mcp.test/mcp?x=1#f"
        );
        assert_eq!(v(HtuVariant::UpperCaseSchemeHost), "HTTPS://MCP.TEST/mcp");
        assert_eq!(
            v(HtuVariant::ExplicitDefaultPort),
            "https://mcp.test:443/mcp"
        );
        assert_eq!(
            v(HtuVariant::PercentEncodeUnreserved),
            "https://mcp.test/%6Dcp"
        );
        assert_eq!(
            HtuVariant::PercentEncodeUnreserved.apply("https://h/~x"),
            "https://h/%7Ex"
        );
        assert_eq!(v(HtuVariant::TrailingSlash), "https://mcp.test/mcp/");
        assert_eq!(
            HtuVariant::TrailingSlash.apply("https://mcp.test/mcp/"),
            "https://mcp.test/mcp"
        );
        assert_eq!(v(HtuVariant::Scheme("http".into())), "http://mcp.test/mcp");
        assert_eq!(v(HtuVariant::Host("o.test".into())), "https://o.test/mcp");
        assert_eq!(v(HtuVariant::Port(8443)), "https://mcp.test:8443/mcp");
        assert_eq!(
            HtuVariant::Port(1).apply("https://u@[::1]:5/p"),
            "https://u@[::1]:1/p"
        );
        assert_eq!(v(HtuVariant::Path("/x".into())), "https://mcp.test/x");
        // The accepted variants normalise back; the refused ones do not.
        for accepted in [
            HtuVariant::UpperCaseSchemeHost,
            HtuVariant::ExplicitDefaultPort,
            HtuVariant::PercentEncodeUnreserved,
        ] {
            assert_eq!(matches(&v(accepted.clone()), E), Ok(true), "{accepted:?}");
        }
        assert_eq!(matches(&v(HtuVariant::TrailingSlash), E), Ok(false));
    }
}
