//! Client authentication at the token and introspection endpoints (RFC 6749 §2.3,
//! OAuth 2.1 §2.4): `client_secret_basic`, `client_secret_post`, and `none` for public clients.
//!
//! Failures through the `Authorization` header, and requests with no credentials at all, get
//! `401 invalid_client` with a `Basic` challenge; failures through body parameters get
//! `400 invalid_client`. A confidential client may use either secret method.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::http::{HeaderMap, header};
use base64::Engine as _;

use super::cimd::{CimdLookup, NoClient};
use super::clients::Client;
use super::error::OAuthError;
use super::params::{Params, form_decode};
use super::state::IssuerState;

/// Credentials as presented.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    Basic { id: String, secret: String },
    Body { id: String, secret: Option<String> },
}

/// Authenticates the client of a request; returns a copy of its registration. `cimd` is the
/// request's URL `client_id` resolved beforehand (spec §2.7): a document that could not be used
/// gets `401 invalid_client`.
pub(crate) fn authenticate(
    st: &IssuerState,
    headers: &HeaderMap,
    params: &Params,
    cimd: &CimdLookup,
) -> Result<Client, OAuthError> {
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        return Err(OAuthError::invalid_client(
            "client assertions (private_key_jwt) are not supported",
        ));
    }
    match presented(headers, params)? {
        Presented::Basic { id, secret } => {
            let client = cimd.find(st, &id).map_err(|_| {
                OAuthError::invalid_client_challenge("unknown client or wrong secret")
            })?;
            match &client.client_secret {
                Some(expected) if secret_matches(expected, &secret) => Ok(client.clone()),
                None if secret.is_empty() => Ok(client.clone()),
                _ => Err(OAuthError::invalid_client_challenge(
                    "unknown client or wrong secret",
                )),
            }
        }
        Presented::Body { id, secret } => {
            let client = cimd.find(st, &id).map_err(|no| match no {
                NoClient::Unregistered => OAuthError::invalid_client("unknown client"),
                NoClient::Document(_) => OAuthError::invalid_client_challenge(no.reason("")),
            })?;
            match (&client.client_secret, secret) {
                (Some(expected), Some(given)) if secret_matches(expected, &given) => {
                    Ok(client.clone())
                }
                (Some(_), Some(_)) => Err(OAuthError::invalid_client("wrong client secret")),
                (Some(_), None) => Err(OAuthError::invalid_client(
                    "confidential client must authenticate",
                )),
                (None, None) => Ok(client.clone()),
                (None, Some(_)) => Err(OAuthError::invalid_client(
                    "public client must not send a client secret",
                )),
            }
        }
    }
}

fn secret_matches(expected: &str, given: &str) -> bool {
    verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_ok()
}

fn presented(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let Some(value) = first else {
        return match body_id {
            Some(id) => Ok(Presented::Body {
                id: id.to_owned(),
                secret: body_secret.map(str::to_owned),
            }),
            None if body_secret.is_some() => Err(OAuthError::invalid_request(
                "client_secret without client_id",
            )),
            None => Err(OAuthError::invalid_client_challenge(
                "client authentication required",
            )),
        };
    };
    let (id, secret) = parse_basic(value.as_bytes())
        .ok_or_else(|| OAuthError::invalid_client_challenge("malformed Basic credentials"))?;
    if body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method",
        ));
    }
    if body_id.is_some_and(|b| b != id) {
        return Err(OAuthError::invalid_request(
            "client_id differs from the authenticated client",
        ));
    }
    Ok(Presented::Basic { id, secret })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1); the scheme name is
/// case-insensitive.
fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    (!id.is_empty()).then_some(())?;
    Some((id, form_decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::clients::{
        CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, PUBLIC_CLIENT_ID,
    };

    /// Authentication of a request naming no URL client id.
    fn authenticate(st: &IssuerState, h: &HeaderMap, p: &Params) -> Result<Client, OAuthError> {
        super::authenticate(st, h, p, &CimdLookup::default())
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn basic_post_and_none() {
        let st = IssuerState::new(Client::preregistered());
        let empty = Params::default();
        let ok = authenticate(
            &st,
            &basic(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
            &empty,
        );
        assert_eq!(ok.unwrap().client_id, CONFIDENTIAL_CLIENT_ID);
        let bad = authenticate(&st, &basic(CONFIDENTIAL_CLIENT_ID, "nope"), &empty).unwrap_err();
        assert_eq!((bad.status.as_u16(), bad.error), (401, "invalid_client"));
        assert!(bad.basic_challenge);
        let post = Params::parse(
            format!(
                "client_id={CONFIDENTIAL_CLIENT_ID}&client_secret={CONFIDENTIAL_CLIENT_SECRET}"
            )
            .as_bytes(),
        );
        assert!(authenticate(&st, &HeaderMap::new(), &post).is_ok());
        let wrong =
            Params::parse(format!("client_id={CONFIDENTIAL_CLIENT_ID}&client_secret=x").as_bytes());
        let e = authenticate(&st, &HeaderMap::new(), &wrong).unwrap_err();
        assert_eq!((e.status.as_u16(), e.error), (400, "invalid_client"));
        let public = Params::parse(format!("client_id={PUBLIC_CLIENT_ID}").as_bytes());
        assert!(authenticate(&st, &HeaderMap::new(), &public).is_ok());
        let e = authenticate(&st, &HeaderMap::new(), &Params::default()).unwrap_err();
        assert_eq!((e.status.as_u16(), e.basic_challenge), (401, true));
        let both = authenticate(
            &st,
            &basic(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
            &post,
        )
        .unwrap_err();
        assert_eq!(both.error, "invalid_request");
    }

    #[test]
    fn basic_parsing() {
        assert_eq!(
            parse_basic(b"basic YSUzQWI6cyUyNg=="),
            Some(("a:b".into(), "s&".into()))
        );
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Basic YWJj"), None, "no colon");
        assert_eq!(parse_basic(b"Basic OnM="), None, "empty id");
    }
}
