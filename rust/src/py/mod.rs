//! The PyO3 binding layer: Python types in, core calls, Python types out. No logic of its own
//! beyond argument conversion.

pub mod args;
pub mod channel;
pub mod constants;
pub mod decode;
pub mod errors;
pub mod json;
pub mod keys;
pub mod token;
