//! `check_json`: the core's strict JSON reader, for message payloads (docs/spec.md §5).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};

use super::args::type_error;
use crate::core::error::Error;
use crate::core::json::check_value;
use crate::core::limits::{MAX_CHECK_DEPTH, MAX_PAYLOAD_DEPTH};

/// Texts at least this long are checked with the GIL released (about 100 µs and up; a 200-byte
/// payload takes about 0.3 µs, where releasing the GIL would cost more than the check).
const DETACH_TEXT_BYTES: usize = 64 * 1024;

fn depth_limit(max_depth: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    let Some(obj) = max_depth else {
        return Ok(MAX_PAYLOAD_DEPTH);
    };
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(type_error("max_depth", "an int", obj));
    }
    match obj.extract::<usize>() {
        Ok(depth) if (1..=MAX_CHECK_DEPTH).contains(&depth) => Ok(depth),
        _ => Err(Error::Value(format!("max_depth must be from 1 to {MAX_CHECK_DEPTH}")).into()),
    }
}

/// Check that `text` is exactly one strict JSON value; raise `ValueError` saying where it is not.
#[pyfunction]
#[pyo3(signature = (text, *, max_depth=None), text_signature = "(text, *, max_depth=64)")]
pub fn check_json(text: &Bound<'_, PyAny>, max_depth: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let max_depth = depth_limit(max_depth)?;
    let py = text.py();
    let invalid = |why: String| -> PyErr { Error::Value(format!("invalid JSON: {why}")).into() };
    let text = if let Ok(s) = text.cast::<PyString>() {
        // A lone surrogate in a str cannot be written as UTF-8, so no consumer could read it.
        s.to_str()
            .map_err(|_| invalid("text is not valid Unicode (a lone surrogate)".into()))?
    } else if let Ok(b) = text.cast::<PyBytes>() {
        std::str::from_utf8(b.as_bytes()).map_err(|e| invalid(format!("not UTF-8 ({e})")))?
    } else {
        return Err(type_error("text", "str or bytes", text));
    };
    // Large texts are checked without the GIL, so other threads run meanwhile. `text` borrows
    // from an immutable object held for the whole call.
    let checked = if text.len() >= DETACH_TEXT_BYTES {
        py.detach(|| check_value(text, max_depth))
    } else {
        check_value(text, max_depth)
    };
    checked.map_err(|e| invalid(e.to_string()))
}
