//! Spec §1.3: audience and issuer. A token for another resource or from another issuer is
//! refused; the canonical-URI variants of the resource's own identifier are recorded.

use super::*;
use crate::engine::listener::Listener;

/// Listener topic of the issuer the tool hosts for rs-iss-untrusted against a real AS.
const ROGUE_ISSUER_TOPIC: &str = "rs.token.iss-rogue";

/// rs-iss-untrusted: `V`'s claims with `iss` an issuer the target does not trust, signed by
/// `K_x`, which that issuer publishes: the mock IdP's rogue issuer, or, against a real AS, an
/// issuer the tool hosts on its loopback listener (discovery metadata and JWKS).
fn rogue_issuer_token(ctx: &Context) -> Option<Vec<String>> {
    let issuer = match &ctx.idp {
        Some(idp) => idp.issuer_of(IssuerKind::Rogue).to_owned(),
        None => {
            let listener = Listener::shared()?;
            listener.begin(ROGUE_ISSUER_TOPIC);
            let jwks = json!({ "keys": [ctx.attacker_key().public_jwk().to_public().to_json()] });
            listener.host_issuer(ROGUE_ISSUER_TOPIC, &jwks)
        }
    };
    forged(ctx, &[Attack::RogueIssuer(issuer)])
}

/// rs-iss-key-mismatch: `V` re-signed with `K_x` under `K_x`'s kid, and under the kid of the
/// key that signed `V`.
fn resigned_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    Some(
        [false, true]
            .into_iter()
            .filter_map(|keep_victim_kid| forged_probe(ctx, Attack::Resigned { keep_victim_kid }))
            .collect(),
    )
}

/// A resource that is certainly not the target.
const OTHER_RESOURCE: &str = "https://other.test/mcp";

/// `R` with its scheme and host upper-cased (MCP "Canonical Server URI": servers SHOULD
/// accept them); `None` when `R` is not an absolute URL with a host.
fn upper_cased(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    let host = url.host_str()?;
    let (scheme, rest) = resource.split_once("://")?;
    let rest = rest.replacen(host, &host.to_ascii_uppercase(), 1);
    Some(format!("{}://{rest}", scheme.to_ascii_uppercase()))
}

/// `R` with its scheme's default port made explicit; `None` when `R` already names a port.
fn with_default_port(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    if url.port().is_some() {
        return None;
    }
    let port = url.port_or_known_default()?;
    let host = url.host_str()?;
    let (scheme, rest) = resource.split_once("://")?;
    let rest = rest.replacen(host, &format!("{host}:{port}"), 1);
    Some(format!("{scheme}://{rest}"))
}

/// A sibling MCP server on the target's origin (`<origin>/other-mcp`).
fn sibling(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    Some(format!("{}/other-mcp", url.origin().ascii_serialization()))
}

