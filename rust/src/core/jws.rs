//! The JWS compact serialization as sock8 writes and reads it (RFC 7515 §7.1): the header
//! segment a signer writes for a key name, the JSON strings inside it, and the cut of a token
//! into its three segments. Signing and verification both use it, so a verifier recognises
//! exactly the header segments a signer writes.

use std::fmt::Write as _;

use super::b64;

/// Characters of an HS256 signature segment: 32 bytes in base64url.
pub const SIGNATURE_CHARS: usize = 43;

/// Appends `s` as a JSON string, escaping what `json.dumps(..., ensure_ascii=False)` escapes.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The base64url header segment a signer writes for `kid`. Verifiers recognise it (and PyJWT's,
/// which is the same for an unnamed key) without decoding it again.
#[must_use]
pub fn header_segment(kid: Option<&str>) -> String {
    let mut header = String::from(r#"{"alg":"HS256","#);
    if let Some(kid) = kid {
        header.push_str(r#""kid":"#);
        push_json_str(&mut header, kid);
        header.push(',');
    }
    header.push_str(r#""typ":"JWT"}"#);
    let mut segment = String::new();
    b64::encode_into(header.as_bytes(), &mut segment);
    segment
}

/// A token cut at its first and last dots.
#[derive(Debug)]
pub struct Segments<'t, 'k, K> {
    /// Up to the first dot.
    pub header: &'t [u8],
    /// Between the first and the last dot (it may hold more dots: see [`split`]).
    pub payload: &'t [u8],
    /// After the last dot.
    pub signature: &'t [u8],
    /// What the caller paired with the header segment, when it is one of the known ones.
    pub known: Option<&'k K>,
}

/// Splits a token at its first and last dots: (header, payload, signature), or `None` with fewer
/// than two dots. The first dot is found directly after a header segment in `known_headers`, and
/// the last one where a 32-byte signature starts; only tokens of another shape are scanned. A dot
/// inside the payload or the signature (more than three segments) is not looked for here: the
/// caller does, when it matters. The value paired with a known header comes back with the
/// segments.
pub fn split<'t, 'k, K>(token: &'t [u8], known_headers: &'k [(String, K)]) -> Option<Segments<'t, 'k, K>> {
    let known = known_headers
        .iter()
        .find(|(seg, _)| token.get(seg.len()) == Some(&b'.') && token.starts_with(seg.as_bytes()));
    let first = known
        .map(|(seg, _)| seg.len())
        .or_else(|| token.iter().position(|&b| b == b'.'))?;
    let last = token
        .len()
        .checked_sub(SIGNATURE_CHARS + 1)
        .filter(|&i| i > first && token.get(i) == Some(&b'.'))
        .or_else(|| token.iter().rposition(|&b| b == b'.'))?;
    Some(Segments {
        header: token.get(..first)?,
        payload: token.get(first + 1..last)?, // None when first == last: one dot only
        signature: token.get(last + 1..)?,
        known: known.map(|(_, value)| value),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_header_segment_is_what_pyjwt_writes() {
        // base64url of {"alg":"HS256","typ":"JWT"}
        assert_eq!(header_segment(None), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        let named = b64::decode(header_segment(Some("k\"1\n")).as_bytes()).unwrap();
        assert_eq!(named, br#"{"alg":"HS256","kid":"k\"1\n","typ":"JWT"}"#);
    }

    #[test]
    fn split_cuts_at_the_first_and_last_dots() {
        let signature = "s".repeat(SIGNATURE_CHARS);
        let known = [(String::from("hh"), 7)];
        let token = format!("hh.p.q.{signature}");
        let s = split(token.as_bytes(), &known).unwrap();
        assert_eq!(
            (s.header, s.payload, s.signature),
            (&b"hh"[..], &b"p.q"[..], signature.as_bytes())
        );
        assert_eq!(s.known, Some(&7));
        let s = split(b"h.p.sig", &known).unwrap();
        assert_eq!(
            (s.header, s.payload, s.signature, s.known),
            (&b"h"[..], &b"p"[..], &b"sig"[..], None)
        );
        let s = split(b"..", &known).unwrap();
        assert_eq!((s.header, s.payload, s.signature), (&b""[..], &b""[..], &b""[..]));
        for bad in [&b""[..], b"abc", b"a.b", b"hh.x"] {
            assert!(split(bad, &known).is_none(), "{bad:?}");
        }
    }
}
