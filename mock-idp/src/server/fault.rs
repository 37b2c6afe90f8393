//! Authorization-server fault profiles: each breaks one behaviour of the compliant mock IdP on
//! purpose, so every `as.*` check can be shown to fail (as the reference server's faults do
//! for the `rs.*` checks). Several can be combined.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! as_faults {
    ($($variant:ident = $name:literal : $what:literal,)*) => {
        /// One deliberate defect of the authorization server.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AsFault { $($variant,)* }

        impl AsFault {
            /// Every fault, in declaration order (grouped by spec area).
            pub const ALL: &'static [AsFault] = &[$(AsFault::$variant,)*];

            /// The kebab-case name used on the command line and in check metadata.
            pub fn name(self) -> &'static str {
                match self { $(AsFault::$variant => $name,)* }
            }

            /// What the fault breaks, in one line.
            pub fn description(self) -> &'static str {
                match self { $(AsFault::$variant => $what,)* }
            }
        }
    };
}

as_faults! {
    // The whole server
    RejectEverything = "as-reject-everything": "refuses every request at its authorization, token, registration and pushed-request endpoints (its metadata and JWKS stay up)",
    // §2.1 metadata and discovery
    NoMetadata = "as-no-metadata": "serves no authorization server metadata at any discovery URL",
    MetadataAppended = "as-metadata-appended": "serves its RFC 8414 metadata at the issuer with the well-known suffix appended, not path-inserted",
    IssuerTrailingSlash = "as-issuer-trailing-slash": "its metadata names the issuer with a trailing slash added",
    IssuerFragment = "as-issuer-fragment": "its metadata names the issuer with a #fragment added",
    MetadataNoResponseTypes = "as-metadata-no-response-types": "its metadata has no response_types_supported",
    NoPkceAdvertised = "as-no-pkce-advertised": "its metadata has no code_challenge_methods_supported",
    PkcePlainOnly = "as-pkce-plain-only": "its metadata lists only plain in code_challenge_methods_supported",
    MetadataEmptyArray = "as-metadata-empty-array": "its metadata has an empty ui_locales_supported array",
    AuthSigningAlgNone = "as-auth-signing-alg-none": "its metadata lists none in token_endpoint_auth_signing_alg_values_supported",
    JwksPrivateKey = "as-jwks-private-key": "its JWKS publishes the private members of its signing keys",
    OidcDocumentDiffers = "as-oidc-document-differs": "its OpenID configuration names another token endpoint than its RFC 8414 metadata",
    RegistrationPlainHttp = "as-registration-plain-http": "its metadata names the registration endpoint by its bind address over plain http (http://0.0.0.0:<port>), a host that is not loopback",
    TokenEndpointPlainHttp = "as-token-endpoint-plain-http": "its metadata names the token endpoint by its bind address over plain http (http://0.0.0.0:<port>), a host that is not loopback",
    DpopAlgsSymmetric = "as-dpop-algs-symmetric": "its metadata lists HS256 in dpop_signing_alg_values_supported",
    // §2.2 authorization endpoint
    PkceOptional = "as-pkce-optional": "issues a code to a request without code_challenge",
    PkceAnyMethod = "as-pkce-any-method": "takes any code_challenge_method it does not know as S256",
    PkcePlainAccepted = "as-pkce-plain-accepted": "accepts code_challenge_method=plain",
    PkceLenientSyntax = "as-pkce-lenient-syntax": "accepts a code_challenge of any length and alphabet",
    RedirectPrefixMatch = "as-redirect-prefix-match": "accepts a redirect_uri that merely starts with a registered one",
    RedirectForUnknownClient = "as-redirect-for-unknown-client": "redirects an unknown client_id's request to the redirect_uri it names (with error=invalid_client)",
    ResponseTypeAny = "as-response-type-any": "treats any response_type (token, code id_token) as code",
    ResourceUnchecked = "as-resource-unchecked": "accepts a resource that is relative or carries a fragment",
    DuplicateParamsAccepted = "as-duplicate-params-accepted": "takes the first of a repeated authorization request parameter instead of refusing it",
    StateTruncated = "as-state-truncated": "cuts the state it sends back to 32 characters",
    NoIss = "as-no-iss": "sends no iss in its authorization responses (its metadata still advertises it)",
    IssMissingOnError = "as-iss-missing-on-error": "sends iss in successful authorization responses but not in error responses",
    UnknownParamsRefused = "as-unknown-params-refused": "refuses an authorization request carrying a parameter it does not know",
    EmptyScopeRefused = "as-empty-scope-refused": "refuses scope= (an empty value) with invalid_scope instead of treating it as omitted",
    LoopbackPortFixed = "as-loopback-port-fixed": "matches a loopback redirect URI exactly, port included",
    AuthorizeCors = "as-authorize-cors": "answers a CORS preflight at its authorization endpoint with Access-Control-Allow-Origin for any origin",
    RedirectDefaultOfSeveral = "as-redirect-default-of-several": "uses the first registered redirect URI when a client that registered several sends a request without redirect_uri",
    RedirectHttpAllowed = "as-redirect-http-allowed": "registers, and redirects to, plain-http redirect URIs on any host",
    LoginFramable = "as-login-framable": "serves its login page without frame-ancestors or X-Frame-Options, so any site can frame it (login mode)",
    LoginRedirect307 = "as-login-redirect-307": "answers the login form's credential POST with a 307 redirect, which re-POSTs the credentials to the client (login mode)",
    // §2.3 token endpoint
    TokenSuccessShape = "as-token-success-shape": "answers a successful token request without Cache-Control: no-store",
    TokenPkceVerifierOptional = "as-token-pkce-verifier-optional": "redeems a code issued for a PKCE challenge without code_verifier",
    TokenPkceVerifierUnchecked = "as-token-pkce-verifier-unchecked": "redeems a code with any code_verifier of valid syntax, without comparing it with the challenge",
    TokenCodeReuse = "as-token-code-reuse": "redeems an authorization code as often as it is presented until it expires",
    TokenRedirectUnchecked = "as-token-redirect-unchecked": "redeems a code whatever redirect_uri the token request names",
    TokenInvalidClient400 = "as-token-invalid-client-400": "answers failed HTTP Basic client authentication with 400 and no WWW-Authenticate challenge",
    TokenDuplicateParamsAccepted = "as-token-duplicate-params-accepted": "takes the first of a repeated token request parameter instead of refusing it",
    TokenPasswordGrant = "as-token-password-grant": "issues tokens for grant_type=password with any username and password",
    TokenErrorShape = "as-token-error-shape": "answers token endpoint errors as text/plain without Cache-Control: no-store",
    TokenAudDefault = "as-token-aud-default": "ignores resource when minting: every access token has the default audience",
    TokenResourceUnbound = "as-token-resource-unbound": "issues a code's tokens for whatever resource the token request names, granted or not",
    TokenLongLived = "as-token-long-lived": "issues access tokens that live 24 hours",
    RefreshNoRotation = "as-refresh-no-rotation": "accepts a refresh token again after it was used (it still issues a new one each time)",
    RefreshReuseKeepsFamily = "as-refresh-reuse-keeps-family": "refuses a replayed refresh token but leaves the refresh token that replaced it usable (no family revocation)",
    RefreshScopeWidened = "as-refresh-scope-widened": "grants a refresh request any scope the client may obtain, beyond what was granted",
    ResourceAny = "as-resource-any": "issues codes and tokens for any absolute resource URI, one no resource server can have (https://mcp-authspec.invalid/mcp) included",
    DefaultAudMissing = "as-default-aud-missing": "mints access tokens without aud when the request names no resource",
    RefreshResourceUnbound = "as-refresh-resource-unbound": "issues a refresh request's tokens for whatever resource it names, granted or not",
    GuessableCodes = "as-guessable-codes": "makes authorization codes from the clock in milliseconds and a counter (17 digits, consecutive codes alike)",
    CodeClientUnbound = "as-code-client-unbound": "redeems an authorization code for whichever client presents it, not only the client it was issued to",
    RefreshClientUnbound = "as-refresh-client-unbound": "accepts a refresh token from any client, not only the client it was issued to",
    // §2.4 JWT access tokens
    AtTypJwt = "as-at-typ-jwt": "types its JWT access tokens typ: JWT instead of at+jwt",
    AtClaimsMissing = "as-at-claims-missing": "mints JWT access tokens without client_id and jti",
    AtKeyUnpublished = "as-at-key-unpublished": "signs its JWT access tokens with a key (ES256, kid mcp-authspec-retired) that its JWKS does not publish",
    // §2.6 dynamic client registration
    DcrSecretForPublic = "as-dcr-secret-for-public": "issues a client_secret (without client_secret_expires_at) to a client registered with token_endpoint_auth_method none",
    DcrRedirectUnchecked = "as-dcr-redirect-unchecked": "registers redirect URIs without checking their form (a fragment, a relative path, a javascript: URI); only plain http off loopback is refused",
    DcrJwksWithJwksUri = "as-dcr-jwks-with-jwks-uri": "registers a client whose metadata carries both jwks and jwks_uri",
    DcrPublicPkceOptional = "as-dcr-public-pkce-optional": "issues a code without code_challenge to a dynamically registered public client (pre-registered clients still need PKCE)",
    DcrNativeAsWeb = "as-dcr-native-as-web": "registers every client as application_type web, whatever it asked for",
    DcrInitialTokenRequired = "as-dcr-initial-token-required": "refuses every registration without an initial access token (401)",
    DcrCacheable = "as-dcr-cacheable": "answers a registration without Cache-Control: no-store",
    // §2.5 DPoP at the authorization server
    DpopTokenTypeBearer = "as-dpop-token-type-bearer": "answers token_type Bearer for an access token it bound to the DPoP proof's key (cnf.jkt)",
    DpopCnfMissing = "as-dpop-cnf-missing": "answers token_type DPoP to a redemption with a proof but mints the access token without cnf.jkt",
    DpopSignatureUnchecked = "as-dpop-signature-unchecked": "does not check a token-endpoint DPoP proof's alg and signature (alg none, HS256 and a corrupted signature pass)",
    DpopIatStrict = "as-dpop-iat-strict": "allows no clock skew for DPoP proofs: an iat more than 5 s old or in the future is refused",
    DpopNonceValueUnchecked = "as-dpop-nonce-value-unchecked": "demands a DPoP nonce but then takes any nonce value, not only one it issued",
    DpopReplayAccepted = "as-dpop-replay-accepted": "keeps no record of the jti of token-endpoint DPoP proofs: a replayed proof is accepted",
    DpopRefreshUnbound = "as-dpop-refresh-unbound": "does not bind a public client's refresh token to the DPoP key of the request that got it",
    DpopBoundClientUnenforced = "as-dpop-bound-client-unenforced": "issues Bearer tokens without a proof to a client registered with dpop_bound_access_tokens true",
    DpopJktIgnored = "as-dpop-jkt-ignored": "ignores the dpop_jkt of an authorization request: its code is redeemed with a proof by any key",
    DpopTokenTypeUnconditional = "as-dpop-token-type-unconditional": "answers token_type DPoP to a code redemption without a DPoP proof (a token bound to no key)",
    DpopParUnbound = "as-dpop-par-unbound": "ignores the DPoP proof of a pushed authorization request: it neither binds the code to the proof key nor is compared with dpop_jkt",
    DpopAthRefused = "as-dpop-ath-refused": "refuses a token-endpoint DPoP proof that carries an ath claim (as the OIDF reference authorization server does)",
    // §2.7 client ID metadata documents
    CimdUnsupported = "as-cimd-unsupported": "its metadata does not advertise client ID metadata documents and it treats URL client ids as unknown clients (it never fetches them)",
    CimdIgnored = "as-cimd-ignored": "advertises client ID metadata documents but treats URL client ids as unknown clients (it never fetches them)",
    CimdClientIdUnchecked = "as-cimd-client-id-unchecked": "accepts a client ID metadata document whose client_id differs from the URL it was fetched from",
    CimdRedirectUnchecked = "as-cimd-redirect-unchecked": "accepts, for a client ID metadata document client, a redirect_uri its document does not list",
    CimdDocumentUnchecked = "as-cimd-document-unchecked": "accepts a client ID metadata document served with a non-JSON content type, a JSON array (its first element when that is an object), and one without redirect_uris (then redirecting to the request's redirect_uri)",
    CimdUrlLax = "as-cimd-url-lax": "fetches client_id URLs that use http or have no path, dot segments, a fragment or userinfo (as given)",
    CimdSharedSecretAccepted = "as-cimd-shared-secret-accepted": "accepts client ID metadata documents carrying client_secret or a shared-secret token_endpoint_auth_method",
    CimdFollowsRedirects = "as-cimd-follows-redirects": "follows redirects (up to 5, to any origin) when fetching a client ID metadata document, checking the final document's client_id against the original URL",
    CimdNoSizeLimit = "as-cimd-no-size-limit": "reads client ID metadata documents of any size (up to 8 MiB) with a 60 s timeout instead of its limits",
    CimdSsrf = "as-cimd-ssrf": "fetches client ID metadata documents from any address, internal ones (loopback beyond 127.0.0.1, private, link-local) included",
    CimdCacheIgnoresHeaders = "as-cimd-cache-ignores-headers": "keeps every fetched client ID metadata document for an hour, whatever Cache-Control says",
    // §2.1/§2.3/§2.4 remaining rows
    TokenPkceDowngrade = "as-token-pkce-downgrade": "redeems a code issued without code_challenge (to a confidential client) whatever code_verifier the token request adds",
    ClientCredentialsUserSub = "as-client-credentials-user-sub": "issues client-credentials access tokens whose sub is the test user's (the last logged-in user), not the client's",
    CodeNeverExpires = "as-code-never-expires": "redeems an authorization code however old it is",
    CodeReuseKeepsTokens = "as-code-reuse-keeps-tokens": "refuses a second redemption of a code but leaves the tokens of the first one active",
    ProtectedResourcesWithoutResource = "as-protected-resources-without-resource": "its metadata lists protected_resources without the resources it issues tokens for (only https://other.mcp-authspec.invalid/mcp)",
    SignedMetadataUnsigned = "as-signed-metadata-unsigned": "its metadata carries signed_metadata with alg none and no signature",
    SignedMetadataWrongIssuer = "as-signed-metadata-wrong-issuer": "its metadata carries signed_metadata, signed with its key, whose iss is another issuer",
    // RFC 8693 token exchange
    ExchangeSuccessShape = "as-exchange-success-shape": "answers a successful token exchange without issued_token_type",
    ExchangeAudienceWidened = "as-exchange-audience-widened": "issues an exchanged token for the requested target plus every audience of the subject token",
    ExchangeScopeWidened = "as-exchange-scope-widened": "grants an exchange any scope the client may obtain, beyond the subject token's scope",
    ExchangeForeignSubject = "as-exchange-foreign-subject": "exchanges a subject token issued for any resource, not only one the exchanging client stands for",
    ExchangeSubjectUnverified = "as-exchange-subject-unverified": "takes a subject token's claims without checking its signature, issuer or expiry",
}

