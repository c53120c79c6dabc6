//! The adversarial corpus in `tests/vectors/adversarial.json` (written by
//! `tests/vectors/generate_adversarial.py`, read by `tests/core/test_hostile_input.py` too): hostile tokens,
//! secrets, channel ids, templates and grant probes, each mapped to an item of the security
//! checklist. A panic anywhere here is a failed test, which is the point: the core must answer
//! every one of these with a value or an error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use _core::core::channel::{Template, parse_wire_id, validate_wire_id};
use _core::core::error::TokenError;
use _core::core::keys::{KeyRing, check_secret};
use _core::core::verify::{Policy, Verifier};
use common::{error_name, repo_file, unhex, vectors};
use serde::Deserialize;
use serde_json::Value;

/// Longest error message the core writes for any hostile input: hostile text is shown cut short.
const MAX_MESSAGE_CHARS: usize = 300;

fn corpus() -> Corpus {
    serde_json::from_str(&vectors("adversarial.json")).unwrap()
}

type Pieces = Vec<(String, usize)>;

#[derive(Deserialize)]
struct Corpus {
    checklist: BTreeMap<String, String>,
    secret: String,
    other_secret: String,
    tokens: Vec<TokenCase>,
    grants: Vec<GrantCase>,
    secrets: Vec<SecretCase>,
    channels: Vec<ChannelCase>,
    templates: Vec<TemplateCase>,
}

#[derive(Deserialize)]
struct TokenCase {
    name: String,
    checklist: u8,
    token: Option<String>,
    token_pieces: Option<Pieces>,
    token_hex: Option<String>,
    token_escaped: Option<String>,
    now: f64,
    expect: String,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    verifier: BTreeMap<String, Value>,
    #[serde(default)]
    message_any: Vec<String>,
    expected_mac: Option<String>,
}

#[derive(Deserialize)]
struct GrantCase {
    name: String,
    checklist: u8,
    token: String,
    now: f64,
    probe: Option<String>,
    probe_pieces: Option<Pieces>,
    probe_escaped: Option<String>,
    allows: bool,
}

#[derive(Deserialize)]
struct SecretCase {
    name: String,
    checklist: u8,
    secret: Option<String>,
    secret_hex: Option<String>,
    expect: String,
}

#[derive(Deserialize)]
struct ChannelCase {
    name: String,
    checklist: u8,
    id: Option<String>,
    id_pieces: Option<Pieces>,
    id_escaped: Option<String>,
    expect: String,
    template: Option<String>,
    values: Option<BTreeMap<String, String>>,
    #[serde(default)]
    message_any: Vec<String>,
}

#[derive(Deserialize)]
struct TemplateCase {
    name: String,
    checklist: u8,
    template: Option<String>,
    template_pieces: Option<Pieces>,
    values: Option<BTreeMap<String, Value>>,
    value_escaped: Option<BTreeMap<String, String>>,
    expect: String,
    id: Option<String>,
    #[serde(default)]
    message_any: Vec<String>,
}

fn join(pieces: &Pieces) -> String {
    pieces.iter().map(|(text, times)| text.repeat(*times)).collect()
}

/// The input as bytes; `None` for a Python-only input (a `str` holding a lone surrogate, which
/// never reaches the core: the binding refuses it first).
fn input(
    text: Option<&String>,
    pieces: Option<&Pieces>,
    hex: Option<&String>,
    escaped: Option<&String>,
) -> Option<Vec<u8>> {
    match (text, pieces, hex, escaped) {
        (Some(t), None, None, None) => Some(t.clone().into_bytes()),
        (None, Some(p), None, None) => Some(join(p).into_bytes()),
        (None, None, Some(h), None) => Some(unhex(h)),
        (None, None, None, Some(_)) => None,
        _ => panic!("an entry must have exactly one representation"),
    }
}

fn verifier_for(case: &TokenCase, secret: &str) -> Verifier {
    common::verifier(&case.secrets, secret.as_bytes(), &case.verifier)
}

/// The message says which check refused the input: it holds one of `words`, case-insensitively.
fn assert_message(name: &str, message: &str, words: &[String]) {
    let lower = message.to_lowercase();
    assert!(
        words.is_empty() || words.iter().any(|w| lower.contains(&w.to_lowercase())),
        "{name}: message {message:?} names none of {words:?}"
    );
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{name}: a {}-character message",
        message.chars().count()
    );
}

