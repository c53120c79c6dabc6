//! The one place where core errors become Python exceptions. The classes are defined in
//! `sock8/errors.py` (as pyca/cryptography does) and imported here. What the core knows beyond
//! the message travels as keyword arguments: `UnknownKey(message, kid=...)` and
//! `ChannelError(message, position=..., segment=...)`.

use pyo3::PyTypeInfo;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core::error::{ChannelError as CoreChannelError, Error, TokenError};

pyo3::import_exception!(sock8.errors, BadSignature);
pyo3::import_exception!(sock8.errors, ChannelError);
pyo3::import_exception!(sock8.errors, ConfigError);
pyo3::import_exception!(sock8.errors, InvalidClaims);
pyo3::import_exception!(sock8.errors, MalformedToken);
pyo3::import_exception!(sock8.errors, TokenExpired);
pyo3::import_exception!(sock8.errors, TokenNotYetValid);
pyo3::import_exception!(sock8.errors, UnknownKey);

/// An exception of class `T` built as `T(message, **attributes)`; an error building it (such as
/// a `MemoryError`) is raised instead.
fn with_attributes<T: PyTypeInfo>(
    message: String,
    attributes: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>,
) -> PyErr {
    Python::attach(|py| {
        let kwargs = PyDict::new(py);
        attributes(&kwargs)?;
        let value = py.get_type::<T>().call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    })
    .unwrap_or_else(|e: PyErr| e)
}

impl From<TokenError> for PyErr {
    fn from(error: TokenError) -> Self {
        let message = error.to_string();
        match error {
            TokenError::Malformed(_) => MalformedToken::new_err(message),
            TokenError::BadSignature(_) => BadSignature::new_err(message),
            TokenError::UnknownKey(kid) => with_attributes::<UnknownKey>(message, |kw| kw.set_item("kid", kid)),
            TokenError::InvalidClaims(_) => InvalidClaims::new_err(message),
            TokenError::Expired => TokenExpired::new_err(message),
            TokenError::NotYetValid(_) => TokenNotYetValid::new_err(message),
        }
    }
}

impl From<CoreChannelError> for PyErr {
    fn from(error: CoreChannelError) -> Self {
        with_attributes::<ChannelError>(error.to_string(), |kw| {
            kw.set_item("position", error.position())?;
            kw.set_item("segment", error.segment())
        })
    }
}

impl From<Error> for PyErr {
    fn from(error: Error) -> Self {
        match error {
            Error::Token(e) => e.into(),
            Error::Channel(e) => e.into(),
            Error::Key(e) => ConfigError::new_err(e.to_string()),
            Error::Config(m) => ConfigError::new_err(m),
            Error::Value(m) => PyValueError::new_err(m),
            Error::Random(m) => PyOSError::new_err(m),
        }
    }
}
