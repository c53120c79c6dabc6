//! Reading a token's header and claims without verifying it, for inspection (`sock8 token
//! inspect`): nothing here decides whether a token is accepted, [`super::verify`] does.
//!
//! The token is cut and its segments decoded exactly as the verifier cuts and decodes them
//! (docs/spec.md §4, steps 2–4 and 10: the same size limit, segment rule, canonical base64url and
//! strict JSON, at the verifier's default and largest limits), so what is shown is what a
//! verifier reads. Each part is decoded on its own: a header that is not JSON still leaves the
//! claims to show.

use super::b64;
use super::error::TokenError;
use super::json::Tree;
use super::jws;
use super::limits::{MAX_JSON_DEPTH, MAX_TOKEN_BYTES};
use super::verify::{decode_json, oversized, three_segments};

/// A JSON object's members, in document order.
pub type Object = Vec<(String, Tree)>;

/// What a token says, unverified: each part decoded, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The header's members, or the `MalformedToken` error a verifier gives for it.
    pub header: Result<Object, TokenError>,
    /// The payload's members (the claims), or the `MalformedToken` error a verifier gives for it.
    pub claims: Result<Object, TokenError>,
    /// How many bytes the signature segment decodes to (32 for HS256), or the `MalformedToken`
    /// error when it is not canonical base64url.
    pub signature_bytes: Result<usize, TokenError>,
}

/// Decodes `what` (`"header"`, `"payload"`) with the verifier's own decoding.
fn object(segment: &[u8], what: &str) -> Result<Object, TokenError> {
    decode_json(segment, &mut Vec::new(), what, MAX_JSON_DEPTH, Vec::new())
}

