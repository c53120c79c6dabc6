//! Strict HS256 verification (docs/spec.md §4): the checks run in the spec's order, and the
//! cheap ones that need no key come first, so hostile input costs little.

use super::b64::{self, Fixed};
use super::claims::{Claims, Expect, Header};
use super::error::{Error, TokenError};
use super::grants::{ChannelSet, Grants};
use super::json;
use super::jws::{self, header_segment};
use super::keys::{Key, KeyRing};
use super::limits::{DEFAULT_AUDIENCE, MAX_CHANNELS, MAX_JSON_DEPTH, MAX_LEEWAY, MAX_TOKEN_BYTES};

/// What a verifier requires of a token beyond its signature.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Required `aud`; `None` requires that the token has none.
    pub audience: Option<String>,
    /// Required `iss`; `None` ignores it.
    pub issuer: Option<String>,
    /// Tolerated clock skew on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: f64,
    /// Longest token, in bytes.
    pub max_token_bytes: usize,
    /// Deepest JSON nesting (the top-level object is depth 1).
    pub max_depth: usize,
    /// Most channels in a token.
    pub max_channels: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            audience: Some(DEFAULT_AUDIENCE.to_owned()),
            issuer: None,
            leeway: 0.0,
            max_token_bytes: MAX_TOKEN_BYTES,
            max_depth: MAX_JSON_DEPTH,
            max_channels: MAX_CHANNELS,
        }
    }
}

impl Policy {
    fn check(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.audience.as_deref().is_some_and(str::is_empty) {
            return bad("audience must be a non-empty string or None".into());
        }
        if self.issuer.as_deref().is_some_and(str::is_empty) {
            return bad("issuer must be a non-empty string or None".into());
        }
        if !(0.0..=MAX_LEEWAY).contains(&self.leeway) {
            return bad(format!("leeway must be from 0 to {MAX_LEEWAY} seconds"));
        }
        if !(1..=MAX_TOKEN_BYTES).contains(&self.max_token_bytes) {
            return bad(format!("max_token_bytes must be from 1 to {MAX_TOKEN_BYTES}"));
        }
        if !(2..=MAX_JSON_DEPTH).contains(&self.max_depth) {
            return bad(format!("max_depth must be from 2 to {MAX_JSON_DEPTH}"));
        }
        if self.max_channels > MAX_CHANNELS {
            return bad(format!("max_channels must be from 0 to {MAX_CHANNELS}"));
        }
        Ok(())
    }
}

/// Verifies tokens against a key ring and a policy.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeyRing,
    policy: Policy,
    /// Header segments already judged, with the key each selects: the ones sock8's signer (and
    /// PyJWT, for an unnamed key) writes for the configured keys. A token whose header segment is
    /// byte for byte one of these would pass steps 4–7 with that key, so they are skipped; any
    /// other header takes the full path.
    known_headers: Vec<(String, Key)>,
}

/// Size of the stack buffer a payload decodes into; longer payloads go to the heap.
const STACK_PAYLOAD: usize = 1024;

/// A token cut at its first and last dots, with the key of a header segment the verifier knows
/// (which skips steps 4–7).
type Segments<'t, 'k> = jws::Segments<'t, 'k, Key>;

pub(crate) fn three_segments() -> TokenError {
    TokenError::malformed("a token has exactly three '.'-separated segments")
}

pub(crate) fn oversized(len: usize, max: usize) -> TokenError {
    TokenError::malformed(format!("token is {len} bytes, over the {max}-byte limit"))
}

pub(crate) fn decode_json<'a, M: json::Members<'a>>(
    segment: &[u8],
    buf: &'a mut Vec<u8>,
    what: &str,
    max_depth: usize,
    mut members: M,
) -> Result<M, TokenError> {
    *buf = b64::decode(segment).ok_or_else(|| TokenError::malformed(format!("{what} is not canonical base64url")))?;
    parse_json(buf, what, max_depth, &mut members)?;
    Ok(members)
}

fn parse_json<'a, M: json::Members<'a>>(
    bytes: &'a [u8],
    what: &str,
    max_depth: usize,
    members: &mut M,
) -> Result<(), TokenError> {
    let text = std::str::from_utf8(bytes).map_err(|_| TokenError::malformed(format!("{what} is not UTF-8")))?;
    json::parse_object(text, max_depth, members).map_err(|e| TokenError::malformed(format!("{what}: {e}")))
}

impl Verifier {
    /// A verifier for `keys` under `policy`.
    pub fn new(keys: KeyRing, policy: Policy) -> Result<Self, Error> {
        policy.check()?;
        let mut verifier = Self {
            keys,
            policy,
            known_headers: Vec::new(),
        };
        let mut known = Vec::new();
        for kid in verifier.keys.kids() {
            let segment = header_segment(kid);
            // Only what the full path itself accepts, for this very key, is remembered.
            if segment.len() <= verifier.policy.max_token_bytes
                && verifier
                    .header_key(segment.as_bytes())
                    .is_ok_and(|(k, _)| k.as_deref() == kid)
                && let Some(key) = verifier.keys.get(kid)
            {
                known.push((segment, key.clone()));
            }
        }
        verifier.known_headers = known;
        Ok(verifier)
    }

