//! Reading and checking a token's header and claims (docs/spec.md §4, steps 5–7 and 11–14).

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer};

use super::channel::validate_wire_id;
use super::error::TokenError;
use super::json::{Limits, Members, Skip, StrList, StrListSeed, Value, ValueSeed};
use super::time::{floor_seconds, numeric_date};

/// The header members a verifier looks at; the rest (`typ`, `jwk`, `jku`, `x5u`, `x5c`, …) are
/// validated as JSON and ignored: keys never come from the token.
#[derive(Default)]
pub struct Header<'de> {
    alg: Option<Value<'de>>,
    crit: bool,
    kid: Option<Value<'de>>,
}

impl<'de> Members<'de> for Header<'de> {
    fn member<D: Deserializer<'de>>(&mut self, key: &str, value: D, limits: Limits) -> Result<(), D::Error> {
        match key {
            "alg" => self.alg = Some(ValueSeed(limits).deserialize(value)?),
            "kid" => self.kid = Some(ValueSeed(limits).deserialize(value)?),
            "crit" => {
                self.crit = true;
                Skip(limits).deserialize(value)?;
            }
            _ => Skip(limits).deserialize(value)?,
        }
        Ok(())
    }
}

impl<'de> Header<'de> {
    /// Checks `alg` and `crit` and returns the `kid`, if any (steps 5–7).
    pub fn check(self) -> Result<Option<Cow<'de, str>>, TokenError> {
        match self.alg {
            Some(Value::Str(alg)) if alg == "HS256" => {}
            Some(Value::Str(alg)) => {
                let shown: String = alg.chars().take(32).collect();
                return Err(TokenError::malformed(format!(
                    "alg {shown:?} is not HS256, the only algorithm accepted"
                )));
            }
            Some(_) => return Err(TokenError::malformed("alg must be the string \"HS256\"")),
            None => return Err(TokenError::malformed("header has no alg")),
        }
        if self.crit {
            return Err(TokenError::malformed("header has crit, and no extension is understood"));
        }
        match self.kid {
            None => Ok(None),
            Some(Value::Str(kid)) => Ok(Some(kid)),
            Some(_) => Err(TokenError::malformed("kid must be a string")),
        }
    }
}

/// The claims a verifier looks at, as found in the payload; types are checked by [`Claims::check`].
pub struct Claims<'de> {
    max_channels: usize,
    sub: Option<Value<'de>>,
    exp: Option<Value<'de>>,
    iat: Option<Value<'de>>,
    nbf: Option<Value<'de>>,
    jti: Option<Value<'de>>,
    iss: Option<Value<'de>>,
    aud: Option<StrList<'de>>,
    channels: Option<StrList<'de>>,
}

impl<'de> Members<'de> for Claims<'de> {
    fn member<D: Deserializer<'de>>(&mut self, key: &str, value: D, limits: Limits) -> Result<(), D::Error> {
        let slot = match key {
            "sub" => &mut self.sub,
            "exp" => &mut self.exp,
            "iat" => &mut self.iat,
            "nbf" => &mut self.nbf,
            "jti" => &mut self.jti,
            "iss" => &mut self.iss,
            "aud" => {
                self.aud = Some(
                    StrListSeed {
                        limits,
                        max: usize::MAX,
                    }
                    .deserialize(value)?,
                );
                return Ok(());
            }
            "channels" => {
                self.channels = Some(
                    StrListSeed {
                        limits,
                        max: self.max_channels,
                    }
                    .deserialize(value)?,
                );
                return Ok(());
            }
            _ => return Skip(limits).deserialize(value),
        };
        *slot = Some(ValueSeed(limits).deserialize(value)?);
        Ok(())
    }
}

/// What the claims say, once checked.
#[derive(Debug)]
pub struct Checked<'de> {
    pub sub: Cow<'de, str>,
    pub exp: f64,
    pub iat: f64,
    pub nbf: Option<f64>,
    pub jti: Option<Cow<'de, str>>,
    pub channels: Vec<Cow<'de, str>>,
}

/// What the verifier's configuration requires of the claims.
pub struct Expect<'a> {
    pub audience: Option<&'a str>,
    pub issuer: Option<&'a str>,
}

