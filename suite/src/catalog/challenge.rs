//! Spec §1.1: the challenge to a request without credentials, and the syntax of every
//! challenge.

use mock_idp::unix_now;

use crate::catalog::prm::{graded, prm_document};
use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::judge;
use crate::engine::context::Context;
use crate::engine::discovery::PrmSource;
use crate::engine::probe::Credential;
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Assertion, Grade, Part};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, SpecVersion, Verdict};
use crate::wire::metadata::is_https_or_loopback;
use crate::wire::oauth::{Scope, is_nqchar, is_valid_error_text};
use crate::wire::www_authenticate::{self, Challenge};

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";
const RFC9110: &str = "https://www.rfc-editor.org/rfc/rfc9110";
const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";
const MCP_2026_AUTH: &str =
    "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization";

pub const NO_TOKEN: CheckMeta = CheckMeta {
    id: "rs.challenge.no-token",
    row: "rs-401-no-token",
    title: "Refuses a request without credentials with a challenge",
    summary: "An MCP request with no Authorization header gets 401 and a Bearer challenge.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Error Handling",
            "invalid or missing authorization gets HTTP 401",
        ),
        rfc(
            "RFC 6750",
            "§3",
            "a 401 carries a WWW-Authenticate challenge",
            RFC6750,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-www-authenticate"],
};

pub const RESOURCE_METADATA: CheckMeta = CheckMeta {
    id: "rs.challenge.resource-metadata",
    row: "rs-401-resource-metadata",
    title: "Names the protected resource metadata in every 401",
    summary: "The challenge carries resource_metadata, for a request without a token and for one with the token `garbage`, as an absolute https URL (plain http tolerated on a loopback host, for test deployments).",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Protected Resource Metadata Discovery Requirements",
            "servers name their PRM in WWW-Authenticate resource_metadata",
        ),
        rfc(
            "RFC 9728",
            "§5.1",
            "resource_metadata holds the URL of the protected resource metadata",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-resource-metadata", "resource-metadata-plain-http"],
};

pub const NO_ERROR_WITHOUT_CREDS: CheckMeta = CheckMeta {
    id: "rs.challenge.no-error-without-creds",
    row: "rs-401-no-error-without-creds",
    title: "Puts no error code in the challenge to a request without credentials",
    summary: "RFC 6750 §3.1: without credentials the challenge should carry no error information.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 6750",
        "§3.1",
        "no error code when the request lacks authentication",
        RFC6750,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["error-on-no-token"],
};

pub const SCOPE_HINT: CheckMeta = CheckMeta {
    id: "rs.challenge.scope-hint",
    row: "rs-401-scope-hint",
    title: "Names the needed scopes in the 401 challenge",
    summary: "MCP V2+ scope selection: the challenge's scope parameter tells the client what to ask for.",
    level: Level::Should,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2025_11_25, SpecVersion::V2026_07_28],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[mcp(
        "Scope Selection Strategy",
        "the 401 challenge should include scope",
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-scope-in-challenge"],
};

pub const NO_OFFLINE_ACCESS: CheckMeta = CheckMeta {
    id: "rs.challenge.no-offline-access",
    row: "rs-challenge-no-offline-access",
    title: "Does not ask for offline_access in the challenge or in scopes_supported",
    summary: "offline_access (an OpenID Connect scope for refresh tokens) is absent from the 401 challenge's scope and from PRM scopes_supported: whether a refresh token is issued is between client and authorization server, not a scope the resource needs (MCP 2026-07-28 Refresh Tokens, SHOULD NOT).",
    level: Level::Should,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2026_07_28],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[rfc(
        "MCP 2026-07-28 Authorization",
        "Refresh Tokens",
        "resource servers should not name offline_access in challenges or scopes_supported",
        MCP_2026_AUTH,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["advertise-offline-access"],
};

pub const SYNTAX: CheckMeta = CheckMeta {
    id: "rs.challenge.syntax",
    row: "rs-www-auth-syntax",
    title: "Sends WWW-Authenticate challenges that parse strictly",
    summary: "Every WWW-Authenticate value of the refusals this check provokes (no token, a garbage token, an expired token, Basic credentials, a two-word Bearer credential), and every other distinct set of values the run's responses carried before this check finished (discovery's, and those of the checks that ran before or beside it: checks run concurrently, so a run-wide collection is what was seen so far, and the provoked refusals are the part every run judges), parses under RFC 9110 §11.6.1; a Bearer or DPoP challenge has auth-params (no token68; bare only beside another challenge, OQ-11), no parameter twice, error and error_description in NQSCHAR, error_uri in NQCHAR, and scope as NQCHAR tokens joined by single spaces. A failure is the target's, not the parser's.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 9110",
            "§11.6.1",
            "WWW-Authenticate is a comma-separated list of challenges",
            RFC9110,
        ),
        rfc(
            "RFC 6750",
            "§3",
            "Bearer is followed by auth-params, none repeated, with restricted characters",
            RFC6750,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &["parser differential"],
    broken_by: &["malformed-challenge"],
};

fn anonymous<'a>(
    ctx: &'a Context,
    meta: &CheckMeta,
    grade: fn(&RecordedResponse) -> Grade,
) -> CheckFuture<'a> {
    let level = meta.level;
    Box::pin(async move {
        let exchange = ctx.initialize(&Credential::None).await;
        judge(level, exchange, grade)
    })
}

