//! The core's error types. Each maps to one exception class of `sock8.errors` in
//! `py/errors.rs`, the only place that knows about Python.

use std::borrow::Cow;
use std::fmt;

pub use super::channel::ChannelError;
pub use super::keys::KeyError;

/// Why a token was refused (docs/spec.md §4 gives which check raises which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Size, structure, base64url, JSON or header.
    Malformed(Cow<'static, str>),
    /// The signature is not the MAC of the token under the selected key.
    BadSignature(&'static str),
    /// The `kid` (or its absence) selects no configured key.
    UnknownKey(Option<String>),
    /// A claim is missing, mistyped, or does not match the configuration.
    InvalidClaims(Cow<'static, str>),
    /// `exp` has passed.
    Expired,
    /// `nbf` or `iat` lies in the future.
    NotYetValid(&'static str),
}

impl TokenError {
    pub(crate) fn malformed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Malformed(message.into())
    }

    pub(crate) fn claims(message: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidClaims(message.into())
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed token: {m}"),
            Self::BadSignature(m) => write!(f, "bad signature: {m}"),
            Self::UnknownKey(Some(kid)) => {
                let shown: String = kid.chars().take(64).collect();
                write!(f, "unknown key: no configured key is named {shown:?}")
            }
            Self::UnknownKey(None) => f.write_str("unknown key: the token has no kid and no unnamed key is configured"),
            Self::InvalidClaims(m) => write!(f, "invalid claims: {m}"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid(m) => write!(f, "token not yet valid: {m}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Any error of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A token was refused, or the claims to sign are invalid.
    Token(TokenError),
    /// A template, value or wire id was refused.
    Channel(ChannelError),
    /// A key was refused.
    Key(KeyError),
    /// A configuration value is out of range.
    Config(String),
    /// An argument value is out of range (such as `now`).
    Value(String),
    /// The operating system's random source failed.
    Random(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(e) => e.fmt(f),
            Self::Channel(e) => e.fmt(f),
            Self::Key(e) => e.fmt(f),
            Self::Config(m) | Self::Value(m) | Self::Random(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

impl From<ChannelError> for Error {
    fn from(e: ChannelError) -> Self {
        Self::Channel(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}
