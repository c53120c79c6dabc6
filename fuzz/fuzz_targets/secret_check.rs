//! The secret check never panics, refuses everything under 32 bytes, and never takes a text
//! secret (printable ASCII) for DER: the DER rule needs bytes that are not printable.
#![no_main]

use _core::core::keys::{KeyError, check_secret};
use _core::core::limits::MIN_SECRET_BYTES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verdict = check_secret(data);
    if data.len() < MIN_SECRET_BYTES {
        assert_eq!(verdict, Err(KeyError::TooShort { len: data.len() }));
    }
    if data.iter().all(|b| (0x20..0x7f).contains(b)) {
        assert_ne!(verdict, Err(KeyError::LooksLikeDer), "{data:?}");
    }
    assert_eq!(check_secret(data), verdict);
});
