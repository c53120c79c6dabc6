//! HS256 signing (docs/spec.md §3). The header segment is encoded once per signer; each token
//! costs one payload serialization, one base64url pass and one MAC from a precomputed key state.

use std::fmt::Write as _;

use super::b64;
use super::channel::validate_wire_id;
use super::error::{Error, KeyError, TokenError};
use super::jws::{SIGNATURE_CHARS, header_segment, push_json_str};
use super::keys::Key;
use super::limits::{MAX_CHANNELS, MAX_KID_BYTES, MAX_TOKEN_BYTES, MAX_TTL};
use super::time::{MAX_NUMERIC_DATE, floor_seconds};

/// Signs grant tokens with one key.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Key,
    kid: Option<String>,
    audience: Option<String>,
    issuer: Option<String>,
    ttl: u64,
    /// `base64url(header) + "."`, fixed for this signer.
    header_prefix: String,
}

fn check_ttl(ttl: u64) -> Result<u64, Error> {
    if (1..=MAX_TTL).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(Error::Config(format!(
            "ttl must be from 1 to {MAX_TTL} seconds, not {ttl}"
        )))
    }
}

fn check_name(value: Option<String>, what: &str) -> Result<Option<String>, Error> {
    if value.as_deref().is_some_and(str::is_empty) {
        return Err(Error::Config(format!("{what} must be a non-empty string or None")));
    }
    Ok(value)
}

impl Signer {
    /// A signer for `key`, writing `kid` into the header when given.
    pub fn new(
        key: Key,
        kid: Option<String>,
        audience: Option<String>,
        issuer: Option<String>,
        ttl: u64,
    ) -> Result<Self, Error> {
        if kid.as_deref().is_some_and(|k| k.is_empty() || k.len() > MAX_KID_BYTES) {
            return Err(Error::Key(KeyError::BadKid));
        }
        let mut header_prefix = header_segment(kid.as_deref());
        header_prefix.push('.');
        Ok(Self {
            key,
            kid,
            audience: check_name(audience, "audience")?,
            issuer: check_name(issuer, "issuer")?,
            ttl: check_ttl(ttl)?,
            header_prefix,
        })
    }

    /// The key name written into headers.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `aud` written into tokens.
    #[must_use]
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The `iss` written into tokens.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The default lifetime.
    #[must_use]
    pub fn ttl(&self) -> u64 {
        self.ttl
    }

    /// Signs a token for `identity` granting `channels` (validated, sorted and de-duplicated in
    /// place), issued at `floor(now)`.
    pub fn sign(
        &self,
        identity: &str,
        channels: &mut Vec<&str>,
        now: f64,
        ttl: Option<u64>,
        jti: Option<&str>,
    ) -> Result<String, Error> {
        if identity.is_empty() {
            return Err(TokenError::claims("identity must be a non-empty string").into());
        }
        let ttl = ttl.map_or(Ok(self.ttl), check_ttl)?;
        if !(0.0..=MAX_NUMERIC_DATE).contains(&now) {
            return Err(Error::Value(format!(
                "now must be from 0 to {MAX_NUMERIC_DATE} seconds"
            )));
        }
        let iat = floor_seconds(now);
        let exp = iat.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        if exp > floor_seconds(MAX_NUMERIC_DATE) {
            return Err(Error::Value("now + ttl is past the year 9999".into()));
        }
        for channel in channels.iter() {
            validate_wire_id(channel.as_bytes())?;
        }
        channels.sort_unstable();
        channels.dedup();
        if channels.len() > MAX_CHANNELS {
            return Err(TokenError::claims(format!("more than {MAX_CHANNELS} channels")).into());
        }
        let jti = match jti {
            Some("") => return Err(TokenError::claims("jti must be a non-empty string").into()),
            Some(jti) => jti.to_owned(),
            None => random_jti()?,
        };

        let mut payload =
            String::with_capacity(96 + identity.len() + channels.iter().map(|c| c.len() + 3).sum::<usize>());
        payload.push_str(r#"{"sub":"#);
        push_json_str(&mut payload, identity);
        if let Some(aud) = &self.audience {
            payload.push_str(r#","aud":"#);
            push_json_str(&mut payload, aud);
        }
        if let Some(iss) = &self.issuer {
            payload.push_str(r#","iss":"#);
            push_json_str(&mut payload, iss);
        }
        let _ = write!(payload, r#","iat":{iat},"exp":{exp},"jti":"#);
        push_json_str(&mut payload, &jti);
        payload.push_str(r#","channels":["#);
        for (i, channel) in channels.iter().enumerate() {
            if i > 0 {
                payload.push(',');
            }
            // Wire ids are `[A-Za-z0-9_~%#.-]`: nothing to escape.
            payload.push('"');
            payload.push_str(channel);
            payload.push('"');
        }
        payload.push_str("]}");

        let size = self.header_prefix.len() + (payload.len() * 4).div_ceil(3) + 1 + SIGNATURE_CHARS;
        if size > MAX_TOKEN_BYTES {
            return Err(TokenError::claims(format!("token would be {size} bytes, over {MAX_TOKEN_BYTES}")).into());
        }
        let mut token = String::with_capacity(size);
        token.push_str(&self.header_prefix);
        b64::encode_into(payload.as_bytes(), &mut token);
        let tag = self.key.mac(&[token.as_bytes()]);
        token.push('.');
        b64::encode_into(&tag, &mut token);
        Ok(token)
    }
}

fn random_jti() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(format!("the system random source failed: {e}")))?;
    let mut jti = String::with_capacity(22);
    b64::encode_into(&bytes, &mut jti);
    Ok(jti)
}
