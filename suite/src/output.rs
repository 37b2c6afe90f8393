//! From a check's outcome to the record every report sink reads. This is where secrets leave
//! the picture: credentials become fingerprints with their decoded, non-secret header and
//! claims beside them, so no sink ever holds a token.

use mock_idp::jws::{Jws, ParseOptions};
use reports::record::{
    CheckRecord, CredentialRecord, ExchangeOutcome, ExchangeRecord, RequestRecord, ResponseRecord,
    SpecRefRecord,
};
use serde_json::Value;

use crate::check::{CheckMeta, Outcome};
use crate::http::Exchange;
use crate::http::redact::{
    credential_parameter_values, fingerprint, redact_header_value, redact_json_body,
    redact_request, without_private_key_members,
};
use crate::model::duration_ms;

/// Response bodies are cut to this many bytes in reports (the evidence is the start).
const BODY_REPORT_BYTES: usize = 4096;

/// The record of one finished check. The message and Actual quote what the target answered,
/// so any credential the check sent is scrubbed from them as from the exchanges.
pub fn record(meta: &CheckMeta, outcome: &Outcome) -> CheckRecord {
    let mut sent: Vec<String> = outcome.evidence.iter().flat_map(sent_credentials).collect();
    sent.sort_by_key(|c| std::cmp::Reverse(c.len()));
    sent.dedup();
    let scrub = |text: &str| {
        sent.iter().fold(text.to_owned(), |text, credential| {
            text.replace(credential.as_str(), &fingerprint(credential))
        })
    };
    CheckRecord {
        id: meta.id.to_owned(),
        row: meta.row.to_owned(),
        title: meta.title.to_owned(),
        summary: meta.summary.to_owned(),
        level: meta.level,
        verdict: outcome.verdict,
        message: scrub(&outcome.message),
        expected: outcome.expected.clone(),
        actual: scrub(&outcome.actual),
        evidence: outcome.evidence.iter().map(exchange).collect(),
        duration_ms: duration_ms(&outcome.duration),
        refs: meta
            .refs
            .iter()
            .map(|r| SpecRefRecord {
                source: r.source.to_owned(),
                section: r.section.to_owned(),
                requirement: r.requirement.to_owned(),
                url: r.url.to_owned(),
            })
            .collect(),
        tags: meta.tags.iter().map(|t| (*t).to_owned()).collect(),
        baseline: None,
    }
}

/// The redacted record of an exchange.
pub fn exchange(e: &Exchange) -> ExchangeRecord {
    let request = redact_request(&e.request);
    let sent = sent_credentials(e);
    // A hostile target may echo the credential back: it is replaced wherever it appears.
    let scrub = |text: String| {
        sent.iter().fold(text, |text, credential| {
            text.replace(credential.as_str(), &fingerprint(credential))
        })
    };
    let outcome = match &e.response {
        Ok(r) => ExchangeOutcome::Response(ResponseRecord {
            status: r.status,
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), scrub(redact_header_value(n, v))))
                .collect(),
            // Scrubbed whole, then cut: a cut JSON body would no longer parse.
            body: scrub(
                redact_json_body(without_published_private_keys(
                    String::from_utf8_lossy(&r.body).into_owned(),
                ))
                .chars()
                .scan(0usize, |bytes, c| {
                    *bytes += c.len_utf8();
                    (*bytes <= BODY_REPORT_BYTES).then_some(c)
                })
                .collect(),
            ),
            truncated: r.truncated || r.body.len() > BODY_REPORT_BYTES,
            body_incomplete: r.body_incomplete.clone(),
        }),
        Err(err) => ExchangeOutcome::Error(err.to_string()),
    };
    ExchangeRecord {
        request: RequestRecord {
            method: request.method,
            url: request.url,
            headers: request.headers,
        },
        outcome,
        elapsed_ms: duration_ms(&e.elapsed),
        retried_after: e.retried_after.as_ref().map(ToString::to_string),
        credentials: credentials(e),
    }
}

