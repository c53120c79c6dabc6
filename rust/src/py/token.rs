//! `Signer`, `Verifier` and `Grants`.

use std::sync::OnceLock;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::args::{
    OptName, config_int, detached_if_large, opt_string, seconds, secret_bytes, text, token_bytes, type_error,
};
use crate::core::channel::ChannelError;
use crate::core::error::{Error, TokenError};
use crate::core::grants::Grants as CoreGrants;
use crate::core::keys::{Key, KeyRing};
use crate::core::limits::{
    DEFAULT_AUDIENCE, DEFAULT_TTL, MAX_CHANNELS, MAX_JSON_DEPTH, MAX_TOKEN_BYTES, MAX_WIRE_ID_BYTES,
};
use crate::core::sign::Signer as CoreSigner;
use crate::core::time::{check_now, system_now};
use crate::core::verify::{Policy, Verifier as CoreVerifier};

/// Python's `repr` of an optional string, for `__repr__`s that read like the constructor call.
fn py_repr(py: Python<'_>, value: Option<&str>) -> PyResult<String> {
    match value {
        Some(s) => Ok(PyString::new(py, s).repr()?.to_str()?.to_owned()),
        None => Ok("None".to_owned()),
    }
}

fn now_or_clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    match seconds(now, "now")? {
        Some(now) => Ok(check_now(now)?),
        None => Ok(system_now()),
    }
}

/// Signs HS256 grant tokens with one key.
#[pyclass(frozen, module = "sock8._core", name = "Signer")]
pub struct Signer {
    inner: CoreSigner,
}

impl Signer {
    /// A signer for a checked key and the constructor's options (shared with `Keys.signer`).
    pub(super) fn with_key(
        key: Key,
        kid: Option<&Bound<'_, PyAny>>,
        audience: OptName,
        issuer: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let ttl = ttl.map_or(Ok(DEFAULT_TTL), |t| config_int(t, "ttl"))?;
        let inner = CoreSigner::new(
            key,
            opt_string(kid, "kid")?,
            audience.0,
            opt_string(issuer, "issuer")?,
            ttl,
        )?;
        Ok(Self { inner })
    }
}

#[pymethods]
impl Signer {
    #[new]
    #[pyo3(
        signature = (secret, *, kid=None, audience=OptName(Some(DEFAULT_AUDIENCE.to_owned())), issuer=None, ttl=None),
        text_signature = "(secret, *, kid=None, audience='sock8', issuer=None, ttl=3600)"
    )]
    fn new(
        secret: &Bound<'_, PyAny>,
        kid: Option<&Bound<'_, PyAny>>,
        audience: OptName,
        issuer: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let key = Key::new(&secret_bytes(secret)?).map_err(Error::from)?;
        Self::with_key(key, kid, audience, issuer, ttl)
    }

    /// The key name written into the header, if any.
    #[getter]
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }

    /// The `aud` claim written into every token, if any.
    #[getter]
    fn audience(&self) -> Option<&str> {
        self.inner.audience()
    }

    /// The `iss` claim written into every token, if any.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.inner.issuer()
    }

    /// Default lifetime in seconds.
    #[getter]
    fn ttl(&self) -> u64 {
        self.inner.ttl()
    }

    /// Sign a token for `identity` granting exactly `channels`.
    #[pyo3(signature = (identity, channels, *, now=None, ttl=None, jti=None))]
    fn sign(
        &self,
        identity: &Bound<'_, PyAny>,
        channels: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        jti: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let bad_claim =
            |what: &str| -> Error { TokenError::claims(format!("{what} is not valid Unicode text")).into() };
        let identity = text(identity, "identity", || bad_claim("identity"))?;
        if channels.is_instance_of::<PyString>() || channels.is_instance_of::<PyBytes>() {
            // A bare string would be granted one character at a time.
            return Err(type_error("channels", "an iterable of str", channels));
        }
        let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = channels.cast::<PyList>() {
            list.iter().collect()
        } else if let Ok(tuple) = channels.cast::<PyTuple>() {
            tuple.iter().collect()
        } else {
            channels.try_iter()?.collect::<PyResult<_>>()?
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in &items {
            ids.push(text(item, "each channel", || ChannelError::NotText.into())?);
        }
        let ttl = ttl.filter(|t| !t.is_none()).map(|t| config_int(t, "ttl")).transpose()?;
        let jti = jti
            .filter(|j| !j.is_none())
            .map(|j| text(j, "jti", || bad_claim("jti")))
            .transpose()?;
        let now = now_or_clock(now)?;
        Ok(self.inner.sign(identity, &mut ids, now, ttl, jti)?)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = &self.inner;
        Ok(format!(
            "Signer(kid={}, audience={}, issuer={}, ttl={})",
            py_repr(py, s.kid())?,
            py_repr(py, s.audience())?,
            py_repr(py, s.issuer())?,
            s.ttl()
        ))
    }
}

