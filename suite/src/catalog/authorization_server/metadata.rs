//! Spec §2.1: authorization server metadata and discovery (RFC 8414, OpenID Connect
//! Discovery, as MCP clients find them). Every row judges the documents the run read once,
//! anonymously, at every discovery URL form.

use serde_json::Value;

use crate::catalog::prm::members::url_rules;
use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, SpecRef};
use crate::engine::authorization_server::{AsContext, Fetched, MetadataForm};
use crate::expect::{Assertion, Part};
use crate::http::Exchange;
use crate::model::{Level, Profile, SpecVersion};
use crate::wire::metadata::{Finding, is_https_or_loopback};

use super::{Found, Judge, Judged, OIDC_DISCOVERY, RFC8414, RFC9700, Row};

/// A row's metadata: it reads public documents only.
const fn meta(
    id: &'static str,
    row: &'static str,
    title: &'static str,
    summary: &'static str,
    level: Level,
    refs: &'static [SpecRef],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    super::as_meta(
        id,
        row,
        title,
        summary,
        level,
        refs,
        &[Need::Anonymous],
        broken_by,
    )
}

const RFC9449: &str = "https://www.rfc-editor.org/rfc/rfc9449";
const RFC7517: &str = "https://www.rfc-editor.org/rfc/rfc7517";

/// A document assertion (the part of a metadata document, graded at `level`).
fn rule(
    level: Level,
    requirement: impl Into<String>,
    holds: bool,
    seen: impl Into<String>,
) -> Assertion {
    observation(Part::Status, level, requirement, holds, seen)
}

fn evidence_of(found: &[Found]) -> Vec<Exchange> {
    found.iter().map(|(f, _)| f.exchange.clone()).collect()
}

/// Where a document came from, for sentences.
fn at(fetched: &Fetched) -> String {
    format!("{} at {}", fetched.form.describe(), fetched.url)
}

fn available(ctx: &AsContext) -> Judged {
    let found: Vec<_> = ctx.documents.documents().collect();
    let tried: Vec<String> = ctx
        .documents
        .fetched
        .iter()
        .filter(|f| f.form != MetadataForm::OauthAppended)
        .map(|f| {
            format!(
                "{}: {}",
                f.url,
                f.problem.as_deref().unwrap_or("a document")
            )
        })
        .collect();
    let mut assertions = vec![rule(
        Level::Must,
        "a metadata document (RFC 8414 or OpenID Connect Discovery) answers 200 with a JSON object",
        !found.is_empty(),
        tried.join("; "),
    )];
    if ctx.spec_version == SpecVersion::V2025_06_18 {
        let oauth = found.iter().any(|(f, _)| f.form == MetadataForm::Oauth);
        assertions.push(rule(
            Level::Must,
            "MCP 2025-06-18: RFC 8414 metadata is served",
            oauth,
            "only OpenID Connect Discovery documents were found",
        ));
    }
    let forms: Vec<&str> = found.iter().map(|(f, _)| f.form.describe()).collect();
    Judged::Graded {
        assertions,
        evidence: ctx.documents.exchanges(),
        pass: format!("{} publishes metadata: {}", ctx.issuer, forms.join(", ")),
    }
}

fn path_insertion(ctx: &AsContext) -> Judged {
    let inserted = ctx
        .documents
        .of_form(MetadataForm::Oauth)
        .filter(|f| f.document.is_some());
    let appended = ctx
        .documents
        .of_form(MetadataForm::OauthAppended)
        .filter(|f| f.document.is_some());
    let evidence: Vec<Exchange> = [MetadataForm::Oauth, MetadataForm::OauthAppended]
        .into_iter()
        .filter_map(|form| ctx.documents.of_form(form))
        .map(|f| f.exchange.clone())
        .collect();
    match (inserted, appended) {
        (Some(f), _) => Judged::Graded {
            assertions: vec![rule(
                Level::Must,
                "RFC 8414 metadata is at the path-inserted URL",
                true,
                "",
            )],
            evidence,
            pass: format!(
                "RFC 8414 metadata is served where RFC 8414 §3.1 puts it, {}",
                f.url
            ),
        },
        (None, Some(f)) => Judged::Graded {
            assertions: vec![rule(
                Level::Must,
                "RFC 8414 metadata is at the path-inserted URL (RFC 8414 §3.1), not appended to the issuer",
                false,
                format!(
                    "served only at {}, where RFC 8414 clients (MCP's first discovery URL) do not look",
                    f.url
                ),
            )],
            evidence,
            pass: String::new(),
        },
        (None, None) => Judged::NotApplicable(format!(
            "{} serves no RFC 8414 metadata (clients fall through to OpenID Connect Discovery)",
            ctx.issuer
        )),
    }
}