pub(super) const ROWS: &[Row] = &[
    row(
        "rs.token.aud-wrong",
        "rs-aud-wrong",
        "Refuses a token for another audience",
        &[
            mcp(
                "Token Handling",
                "servers accept only tokens issued for them (audience)",
            ),
            rfc("RFC 9068", "§4", "aud must name the resource", RFC9068),
        ],
        &["token passthrough"],
        &["ignore-aud"],
        |ctx| {
            if ctx.idp.is_none() {
                // The target's own authorization server's token for another resource.
                return Some(vec![ctx.other_resource_token()?]);
            }
            let spec = ctx.valid_spec()?;
            Some(vec![
                ctx.mint(&spec.clone().aud(OTHER_RESOURCE))?,
                // An array of other resources names the target no more than a string does.
                ctx.mint(&spec.aud_array(&[OTHER_RESOURCE, "https://other.test/api"]))?,
            ])
        },
    )
    .needs(&[Need::ValidToken, Need::OtherResourceToken]),
    row(
        "rs.token.aud-missing",
        "rs-aud-missing",
        "Refuses a token without aud",
        &[rfc("RFC 9068", "§2.2", "aud is required", RFC9068)],
        &[],
        &["ignore-aud"],
        |ctx| one(ctx, |s| s.without_claim("aud")),
    ),
    probed(
        "rs.token.aud-array",
        "rs-aud-array",
        "Records how a multi-audience token that names the resource is treated",
        &[
            rfc(
                "RFC 7519",
                "§4.1.3",
                "aud may be an array; the recipient must find itself in it",
                RFC7519,
            ),
            rfc(
                "RFC 9068",
                "§4",
                "reject the token if aud does not contain the resource",
                RFC9068,
            ),
        ],
        &[],
        &["aud-same-origin", "ignore-aud"],
        |ctx, _| {
            let spec = ctx.valid_spec()?;
            let sibling = sibling(&ctx.audience)?;
            Some(vec![
                Probe::accepted(
                    "aud = [other resource, R]",
                    ctx.mint(&spec.clone().aud_array(&[OTHER_RESOURCE, &ctx.audience]))?,
                ),
                Probe::refused(
                    "aud = [other resource, sibling on R's origin] (no R)",
                    ctx.mint(&spec.aud_array(&[OTHER_RESOURCE, &sibling]))?,
                ),
            ])
        },
    )
    .level(Level::Info)
    .summary(
        "Preferred: an aud array is accepted when it contains R and refused when it does not \
         (RFC 7519 §4.1.3, RFC 9068 §4; RFC 8707 allows several resources). Refusing every \
         multi-audience token is the stricter reading of MCP's 'issued specifically for them' \
         (OQ-9): recorded. Accepting an array without R means the acceptance does not come \
         from matching R (rs.token.aud-wrong grades that as a MUST): recorded here.",
    ),
    probed(
        "rs.token.aud-canonical",
        "rs-aud-canonical-variants",
        "Accepts its identifier with an upper-case scheme and host; records slash and port",
        &[mcp(
            "Canonical Server URI",
            "servers should accept an upper-case scheme and host; no trailing slash",
        )],
        &[],
        &["aud-same-origin"],
        |ctx, _| {
            let spec = ctx.valid_spec()?;
            let mut probes = vec![
                // MCP's canonical URI makes scheme and host case-insensitive; RFC 7519
                // compares exactly: either answer conforms.
                Probe::recorded(
                    "aud = R with an upper-case scheme and host",
                    ctx.mint(&spec.clone().aud(&upper_cased(&ctx.audience)?))?,
                ),
            ];
            if !ctx.audience.ends_with('/') {
                probes.push(
                    Probe::refused(
                        "aud = R + \"/\"",
                        ctx.mint(&spec.clone().aud(&format!("{}/", ctx.audience)))?,
                    )
                    .at(Level::Info),
                );
            }
            if let Some(explicit) = with_default_port(&ctx.audience) {
                probes.push(
                    Probe::refused(
                        "aud = R with its default port explicit",
                        ctx.mint(&spec.aud(&explicit))?,
                    )
                    .at(Level::Info),
                );
            }
            Some(probes)
        },
    )
    .level(Level::Info)
    .summary(
        "R with an upper-case scheme and host: accepted (MCP canonical URI) or refused (RFC \
         7519 §4.1.3 exact comparison), both conform and are recorded. R with a trailing slash, \
         and with an explicit default port (when R names none), name another URI: refusal with \
         401 invalid_token passes, an accepted one is recorded as Info (OQ-9, OQ-29).",
    ),
    row(
        "rs.token.iss-rogue",
        "rs-iss-untrusted",
        "Refuses a token from an untrusted issuer",
        &[
            mcp(
                "Token Handling",
                "servers accept only tokens from their authorization servers",
            ),
            rfc(
                "RFC 9068",
                "§4",
                "iss must be the trusted authorization server",
                RFC9068,
            ),
        ],
        &[],
        &["accept-rogue-issuer"],
        rogue_issuer_token,
    )
    .summary(
        "V's claims with iss an issuer the target does not trust, signed by K_x, which that \
         issuer publishes in discovery metadata and a JWKS (the mock IdP's rogue issuer, or, \
         against a real authorization server, one the tool hosts on a loopback listener), are \
         refused with 401 invalid_token.",
    )
    .derivable(),
    // The other tenant signs with the trusted issuer's keys, so only the iss check can refuse
    // its tokens: the shared-key case of rs-iss-untrusted (its iss is not in the PRM's
    // authorization_servers). It is not rs-iss-key-mismatch (whose iss is the trusted one) nor
    // rs-multi-as-isolation (which needs two trusted issuers).
    row(
        "rs.token.iss-other-tenant",
        "rs-iss-untrusted",
        "Refuses a token of another tenant signed with a shared key",
        &[rfc(
            "RFC 8725",
            "§3.8",
            "validate the issuer, not only the key",
            RFC8725,
        )],
        &["multi-tenant issuer mix-up"],
        &["accept-other-tenant", "ignore-iss"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let spec = idp.token_spec_for(IssuerKind::OtherTenant, &ctx.audience, &ctx.scope);
            Some(vec![
                spec.mint(idp.key_for(IssuerKind::OtherTenant, ctx.token_alg())),
            ])
        },
    ),
    probed(
        "rs.token.iss-key-mismatch",
        "rs-iss-key-mismatch",
        "Refuses a token naming the trusted issuer but signed with another issuer's key",
        &[
            rfc(
                "RFC 8725",
                "§3.8",
                "the key must belong to the issuer the token names",
                RFC8725,
            ),
            rfc(
                "RFC 9068",
                "§4",
                "validate with the keys the authorization server provides",
                RFC9068,
            ),
        ],
        &["issuer/key mix-up"],
        &["skip-signature"],
        resigned_probes,
    )
    .summary(
        "V re-signed with K_x, a key the trusted issuer does not publish, is refused with 401 \
         invalid_token, both under K_x's own kid and under the kid of the key that signed V: the \
         key must belong to the issuer the token names. Against a real authorization server, V \
         is the token it issued and K_x the tool's own key.",
    )
    .derivable(),
    row(
        "rs.token.iss-missing",
        "rs-iss-missing",
        "Refuses a token without iss",
        &[rfc("RFC 9068", "§2.2", "iss is required", RFC9068)],
        &[],
        &["ignore-iss"],
        |ctx| one(ctx, |s| s.without_claim("iss")),
    )
    .applies(JWT_AT_ONLY)
    .summary(
        "A token without iss is refused with 401 invalid_token (RFC 9068 §4: the resource \
         server validates iss). Binds under the RFC 9068 profile; otherwise recorded: a token \
         without iss still needs the trusted key's signature, so accepting it gives an \
         attacker nothing.",
    ),
    row(
        "rs.token.iss-exact",
        "rs-iss-exact",
        "Compares iss without normalisation",
        &[rfc(
            "RFC 9068",
            "§4",
            "iss must exactly match the issuer",
            RFC9068,
        )],
        &[],
        &["ignore-iss", "iss-normalized"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let issuer = idp.issuer();
            let spec = ctx.valid_spec()?;
            let mut variants = vec![
                ctx.mint(&spec.clone().iss(&format!("{issuer}/")))?,
                ctx.mint(&spec.clone().iss(&upper_cased(issuer)?))?,
            ];
            // The explicit default port applies only to an issuer that names no port.
            if let Some(explicit) = with_default_port(issuer) {
                variants.push(ctx.mint(&spec.iss(&explicit))?);
            }
            Some(variants)
        },
    )
    .applies(JWT_AT_ONLY)
    .summary(
        "V with iss = I + \"/\", I with an upper-case scheme and host, and I with its default \
         port explicit (when I names none) is refused: RFC 9068 §4 compares iss exactly. Binds \
         under the RFC 9068 profile; otherwise recorded (each variant still needs the trusted \
         key's signature).",
    )
    .stimulus("a token whose iss is a spelling variant of the trusted issuer"),
    row(
        "rs.token.aud-client-id",
        "rs-aud-client-id",
        "Refuses a token whose audience is the client",
        &[rfc("RFC 8725", "§3.9", "audience is validated", RFC8725)],
        &["ID token confusion"],
        &["ignore-aud"],
        |ctx| one(ctx, |s| s.aud(mock_idp::server::CONFIDENTIAL_CLIENT_ID)),
    ),
    probed(
        "rs.token.aud-sibling-path",
        "rs-aud-sibling-path",
        "Refuses a token for another MCP server on the same origin",
        &[
            mcp(
                "Token Handling",
                "tokens are issued for this specific resource",
            ),
            rfc(
                "RFC 8707",
                "§2",
                "the resource indicator is as specific as possible",
                RFC8707,
            ),
        ],
        &["multi-tenant host"],
        &["ignore-aud", "aud-same-origin"],
        |ctx, _| {
            let spec = ctx.valid_spec()?;
            let mut probes = vec![Probe::refused(
                "aud = a sibling path on R's origin",
                ctx.mint(&spec.clone().aud(&sibling(&ctx.audience)?))?,
            )];
            if let Some(origin) = origin_only(&ctx.audience) {
                probes.push(Probe::recorded(
                    "aud = R's bare origin (OQ-9, recorded)",
                    ctx.mint(&spec.aud(&origin))?,
                ));
            }
            Some(probes)
        },
    )
    .summary(
        "A token whose aud is another path on R's origin (<origin>/other-mcp) is refused with \
         401 invalid_token [MUST]. When R has a path, a token whose aud is R's bare origin is \
         also sent and how it is treated is recorded in the message, not graded (OQ-9: whether \
         an origin-only audience names a resource at a path is open).",
    ),
];

