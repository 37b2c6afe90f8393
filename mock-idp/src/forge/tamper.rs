//! Post-signing tampering of a compact token at the segment level. Untouched segments keep
//! their original bytes, so a verifier's answer can only depend on what was changed.

use serde_json::json;

use crate::alg::EcCurve;
use crate::b64;
use crate::ecdsa;
use crate::json::JsonObject;
use crate::jws::Segment;

/// One change to a token string.
#[derive(Debug, Clone, PartialEq)]
pub enum Tamper {
    /// Re-encode the header from this object; payload and signature text unchanged.
    ReplaceHeader(JsonObject),
    /// Re-encode the payload from this object; header and signature text unchanged.
    ReplacePayload(JsonObject),
    /// Replace the signature bytes.
    SetSignature(Vec<u8>),
    /// Flip the last two signature bytes (the last 4 characters of a 64- or 256-byte one).
    BreakSignature,
    /// `header.payload.` (the original `alg` kept).
    StripSignature,
    /// Append `=` padding to a segment.
    PadSegment(Segment),
    /// Use the standard alphabet (`+`, `/`) in a segment.
    StandardAlphabet(Segment),
    /// Insert a line break in the middle of the payload segment.
    LineBreak,
    /// Drop the signature segment and its dot: 2 segments.
    TwoSegments,
    /// Append a fourth segment.
    FourSegments,
    /// Keep only the first half of the string.
    CutInHalf,
    /// Empty the payload segment: `header..signature`.
    EmptyMiddleSegment,
    /// Re-encode as JWS JSON serialization (RFC 7515 §7.2.2), then base64url the JSON.
    AsJwsJson,
    /// ECDSA: replace s by n − s (a valid, high-S signature).
    FlipS(EcCurve),
    /// ECDSA: encode R‖S as DER instead.
    DerSignature,
    /// Cut the signature to this many bytes.
    TruncateSignature(usize),
    /// Append bytes to the signature.
    AppendToSignature(Vec<u8>),
}

fn split(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn segment_index(segment: Segment) -> usize {
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

/// Applies one tampering step. Works on any string: a step that needs a part the token does
/// not have leaves the token as it is.
pub fn tamper(token: &str, step: &Tamper) -> String {
    let mut parts = split(token);
    match step {
        Tamper::ReplaceHeader(h) => parts[0] = b64::encode(h.to_bytes()),
        Tamper::ReplacePayload(p) => {
            if parts.len() > 1 {
                parts[1] = b64::encode(p.to_bytes());
            }
        }
        Tamper::SetSignature(sig) => map_signature(&mut parts, |_| sig.clone()),
        Tamper::BreakSignature => map_signature(&mut parts, |mut sig| {
            // Flip every bit of the last two bytes: for the usual signature sizes that changes
            // exactly the last 4 characters and keeps the encoding canonical, so only the
            // signature check can catch it.
            let n = sig.len();
            for b in &mut sig[n.saturating_sub(2)..] {
                *b ^= 0xFF;
            }
            sig
        }),
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
                let swapped: String = s
                    .chars()
                    .map(|c| match c {
                        '-' => '+',
                        '_' => '/',
                        c => c,
                    })
                    .collect();
                // A segment without `-`/`_` gets its first character replaced by `+`, so
                // the defect always exists.
                *s = if swapped == *s && !s.is_empty() {
                    format!("+{}", &s[1..])
                } else {
                    swapped
                };
            }
        }
        Tamper::LineBreak => {
            if let Some(p) = parts.get_mut(1) {
                let mid = p.len() / 2;
                p.insert(mid, '\n');
            }
        }
        Tamper::TwoSegments => parts.truncate(2),
        Tamper::FourSegments => parts.push(parts.last().cloned().unwrap_or_default()),
        Tamper::CutInHalf => return token[..token.len() / 2].to_owned(),
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
