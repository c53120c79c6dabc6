//! sock8's Rust core. `core` holds the logic and never sees Python; `py` (built with the
//! `python` feature, which maturin turns on) binds it as `sock8._core`.

pub mod core;

#[cfg(feature = "python")]
mod py;

#[cfg(feature = "python")]
#[pyo3::pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use crate::py::channel::{ChannelTemplate, parse_channel, render_channel};
    #[pymodule_export]
    use crate::py::decode::{UnverifiedToken, decode_unverified};
    #[pymodule_export]
    use crate::py::json::check_json;
    #[pymodule_export]
    use crate::py::keys::Keys;
    #[pymodule_export]
    use crate::py::token::{Grants, Signer, Verifier};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::py::constants::add(m)
    }
}