#[test]
fn corpus_covers_every_checklist_item() {
    let doc = corpus();
    let expected: BTreeSet<u8> = (1..=10).collect();
    let keys: BTreeSet<u8> = doc.checklist.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(keys, expected, "the corpus states checklist items 1 to 10");
    let covered: BTreeSet<u8> = doc
        .tokens
        .iter()
        .map(|c| c.checklist)
        .chain(doc.grants.iter().map(|c| c.checklist))
        .chain(doc.secrets.iter().map(|c| c.checklist))
        .chain(doc.channels.iter().map(|c| c.checklist))
        .chain(doc.templates.iter().map(|c| c.checklist))
        .collect();
    assert_eq!(
        covered, expected,
        "every checklist item has corpus entries, and only those"
    );
}

#[test]
fn token_corpus() {
    let doc = corpus();
    let mut checked = 0;
    for case in &doc.tokens {
        let Some(token) = input(
            case.token.as_ref(),
            case.token_pieces.as_ref(),
            case.token_hex.as_ref(),
            case.token_escaped.as_ref(),
        ) else {
            continue;
        };
        let verifier = verifier_for(case, &doc.secret);
        let (got, message) = match verifier.verify(&token, case.now) {
            Ok(grants) => {
                assert!(!grants.identity.is_empty(), "{}", case.name);
                ("ok", String::new())
            }
            Err(e) => (error_name(&e), e.to_string()),
        };
        assert_eq!(got, case.expect, "{} (checklist {})", case.name, case.checklist);
        assert_message(&case.name, &message, &case.message_any);
        for secret in [&doc.secret, &doc.other_secret] {
            assert!(
                !message.contains(secret.as_str()),
                "{}: the message shows a secret",
                case.name
            );
        }
        if let Some(mac) = &case.expected_mac {
            assert!(
                !message.contains(mac.as_str()),
                "{}: the message shows the MAC",
                case.name
            );
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} token cases");
}

#[test]
fn verify_never_accepts_a_wrong_mac() {
    // Every accepted token of the corpus, with its MAC changed in any single bit or made under
    // another key, is a BadSignature: nothing about the token but the MAC decides.
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let doc = corpus();
    let mut checked = 0;
    for case in doc.tokens.iter().filter(|c| c.expect == "ok") {
        let Some(token) = case.token.as_ref() else { continue };
        let verifier = verifier_for(case, &doc.secret);
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let mac = URL_SAFE_NO_PAD.decode(signature).unwrap();
        for bit in 0..mac.len() * 8 {
            let mut flipped = mac.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&flipped));
            let got = verifier.verify(forged.as_bytes(), case.now).map(|_| ());
            assert!(
                matches!(got, Err(TokenError::BadSignature(_))),
                "{}: bit {bit}",
                case.name
            );
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} accepted tokens");
}

#[test]
fn grants_corpus() {
    let doc = corpus();
    let policy = Policy::default();
    let verifier = Verifier::new(KeyRing::new([(None, doc.secret.as_bytes())]).unwrap(), policy).unwrap();
    let mut checked = 0;
    for case in &doc.grants {
        let Some(probe) = input(
            case.probe.as_ref(),
            case.probe_pieces.as_ref(),
            None,
            case.probe_escaped.as_ref(),
        ) else {
            continue;
        };
        let grants = verifier.verify(case.token.as_bytes(), case.now).unwrap();
        assert_eq!(
            grants.allows(&probe),
            case.allows,
            "{} (checklist {})",
            case.name,
            case.checklist
        );
        checked += 1;
    }
    assert!(checked > 40);
}

#[test]
fn secret_corpus() {
    let doc = corpus();
    for case in &doc.secrets {
        let secret = match (&case.secret, &case.secret_hex) {
            (Some(s), None) => s.clone().into_bytes(),
            (None, Some(h)) => unhex(h),
            _ => panic!("{}: one of secret and secret_hex", case.name),
        };
        let got = match check_secret(&secret) {
            Ok(()) => "ok",
            Err(_) => "ConfigError",
        };
        assert_eq!(got, case.expect, "{} (checklist {})", case.name, case.checklist);
        // A ring refuses exactly what the check refuses.
        assert_eq!(
            KeyRing::new([(Some("k"), secret.as_slice())]).is_ok(),
            got == "ok",
            "{}",
            case.name
        );
    }
}

