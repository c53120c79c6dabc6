//! The shared test vectors in `tests/vectors/`, which pytest reads too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use _core::core::channel::{Template, parse_wire_id};
use _core::core::keys::Key;
use _core::core::verify::Verifier;
use base64::Engine as _;
use common::{error_name, unhex, vectors};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Channels {
    render: Vec<RenderCase>,
    templates: Vec<TemplateCase>,
    parse: Vec<ParseCase>,
}

#[derive(Deserialize)]
struct RenderCase {
    template: String,
    values: BTreeMap<String, String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct TemplateCase {
    template: String,
    params: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ParseCase {
    id: String,
    template: Option<String>,
    values: Option<BTreeMap<String, String>>,
}

#[test]
fn channel_vectors() {
    let doc: Channels = serde_json::from_str(&vectors("channels.json")).unwrap();
    for case in doc.render {
        let values: Vec<(&String, &String)> = case.values.iter().collect();
        let got = Template::parse(&case.template).and_then(|t| t.render(&values)).ok();
        assert_eq!(got, case.id, "render {:?} {:?}", case.template, case.values);
    }
    for case in doc.templates {
        let got = Template::parse(&case.template)
            .ok()
            .map(|t| t.params().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(got, case.params, "template {:?}", case.template);
    }
    for case in doc.parse {
        let got = parse_wire_id(&case.id)
            .ok()
            .map(|p| (p.template, p.values.into_iter().collect::<BTreeMap<_, _>>()));
        let want = case.template.map(|t| (t, case.values.unwrap_or_default()));
        assert_eq!(got, want, "parse {:?}", case.id);
    }
}

#[derive(Deserialize)]
struct Tokens {
    secret: String,
    cases: Vec<TokenCase>,
}

#[derive(Deserialize)]
struct TokenCase {
    name: String,
    token: String,
    now: f64,
    expect: String,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    secrets_b64: Option<String>,
    #[serde(default)]
    verifier: BTreeMap<String, Value>,
}

fn verifier_for(case: &TokenCase, default_secret: &str) -> Verifier {
    let raw_key = case
        .secrets_b64
        .as_ref()
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(k).unwrap());
    let secret = raw_key.as_deref().unwrap_or(default_secret.as_bytes());
    common::verifier(&case.secrets, secret, &case.verifier)
}

#[test]
fn token_vectors() {
    let doc: Tokens = serde_json::from_str(&vectors("tokens.json")).unwrap();
    assert!(doc.cases.len() > 50);
    for case in &doc.cases {
        let verifier = verifier_for(case, &doc.secret);
        let got = match verifier.verify(case.token.as_bytes(), case.now) {
            Ok(_) => "ok",
            Err(e) => error_name(&e),
        };
        assert_eq!(got, case.expect, "{}", case.name);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wycheproof {
    test_groups: Vec<MacGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacGroup {
    tag_size: usize,
    tests: Vec<MacTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacTest {
    tc_id: u32,
    key: String,
    msg: String,
    tag: String,
    result: String,
}

#[test]
fn wycheproof_hmac_sha256() {
    let doc: Wycheproof = serde_json::from_str(&vectors("wycheproof/hmac_sha256_test.json")).unwrap();
    let mut checked = 0;
    for group in doc.test_groups.iter().filter(|g| g.tag_size == 256) {
        for test in &group.tests {
            let key = Key::new_unchecked(&unhex(&test.key));
            let valid = key.verify(&unhex(&test.msg), &unhex(&test.tag));
            assert_eq!(valid, test.result == "valid", "wycheproof tcId {}", test.tc_id);
            if valid {
                assert_eq!(key.mac(&[&unhex(&test.msg)]).to_vec(), unhex(&test.tag));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 87);
}
