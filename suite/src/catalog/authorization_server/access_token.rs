//! Spec §2.4: the JWT access tokens the authorization server issues (RFC 9068), read from the
//! answer to a valid code redemption (the token engine's positive control, [`Setup::Tokens`]).
//! An opaque access token has nothing to read: the rows Skip. The header and claims are read
//! as the authorization server wrote them; the signature is verified with the keys of its
//! `jwks_uri`, as any resource server would.

use mock_idp::alg::Algorithm;
use mock_idp::jwk::JwkSet;
use mock_idp::jws::{Jws, ParseOptions, Verifier};
use mock_idp::keys::VerifyingKey;
use serde_json::Value;

use crate::catalog::rfc;
use crate::check::CheckMeta;
use crate::model::Level;

use super::token::{CODE, Plan, Prepared, Redeemed, Setup, TokenRow, graded, rule};
use super::{Judged, as_meta, under_rfc9068};

const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";
const RFC8725: &str = "https://www.rfc-editor.org/rfc/rfc8725";

/// The claims RFC 9068 §2.2 requires in every JWT access token.
const REQUIRED_CLAIMS: [&str; 7] = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

/// The access token of the redemption as a JWS, or why the row has nothing to read.
fn access_jws(r: &Redeemed) -> Result<Jws, Judged> {
    let token = r.str("access_token").unwrap_or_default();
    Jws::parse_with(token, &ParseOptions::lenient()).map_err(|_| {
        Judged::NotApplicable(
            "the access token is opaque (not a JWS): RFC 9068 concerns JWT access tokens".into(),
        )
    })
}

fn did(what: String) -> String {
    format!("the authorization server answered a valid code redemption with an access token {what}")
}

fn typ(_: &Prepared, r: &Redeemed) -> Judged {
    let jws = match access_jws(r) {
        Ok(jws) => jws,
        Err(skip) => return skip,
    };
    let typ = jws.header().get_str("typ");
    // Media types compare case-insensitively; `application/` may be omitted (RFC 7515 §4.1.9).
    let explicit = typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    let seen = typ.map_or_else(|| "no typ".to_owned(), |t| format!("typ {t:?}"));
    graded(
        vec![rule(
            Level::Must,
            "the access token's header has typ at+jwt (or application/at+jwt)",
            explicit,
            &did(format!("whose header has {seen}")),
        )],
        format!("the access token's header has {seen}"),
    )
}

fn claims(p: &Prepared, r: &Redeemed) -> Judged {
    let jws = match access_jws(r) {
        Ok(jws) => jws,
        Err(skip) => return skip,
    };
    let Ok(claims) = jws.claims_lenient() else {
        return graded(
            vec![rule(
                Level::Must,
                "the access token's payload is a JSON object of claims",
                false,
                &did("whose payload is not a JSON object".into()),
            )],
            String::new(),
        );
    };
    let missing: Vec<&str> = REQUIRED_CLAIMS
        .into_iter()
        .filter(|c| claims.get(c).is_none_or(Value::is_null))
        .collect();
    let mut assertions = vec![rule(
        Level::Must,
        format!(
            "the access token has the claims {}",
            REQUIRED_CLAIMS.join(", ")
        ),
        missing.is_empty(),
        &did(format!("without {}", missing.join(", "))),
    )];
    // The issuer identifier, exactly: resource servers compare it code point for code point
    // (that the metadata names the same one is as.metadata.issuer-identical).
    let issuer = p.ctx.issuer.as_str();
    if let Some(iss) = claims.get("iss") {
        assertions.push(rule(
            Level::Must,
            format!("the access token's iss is the issuer identifier {issuer:?}"),
            iss.as_str() == Some(issuer),
            &did(format!("whose iss is {iss}")),
        ));
    }
    graded(
        assertions,
        format!(
            "the access token has {} and iss {issuer:?}",
            REQUIRED_CLAIMS.join(", ")
        ),
    )
}

/// The keys of the authorization server's JWKS that the tool can verify with, or why none.
fn published_keys(p: &Prepared) -> Result<Vec<VerifyingKey>, String> {
    let Some(fetched) = &p.ctx.documents.jwks else {
        return Err("the metadata names no jwks_uri (see as.metadata.jwks)".into());
    };
    let body = match &fetched.exchange.response {
        Ok(r) if r.status == 200 => &r.body,
        _ => {
            return Err(format!(
                "its jwks_uri {} gave no JWK Set (see as.metadata.jwks)",
                fetched.url
            ));
        }
    };
    let set = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| JwkSet::from_json(&v).ok())
        .ok_or_else(|| format!("its jwks_uri {} is not a JWK Set", fetched.url))?;
    Ok(set
        .keys
        .iter()
        .filter_map(|jwk| VerifyingKey::from_jwk(jwk).ok())
        .collect())
}