/// Decodes `token` without verifying anything. A token over [`MAX_TOKEN_BYTES`] or not of three
/// `.`-separated segments is refused whole, with the verifier's message; otherwise each part is
/// decoded on its own. Memory is bounded by a small multiple of the token's size, and recursion
/// by [`MAX_JSON_DEPTH`].
pub fn decode_unverified(token: &[u8]) -> Result<Decoded, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(oversized(token.len(), MAX_TOKEN_BYTES));
    }
    let segments = jws::split::<()>(token, &[]).ok_or_else(three_segments)?;
    if segments.payload.contains(&b'.') || segments.signature.contains(&b'.') {
        return Err(three_segments());
    }
    let signature_bytes = b64::decode(segments.signature)
        .map(|s| s.len())
        .ok_or_else(|| TokenError::malformed("signature is not canonical base64url"));
    Ok(Decoded {
        header: object(segments.header, "header"),
        claims: object(segments.payload, "payload"),
        signature_bytes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::keys::{Key, KeyRing};
    use crate::core::sign::Signer;
    use crate::core::verify::{Policy, Verifier};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: f64 = 1_700_000_000.0;

    fn seg(json: &str) -> String {
        let mut out = String::new();
        b64::encode_into(json.as_bytes(), &mut out);
        out
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", seg(header), seg(payload), "A".repeat(43))
    }

    fn str_tree(s: &str) -> Tree {
        Tree::Str(s.into())
    }

    #[test]
    fn a_signed_token_decodes_to_what_the_verifier_grants() {
        let signer = Signer::new(
            Key::new(SECRET).unwrap(),
            Some("k1".into()),
            Some("sock8".into()),
            None,
            60,
        );
        let token = signer
            .unwrap()
            .sign("u", &mut vec!["b.c", "a"], NOW, None, Some("j"))
            .unwrap();
        let decoded = decode_unverified(token.as_bytes()).unwrap();
        assert_eq!(
            decoded.header.unwrap(),
            vec![
                ("alg".into(), str_tree("HS256")),
                ("kid".into(), str_tree("k1")),
                ("typ".into(), str_tree("JWT")),
            ]
        );
        let claims = decoded.claims.unwrap();
        let names: Vec<&str> = claims.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["sub", "aud", "iat", "exp", "jti", "channels"]);
        assert_eq!(claims[2].1, Tree::Int(1_700_000_000));
        assert_eq!(claims[5].1, Tree::Array(vec![str_tree("a"), str_tree("b.c")]));
        assert_eq!(decoded.signature_bytes, Ok(32));
        let verifier = Verifier::new(KeyRing::new([(Some("k1"), SECRET)]).unwrap(), Policy::default()).unwrap();
        let grants = verifier.verify(token.as_bytes(), NOW).unwrap();
        assert_eq!(grants.channels.iter().collect::<Vec<_>>(), ["a", "b.c"]);
    }

    #[test]
    fn values_of_every_type_are_kept() {
        let t = token(
            r#"{"alg":"none"}"#,
            r#"{"n":null,"t":true,"f":false,"i":-5,"x":1.5,"e":1e3,"big":12345678901234567890,"s":"\u00e9","o":{"a":[1,{}]}}"#,
        );
        let claims = decode_unverified(t.as_bytes()).unwrap().claims.unwrap();
        let values: Vec<Tree> = claims.into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            values,
            [
                Tree::Null,
                Tree::Bool(true),
                Tree::Bool(false),
                Tree::Int(-5),
                Tree::Float(1.5),
                Tree::Float(1000.0),
                Tree::Float(12_345_678_901_234_567_890.0),
                str_tree("é"),
                Tree::Object(vec![(
                    "a".into(),
                    Tree::Array(vec![Tree::Int(1), Tree::Object(vec![])])
                )]),
            ]
        );
    }

    #[test]
    fn each_part_fails_on_its_own_with_the_verifiers_message() {
        let t = format!("{}.{}.{}", "%%", seg(r#"{"sub":"u"}"#), "A".repeat(43));
        let d = decode_unverified(t.as_bytes()).unwrap();
        assert_eq!(
            d.header,
            Err(TokenError::malformed("header is not canonical base64url"))
        );
        assert_eq!(d.claims.unwrap()[0], ("sub".into(), str_tree("u")));

        let d = decode_unverified(token(r#"{"alg":"HS256"}"#, r#"{"a":1,"a":2}"#).as_bytes()).unwrap();
        assert!(d.header.is_ok());
        let err = d.claims.unwrap_err().to_string();
        assert!(
            err.starts_with("malformed token: payload: duplicate member name"),
            "{err}"
        );

        let d = decode_unverified(format!("{}.{}.{}", seg("{}"), seg("[1]"), "AAAA=").as_bytes()).unwrap();
        assert!(d.claims.unwrap_err().to_string().contains("expected a JSON object"));
        assert_eq!(
            d.signature_bytes,
            Err(TokenError::malformed("signature is not canonical base64url"))
        );
        let d = decode_unverified(format!("{}.{}.AAAA", seg("{}"), seg("{}")).as_bytes()).unwrap();
        assert_eq!(d.signature_bytes, Ok(3));

        let deep = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        let d = decode_unverified(token("{}", &deep).as_bytes()).unwrap();
        assert!(d.claims.unwrap_err().to_string().contains("nested deeper than 8"));
        let d = decode_unverified(format!("{}.{}.x", seg("{}"), "_w").as_bytes()).unwrap();
        assert_eq!(d.claims, Err(TokenError::malformed("payload is not UTF-8")));
    }

    #[test]
    fn whole_token_refusals_match_the_verifier() {
        let verifier = Verifier::new(KeyRing::new([(None, SECRET)]).unwrap(), Policy::default()).unwrap();
        let good = token("{}", "{}");
        let oversized = "a".repeat(MAX_TOKEN_BYTES + 1);
        let dotted = format!("{good}.x");
        for bad in ["", "abc", "a.b", "a.b.c.d", &dotted, &oversized] {
            let err = decode_unverified(bad.as_bytes()).unwrap_err();
            assert_eq!(err, verifier.verify(bad.as_bytes(), NOW).unwrap_err(), "{bad:.20}");
        }
        assert!(decode_unverified(b"..").is_ok());
    }
}
