//! `Keys`: named HMAC keys held by the core, from which `Signer`s and `Verifier`s are made.
//!
//! Python code that keeps a secret in an attribute leaks it to `vars()`, debuggers, crash
//! reporters and pickles. A `Keys` keeps only the keyed HMAC states, in Rust: no attribute,
//! `repr`, pickle or copy shows a secret, so an app hands its secret over once and drops it.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::args::{OptName, opt_string, secret_bytes, type_error};
use super::token::{Signer, Verifier, policy, ring_of};
use crate::core::error::Error;
use crate::core::keys::KeyRing;
use crate::core::limits::DEFAULT_AUDIENCE;

/// Named HMAC keys, held by the core.
#[pyclass(frozen, module = "sock8._core", name = "Keys")]
pub struct Keys {
    ring: KeyRing,
}

/// A key name as given: a `str` or `None` (anything else is a `TypeError`).
fn kid_of(kid: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    opt_string(Some(kid), "key name")
}

#[pymethods]
impl Keys {
    #[new]
    fn new(keys: &Bound<'_, PyAny>) -> PyResult<Self> {
        let ring = if let Ok(dict) = keys.cast::<PyDict>() {
            ring_of(dict.iter())?
        } else if keys.is_instance_of::<PyString>() || !keys.hasattr("items")? {
            // One bare secret would be taken for a mapping of its characters, or refused obscurely.
            return Err(type_error("keys", "a mapping of key names to secrets", keys));
        } else {
            let pairs = keys.call_method0("items")?;
            let mut items = Vec::new();
            for item in pairs.try_iter()? {
                items.push(item?.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?);
            }
            ring_of(items.into_iter())?
        };
        Ok(Self { ring })
    }

    /// The key names, in the order given (`None` is the unnamed key).
    #[getter]
    fn kids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.ring.kids().collect::<Vec<_>>())
    }

    /// A `Signer` with the key named `kid`, which it writes into token headers.
    #[pyo3(
        signature = (kid, *, audience=OptName(Some(DEFAULT_AUDIENCE.to_owned())), issuer=None, ttl=None),
        text_signature = "($self, kid, *, audience='sock8', issuer=None, ttl=3600)"
    )]
    fn signer(
        &self,
        kid: &Bound<'_, PyAny>,
        audience: OptName,
        issuer: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Signer> {
        let key = self.ring.key(kid_of(kid)?.as_deref()).map_err(Error::from)?;
        Signer::with_key(key.clone(), Some(kid), audience, issuer, ttl)
    }

    /// A `Verifier` that accepts every key, selected by the token's `kid`.
    #[pyo3(
        signature = (
            *, audience=OptName(Some(DEFAULT_AUDIENCE.to_owned())), issuer=None, leeway=None,
            max_token_bytes=None, max_depth=None, max_channels=None,
        ),
        text_signature = "($self, *, audience='sock8', issuer=None, leeway=0, max_token_bytes=524288, \
                          max_depth=8, max_channels=10000)"
    )]
    fn verifier(
        &self,
        audience: OptName,
        issuer: Option<&Bound<'_, PyAny>>,
        leeway: Option<&Bound<'_, PyAny>>,
        max_token_bytes: Option<&Bound<'_, PyAny>>,
        max_depth: Option<&Bound<'_, PyAny>>,
        max_channels: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Verifier> {
        let policy = policy(audience, issuer, leeway, max_token_bytes, max_depth, max_channels)?;
        Verifier::with_ring(self.ring.clone(), policy)
    }

    /// These keys and one more, last.
    fn add(&self, kid: &Bound<'_, PyAny>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let kid = kid_of(kid)?;
        let secret = secret_bytes(secret)?;
        let ring = self.ring.with_key(kid.as_deref(), &secret).map_err(Error::from)?;
        Ok(Self { ring })
    }

    /// These keys without the one named `kid`.
    fn without(&self, kid: &Bound<'_, PyAny>) -> PyResult<Self> {
        let ring = self.ring.without(kid_of(kid)?.as_deref()).map_err(Error::from)?;
        Ok(Self { ring })
    }

    fn __contains__(&self, kid: &Bound<'_, PyAny>) -> bool {
        if kid.is_none() {
            return self.ring.get(None).is_some();
        }
        kid.cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok())
            .is_some_and(|k| self.ring.get(Some(k)).is_some())
    }

    fn __len__(&self) -> usize {
        self.ring.kids().count()
    }

    /// Pickling would write the secrets out as plain data: refused.
    fn __reduce__(_slf: &Bound<'_, Self>) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "sock8._core.Keys holds secrets and cannot be pickled; rebuild it from your secret store",
        ))
    }

    /// Immutable: a copy is the same object (and never a plain-data copy of the secrets).
    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Names only: a repr ends up in logs.
        Ok(format!("Keys(kids={})", self.kids(py)?.repr()?))
    }
}
