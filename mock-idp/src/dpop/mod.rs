//! DPoP (RFC 9449): proofs built with any defect, and validated per §4.3.
//!
//! * [`proof`]: [`ProofBuilder`], a proof in which every header parameter and claim can be
//!   set, left out or broken, and the signature made valid, corrupted or by another key.
//! * [`validate`]: [`DpopValidator`], checks 1–12 of RFC 9449 §4.3 in order, each refusal a
//!   [`DpopError`] naming its check, plus `jti` replay detection.
//! * [`htu`]: the RFC 3986 §6.2.2–6.2.3 normalisation of check 9, and [`HtuVariant`]s.
//! * [`replay`]: the bounded, expiring, atomic `jti` cache.
//! * [`error`]: [`DpopError`] with its check number and OAuth error code.
//!
//! # API contract (other modules rely on these names)
//!
//! ```text
//! DpopValidator::new(ValidatorConfig) -> DpopValidator          // Send + Sync, share via Arc
//! ValidatorConfig: Default, pub allowed_algs: Vec<Algorithm>, iat_past_secs: i64,
//!     iat_future_secs: i64, max_proof_bytes: usize, replay_capacity: usize,
//!     max_jti_bytes: usize, require_low_s: bool,
//!     skipped: Vec<SkippedCheck>   // deliberately faulty verifiers only (reference server)
//! RequestContext<'a> { method: &'a str, url: &'a str, access_token: Option<&'a str>,
//!     expected_jkt: Option<&'a str>, nonce: NonceCheck<'a> }    // also RequestContext::new(m, u)
//! NonceCheck::NotRequired | NonceCheck::Required(&'a dyn Fn(&str) -> bool)
//! DpopValidator::validate(&self, dpop_header_values: &[&str], ctx: &RequestContext, now: i64)
//!     -> Result<ValidatedProof, DpopError>
//! DpopError::step() -> u8            // the RFC 9449 §4.3 check, 1..=12
//! DpopError::error_code() -> &'static str   // "invalid_dpop_proof" | "use_dpop_nonce"
//! DpopError::message() -> String    // human text, prefixed with the check
//! ValidatedProof { jkt: String, jwk: Jwk, alg: Algorithm, jti: String, iat: i64,
//!     htm: String, htu: String, nonce: Option<String>, ath: Option<String> }
//! ProofBuilder::new(method, url) … .sign(&SigningKey) -> String
//! ```
//!
//! # Where each defect is refused
//!
//! | check | refuses |
//! |---|---|
//! | 1 | no `DPoP` field, two or more fields, one field holding a comma-separated list |
//! | 2 | larger than `max_proof_bytes`; not three strict base64url segments; header or claims not a JSON object; duplicate members; any `crit` |
//! | 3 | header without `typ`, `alg` or `jwk`; claims without `jti`, `htm`, `htu` or `iat`; **without `ath` when an access token is presented** (§4.2: required with an access token) |
//! | 4 | `typ` not exactly `dpop+jwt` |
//! | 5 | `alg` not a string, `none` (any case), symmetric (`HS*`), unknown, not allowed, or not fitting the jwk's kty/crv (or the jwk's own `alg` member) |
//! | 6 | `jwk` not a usable public key (malformed, unsupported curve, point off the curve); RSA under 2048 bits; signature not verifying |
//! | 7 | `jwk` with private members (`d`, `p`, `q`, …) |
//! | 8 | `htm` not the request method (case-sensitive) |
//! | 9 | `htu` not the request URI after normalisation, query and fragment ignored; `htu` not an absolute http(s) URI |
//! | 10 | nonce demanded and missing or refused by the callback: `use_dpop_nonce` |
//! | 11 | `iat` not a number, older than `iat_past_secs` or further ahead than `iat_future_secs`; `exp` not after now; `nbf` beyond the future allowance; `jti` empty, longer than `max_jti_bytes` or not a string; `jti` replayed (checked last, see [`validate`]) |
//! | 12 | `ath` not base64url(SHA-256(access token)); key thumbprint ≠ `expected_jkt` |
//!
//! The replay cache is described in [`replay`]: keyed on (normalised `htu`, `jti`), at most
//! `replay_capacity` entries, each kept until `iat + iat_past_secs`; when full the oldest entry
//! is evicted and proofs no newer than it are refused from then on, so a replay is never
//! accepted; one mutex makes check-and-insert atomic.

pub mod error;
pub mod htu;
pub mod proof;
pub mod replay;
pub mod validate;

pub use error::{DpopError, INVALID_DPOP_PROOF, Part, USE_DPOP_NONCE};
pub use htu::HtuVariant;
pub use proof::{DPOP_TYP, ProofBuilder, SignatureMode};
pub use replay::ReplayCache;
pub use validate::{
    DpopValidator, NonceCheck, RequestContext, SkippedCheck, ValidatedProof, ValidatorConfig,
};

#[cfg(test)]
mod tests;
