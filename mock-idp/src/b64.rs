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

/// The 64 bytes of the base64url alphabet. A table rather than a `match` per character: every
/// token, proof and key goes through here, and a lookup is a fraction of the comparisons.
const URL_SAFE_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_');
        b += 1;
    }
    table
};

/// What the lenient decoder makes of each byte: the byte itself, its base64url counterpart
/// (`+` → `-`, `/` → `_`), or [`DROPPED`] (ASCII whitespace, `=`).
const LENIENT_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'+' => b'-',
            b'/' => b'_',
            b'=' => DROPPED,
            c if c.is_ascii_whitespace() => DROPPED,
            c => c,
        };
        b += 1;
    }
    table
};

/// Marks a byte the lenient decoder drops; 0xFF never occurs in UTF-8, so no input byte maps
/// to it by identity.
const DROPPED: u8 = 0xFF;

/// The base64 crate's refusal as ours (both decoders' final step).
fn from_crate_error(e: base64::DecodeError) -> B64Error {
    match e {
        base64::DecodeError::InvalidLastSymbol { .. } => B64Error::NonCanonicalTrailingBits,
        base64::DecodeError::InvalidLength(len) => B64Error::InvalidLength { len },
        base64::DecodeError::InvalidByte(offset, b) => B64Error::InvalidCharacter {
            offset,
            ch: b as char,
        },
        base64::DecodeError::InvalidPadding => B64Error::Padding { offset: 0 },
    }
}

/// Strict RFC 7515 decoding; every refusal names its cause.
pub fn decode_strict(input: &str) -> Result<Vec<u8>, B64Error> {
    // Every byte before the first one outside the alphabet is ASCII, so that offset starts a
    // character: the one the refusal names.
    if let Some(offset) = input.bytes().position(|b| !URL_SAFE_BYTE[usize::from(b)]) {
        let ch = input[offset..].chars().next().unwrap_or_default();
        return Err(match ch {
            '=' => B64Error::Padding { offset },
            c if c.is_whitespace() => B64Error::Whitespace { offset },
            ch => B64Error::InvalidCharacter { offset, ch },
        });
    }
    if input.len() % 4 == 1 {
        return Err(B64Error::InvalidLength { len: input.len() });
    }
    STRICT.decode(input).map_err(from_crate_error)
}

/// Tolerant decoding: padding, the standard alphabet (`+`, `/`), ASCII whitespace and
/// non-zero trailing bits are accepted.
pub fn decode_lenient(input: &str) -> Result<Vec<u8>, B64Error> {
    // The filtered and mapped characters are ASCII, so working on bytes leaves every other
    // character (and so every error offset) as it was; canonical input needs no copy.
    let cleaned: Vec<u8>;
    let bytes = if input.bytes().all(|b| URL_SAFE_BYTE[usize::from(b)]) {
        input.as_bytes()
    } else {
        cleaned = input
            .bytes()
            .map(|b| LENIENT_BYTE[usize::from(b)])
            .filter(|&b| b != DROPPED)
            .collect();
        &cleaned
    };
    LENIENT.decode(bytes).map_err(from_crate_error)
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

    /// The decoders' scans as first written, character by character: the table-driven ones
    /// must give the same answer, error offsets included (the crate's errors map alike).
    fn strict_by_chars(input: &str) -> Result<Vec<u8>, B64Error> {
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
        STRICT.decode(input).map_err(from_crate_error)
    }

    fn lenient_by_chars(input: &str) -> Result<Vec<u8>, B64Error> {
        let cleaned: String = input
            .chars()
            .filter(|c| !c.is_ascii_whitespace() && *c != '=')
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        LENIENT.decode(cleaned.as_bytes()).map_err(from_crate_error)
    }

    proptest::proptest! {
        #[test]
        fn table_driven_decoders_match_the_character_definitions(
            input in "[A-Za-z0-9_+/= \t\n\r\x0b\x0c\u{a0}\u{2028}é€\x00-]{0,24}"
        ) {
            proptest::prop_assert_eq!(decode_strict(&input), strict_by_chars(&input));
            proptest::prop_assert_eq!(decode_lenient(&input), lenient_by_chars(&input));
        }
    }

    #[test]
    fn encode_has_no_padding() {
        assert_eq!(encode([1u8]), "AQ");
        assert_eq!(encode([0xfbu8, 0xff]), "-_8");
    }
}