/// The key ring a `Verifier` is given: one secret, or a mapping of names (or `None`) to secrets.
fn key_ring(secret: &Bound<'_, PyAny>) -> PyResult<KeyRing> {
    if let Ok(mapping) = secret.cast::<PyDict>() {
        return ring_of(mapping.iter());
    }
    let bytes = secret_bytes(secret)?;
    Ok(KeyRing::new([(None, &*bytes)]).map_err(Error::from)?)
}

/// A ring from (name, secret) pairs of Python objects; the core checks names and secrets.
pub(super) fn ring_of<'py>(items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>) -> PyResult<KeyRing> {
    let mut names = Vec::new();
    let mut secrets = Vec::new();
    for (name, value) in items {
        names.push(opt_string(Some(&name), "key name")?);
        secrets.push(secret_bytes(&value)?.into_owned());
    }
    let entries = names
        .iter()
        .map(Option::as_deref)
        .zip(secrets.iter().map(Vec::as_slice));
    Ok(KeyRing::new(entries).map_err(Error::from)?)
}

/// The options of `Verifier(...)` and `Keys.verifier(...)`, as the core's policy.
pub(super) fn policy(
    audience: OptName,
    issuer: Option<&Bound<'_, PyAny>>,
    leeway: Option<&Bound<'_, PyAny>>,
    max_token_bytes: Option<&Bound<'_, PyAny>>,
    max_depth: Option<&Bound<'_, PyAny>>,
    max_channels: Option<&Bound<'_, PyAny>>,
) -> PyResult<Policy> {
    let limit = |obj: Option<&Bound<'_, PyAny>>, what: &str, default: usize| -> PyResult<usize> {
        obj.map_or(Ok(default as u64), |o| config_int(o, what))
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    };
    Ok(Policy {
        audience: audience.0,
        issuer: opt_string(issuer, "issuer")?,
        leeway: seconds(leeway, "leeway")?.unwrap_or(0.0),
        max_token_bytes: limit(max_token_bytes, "max_token_bytes", MAX_TOKEN_BYTES)?,
        max_depth: limit(max_depth, "max_depth", MAX_JSON_DEPTH)?,
        max_channels: limit(max_channels, "max_channels", MAX_CHANNELS)?,
    })
}

/// Verifies HS256 grant tokens strictly.
#[pyclass(frozen, module = "sock8._core", name = "Verifier")]
pub struct Verifier {
    inner: CoreVerifier,
}

impl Verifier {
    /// A verifier of checked keys (shared with `Keys.verifier`).
    pub(super) fn with_ring(keys: KeyRing, policy: Policy) -> PyResult<Self> {
        Ok(Self {
            inner: CoreVerifier::new(keys, policy)?,
        })
    }
}