#[test]
fn channel_corpus() {
    let doc = corpus();
    for case in &doc.channels {
        let Some(id) = input(
            case.id.as_ref(),
            case.id_pieces.as_ref(),
            None,
            case.id_escaped.as_ref(),
        ) else {
            continue;
        };
        let id = String::from_utf8(id).unwrap();
        let parsed = parse_wire_id(&id);
        assert_eq!(
            validate_wire_id(id.as_bytes()).is_ok(),
            parsed.is_ok(),
            "{}: validate and parse disagree",
            case.name
        );
        match parsed {
            Ok(parsed) => {
                assert_eq!(case.expect, "ok", "{} (checklist {})", case.name, case.checklist);
                if let Some(template) = &case.template {
                    assert_eq!(&parsed.template, template, "{}", case.name);
                }
                if let Some(values) = &case.values {
                    let got: BTreeMap<String, String> = parsed.values.iter().cloned().collect();
                    assert_eq!(&got, values, "{}", case.name);
                }
                // render(parse(id)) == id
                let rendered = Template::parse(&parsed.template)
                    .unwrap()
                    .render(&parsed.values)
                    .unwrap();
                assert_eq!(rendered, id, "{}", case.name);
            }
            Err(e) => {
                assert_eq!(
                    case.expect, "ChannelError",
                    "{} (checklist {})",
                    case.name, case.checklist
                );
                assert_message(&case.name, &e.to_string(), &case.message_any);
            }
        }
    }
}

#[test]
fn template_corpus() {
    let doc = corpus();
    for case in &doc.templates {
        if case.value_escaped.is_some() {
            continue; // a lone surrogate: Python only
        }
        let template = input(case.template.as_ref(), case.template_pieces.as_ref(), None, None).unwrap();
        let template = String::from_utf8(template).unwrap();
        let values: Vec<(String, String)> = case
            .values
            .iter()
            .flatten()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => join(&serde_json::from_value(other.clone()).unwrap()),
                };
                (name.clone(), text)
            })
            .collect();
        match Template::parse(&template).and_then(|t| t.render(&values)) {
            Ok(id) => {
                assert_eq!(case.expect, "ok", "{} (checklist {})", case.name, case.checklist);
                assert_eq!(Some(&id), case.id.as_ref(), "{}", case.name);
                // parse(render(t, v)) == (t, v)
                let parsed = parse_wire_id(&id).unwrap();
                assert_eq!(parsed.template, template, "{}", case.name);
            }
            Err(e) => {
                assert_eq!(
                    case.expect, "ChannelError",
                    "{} (checklist {})",
                    case.name, case.checklist
                );
                assert_message(&case.name, &e.to_string(), &case.message_any);
            }
        }
    }
}

/// The MAC is compared in exactly one place, `Key::verify`, through `Mac::verify_slice` (constant
/// time, exact length; its unit tests are in keys.rs). This guards that structure: a verifier that
/// computed a MAC itself and compared it with `==`, or used `verify_truncated_*` (which accepts
/// prefixes), would fail here. Only keys.rs may touch the HMAC, and only sign.rs may ask for a MAC.
#[test]
fn the_mac_is_compared_only_by_key_verify() {
    let dir = repo_file(&["rust", "src", "core"]);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        for truncating in ["verify_truncated_left(", "verify_truncated_right("] {
            assert!(!source.contains(truncating), "{name} uses a truncating MAC check");
        }
        if name != "keys.rs" {
            for forbidden in ["Hmac", "hmac::", "finalize(", "ct_eq(", "verify_slice("] {
                assert!(
                    !source.contains(forbidden),
                    "{name} handles the HMAC itself ({forbidden})"
                );
            }
        }
        if name != "keys.rs" && name != "sign.rs" {
            assert!(
                !source.contains(".mac("),
                "{name} computes a MAC; only Key::verify may compare one"
            );
        }
        seen += 1;
    }
    assert!(seen >= 5);
    let keys = std::fs::read_to_string(dir.join("keys.rs")).unwrap();
    let body_start = keys.find("pub fn verify(").unwrap();
    let body = &keys[body_start..body_start + keys[body_start..].find("\n    }").unwrap()];
    assert!(body.contains("verify_slice("), "Key::verify must use Mac::verify_slice");
    assert!(!body.contains("=="), "Key::verify must not compare bytes itself");
    let verify = std::fs::read_to_string(dir.join("verify.rs")).unwrap();
    assert!(
        verify.contains(".verify("),
        "the verifier checks the MAC through Key::verify"
    );
}
