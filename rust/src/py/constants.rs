//! Module constants: the version and the limits, so Python code and docs never copy a number.

use pyo3::prelude::*;

use crate::core::{channel, json, keys, verify};

pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_WIRE_ID_BYTES", channel::MAX_WIRE_ID_BYTES)?;
    m.add("MAX_SEGMENTS", channel::MAX_SEGMENTS)?;
    m.add("MAX_TOKEN_BYTES", verify::MAX_TOKEN_BYTES)?;
    m.add("MAX_JSON_DEPTH", verify::MAX_JSON_DEPTH)?;
    m.add("MAX_CHANNELS", verify::MAX_CHANNELS)?;
    m.add("MIN_SECRET_BYTES", keys::MIN_SECRET_BYTES)?;
    m.add("MAX_PAYLOAD_DEPTH", json::MAX_PAYLOAD_DEPTH)?;
    Ok(())
}