fn date(value: Option<&Value<'_>>, name: &'static str, required: bool) -> Result<Option<f64>, TokenError> {
    match value {
        None if required => Err(TokenError::claims(format!("{name} is missing"))),
        None => Ok(None),
        Some(v) => numeric_date(v)
            .map(Some)
            .ok_or_else(|| TokenError::claims(format!("{name} must be a number of seconds from 0 to 253402300799"))),
    }
}

impl<'de> Claims<'de> {
    /// Empty claims; `channels` lists longer than `max_channels` are refused.
    #[must_use]
    pub fn new(max_channels: usize) -> Self {
        Self {
            max_channels,
            sub: None,
            exp: None,
            iat: None,
            nbf: None,
            jti: None,
            iss: None,
            aud: None,
            channels: None,
        }
    }

    /// Type and configuration checks, in the order of docs/spec.md §4 step 11.
    pub fn check(self, expect: &Expect<'_>) -> Result<Checked<'de>, TokenError> {
        let sub = match self.sub {
            Some(Value::Str(s)) if !s.is_empty() => s,
            Some(_) => return Err(TokenError::claims("sub must be a non-empty string")),
            None => return Err(TokenError::claims("sub is missing")),
        };
        let exp = date(self.exp.as_ref(), "exp", true)?.unwrap_or_default();
        let iat = date(self.iat.as_ref(), "iat", true)?.unwrap_or_default();
        let nbf = date(self.nbf.as_ref(), "nbf", false)?;
        let jti = match self.jti {
            None => None,
            Some(Value::Str(s)) => Some(s),
            Some(_) => return Err(TokenError::claims("jti must be a string")),
        };
        let channels = match self.channels {
            Some(StrList::List(channels)) => channels,
            Some(StrList::TooLong) => {
                return Err(TokenError::claims(format!("more than {} channels", self.max_channels)));
            }
            Some(StrList::NotStrings | StrList::NotList(_)) => {
                return Err(TokenError::claims("channels must be a list of strings"));
            }
            None => return Err(TokenError::claims("channels is missing")),
        };
        for (i, channel) in channels.iter().enumerate() {
            validate_wire_id(channel.as_bytes())
                .map_err(|e| TokenError::claims(format!("channels[{i}] is not a channel id: {e}")))?;
        }
        check_audience(self.aud, expect.audience)?;
        if let Some(issuer) = expect.issuer {
            match self.iss {
                Some(Value::Str(iss)) if iss == issuer => {}
                Some(_) => return Err(TokenError::claims("iss does not match")),
                None => return Err(TokenError::claims("iss is missing")),
            }
        }
        Ok(Checked {
            sub,
            exp,
            iat,
            nbf,
            jti,
            channels,
        })
    }
}

fn check_audience(aud: Option<StrList<'_>>, audience: Option<&str>) -> Result<(), TokenError> {
    match (aud, audience) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(TokenError::claims("token has aud, and this verifier expects none")),
        (None, Some(_)) => Err(TokenError::claims("aud is missing")),
        (Some(StrList::NotList(Value::Str(aud))), Some(expected)) if aud == expected => Ok(()),
        (Some(StrList::List(auds)), Some(expected)) if auds.iter().any(|a| a == expected) => Ok(()),
        (Some(_), Some(_)) => Err(TokenError::claims("aud does not include this verifier's audience")),
    }
}

impl Checked<'_> {
    /// Time checks (steps 12–14), in double precision exactly as written in the spec.
    pub fn check_times(&self, now: f64, leeway: f64) -> Result<(), TokenError> {
        if self.exp <= now - leeway {
            return Err(TokenError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err(TokenError::NotYetValid("nbf is in the future"));
        }
        if self.iat > now + leeway {
            return Err(TokenError::NotYetValid("iat is in the future"));
        }
        Ok(())
    }

    /// `floor(exp)` and `floor(iat)`.
    #[must_use]
    pub fn seconds(&self) -> (i64, i64) {
        (floor_seconds(self.exp), floor_seconds(self.iat))
    }
}
