//! Odd claim values in validly signed tokens (spec rs-fuzz-claims; jwt_tool `-M er` forced
//! errors and `-M cc` common claims, spec §6 mapping).
//!
//! Every input is `V` (minted afresh by the embedded mock IdP with the trusted key, so its
//! signature verifies) with one to three header parameters or claims replaced by one of
//! `null`, `true`, `false`, `0`, `"jwt_tool"`, a 10 KB string or the URL of the tool's loopback
//! listener. Oracle: never 5xx, never unanswered past the deadline, never a request to the
//! listener URL, and [A] only where every substituted value is semantically valid
//! ([`NAMES`] says which are). Shrinking removes substitutions and simplifies the rest, down
//! to the minimal (name, value) pair.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{NotApplicable, Probe, Rendered, Violation};
use crate::engine::context::Context;
use crate::engine::listener::Listener;
use crate::model::Verdict;

/// Where a substituted name lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Header,
    Claims,
}

/// The values jwt_tool substitutes (`-M er`), plus the sizes and URLs of the playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OddValue {
    Null,
    True,
    False,
    Zero,
    /// The string `"jwt_tool"`.
    JwtTool,
    /// A string of [`LONG_VALUE_BYTES`] bytes.
    Long,
    /// The URL of a document on the tool's listener: fetching it is an SSRF.
    ListenerUrl,
}

/// Size of [`OddValue::Long`].
pub const LONG_VALUE_BYTES: usize = 10 * 1024;

impl OddValue {
    const ALL: [OddValue; 7] = [
        OddValue::Null,
        OddValue::True,
        OddValue::False,
        OddValue::Zero,
        OddValue::JwtTool,
        OddValue::Long,
        OddValue::ListenerUrl,
    ];

    fn json(self, listener_url: &str) -> Value {
        match self {
            OddValue::Null => Value::Null,
            OddValue::True => Value::Bool(true),
            OddValue::False => Value::Bool(false),
            OddValue::Zero => Value::from(0),
            OddValue::JwtTool => Value::from("jwt_tool"),
            OddValue::Long => Value::from("x".repeat(LONG_VALUE_BYTES)),
            OddValue::ListenerUrl => Value::from(listener_url),
        }
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            OddValue::JwtTool | OddValue::Long | OddValue::ListenerUrl
        )
    }

    fn label(self) -> &'static str {
        match self {
            OddValue::Null => "null",
            OddValue::True => "true",
            OddValue::False => "false",
            OddValue::Zero => "0",
            OddValue::JwtTool => "\"jwt_tool\"",
            OddValue::Long => "a 10 KB string",
            OddValue::ListenerUrl => "the listener URL",
        }
    }
}

/// Which substituted values a resource server may accept under a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// None: every substitution makes the token invalid.
    Nothing,
    /// Any string (the name takes an arbitrary string); other types are refused.
    Strings,
    /// `0` only: a NumericDate in 1970, which bounds nothing for `iat` / `nbf`; other values
    /// are not NumericDates and are refused.
    ZeroDate,
    /// Anything: the RS has no use for the name and ignores it (RFC 7515 §4: header
    /// parameters not understood are ignored; RFC 7519 §4: claims not understood are ignored).
    Anything,
}

/// One name the fuzzer substitutes, with what may be accepted and why.
pub struct NameRule {
    pub place: Place,
    pub name: &'static str,
    pub accepts: Accepts,
    pub why: &'static str,
}

const fn rule(place: Place, name: &'static str, accepts: Accepts, why: &'static str) -> NameRule {
    NameRule {
        place,
        name,
        accepts,
        why,
    }
}