fn no_token_grade(r: &RecordedResponse) -> Grade {
    expect::unauthenticated(r).only(&[
        Part::NotAccepted,
        Part::No5xx,
        Part::Status,
        Part::Challenge,
    ])
}

/// The `resource_metadata` URL of the first Bearer or DPoP challenge naming one.
fn named_prm_url(resp: &RecordedResponse) -> Option<String> {
    expect::challenges(resp)
        .ok()?
        .into_iter()
        .filter(|c| c.is_scheme("Bearer") || c.is_scheme("DPoP"))
        .find_map(|c| c.param("resource_metadata").map(str::to_owned))
}

/// resource_metadata on a 401 (MUST in V1, so graded MUST whatever the bundle says), as an
/// absolute https URL (RFC 9728 §5.1, spec row); a missing challenge means a missing
/// parameter too.
fn resource_metadata_grade(grade: Grade, resp: &RecordedResponse, presence: Level) -> Grade {
    let mut g = grade.only(&[Part::Challenge, Part::ResourceMetadata]);
    for a in &mut g.assertions {
        a.level = match a.part {
            Part::ResourceMetadata => presence,
            _ => Level::Must,
        };
    }
    if let Some(url) = named_prm_url(resp) {
        g.assertions.push(observation(
            Part::ResourceMetadata,
            Level::Must,
            "resource_metadata is an absolute https URL (plain http only on a loopback host)",
            is_https_or_loopback(&url),
            url,
        ));
    }
    g
}

fn no_offline_access(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let exchange = ctx.initialize(&Credential::None).await;
        let challenge_scope = exchange
            .response
            .as_ref()
            .ok()
            .and_then(|r| expect::challenges(r).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.param("scope").map(str::to_owned))
            .collect::<Vec<_>>()
            .join(" ");
        let mut assertions = vec![observation(
            Part::ScopeParam,
            Level::Should,
            "offline_access is not in the challenge's scope",
            !Scope::parse(&challenge_scope).contains(OFFLINE_ACCESS),
            format!("scope=\"{challenge_scope}\""),
        )];
        let mut evidence = vec![exchange];
        // Without a PRM there are no scopes_supported to judge; rs.prm.wellknown reports that.
        let prm_note = match prm_document(ctx).await {
            Ok((prm, fetched)) => {
                let scopes = prm.strings("scopes_supported");
                assertions.push(observation(
                    Part::ScopeParam,
                    Level::Should,
                    "offline_access is not in PRM scopes_supported",
                    !scopes.contains(&OFFLINE_ACCESS),
                    format!("scopes_supported: {scopes:?}"),
                ));
                evidence.push(fetched);
                ""
            }
            Err(_) => "; no PRM was found, so only the challenge was judged",
        };
        graded(
            Level::Should,
            assertions,
            evidence,
            format!("offline_access is not requested{prm_note}"),
        )
    })
}

const OFFLINE_ACCESS: &str = "offline_access";

/// The refusals the syntax check provokes: a name for the report and the credential.
fn syntax_stimuli(ctx: &Context) -> Vec<(&'static str, Credential)> {
    let header = |value: &str| Credential::Headers(vec![("authorization".into(), value.into())]);
    let mut stimuli = vec![
        ("no credentials", Credential::None),
        ("the token `garbage`", Credential::Bearer("garbage".into())),
        ("Basic credentials", header("Basic dXNlcjpwYXNz")),
        ("a two-word Bearer credential", header("Bearer one two")),
    ];
    let now = unix_now();
    if let Some(expired) = ctx
        .valid_spec()
        .and_then(|spec| ctx.mint(&spec.iat(now - 900).exp(now - 600)))
    {
        stimuli.push(("an expired token", Credential::Bearer(expired)));
    }
    stimuli
}

/// `1*NQCHAR` tokens joined by exactly one space (RFC 6750 §3 scope syntax).
fn is_scope_syntax(value: &str) -> bool {
    !value.is_empty()
        && value.split(' ').all(|t| !t.is_empty())
        && Scope::parse(value).malformed.is_empty()
}

