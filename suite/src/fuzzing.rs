//! Fuzzing entry points for the wire parsers: one function per fuzz target, holding the logic
//! and its assertions (the JOSE/DPoP targets live in `mock_idp::fuzzing`).
//!
//! `fuzz/fuzz_targets/*.rs` call these; `tests/fuzz_corpus.rs` replays the checked-in corpus
//! and saved reproducers through them on stable. They panic only on a broken invariant.

use std::fmt::Write;

use serde_json::Value;

use crate::wire::metadata::{self, Finding};
use crate::wire::www_authenticate;

/// The resource the PRM target's documents are fetched for.
pub const RESOURCE: &str = "https://mcp.fuzz.test/mcp";
/// The issuer the AS metadata target's documents are fetched for.
pub const ISSUER: &str = "https://idp.fuzz.test/trusted";

/// Target `www_authenticate`: one field value per line.
///
/// Invariants: no panic; whatever parses serialises to a field value that parses back to the
/// same challenges (names, order, token68 and parameter values); a scheme is never empty and a
/// challenge has a token68 or parameters, not both. (`parse_all`, a loop over `parse`, has its
/// own property in `tests/properties.rs`: re-parsing every line here for it cost a third of
/// each execution.)
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        let Ok(list) = www_authenticate::parse(line) else {
            continue;
        };
        let mut serialised = String::with_capacity(line.len() + 8);
        for (i, challenge) in list.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(serialised, "{separator}{challenge}").expect("writing to a String");
        }
        let back = www_authenticate::parse(&serialised).unwrap_or_else(|e| {
            panic!("{line:?} parsed, its serialisation {serialised:?} does not: {e}")
        });
        assert_eq!(back, list, "{line:?} → {serialised:?} → another list");
        for challenge in &list {
            assert!(!challenge.scheme.is_empty());
            assert!(challenge.token68.is_none() || challenge.params.is_empty());
            let _ = challenge.duplicate_params();
        }
    }
}

/// Invariant both metadata parsers share: each duplicate member is a finding. (That a
/// document is returned exactly when the bytes are a JSON object, and that findings are
/// deterministic, hold by construction — the parsers start with `JsonObject::parse` and build
/// findings from ordered lists — and cost two more parses per execution to re-check here.)
fn metadata_invariants(
    parsed: Result<metadata::Document, metadata::MetadataError>,
) -> Option<metadata::Document> {
    let doc = parsed.ok()?;
    for dup in doc.object.duplicates() {
        assert!(
            doc.has(&Finding::Duplicate(dup.clone())),
            "{dup} not reported"
        );
    }
    Some(doc)
}

/// Target `prm`: protected resource metadata (RFC 9728) fetched for [`RESOURCE`].
///
/// Invariants, beyond the shared ones: `resource` and `authorization_servers` are reported
/// missing exactly when absent; an identifier mismatch is reported exactly when `resource` is
/// a string other than [`RESOURCE`], and never when the document is read for its own resource.
pub fn prm(data: &[u8]) {
    let Some(doc) = metadata_invariants(metadata::parse_prm(data, RESOURCE)) else {
        return;
    };
    for member in ["resource", "authorization_servers"] {
        assert_eq!(
            doc.has(&Finding::Missing(member)),
            !doc.object.contains(member)
        );
    }
    let mismatch = |doc: &metadata::Document| {
        doc.findings
            .iter()
            .any(|f| matches!(f, Finding::IdentifierMismatch { .. }))
    };
    let resource = doc.object.get("resource").and_then(Value::as_str);
    assert_eq!(mismatch(&doc), resource.is_some_and(|r| r != RESOURCE));
    if let Some(own) = resource {
        let for_itself = metadata::parse_prm(data, own).expect("parsed once");
        assert!(!mismatch(&for_itself));
    }
}

/// Target `as_metadata`: authorization server metadata (RFC 8414) fetched for [`ISSUER`].
///
/// Invariants, beyond the shared ones: the four required members are reported missing exactly
/// when absent; `NoS256` exactly when `code_challenge_methods_supported` lacks `S256`; an
/// issuer mismatch exactly when `issuer` is a string other than [`ISSUER`].
pub fn as_metadata(data: &[u8]) {
    let Some(doc) = metadata_invariants(metadata::parse_as_metadata(data, ISSUER)) else {
        return;
    };
    for member in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "response_types_supported",
    ] {
        assert_eq!(
            doc.has(&Finding::Missing(member)),
            !doc.object.contains(member)
        );
    }
    let s256 = doc
        .object
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|m| m == "S256"));
    assert_eq!(doc.has(&Finding::NoS256), !s256);
    let issuer = doc.object.get("issuer").and_then(Value::as_str);
    let mismatch = doc
        .findings
        .iter()
        .any(|f| matches!(f, Finding::IdentifierMismatch { .. }));
    assert_eq!(mismatch, issuer.is_some_and(|i| i != ISSUER));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_take_real_and_garbage_input() {
        for data in [
            &b""[..],
            b"\xff",
            b"{}",
            br#"Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource", scope="mcp""#,
            b"Bearer, DPoP algs=\"ES256\"\nBasic realm=x",
            br#"{"resource":"https://mcp.fuzz.test/mcp","authorization_servers":["https://idp.fuzz.test/trusted"],"resource":1}"#,
        ] {
            www_authenticate(data);
            prm(data);
            as_metadata(data);
        }
    }
}
