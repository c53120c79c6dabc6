//! `decode_unverified` and `UnverifiedToken`: a token's header and claims as Python values,
//! without verification (for `sock8 token inspect`).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::args::{detached_if_large, token_bytes};
use crate::core::decode::{Object, decode_unverified as core_decode};
use crate::core::error::TokenError;
use crate::core::json::Tree;
use crate::core::limits::MAX_TOKEN_BYTES;

fn tree_value<'py>(py: Python<'py>, tree: &Tree) -> PyResult<Bound<'py, PyAny>> {
    Ok(match tree {
        Tree::Null => py.None().into_bound(py),
        Tree::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Tree::Int(i) => i.into_pyobject(py)?.into_any(),
        Tree::Float(f) => f.into_pyobject(py)?.into_any(),
        Tree::Str(s) => PyString::new(py, s).into_any(),
        Tree::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(tree_value(py, item)?)?;
            }
            list.into_any()
        }
        Tree::Object(members) => object_dict(py, members)?.into_any(),
    })
}

fn object_dict<'py>(py: Python<'py>, members: &Object) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in members {
        dict.set_item(name, tree_value(py, value)?)?;
    }
    Ok(dict)
}

/// A decoded part as a dict, or the exception saying why it is not one.
type Part = (Option<Py<PyDict>>, Option<Py<PyAny>>);

/// The part as a dict, or the exception (from `errors.rs`, the one mapping) saying why not.
fn part(py: Python<'_>, part: Result<Object, TokenError>) -> PyResult<Part> {
    match part {
        Ok(members) => Ok((Some(object_dict(py, &members)?.unbind()), None)),
        Err(e) => Ok((None, Some(PyErr::from(e).into_value(py).into_any()))),
    }
}

/// A token's header and claims as decoded, with nothing verified.
#[pyclass(frozen, module = "sock8._core", name = "UnverifiedToken")]
pub struct UnverifiedToken {
    header: Option<Py<PyDict>>,
    header_error: Option<Py<PyAny>>,
    claims: Option<Py<PyDict>>,
    claims_error: Option<Py<PyAny>>,
    signature_bytes: Option<usize>,
    signature_error: Option<Py<PyAny>>,
}

#[pymethods]
impl UnverifiedToken {
    /// The header's members, or `None` when it could not be decoded (see `header_error`).
    #[getter]
    fn header<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyDict>> {
        // A copy: the object is immutable, the dict handed out is the caller's.
        self.header.as_ref().and_then(|d| d.bind(py).copy().ok())
    }

    /// Why the header could not be decoded (a `MalformedToken`), or `None`.
    #[getter]
    fn header_error<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.header_error.as_ref().map(|e| e.bind(py).clone())
    }

    /// The payload's members (the claims), or `None` when it could not be decoded.
    #[getter]
    fn claims<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyDict>> {
        self.claims.as_ref().and_then(|d| d.bind(py).copy().ok())
    }

    /// Why the payload could not be decoded (a `MalformedToken`), or `None`.
    #[getter]
    fn claims_error<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.claims_error.as_ref().map(|e| e.bind(py).clone())
    }

    /// How many bytes the signature segment decodes to (32 for HS256), or `None`.
    #[getter]
    fn signature_bytes(&self) -> Option<usize> {
        self.signature_bytes
    }

    /// Why the signature segment could not be decoded (a `MalformedToken`), or `None`.
    #[getter]
    fn signature_error<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.signature_error.as_ref().map(|e| e.bind(py).clone())
    }

    fn __repr__(&self) -> String {
        // No claim values: a repr ends up in logs.
        let state = |ok: bool| if ok { "decoded" } else { "refused" };
        format!(
            "UnverifiedToken(header={}, claims={}, signature_bytes={})",
            state(self.header.is_some()),
            state(self.claims.is_some()),
            self.signature_bytes
                .map_or_else(|| "None".to_owned(), |n| n.to_string())
        )
    }
}

/// Decode `token`'s header and claims without verifying anything.
#[pyfunction]
pub fn decode_unverified(token: &Bound<'_, PyAny>) -> PyResult<UnverifiedToken> {
    let py = token.py();
    let bytes = token_bytes(token, MAX_TOKEN_BYTES)?;
    let decoded = detached_if_large(py, bytes, core_decode)?;
    let (header, header_error) = part(py, decoded.header)?;
    let (claims, claims_error) = part(py, decoded.claims)?;
    let (signature_bytes, signature_error) = match decoded.signature_bytes {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(PyErr::from(e).into_value(py).into_any())),
    };
    Ok(UnverifiedToken {
        header,
        header_error,
        claims,
        claims_error,
        signature_bytes,
        signature_error,
    })
}