/// A JSON body with every private member of every JWK in it replaced (an authorization
/// server that publishes its private keys must not have them republished by our reports);
/// any other body, and a JSON body without private members, is kept byte for byte.
fn without_published_private_keys(body: String) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
        return body;
    };
    let scrubbed = without_private_key_members(value.clone());
    if scrubbed == value {
        body
    } else {
        serde_json::to_string(&scrubbed).unwrap_or_default()
    }
}

/// The raw credential strings a request carried (at least 8 characters: shorter ones are not
/// secrets worth scrubbing and would mangle ordinary text).
fn sent_credentials(e: &Exchange) -> Vec<String> {
    let mut sent: Vec<String> = credentials_with_carriers(e)
        .into_iter()
        .map(|(_, _, credential)| credential)
        // A form's credentials (a code, a PKCE verifier, a refresh token) may be echoed too.
        .chain(
            e.request
                .body
                .as_deref()
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(credential_parameter_values)
                .unwrap_or_default(),
        )
        .filter(|c| c.len() >= 8)
        .collect();
    // Longest first, so a token is replaced before any shorter credential inside it.
    sent.sort_by_key(|c| std::cmp::Reverse(c.len()));
    sent
}

/// The credentials a request carried (from the unredacted request), each fingerprinted and,
/// when it is a JWS, decoded.
fn credentials(e: &Exchange) -> Vec<CredentialRecord> {
    credentials_with_carriers(e)
        .into_iter()
        .map(|(carrier, scheme, credential)| credential_record(carrier, scheme, &credential))
        .collect()
}

/// (carrier, scheme, credential) for every credential in the request.
fn credentials_with_carriers(e: &Exchange) -> Vec<(String, Option<String>, String)> {
    let mut found = Vec::new();
    for (name, value) in &e.request.headers {
        let carrier = name.to_ascii_lowercase();
        let (scheme, credential) = match carrier.as_str() {
            "authorization" => match value.split_once(' ') {
                Some((scheme, rest)) => (Some(scheme.to_owned()), rest.trim()),
                None => (None, value.trim()),
            },
            "dpop" => (None, value.trim()),
            _ => continue,
        };
        found.push((carrier, scheme, credential.to_owned()));
    }
    if let Some((_, query)) = e.request.url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("access_token", token)) = pair.split_once('=') {
                found.push(("query".into(), None, token.to_owned()));
            }
        }
    }
    found
}

fn credential_record(
    carrier: String,
    scheme: Option<String>,
    credential: &str,
) -> CredentialRecord {
    let (jose_header, claims) = decode(credential);
    CredentialRecord {
        carrier,
        scheme,
        fingerprint: fingerprint(credential),
        jose_header,
        claims,
    }
}