/// The RFC 6750 §3 rules for one Bearer or DPoP challenge; `alone` when it is the only
/// challenge of its response (a bare scheme is tolerated only beside another, OQ-11).
fn challenge_rules(where_: &str, c: &Challenge, alone: bool) -> Vec<Assertion> {
    let shown = c.to_string();
    let mut rules = vec![
        observation(
            Part::Challenge,
            Level::Must,
            format!("{where_}: {} uses auth-params, not token68", c.scheme),
            c.token68.is_none(),
            shown.clone(),
        ),
        observation(
            Part::Challenge,
            Level::Must,
            format!(
                "{where_}: a bare {} appears only beside another challenge (OQ-11)",
                c.scheme
            ),
            !(alone && c.token68.is_none() && c.params.is_empty()),
            shown.clone(),
        ),
        observation(
            Part::Challenge,
            Level::Must,
            format!("{where_}: no parameter of {} appears twice", c.scheme),
            c.duplicate_params().is_empty(),
            format!("repeated: {:?} in {shown}", c.duplicate_params()),
        ),
    ];
    for (name, value) in &c.params {
        let lower = name.to_ascii_lowercase();
        let (rule, holds) = match lower.as_str() {
            "error" | "error_description" => (
                "one or more NQSCHAR (RFC 6749 Appendix A.5; empty is not allowed)",
                is_valid_error_text(value),
            ),
            "error_uri" => (
                "NQCHAR only",
                !value.is_empty() && value.chars().all(is_nqchar),
            ),
            "scope" => (
                "NQCHAR tokens joined by single spaces",
                is_scope_syntax(value),
            ),
            _ => continue,
        };
        rules.push(observation(
            Part::ErrorDescription,
            Level::Must,
            format!("{where_}: {lower} uses {rule}"),
            holds,
            format!("{lower}={value:?}"),
        ));
    }
    rules
}

/// Every rule for every `WWW-Authenticate` field value of one response; schemes other than
/// Bearer and DPoP are collected in `others` (recorded, not judged: RFC 9110 lets a server
/// offer several schemes).
fn syntax_rules(
    stimulus: &str,
    resp: &RecordedResponse,
    others: &mut Vec<String>,
) -> Vec<Assertion> {
    let values = resp.header_values("www-authenticate");
    let where_ = format!("HTTP {} to {stimulus}", resp.status);
    let mut rules = Vec::new();
    let mut all = Vec::new();
    for value in &values {
        match www_authenticate::parse(value) {
            Ok(list) => all.extend(list),
            Err(e) => rules.push(observation(
                Part::Challenge,
                Level::Must,
                format!("{where_}: WWW-Authenticate parses under RFC 9110 §11.6.1"),
                false,
                format!("{value:?}: {e}"),
            )),
        }
    }
    let alone = all.len() == 1;
    for c in &all {
        if c.is_scheme("Bearer") || c.is_scheme("DPoP") {
            rules.extend(challenge_rules(&where_, c, alone));
        } else if !others.iter().any(|o| o.eq_ignore_ascii_case(&c.scheme)) {
            others.push(c.scheme.clone());
        }
    }
    rules
}

/// The origin of a URL (`scheme://host:port`), if it has one.
fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| u.has_host())
        .map(|u| u.origin().ascii_serialization())
}

