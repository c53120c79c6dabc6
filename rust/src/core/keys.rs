//! HMAC-SHA256 keys and the key ring a verifier selects from by `kid` (docs/spec.md §2).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted secret: RFC 7518 §3.2 wants an HS256 key at least as long as the hash.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest accepted key name.
pub const MAX_KID_BYTES: usize = 256;

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes.
    TooShort { len: usize },
    /// A PEM block: a public key or certificate passed where an HMAC secret is meant.
    LooksLikePem,
    /// An OpenSSH public key line.
    LooksLikeSsh,
    /// A JSON object, such as a JWK.
    LooksLikeJson,
    /// A key name that is empty or longer than [`MAX_KID_BYTES`].
    BadKid,
    /// The same key name twice in one ring.
    DuplicateKid { kid: Option<String> },
    /// A ring without keys.
    EmptyRing,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "secret is {len} bytes; HS256 needs at least {MIN_SECRET_BYTES} (try secrets.token_urlsafe(32))"
            ),
            Self::LooksLikePem => f.write_str("secret looks like a PEM key or certificate, not an HMAC secret"),
            Self::LooksLikeSsh => f.write_str("secret looks like an SSH public key, not an HMAC secret"),
            Self::LooksLikeJson => f.write_str("secret looks like a JSON document (a JWK?), not an HMAC secret"),
            Self::BadKid => write!(
                f,
                "key name must be a non-empty string of at most {MAX_KID_BYTES} bytes"
            ),
            Self::DuplicateKid { kid } => write!(f, "key name {kid:?} is configured twice"),
            Self::EmptyRing => f.write_str("no keys configured"),
        }
    }
}

impl std::error::Error for KeyError {}

fn looks_like_json_object(secret: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(secret) else {
        return false;
    };
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    text.starts_with('{') && text.ends_with('}') && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Refuses secrets that are too short or look like asymmetric key material (docs/spec.md §2).
pub fn check_secret(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::TooShort { len: secret.len() });
    }
    let start = secret
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(secret.len());
    let head = secret.get(start..).unwrap_or_default();
    if head.starts_with(b"-----BEGIN") {
        return Err(KeyError::LooksLikePem);
    }
    if [&b"ssh-"[..], b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-"]
        .iter()
        .any(|p| head.starts_with(p))
    {
        return Err(KeyError::LooksLikeSsh);
    }
    if looks_like_json_object(secret) {
        return Err(KeyError::LooksLikeJson);
    }
    Ok(())
}

/// An HMAC-SHA256 key with its inner and outer pad states computed once, so each MAC costs only
/// the hashing of the message (one-shot HMAC spends more on key setup than on a short token).
#[derive(Clone)]
pub struct Key {
    keyed: HmacSha256,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)") // never print key material
    }
}

impl Key {
    /// Builds a key from secret bytes after [`check_secret`].
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        check_secret(secret)?;
        Ok(Self::new_unchecked(secret))
    }

    /// Builds a key from any bytes; for test vectors of the primitive, not for tokens.
    #[must_use]
    pub fn new_unchecked(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length (longer ones are hashed first), so this cannot fail.
        let keyed = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
        Self { keyed }
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    #[must_use]
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the MAC of `message`, compared in constant time (`subtle`, through
    /// `Mac::verify_slice`, which also refuses any length but 32).
    #[must_use]
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // `Hmac::new_from_slice` only fails for fixed-length-key MACs; HMAC has none. Keep the
    // signature total instead of unwrapping.
    <HmacSha256 as hmac::digest::KeyInit>::new(&hmac::digest::generic_array::GenericArray::default())
}

/// Keys by name; `None` is the unnamed key that tokens without `kid` select.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<(Option<String>, Key)>,
}

impl KeyRing {
    /// Builds a ring from (name, secret) pairs, refusing bad secrets, bad and duplicate names.
    pub fn new<'a>(entries: impl IntoIterator<Item = (Option<&'a str>, &'a [u8])>) -> Result<Self, KeyError> {
        let mut keys: Vec<(Option<String>, Key)> = Vec::new();
        for (kid, secret) in entries {
            if kid.is_some_and(|k| k.is_empty() || k.len() > MAX_KID_BYTES) {
                return Err(KeyError::BadKid);
            }
            if keys.iter().any(|(k, _)| k.as_deref() == kid) {
                return Err(KeyError::DuplicateKid {
                    kid: kid.map(str::to_owned),
                });
            }
            keys.push((kid.map(str::to_owned), Key::new(secret)?));
        }
        if keys.is_empty() {
            return Err(KeyError::EmptyRing);
        }
        Ok(Self { keys })
    }

    /// The key a token's `kid` selects; never a fallback to another key.
    #[must_use]
    pub fn get(&self, kid: Option<&str>) -> Option<&Key> {
        self.keys.iter().find(|(k, _)| k.as_deref() == kid).map(|(_, key)| key)
    }

    /// Configured key names, in the order given.
    pub fn kids(&self) -> impl Iterator<Item = Option<&str>> {
        self.keys.iter().map(|(k, _)| k.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn refuses_short_and_asymmetric_looking_secrets() {
        assert_eq!(check_secret(&SECRET[..31]), Err(KeyError::TooShort { len: 31 }));
        assert_eq!(
            check_secret(b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"),
            Err(KeyError::LooksLikePem)
        );
        assert_eq!(
            check_secret(b"  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"),
            Err(KeyError::LooksLikeSsh)
        );
        assert_eq!(
            check_secret(br#"{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"}"#),
            Err(KeyError::LooksLikeJson)
        );
        // Random bytes that merely start with `{` are fine.
        assert_eq!(check_secret(b"{0123456789abcdef0123456789abcdef"), Ok(()));
        assert_eq!(check_secret(SECRET), Ok(()));
    }

    #[test]
    fn mac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2 (a 4-byte key: the primitive only, never a token key).
        let key = Key::new_unchecked(b"Jefe");
        let tag = key.mac(&[b"what do ya want ", b"for nothing?"]);
        let hex = tag.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for nothing?", &tag[..31]));
    }

    #[test]
    fn ring_selects_by_exact_name_only() {
        let other = b"fedcba9876543210fedcba9876543210";
        let ring = KeyRing::new([(Some("a"), SECRET), (None, &other[..])]).unwrap();
        assert!(ring.get(Some("a")).is_some());
        assert!(ring.get(None).is_some());
        assert!(ring.get(Some("b")).is_none());
        assert!(ring.get(Some("A")).is_none());
        assert!(matches!(
            KeyRing::new([(Some("a"), SECRET), (Some("a"), SECRET)]),
            Err(KeyError::DuplicateKid { .. })
        ));
        assert!(matches!(KeyRing::new([]), Err(KeyError::EmptyRing)));
        assert!(matches!(KeyRing::new([(Some(""), SECRET)]), Err(KeyError::BadKid)));
    }
}
