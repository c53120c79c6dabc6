//! The one place where core errors become Python exceptions. The classes are defined in
//! `sock8/errors.py` (as pyca/cryptography does) and imported here.

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyValueError};

use crate::core::error::{Error, TokenError};

pyo3::import_exception!(sock8.errors, BadSignature);
pyo3::import_exception!(sock8.errors, ChannelError);
pyo3::import_exception!(sock8.errors, ConfigError);
pyo3::import_exception!(sock8.errors, InvalidClaims);
pyo3::import_exception!(sock8.errors, MalformedToken);
pyo3::import_exception!(sock8.errors, TokenExpired);
pyo3::import_exception!(sock8.errors, TokenNotYetValid);
pyo3::import_exception!(sock8.errors, UnknownKey);

impl From<TokenError> for PyErr {
    fn from(error: TokenError) -> Self {
        let message = error.to_string();
        match error {
            TokenError::Malformed(_) => MalformedToken::new_err(message),
            TokenError::BadSignature(_) => BadSignature::new_err(message),
            TokenError::UnknownKey(_) => UnknownKey::new_err(message),
            TokenError::InvalidClaims(_) => InvalidClaims::new_err(message),
            TokenError::Expired => TokenExpired::new_err(message),
            TokenError::NotYetValid(_) => TokenNotYetValid::new_err(message),
        }
    }
}

impl From<Error> for PyErr {
    fn from(error: Error) -> Self {
        match error {
            Error::Token(e) => e.into(),
            Error::Channel(e) => ChannelError::new_err(e.to_string()),
            Error::Key(e) => ConfigError::new_err(e.to_string()),
            Error::Config(m) => ConfigError::new_err(m),
            Error::Value(m) => PyValueError::new_err(m),
            Error::Random(m) => PyOSError::new_err(m),
        }
    }
}
