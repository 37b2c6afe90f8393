//! Just enough X.509 for the `x5c`/`x5u` attacks (spec rs-x5u-x5c-spoof): a self-signed
//! certificate for the attacker key, and the reverse step a careless verifier takes (read the
//! public key out of a certificate, no chain, no validity, no trust anchor).
//!
//! Hand-built DER, no certificate crate: the certificate only has to carry a key and parse in
//! ordinary tools; it is deterministic for deterministic keys (fixed serial, names, dates).

use crate::alg::{Algorithm, EcCurve};
use crate::der::{self, tlv};
use crate::ecdsa;
use crate::jwk::{Jwk, JwkKey};
use crate::keys::SigningKey;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const EXPLICIT_0: u8 = 0xa0;

// Object identifiers, DER contents (RFC 5758, RFC 4055, RFC 8410, RFC 5480, X.520).
const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The subject (and issuer) common name of the forged certificates.
pub const ATTACKER_CN: &str = "mcp-authspec attacker (self-signed, trust nothing)";

/// A self-signed X.509 v3 certificate (DER) for `key`, signed by `key` itself. `None` for keys
/// X.509 cannot describe this simply (HMAC secrets, PS256, P-521).
pub fn self_signed(key: &SigningKey) -> Option<Vec<u8>> {
    let sig_alg = match key.alg() {
        Algorithm::Es256 => tlv(SEQUENCE, &tlv(OID, ECDSA_WITH_SHA256)),
        Algorithm::Es384 => tlv(SEQUENCE, &tlv(OID, ECDSA_WITH_SHA384)),
        Algorithm::Rs256 => tlv(
            SEQUENCE,
            &[tlv(OID, SHA256_WITH_RSA), tlv(NULL, &[])].concat(),
        ),
        Algorithm::EdDsa => tlv(SEQUENCE, &tlv(OID, ED25519)),
        Algorithm::Es512 | Algorithm::Ps256 | Algorithm::Hs256 => return None,
    };
    let name = tlv(
        SEQUENCE,
        &tlv(
            SET,
            &tlv(
                SEQUENCE,
                &[
                    tlv(OID, COMMON_NAME),
                    tlv(UTF8_STRING, ATTACKER_CN.as_bytes()),
                ]
                .concat(),
            ),
        ),
    );
    let validity = tlv(
        SEQUENCE,
        &[
            tlv(UTC_TIME, b"250101000000Z"),
            tlv(UTC_TIME, b"491231235959Z"),
        ]
        .concat(),
    );
    let tbs = tlv(
        SEQUENCE,
        &[
            tlv(EXPLICIT_0, &tlv(INTEGER, &[2])),
            tlv(INTEGER, &[0x01]),
            sig_alg.clone(),
            name.clone(),
            validity,
            name,
            key.public_key_spki_der()?,
        ]
        .concat(),
    );
    let raw = key.sign(&tbs);
    // X.509 carries ECDSA signatures as DER, not the JWS R‖S form.
    let signature = match key.alg() {
        Algorithm::Es256 | Algorithm::Es384 => ecdsa::raw_to_der(&raw),
        _ => raw,
    };
    Some(tlv(
        SEQUENCE,
        &[
            tbs,
            sig_alg,
            tlv(BIT_STRING, &[&[0u8][..], &signature].concat()),
        ]
        .concat(),
    ))
}

/// `-----BEGIN CERTIFICATE-----` PEM of a DER certificate (what an `x5u` URL serves).
pub fn to_pem(der: &[u8]) -> String {
    pem_lf("CERTIFICATE", der.to_vec())
}

