//! The PyO3-free core: channel ids, grant sets, keys, HS256 signing and verification.

pub mod b64;
pub mod channel;
pub mod claims;
pub mod decode;
pub mod error;
pub mod grammar;
pub mod grants;
pub mod json;
pub mod jws;
pub mod keys;
pub mod limits;
pub mod sign;
pub mod time;
pub mod verify;
