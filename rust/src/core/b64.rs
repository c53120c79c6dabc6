//! Canonical base64url (RFC 7515 §2, docs/spec.md §4): no padding, no other alphabet, zero unused
//! bits. Lenient decoders let several strings carry one MAC, which breaks revocation lists and
//! caches keyed by the token text (jwt-go #215, joserfc #51).
//!
//! A token is decoded on every verify, into a buffer sized exactly, a quantum of four characters
//! at a time through pre-shifted lookup tables, in safe code. Encoding uses the `base64` crate.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Marks a byte outside the alphabet in [`DECODE`].
const INVALID: u8 = 0x80;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The 6-bit value of each alphabet byte; [`INVALID`] for every other byte (`=` included).
#[allow(clippy::indexing_slicing)] // evaluated at compile time: a bad index fails the build
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        #[allow(clippy::cast_possible_truncation)] // i < 64
        let value = i as u8;
        table[ALPHABET[i] as usize] = value;
        i += 1;
    }
    table
};

fn sextet(c: u8) -> u8 {
    DECODE.get(usize::from(c)).copied().unwrap_or(INVALID)
}

/// The number of bytes a base64url segment of `len` characters decodes to; `None` for a length
/// no canonical segment has (`len % 4 == 1`).
#[must_use]
pub fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        0 => Some(len / 4 * 3),
        2 => Some(len / 4 * 3 + 1),
        3 => Some(len / 4 * 3 + 2),
        _ => None,
    }
}

/// Marks an invalid character in the [`QUAD`] tables (above the 24 bits of a decoded quantum).
const QUAD_INVALID: u32 = 0x0100_0000;

/// `QUAD[k][c]`: character `c` at position `k` of a quantum of four, already shifted into place
/// in the little-endian word of the quantum's three bytes, so a quantum decodes with four
/// lookups and three ORs ([modp_b64]'s layout). 4 KiB, in L1 cache on the hot path.
///
/// [modp_b64]: https://github.com/client9/stringencoders
#[allow(clippy::indexing_slicing)] // evaluated at compile time: a bad index fails the build
const QUAD: [[u32; 256]; 4] = {
    let mut tables = [[QUAD_INVALID; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let v = DECODE[c] as u32;
        if v != INVALID as u32 {
            tables[0][c] = v << 2;
            tables[1][c] = (v >> 4) | ((v & 0x0f) << 12);
            tables[2][c] = ((v >> 2) << 8) | ((v & 0x03) << 22);
            tables[3][c] = v << 16;
        }
        c += 1;
    }
    tables
};

fn quad(table: usize, c: u8) -> u32 {
    QUAD.get(table)
        .and_then(|t| t.get(usize::from(c)))
        .copied()
        .unwrap_or(QUAD_INVALID)
}

/// Decodes a canonical base64url segment into `out`, which must be exactly
/// [`decoded_len`]`(segment.len())` bytes long; `None` if the segment is not canonical.
#[must_use]
pub fn decode_into(segment: &[u8], out: &mut [u8]) -> Option<()> {
    if decoded_len(segment.len())? != out.len() {
        return None;
    }
    let quanta = segment.chunks_exact(4);
    let tail = quanta.remainder();
    let mut bad = 0u32;
    let mut written = 0;
    for (chars, bytes) in quanta.zip(out.chunks_exact_mut(3)) {
        let [c0, c1, c2, c3] = <[u8; 4]>::try_from(chars).unwrap_or([0; 4]);
        let word = (quad(0, c0) | quad(1, c1)) | (quad(2, c2) | quad(3, c3));
        bad |= word;
        let [b0, b1, b2, _] = word.to_le_bytes();
        bytes.copy_from_slice(&[b0, b1, b2]);
        written += 3;
    }
    if bad & QUAD_INVALID != 0 {
        return None;
    }
    let out = out.get_mut(written..)?;
    // The last 2 or 3 characters, whose unused low bits must be zero.
    let mut word = 0u32;
    let mut bad = 0u8;
    for &c in tail {
        let v = sextet(c);
        bad |= v;
        word = (word << 6) | u32::from(v);
    }
    if bad & INVALID != 0 {
        return None;
    }
    let spare = match tail.len() {
        0 => return Some(()),
        2 => 4,
        3 => 2,
        _ => return None,
    };
    if word & ((1 << spare) - 1) != 0 {
        return None;
    }
    let n = out.len();
    out.copy_from_slice((word >> spare).to_be_bytes().get(4usize.checked_sub(n)?..)?);
    Some(())
}

/// Decodes a canonical base64url segment; `None` for anything else.
#[must_use]
pub fn decode(segment: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len(segment.len())?];
    decode_into(segment, &mut out)?;
    Some(out)
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

/// Decodes a segment that must hold exactly `N` bytes, without allocating for it.
#[must_use]
pub fn decode_fixed<const N: usize>(segment: &[u8]) -> Fixed<N> {
    let mut out = [0u8; N];
    match decoded_len(segment.len()) {
        Some(len) if len == N => match decode_into(segment, &mut out) {
            Some(()) => Fixed::Ok(out),
            None => Fixed::Invalid,
        },
        // Another length: report it only for a segment that is canonical base64url.
        Some(_) if decode(segment).is_some() => Fixed::WrongLength,
        _ => Fixed::Invalid,
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
        for bad in [
            &b"YQ=="[..],
            b"YR",
            b"Y",
            b"Y+",
            b"Y/",
            b"Y Q",
            b"YQ\n",
            b"YQ=",
            b"YWJjZGVmZ2",
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn agrees_with_the_base64_crate() {
        // Every length up to 70 bytes, then every one-character mutation of some encodings.
        let mut seeds = Vec::new();
        for len in 0..70usize {
            let bytes: Vec<u8> = (0..len)
                .map(|i| u8::try_from((i * 37 + len * 11) % 256).unwrap())
                .collect();
            let mut ours = String::new();
            encode_into(&bytes, &mut ours);
            assert_eq!(ours, URL_SAFE_NO_PAD.encode(&bytes), "encode {len}");
            assert_eq!(decode(ours.as_bytes()), Some(bytes), "decode {len}");
            seeds.push(ours);
        }
        let alphabet: Vec<u8> = (0..=255u8).filter(|b| b.is_ascii_graphic() || *b >= 0x80).collect();
        for seed in seeds.iter().filter(|s| s.len() <= 20) {
            for at in 0..seed.len() {
                for &c in &alphabet {
                    let mut bytes = seed.clone().into_bytes();
                    bytes[at] = c;
                    assert_eq!(
                        decode(&bytes),
                        URL_SAFE_NO_PAD.decode(&bytes).ok(),
                        "{:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
        // Non-zero unused bits in every tail length.
        for seed in &seeds {
            let mut bytes = seed.clone().into_bytes();
            if let Some(last) = bytes.last_mut() {
                *last = ALPHABET[(usize::from(sextet(*last)) + 1) % 64];
            }
            assert_eq!(
                decode(&bytes),
                URL_SAFE_NO_PAD.decode(&bytes).ok(),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
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
        assert!(matches!(decode_fixed::<32>(b"Y"), Fixed::Invalid));
    }
}
