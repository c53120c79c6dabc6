//! `ChannelTemplate`, `render_channel` and `parse_channel`.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple};

use super::args::{text, type_error};
use crate::core::channel::{ChannelError, Template, parse_wire_id};
use crate::core::error::Error;
use crate::core::limits::MAX_WIRE_ID_BYTES;

/// A parameter value's text: a `str` as it is, an `int` in decimal (docs/spec.md §1.2).
fn value_text(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let bad_type = || {
        let type_name = value
            .get_type()
            .name()
            .map_or_else(|_| "object".to_owned(), |n| n.to_string());
        Error::from(ChannelError::BadValueType {
            name: name.to_owned(),
            type_name,
        })
    };
    if value.is_instance_of::<PyBool>() {
        return Err(bad_type().into());
    }
    if value.is_instance_of::<PyInt>() {
        // Past 4 * 512 bits an int has over 600 digits, so its id cannot fit in 512 bytes.
        // Refuse it by size first: past Python's int-to-str digit limit `int.__repr__` raises a
        // plain ValueError, which is no ChannelError.
        let bits: usize = value
            .py()
            .get_type::<PyInt>()
            .getattr("bit_length")?
            .call1((value,))?
            .extract()?;
        if bits > 4 * MAX_WIRE_ID_BYTES {
            // floor((bits - 1) * log10(2)) + 1: the fewest decimal digits such an int has.
            let len = (bits - 1) * 30_103 / 100_000 + 1;
            return Err(Error::from(ChannelError::TooLong { len }).into());
        }
        // `int.__repr__` is the decimal form even for subclasses that override `__str__`.
        let decimal = py_int_repr(value)?;
        return Ok(decimal);
    }
    if let Ok(s) = value.cast::<PyString>() {
        return s
            .to_str()
            .map(str::to_owned)
            .map_err(|_| Error::from(ChannelError::BadValueText { name: name.to_owned() }).into());
    }
    Err(bad_type().into())
}

fn py_int_repr(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    let repr = py.get_type::<PyInt>().getattr("__repr__")?.call1((value,))?;
    Ok(repr.cast::<PyString>()?.to_str()?.to_owned())
}

/// The (name, text) pairs of a mapping of parameter values.
fn values_of(values: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(values) = values.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    let items = match values.cast::<PyDict>() {
        Ok(dict) => dict.items().into_any(),
        Err(_) => values
            .call_method0("items")
            .map_err(|_| type_error("values", "a mapping of parameter names to values", values))?,
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = text(&key, "a parameter name", || ChannelError::BadParamNameText.into())?;
        out.push((name.to_owned(), value_text(name, &value)?));
    }
    Ok(out)
}

fn channel_text<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a str> {
    text(obj, what, || ChannelError::NotText.into())
}

/// A validated channel template such as `chat.{roomId}.messages`.
#[pyclass(frozen, module = "sock8._core", name = "ChannelTemplate")]
pub struct ChannelTemplate {
    inner: Template,
    params: Py<PyTuple>,
}

#[pymethods]
impl ChannelTemplate {
    #[new]
    fn new(template: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner = Template::parse(channel_text(template, "template")?).map_err(Error::from)?;
        let params = PyTuple::new(template.py(), inner.params().collect::<Vec<_>>())?.unbind();
        Ok(Self { inner, params })
    }

    /// The template text.
    #[getter]
    fn template(&self) -> &str {
        self.inner.text()
    }

    /// Parameter names in template order.
    #[getter]
    fn params(&self, py: Python<'_>) -> Py<PyTuple> {
        self.params.clone_ref(py)
    }

    /// Render the wire id for `values`.
    #[pyo3(signature = (values=None))]
    fn render(&self, values: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let values = values_of(values)?;
        Ok(self.inner.render(&values).map_err(Error::from)?)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(self.inner.text())
    }

    fn __repr__(&self) -> String {
        format!("ChannelTemplate({:?})", self.inner.text())
    }
}

/// `ChannelTemplate(template).render(values)`.
#[pyfunction]
#[pyo3(signature = (template, values=None))]
pub fn render_channel(template: &Bound<'_, PyAny>, values: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let template = Template::parse(channel_text(template, "template")?).map_err(Error::from)?;
    let values = values_of(values)?;
    Ok(template.render(&values).map_err(Error::from)?)
}

/// Split a wire id into its template and parameter values.
#[pyfunction]
pub fn parse_channel<'py>(wire_id: &Bound<'py, PyAny>) -> PyResult<(String, Bound<'py, PyDict>)> {
    let parsed = parse_wire_id(channel_text(wire_id, "wire_id")?).map_err(Error::from)?;
    let values = PyDict::new(wire_id.py());
    for (name, value) in parsed.values {
        values.set_item(name, value)?;
    }
    Ok((parsed.template, values))
}
