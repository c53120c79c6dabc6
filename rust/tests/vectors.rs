//! The shared test vectors in `tests/vectors/`, which pytest reads too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use _core::core::channel::{Template, parse_wire_id};
use _core::core::error::TokenError;
use _core::core::keys::{Key, KeyRing};
use _core::core::verify::{Policy, Verifier};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

fn vectors(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", name].iter().collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

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

fn error_name(e: &TokenError) -> &'static str {
    match e {
        TokenError::Malformed(_) => "MalformedToken",
        TokenError::BadSignature(_) => "BadSignature",
        TokenError::UnknownKey(_) => "UnknownKey",
        TokenError::InvalidClaims(_) => "InvalidClaims",
        TokenError::Expired => "TokenExpired",
        TokenError::NotYetValid(_) => "TokenNotYetValid",
    }
}

fn verifier_for(case: &TokenCase, default_secret: &str) -> Verifier {
    let raw_key = case
        .secrets_b64
        .as_ref()
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(k).unwrap());
    let ring = if let Some(key) = &raw_key {
        KeyRing::new([(None, key.as_slice())]).unwrap()
    } else if case.secrets.is_empty() {
        KeyRing::new([(None, default_secret.as_bytes())]).unwrap()
    } else {
        KeyRing::new(case.secrets.iter().map(|(k, v)| (Some(k.as_str()), v.as_bytes()))).unwrap()
    };
    let mut policy = Policy::default();
    for (option, value) in &case.verifier {
        match option.as_str() {
            "audience" => policy.audience = value.as_str().map(str::to_owned),
            "issuer" => policy.issuer = value.as_str().map(str::to_owned),
            "leeway" => policy.leeway = value.as_f64().unwrap(),
            "max_token_bytes" => policy.max_token_bytes = usize::try_from(value.as_u64().unwrap()).unwrap(),
            "max_channels" => policy.max_channels = usize::try_from(value.as_u64().unwrap()).unwrap(),
            other => panic!("unknown verifier option {other}"),
        }
    }
    Verifier::new(ring, policy).unwrap()
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

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn wycheproof_hmac_sha256() {
    let doc: Wycheproof = serde_json::from_str(&vectors("wycheproof/hmac_sha256_test.json")).unwrap();
    let mut checked = 0;
    for group in doc.test_groups.iter().filter(|g| g.tag_size == 256) {
        for test in &group.tests {
            let key = Key::new_unchecked(&hex(&test.key));
            let valid = key.verify(&hex(&test.msg), &hex(&test.tag));
            assert_eq!(valid, test.result == "valid", "wycheproof tcId {}", test.tc_id);
            if valid {
                assert_eq!(key.mac(&[&hex(&test.msg)]).to_vec(), hex(&test.tag));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 87);
}
