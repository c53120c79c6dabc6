//! Token verification never panics, and what it accepts is sound: a valid MAC under a configured
//! key, and channels that are all canonical wire ids.
//!
//! The first byte picks how the rest is read:
//! - even: the rest is a token, verified as received (structure, base64url, JSON, header);
//! - odd: the rest is `header 0xFF payload`, MACed with the verifiers' key before verifying, so
//!   the fuzzer reaches the payload and claim checks; the same token with one MAC bit flipped
//!   must then never verify.
#![no_main]

use std::sync::LazyLock;

use _core::core::channel::{Template, parse_wire_id};
use _core::core::error::TokenError;
use _core::core::grants::Grants;
use _core::core::keys::{Key, KeyRing};
use _core::core::verify::{Policy, Verifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef-0123456789";
const OTHER: &[u8] = b"fuzz-other-secret-0123456789abcdef-0123456789";
const NOW: f64 = 1_700_000_010.0;

/// A default verifier, and a strict one with a ring of two keys.
static VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    let single = KeyRing::new([(None, SECRET)]).expect("ring");
    let ring = KeyRing::new([(Some("k1"), SECRET), (None, OTHER)]).expect("ring");
    let strict = Policy {
        audience: None,
        leeway: 60.0,
        max_depth: 2,
        max_channels: 2,
        ..Policy::default()
    };
    vec![
        Verifier::new(single, Policy::default()).expect("verifier"),
        Verifier::new(ring, strict).expect("verifier"),
    ]
});

/// Whether `token`'s last segment is the HMAC of the rest under one of the configured keys.
fn carries_a_valid_mac(token: &[u8]) -> bool {
    let Some(dot) = token.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let Ok(tag) = URL_SAFE_NO_PAD.decode(&token[dot + 1..]) else {
        return false;
    };
    [SECRET, OTHER]
        .iter()
        .any(|key| Key::new_unchecked(key).mac(&[&token[..dot]]).as_slice() == tag.as_slice())
}

fn check_accepted(token: &[u8], grants: &Grants) {
    assert!(
        carries_a_valid_mac(token),
        "accepted a token without a valid MAC: {token:?}"
    );
    assert!(!grants.identity.is_empty());
    for channel in grants.channels.iter() {
        // The grants hold only what the channel grammar accepts, as at issue time.
        let parsed = parse_wire_id(channel).expect("a granted channel parses");
        let template = Template::parse(&parsed.template).expect("its template parses");
        assert_eq!(template.render(&parsed.values).expect("it renders"), channel);
        assert!(grants.allows(channel.as_bytes()));
    }
}

/// `header.payload.mac` under the verifiers' key, with the MAC's bit `flip` inverted if given.
fn sign(header: &[u8], payload: &[u8], flip: Option<usize>) -> Vec<u8> {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut tag = Key::new_unchecked(SECRET).mac(&[token.as_bytes()]);
    if let Some(bit) = flip {
        tag[bit / 8 % 32] ^= 1 << (bit % 8);
    }
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    token.into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        for verifier in VERIFIERS.iter() {
            if let Ok(grants) = verifier.verify(rest, NOW) {
                check_accepted(rest, &grants);
            }
        }
        return;
    }
    let (header, payload) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let token = sign(header, payload, None);
    let forged = sign(header, payload, Some(usize::from(mode / 2)));
    for verifier in VERIFIERS.iter() {
        let genuine = verifier.verify(&token, NOW);
        if let Ok(grants) = &genuine {
            check_accepted(&token, grants);
        }
        match verifier.verify(&forged, NOW) {
            Ok(_) => panic!("a token with a changed MAC verified: {forged:?}"),
            Err(error) => {
                if genuine.is_ok() {
                    assert!(matches!(error, TokenError::BadSignature(_)), "{error:?}");
                }
            }
        }
    }
});
