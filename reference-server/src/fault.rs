//! Fault profiles: each breaks exactly one behaviour of the compliant server on purpose, so
//! every check can be shown to fail. Several can be combined.

use std::fmt;
use std::str::FromStr;

macro_rules! faults {
    ($($variant:ident = $name:literal : $what:literal,)*) => {
        /// One deliberate defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault { $($variant,)* }

        impl Fault {
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
    AcceptNoExp = "accept-no-exp": "accepts tokens without exp",
    AcceptExpired = "accept-expired": "does not check exp",
    IgnoreNbf = "ignore-nbf": "does not check nbf",
    IgnoreAud = "ignore-aud": "does not check aud",
    IgnoreIss = "ignore-iss": "does not check iss",
    AcceptAlgNone = "accept-alg-none": "accepts unsigned tokens (alg none, any spelling)",
    Hs256PublicKey = "hs256-public-key": "verifies HS256 with the issuer's public JWK text as the secret",
    TrustEmbeddedJwk = "trust-embedded-jwk": "verifies with a jwk embedded in the token header",
    SkipSignature = "skip-signature": "never verifies signatures",
    IgnoreTyp = "ignore-typ": "accepts any typ, not only at+jwt",
    NoResourceMetadata = "no-resource-metadata": "serves no protected resource metadata and no resource_metadata parameter",
    PrmResourceMismatch = "prm-resource-mismatch": "PRM resource names another resource",
    NoWwwAuthenticate = "no-www-authenticate": "401 without a WWW-Authenticate header",
    ErrorOnNoToken = "error-on-no-token": "puts error=invalid_token in the challenge to a request without credentials",
    NoScopeInChallenge = "no-scope-in-challenge": "the 401 challenge has no scope parameter",
    Scope401 = "scope-401": "answers insufficient scope with 401 invalid_token",
    AcceptQueryToken = "accept-query-token": "takes the token from the access_token query parameter",
    SessionNotBound = "session-not-bound": "lets any valid token use any session",
    ProcessBeforeAuth = "process-before-auth": "runs a tools/call before checking the token (the canary counts refused calls)",
    Error500OnGarbage = "error-500-on-garbage": "answers 500 to a token that does not parse",
    RejectEverything = "reject-everything": "refuses every token, valid ones included",
    CaseSensitiveScheme = "case-sensitive-scheme": "accepts only the exact spelling Bearer as auth-scheme",
    FirstAuthorizationWins = "first-authorization-wins": "uses the first of several Authorization header fields",
    SessionIsAuthentication = "session-is-authentication": "treats a known Mcp-Session-Id as authentication",
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

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(*f));
        }
        let err = "nope".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("accept-no-exp") && err.contains("nope"));
    }
}