    /// Steps 4–7: the header segment's `kid` and the key it selects.
    fn header_key(&self, header_seg: &[u8]) -> Result<(Option<String>, &Key), TokenError> {
        let mut header_buf = Vec::new();
        let header = decode_json(
            header_seg,
            &mut header_buf,
            "header",
            self.policy.max_depth,
            Header::default(),
        )?;
        let kid = header.check()?;
        match self.keys.get(kid.as_deref()) {
            Some(key) => Ok((kid.map(Into::into), key)),
            None => Err(TokenError::UnknownKey(kid.map(Into::into))),
        }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The key ring.
    #[must_use]
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Verifies `token` at time `now` (epoch seconds) and returns what it grants.
    pub fn verify(&self, token: &[u8], now: f64) -> Result<Grants, TokenError> {
        let policy = &self.policy;
        if token.len() > policy.max_token_bytes {
            return Err(oversized(token.len(), policy.max_token_bytes));
        }
        let segments = jws::split(token, &self.known_headers).ok_or_else(three_segments)?;
        let (payload_seg, signature_seg) = (segments.payload, segments.signature);
        // Step 3 also refuses a dot inside the payload or the signature. Every success decodes
        // both as base64url, which has no dot, so dots are looked for only when a later step
        // fails: the step-3 error then takes precedence, as the spec's order requires.
        self.verify_segments(token, &segments, now).map_err(|e| {
            if payload_seg.contains(&b'.') || signature_seg.contains(&b'.') {
                three_segments()
            } else {
                e
            }
        })
    }

    /// Steps 4 to 14, on a token split at its first and last dots.
    fn verify_segments(&self, token: &[u8], segments: &Segments<'_, '_>, now: f64) -> Result<Grants, TokenError> {
        let policy = &self.policy;
        let Segments {
            header: header_seg,
            payload: payload_seg,
            signature: signature_seg,
            known: known_key,
        } = *segments;
        let key = match known_key {
            Some(key) => key,
            None => self.header_key(header_seg)?.1,
        };

        let signature = match b64::decode_fixed::<32>(signature_seg) {
            Fixed::Ok(signature) => signature,
            Fixed::WrongLength => return Err(TokenError::BadSignature("an HS256 signature is 32 bytes")),
            Fixed::Invalid => return Err(TokenError::malformed("signature is not canonical base64url")),
        };
        let signing_input = token
            .get(..header_seg.len() + 1 + payload_seg.len())
            .unwrap_or_default();
        if !key.verify(signing_input, &signature) {
            return Err(TokenError::BadSignature("signature does not match"));
        }

        let not_base64 = || TokenError::malformed("payload is not canonical base64url");
        let len = b64::decoded_len(payload_seg.len()).ok_or_else(not_base64)?;
        let (mut stack, mut heap) = ([0u8; STACK_PAYLOAD], Vec::new());
        let buf = if len <= STACK_PAYLOAD {
            stack.get_mut(..len).unwrap_or_default()
        } else {
            heap.resize(len, 0);
            heap.as_mut_slice()
        };
        b64::decode_into(payload_seg, buf).ok_or_else(not_base64)?;
        let mut claims = Claims::new(policy.max_channels);
        parse_json(buf, "payload", policy.max_depth, &mut claims)?;
        let expect = Expect {
            audience: policy.audience.as_deref(),
            issuer: policy.issuer.as_deref(),
        };
        let checked = claims.check(&expect)?;
        checked.check_times(now, policy.leeway)?;

        let (expires_at, issued_at) = checked.seconds();
        let mut channels = ChannelSet::from_parts(checked.channels.text, checked.channels.ends);
        let jti = checked.jti.map(|jti| channels.append(&jti));
        Ok(Grants::new(
            checked.sub.into_owned(),
            channels,
            jti,
            expires_at,
            issued_at,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::sign::Signer;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: f64 = 1_700_000_000.0;

    fn token(kid: Option<&str>) -> String {
        let signer = Signer::new(
            Key::new(SECRET).unwrap(),
            kid.map(Into::into),
            Some(DEFAULT_AUDIENCE.into()),
            None,
            60,
        );
        signer.unwrap().sign("u", &mut vec!["a.b##c"], NOW, None, None).unwrap()
    }

    #[test]
    fn a_dot_anywhere_extra_is_a_segment_error_first() {
        let verifier = Verifier::new(KeyRing::new([(None, SECRET)]).unwrap(), Policy::default()).unwrap();
        let good = token(None);
        assert!(verifier.verify(good.as_bytes(), NOW).is_ok());
        let (first, last) = (good.find('.').unwrap(), good.rfind('.').unwrap());
        let mut variants = Vec::new();
        for at in [first + 1, first + 5, last - 1, last + 1, last + 20, good.len() - 1] {
            let mut t = good.clone().into_bytes();
            t[at] = b'.';
            variants.push(t);
        }
        let mut extra = good.clone();
        extra.insert(last, '.');
        variants.push(extra.into_bytes());
        // An unknown key and a dot too many: the segment count is checked first (step 3).
        let named = token(Some("other"));
        let at = named.find('.').unwrap() + 3;
        variants.push(
            [named.get(..at).unwrap(), ".", named.get(at..).unwrap()]
                .concat()
                .into_bytes(),
        );
        for t in variants {
            let err = verifier.verify(&t, NOW).unwrap_err();
            assert_eq!(err, three_segments(), "{}", String::from_utf8_lossy(&t));
        }
        assert_eq!(
            verifier.verify(named.as_bytes(), NOW).unwrap_err(),
            TokenError::UnknownKey(Some("other".into()))
        );
        for bad in [&b""[..], b"abc", b"a.b", b".", b"..", b"a.b.c"] {
            assert!(verifier.verify(bad, NOW).is_err());
        }
    }
}
