//! Wire-id parsing never panics, accepts exactly the canonical renderings, and round-trips:
//! `render(parse(id)) == id`, with `validate_wire_id` agreeing with `parse_wire_id`. The verifier
//! agrees too: a token granting the id verifies exactly when the id is valid (checklist item 9,
//! one grammar at issue and at check time, whatever fast path the verifier takes).
#![no_main]

use std::sync::LazyLock;

use _core::core::channel::{Template, parse_wire_id, validate_wire_id};
use _core::core::error::TokenError;
use _core::core::keys::{Key, KeyRing};
use _core::core::limits::MAX_WIRE_ID_BYTES;
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

/// A valid token granting `["admin.logs", id]`.
fn token_granting(id: &str) -> String {
    let payload = serde_json::json!({
        "sub": "u", "aud": "sock8", "iat": 1_700_000_000, "exp": 1_700_003_600,
        "channels": ["admin.logs", id],
    });
    let mut token = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload.to_string(), &mut token);
    let tag = Key::new_unchecked(SECRET).mac(&[token.as_bytes()]);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    token
}

fuzz_target!(|data: &[u8]| {
    let valid = validate_wire_id(data).is_ok();
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(!valid, "a non-UTF-8 wire id was accepted: {data:?}");
        return;
    };
    match VERIFIER.verify(token_granting(text).as_bytes(), NOW) {
        Ok(grants) => {
            assert!(valid, "the verifier granted an id the grammar refuses: {text:?}");
            assert!(grants.allows(data));
        }
        Err(error) => {
            assert!(!valid, "the verifier refused a valid id {text:?}: {error:?}");
            assert!(matches!(error, TokenError::InvalidClaims(_)), "{error:?}");
        }
    }
    let parsed = parse_wire_id(text);
    assert_eq!(parsed.is_ok(), valid, "validate and parse disagree on {text:?}");
    let Ok(parsed) = parsed else {
        return;
    };
    assert!(text.len() <= MAX_WIRE_ID_BYTES);
    assert!(text.is_ascii(), "a wire id is ASCII: {text:?}");
    let template = Template::parse(&parsed.template).expect("the template of a parsed id parses");
    let rendered = template.render(&parsed.values).expect("a parsed id renders");
    assert_eq!(rendered, text);
    assert_eq!(parse_wire_id(&rendered).expect("parses again"), parsed);
});
