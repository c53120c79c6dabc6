//! HMAC-SHA256 keys and the key ring a verifier selects from by `kid` (docs/spec.md §2).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::limits::{MAX_KID_BYTES, MIN_SECRET_BYTES};

type HmacSha256 = Hmac<Sha256>;

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes.
    TooShort { len: usize },
    /// A PEM (or RFC 4716) block: a public key or certificate passed where an HMAC secret is meant.
    LooksLikePem,
    /// An OpenSSH public key line (also as an `authorized_keys` or `known_hosts` line).
    LooksLikeSsh,
    /// A JSON object or array, such as a JWK or a JWK set.
    LooksLikeJson,
    /// A DER-encoded key or certificate (python-jose's DER bypass of its PEM check).
    LooksLikeDer,
    /// A key name that is empty or longer than [`MAX_KID_BYTES`].
    BadKid,
    /// The same key name twice in one ring.
    DuplicateKid { kid: Option<String> },
    /// A ring without keys.
    EmptyRing,
    /// A key name the ring does not have.
    NotInRing { kid: Option<String> },
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
            Self::LooksLikeDer => f.write_str("secret looks like a DER-encoded key or certificate, not an HMAC secret"),
            Self::BadKid => write!(
                f,
                "key name must be a non-empty string of at most {MAX_KID_BYTES} bytes"
            ),
            Self::DuplicateKid { kid } => write!(f, "key name {kid:?} is configured twice"),
            Self::EmptyRing => f.write_str("no keys configured"),
            Self::NotInRing { kid: Some(kid) } => {
                let shown: String = kid.chars().take(64).collect();
                write!(f, "no key named {shown:?} is configured")
            }
            Self::NotInRing { kid: None } => f.write_str("no unnamed key is configured"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A UTF-8 byte-order mark, which editors put before text that is then pasted as a secret.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// OpenSSH key-type prefixes: `ssh-ed25519`, `ssh-rsa`, `ssh-dss`, certificates
/// (`ssh-ed25519-cert-v01@openssh.com`), `ecdsa-sha2-nistp*` and security keys (`sk-ssh-*`,
/// `sk-ecdsa-*`).
const SSH_KEY_TYPES: [&[u8]; 4] = [b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-"];

/// `secret` without leading ASCII whitespace and byte-order marks.
fn trim_start(mut secret: &[u8]) -> &[u8] {
    loop {
        if let Some(rest) = secret.strip_prefix(BOM) {
            secret = rest;
            continue;
        }
        match secret.split_first() {
            Some((first, rest)) if first.is_ascii_whitespace() => secret = rest,
            _ => return secret,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A PEM or RFC 4716 begin line anywhere: OpenSSL and `ssh-keygen -e` put text before it.
fn looks_like_pem(secret: &[u8]) -> bool {
    contains(secret, b"-----BEGIN") || contains(secret, b"---- BEGIN")
}

/// An OpenSSH public key: the secret starts with a key type, or some word of it is a key type
/// followed by a base64 key blob (`AAAA…`, the encoded length of the type name), as in an
/// `authorized_keys` line with options or a `known_hosts` line.
fn looks_like_ssh(secret: &[u8]) -> bool {
    let is_key_type = |word: &[u8]| SSH_KEY_TYPES.iter().any(|t| word.starts_with(t));
    if is_key_type(trim_start(secret)) {
        return true;
    }
    let mut words = secret
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
        .peekable();
    while let Some(word) = words.next() {
        if is_key_type(word) && words.peek().is_some_and(|next| next.starts_with(b"AAAA")) {
            return true;
        }
    }
    false
}

/// A JSON object or array (a JWK, a JWK set, a list of JWKs), after a byte-order mark and
/// surrounding whitespace.
fn looks_like_json(secret: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(trim_start(secret)) else {
        return false;
    };
    let text = text.trim_end_matches(|c: char| c.is_ascii_whitespace());
    let framed = (text.starts_with('{') && text.ends_with('}')) || (text.starts_with('[') && text.ends_with(']'));
    // serde_json stops at nesting depth 128, so a hostile secret cannot exhaust the stack.
    framed && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// One DER tag-length-value: `(tag, content, rest)`. Only definite, minimal lengths (DER), so
/// random bytes rarely pass for it.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        let bytes = rest.get(..count).filter(|b| (1..=4).contains(&b.len()))?;
        if bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return None;
        }
        (len, rest.get(count..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// A DER key or certificate: one SEQUENCE spanning the whole secret whose first element is an
/// INTEGER (PKCS#1 keys, PKCS#8 and SEC 1 private keys) or a SEQUENCE that starts with an
/// INTEGER, an OID or a `[0]` tag (SubjectPublicKeyInfo, certificates, requests). Those three
/// tags (0x02, 0x06, 0xA0) are not printable, so no text secret is ever taken for DER; a random
/// binary secret is, with a probability below one in 10^8.
fn looks_like_der(secret: &[u8]) -> bool {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OID: u8 = 0x06;
    const CONTEXT_0: u8 = 0xa0;
    let Some((SEQUENCE, body, rest)) = der_tlv(secret) else {
        return false;
    };
    if !rest.is_empty() {
        return false;
    }
    match der_tlv(body) {
        Some((INTEGER, _, _)) => true,
        Some((SEQUENCE, inner, _)) => matches!(inner.first(), Some(&(INTEGER | OID | CONTEXT_0))),
        _ => false,
    }
}

/// Refuses secrets that are too short or look like asymmetric key material (docs/spec.md §2).
pub fn check_secret(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::TooShort { len: secret.len() });
    }
    if looks_like_pem(secret) {
        return Err(KeyError::LooksLikePem);
    }
    if looks_like_ssh(secret) {
        return Err(KeyError::LooksLikeSsh);
    }
    if looks_like_json(secret) {
        return Err(KeyError::LooksLikeJson);
    }
    if looks_like_der(secret) {
        return Err(KeyError::LooksLikeDer);
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

    /// The key named `kid`, for a signer; an error naming it when the ring has none.
    pub fn key(&self, kid: Option<&str>) -> Result<&Key, KeyError> {
        self.get(kid).ok_or_else(|| KeyError::NotInRing {
            kid: kid.map(str::to_owned),
        })
    }

    /// This ring and one more key, last: refuses what [`KeyRing::new`] refuses. The keys already
    /// here are copied as keyed states; their secrets are not needed again.
    pub fn with_key(&self, kid: Option<&str>, secret: &[u8]) -> Result<Self, KeyError> {
        let added = Self::new([(kid, secret)])?;
        if self.get(kid).is_some() {
            return Err(KeyError::DuplicateKid {
                kid: kid.map(str::to_owned),
            });
        }
        let mut keys = self.keys.clone();
        keys.extend(added.keys);
        Ok(Self { keys })
    }

    /// This ring without the key named `kid`; refuses a name it does not have, and removing the
    /// last key.
    pub fn without(&self, kid: Option<&str>) -> Result<Self, KeyError> {
        self.key(kid)?;
        let keys: Vec<_> = self.keys.iter().filter(|(k, _)| k.as_deref() != kid).cloned().collect();
        if keys.is_empty() {
            return Err(KeyError::EmptyRing);
        }
        Ok(Self { keys })
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

    /// Deterministic pseudo-random bytes (xorshift64*), for sampling without a dependency.
    fn sample(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = u16::try_from(content.len()).unwrap();
        let [high, low] = len.to_be_bytes();
        if len < 0x80 {
            out.push(low);
        } else {
            out.extend([0x82, high, low]);
        }
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn refuses_key_material_in_the_forms_it_is_pasted() {
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n";
        for (secret, want) in [
            (format!("\u{feff}{pem}"), KeyError::LooksLikePem),
            (format!("\u{feff}\n {pem}"), KeyError::LooksLikePem),
            (format!("subject=CN = example\n{pem}"), KeyError::LooksLikePem),
            (
                format!("---- BEGIN SSH2 PUBLIC KEY ----\n{blob}\n---- END SSH2 PUBLIC KEY ----\n"),
                KeyError::LooksLikePem,
            ),
            (format!("\u{feff}ssh-ed25519 {blob}"), KeyError::LooksLikeSsh),
            (format!("ssh-rsa {blob}"), KeyError::LooksLikeSsh),
            (format!("ecdsa-sha2-nistp384 {blob}"), KeyError::LooksLikeSsh),
            (format!("sk-ssh-ed25519@openssh.com {blob}"), KeyError::LooksLikeSsh),
            (
                format!("sk-ecdsa-sha2-nistp256@openssh.com {blob}"),
                KeyError::LooksLikeSsh,
            ),
            (
                format!("no-pty,from=\"10.0.0.1\" ssh-ed25519 {blob} ci"),
                KeyError::LooksLikeSsh,
            ),
            (format!("github.com ssh-ed25519 {blob}"), KeyError::LooksLikeSsh),
            (
                format!("|1|c2FsdA==|aGFzaA== ecdsa-sha2-nistp256 {blob}"),
                KeyError::LooksLikeSsh,
            ),
            (
                "\u{feff}{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}".to_owned(),
                KeyError::LooksLikeJson,
            ),
            (
                "[{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}] \n".to_owned(),
                KeyError::LooksLikeJson,
            ),
        ] {
            assert_eq!(check_secret(secret.as_bytes()), Err(want), "{secret:?}");
        }
    }

    #[test]
    fn refuses_der_keys_and_certificates() {
        let ed25519_oid = [0x06, 0x03, 0x2b, 0x65, 0x70];
        let mut bit_string = vec![0];
        bit_string.extend(sample(1, 32));
        let spki = der(0x30, &[der(0x30, &ed25519_oid), der(0x03, &bit_string)].concat());
        assert_eq!(spki.len(), 44);
        assert_eq!(check_secret(&spki), Err(KeyError::LooksLikeDer));
        let pkcs1 = der(0x30, &[der(0x02, &sample(2, 257)), der(0x02, &[1, 0, 1])].concat());
        assert_eq!(check_secret(&pkcs1), Err(KeyError::LooksLikeDer));
        let tbs = der(
            0x30,
            &[der(0xa0, &[0x02, 0x01, 0x02]), der(0x02, &sample(3, 16))].concat(),
        );
        let cert = der(0x30, &[tbs, der(0x30, &ed25519_oid), der(0x03, &bit_string)].concat());
        assert_eq!(check_secret(&cert), Err(KeyError::LooksLikeDer));
        // The same bytes with one more byte after the SEQUENCE, or a non-minimal length, are not DER.
        assert_eq!(check_secret(&[spki.as_slice(), b"x"].concat()), Ok(()));
        let mut long_form = vec![0x30, 0x81, 42];
        long_form.extend_from_slice(spki.get(2..).unwrap());
        assert_eq!(check_secret(&long_form), Ok(()));
    }

    #[test]
    fn text_secrets_are_never_taken_for_der() {
        // A DER match needs a 0x02, 0x06 or 0xA0 byte at offset 2, 4 or 5: none is printable.
        // Check every printable secret shaped like "0" + length + "0" + length + tag.
        for outer in 30u8..=126 {
            for inner in 32u8..=126 {
                for tag in 32u8..=126 {
                    let mut secret = vec![b'0', outer, b'0', inner, tag];
                    secret.resize(usize::from(outer) + 2, b'x');
                    assert!(!looks_like_der(&secret), "{secret:?}");
                }
            }
        }
        assert_eq!(check_secret(&[b'0'; 50]), Ok(()));
    }

    #[test]
    fn random_binary_secrets_pass() {
        for seed in 0..100_000 {
            let secret = sample(seed, 32);
            assert_eq!(check_secret(&secret), Ok(()), "{secret:?}");
        }
    }

    #[test]
    fn secrets_that_merely_resemble_key_material_pass() {
        for secret in [
            "sk-live-0123456789abcdef0123456789",
            "my-ssh-secret-0123456789abcdef0123456789",
            "[0123456789abcdef0123456789abcdef]",
            "{0123456789abcdef0123456789abcdef",
            "ssh is what we use, 0123456789abcdef",
            "-----BEGIN", // too short anyway
        ] {
            let want = if secret.len() < MIN_SECRET_BYTES {
                Err(KeyError::TooShort { len: secret.len() })
            } else {
                Ok(())
            };
            assert_eq!(check_secret(secret.as_bytes()), want, "{secret:?}");
        }
    }

    #[test]
    fn verify_accepts_only_the_exact_mac() {
        // `Key::verify` is the only MAC comparison in the core (rust/tests/adversarial.rs checks
        // that no other file compares MACs); it goes through `Mac::verify_slice`, which compares
        // in constant time (`subtle`) and refuses any length but 32.
        let key = Key::new(SECRET).unwrap();
        let message = b"eyJhbGciOiJIUzI1NiJ9.e30";
        let tag = key.mac(&[message]);
        assert!(key.verify(message, &tag));
        for len in (0..=96).filter(|&n| n != 32) {
            // Prefixes of the right MAC (what `verify_truncated_left` would accept) and the right
            // MAC followed by more bytes.
            let candidate: Vec<u8> = tag.iter().copied().cycle().take(len).collect();
            assert!(!key.verify(message, &candidate), "length {len}");
        }
        for byte in 0..32 {
            for bit in 0..8 {
                let mut flipped = tag;
                flipped[byte] ^= 1 << bit;
                assert!(!key.verify(message, &flipped), "byte {byte} bit {bit}");
            }
        }
        assert!(!key.verify(b"eyJhbGciOiJIUzI1NiJ9.e30.", &tag));
        assert!(!key.verify(message, &[0u8; 32]));
        let other = Key::new(b"fedcba9876543210fedcba9876543210").unwrap();
        assert!(!other.verify(message, &tag));
        assert_eq!(format!("{key:?}"), "Key(..)");
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

    #[test]
    fn rings_grow_and_shrink_by_name() {
        let other: &[u8] = b"fedcba9876543210fedcba9876543210";
        let one = KeyRing::new([(Some("a"), SECRET)]).unwrap();
        let two = one.with_key(None, other).unwrap();
        assert_eq!(two.kids().collect::<Vec<_>>(), [Some("a"), None]);
        assert_eq!(one.kids().collect::<Vec<_>>(), [Some("a")]); // rings are values
        let message: &[&[u8]] = &[b"m"];
        let tag = two.key(None).unwrap().mac(message);
        assert_eq!(tag, Key::new(other).unwrap().mac(message));
        assert_eq!(
            two.key(Some("a")).unwrap().mac(message),
            Key::new(SECRET).unwrap().mac(message)
        );
        assert_eq!(
            two.with_key(Some("a"), other).unwrap_err(),
            KeyError::DuplicateKid { kid: Some("a".into()) }
        );
        assert_eq!(
            two.with_key(Some("b"), b"short").unwrap_err(),
            KeyError::TooShort { len: 5 }
        );
        assert_eq!(two.with_key(Some(""), other).unwrap_err(), KeyError::BadKid);
        let back = two.without(None).unwrap();
        assert_eq!(back.kids().collect::<Vec<_>>(), [Some("a")]);
        assert_eq!(
            back.without(Some("b")).unwrap_err(),
            KeyError::NotInRing { kid: Some("b".into()) }
        );
        assert_eq!(back.without(Some("a")).unwrap_err(), KeyError::EmptyRing);
        assert_eq!(back.key(None).unwrap_err().to_string(), "no unnamed key is configured");
        assert_eq!(
            two.without(Some("b")).unwrap_err().to_string(),
            "no key named \"b\" is configured"
        );
    }
}
