//! Just enough ASN.1 DER to move between key and signature encodings.

/// Splits one TLV with the expected tag off the front: (contents, rest).
pub(crate) fn take(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&l, rest) = rest.split_first()?;
    let (len, rest) = match l {
        l if l < 0x80 => (l as usize, rest),
        0x81 => (*rest.first()? as usize, rest.get(1..)?),
        0x82 => (
            (*rest.first()? as usize) << 8 | *rest.get(1)? as usize,
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Encodes a definite length.
pub(crate) fn len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else if len < 0x100 {
        vec![0x81, len as u8]
    } else {
        vec![0x82, (len >> 8) as u8, len as u8]
    }
}

/// A TLV with the given tag and contents.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(len(contents.len()));
    out.extend_from_slice(contents);
    out
}

/// Strips leading zero octets from a big-endian unsigned integer.
pub(crate) fn strip_zeros(x: &[u8]) -> &[u8] {
    let first = x.iter().position(|&b| b != 0).unwrap_or(x.len());
    &x[first..]
}

/// A DER INTEGER holding an unsigned big-endian value.
pub(crate) fn unsigned_integer(x: &[u8]) -> Vec<u8> {
    let mut v = strip_zeros(x).to_vec();
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}