/// The names substituted: every member of `V`'s header and claims, and jwt_tool's common
/// headers and payload names, each with the values an RS may accept there (the data the
/// acceptance oracle reads).
pub const NAMES: &[NameRule] = &[
    // Claims of V.
    rule(
        Place::Claims,
        "sub",
        Accepts::Strings,
        "any string is a subject (StringOrURI, RFC 7519 §4.1.2); other types are refused (rs-claim-types)",
    ),
    rule(
        Place::Claims,
        "iss",
        Accepts::Nothing,
        "iss must be exactly the trusted issuer (RFC 9068 §4)",
    ),
    rule(
        Place::Claims,
        "aud",
        Accepts::Nothing,
        "aud must name this resource (RFC 9068 §4, RFC 8707)",
    ),
    rule(
        Place::Claims,
        "exp",
        Accepts::Nothing,
        "exp is a NumericDate in the future (RFC 9068 §4); 0 has expired",
    ),
    rule(
        Place::Claims,
        "iat",
        Accepts::ZeroDate,
        "iat is a NumericDate (RFC 7519 §4.1.6); 0 is a past issue time",
    ),
    rule(
        Place::Claims,
        "jti",
        Accepts::Strings,
        "jti is any unique string (RFC 7519 §4.1.7)",
    ),
    rule(
        Place::Claims,
        "client_id",
        Accepts::Strings,
        "client_id is a string (RFC 9068 §2.2); the RS need not restrict clients",
    ),
    rule(
        Place::Claims,
        "scope",
        Accepts::Strings,
        "scope is a space-delimited string (RFC 9068 §2.2.3); refusing an unknown scope with 403 is allowed too",
    ),
    // jwt_tool common payload names V lacks.
    rule(
        Place::Claims,
        "nbf",
        Accepts::ZeroDate,
        "nbf, when present, is a NumericDate the RS must honour (RFC 7519 §4.1.5); 0 is in the past",
    ),
    rule(
        Place::Claims,
        "cnf",
        Accepts::Anything,
        "a cnf that names no confirmation method the RS knows binds the token to nothing it could check (RFC 7800 §3.1); refusing is safer but not required",
    ),
    rule(
        Place::Claims,
        "nonce",
        Accepts::Anything,
        "an ID-token claim with no meaning in an access token",
    ),
    rule(
        Place::Claims,
        "azp",
        Accepts::Anything,
        "an ID-token claim with no meaning in an access token",
    ),
    rule(
        Place::Claims,
        "auth_time",
        Accepts::Anything,
        "optional information for the RS (RFC 9068 §2.2.1)",
    ),
    rule(
        Place::Claims,
        "acr",
        Accepts::Anything,
        "optional information for the RS (RFC 9068 §2.2.1)",
    ),
    rule(
        Place::Claims,
        "amr",
        Accepts::Anything,
        "optional information for the RS (RFC 9068 §2.2.1)",
    ),
    rule(
        Place::Claims,
        "roles",
        Accepts::Anything,
        "authorization attributes the RS may ignore (RFC 9068 §2.2.3.1)",
    ),
    rule(
        Place::Claims,
        "groups",
        Accepts::Anything,
        "authorization attributes the RS may ignore (RFC 9068 §2.2.3.1)",
    ),
    rule(
        Place::Claims,
        "entitlements",
        Accepts::Anything,
        "authorization attributes the RS may ignore (RFC 9068 §2.2.3.1)",
    ),
    rule(
        Place::Claims,
        "act",
        Accepts::Anything,
        "delegation information (RFC 8693 §4.1) the RS may ignore",
    ),
    rule(
        Place::Claims,
        "email",
        Accepts::Anything,
        "application data",
    ),
    rule(
        Place::Claims,
        "username",
        Accepts::Anything,
        "application data",
    ),
    rule(Place::Claims, "role", Accepts::Anything, "application data"),
    rule(
        Place::Claims,
        "admin",
        Accepts::Anything,
        "application data (a privilege flag no RS should read from an unknown claim)",
    ),
    // Header of V.
    rule(
        Place::Header,
        "alg",
        Accepts::Nothing,
        "alg must name the algorithm the key signed with (RFC 7515 §4.1.1, RFC 8725 §3.1)",
    ),
    rule(
        Place::Header,
        "typ",
        Accepts::Strings,
        "typ is a string (RFC 7515 §4.1.9); other values than at+jwt are refused only under the RFC 9068 profile (OQ), which this command cannot know",
    ),
    rule(
        Place::Header,
        "kid",
        Accepts::Strings,
        "kid is a string hint (RFC 7515 §4.1.4); an RS with one key may ignore it",
    ),
    // jwt_tool common header names V lacks: the RS takes no key from the token.
    rule(
        Place::Header,
        "jku",
        Accepts::Anything,
        "ignored by an RS that takes keys only from its issuer (RFC 8725 §3.10); fetching it is the finding",
    ),
    rule(
        Place::Header,
        "x5u",
        Accepts::Anything,
        "ignored by an RS that takes keys only from its issuer; fetching it is the finding",
    ),
    rule(
        Place::Header,
        "x5t",
        Accepts::Anything,
        "a certificate hint the RS may ignore",
    ),
    rule(
        Place::Header,
        "x5t#S256",
        Accepts::Anything,
        "a certificate hint the RS may ignore",
    ),
    rule(
        Place::Header,
        "x5c",
        Accepts::Anything,
        "ignored by an RS that takes keys only from its issuer",
    ),
    rule(
        Place::Header,
        "jwk",
        Accepts::Anything,
        "ignored by an RS that takes keys only from its issuer",
    ),
    rule(
        Place::Header,
        "cty",
        Accepts::Anything,
        "none of the values is JWT, so no nesting is announced",
    ),
    rule(
        Place::Header,
        "crit",
        Accepts::Nothing,
        "crit must be a non-empty array of understood extensions (RFC 7515 §4.1.11)",
    ),
];