fn alg(p: &Prepared, r: &Redeemed) -> Judged {
    let jws = match access_jws(r) {
        Ok(jws) => jws,
        Err(skip) => return skip,
    };
    let alg = jws.header().get_str("alg").unwrap_or_default().to_owned();
    if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
        return graded(
            vec![rule(
                Level::Must,
                "the access token is signed (alg is not none)",
                false,
                &did(format!("whose header has alg {alg:?}")),
            )],
            String::new(),
        );
    }
    let known = Algorithm::from_name(&alg);
    let asymmetric = !alg.to_ascii_uppercase().starts_with("HS");
    let mut assertions = vec![rule(
        Level::Should,
        "the access token is signed with an asymmetric algorithm (RECOMMENDED)",
        asymmetric,
        &did(format!("signed with {alg}, a shared-secret algorithm")),
    )];
    let kid = jws
        .header()
        .get_str("kid")
        .map_or_else(|| "no kid".to_owned(), |k| format!("kid {k:?}"));
    let verified = match (known, published_keys(p)) {
        (_, Err(why)) => Err(why),
        // A signature this tool cannot check says nothing about the server: recorded.
        (None, Ok(_)) => Err(format!("the tool does not implement {alg}")),
        (Some(known), Ok(keys)) if asymmetric => Ok(Verifier::new(&[known])
            .with_keys(keys)
            .verify(&jws)
            .map(|_| ())),
        (Some(_), Ok(_)) => Err(format!("{alg} needs the shared secret")),
    };
    match verified {
        Ok(result) => assertions.push(rule(
            Level::Must,
            format!("the access token ({alg}, {kid}) verifies with a key of the jwks_uri"),
            result.is_ok(),
            &did(format!(
                "({alg}, {kid}) that no key of its jwks_uri verifies: {}",
                result.err().map(|e| e.to_string()).unwrap_or_default()
            )),
        )),
        Err(why) => assertions.push(rule(
            Level::Info,
            "the access token verifies with a key of the jwks_uri",
            false,
            &did(format!(
                "({alg}, {kid}), whose signature was not checked: {why}"
            )),
        )),
    }
    graded(
        assertions,
        format!("the access token is signed with {alg} ({kid}) by a key of its jwks_uri"),
    )
}

/// A row of this section: a judgement of the valid redemption's access token.
const fn row(meta: CheckMeta, judge: fn(&Prepared, &Redeemed) -> Judged) -> TokenRow {
    TokenRow {
        meta,
        setup: Setup::Tokens,
        plan: Plan::Redemption(judge),
    }
}

pub(super) static ROWS: &[TokenRow] = &[
    row(
        under_rfc9068(
            as_meta(
                "as.at.typ",
                "as-at-typ",
                "Types its JWT access tokens at+jwt",
                "The JWT access token of a valid code redemption has typ at+jwt or application/at+jwt in its header. MUST under the RFC 9068 profile (--profile rfc9068); SHOULD otherwise (explicit typing, RFC 8725 §3.11; many authorization servers write JWT, spec OQ-10). An opaque token Skips.",
                Level::Must,
                &[
                    rfc(
                        "RFC 9068",
                        "§2.1",
                        "JWT access tokens must include typ at+jwt",
                        RFC9068,
                    ),
                    rfc(
                        "RFC 8725",
                        "§3.11",
                        "explicit typing keeps one kind of JWT from being taken for another",
                        RFC8725,
                    ),
                ],
                CODE,
                &["as-at-typ-jwt"],
            ),
            Level::Should,
        ),
        typ,
    ),
    row(
        under_rfc9068(
            as_meta(
                "as.at.claims",
                "as-at-claims",
                "Puts the RFC 9068 claims in its JWT access tokens",
                "The JWT access token of a valid code redemption has iss (equal to the issuer identifier), exp, aud, sub, client_id, iat and jti. MUST under the RFC 9068 profile (--profile rfc9068); recorded otherwise (as.token.aud and as.token.short-lived grade aud and exp in any case). An opaque token Skips.",
                Level::Must,
                &[rfc(
                    "RFC 9068",
                    "§2.2",
                    "iss, exp, aud, sub, client_id, iat and jti are required",
                    RFC9068,
                )],
                CODE,
                &["as-at-claims-missing"],
            ),
            Level::Info,
        ),
        claims,
    ),
    row(
        as_meta(
            "as.at.alg",
            "as-at-alg",
            "Signs its JWT access tokens with a published asymmetric key",
            "The JWT access token of a valid code redemption is signed (alg is not none) and verifies with a key of the jwks_uri, chosen by kid (MUST: resource servers have no other key); an asymmetric algorithm is RECOMMENDED (HS* warns). An algorithm the tool does not implement is recorded, not graded. An opaque token Skips.",
            Level::Must,
            &[
                rfc(
                    "RFC 9068",
                    "§2.1, §4",
                    "signed (never none), asymmetric RECOMMENDED; resource servers verify with the keys of the jwks_uri",
                    RFC9068,
                ),
                rfc("RFC 8725", "§3.2", "use appropriate algorithms", RFC8725),
            ],
            CODE,
            &["as-at-key-unpublished"],
        ),
        alg,
    ),
];
