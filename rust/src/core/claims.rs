//! Reading and checking a token's header and claims (docs/spec.md §4, steps 5–7 and 11–14).

use std::borrow::Cow;

use super::channel::validate_wire_id;
use super::error::TokenError;
use super::grammar::is_wire_id;
use super::json::{self, Members, Parser, StrList, Value};
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
    fn member(&mut self, key: &str, parser: &mut Parser<'de>) -> Result<(), json::Error> {
        match key {
            "alg" => self.alg = Some(parser.value()?),
            "kid" => self.kid = Some(parser.value()?),
            "crit" => {
                self.crit = true;
                parser.value()?;
            }
            _ => {
                parser.value()?;
            }
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
    channels: Option<ChannelList>,
}

impl<'de> Members<'de> for Claims<'de> {
    fn member(&mut self, key: &str, parser: &mut Parser<'de>) -> Result<(), json::Error> {
        let slot = match key {
            "sub" => &mut self.sub,
            "exp" => &mut self.exp,
            "iat" => &mut self.iat,
            "nbf" => &mut self.nbf,
            "jti" => &mut self.jti,
            "iss" => &mut self.iss,
            "aud" => {
                self.aud = Some(parser.str_list(usize::MAX)?);
                return Ok(());
            }
            "channels" => {
                self.channels = Some(ChannelList::read(parser, self.max_channels)?);
                return Ok(());
            }
            _ => return parser.value().map(drop),
        };
        *slot = Some(parser.value()?);
        Ok(())
    }
}

/// The `channels` claim as read: the entries laid end to end in one buffer (the layout of
/// [`super::grants::ChannelSet`], so a verified token's grants need no further copy), or the
/// reason it is not a usable list. Each entry gets the fast id check while it is read; the
/// verdict is reported by [`Claims::check`], in the spec's order.
#[derive(Debug, Default)]
pub struct ChannelList {
    /// The entries, concatenated.
    pub text: String,
    /// End offset of each entry in `text`.
    pub ends: Vec<u32>,
    not_list: bool,
    not_strings: bool,
    too_long: bool,
    /// The first entry [`is_wire_id`] refused; from there on the full check decides.
    first_suspect: Option<usize>,
}

impl ChannelList {
    /// Reads the `channels` claim. Past `max` entries, entries are still validated as JSON but
    /// no longer stored, so an oversized list costs no memory.
    fn read(parser: &mut Parser<'_>, max: usize) -> Result<Self, json::Error> {
        let mut list = Self::default();
        if !parser.at_array() {
            parser.value()?;
            list.not_list = true;
            return Ok(list);
        }
        // The document's strings, unescaped, are shorter than the document: one allocation holds
        // the channels, and the `jti` appended after them (see `Grants`).
        list.text.reserve(parser.document_len());
        let mut count = 0usize;
        parser.array(|parser| {
            match parser.value()? {
                Value::Str(entry) => {
                    count += 1;
                    if count <= max && !list.not_strings {
                        list.push(&entry);
                    }
                }
                _ => list.not_strings = true,
            }
            Ok(())
        })?;
        list.too_long = count > max;
        Ok(list)
    }

    fn entry(&self, index: usize) -> &str {
        let end = self.ends.get(index).map_or(0, |&e| e as usize);
        let start = index
            .checked_sub(1)
            .and_then(|i| self.ends.get(i))
            .map_or(0, |&e| e as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    fn push(&mut self, entry: &str) {
        if self.first_suspect.is_none() && !is_wire_id(entry.as_bytes()) {
            self.first_suspect = Some(self.ends.len());
        }
        self.text.push_str(entry);
        // Tokens are at most 512 KiB, so offsets fit.
        self.ends.push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// Every entry must be a wire id; the first that is not decides the message.
    fn check_ids(&self) -> Result<(), TokenError> {
        let Some(first) = self.first_suspect else {
            return Ok(());
        };
        for i in first..self.ends.len() {
            validate_wire_id(self.entry(i).as_bytes())
                .map_err(|e| TokenError::claims(format!("channels[{i}] is not a channel id: {e}")))?;
        }
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
    pub channels: ChannelList,
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
            None => return Err(TokenError::claims("channels is missing")),
            Some(list) if list.not_list || list.not_strings => {
                return Err(TokenError::claims("channels must be a list of strings"));
            }
            Some(list) if list.too_long => {
                return Err(TokenError::claims(format!("more than {} channels", self.max_channels)));
            }
            Some(list) => list,
        };
        channels.check_ids()?;
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