/// The JOSE header and claims of a compact JWS, read leniently (a forged token is evidence
/// too), without the private members of any JWK in them. The signature is never shown.
fn decode(credential: &str) -> (Option<Value>, Option<Value>) {
    let Ok(jws) = Jws::parse_with(credential, &ParseOptions::lenient()) else {
        return (None, None);
    };
    let header = Some(without_private_key_members(Value::Object(
        jws.header().to_map(),
    )));
    let claims = jws
        .claims_lenient()
        .ok()
        .map(|c| without_private_key_members(Value::Object(c.to_map())));
    (header, claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::http::ProbeRequest;
    use std::time::Duration;

    #[test]
    fn a_published_private_key_is_not_republished_by_the_report() {
        let key = mock_idp::keys::SigningKey::generate(mock_idp::alg::Algorithm::Rs256).unwrap();
        let private = key.private_jwk();
        // Padded past the report's body limit: it is scrubbed before it is cut.
        let jwks = serde_json::json!({"keys": [private], "pad": "x".repeat(5000)}).to_string();
        let e = Exchange {
            request: ProbeRequest::new("GET", "http://127.0.0.1:1/jwks"),
            response: Ok(crate::http::RecordedResponse::fake(200, &[], &jwks)),
            elapsed: Duration::from_millis(1),
            retried_after: None,
        };
        let text = serde_json::to_string(&exchange(&e)).unwrap();
        for member in ["d", "p", "q", "dp", "dq", "qi"] {
            let value = private[member].as_str().unwrap();
            assert!(!text.contains(&value[..32]), "{member} republished");
        }
        assert!(text.contains(crate::http::redact::PRIVATE_MEMBER_REMOVED));
        // A body without private members is kept byte for byte.
        let public = serde_json::json!({"keys": [key.public_jwk().to_json()]}).to_string();
        let e = Exchange {
            response: Ok(crate::http::RecordedResponse::fake(200, &[], &public)),
            ..e
        };
        match exchange(&e).outcome {
            ExchangeOutcome::Response(r) => assert_eq!(r.body, public),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_becomes_a_fingerprint_with_its_decoded_parts() {
        let key = mock_idp::keys::SigningKey::generate(mock_idp::alg::Algorithm::Es256).unwrap();
        let token = mock_idp::token::TokenSpec::new()
            .claim("sub", "alice")
            .mint(&key);
        let e = Exchange {
            request: ProbeRequest {
                method: "POST".into(),
                url: format!("http://127.0.0.1:1/mcp?access_token={token}"),
                headers: vec![("Authorization".into(), format!("Bearer {token}"))],
                body: None,
            },
            response: Err(crate::http::TransportError::NoAnswer(
                crate::http::NoAnswer::TimedOut(Duration::from_secs(1)),
            )),
            elapsed: Duration::from_millis(3),
            retried_after: None,
        };
        let r = exchange(&e);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains(&token), "{text}");
        let sig = token.rsplit('.').next().unwrap();
        assert!(!text.contains(sig), "{text}");
        assert_eq!(r.credentials.len(), 2);
        let bearer = &r.credentials[0];
        assert_eq!(bearer.scheme.as_deref(), Some("Bearer"));
        assert_eq!(bearer.fingerprint, fingerprint(&token));
        assert_eq!(bearer.claims.as_ref().unwrap()["sub"], "alice");
        assert_eq!(bearer.jose_header.as_ref().unwrap()["alg"], "ES256");
        assert_eq!(r.credentials[1].carrier, "query");
        assert!(matches!(r.outcome, ExchangeOutcome::Error(_)));
    }

    #[test]
    fn a_credential_quoted_in_the_message_or_actual_is_scrubbed() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        let e = Exchange {
            request: ProbeRequest {
                method: "POST".into(),
                url: "http://127.0.0.1:1/mcp".into(),
                headers: vec![("authorization".into(), format!("Bearer {token}"))],
                body: None,
            },
            response: Err(crate::http::TransportError::NoAnswer(
                crate::http::NoAnswer::TimedOut(Duration::from_secs(1)),
            )),
            elapsed: Duration::from_millis(1),
            retried_after: None,
        };
        let outcome = Outcome {
            actual: format!("HTTP 401; body {{\"got\":\"{token}\"}}"),
            evidence: vec![e],
            ..Outcome::new(crate::model::Verdict::Fail, format!("echoed {token}"))
        };
        let meta = crate::catalog::all()[0].meta;
        let r = record(&meta, &outcome);
        assert!(
            !r.message.contains(token) && !r.actual.contains(token),
            "{r:?}"
        );
        assert!(r.actual.contains(&fingerprint(token)), "{}", r.actual);
    }

    #[test]
    fn a_credential_echoed_by_the_target_is_scrubbed_from_the_response() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        let e = Exchange {
            request: ProbeRequest {
                method: "POST".into(),
                url: "http://127.0.0.1:1/mcp".into(),
                headers: vec![("authorization".into(), format!("Bearer {token}"))],
                body: None,
            },
            response: Ok(crate::http::RecordedResponse {
                status: 401,
                headers: vec![("x-echo".into(), format!("got {token}"))],
                body: format!("{{\"your_token\":\"{token}\"}}").into_bytes(),
                truncated: false,
                body_incomplete: None,
            }),
            elapsed: Duration::from_millis(1),
            retried_after: None,
        };
        let text = serde_json::to_string(&exchange(&e)).unwrap();
        assert!(!text.contains(token), "{text}");
        assert!(text.contains(&fingerprint(token)), "{text}");
    }
}
