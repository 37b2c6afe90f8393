//! Why a DPoP proof was refused: one variant per distinct defect, each tied to the RFC 9449
//! §4.3 check that finds it.

use crate::alg::Algorithm;
use crate::jws::JwsError;
use crate::keys::SignatureError;

/// OAuth error code for a proof that fails any check but the nonce check (RFC 9449 §5, §7.1).
pub const INVALID_DPOP_PROOF: &str = "invalid_dpop_proof";
/// OAuth error code for a missing or wrong server nonce (RFC 9449 §8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Which part of the proof a missing member belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Claims,
}

/// A refused DPoP proof. [`DpopError::step`] names the RFC 9449 §4.3 check (1–12),
/// [`DpopError::error_code`] the OAuth error code, `Display` the human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    // ---- check 1: exactly one DPoP header field ----
    #[error("no DPoP header field")]
    MissingHeader,
    #[error("{count} DPoP header fields; exactly one is allowed")]
    MultipleHeaders { count: usize },
    #[error("the DPoP header field holds a comma-separated list of {count} values")]
    MultipleValues { count: usize },

    // ---- check 2: a single well-formed JWT ----
    #[error("proof is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("proof is not a well-formed JWT: {0}")]
    Malformed(JwsError),
    #[error("proof header has crit {0}, and no DPoP extension is understood")]
    CritNotUnderstood(String),

    // ---- check 3: required members present ----
    #[error("proof {part:?} lacks the required member {name:?}")]
    MissingMember { part: Part, name: &'static str },

    // ---- check 4: typ ----
    #[error("typ is {0}, not \"dpop+jwt\"")]
    WrongTyp(String),

    // ---- check 5: alg ----
    #[error("alg is {0}, not a string")]
    AlgNotString(String),
    #[error("alg {0:?} means an unsigned proof")]
    AlgNone(String),
    #[error("alg {0:?} is symmetric (a MAC); proofs need an asymmetric signature")]
    AlgSymmetric(String),
    #[error("alg {0:?} is not a supported algorithm")]
    AlgUnsupported(String),
    #[error("alg {0} is not in the allow-list")]
    AlgNotAllowed(Algorithm),
    #[error("alg {alg} does not fit the jwk: {reason}")]
    AlgKeyMismatch { alg: Algorithm, reason: String },

    // ---- check 6: signature with the embedded jwk ----
    #[error("jwk is not a usable public key: {0}")]
    InvalidJwk(String),
    #[error("RSA jwk has {bits} bits; at least 2048 are required")]
    WeakRsaKey { bits: usize },
    #[error("signature does not verify with the embedded jwk: {0}")]
    BadSignature(SignatureError),

    // ---- check 7: no private key in jwk ----
    #[error("jwk carries private key members {0:?}")]
    PrivateKeyInJwk(Vec<String>),

    // ---- check 8: htm ----
    #[error("htm is {found}, the request method is {expected:?}")]
    HtmMismatch { found: String, expected: String },

    // ---- check 9: htu ----
    #[error("htu {found} does not match the request URI {expected:?}")]
    HtuMismatch { found: String, expected: String },
    #[error("htu {found:?} is not an absolute http(s) URI: {reason}")]
    HtuInvalid { found: String, reason: String },
    #[error("request URI {url:?} cannot be compared: {reason}")]
    RequestUrlInvalid { url: String, reason: String },

    // ---- check 10: nonce ----
    #[error("the server requires a nonce and the proof has none")]
    NonceMissing,
    #[error("the proof's nonce is not the one the server expects")]
    NonceInvalid,

    // ---- check 11: freshness (iat window, exp/nbf, jti and replay per §11.1) ----
    #[error("iat is {0}, not a NumericDate")]
    IatNotNumeric(String),
    #[error("iat {iat} is {age} s old, more than the {max} s allowed")]
    IatTooOld { iat: i64, age: i64, max: i64 },
    #[error("iat {iat} is {ahead} s in the future, more than the {max} s allowed")]
    IatInFuture { iat: i64, ahead: i64, max: i64 },
    #[error("{claim} is {value}, not a NumericDate")]
    TimeClaimNotNumeric { claim: &'static str, value: String },
    #[error("exp {exp} is not after now ({now})")]
    Expired { exp: i64, now: i64 },
    #[error("nbf {nbf} is more than the allowed skew after now ({now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("jti is unusable: {0}")]
    BadJti(String),
    #[error("jti was already used with this htu (replayed proof)")]
    Replayed,
    #[error(
        "the replay cache is saturated and cannot vouch for a proof valid until {valid_until} \
         (it has forgotten proofs valid until {floor})"
    )]
    ReplayHorizon { valid_until: i64, floor: i64 },

    // ---- check 12: access-token binding ----
    #[error("ath is not the base64url SHA-256 of the presented access token")]
    AthMismatch,
    #[error("proof key thumbprint {found} is not the bound key {expected}")]
    JktMismatch { found: String, expected: String },
}

impl DpopError {
    /// The RFC 9449 §4.3 check (1–12) that refuses this proof. Replay detection (§11.1) and
    /// the `jti`, `exp` and `nbf` checks are reported under 11, the freshness check.
    pub fn step(&self) -> u8 {
        use DpopError::*;
        match self {
            MissingHeader | MultipleHeaders { .. } | MultipleValues { .. } => 1,
            TooLarge { .. } | Malformed(_) | CritNotUnderstood(_) => 2,
            MissingMember { .. } => 3,
            WrongTyp(_) => 4,
            AlgNotString(_)
            | AlgNone(_)
            | AlgSymmetric(_)
            | AlgUnsupported(_)
            | AlgNotAllowed(_)
            | AlgKeyMismatch { .. } => 5,
            InvalidJwk(_) | WeakRsaKey { .. } | BadSignature(_) => 6,
            PrivateKeyInJwk(_) => 7,
            HtmMismatch { .. } => 8,
            HtuMismatch { .. } | HtuInvalid { .. } | RequestUrlInvalid { .. } => 9,
            NonceMissing | NonceInvalid => 10,
            IatNotNumeric(_)
            | IatTooOld { .. }
            | IatInFuture { .. }
            | TimeClaimNotNumeric { .. }
            | Expired { .. }
            | NotYetValid { .. }
            | BadJti(_)
            | Replayed
            | ReplayHorizon { .. } => 11,
            AthMismatch | JktMismatch { .. } => 12,
        }
    }

    /// `use_dpop_nonce` for check 10, `invalid_dpop_proof` otherwise. (A resource server may
    /// answer a check-12 failure with `invalid_token` instead, RFC 9449 Figure 16; OQ-12.)
    pub fn error_code(&self) -> &'static str {
        match self {
            DpopError::NonceMissing | DpopError::NonceInvalid => USE_DPOP_NONCE,
            _ => INVALID_DPOP_PROOF,
        }
    }

    /// The human message, prefixed with the check that failed.
    pub fn message(&self) -> String {
        format!("RFC 9449 §4.3 check {}: {self}", self.step())
    }

    /// True for the key-binding failures of check 12 (`ath`, `cnf.jkt`).
    pub fn is_binding_failure(&self) -> bool {
        self.step() == 12
    }
}
