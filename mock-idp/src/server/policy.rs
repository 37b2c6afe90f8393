//! Scope (RFC 6749 §3.3) and resource-indicator (RFC 8707) policy shared by the authorization
//! and token endpoints.

use serde_json::{Value, json};

use super::AsFault;
use super::clients::Client;
use super::config::IdpConfig;
use super::error::OAuthError;
use super::state::Shared;

/// The scope to grant for a request: the requested scopes if each is supported and allowed
/// to the client, else the client's registered scope or the configured default.
pub(crate) fn grant_scope(
    shared: &Shared,
    client: &Client,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(client
            .scope
            .clone()
            .unwrap_or_else(|| shared.config.default_scope.clone()));
    };
    let tokens = scope_tokens(requested)?;
    if let Some(unknown) = tokens.iter().find(|t| !shared.supports_scope(t)) {
        return Err(OAuthError::invalid_scope(format!(
            "unknown scope {unknown}"
        )));
    }
    if !client.allows_scopes(tokens.iter().copied()) {
        return Err(OAuthError::invalid_scope(
            "scope exceeds what the client may obtain",
        ));
    }
    Ok(tokens.join(" "))
}

/// A refresh request's scope: at most what was granted (OAuth 2.1 §4.3.1).
pub(crate) fn narrow_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_owned());
    };
    let tokens = scope_tokens(requested)?;
    match tokens
        .iter()
        .find(|t| !granted.split(' ').any(|g| g == **t))
    {
        Some(extra) => Err(OAuthError::invalid_scope(format!(
            "scope {extra} was not granted"
        ))),
        None => Ok(tokens.join(" ")),
    }
}

/// Splits a scope string: `scope-token *( SP scope-token )`, NQCHAR tokens, duplicates
/// dropped.
fn scope_tokens(scope: &str) -> Result<Vec<&str>, OAuthError> {
    let mut out: Vec<&str> = Vec::new();
    for t in scope.split(' ') {
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if t.is_empty() || !t.bytes().all(nqchar) {
            return Err(OAuthError::invalid_scope("malformed scope"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Validates `resource` values: absolute URIs without a fragment (RFC 8707 §2), and listed
/// when an allow-list is configured.
pub(crate) fn check_resources<'a>(
    config: &IdpConfig,
    values: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in values {
        if r.contains('#') || url::Url::parse(r).is_err() {
            return Err(OAuthError::invalid_target(format!(
                "resource {r} is not an absolute URI without a fragment"
            )));
        }
        if !config.faults.contains(&AsFault::ResourceAny) && !is_known_resource(config, r) {
            return Err(OAuthError::invalid_target(format!("unknown resource {r}")));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_owned());
        }
    }
    Ok(out)
}

/// A resource this server may issue tokens for: one of `allowed_resources` when configured;
/// otherwise any (the mock IdP serves whatever server it is pointed at) except a host no
/// resource server can have, under the reserved `.invalid` name (RFC 6761 §6.4).
fn is_known_resource(config: &IdpConfig, resource: &str) -> bool {
    if let Some(allowed) = &config.allowed_resources {
        return allowed.iter().any(|a| a == resource);
    }
    let host = url::Url::parse(resource).ok().and_then(|u| {
        u.host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    });
    !host.is_some_and(|h| h == "invalid" || h.ends_with(".invalid"))
}

/// Requested resources must be among the granted ones (RFC 8707 §2.2); none means all.
pub(crate) fn narrow_resources(
    granted: &[String],
    requested: Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    match requested.iter().find(|r| !granted.contains(r)) {
        Some(r) => Err(OAuthError::invalid_target(format!(
            "resource {r} was not granted"
        ))),
        None => Ok(requested),
    }
}

/// Resources when redeeming a user's grant (a code, an approved device): a grant that named
/// none allows any requested; otherwise the request narrows within it.
pub(crate) fn resources_within_grant(
    granted: &[String],
    requested: Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    if granted.is_empty() {
        Ok(requested)
    } else {
        narrow_resources(granted, requested)
    }
}

/// `aud`: the single resource, an array of several, or the default audience.
pub(crate) fn audience(config: &IdpConfig, resources: &[String]) -> Value {
    match resources {
        [] => json!(config.default_audience),
        [one] => json!(one),
        many => json!(many),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_policy() {
        let config = IdpConfig::default();
        let cimd = super::super::cimd::CimdResolver::new(&config.cimd, &config.faults).unwrap();
        let cfg = Shared::new(Vec::new(), config, String::new(), cimd);
        let mut c = Client::public("p", &[]);
        assert_eq!(grant_scope(&cfg, &c, None).unwrap(), "mcp:read");
        assert_eq!(
            grant_scope(&cfg, &c, Some("mcp:write mcp:read mcp:write")).unwrap(),
            "mcp:write mcp:read"
        );
        for bad in [
            "__invalid__",
            "mcp:read  mcp:write",
            "mcp:read\"",
            " mcp:read",
        ] {
            assert_eq!(
                grant_scope(&cfg, &c, Some(bad)).unwrap_err().error,
                "invalid_scope",
                "{bad}"
            );
        }
        assert!(grant_scope(&cfg, &c, Some("mcp:tools")).is_err());
        // A resource server the run registered gets the scopes it requires.
        cfg.register_resource(
            "https://mcp.test/mcp",
            super::super::state::ResourceProfile {
                scopes: vec!["mcp:tools".into()],
                signing_alg: crate::alg::Algorithm::Rs256,
            },
        );
        assert_eq!(
            grant_scope(&cfg, &c, Some("mcp:tools")).unwrap(),
            "mcp:tools"
        );
        c.scope = Some("mcp:read".into());
        assert!(grant_scope(&cfg, &c, Some("mcp:write")).is_err());
        assert_eq!(narrow_scope("a b", Some("b")).unwrap(), "b");
        assert_eq!(narrow_scope("a b", None).unwrap(), "a b");
        assert_eq!(
            narrow_scope("a", Some("a c")).unwrap_err().error,
            "invalid_scope"
        );
    }

    #[test]
    fn resource_policy() {
        let mut cfg = IdpConfig::default();
        let ok = check_resources(
            &cfg,
            ["https://a/mcp", "https://a/mcp", "urn:x"].into_iter(),
        );
        assert_eq!(ok.unwrap(), ["https://a/mcp", "urn:x"]);
        for bad in ["/mcp", "https://a/mcp#f", "mcp"] {
            assert_eq!(
                check_resources(&cfg, [bad].into_iter()).unwrap_err().error,
                "invalid_target"
            );
        }
        cfg.allowed_resources = Some(vec!["https://a/mcp".into()]);
        assert!(check_resources(&cfg, ["https://b/mcp"].into_iter()).is_err());
        let granted = vec!["https://a/mcp".to_string()];
        assert_eq!(narrow_resources(&granted, vec![]).unwrap(), granted);
        assert!(narrow_resources(&granted, vec!["https://b".into()]).is_err());
        assert_eq!(
            resources_within_grant(&[], vec!["https://b".into()]).unwrap(),
            ["https://b"]
        );
        assert!(resources_within_grant(&granted, vec!["https://b".into()]).is_err());
        assert_eq!(audience(&cfg, &[]), json!(cfg.default_audience));
        assert_eq!(audience(&cfg, &granted), json!("https://a/mcp"));
    }
}