fn syntax(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut assertions = Vec::new();
        let mut evidence: Vec<Exchange> = Vec::new();
        let mut values = 0;
        let mut others = Vec::new();
        let mut judged: Vec<Vec<String>> = Vec::new();
        for (stimulus, credential) in syntax_stimuli(ctx) {
            let exchange = ctx.initialize(&credential).await;
            if let Ok(r) = &exchange.response {
                values += r.header_values("www-authenticate").len();
                assertions.extend(syntax_rules(stimulus, r, &mut others));
                judged.push(
                    r.header_values("www-authenticate")
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                );
            }
            evidence.push(exchange);
        }
        // The run-wide part: challenges other requests to the target's origin received (an
        // authorization server's challenges are not the target's).
        let target_origin = origin_of(&ctx.endpoint);
        let mut elsewhere = 0;
        for seen in ctx.driver.challenges_seen() {
            let (Ok(r), false) = (&seen.exchange.response, judged.contains(&seen.values)) else {
                continue;
            };
            if target_origin.is_none() || origin_of(&seen.exchange.request.url) != target_origin {
                continue;
            }
            let stimulus = format!(
                "{} {} (seen elsewhere in the run)",
                seen.exchange.request.method, seen.exchange.request.url
            );
            let rules = syntax_rules(&stimulus, r, &mut others);
            if rules.iter().any(|a| !a.holds) {
                evidence.push(seen.exchange.clone());
            }
            assertions.extend(rules);
            elsewhere += seen.values.len();
            judged.push(seen.values);
        }
        let others = if others.is_empty() {
            String::new()
        } else {
            format!("; other schemes offered: {}", others.join(", "))
        };
        if values == 0 {
            return Outcome::error(
                "no refusal carried a WWW-Authenticate header, so there is no syntax to judge (see rs.challenge.no-token)",
                evidence,
            );
        }
        graded(
            Level::Must,
            assertions,
            evidence,
            format!(
                "{values} provoked WWW-Authenticate value(s) and {elsewhere} other distinct \
                 one(s) seen in the run so far parse strictly{others}"
            ),
        )
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(NO_TOKEN, |ctx| anonymous(ctx, &NO_TOKEN, no_token_grade)),
        Check::new(RESOURCE_METADATA, |ctx: &Context| {
            Box::pin(async move {
                // rs-401-resource-metadata: MUST in 2025-06-18; from 2025-11-25 the header or a
                // well-known PRM, so the header is SHOULD where the well-known one answers.
                let well_known = matches!(
                    ctx.discovery.prm_source,
                    Some(PrmSource::PathInserted | PrmSource::Root)
                );
                let presence = if ctx.spec_version >= SpecVersion::V2025_11_25 && well_known {
                    Level::Should
                } else {
                    Level::Must
                };
                let bare = ctx.initialize(&Credential::None).await;
                let first = judge(Level::Must, bare, |r| {
                    resource_metadata_grade(expect::unauthenticated(r), r, presence)
                });
                if first.verdict != Verdict::Pass {
                    return first;
                }
                let garbage = ctx.initialize(&Credential::Bearer("garbage".into())).await;
                judge(Level::Must, garbage, |r| {
                    resource_metadata_grade(expect::invalid_token(r), r, presence)
                })
            })
        }),
        Check::new(NO_ERROR_WITHOUT_CREDS, |ctx| {
            anonymous(ctx, &NO_ERROR_WITHOUT_CREDS, |r| {
                expect::unauthenticated(r).only(&[Part::NoErrorParam])
            })
        }),
        Check::new(SCOPE_HINT, |ctx: &Context| {
            // A target that takes a valid token without any scope needs none: there is no
            // scope for its challenge to name (calibration tried V without scope).
            if !ctx.scope_hint_due() {
                return Box::pin(async {
                    Outcome::new(
                        Verdict::Pass,
                        "the target needs no scope (a valid token without any was accepted, and \
                         its PRM lists no scopes_supported): there is none to name",
                    )
                }) as CheckFuture<'_>;
            }
            anonymous(ctx, &SCOPE_HINT, |r| {
                expect::unauthenticated(r).only(&[Part::ScopeParam])
            })
        }),
        Check::new(NO_OFFLINE_ACCESS, no_offline_access),
        Check::new(SYNTAX, syntax),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_challenge(value: &str) -> RecordedResponse {
        RecordedResponse {
            status: 401,
            headers: vec![("www-authenticate".into(), value.into())],
            body: Vec::new(),
            truncated: false,
            body_incomplete: None,
        }
    }

    /// The requirements of the broken rules for one field value.
    fn broken(value: &str) -> Vec<String> {
        syntax_rules("test", &with_challenge(value), &mut Vec::new())
            .into_iter()
            .filter(|a| !a.holds)
            .map(|a| a.requirement)
            .collect()
    }

    #[test]
    fn compliant_challenges_break_no_rule() {
        for ok in [
            r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write""#,
            r#"Bearer error="invalid_token", error_description="token expired", resource_metadata="https://h/x""#,
            r#"Bearer, DPoP algs="ES256 PS256""#,
        ] {
            assert_eq!(broken(ok), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn each_rule_catches_its_defect() {
        let cases = [
            (r#"Bearer scope="a", scope="a""#, "appears twice"),
            ("Bearer", "bare Bearer"),
            ("Bearer abc==", "not token68"),
            (r#"Bearer scope="a  b""#, "scope uses"),
            (r#"Bearer error="bad\"quote""#, "error uses"),
            (r#"Bearer error_uri="https://h/a b""#, "error_uri uses"),
            (r#"Bearer scope="a"; x"#, "parses under RFC 9110"),
        ];
        for (value, rule) in cases {
            let broken = broken(value);
            assert!(
                broken.iter().any(|r| r.contains(rule)),
                "{value}: {broken:?}"
            );
        }
    }
}
