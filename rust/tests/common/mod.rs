//! What the vector tests (`vectors.rs`) and the adversarial corpus (`adversarial.rs`) share:
//! reading `tests/vectors/`, building a verifier from a case's keys and options, and naming
//! errors as the Python exception classes do.

use std::collections::BTreeMap;
use std::path::PathBuf;

use _core::core::error::TokenError;
use _core::core::keys::KeyRing;
use _core::core::verify::{Policy, Verifier};
use serde_json::Value;

/// A path in the repository, from its parts.
pub fn repo_file(parts: &[&str]) -> PathBuf {
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.extend(parts);
    path
}

/// The text of `tests/vectors/<name>`, which pytest reads too.
pub fn vectors(name: &str) -> String {
    let path = repo_file(&["tests", "vectors", name]);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Bytes from hex digits.
pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The `sock8.errors` class the bindings raise for `e`.
pub fn error_name(e: &TokenError) -> &'static str {
    match e {
        TokenError::Malformed(_) => "MalformedToken",
        TokenError::BadSignature(_) => "BadSignature",
        TokenError::UnknownKey(_) => "UnknownKey",
        TokenError::InvalidClaims(_) => "InvalidClaims",
        TokenError::Expired => "TokenExpired",
        TokenError::NotYetValid(_) => "TokenNotYetValid",
    }
}

/// A verifier of a case: its named `secrets`, or else one unnamed key, `secret`; the default
/// policy changed by the case's `Verifier(...)` keyword arguments.
pub fn verifier(secrets: &BTreeMap<String, String>, secret: &[u8], options: &BTreeMap<String, Value>) -> Verifier {
    let ring = if secrets.is_empty() {
        KeyRing::new([(None, secret)]).unwrap()
    } else {
        KeyRing::new(secrets.iter().map(|(k, v)| (Some(k.as_str()), v.as_bytes()))).unwrap()
    };
    let mut policy = Policy::default();
    for (option, value) in options {
        let count = || usize::try_from(value.as_u64().unwrap()).unwrap();
        match option.as_str() {
            "audience" => policy.audience = value.as_str().map(str::to_owned),
            "issuer" => policy.issuer = value.as_str().map(str::to_owned),
            "leeway" => policy.leeway = value.as_f64().unwrap(),
            "max_token_bytes" => policy.max_token_bytes = count(),
            "max_depth" => policy.max_depth = count(),
            "max_channels" => policy.max_channels = count(),
            other => panic!("unknown verifier option {other}"),
        }
    }
    Verifier::new(ring, policy).unwrap()
}
