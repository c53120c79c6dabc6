//! Module constants: the version, the limits and the defaults, so Python code and docs never
//! copy a number. The defaults that `#[pyo3(text_signature)]` strings show (which must be
//! literals) are compared with these by tests/core/test_defaults.py.

use pyo3::prelude::*;

use crate::core::{limits, time};

pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_WIRE_ID_BYTES", limits::MAX_WIRE_ID_BYTES)?;
    m.add("MAX_SEGMENTS", limits::MAX_SEGMENTS)?;
    m.add("MAX_TOKEN_BYTES", limits::MAX_TOKEN_BYTES)?;
    m.add("MAX_JSON_DEPTH", limits::MAX_JSON_DEPTH)?;
    m.add("MAX_CHANNELS", limits::MAX_CHANNELS)?;
    m.add("MIN_SECRET_BYTES", limits::MIN_SECRET_BYTES)?;
    m.add("MAX_PAYLOAD_DEPTH", limits::MAX_PAYLOAD_DEPTH)?;
    m.add("DEFAULT_AUDIENCE", limits::DEFAULT_AUDIENCE)?;
    m.add("DEFAULT_TTL", limits::DEFAULT_TTL)?;
    // A whole number of seconds, shown as such in messages.
    #[allow(clippy::cast_possible_truncation)]
    m.add("MAX_NUMERIC_DATE", time::MAX_NUMERIC_DATE as i64)?;
    Ok(())
}