const RFC8707: &str = "https://www.rfc-editor.org/rfc/rfc8707";

/// R's bare origin (`scheme://host[:port]`), when R has a path beyond `/`.
fn origin_only(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    if !url.has_host() || url.path().trim_matches('/').is_empty() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

pub(super) const MULTI_AS_ISOLATION: CheckMeta = CheckMeta {
    id: "rs.token.multi-as-isolation",
    row: "rs-multi-as-isolation",
    title: "Verifies each trusted issuer's tokens with that issuer's keys only",
    summary: "With two trusted authorization servers A1 and A2 (the embedded IdP's trusted and \
              second issuers, both in PRM authorization_servers), a token of each is accepted, \
              and V[iss→A1] signed with A2's key (kid of that key), and V[iss→A2] signed with \
              A1's key, are refused with 401 invalid_token: the iss claim selects the keys, the \
              union of every trusted issuer's keys is not one pool. Skip when the target does not \
              list both issuers.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 8725",
            "§3.8",
            "the key must belong to the issuer the token names",
            RFC8725,
        ),
        rfc(
            "RFC 9068",
            "§4",
            "validate the signature with the keys of the issuing authorization server",
            RFC9068,
        ),
    ],
    needs: &[Need::MintedToken],
    tags: &["issuer/key mix-up", "multiple authorization servers"],
    broken_by: &["issuer-keys-pooled"],
};

