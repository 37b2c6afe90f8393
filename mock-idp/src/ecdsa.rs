//! ECDSA signature encodings and the scalar range facts the attack rows need.
//!
//! JWS carries ECDSA signatures as fixed-size big-endian R‖S (RFC 7518 §3.4). Verifiers must
//! also refuse r or s outside [1, n−1] (SEC1 §4.1.4; CVE-2022-21449), so we need the curve
//! orders, plain big-endian comparison and subtraction, and DER conversion for the forgers.

use std::cmp::Ordering;

use crate::alg::EcCurve;
use crate::der::{self, strip_zeros};

const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const N_P384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
const N_P521: &str = "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// The group order n of the curve, big-endian, `coordinate_len` octets.
pub fn curve_order(curve: EcCurve) -> Vec<u8> {
    let hex = match curve {
        EcCurve::P256 => N_P256,
        EcCurve::P384 => N_P384,
        EcCurve::P521 => &N_P521[N_P521.len() - 132..],
    };
    hex_decode(hex)
}

pub(crate) fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("constant hex"))
        .collect()
}

/// Compares two big-endian unsigned integers of any length.
pub fn cmp_be(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_zeros(a);
    let b = strip_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// a − b for a ≥ b, as big-endian of `a.len()` octets.
pub fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    debug_assert!(cmp_be(a, b) != Ordering::Less);
    let mut out = a.to_vec();
    let mut borrow = 0i16;
    for i in 0..out.len() {
        let ai = out.len() - 1 - i;
        let bv = if i < b.len() {
            b[b.len() - 1 - i] as i16
        } else {
            0
        };
        let mut d = out[ai] as i16 - bv - borrow;
        borrow = if d < 0 { 1 } else { 0 };
        if d < 0 {
            d += 256;
        }
        out[ai] = d as u8;
    }
    out
}

/// Shifts a big-endian integer right by one bit.
fn half_be(a: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut carry = 0u8;
    for &byte in a {
        out.push((byte >> 1) | carry);
        carry = (byte & 1) << 7;
    }
    out
}

/// Why an R‖S signature is out of the acceptable range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("signature is {found} octets, {expected} expected for this curve")]
    Length { expected: usize, found: usize },
    #[error("r is zero")]
    RZero,
    #[error("s is zero")]
    SZero,
    #[error("r is not below the curve order n")]
    RTooLarge,
    #[error("s is not below the curve order n")]
    STooLarge,
    #[error("s is above n/2 (high-S, malleable form)")]
    HighS,
}

/// Checks 1 ≤ r, s ≤ n−1 on a fixed-size R‖S signature, and low-S when asked.
pub fn check_range(curve: EcCurve, sig: &[u8], require_low_s: bool) -> Result<(), RangeError> {
    let len = curve.coordinate_len();
    if sig.len() != 2 * len {
        return Err(RangeError::Length {
            expected: 2 * len,
            found: sig.len(),
        });
    }
    let (r, s) = sig.split_at(len);
    let n = curve_order(curve);
    if strip_zeros(r).is_empty() {
        return Err(RangeError::RZero);
    }
    if strip_zeros(s).is_empty() {
        return Err(RangeError::SZero);
    }
    if cmp_be(r, &n) != Ordering::Less {
        return Err(RangeError::RTooLarge);
    }
    if cmp_be(s, &n) != Ordering::Less {
        return Err(RangeError::STooLarge);
    }
    if require_low_s && is_high_s(curve, s) {
        return Err(RangeError::HighS);
    }
    Ok(())
}

/// True when s > n/2.
pub fn is_high_s(curve: EcCurve, s: &[u8]) -> bool {
    cmp_be(s, &half_be(&curve_order(curve))) == Ordering::Greater
}

/// Replaces s by n − s: the other valid signature for the same message (malleability).
pub fn flip_s(curve: EcCurve, sig: &[u8]) -> Vec<u8> {
    let len = curve.coordinate_len();
    let (r, s) = sig.split_at(len);
    let n = curve_order(curve);
    let mut out = r.to_vec();
    out.extend(sub_be(&n, s));
    out
}