#[pymethods]
impl Verifier {
    #[new]
    #[pyo3(
        signature = (
            secret, *, audience=OptName(Some(DEFAULT_AUDIENCE.to_owned())), issuer=None, leeway=None,
            max_token_bytes=None, max_depth=None, max_channels=None,
        ),
        text_signature = "(secret, *, audience='sock8', issuer=None, leeway=0, max_token_bytes=524288, \
                          max_depth=8, max_channels=10000)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        secret: &Bound<'_, PyAny>,
        audience: OptName,
        issuer: Option<&Bound<'_, PyAny>>,
        leeway: Option<&Bound<'_, PyAny>>,
        max_token_bytes: Option<&Bound<'_, PyAny>>,
        max_depth: Option<&Bound<'_, PyAny>>,
        max_channels: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let policy = policy(audience, issuer, leeway, max_token_bytes, max_depth, max_channels)?;
        Self::with_ring(key_ring(secret)?, policy)
    }

    /// The audience a token must carry, or `None` for tokens without `aud`.
    #[getter]
    fn audience(&self) -> Option<&str> {
        self.inner.policy().audience.as_deref()
    }

    /// The issuer a token must carry, or `None` to ignore `iss`.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.inner.policy().issuer.as_deref()
    }

    /// Seconds of clock skew tolerated.
    #[getter]
    fn leeway(&self) -> f64 {
        self.inner.policy().leeway
    }

    /// Names of the configured keys.
    #[getter]
    fn kids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.keys().kids().collect::<Vec<_>>())
    }

    /// Verify `token` and return what it grants.
    #[pyo3(signature = (token, *, now=None))]
    fn verify(&self, token: &Bound<'_, PyAny>, now: Option<&Bound<'_, PyAny>>) -> PyResult<Grants> {
        let now = now_or_clock(now)?;
        let bytes = token_bytes(token, self.inner.policy().max_token_bytes)?;
        let inner = detached_if_large(token.py(), bytes, |bytes| self.inner.verify(bytes, now))?;
        Ok(Grants {
            inner,
            channels: OnceLock::new(),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let p = self.inner.policy();
        Ok(format!(
            "Verifier(kids={}, audience={}, issuer={}, leeway={})",
            self.kids(py)?.repr()?,
            py_repr(py, p.audience.as_deref())?,
            py_repr(py, p.issuer.as_deref())?,
            p.leeway
        ))
    }
}

/// What a verified token allows.
#[pyclass(frozen, module = "sock8._core", name = "Grants")]
pub struct Grants {
    inner: CoreGrants,
    /// Built on first access: most callers only ask `allows`.
    channels: OnceLock<Py<PyTuple>>,
}

impl Grants {
    /// Whether the str `s` is granted. A str of more characters than a wire id has bytes is
    /// refused before it is encoded, and one that is not valid Unicode (a lone surrogate) can
    /// never have been granted.
    fn holds(&self, s: &Bound<'_, PyString>) -> bool {
        s.len().is_ok_and(|n| n <= MAX_WIRE_ID_BYTES) && s.to_str().is_ok_and(|id| self.inner.allows(id.as_bytes()))
    }

    fn channel_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        if let Some(t) = self.channels.get() {
            return Ok(t.bind(py).clone());
        }
        let tuple = PyTuple::new(py, self.inner.channels.iter())?;
        Ok(self.channels.get_or_init(|| tuple.unbind()).bind(py).clone())
    }
}

#[pymethods]
impl Grants {
    /// The token's `sub`.
    #[getter]
    fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// The granted wire ids, in the token's order.
    #[getter]
    fn channels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.channel_tuple(py)
    }

    /// `floor(exp)`, epoch seconds.
    #[getter]
    fn expires_at(&self) -> i64 {
        self.inner.expires_at
    }

    /// `floor(iat)`, epoch seconds.
    #[getter]
    fn issued_at(&self) -> i64 {
        self.inner.issued_at
    }

    /// The token id, if any.
    #[getter]
    fn jti(&self) -> Option<&str> {
        self.inner.jti()
    }

    /// Whether `channel` is exactly one of the granted ids.
    fn allows(&self, channel: &Bound<'_, PyAny>) -> PyResult<bool> {
        let s = channel
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("channel must be a str"))?;
        Ok(self.holds(s))
    }

    fn __contains__(&self, channel: &Bound<'_, PyAny>) -> bool {
        channel.cast::<PyString>().is_ok_and(|s| self.holds(s))
    }

    fn __len__(&self) -> usize {
        self.inner.channels.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.channel_tuple(py)?.try_iter()?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Grants(identity={}, channels={}, expires_at={})",
            py_repr(py, Some(&self.inner.identity))?,
            self.inner.channels.len(),
            self.inner.expires_at
        ))
    }
}