fn issuer_identical(ctx: &AsContext, found: &[Found]) -> Judged {
    let assertions = found
        .iter()
        .map(|(f, d)| {
            let issuer = d.str("issuer");
            rule(
                Level::Must,
                format!(
                    "issuer of the document {} equals {:?} exactly",
                    at(f),
                    ctx.issuer
                ),
                issuer == Some(ctx.issuer.as_str()),
                format!("issuer is {issuer:?}"),
            )
        })
        .collect();
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: format!(
            "every metadata document names the issuer {:?} exactly",
            ctx.issuer
        ),
    }
}

fn issuer_format(_: &AsContext, found: &[Found]) -> Judged {
    let mut assertions = Vec::new();
    for (f, d) in found {
        match d.str("issuer") {
            Some(issuer) => assertions.extend(url_rules(
                &format!("issuer of {}", f.form.describe()),
                issuer,
                Some(Level::Must),
            )),
            None => assertions.push(rule(
                Level::Must,
                "issuer is a string",
                false,
                format!("{} has none", at(f)),
            )),
        }
    }
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: "the issuer is an https URL (or loopback http) with no query and no fragment".into(),
    }
}

fn required(_: &AsContext, found: &[Found]) -> Judged {
    let mut assertions = Vec::new();
    for (f, d) in found {
        let mut members = vec![
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "response_types_supported",
        ];
        if matches!(
            f.form,
            MetadataForm::OpenIdInserted | MetadataForm::OpenIdAppended
        ) {
            members.extend([
                "jwks_uri",
                "subject_types_supported",
                "id_token_signing_alg_values_supported",
            ]);
        }
        let missing: Vec<&str> = members
            .into_iter()
            .filter(|m| d.object.get(m).is_none())
            .collect();
        assertions.push(rule(
            Level::Must,
            format!(
                "the {} document has every required member",
                f.form.describe()
            ),
            missing.is_empty(),
            format!("{} lacks {}", f.url, missing.join(", ")),
        ));
        let types = d.strings("response_types_supported");
        if d.object.get("response_types_supported").is_some() {
            assertions.push(rule(
                Level::Must,
                "response_types_supported contains code",
                types.contains(&"code"),
                format!("response_types_supported is {types:?}"),
            ));
        }
    }
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: "every metadata document has the members RFC 8414 (and OpenID Discovery) require, and response_types_supported lists code".into(),
    }
}

fn pkce(_: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let methods = d.strings("code_challenge_methods_supported");
    let assertions = vec![
        rule(
            Level::Must,
            "code_challenge_methods_supported is present and lists S256",
            methods.contains(&"S256"),
            if d.object.get("code_challenge_methods_supported").is_none() {
                format!("{} has no code_challenge_methods_supported", at(f))
            } else {
                format!("code_challenge_methods_supported is {methods:?}")
            },
        ),
        // Listing plain beside S256 is drift between OAuth 2.1 and RFC 7636, not a failure
        // (spec OQ-16).
        rule(
            Level::Info,
            "plain is not listed (OAuth 2.1 clients use S256 only)",
            !methods.contains(&"plain"),
            format!("code_challenge_methods_supported is {methods:?}"),
        ),
    ];
    Judged::Graded {
        assertions,
        evidence: vec![f.exchange.clone()],
        pass: format!("PKCE is advertised: code_challenge_methods_supported is {methods:?}"),
    }
}

fn empty_arrays(_: &AsContext, found: &[Found]) -> Judged {
    let assertions = found
        .iter()
        .map(|(f, d)| {
            let empty: Vec<&String> = d
                .object
                .members()
                .iter()
                .filter(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
                .map(|(k, _)| k)
                .collect();
            rule(
                Level::Must,
                format!(
                    "the {} document has no member with an empty array",
                    f.form.describe()
                ),
                empty.is_empty(),
                format!("{empty:?} are empty arrays"),
            )
        })
        .collect();
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: "no metadata member is an empty array (RFC 8414 §3.2: omit it)".into(),
    }
}

