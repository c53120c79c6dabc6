//! Decoding a token without verifying it never panics, refuses a token whole exactly when (and
//! with the error that) the verifier refuses it at steps 2–3, and shows what the verifier
//! grants: for a token that verifies, the decoded claims hold its `sub` and `channels`.
//!
//! The first byte picks how the rest is read, as in `verify_token`:
//! - even: the rest is a token, decoded as received;
//! - odd: the rest is `header 0xFF payload`, MACed with the verifier's key first, so that the
//!   verifier reaches the claims and the comparison means something.
#![no_main]

use std::sync::LazyLock;

use _core::core::decode::{Decoded, decode_unverified};
use _core::core::json::Tree;
use _core::core::keys::{Key, KeyRing};
use _core::core::verify::{Policy, Verifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef-0123456789";
const NOW: f64 = 1_700_000_010.0;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let ring = KeyRing::new([(None, SECRET)]).expect("ring");
    Verifier::new(ring, Policy::default()).expect("verifier")
});

fn sign(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let tag = Key::new_unchecked(SECRET).mac(&[token.as_bytes()]);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    token.into_bytes()
}

fn member<'a>(members: &'a [(String, Tree)], name: &str) -> Option<&'a Tree> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn check(token: &[u8]) {
    let decoded = decode_unverified(token);
    let verified = VERIFIER.verify(token, NOW);
    match (&decoded, &verified) {
        (Err(refused), Err(error)) => assert_eq!(refused, error, "whole-token refusals differ"),
        (Err(refused), Ok(_)) => panic!("decode refused a token that verifies: {refused}"),
        (
            Ok(Decoded {
                header,
                claims,
                signature_bytes,
            }),
            Ok(grants),
        ) => {
            assert!(header.is_ok(), "{header:?}");
            assert_eq!(*signature_bytes, Ok(32));
            let claims = claims.as_ref().expect("claims of a verified token decode");
            assert_eq!(member(claims, "sub"), Some(&Tree::Str(grants.identity.clone())));
            let Some(Tree::Array(channels)) = member(claims, "channels") else {
                panic!("a verified token without a channels list");
            };
            let listed: Vec<&Tree> = channels.iter().collect();
            let granted: Vec<Tree> = grants.channels.iter().map(|c| Tree::Str(c.into())).collect();
            assert_eq!(listed, granted.iter().collect::<Vec<_>>());
        }
        (Ok(_), Err(_)) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(rest);
        return;
    }
    let (header, payload) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"{}"[..]),
    };
    check(&sign(header, payload));
});