/// Spec rs-multi-as-isolation: calibrated by both issuers' own tokens, then each issuer's
/// claim with the other issuer's key.
fn multi_as_isolation(ctx: &Context) -> crate::engine::runner::CheckFuture<'_> {
    Box::pin(async move {
        let Some(idp) = ctx.idp.as_ref() else {
            return not_evaluated();
        };
        let (a1, a2) = (idp.issuer(), idp.issuer_of(IssuerKind::Second));
        // Controls first: only a target that takes V shows it merely trusts one issuer; one
        // that refuses everything cannot be judged at all.
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let listed = ctx
            .discovery
            .prm
            .as_ref()
            .map(|prm| prm.strings("authorization_servers"))
            .unwrap_or_default();
        if !(listed.contains(&a1) && listed.contains(&a2)) {
            return Outcome::new(
                Verdict::Skip,
                format!(
                    "needs a target that trusts two of the embedded IdP's issuers: its PRM \
                     authorization_servers is {listed:?}; configure it to trust {a2} (keys at \
                     {}) beside {a1}",
                    idp.urls(IssuerKind::Second).jwks_uri
                ),
            );
        }
        let Some(v1) = ctx.valid_spec() else {
            return not_evaluated();
        };
        let v2 = v1.clone().iss(a2);
        let own = ctx
            .initialize(&Credential::Bearer(
                v2.mint(idp.key_for(IssuerKind::Second, ctx.token_alg())),
            ))
            .await;
        if !own.response.as_ref().is_ok_and(expect::is_accepted) {
            return Outcome::error(
                format!(
                    "positive control: the PRM lists {a2}, but a valid token of it was {}, so \
                     no refusal can be judged",
                    observe(&own)
                ),
                vec![own],
            );
        }
        let stimuli = [
            (
                "V[iss→A1] signed with A2's key",
                v1.mint(idp.key_for(IssuerKind::Second, ctx.token_alg())),
            ),
            (
                "V[iss→A2] signed with A1's key",
                v2.mint(idp.key_for(IssuerKind::Trusted, ctx.token_alg())),
            ),
        ];
        let mut results = Vec::new();
        for (what, token) in stimuli {
            let exchange = ctx.initialize(&Credential::Bearer(token)).await;
            let seen = Seen {
                what: what.to_owned(),
                accepted: exchange.response.as_ref().is_ok_and(expect::is_accepted),
                observed: observe(&exchange),
            };
            let outcome = judge_stimulus(Level::Must, Some(what), exchange, expect::invalid_token);
            results.push((seen, outcome));
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        combined(results, None)
    })
}

/// The audience and issuer checks that are not rows of the token table.
pub(super) fn checks() -> Vec<Check<Context>> {
    vec![Check::new(MULTI_AS_ISOLATION, multi_as_isolation)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_variants_of_the_resource() {
        assert_eq!(
            upper_cased("https://mcp.example/mcp").as_deref(),
            Some("HTTPS://MCP.EXAMPLE/mcp")
        );
        assert_eq!(
            upper_cased("http://127.0.0.1:8080/mcp").as_deref(),
            Some("HTTP://127.0.0.1:8080/mcp")
        );
        assert_eq!(
            with_default_port("https://mcp.example/mcp").as_deref(),
            Some("https://mcp.example:443/mcp")
        );
        assert_eq!(with_default_port("http://127.0.0.1:8080/mcp"), None);
        assert_eq!(
            sibling("https://mcp.example/a/mcp").as_deref(),
            Some("https://mcp.example/other-mcp")
        );
        assert_eq!(upper_cased("urn:x"), None);
        assert_eq!(
            origin_only("https://mcp.example/a/mcp").as_deref(),
            Some("https://mcp.example")
        );
        assert_eq!(origin_only("https://mcp.example/"), None);
        assert_eq!(origin_only("https://mcp.example"), None);
    }
}