fn no_none(_: &AsContext, found: &[Found]) -> Judged {
    let assertions = found
        .iter()
        .map(|(f, d)| {
            let listed: Vec<String> = d
                .findings
                .iter()
                .filter_map(|finding| match finding {
                    Finding::NoneAlgorithm(member) if !member.starts_with("dpop") => {
                        Some(member.clone())
                    }
                    _ => None,
                })
                .collect();
            rule(
                Level::Must,
                format!(
                    "the {} document lists no none among the client authentication signing algorithms",
                    f.form.describe()
                ),
                listed.is_empty(),
                format!("none is listed in {}", listed.join(", ")),
            )
        })
        .collect();
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: "none is not an advertised signing algorithm for client authentication".into(),
    }
}

/// Private JWK members (RFC 7517/7518): none may be published.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

fn jwks(ctx: &AsContext, found: &[Found]) -> Judged {
    let Some(uri) = found[0].1.str("jwks_uri") else {
        return Judged::NotApplicable(format!("the metadata of {} names no jwks_uri", ctx.issuer));
    };
    let Some(fetched) = &ctx.documents.jwks else {
        return Judged::NotApplicable("the JWKS was not read".into());
    };
    let mut assertions = vec![rule(
        Level::Must,
        "jwks_uri is https (plain http only on a loopback host)",
        is_https_or_loopback(uri),
        format!("jwks_uri is {uri:?}"),
    )];
    let set: Option<Value> = fetched
        .exchange
        .response
        .as_ref()
        .ok()
        .filter(|r| r.status == 200)
        .and_then(|r| serde_json::from_slice(&r.body).ok());
    let keys = set
        .as_ref()
        .and_then(|s| s.get("keys"))
        .and_then(Value::as_array);
    assertions.push(rule(
        Level::Must,
        "the JWKS answers 200 with a keys array",
        keys.is_some(),
        fetched
            .problem
            .clone()
            .unwrap_or_else(|| "no keys array".into()),
    ));
    let keys = keys.cloned().unwrap_or_default();
    let private: Vec<String> = keys
        .iter()
        .flat_map(|k| {
            let kid = k
                .get("kid")
                .and_then(Value::as_str)
                .unwrap_or("(no kid)")
                .to_owned();
            PRIVATE_MEMBERS
                .iter()
                .filter(move |m| k.get(**m).is_some())
                .map(move |m| format!("{kid}: {m}"))
        })
        .collect();
    assertions.push(rule(
        Level::Must,
        "the JWKS publishes public keys only (no d, p, q, dp, dq, qi or k)",
        private.is_empty(),
        format!("private members published: {}", private.join(", ")),
    ));
    let uses: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.get("use").and_then(Value::as_str))
        .collect();
    let mixed = uses.contains(&Some("enc")) && uses.iter().any(|u| *u != Some("enc"));
    assertions.push(rule(
        Level::Must,
        "use is on every key when signing and encryption keys are mixed",
        !mixed || uses.iter().all(Option::is_some),
        "a key without use beside keys for enc",
    ));
    let mut evidence = vec![found[0].0.exchange.clone()];
    evidence.push(fetched.exchange.clone());
    Judged::Graded {
        assertions,
        evidence,
        pass: format!(
            "the JWKS at {uri} publishes {} public key(s) and nothing private",
            keys.len()
        ),
    }
}

/// The members two discovery documents of one server must agree on.
const SHARED_MEMBERS: [&str; 5] = [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "code_challenge_methods_supported",
];