/// Returns the low-S form of a valid R‖S signature.
pub fn normalize_low_s(curve: EcCurve, sig: Vec<u8>) -> Vec<u8> {
    let len = curve.coordinate_len();
    if sig.len() == 2 * len && is_high_s(curve, &sig[len..]) {
        flip_s(curve, &sig)
    } else {
        sig
    }
}

/// Encodes R‖S as an ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn raw_to_der(sig: &[u8]) -> Vec<u8> {
    let (r, s) = sig.split_at(sig.len() / 2);
    let mut body = der::unsigned_integer(r);
    body.extend(der::unsigned_integer(s));
    der::tlv(0x30, &body)
}

/// Decodes a DER ECDSA signature into R‖S of `coordinate_len` octets each.
pub fn der_to_raw(sig: &[u8], curve: EcCurve) -> Option<Vec<u8>> {
    let len = curve.coordinate_len();
    let (body, rest) = der::take(sig, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, body) = der::take(body, 0x02)?;
    let (s, body) = der::take(body, 0x02)?;
    if !body.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * len);
    for x in [r, s] {
        let x = strip_zeros(x);
        if x.len() > len {
            return None;
        }
        out.extend(std::iter::repeat_n(0, len - x.len()));
        out.extend(x);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §3.3 tp-ecdsa-vectors (constants) and tp-ecdsa-encoding (DER round trip).
    #[test]
    fn curve_orders_have_the_published_values() {
        assert_eq!(curve_order(EcCurve::P256).len(), 32);
        assert_eq!(curve_order(EcCurve::P384).len(), 48);
        assert_eq!(curve_order(EcCurve::P521).len(), 66);
        assert_eq!(curve_order(EcCurve::P256)[31], 0x51);
        assert_eq!(curve_order(EcCurve::P384)[47], 0x73);
    }

    #[test]
    fn range_check_names_each_defect() {
        let c = EcCurve::P256;
        let n = curve_order(c);
        let one = {
            let mut v = vec![0; 32];
            v[31] = 1;
            v
        };
        let ok: Vec<u8> = [one.clone(), one.clone()].concat();
        assert_eq!(check_range(c, &ok, true), Ok(()));
        assert_eq!(check_range(c, &[0; 64], false), Err(RangeError::RZero));
        assert_eq!(
            check_range(c, &[one.clone(), vec![0; 32]].concat(), false),
            Err(RangeError::SZero)
        );
        assert_eq!(
            check_range(c, &[n.clone(), one.clone()].concat(), false),
            Err(RangeError::RTooLarge)
        );
        assert_eq!(
            check_range(c, &[one.clone(), n.clone()].concat(), false),
            Err(RangeError::STooLarge)
        );
        let high = flip_s(c, &ok);
        assert_eq!(check_range(c, &high, false), Ok(()));
        assert_eq!(check_range(c, &high, true), Err(RangeError::HighS));
        assert_eq!(flip_s(c, &high), ok);
        assert_eq!(
            check_range(c, &ok[..63], false),
            Err(RangeError::Length {
                expected: 64,
                found: 63
            })
        );
    }

    #[test]
    fn der_round_trip_keeps_leading_zeros() {
        let mut sig = vec![0u8; 64];
        sig[1] = 0x80; // r with a leading zero octet and a high bit after it
        sig[63] = 7;
        let der = raw_to_der(&sig);
        assert_eq!(der_to_raw(&der, EcCurve::P256).unwrap(), sig);
        // The psychic-signature DER form: SEQUENCE { INTEGER 0, INTEGER 0 }.
        assert_eq!(raw_to_der(&[0; 64]), vec![0x30, 6, 2, 1, 0, 2, 1, 0]);
        assert_eq!(crate::b64::encode(raw_to_der(&[0; 64])), "MAYCAQACAQA");
    }

    #[test]
    fn subtraction_borrows_across_octets() {
        assert_eq!(sub_be(&[1, 0, 0], &[1]), vec![0, 0xff, 0xff]);
        assert_eq!(cmp_be(&[0, 0, 5], &[5]), Ordering::Equal);
    }
}
