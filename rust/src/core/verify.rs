//! Strict HS256 verification (docs/spec.md §4): the checks run in the spec's order, and the
//! cheap ones that need no key come first, so hostile input costs little.

use super::b64::{self, Fixed};
use super::claims::{Claims, Expect, Header};
use super::error::{Error, TokenError};
use super::grants::{ChannelSet, Grants};
use super::json;
use super::keys::KeyRing;

/// Ceiling and default of [`Policy::max_token_bytes`].
pub const MAX_TOKEN_BYTES: usize = 512 * 1024;
/// Ceiling and default of [`Policy::max_depth`]: no valid token is deeper.
pub const MAX_JSON_DEPTH: usize = 8;
/// Ceiling and default of [`Policy::max_channels`].
pub const MAX_CHANNELS: usize = 10_000;
/// Largest leeway, in seconds.
pub const MAX_LEEWAY: f64 = 86_400.0;

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
            audience: Some("sock8".to_owned()),
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
}

/// Splits a token into exactly three `.`-separated segments.
fn split(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = token.iter().position(|&b| b == b'.')?;
    let (header, rest) = (token.get(..first)?, token.get(first + 1..)?);
    let second = rest.iter().position(|&b| b == b'.')?;
    let (payload, signature) = (rest.get(..second)?, rest.get(second + 1..)?);
    if signature.contains(&b'.') {
        return None;
    }
    Some((header, payload, signature))
}

fn decode_json<'a, M: json::Members<'a>>(
    segment: &[u8],
    buf: &'a mut Vec<u8>,
    what: &str,
    max_depth: usize,
    members: M,
) -> Result<M, TokenError> {
    *buf = b64::decode(segment).ok_or_else(|| TokenError::malformed(format!("{what} is not canonical base64url")))?;
    let text = std::str::from_utf8(buf).map_err(|_| TokenError::malformed(format!("{what} is not UTF-8")))?;
    json::parse_object(text, max_depth, members).map_err(|e| TokenError::malformed(format!("{what}: {e}")))
}

impl Verifier {
    /// A verifier for `keys` under `policy`.
    pub fn new(keys: KeyRing, policy: Policy) -> Result<Self, Error> {
        policy.check()?;
        Ok(Self { keys, policy })
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
            return Err(TokenError::malformed(format!(
                "token is {} bytes, over the {}-byte limit",
                token.len(),
                policy.max_token_bytes
            )));
        }
        let (header_seg, payload_seg, signature_seg) =
            split(token).ok_or_else(|| TokenError::malformed("a token has exactly three '.'-separated segments"))?;

        let mut header_buf = Vec::new();
        let header = decode_json(
            header_seg,
            &mut header_buf,
            "header",
            policy.max_depth,
            Header::default(),
        )?;
        let kid = header.check()?;
        let key = self
            .keys
            .get(kid.as_deref())
            .ok_or_else(|| TokenError::UnknownKey(kid.map(Into::into)))?;

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

        let mut payload_buf = Vec::new();
        let claims = Claims::new(policy.max_channels);
        let claims = decode_json(payload_seg, &mut payload_buf, "payload", policy.max_depth, claims)?;
        let expect = Expect {
            audience: policy.audience.as_deref(),
            issuer: policy.issuer.as_deref(),
        };
        let checked = claims.check(&expect)?;
        checked.check_times(now, policy.leeway)?;

        let (expires_at, issued_at) = checked.seconds();
        Ok(Grants {
            identity: checked.sub.into_owned(),
            jti: checked.jti.map(Into::into),
            expires_at,
            issued_at,
            channels: ChannelSet::new(checked.channels.iter().map(AsRef::as_ref)),
        })
    }
}