impl fmt::Display for AsFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown fault name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown authorization-server fault {0:?}; known: {known}", known = known_names())]
pub struct UnknownAsFault(pub String);

fn known_names() -> String {
    AsFault::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl AsFault {
    /// Looks a fault up by its kebab-case name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Result<AsFault, UnknownAsFault> {
        AsFault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| UnknownAsFault(name.to_owned()))
    }

    /// Parses a combination such as `as-no-pkce-advertised+as-jwks-private-key` (commas work
    /// too; surrounding spaces ignored, empty parts skipped).
    pub fn parse_set(list: &str) -> Result<BTreeSet<AsFault>, UnknownAsFault> {
        list.split(['+', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(AsFault::from_name)
            .collect()
    }
}

impl FromStr for AsFault {
    type Err = UnknownAsFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AsFault::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_are_unique_and_kebab_case() {
        for f in AsFault::ALL {
            assert_eq!(f.name().parse::<AsFault>(), Ok(*f));
            assert!(!f.description().is_empty());
            assert!(
                f.name().starts_with("as-"),
                "{f}: AS faults are prefixed as-"
            );
            assert!(
                f.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{f} is not kebab-case"
            );
        }
        let names: BTreeSet<_> = AsFault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), AsFault::ALL.len());
        let err = "nope".parse::<AsFault>().unwrap_err().to_string();
        assert!(err.contains("as-no-metadata") && err.contains("nope"));
        assert_eq!(
            AsFault::parse_set("as-no-metadata, as-jwks-private-key")
                .unwrap()
                .len(),
            2
        );
    }
}
