//! Argument conversion shared by the bindings: each turns a Python object into a core value or
//! raises the error the spec names for it. Type mistakes are `TypeError`; content is the core's.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};

use crate::core::error::{Error, TokenError};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// A `TypeError` saying what `what` must be and what it was.
pub fn type_error(what: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(obj)))
}

/// The text of a `str`; `on_bad_text` when it holds a lone surrogate; `TypeError` otherwise.
pub fn text<'a>(obj: &'a Bound<'_, PyAny>, what: &str, on_bad_text: impl FnOnce() -> Error) -> PyResult<&'a str> {
    let s = obj.cast::<PyString>().map_err(|_| type_error(what, "a str", obj))?;
    s.to_str().map_err(|_| on_bad_text().into())
}

/// Tokens at least this long (hundreds of channels, tens of µs and up) are decoded and verified
/// with the GIL released, so other threads run meanwhile; for smaller ones, releasing it would
/// cost more than the work.
const DETACH_TOKEN_BYTES: usize = 16 * 1024;

/// A token's bytes: `bytes` as they are, a `str` as UTF-8. A `str` of more than `max`
/// characters is refused before it is encoded (a character is at least one byte).
pub fn token_bytes<'a>(token: &'a Bound<'_, PyAny>, max: usize) -> PyResult<&'a [u8]> {
    if let Ok(s) = token.cast::<PyString>() {
        if s.len()? > max {
            return Err(TokenError::malformed(format!("token is over the {max}-byte limit")).into());
        }
        let text = s
            .to_str()
            .map_err(|_| TokenError::malformed("token is not valid Unicode text"))?;
        Ok(text.as_bytes())
    } else if let Ok(b) = token.cast::<PyBytes>() {
        Ok(b.as_bytes())
    } else {
        Err(type_error("token", "str or bytes", token))
    }
}

/// `work(bytes)`, with the GIL released when `bytes` is a large token. `bytes` must borrow from
/// an immutable object held for the whole call (as `token_bytes` gives).
pub fn detached_if_large<T: Send>(py: Python<'_>, bytes: &[u8], work: impl FnOnce(&[u8]) -> T + Send) -> T {
    if bytes.len() >= DETACH_TOKEN_BYTES {
        py.detach(|| work(bytes))
    } else {
        work(bytes)
    }
}

/// A secret's bytes: `bytes` as they are, a `str` as UTF-8.
pub fn secret_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(std::borrow::Cow::Borrowed(bytes.as_bytes()));
    }
    let text = text(obj, "secret", || {
        Error::Config("secret is not valid Unicode text".into())
    })?;
    Ok(std::borrow::Cow::Borrowed(text.as_bytes()))
}

/// An optional non-empty name (`kid`, `audience`, `issuer`).
pub fn opt_string(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<String>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            let t = text(o, what, || Error::Config(format!("{what} is not valid Unicode text")))?;
            Ok(Some(t.to_owned()))
        }
    }
}

/// An `int` argument (not `bool`) that must fit `u64`; out of range is a `ConfigError`.
pub fn config_int(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(type_error(what, "an int", obj));
    }
    obj.extract::<u64>()
        .map_err(|_| Error::Config(format!("{what} is out of range")).into())
}

/// A number of seconds (`int` or `float`, not `bool`); `None` means the system clock.
pub fn seconds(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<f64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(what, "a number of seconds", obj));
    }
    match obj.extract::<f64>() {
        Ok(value) => Ok(Some(value)),
        // An int too large for a double is a number out of range, which callers refuse with
        // the error their range check names; only a non-number is a TypeError.
        Err(_) if obj.is_instance_of::<PyInt>() => Ok(Some(if obj.lt(0)? { f64::NEG_INFINITY } else { f64::INFINITY })),
        Err(_) => Err(type_error(what, "a number of seconds", obj)),
    }
}

/// An optional name passed as a keyword whose default is a name (`audience='sock8'`): `None`
/// means none, a `str` its text; a lone surrogate is a `ConfigError`, another type a `TypeError`.
pub struct OptName(pub Option<String>);

impl<'a, 'py> FromPyObject<'a, 'py> for OptName {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        opt_string(Some(&obj.to_owned()), "a name").map(OptName)
    }
}