/// PEM with LF line endings and a trailing newline, as OpenSSL writes it: the bytes a
/// confused verifier most likely holds.
pub(crate) fn pem_lf(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The DER certificates of a PEM text, in order (unparseable text gives none).
pub fn from_pem(text: &str) -> Vec<Vec<u8>> {
    pem::parse_many(text)
        .map(|all| {
            all.into_iter()
                .filter(|p| p.tag() == "CERTIFICATE")
                .map(|p| p.into_contents())
                .collect()
        })
        .unwrap_or_default()
}

/// The subject public key of a DER certificate as a JWK, read the careless way: no chain, no
/// signature, no validity period is looked at. EC P-256/P-384, RSA and Ed25519; anything
/// else (or anything that does not parse) gives `None`.
pub fn public_jwk(certificate: &[u8]) -> Option<Jwk> {
    let (cert, _) = der::take(certificate, SEQUENCE)?;
    let (tbs, _) = der::take(cert, SEQUENCE)?;
    let rest = match der::take(tbs, EXPLICIT_0) {
        Some((_, rest)) => rest,
        None => tbs,
    };
    let (_, rest) = der::take(rest, INTEGER)?; // serial
    let (_, rest) = der::take(rest, SEQUENCE)?; // signature algorithm
    let (_, rest) = der::take(rest, SEQUENCE)?; // issuer
    let (_, rest) = der::take(rest, SEQUENCE)?; // validity
    let (_, rest) = der::take(rest, SEQUENCE)?; // subject
    let (spki, _) = der::take(rest, SEQUENCE)?;
    let (algorithm, rest) = der::take(spki, SEQUENCE)?;
    let (bits, _) = der::take(rest, BIT_STRING)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let (oid, params) = der::take(algorithm, OID)?;
    let key = if oid == EC_PUBLIC_KEY {
        let (curve_oid, _) = der::take(params, OID)?;
        let curve = match curve_oid {
            P256 => EcCurve::P256,
            P384 => EcCurve::P384,
            _ => return None,
        };
        let n = curve.coordinate_len();
        let point = key.strip_prefix(&[0x04])?;
        if point.len() != 2 * n {
            return None;
        }
        JwkKey::Ec {
            crv: curve.name().to_owned(),
            x: point[..n].to_vec(),
            y: point[n..].to_vec(),
        }
    } else if oid == RSA_ENCRYPTION {
        let (rsa, _) = der::take(key, SEQUENCE)?;
        let (n, rest) = der::take(rsa, INTEGER)?;
        let (e, _) = der::take(rest, INTEGER)?;
        JwkKey::Rsa {
            n: der::strip_zeros(n).to_vec(),
            e: der::strip_zeros(e).to_vec(),
        }
    } else if oid == ED25519 {
        JwkKey::Okp {
            crv: "Ed25519".to_owned(),
            x: key.to_vec(),
        }
    } else {
        return None;
    };
    Some(Jwk::new(key))
}

/// The SubjectPublicKeyInfo DER of a public JWK (EC P-256/P-384/P-521, RSA, Ed25519): the
/// bytes a confused HS256 verifier holds when it keeps keys as PEM (see [`spki_pem`]).
pub fn spki_der(jwk: &Jwk) -> Option<Vec<u8>> {
    let bit_string = |key: &[u8]| tlv(BIT_STRING, &[&[0u8][..], key].concat());
    let (algorithm, key) = match &jwk.key {
        JwkKey::Ec { crv, x, y } => {
            let curve = match EcCurve::from_name(crv)? {
                EcCurve::P256 => P256,
                EcCurve::P384 => P384,
                EcCurve::P521 => P521,
            };
            (
                [tlv(OID, EC_PUBLIC_KEY), tlv(OID, curve)].concat(),
                bit_string(&[&[0x04][..], x, y].concat()),
            )
        }
        JwkKey::Rsa { n, e } => (
            [tlv(OID, RSA_ENCRYPTION), tlv(NULL, &[])].concat(),
            bit_string(&tlv(
                SEQUENCE,
                &[der::unsigned_integer(n), der::unsigned_integer(e)].concat(),
            )),
        ),
        JwkKey::Okp { crv, x } if crv == "Ed25519" => (tlv(OID, ED25519), bit_string(x)),
        JwkKey::Okp { .. } | JwkKey::Oct { .. } => return None,
    };
    Some(tlv(SEQUENCE, &[tlv(SEQUENCE, &algorithm), key].concat()))
}

/// `-----BEGIN PUBLIC KEY-----` PEM of a public JWK, byte for byte what
/// `public_key_bytes(key, PublicKeyForm::SpkiPem)` gives for the signing key.
pub fn spki_pem(jwk: &Jwk) -> Option<String> {
    Some(pem_lf("PUBLIC KEY", spki_der(jwk)?))
}