fn consistent(ctx: &AsContext) -> Judged {
    // A misplaced RFC 8414 document (as.metadata.path-insertion) still has to agree.
    let found: Vec<_> = ctx
        .documents
        .fetched
        .iter()
        .filter_map(|f| f.document.as_ref().map(|d| (f, d)))
        .collect();
    let oauth = found.iter().find(|(f, _)| f.form.is_oauth());
    let openid = found.iter().find(|(f, _)| !f.form.is_oauth());
    let (Some((fo, o)), Some((fi, i))) = (oauth, openid) else {
        return Judged::NotApplicable(format!(
            "{} serves only one kind of metadata document, so there is nothing to compare",
            ctx.issuer
        ));
    };
    let differ: Vec<String> = SHARED_MEMBERS
        .iter()
        .filter(|m| o.object.get(m) != i.object.get(m))
        .map(|m| format!("{m}: {:?} vs {:?}", o.object.get(m), i.object.get(m)))
        .collect();
    Judged::Graded {
        assertions: vec![rule(
            Level::Should,
            "the RFC 8414 and OpenID documents agree on issuer, endpoints, jwks_uri and PKCE methods",
            differ.is_empty(),
            differ.join("; "),
        )],
        evidence: vec![fo.exchange.clone(), fi.exchange.clone()],
        pass: "the RFC 8414 and OpenID documents agree".into(),
    }
}

fn registration(ctx: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let Some(endpoint) = d.str("registration_endpoint") else {
        return Judged::NotApplicable(format!(
            "{} advertises no registration_endpoint (no dynamic client registration)",
            ctx.issuer
        ));
    };
    Judged::Graded {
        assertions: vec![rule(
            Level::Must,
            "registration_endpoint is https (plain http only on a loopback host)",
            is_https_or_loopback(endpoint),
            format!("registration_endpoint is {endpoint:?}"),
        )],
        evidence: vec![f.exchange.clone()],
        pass: format!("dynamic client registration is advertised at {endpoint}"),
    }
}

fn cimd_flag(_: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let flag = d.object.get("client_id_metadata_document_supported");
    Judged::Graded {
        assertions: vec![rule(
            Level::Should,
            "client_id_metadata_document_supported is true",
            flag == Some(&serde_json::Value::Bool(true)),
            match flag {
                None => format!("{} has no client_id_metadata_document_supported", at(f)),
                Some(v) => format!("{} has client_id_metadata_document_supported {v}", at(f)),
            },
        )],
        evidence: vec![f.exchange.clone()],
        pass: "client ID metadata documents are advertised".into(),
    }
}

fn dpop_algs(ctx: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let declared = ctx.profiles.contains(&Profile::Dpop);
    let Some(member) = d.object.get("dpop_signing_alg_values_supported") else {
        if declared {
            return Judged::Graded {
                assertions: vec![rule(
                    Level::Must,
                    "a DPoP authorization server lists dpop_signing_alg_values_supported",
                    false,
                    format!("{} has no dpop_signing_alg_values_supported", at(f)),
                )],
                evidence: vec![f.exchange.clone()],
                pass: String::new(),
            };
        }
        return Judged::NotApplicable(format!(
            "{} advertises no DPoP support (no dpop_signing_alg_values_supported; --profile dpop holds it to the member)",
            ctx.issuer
        ));
    };
    let algs: Vec<&str> = member
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let bad: Vec<&str> = algs
        .iter()
        .copied()
        .filter(|a| a.eq_ignore_ascii_case("none") || a.starts_with("HS"))
        .collect();
    Judged::Graded {
        assertions: vec![
            rule(
                Level::Must,
                "dpop_signing_alg_values_supported is a non-empty array of algorithm names",
                !algs.is_empty(),
                format!("dpop_signing_alg_values_supported is {member}"),
            ),
            rule(
                Level::Must,
                "only asymmetric algorithms: no none, no HS*",
                bad.is_empty(),
                format!("lists {}", bad.join(", ")),
            ),
        ],
        evidence: vec![f.exchange.clone()],
        pass: format!("DPoP algorithms advertised: {}", algs.join(", ")),
    }
}

/// The endpoint members of AS metadata whose scheme is graded.
const ENDPOINT_MEMBERS: [&str; 10] = [
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
    "device_authorization_endpoint",
    "userinfo_endpoint",
    "pushed_authorization_request_endpoint",
    "end_session_endpoint",
];

