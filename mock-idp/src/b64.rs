//! Base64url as JOSE uses it (RFC 7515 §2): unpadded URL-safe alphabet.
//!
//! Two decoders: `decode_strict` is what a careful verifier does (no padding, no `+`/`/`, no
//! whitespace, canonical trailing bits); `decode_lenient` accepts all of those, so the mutation
//! engine can read back the non-canonical tokens it produces.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Why a base64url string was refused by the strict decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum B64Error {
    #[error("padding character '=' at offset {offset}")]
    Padding { offset: usize },
    #[error("whitespace at offset {offset}")]
    Whitespace { offset: usize },
    #[error("character {ch:?} at offset {offset} is not in the base64url alphabet")]
    InvalidCharacter { offset: usize, ch: char },
    #[error("length {len} is impossible for unpadded base64 (length mod 4 == 1)")]
    InvalidLength { len: usize },
    #[error("non-canonical encoding: unused trailing bits are not zero")]
    NonCanonicalTrailingBits,
}

/// Unpadded base64url encoding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

/// Strict RFC 7515 decoding; every refusal names its cause.
pub fn decode_strict(input: &str) -> Result<Vec<u8>, B64Error> {
    for (offset, ch) in input.char_indices() {
        match ch {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => {}
            '=' => return Err(B64Error::Padding { offset }),
            c if c.is_whitespace() => return Err(B64Error::Whitespace { offset }),
            ch => return Err(B64Error::InvalidCharacter { offset, ch }),
        }
    }
    if input.len() % 4 == 1 {
        return Err(B64Error::InvalidLength { len: input.len() });
    }
    STRICT.decode(input).map_err(|e| match e {
        base64::DecodeError::InvalidLastSymbol { .. } => B64Error::NonCanonicalTrailingBits,
        base64::DecodeError::InvalidLength(len) => B64Error::InvalidLength { len },
        base64::DecodeError::InvalidByte(offset, b) => B64Error::InvalidCharacter {
            offset,
            ch: b as char,
        },
        base64::DecodeError::InvalidPadding => B64Error::Padding { offset: 0 },
    })
}

/// Tolerant decoding: padding, the standard alphabet (`+`, `/`), ASCII whitespace and
/// non-zero trailing bits are accepted.
pub fn decode_lenient(input: &str) -> Result<Vec<u8>, B64Error> {
    let cleaned: String = input
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    LENIENT.decode(cleaned.as_bytes()).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, b) => B64Error::InvalidCharacter {
            offset,
            ch: b as char,
        },
        base64::DecodeError::InvalidLength(len) => B64Error::InvalidLength { len },
        base64::DecodeError::InvalidLastSymbol { .. } => B64Error::NonCanonicalTrailingBits,
        base64::DecodeError::InvalidPadding => B64Error::Padding { offset: 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §3.3 tp-b64url.
    #[test]
    fn strict_refuses_each_defect_with_its_own_error() {
        assert_eq!(decode_strict("AQAB").unwrap(), vec![1, 0, 1]);
        assert_eq!(decode_strict("AQAB="), Err(B64Error::Padding { offset: 4 }));
        assert_eq!(
            decode_strict("A+/A"),
            Err(B64Error::InvalidCharacter { offset: 1, ch: '+' })
        );
        assert_eq!(
            decode_strict("AQ B"),
            Err(B64Error::Whitespace { offset: 2 })
        );
        assert_eq!(decode_strict("AQAC"), Ok(vec![1, 0, 2]));
        // "AR" decodes one byte with 4 unused bits; "AQ" is canonical, "AR" is not.
        assert_eq!(decode_strict("AQ"), Ok(vec![1]));
        assert_eq!(decode_strict("AR"), Err(B64Error::NonCanonicalTrailingBits));
        assert_eq!(
            decode_strict("AQABA"),
            Err(B64Error::InvalidLength { len: 5 })
        );
    }

    #[test]
    fn lenient_accepts_what_strict_refuses() {
        assert_eq!(decode_lenient("AQAB=").unwrap(), vec![1, 0, 1]);
        assert_eq!(decode_lenient("AR").unwrap(), vec![1]);
        assert_eq!(
            decode_lenient("A+/A").unwrap(),
            decode_strict("A-_A").unwrap()
        );
        assert_eq!(decode_lenient("AQ\nAB").unwrap(), vec![1, 0, 1]);
    }

    #[test]
    fn encode_has_no_padding() {
        assert_eq!(encode([1u8]), "AQ");
        assert_eq!(encode([0xfbu8, 0xff]), "-_8");
    }
}
