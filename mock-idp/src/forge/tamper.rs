//! Post-signing tampering of a compact token at the segment level. Untouched segments keep
//! their original bytes, so a verifier's answer can only depend on what was changed.

use serde_json::json;

use crate::alg::EcCurve;
use crate::b64;
use crate::ecdsa;
use crate::json::JsonObject;
use crate::jws::Segment;
use crate::keys::SigningKey;
use crate::token::TokenSpec;

/// One change to a token string. Steps never panic: a step that needs a part the token does
/// not have (a signature segment on a 2-part string, say) leaves the string as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tamper {
    /// Re-encode the header from this object; payload and signature text unchanged.
    ReplaceHeader(JsonObject),
    /// Re-encode the payload from this object; header and signature text unchanged.
    ReplacePayload(JsonObject),
    /// Replace the signature bytes.
    SetSignature(Vec<u8>),
    /// Change exactly the last 4 characters of the signature segment, keeping it canonical
    /// base64url of the same length (jwt_tool "broken signature"): only the signature check
    /// can catch it.
    BreakSignature,
    /// `header.payload.` (the original `alg` kept; CVE-2020-28042).
    StripSignature,
    /// Append `=` padding to a segment (the RFC 4648 amount, at least one `=`).
    PadSegment(Segment),
    /// Use the standard alphabet (`+` for `-`, `/` for `_`) in a segment. The decoded bytes
    /// stay the same. A segment with neither character gets its first character replaced by
    /// `+` (the defect then also changes the bytes); `Attack::Malformed` avoids that case.
    StandardAlphabet(Segment),
    /// Insert a line break in the middle of the payload segment.
    LineBreak,
    /// Drop the signature segment and its dot: 2 segments.
    TwoSegments,
    /// Append a fourth segment (a copy of the last one).
    FourSegments,
    /// Keep only the first half of the string.
    CutInHalf,
    /// Empty the payload segment: `header..signature`.
    EmptyMiddleSegment,
    /// Re-encode as flattened JWS JSON serialization (RFC 7515 §7.2.2) carrying the original
    /// segment texts, then base64url the JSON (spec rs-jws-json-serialization).
    AsJwsJson,
    /// ECDSA: replace s by n − s (a valid, high-S signature). Other lengths are left alone.
    FlipS(EcCurve),
    /// ECDSA: encode R‖S as DER instead.
    DerSignature,
    /// Cut the signature to this many bytes.
    TruncateSignature(usize),
    /// Append bytes to the signature.
    AppendToSignature(Vec<u8>),
}

impl Tamper {
    /// Applies this step to `token` (same as [`tamper`]).
    pub fn apply(&self, token: &str) -> String {
        tamper(token, self)
    }
}

/// Mint-then-tamper for [`TokenSpec`] users, kept here so `token.rs` stays free of attacks.
pub trait TamperExt {
    /// Mints with `key`, then applies `steps` in order.
    fn mint_tampered(&self, key: &SigningKey, steps: &[Tamper]) -> String;
}

impl TamperExt for TokenSpec {
    fn mint_tampered(&self, key: &SigningKey, steps: &[Tamper]) -> String {
        tamper_all(&self.mint(key), steps)
    }
}

/// Applies several steps in order.
pub fn tamper_all(token: &str, steps: &[Tamper]) -> String {
    steps
        .iter()
        .fold(token.to_owned(), |token, step| tamper(&token, step))
}

/// The position of a segment in the compact form.
pub(super) fn segment_index(segment: Segment) -> usize {
    match segment {
        Segment::Header => 0,
        Segment::Payload => 1,
        Segment::Signature => 2,
    }
}

