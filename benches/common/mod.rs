//! What both benches of the core start from: a key, a signer and a verifier with the defaults,
//! and `n` distinct channel ids.

use _core::core::keys::{Key, KeyRing};
use _core::core::limits::{DEFAULT_AUDIENCE, DEFAULT_TTL};
use _core::core::sign::Signer;
use _core::core::verify::{Policy, Verifier};

pub const SECRET: &[u8] = b"bench-secret-0123456789abcdef-0123456789";

/// `n` wire ids of one template, sorted as a signer sorts them.
pub fn channel_ids(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("chat.r{i:05}##roomId.messages")).collect();
    ids.sort();
    ids
}

pub fn signer() -> Signer {
    Signer::new(
        Key::new(SECRET).unwrap(),
        None,
        Some(DEFAULT_AUDIENCE.into()),
        None,
        DEFAULT_TTL,
    )
    .unwrap()
}

pub fn verifier() -> Verifier {
    Verifier::new(KeyRing::new([(None, SECRET)]).unwrap(), Policy::default()).unwrap()
}
