//! The payload check never panics and is never more lenient than serde_json: every text
//! `check_value` accepts is one JSON value that serde_json reads too (serde_json is the more
//! lenient one: it keeps duplicate member names, which sock8 refuses).
#![no_main]

use _core::core::json::check_value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if check_value(text, 64).is_ok() {
        // serde_json's own recursion limit is 128, above the depth accepted here.
        let parsed = serde_json::from_str::<serde_json::Value>(text);
        assert!(parsed.is_ok(), "accepted what serde_json refuses: {text:?}: {parsed:?}");
    }
});