fn https_endpoints(ctx: &AsContext, found: &[Found]) -> Judged {
    let mut assertions = Vec::new();
    for (f, d) in found {
        let plain: Vec<String> = ENDPOINT_MEMBERS
            .iter()
            .filter_map(|m| d.str(m).map(|v| (m, v)))
            .filter(|(_, v)| !is_https_or_loopback(v))
            .map(|(m, v)| format!("{m} {v:?}"))
            .collect();
        assertions.push(rule(
            Level::Must,
            format!(
                "every endpoint of the {} document is https (plain http only on a loopback host)",
                f.form.describe()
            ),
            plain.is_empty(),
            plain.join(", "),
        ));
    }
    let loopback = ctx.issuer.starts_with("http://");
    Judged::Graded {
        assertions,
        evidence: evidence_of(found),
        pass: if loopback {
            "every endpoint is https or on a loopback host (plain http tolerated for a test deployment)".into()
        } else {
            "every endpoint is https".into()
        },
    }
}

// ---- §2.1 remaining rows: protected_resources, signed_metadata ---------------------------

const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";

fn protected_resources(ctx: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let Some(member) = d.object.get("protected_resources") else {
        return Judged::NotApplicable(format!(
            "the metadata of {} has no protected_resources (an optional member)",
            ctx.issuer
        ));
    };
    let Some(resource) = &ctx.resource else {
        return Judged::NotApplicable(format!(
            "the metadata lists protected_resources {member}, and the run knows no resource R              to look for (give --target)"
        ));
    };
    let listed: Vec<&str> = member
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Judged::Graded {
        assertions: vec![rule(
            Level::Should,
            format!("protected_resources includes the resource {resource}"),
            listed.contains(&resource.as_str()),
            format!(
                "the metadata of {} lists protected_resources {member}, without {resource}",
                at(f)
            ),
        )],
        evidence: vec![f.exchange.clone()],
        pass: format!("protected_resources lists {resource}"),
    }
}

/// The keys of the JWKS the run read, or why there are none.
fn published_keys(ctx: &AsContext) -> Result<Vec<mock_idp::keys::VerifyingKey>, String> {
    let fetched = ctx
        .documents
        .jwks
        .as_ref()
        .ok_or("the metadata names no jwks_uri (see as.metadata.jwks)")?;
    let set = fetched
        .exchange
        .response
        .as_ref()
        .ok()
        .filter(|r| r.status == 200)
        .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .and_then(|v| mock_idp::jwk::JwkSet::from_json(&v).ok())
        .ok_or_else(|| format!("its jwks_uri {} gave no JWK Set", fetched.url))?;
    Ok(set
        .keys
        .iter()
        .filter_map(|jwk| mock_idp::keys::VerifyingKey::from_jwk(jwk).ok())
        .collect())
}

fn signed(ctx: &AsContext, found: &[Found]) -> Judged {
    let (f, d) = found[0];
    let Some(member) = d.object.get("signed_metadata") else {
        return Judged::NotApplicable(format!(
            "the metadata of {} has no signed_metadata (an optional member)",
            ctx.issuer
        ));
    };
    let mut evidence = vec![f.exchange.clone()];
    evidence.extend(ctx.documents.jwks.as_ref().map(|j| j.exchange.clone()));
    let said = |what: String| format!("the metadata of {} carries signed_metadata {what}", at(f));
    let jws = member.as_str().map(mock_idp::jws::Jws::parse);
    let Some(Ok(jws)) = jws else {
        let why = match jws {
            Some(Err(e)) => format!("that is no compact JWS ({e})"),
            _ => format!("that is no string but {member}"),
        };
        return Judged::Graded {
            assertions: vec![rule(
                Level::Must,
                "signed_metadata is a compact JWS",
                false,
                said(why),
            )],
            evidence,
            pass: String::new(),
        };
    };
    let alg = jws.alg().unwrap_or_default().to_owned();
    let signed = !alg.is_empty() && !alg.eq_ignore_ascii_case("none");
    let mut assertions = vec![rule(
        Level::Must,
        "signed_metadata is signed (its alg is not none)",
        signed,
        said(format!("with alg {alg:?}")),
    )];
    let iss = jws
        .claims_lenient()
        .ok()
        .and_then(|c| c.get_str("iss").map(str::to_owned));
    assertions.push(rule(
        Level::Must,
        format!(
            "signed_metadata has an iss claim equal to the issuer {}",
            ctx.issuer
        ),
        iss.as_deref() == Some(ctx.issuer.as_str()),
        said(match &iss {
            Some(iss) => format!("whose iss is {iss:?}"),
            None => "without an iss claim".to_owned(),
        }),
    ));
    if signed {
        let kid = jws
            .kid()
            .map_or_else(|| "no kid".to_owned(), |k| format!("kid {k:?}"));
        match (
            mock_idp::alg::Algorithm::from_name(&alg),
            published_keys(ctx),
        ) {
            (Some(known), Ok(keys)) if !known.is_symmetric() => {
                let verifier = mock_idp::jws::Verifier::new(&[known]).with_keys(keys);
                let verified = verifier.verify(&jws).map(|_| ());
                assertions.push(rule(
                    Level::Must,
                    "signed_metadata verifies with a key of the jwks_uri",
                    verified.is_ok(),
                    said(format!(
                        "({alg}, {kid}) that no key of its jwks_uri verifies: {}",
                        verified.err().map(|e| e.to_string()).unwrap_or_default()
                    )),
                ));
            }
            (known, keys) => {
                // A signature the tool cannot check says nothing about the server: recorded.
                let why = match (known, keys) {
                    (_, Err(why)) => why,
                    (None, _) => format!("the tool does not implement {alg}"),
                    _ => format!("{alg} needs a shared secret"),
                };
                assertions.push(rule(
                    Level::Info,
                    "signed_metadata verifies with a key of the jwks_uri",
                    false,
                    said(format!(
                        "({alg}, {kid}), whose signature was not checked: {why}"
                    )),
                ));
            }
        }
    }
    Judged::Graded {
        assertions,
        evidence,
        pass: format!(
            "signed_metadata is signed with {alg} by a key of the jwks_uri and names iss {}",
            ctx.issuer
        ),
    }
}