impl NameRule {
    /// Whether an RS may accept the token with this value under this name.
    pub fn allows(&self, value: OddValue) -> bool {
        match self.accepts {
            Accepts::Nothing => false,
            Accepts::Strings => value.is_string(),
            Accepts::ZeroDate => value == OddValue::Zero,
            Accepts::Anything => true,
        }
    }
}

/// One replaced name: an index into [`NAMES`] and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Substitution {
    pub name: usize,
    pub value: OddValue,
}

impl Substitution {
    pub fn rule(&self) -> &'static NameRule {
        &NAMES[self.name % NAMES.len()]
    }
}

/// One input: `V` with these substitutions (distinct names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsInput {
    pub substitutions: Vec<Substitution>,
}

impl ClaimsInput {
    /// `header kid = null; claim sub = "jwt_tool"`.
    pub fn describe(&self) -> String {
        self.substitutions
            .iter()
            .map(|s| {
                let rule = s.rule();
                let place = match rule.place {
                    Place::Header => "header",
                    Place::Claims => "claim",
                };
                format!("{place} {} = {}", rule.name, s.value.label())
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether every substituted value may be accepted.
    pub fn semantically_valid(&self) -> bool {
        self.substitutions.iter().all(|s| s.rule().allows(s.value))
    }
}

/// Inputs: one to three substitutions of distinct names.
pub fn claims_input() -> impl Strategy<Value = ClaimsInput> {
    let substitution = (0..NAMES.len(), prop::sample::select(&OddValue::ALL[..]))
        .prop_map(|(name, value)| Substitution { name, value });
    prop::collection::vec(substitution, 1..=3).prop_map(|mut substitutions| {
        let mut seen = Vec::new();
        substitutions.retain(|s| {
            let fresh = !seen.contains(&s.name);
            seen.push(s.name);
            fresh
        });
        ClaimsInput { substitutions }
    })
}

/// The claims strategy against one target: mints with the context's trusted IdP and watches
/// the listener.
pub struct ClaimsProbe {
    ctx: Arc<Context>,
    listener: &'static Listener,
    /// The listener topic of this run (one per run, so parallel runs do not share hits).
    topic: &'static str,
    listener_url: String,
}

impl ClaimsProbe {
    /// Calibrates (spec §0.4): the context can mint, the listener runs, and the target accepts
    /// `V` (positive control). Otherwise the strategy does not apply, with the reason.
    pub async fn prepare(ctx: Arc<Context>, http: &reqwest::Client) -> Result<Self, NotApplicable> {
        let not_evaluated = |reason: String| NotApplicable {
            verdict: Verdict::NotEvaluated,
            reason,
        };
        let Some(token) = ctx.valid_token() else {
            return Err(not_evaluated(
                "no mock IdP the target trusts: validly signed tokens cannot be minted".into(),
            ));
        };
        let Some(listener) = Listener::shared() else {
            return Err(not_evaluated(
                "no loopback port for the tool's listener".into(),
            ));
        };
        accepted_control(&ctx, http, &[("authorization", format!("Bearer {token}"))]).await?;
        // Leaked once per run: the listener's topics are static names.
        let topic: &'static str =
            Box::leak(format!("netfuzz-claims-{}", mock_idp::random_b64url(6)).into_boxed_str());
        listener.begin(topic);
        let listener_url = listener.publish_for(
            topic,
            "jwks.json",
            "application/json",
            br#"{"keys":[]}"#.to_vec(),
        );
        Ok(Self {
            ctx,
            listener,
            topic,
            listener_url,
        })
    }

    /// The URL placed in tokens (its fetches are findings).
    pub fn listener_url(&self) -> &str {
        &self.listener_url
    }
}

/// The positive control: `V` (or `Vd` with `P`) is accepted, so refusals mean something.
pub(crate) async fn accepted_control(
    ctx: &Context,
    http: &reqwest::Client,
    fields: &[(&'static str, String)],
) -> Result<(), NotApplicable> {
    match super::post(http, &ctx.endpoint, fields).await {
        Ok(Ok(answer)) if answer.accepted() => Ok(()),
        Ok(Ok(answer)) => Err(NotApplicable {
            verdict: Verdict::NotEvaluated,
            reason: format!(
                "the target refused a valid token of the mock IdP (HTTP {}): configure it to trust the issuer this run hosts (see `run --target`)",
                answer.status
            ),
        }),
        Ok(Err(e)) | Err(e) => Err(NotApplicable {
            verdict: Verdict::Error,
            reason: format!("the positive control got no answer: {e}"),
        }),
    }
}

impl Probe for ClaimsProbe {
    type Input = ClaimsInput;

    fn strategy(&self) -> BoxedStrategy<ClaimsInput> {
        claims_input().boxed()
    }

    fn render(&self, input: &ClaimsInput) -> Result<Rendered, String> {
        let mut spec = self.ctx.valid_spec().ok_or("no mock IdP")?;
        for s in &input.substitutions {
            let rule = s.rule();
            let value = s.value.json(&self.listener_url);
            spec = match rule.place {
                Place::Header => spec.header(rule.name, value),
                Place::Claims => spec.claim(rule.name, value),
            };
        }
        let token = self.ctx.mint(&spec).ok_or("no mock IdP")?;
        Ok(Rendered {
            fields: vec![("authorization", format!("Bearer {token}"))],
            may_accept: input.semantically_valid(),
        })
    }

    fn after_answer(
        &self,
        _input: &ClaimsInput,
        _response: Option<&HeaderMap>,
    ) -> Option<Violation> {
        let hits = self.listener.take_new_hits(self.topic);
        (hits > 0).then_some(Violation::OutboundFetch { hits })
    }

    fn describe(&self, input: &ClaimsInput) -> String {
        format!("V with {}", input.describe())
    }

    fn carries_valid_credentials(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cover_the_header_and_claims_of_v() {
        for (i, a) in NAMES.iter().enumerate() {
            assert!(
                !NAMES[i + 1..]
                    .iter()
                    .any(|b| b.name == a.name && b.place == a.place),
                "{} twice",
                a.name
            );
        }
        let has = |place, name| NAMES.iter().any(|r| r.place == place && r.name == name);
        for name in [
            "iss",
            "aud",
            "sub",
            "client_id",
            "scope",
            "iat",
            "exp",
            "jti",
        ] {
            assert!(has(Place::Claims, name), "{name}");
        }
        for name in ["alg", "typ", "kid", "jku", "x5u", "x5t"] {
            assert!(has(Place::Header, name), "{name}");
        }
    }

    #[test]
    fn the_oracle_allows_only_semantically_valid_values() {
        let input = |name: &str, value| ClaimsInput {
            substitutions: vec![Substitution {
                name: NAMES.iter().position(|r| r.name == name).unwrap(),
                value,
            }],
        };
        assert!(input("jti", OddValue::JwtTool).semantically_valid());
        assert!(input("nonce", OddValue::Zero).semantically_valid());
        assert!(input("iat", OddValue::Zero).semantically_valid());
        assert!(input("jku", OddValue::ListenerUrl).semantically_valid());
        assert!(!input("exp", OddValue::Null).semantically_valid());
        assert!(!input("aud", OddValue::True).semantically_valid());
        assert!(!input("iss", OddValue::Zero).semantically_valid());
        assert!(!input("sub", OddValue::Zero).semantically_valid());
        assert!(!input("exp", OddValue::Zero).semantically_valid());
        assert!(!input("alg", OddValue::JwtTool).semantically_valid());
    }
}
