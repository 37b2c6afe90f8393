//! Fault profiles: each breaks exactly one behaviour of the compliant server on purpose, so
//! every check can be shown to fail. Several can be combined.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! faults {
    ($($(#[$area:meta])* $variant:ident = $name:literal : $what:literal,)*) => {
        /// One deliberate defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault { $($(#[$area])* $variant,)* }

        impl Fault {
            /// Every fault, in declaration order (grouped by spec area).
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            /// The kebab-case name used on the command line and in check metadata.
            pub fn name(self) -> &'static str {
                match self { $(Fault::$variant => $name,)* }
            }

            /// What the fault breaks, in one line.
            pub fn description(self) -> &'static str {
                match self { $(Fault::$variant => $what,)* }
            }
        }
    };
}

faults! {
    // §1.1 challenge, discovery and protected resource metadata
    NoWwwAuthenticate = "no-www-authenticate": "401 without a WWW-Authenticate header",
    NoResourceMetadata = "no-resource-metadata": "serves no protected resource metadata and no resource_metadata parameter",
    NoResourceMetadataParam = "no-resource-metadata-param": "challenges carry no resource_metadata parameter (the metadata is still served)",
    ErrorOnNoToken = "error-on-no-token": "puts error=invalid_token in the challenge to a request without credentials",
    ErrorOnUnsupportedScheme = "error-on-unsupported-scheme": "answers credentials in another scheme (Basic, Token) with error=invalid_token",
    NoScopeInChallenge = "no-scope-in-challenge": "the 401 challenges have no scope parameter",
    AdvertiseOfflineAccess = "advertise-offline-access": "offline_access in the challenge scope and in scopes_supported",
    MalformedChallenge = "malformed-challenge": "challenges repeat their scope parameter (not RFC 6750 syntax)",
    PrmRequiresToken = "prm-requires-token": "the protected resource metadata answers 401 without a token",
    PrmResourceMismatch = "prm-resource-mismatch": "PRM resource names another resource",
    PrmResourceFragment = "prm-resource-fragment": "PRM resource carries a #fragment",
    PrmNoAuthorizationServers = "prm-no-authorization-servers": "PRM has no authorization_servers member",
    PrmIssuerMismatch = "prm-issuer-mismatch": "PRM lists the issuer with a trailing slash, so it resolves to no matching metadata",
    PrmEmptyArray = "prm-empty-array": "PRM has an empty scopes_supported array",
    PrmAdvertisesQuery = "prm-advertises-query": "PRM bearer_methods_supported lists query, which the server does not honour",
    NoCorsExpose = "no-cors-expose": "no CORS headers: scripts cannot read WWW-Authenticate",
    ResourceMetadataPlainHttp = "resource-metadata-plain-http": "names its PRM in resource_metadata by its bind address over plain http (http://0.0.0.0:<port>), a host that is not loopback",
    OriginCheckLeaks = "origin-check-leaks": "checks Origin before the token, and its 403 to an unauthenticated request names the server (serverInfo)",
    PrmSignedMetadataUnsigned = "prm-signed-metadata-unsigned": "serves signed_metadata as an unsigned JWS (alg none) of the same claims",
    PrmSignedMetadataBadSignature = "prm-signed-metadata-bad-signature": "serves signed_metadata whose signature does not verify (one bit flipped)",
    // §1.2 how the token is presented
    AcceptQueryToken = "accept-query-token": "takes the token from the access_token query parameter",
    AcceptFormToken = "accept-form-token": "takes the token from an access_token form body and does not refuse two methods",
    CaseSensitiveScheme = "case-sensitive-scheme": "accepts only the exact spelling Bearer as auth-scheme",
    FirstAuthorizationWins = "first-authorization-wins": "uses the first of several Authorization header fields",
    LastAuthorizationWins = "last-authorization-wins": "uses the last of several Authorization credentials (separate fields, or one field joining them with commas)",
    LenientCredentials = "lenient-credentials": "takes the first word of a malformed Bearer credential (Bearer V extra)",
    AllowAnonymous = "allow-anonymous": "serves requests without credentials as an anonymous user",
    SessionIsAuthentication = "session-is-authentication": "treats a known Mcp-Session-Id as authentication",
    SessionNotBound = "session-not-bound": "lets any valid token use any session",
    SessionMismatch500 = "session-mismatch-500": "answers 500 when a valid token uses a session another subject opened (a crash, not a refusal)",
    SessionMismatch400 = "session-mismatch-400": "answers 400, not 404, when a valid token uses a session another subject opened",
    UnauthenticatedDelete = "unauthenticated-delete": "DELETE ends a session without a token",
    ProcessBeforeAuth = "process-before-auth": "runs a tools/call before checking the token (the canary counts refused calls)",
    ProcessBeforeExpCheck = "process-before-exp-check": "runs a tools/call whose token it refuses as expired, then answers 401 (the canary counts the refused call)",
    Error500OnGarbage = "error-500-on-garbage": "answers 500 to a token that does not parse",
    RejectEverything = "reject-everything": "refuses every token, valid ones included",
    QueryTokenWins = "query-token-wins": "with both an Authorization header and an access_token query parameter, authenticates with the query token",
    // §1.3 audience, issuer, passthrough
    IgnoreAud = "ignore-aud": "does not check aud",
    AudSameOrigin = "aud-same-origin": "accepts any aud on the resource's origin (sibling paths, the bare origin)",
    AudCaseSensitive = "aud-case-sensitive": "compares aud byte for byte (refuses an upper-case scheme or host)",
    IgnoreIss = "ignore-iss": "does not check iss",
    AcceptNoIss = "accept-no-iss": "checks iss only when the token has one",
    IssNormalized = "iss-normalized": "compares iss after normalising case, default port and a trailing slash",
    AcceptOtherTenant = "accept-other-tenant": "accepts any issuer on the trusted issuer's origin (a sibling tenant sharing its keys)",
    AcceptRogueIssuer = "accept-rogue-issuer": "trusts any issuer, verifying with keys from the token's own iss metadata",
    TokenPassthrough = "token-passthrough": "forwards the client's token to the canary's upstream",
    IssuerKeysPooled = "issuer-keys-pooled": "with several trusted issuers, verifies with the union of their keys, whatever the token's iss",
    // §1.4 JWT access-token validation
    AcceptNoExp = "accept-no-exp": "accepts tokens without exp",
    AcceptExpired = "accept-expired": "does not check exp",
    LeewayHuge = "leeway-huge": "accepts tokens that expired up to a day ago",
    IgnoreNbf = "ignore-nbf": "does not check nbf",
    IgnoreIat = "ignore-iat": "accepts tokens issued in the future",
    LaxClaimTypes = "lax-claim-types": "coerces claim types (numeric strings as dates, arrays and numbers as strings) and checks aud only when it is a string or an array",
    LaxRequiredClaims = "lax-required-claims": "accepts tokens without client_id, iat or jti",
    IgnoreTyp = "ignore-typ": "accepts any typ, not only at+jwt",
    TypExact = "typ-exact": "accepts only the exact typ at+jwt (refuses application/at+jwt)",
    AcceptIdToken = "accept-id-token": "takes ID tokens as access tokens: any typ, and aud may be the client (azp or client_id)",
    AcceptDuplicateClaims = "accept-duplicate-claims": "parses claims with duplicate names, first one wins",
    AcceptCritUnknown = "accept-crit-unknown": "treats every extension named in crit as understood",
    LaxCrit = "lax-crit": "accepts malformed crit (empty, naming a registered or an absent parameter)",
    IgnoreCrit = "ignore-crit": "never enforces the crit header parameter",
    LenientBase64 = "lenient-base64": "accepts padding, +, / and line breaks in token segments",
    NestedInnerOnly = "nested-inner-only": "for a nested JWT (cty JWT) checks only the inner token",
    NoJwksRateLimit = "no-jwks-rate-limit": "refetches the issuer's JWKS for every unknown kid",
    JwksNeverRefresh = "jwks-never-refresh": "fetches the issuer's JWKS once and never again (misses rotation)",
    JwksPinnedKeys = "jwks-pinned-keys": "refetches the issuer's JWKS on an unknown kid but trusts only the keys of its first fetch (fetches rotated keys, refuses them)",
    AcceptInactive = "accept-inactive": "never reads introspection active and checks claims only when present",
    IntrospectionFailOpen = "introspection-fail-open": "accepts the token when introspection fails",
    IntrospectionCachePrefix = "introspection-cache-prefix": "caches active introspection answers under the token's first 16 characters, so a token sharing them with one already introspected gets its answer",
    Error500OnLongKid = "error-500-on-long-kid": "answers 500 to a token whose kid header is longer than 64 bytes (the network fuzzer's demonstration)",
    Error500OnNullClaim = "error-500-on-null-claim": "answers 500 to a validly signed token with a claim whose value is JSON null (a typed-decoding crash; the claims fuzzer's demonstration)",
    // §1.5 JWT attacks
    AcceptAlgNone = "accept-alg-none": "accepts unsigned tokens (alg none, any spelling)",
    SkipSignature = "skip-signature": "never verifies signatures",
    Hs256PublicKey = "hs256-public-key": "verifies HS256 with the issuer's public key (JWK text or raw bytes) as the secret",
    Hs384Hs512PublicKey = "hs384-hs512-public-key": "refuses HS256 (a deny-list naming it) but verifies HS384 and HS512 with the issuer's public key (JWK text or raw bytes) as the secret",
    TrustEmbeddedJwk = "trust-embedded-jwk": "verifies with a jwk embedded in the token header",
    TrustJku = "trust-jku": "fetches the JWKS named by the token's jku header and verifies with it",
    AcceptPsychicSignature = "accept-psychic-signature": "accepts the ECDSA signature r = s = 0 (CVE-2022-21449)",
    AcceptNullSignature = "accept-null-signature": "accepts a token whose signature segment is empty under a real alg (CVE-2020-28042)",
    AcceptBlankHmac = "accept-blank-hmac": "verifies HS256 with an empty shared secret (an unset secret setting)",
    AcceptWeakHmac = "accept-weak-hmac": "verifies HS256 with the guessable shared secret \"secret\"",
    HmacKidLookup = "hmac-kid-lookup": "HS256: the secret is whatever the kid names, looked up naively (a file path, an SQL query; simulated)",
    Hs256KidPem = "hs256-kid-pem": "HS256 with a kid: MACs with the SPKI PEM text of the key the kid names",
    KidAlgFallback = "kid-alg-fallback": "when the key the kid names does not fit alg, tries every trusted key that does",
    RsaAnyPadding = "rsa-any-padding": "verifies an RSA key under RS256 or PS256, whatever the alg of its JWK",
    EcdsaCurveFromKey = "ecdsa-curve-from-key": "verifies ECDSA with the curve and hash of the key the kid names, not those alg names",
    EcdsaNoRangeCheck = "ecdsa-no-range-check": "treats ECDSA signatures with r or s outside [1, n-1] as valid (no SEC1 range check; simulated)",
    EcdsaLenientLength = "ecdsa-lenient-length": "reads ECDSA signatures leniently: DER accepted, bytes past R||S ignored",
    AcceptHighS = "accept-high-s": "accepts the malleated high-S form (r, n - s) of a valid ECDSA signature",
    TrustX5c = "trust-x5c": "verifies with the key of the first x5c certificate (no chain, no trust anchor)",
    TrustX5u = "trust-x5u": "fetches the certificate the x5u header names and verifies with its key",
    KidCommandSleep = "kid-command-sleep": "a kid of the form |sleep N runs as a shell command would: the answer waits min(N, 6) s (simulated), then refuses",
    // §1.6 scope and step-up
    Scope401 = "scope-401": "answers insufficient scope with 401 invalid_token",
    Scope403Bare = "scope-403-bare": "answers insufficient scope with a 403 without WWW-Authenticate",
    ScopeChallengeIncomplete = "scope-challenge-incomplete": "the 403 challenge names only the scopes the token already has",
    IgnoreScopeHierarchy = "ignore-scope-hierarchy": "a broader scope does not imply the scopes it includes",
    ScopeFirstOnly = "scope-first-only": "reads only the first value of the scope claim",
    ScopeCaseInsensitive = "scope-case-insensitive": "compares scope values without regard to case",
    // §1.7 DPoP at the resource server (effective with DPoP on)
    DpopProofOptional = "dpop-proof-optional": "takes a DPoP-bound token under the DPoP scheme without a usable proof (no DPoP field, or one that is not a JWT)",
    DpopFirstProofWins = "dpop-first-proof-wins": "uses the first of several DPoP proofs (separate fields or a comma-separated list)",
    DpopLaxTyp = "dpop-lax-typ": "accepts a proof of any typ",
    DpopSkipSignature = "dpop-skip-signature": "never verifies the proof's alg and signature (alg none, HS256 and corrupted signatures pass)",
    DpopAcceptPrivateJwk = "dpop-accept-private-jwk": "accepts a proof whose jwk carries private key members",
    DpopIgnoreHtm = "dpop-ignore-htm": "neither requires nor checks the proof's htm",
    DpopIgnoreHtu = "dpop-ignore-htu": "neither requires nor checks the proof's htu",
    DpopIgnoreIat = "dpop-ignore-iat": "neither requires iat nor bounds the proof's age",
    DpopIgnoreAth = "dpop-ignore-ath": "neither requires nor checks the proof's ath",
    DpopIgnoreJkt = "dpop-ignore-jkt": "does not compare the proof key with the token's cnf.jkt",
    DpopAcceptBearerDowngrade = "dpop-accept-bearer-downgrade": "accepts a DPoP-bound token presented with the Bearer scheme",
    DpopAcceptUnbound = "dpop-accept-unbound": "accepts a token without cnf.jkt under the DPoP scheme",
    DpopNoReplayCache = "dpop-no-replay-cache": "keeps no jti replay cache",
    DpopReplayRace = "dpop-replay-race": "looks a jti up and records it in two steps a store round trip apart (not atomic)",
    DpopBearerChallenge = "dpop-bearer-challenge": "answers every refusal with a Bearer challenge only (no DPoP challenge)",
    DpopAdvertiseHs256 = "dpop-advertise-hs256": "lists the symmetric HS256 in dpop_signing_alg_values_supported and algs",
    DpopPrmClaimsRequired = "dpop-prm-claims-required": "PRM says dpop_bound_access_tokens_required while Bearer tokens are still accepted",
    DpopNonceAnyValue = "dpop-nonce-any-value": "with nonces on, accepts any nonce value",
    DpopNonceNoHeader = "dpop-nonce-no-header": "with nonces on, sends use_dpop_nonce without a DPoP-Nonce header",
    DpopAthPadded = "dpop-ath-padded": "expects ath in standard base64 with padding (refuses the base64url ath of valid proofs)",
    DpopHtuExact = "dpop-htu-exact": "compares htu with the endpoint URL byte for byte (no RFC 3986 normalisation)",
    DpopIatNoFuture = "dpop-iat-no-future": "refuses proofs dated more than 2 s ahead of its clock",
    DpopReplayByBytes = "dpop-replay-by-bytes": "detects replays by the proof's exact text, not by jti (a re-signed proof passes)",
    DpopSchemeCaseSensitive = "dpop-scheme-case-sensitive": "accepts only the exact spelling DPoP as auth-scheme",
    DpopAlgsUnenforced = "dpop-algs-unenforced": "verifies proofs of any asymmetric algorithm it can, not only those it advertises (ES512 passes)",
    Dpop500OnNonStringMember = "dpop-500-on-non-string-member": "answers 500 to a proof with a member of an unexpected JSON type (typ, alg, jti, htm, htu, ath, nonce not a string; iat not a number; jwk not an object) for a valid bound token (the DPoP fuzzer's demonstration)",
    DpopIgnoreExp = "dpop-ignore-exp": "never reads a proof's exp or nbf (an expired proof passes)",
    DpopStrictMembers = "dpop-strict-members": "refuses proofs carrying header parameters or claims beyond those RFC 9449 defines (exp, nbf, x-foo, tx_id)",
    DpopJtiUnchecked = "dpop-jti-unchecked": "takes any string jti, empty or 64 KB long, in proofs of any size",
    DpopThumbprintAllMembers = "dpop-thumbprint-all-members": "hashes every jwk member into the key thumbprint, not just the RFC 7638 required ones (a jwk with kid or use no longer matches cnf.jkt)",
    DpopTrustJku = "dpop-trust-jku": "fetches the JWKS a proof's jku names and verifies the proof with its key instead of the embedded jwk",
    DpopProofAsToken = "dpop-proof-as-token": "takes a JWT whose header embeds a jwk as a self-contained access token verified with that key, so a DPoP proof passes as a token",
    DpopNonceDowngrade = "dpop-nonce-downgrade": "with nonces on, demands a nonce from a key only until it has issued that key one; later proofs without a nonce pass",
    DpopHtuQueryStrict = "dpop-htu-query-strict": "compares htu and the request URI including query and fragment",
    DpopHtuTrailingSlash = "dpop-htu-trailing-slash": "takes an htu with a trailing slash as the endpoint",
    DpopHeaderNameCaseSensitive = "dpop-header-name-case-sensitive": "finds the proof only under the field names DPoP and dpop (a Dpop: or DPOP: field goes unread)",
    DpopNonceConstant = "dpop-nonce-constant": "with nonces on, issues the same nonce every time",
    DpopAcceptWeakRsa = "dpop-accept-weak-rsa": "verifies RS256 proofs whose embedded RSA key has fewer than 2048 bits (a 1024-bit key passes)",
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown fault name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault profile {0:?}; known: {known}", known = known_names())]
pub struct UnknownFault(pub String);

fn known_names() -> String {
    Fault::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Fault {
    /// Looks a fault up by its kebab-case name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| UnknownFault(name.to_owned()))
    }

    /// Parses a combination such as `ignore-aud+skip-signature` or `ignore-aud,ignore-iss`
    /// (surrounding spaces ignored, empty parts skipped).
    pub fn parse_set(list: &str) -> Result<BTreeSet<Fault>, UnknownFault> {
        list.split(['+', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Fault::from_name)
            .collect()
    }
}

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(*f));
            assert!(!f.description().is_empty());
            assert!(
                f.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{f} is not kebab-case"
            );
        }
        let names: BTreeSet<_> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Fault::ALL.len(), "names are unique");
        let err = "nope".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("accept-no-exp") && err.contains("nope"));
    }

    #[test]
    fn combinations_parse() {
        let set = Fault::parse_set("ignore-aud+skip-signature, ignore-iss").unwrap();
        assert_eq!(set.len(), 3);
        assert!(Fault::parse_set("ignore-aud+Ignore-Iss").is_err());
        assert!(Fault::parse_set("").unwrap().is_empty());
    }
}