const ALL_VERSIONS_V2_PLUS: Applies = Applies::InVersions {
    versions: &[SpecVersion::V2025_11_25, SpecVersion::V2026_07_28],
    otherwise: Level::Should,
};

pub(super) static ROWS: &[Row] = &[
    Row {
        meta: meta(
            "as.metadata.available",
            "as-meta-available",
            "Publishes authorization server metadata",
            "At least one discovery URL (RFC 8414 path-inserted, OpenID Connect Discovery inserted or appended, in MCP order) answers 200 with a JSON object; under MCP 2025-06-18 the RFC 8414 document itself is required.",
            Level::Must,
            &[
                rfc(
                    "RFC 8414",
                    "§3",
                    "authorization server metadata is published",
                    RFC8414,
                ),
                mcp(
                    "Authorization Server Metadata Discovery",
                    "authorization servers provide RFC 8414 or OpenID Connect Discovery metadata",
                ),
            ],
            &["as-no-metadata"],
        ),
        judge: Judge::Context(available),
    },
    Row {
        meta: meta(
            "as.metadata.path-insertion",
            "as-meta-path-insertion",
            "Serves RFC 8414 metadata at the path-inserted URL",
            "For an issuer with a path, RFC 8414 metadata is at /.well-known/oauth-authorization-server inserted before the path (RFC 8414 §3.1), not appended to the issuer; an authorization server without RFC 8414 metadata is Skip (clients fall through to OpenID Connect Discovery).",
            Level::Must,
            &[rfc(
                "RFC 8414",
                "§3.1",
                "the well-known suffix is inserted between the host and the path",
                RFC8414,
            )],
            &["as-metadata-appended"],
        ),
        judge: Judge::Context(path_insertion),
    },
    Row {
        meta: meta(
            "as.metadata.issuer-identical",
            "as-meta-issuer-identical",
            "Names its issuer exactly in every metadata document",
            "issuer in each metadata document equals the issuer identifier the document was fetched for, code point for code point (no trailing slash, no case change): MCP clients refuse a mismatch.",
            Level::Must,
            &[
                rfc(
                    "RFC 8414",
                    "§3.3",
                    "issuer must be identical to the issuer identifier",
                    RFC8414,
                ),
                rfc(
                    "OpenID Connect Discovery",
                    "§4.3",
                    "issuer must exactly match",
                    OIDC_DISCOVERY,
                ),
            ],
            &["as-issuer-trailing-slash", "as-issuer-fragment"],
        ),
        judge: Judge::Documents(issuer_identical),
    },
    Row {
        meta: meta(
            "as.metadata.issuer-format",
            "as-meta-issuer-format",
            "Has an https issuer without query or fragment",
            "The issuer in each metadata document is an absolute https URL (plain http tolerated on a loopback host) with no query and no fragment.",
            Level::Must,
            &[rfc(
                "RFC 8414",
                "§2",
                "issuer is an https URL with no query or fragment",
                RFC8414,
            )],
            &["as-issuer-fragment"],
        ),
        judge: Judge::Documents(issuer_format),
    },
    Row {
        meta: meta(
            "as.metadata.required",
            "as-meta-required",
            "Has every required metadata member",
            "Each metadata document has issuer, authorization_endpoint, token_endpoint and response_types_supported (OpenID documents also jwks_uri, subject_types_supported, id_token_signing_alg_values_supported), and response_types_supported lists code.",
            Level::Must,
            &[
                rfc("RFC 8414", "§2", "required metadata members", RFC8414),
                rfc(
                    "OpenID Connect Discovery",
                    "§3",
                    "required provider metadata",
                    OIDC_DISCOVERY,
                ),
            ],
            &["as-metadata-no-response-types"],
        ),
        judge: Judge::Documents(required),
    },
    Row {
        meta: CheckMeta {
            applies: ALL_VERSIONS_V2_PLUS,
            ..meta(
                "as.metadata.pkce",
                "as-meta-pkce",
                "Advertises PKCE with S256",
                "code_challenge_methods_supported is present and lists S256: MCP clients (2025-11-25 on) refuse to proceed without it. Also listing plain is recorded (OQ-16). Under MCP 2025-06-18 the metadata member is RECOMMENDED (RFC 9700), so its absence warns.",
                Level::Must,
                &[
                    mcp(
                        "Authorization Code Protection",
                        "clients must verify PKCE support from the metadata",
                    ),
                    rfc(
                        "RFC 9700",
                        "§2.1.1",
                        "authorization servers offer a way to detect PKCE support",
                        RFC9700,
                    ),
                ],
                &["as-no-pkce-advertised", "as-pkce-plain-only"],
            )
        },
        judge: Judge::Documents(pkce),
    },
    Row {
        meta: meta(
            "as.metadata.empty-arrays",
            "as-meta-empty-arrays",
            "Omits members with no values",
            "No metadata member is an empty JSON array: RFC 8414 §3.2 says members with zero values are omitted.",
            Level::Must,
            &[rfc(
                "RFC 8414",
                "§3.2",
                "claims with zero elements must be omitted",
                RFC8414,
            )],
            &["as-metadata-empty-array"],
        ),
        judge: Judge::Documents(empty_arrays),
    },
    Row {
        meta: meta(
            "as.metadata.no-none",
            "as-meta-no-none",
            "Never advertises none for client authentication",
            "token_endpoint_auth_signing_alg_values_supported (and its introspection and revocation counterparts) does not list none.",
            Level::Must,
            &[rfc(
                "RFC 8414",
                "§2",
                "the value none must not be used",
                RFC8414,
            )],
            &["as-auth-signing-alg-none"],
        ),
        judge: Judge::Documents(no_none),
    },
    Row {
        meta: meta(
            "as.metadata.jwks",
            "as-meta-jwks",
            "Publishes public keys only at an https jwks_uri",
            "jwks_uri is https (loopback http tolerated), answers a JWK Set, publishes no private key member (d, p, q, dp, dq, qi, k), and sets use on every key when signing and encryption keys are mixed.",
            Level::Must,
            &[
                rfc(
                    "RFC 8414",
                    "§2",
                    "jwks_uri uses https; use is required when keys of both kinds appear",
                    RFC8414,
                ),
                rfc("RFC 7517", "§4.2", "use of a key", RFC7517),
            ],
            &["as-jwks-private-key"],
        ),
        judge: Judge::Documents(jwks),
    },
    Row {
        meta: meta(
            "as.metadata.oauth-oidc-consistent",
            "as-meta-oauth-vs-oidc-consistent",
            "Serves RFC 8414 and OpenID documents that agree",
            "When both an RFC 8414 and an OpenID document exist, they agree on issuer, authorization and token endpoints, jwks_uri and PKCE methods: otherwise clients behave differently depending on which they find first.",
            Level::Should,
            &[rfc(
                "RFC 8414",
                "§5",
                "compatibility with OpenID Connect Discovery",
                RFC8414,
            )],
            &["as-oidc-document-differs"],
        ),
        judge: Judge::Context(consistent),
    },
    Row {
        meta: meta(
            "as.metadata.registration",
            "as-meta-registration",
            "Advertises an https registration endpoint when it offers DCR",
            "When the metadata advertises registration_endpoint (dynamic client registration), it is https (loopback http tolerated); no registration_endpoint is Skip.",
            Level::Must,
            &[rfc("RFC 8414", "§2", "registration_endpoint", RFC8414)],
            &["as-registration-plain-http"],
        ),
        judge: Judge::Documents(registration),
    },
    Row {
        meta: meta(
            "as.metadata.dpop-algs",
            "as-meta-dpop-algs",
            "Lists its DPoP algorithms, asymmetric only",
            "A DPoP-capable authorization server lists dpop_signing_alg_values_supported, a non-empty array with no none and no HS*; without the member the row is Skip, unless --profile dpop declares DPoP, which makes it required.",
            Level::Must,
            &[rfc(
                "RFC 9449",
                "§5.1",
                "dpop_signing_alg_values_supported",
                RFC9449,
            )],
            &["as-dpop-algs-symmetric"],
        ),
        judge: Judge::Documents(dpop_algs),
    },
    Row {
        meta: meta(
            "as.metadata.https-endpoints",
            "as-https-endpoints",
            "Uses https for every endpoint",
            "Every endpoint the metadata names (authorization, token, JWKS, registration, introspection, revocation, device, userinfo, PAR, end session) is https; plain http is tolerated only on a loopback host (a test deployment).",
            Level::Must,
            &[mcp(
                "Communication Security",
                "all authorization server endpoints must be served over HTTPS",
            )],
            &["as-token-endpoint-plain-http", "as-registration-plain-http"],
        ),
        judge: Judge::Documents(https_endpoints),
    },
    Row {
        meta: CheckMeta {
            applies: super::cimd::FROM_2025_11_25,
            ..meta(
                "as.metadata.cimd-flag",
                "as-meta-cimd-flag",
                "Advertises client ID metadata document support",
                "client_id_metadata_document_supported is true: MCP (2025-11-25 on) says authorization servers SHOULD support client ID metadata documents and clients read this member to use them. Earlier revisions do not know them (recorded).",
                Level::Should,
                &[mcp(
                    "Client ID Metadata Documents",
                    "authorization servers advertise client_id_metadata_document_supported",
                )],
                &["as-cimd-unsupported"],
            )
        },
        judge: Judge::Documents(cimd_flag),
    },
    // §2.1 remaining rows: protected_resources, signed_metadata.
    Row {
        meta: meta(
            "as.metadata.protected-resources",
            "as-meta-protected-resources",
            "Lists the resource R in protected_resources when it lists any",
            "When the metadata has protected_resources (optional, RFC 9728 §4), it includes the run's resource R (the target's PRM resource): a resource server naming this authorization server should be one it names back. Skip without the member, or without a target (no R).",
            Level::Should,
            &[rfc(
                "RFC 9728",
                "§4, §7.6",
                "protected_resources lists the resources the authorization server serves; clients cross-check it",
                RFC9728,
            )],
            &["as-protected-resources-without-resource"],
        ),
        judge: Judge::Documents(protected_resources),
    },
    Row {
        meta: meta(
            "as.metadata.signed",
            "as-meta-signed",
            "Signs its signed_metadata with a published key, naming itself",
            "When the metadata has signed_metadata (optional, RFC 8414 §2.1: Skip without it), it is a compact JWS whose alg is not none, that verifies with a key of the jwks_uri (chosen by kid), and whose iss claim is the issuer identifier. An algorithm the tool does not implement is recorded, not graded.",
            Level::Must,
            &[rfc(
                "RFC 8414",
                "§2.1",
                "signed_metadata is a JWT, digitally signed or MACed using JWS, with an iss claim",
                RFC8414,
            )],
            &[
                "as-signed-metadata-unsigned",
                "as-signed-metadata-wrong-issuer",
            ],
        ),
        judge: Judge::Documents(signed),
    },
];
