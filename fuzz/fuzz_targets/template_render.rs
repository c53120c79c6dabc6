//! Templates and rendering never panic; every rendered id parses back to its template and values
//! (`parse(render(t, v)) == (t, v)`), so no two values render the same id.
//!
//! Input: `template 0xFF value 0xFE value 0xFE ...`, the values given to the parameters in order.
#![no_main]

use _core::core::channel::{ChannelError, Template, parse_wire_id};
use _core::core::limits::MAX_WIRE_ID_BYTES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (template, values) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(template) = std::str::from_utf8(template) else {
        return;
    };
    let Ok(template) = Template::parse(template) else {
        return;
    };
    let mut texts = values.split(|&b| b == 0xfe).map(String::from_utf8_lossy);
    let values: Vec<(String, String)> = template
        .params()
        .map(|name| {
            (
                name.to_owned(),
                texts.next().map(std::borrow::Cow::into_owned).unwrap_or_default(),
            )
        })
        .collect();
    match template.render(&values) {
        Ok(id) => {
            assert!(id.len() <= MAX_WIRE_ID_BYTES);
            let parsed = parse_wire_id(&id).expect("a rendered id parses");
            assert_eq!(parsed.template, template.text());
            assert_eq!(parsed.values, values);
        }
        Err(ChannelError::EmptyValue { .. } | ChannelError::TooLong { .. }) => {}
        Err(other) => panic!("every parameter was given a value, yet: {other:?}"),
    }
    // A value for a parameter the template lacks is refused, whatever else is given.
    let mut extra = values.clone();
    extra.push(("not_a_param_of_any_fuzzed_template_0".to_owned(), "x".to_owned()));
    if !template.params().any(|p| p == "not_a_param_of_any_fuzzed_template_0") {
        assert!(matches!(
            template.render(&extra),
            Err(ChannelError::UnexpectedParam { .. })
        ));
    }
});
