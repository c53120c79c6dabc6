//! Canonical base64url (RFC 7515 §2, docs/spec.md §4): no padding, no other alphabet, zero unused
//! bits. Lenient decoders let several strings carry one MAC, which breaks revocation lists and
//! caches keyed by the token text (jwt-go #215, joserfc #51).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes a canonical base64url segment; `None` for anything else.
#[must_use]
pub fn decode(segment: &[u8]) -> Option<Vec<u8>> {
    // The engine refuses `=`, other alphabets, `len % 4 == 1` and non-zero trailing bits.
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Decodes a canonical base64url segment into exactly `N` bytes.
pub enum Fixed<const N: usize> {
    /// The segment decoded to `N` bytes.
    Ok([u8; N]),
    /// The segment is canonical base64url of some other length.
    WrongLength,
    /// The segment is not canonical base64url.
    Invalid,
}

/// Decodes a segment that must hold exactly `N` bytes, without allocating.
#[must_use]
pub fn decode_fixed<const N: usize>(segment: &[u8]) -> Fixed<N> {
    let mut out = [0u8; N];
    // The decoder needs room for whatever the segment holds; decode into a slice one chunk larger
    // so a longer segment reports its length instead of a buffer error.
    let mut buf = [0u8; 96];
    if segment.len() > buf.len() / 3 * 4 {
        return match URL_SAFE_NO_PAD.decode(segment) {
            Ok(_) => Fixed::WrongLength,
            Err(_) => Fixed::Invalid,
        };
    }
    match URL_SAFE_NO_PAD.decode_slice(segment, &mut buf) {
        Ok(n) if n == N => {
            out.copy_from_slice(buf.get(..N).unwrap_or_default());
            Fixed::Ok(out)
        }
        Ok(_) => Fixed::WrongLength,
        Err(_) => Fixed::Invalid,
    }
}

/// Appends the base64url encoding of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_canonical_forms() {
        assert_eq!(decode(b"YQ"), Some(b"a".to_vec()));
        assert_eq!(decode(b""), Some(Vec::new()));
        for bad in [&b"YQ=="[..], b"YR", b"Y", b"Y+", b"Y/", b"Y Q", b"YQ\n"] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn fixed_reports_length_and_validity() {
        let mut seg = String::new();
        encode_into(&[7u8; 32], &mut seg);
        assert!(matches!(decode_fixed::<32>(seg.as_bytes()), Fixed::Ok(b) if b == [7u8; 32]));
        seg.clear();
        encode_into(&[7u8; 31], &mut seg);
        assert!(matches!(decode_fixed::<32>(seg.as_bytes()), Fixed::WrongLength));
        seg.clear();
        encode_into(&[7u8; 500], &mut seg);
        assert!(matches!(decode_fixed::<32>(seg.as_bytes()), Fixed::WrongLength));
        assert!(matches!(decode_fixed::<32>(b"!!"), Fixed::Invalid));
        assert!(matches!(decode_fixed::<32>(&[b'!'; 500]), Fixed::Invalid));
    }
}