fn map_signature(parts: &mut [String], f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    if let Some(sig) = parts.get_mut(2) {
        let bytes = b64::decode_lenient(sig).unwrap_or_default();
        *sig = b64::encode(f(bytes));
    }
}

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Changes each of the last `count` characters of an unpadded base64url text to another
/// alphabet character. The last character only has its significant bits flipped, so canonical
/// input stays canonical (and decodes to the same number of bytes).
pub(crate) fn change_last_chars(text: &str, count: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    for (i, c) in chars.iter_mut().enumerate().skip(n.saturating_sub(count)) {
        let mask: u8 = match (i + 1 == n, n % 4) {
            (true, 2) => 0b11_0000,
            (true, 3) => 0b11_1100,
            _ => 0b11_1111,
        };
        let value = URL_ALPHABET
            .iter()
            .position(|&a| a as char == *c)
            .map_or(0, |v| v as u8 ^ mask);
        let replacement = URL_ALPHABET[usize::from(value & 0b11_1111)] as char;
        // XOR with a non-zero mask always changes an alphabet character; anything else
        // becomes `A`.
        *c = replacement;
    }
    chars.into_iter().collect()
}

/// The standard-alphabet form of a base64url text, if it has a `-` or `_` to swap.
pub(crate) fn standard_alphabet(text: &str) -> Option<String> {
    text.contains(['-', '_'])
        .then(|| text.replace('-', "+").replace('_', "/"))
}

/// The longest prefix of `s` of at most `len` bytes that ends on a character boundary.
fn prefix(s: &str, len: usize) -> &str {
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Applies one tampering step. Works on any string: a step that needs a part the token does
/// not have leaves the token as it is.
pub fn tamper(token: &str, step: &Tamper) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    match step {
        Tamper::ReplaceHeader(h) => parts[0] = b64::encode(h.to_bytes()),
        Tamper::ReplacePayload(p) => {
            if let Some(payload) = parts.get_mut(1) {
                *payload = b64::encode(p.to_bytes());
            }
        }
        Tamper::SetSignature(sig) => map_signature(&mut parts, |_| sig.clone()),
        Tamper::BreakSignature => {
            if let Some(sig) = parts.get_mut(2) {
                *sig = change_last_chars(sig, 4);
            }
        }
        Tamper::StripSignature => {
            if let Some(sig) = parts.get_mut(2) {
                sig.clear();
            }
        }
        Tamper::PadSegment(segment) => {
            if let Some(s) = parts.get_mut(segment_index(*segment)) {
                let pad = (4 - s.len() % 4) % 4;
                s.push_str(&"=".repeat(pad.max(1)));
            }
        }
        Tamper::StandardAlphabet(segment) => {
            if let Some(s) = parts.get_mut(segment_index(*segment)) {
                *s = match standard_alphabet(s) {
                    Some(swapped) => swapped,
                    None => {
                        let rest: String = s.chars().skip(1).collect();
                        format!("+{rest}")
                    }
                };
            }
        }
        Tamper::LineBreak => {
            if let Some(p) = parts.get_mut(1) {
                let mid = prefix(p, p.len() / 2).len();
                p.insert(mid, '\n');
            }
        }
        Tamper::TwoSegments => parts.truncate(2),
        Tamper::FourSegments => parts.push(parts.last().cloned().unwrap_or_default()),
        Tamper::CutInHalf => return prefix(token, token.len() / 2).to_owned(),
        Tamper::EmptyMiddleSegment => {
            if let Some(p) = parts.get_mut(1) {
                p.clear();
            }
        }
        Tamper::AsJwsJson => {
            let get = |i: usize| parts.get(i).cloned().unwrap_or_default();
            let doc = json!({ "payload": get(1), "protected": get(0), "signature": get(2) });
            return b64::encode(doc.to_string());
        }
        Tamper::FlipS(curve) => map_signature(&mut parts, |sig| {
            if sig.len() == 2 * curve.coordinate_len() {
                ecdsa::flip_s(*curve, &sig)
            } else {
                sig
            }
        }),
        Tamper::DerSignature => map_signature(&mut parts, |sig| ecdsa::raw_to_der(&sig)),
        Tamper::TruncateSignature(n) => map_signature(&mut parts, |mut sig| {
            sig.truncate(*n);
            sig
        }),
        Tamper::AppendToSignature(extra) => map_signature(&mut parts, |mut sig| {
            sig.extend_from_slice(extra);
            sig
        }),
    }
    parts.join(".")
}
