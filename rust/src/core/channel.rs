//! Channel ids (docs/spec.md §1): templates, the injective escape, rendering and strict parsing.
//!
//! Every function here works on bytes and stops after a bounded amount of work, whatever the
//! input's size: ids are capped at 512 bytes before scanning, templates stop at the 17th segment
//! or the 65th character of a segment.

use std::fmt;

use super::grammar::{is_param_name, is_static_segment, is_unreserved, is_wire_id};
use super::limits::{MAX_NAME_LEN, MAX_SEGMENTS, MAX_TEMPLATE_BYTES, MAX_WIRE_ID_BYTES};

const PARAM_SEPARATOR: &[u8] = b"##";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Why a template, a value or a wire id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelError {
    /// The template or wire id is empty.
    Empty,
    /// The wire id would be, or is, longer than [`MAX_WIRE_ID_BYTES`].
    TooLong { len: usize },
    /// The template is longer than any valid template can be ([`MAX_TEMPLATE_BYTES`]).
    TemplateTooLong { len: usize },
    /// More than [`MAX_SEGMENTS`] segments.
    TooManySegments,
    /// A leading, trailing or doubled dot (1-based segment position).
    EmptySegment { position: usize },
    /// A static segment outside `[A-Za-z0-9_-]{1,64}`.
    BadStaticSegment { position: usize, segment: String },
    /// A parameter name outside `[A-Za-z_][A-Za-z0-9_]{0,63}` (1-based segment position in the
    /// template or wire id; `None` for a name given to `render`).
    BadParamName { position: Option<usize>, name: String },
    /// A parameter name given to `render` that is not text (a `str` with a lone surrogate).
    BadParamNameText,
    /// A parameter name used twice in one template or id (1-based position of the second).
    DuplicateParam { position: usize, name: String },
    /// `render` was not given a value for this parameter.
    MissingParam { name: String, expected: Vec<String> },
    /// `render` was given a value for a parameter the template does not have.
    UnexpectedParam { name: String, expected: Vec<String> },
    /// An empty parameter value.
    EmptyValue { name: String },
    /// A parameter value of a type other than `str` or `int`.
    BadValueType { name: String, type_name: String },
    /// A parameter value that is a `str` with a lone surrogate.
    BadValueText { name: String },
    /// An escaped value that is not the canonical escape of any string (1-based segment position,
    /// and the parameter's name).
    BadEscape { position: usize, name: String },
    /// A wire id that is not text.
    NotText,
    /// A wire id the grammar refuses for a reason the explanation missed (a bug if ever seen).
    NotCanonical,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("channel id is empty"),
            Self::TooLong { len } => write!(f, "channel id is {len} bytes, over the {MAX_WIRE_ID_BYTES}-byte limit"),
            Self::TemplateTooLong { len } => {
                write!(
                    f,
                    "template is {len} bytes, longer than any valid template ({MAX_TEMPLATE_BYTES})"
                )
            }
            Self::TooManySegments => write!(f, "channel id has more than {MAX_SEGMENTS} segments"),
            Self::EmptySegment { position } => write!(f, "segment {position} is empty (stray or doubled '.')"),
            Self::BadStaticSegment { position, segment } => write!(
                f,
                "segment {position} ({}) is not a static segment ([A-Za-z0-9_-], 1 to {MAX_NAME_LEN} \
                 characters) nor a parameter",
                Shown(segment)
            ),
            Self::BadParamName { name, .. } => write!(
                f,
                "parameter name {} must match [A-Za-z_][A-Za-z0-9_]{{0,63}}",
                Shown(name)
            ),
            Self::BadParamNameText => f.write_str("parameter name \"?\" must match [A-Za-z_][A-Za-z0-9_]{0,63}"),
            Self::DuplicateParam { name, .. } => write!(f, "parameter {} appears twice", Shown(name)),
            Self::MissingParam { name, expected } => {
                write!(f, "missing value for parameter {name:?}; expected {}", Names(expected))
            }
            Self::UnexpectedParam { name, expected } => {
                write!(f, "unexpected parameter {}; expected {}", Shown(name), Names(expected))
            }
            Self::EmptyValue { name } => write!(f, "value for parameter {name:?} is empty"),
            Self::BadValueType { name, type_name } => {
                write!(f, "value for parameter {name:?} must be str or int, not {type_name}")
            }
            Self::BadValueText { name } => write!(f, "value for parameter {name:?} is not valid Unicode text"),
            Self::BadEscape { position, .. } => write!(
                f,
                "segment {position} has a value that is not canonically escaped (only [A-Za-z0-9_~-] \
                 and %XX with upper-case hex for other bytes, decoding to UTF-8)"
            ),
            Self::NotText => f.write_str("channel id is not valid Unicode text"),
            Self::NotCanonical => f.write_str("channel id is not canonical"),
        }
    }
}

impl ChannelError {
    /// The 1-based index of the segment of the template or wire id being read that was refused;
    /// `None` when the error is not about one segment of that text (its length, the segment
    /// count, an empty text, or the values given to `render`).
    #[must_use]
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::EmptySegment { position }
            | Self::BadStaticSegment { position, .. }
            | Self::DuplicateParam { position, .. }
            | Self::BadEscape { position, .. } => Some(*position),
            Self::BadParamName { position, .. } => *position,
            Self::Empty
            | Self::TooLong { .. }
            | Self::TemplateTooLong { .. }
            | Self::TooManySegments
            | Self::BadParamNameText
            | Self::MissingParam { .. }
            | Self::UnexpectedParam { .. }
            | Self::EmptyValue { .. }
            | Self::BadValueType { .. }
            | Self::BadValueText { .. }
            | Self::NotText
            | Self::NotCanonical => None,
        }
    }

    /// What the error is about, when it is one segment or parameter: a static segment's text, or
    /// a parameter's name. `None` for an empty segment and for errors about the whole text.
    #[must_use]
    pub fn segment(&self) -> Option<&str> {
        match self {
            Self::BadStaticSegment { segment, .. } => Some(segment),
            Self::BadParamName { name, .. }
            | Self::DuplicateParam { name, .. }
            | Self::MissingParam { name, .. }
            | Self::UnexpectedParam { name, .. }
            | Self::EmptyValue { name }
            | Self::BadValueType { name, .. }
            | Self::BadValueText { name }
            | Self::BadEscape { name, .. } => Some(name),
            Self::Empty
            | Self::TooLong { .. }
            | Self::TemplateTooLong { .. }
            | Self::TooManySegments
            | Self::EmptySegment { .. }
            | Self::BadParamNameText
            | Self::NotText
            | Self::NotCanonical => None,
        }
    }
}

impl std::error::Error for ChannelError {}

/// Shows hostile text in a message without letting it grow the message without bound.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: usize = 40;
        match self.0.char_indices().nth(LIMIT) {
            Some((cut, _)) => write!(f, "{:?}…", self.0.get(..cut).unwrap_or_default()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

struct Names<'a>(&'a [String]);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no parameters");
        }
        f.write_str("{")?;
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        f.write_str("}")
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Splits on `.` into at most [`MAX_SEGMENTS`] segments, refusing empty ones, without scanning past
/// the 17th segment.
fn split_segments(text: &[u8]) -> Result<Vec<&[u8]>, ChannelError> {
    if text.is_empty() {
        return Err(ChannelError::Empty);
    }
    let mut segments = Vec::with_capacity(4);
    for segment in text.split(|&b| b == b'.') {
        if segments.len() == MAX_SEGMENTS {
            return Err(ChannelError::TooManySegments);
        }
        if segment.is_empty() {
            return Err(ChannelError::EmptySegment {
                position: segments.len() + 1,
            });
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// Appends the escape of `value` (docs/spec.md §1.2) to `out`.
pub fn escape_into(value: &str, out: &mut String) {
    for &b in value.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            let hex = |nibble: u8| char::from(HEX_UPPER.get(usize::from(nibble)).copied().unwrap_or(b'0'));
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0x0f));
        }
    }
}

fn upper_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a canonically escaped value into `out`; `None` if it is not canonical.
fn unescape_into(escaped: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if escaped.is_empty() {
        return None;
    }
    let mut rest = escaped;
    while let Some((&b, tail)) = rest.split_first() {
        if is_unreserved(b) {
            out.push(b);
            rest = tail;
        } else if let [b'%', hi, lo, tail @ ..] = rest {
            let byte = (upper_hex_value(*hi)? << 4) | upper_hex_value(*lo)?;
            if is_unreserved(byte) {
                return None; // a needless escape would give a second id for the same value
            }
            out.push(byte);
            rest = tail;
        } else {
            return None;
        }
    }
    Some(())
}

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Static(String),
    Param(String),
}

/// A validated channel template such as `chat.{roomId}.messages`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    text: String,
    segments: Vec<Segment>,
}

impl Template {
    /// Validates `text` against the template grammar (docs/spec.md §1.1).
    pub fn parse(text: &str) -> Result<Self, ChannelError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(ChannelError::TemplateTooLong { len: text.len() });
        }
        let mut segments = Vec::new();
        for (index, raw) in split_segments(text.as_bytes())?.into_iter().enumerate() {
            let segment = if let Some(name) = raw.strip_prefix(b"{").and_then(|r| r.strip_suffix(b"}")) {
                if !is_param_name(name) {
                    return Err(ChannelError::BadParamName {
                        position: Some(index + 1),
                        name: lossy(name),
                    });
                }
                let name = lossy(name);
                if segments.iter().any(|s| matches!(s, Segment::Param(p) if *p == name)) {
                    return Err(ChannelError::DuplicateParam {
                        position: index + 1,
                        name,
                    });
                }
                Segment::Param(name)
            } else if is_static_segment(raw) {
                Segment::Static(lossy(raw))
            } else {
                return Err(ChannelError::BadStaticSegment {
                    position: index + 1,
                    segment: lossy(raw),
                });
            };
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The template text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parameter names, in template order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Static(_) => None,
        })
    }

    fn expected(&self) -> Vec<String> {
        self.params().map(str::to_owned).collect()
    }

    /// Renders the wire id for `values` (name, value) pairs, which must name every parameter once
    /// and nothing else (docs/spec.md §1.2).
    pub fn render<N: AsRef<str>, V: AsRef<str>>(&self, values: &[(N, V)]) -> Result<String, ChannelError> {
        for (name, _) in values {
            let name = name.as_ref();
            if !self.params().any(|p| p == name) {
                return Err(ChannelError::UnexpectedParam {
                    name: name.to_owned(),
                    expected: self.expected(),
                });
            }
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                out.push('.');
            }
            match segment {
                Segment::Static(text) => out.push_str(text),
                Segment::Param(name) => {
                    let value = values.iter().find(|(n, _)| n.as_ref() == name).map(|(_, v)| v.as_ref());
                    let value = value.ok_or_else(|| ChannelError::MissingParam {
                        name: name.clone(),
                        expected: self.expected(),
                    })?;
                    if value.is_empty() {
                        return Err(ChannelError::EmptyValue { name: name.clone() });
                    }
                    // Escaping never shortens a value: refuse an oversized one before escaping it.
                    if out.len() + value.len() > MAX_WIRE_ID_BYTES {
                        return Err(ChannelError::TooLong {
                            len: out.len() + value.len(),
                        });
                    }
                    escape_into(value, &mut out);
                    out.push_str("##");
                    out.push_str(name);
                }
            }
            if out.len() > MAX_WIRE_ID_BYTES {
                return Err(ChannelError::TooLong { len: out.len() });
            }
        }
        Ok(out)
    }
}

/// A segment of a wire id, as seen by the scanner.
enum IdSegment<'a> {
    Static(&'a [u8]),
    Param { name: &'a [u8] },
}

/// Walks a wire id's segments, checking the whole grammar (docs/spec.md §1.3) and calling `each`
/// for every segment with its decoded value (for parameters).
fn scan_wire_id<'a>(id: &'a [u8], mut each: impl FnMut(IdSegment<'a>, &str)) -> Result<(), ChannelError> {
    if id.len() > MAX_WIRE_ID_BYTES {
        return Err(ChannelError::TooLong { len: id.len() });
    }
    let mut names: [&[u8]; MAX_SEGMENTS] = [&[]; MAX_SEGMENTS];
    let mut name_count = 0;
    let mut decoded = Vec::new();
    for (index, raw) in split_segments(id)?.into_iter().enumerate() {
        let position = index + 1;
        let Some(sep) = raw.windows(2).position(|w| w == PARAM_SEPARATOR) else {
            if !is_static_segment(raw) {
                return Err(ChannelError::BadStaticSegment {
                    position,
                    segment: lossy(raw),
                });
            }
            each(IdSegment::Static(raw), "");
            continue;
        };
        let (escaped, name) = (
            raw.get(..sep).unwrap_or_default(),
            raw.get(sep + 2..).unwrap_or_default(),
        );
        if !is_param_name(name) {
            return Err(ChannelError::BadParamName {
                position: Some(position),
                name: lossy(name),
            });
        }
        if names.iter().take(name_count).any(|n| *n == name) {
            return Err(ChannelError::DuplicateParam {
                position,
                name: lossy(name),
            });
        }
        if let Some(slot) = names.get_mut(name_count) {
            *slot = name;
            name_count += 1;
        }
        decoded.clear();
        let bad_escape = || ChannelError::BadEscape {
            position,
            name: lossy(name),
        };
        unescape_into(escaped, &mut decoded).ok_or_else(bad_escape)?;
        let value = std::str::from_utf8(&decoded).map_err(|_| bad_escape())?;
        each(IdSegment::Param { name }, value);
    }
    Ok(())
}

/// Checks that `id` is a canonical wire id. The verdict is [`is_wire_id`]'s; a refusal is then
/// walked again to say why.
pub fn validate_wire_id(id: &[u8]) -> Result<(), ChannelError> {
    if is_wire_id(id) {
        return Ok(());
    }
    Err(scan_wire_id(id, |_, _| {}).err().unwrap_or(ChannelError::NotCanonical))
}

/// A wire id split into its template and parameter values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedId {
    /// The template, e.g. `chat.{roomId}.messages`.
    pub template: String,
    /// (name, value) pairs in template order.
    pub values: Vec<(String, String)>,
}

/// Splits a wire id into template and values (docs/spec.md §1.3).
pub fn parse_wire_id(id: &str) -> Result<ParsedId, ChannelError> {
    validate_wire_id(id.as_bytes())?;
    let mut template = String::with_capacity(id.len());
    let mut values = Vec::new();
    scan_wire_id(id.as_bytes(), |segment, value| {
        if !template.is_empty() {
            template.push('.');
        }
        match segment {
            IdSegment::Static(text) => template.push_str(&lossy(text)),
            IdSegment::Param { name, .. } => {
                let name = lossy(name);
                template.push('{');
                template.push_str(&name);
                template.push('}');
                values.push((name, value.to_owned()));
            }
        }
    })?;
    Ok(ParsedId { template, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_design_examples() {
        let t = Template::parse("chat.{roomId}.messages").unwrap();
        assert_eq!(t.render(&[("roomId", "r 1")]).unwrap(), "chat.r%201##roomId.messages");
        let t = Template::parse("notification.{userId}").unwrap();
        assert_eq!(t.render(&[("userId", "u1")]).unwrap(), "notification.u1##userId");
        let t = Template::parse("admin.logs").unwrap();
        assert_eq!(t.render::<&str, &str>(&[]).unwrap(), "admin.logs");
    }

    #[test]
    fn escape_is_injective_where_sock8_collides() {
        let t = Template::parse("user.{id}").unwrap();
        let dotted = t.render(&[("id", "a.b")]).unwrap();
        let spelled = t.render(&[("id", "a(dot)b")]).unwrap();
        assert_eq!(dotted, "user.a%2Eb##id");
        assert_eq!(spelled, "user.a%28dot%29b##id");
    }

    #[test]
    fn parse_round_trips() {
        let id = "org.%C3%A9t%C3%A9##orgId.projects.p~1##projectId.updates";
        let parsed = parse_wire_id(id).unwrap();
        assert_eq!(parsed.template, "org.{orgId}.projects.{projectId}.updates");
        assert_eq!(
            parsed.values,
            vec![("orgId".into(), "été".into()), ("projectId".into(), "p~1".into())]
        );
        let t = Template::parse(&parsed.template).unwrap();
        assert_eq!(t.render(&parsed.values).unwrap(), id);
    }

    #[test]
    fn parse_refuses_non_canonical_ids() {
        for id in [
            "",
            "a..b",
            ".a",
            "a.",
            "a.%41##x",
            "a.%2e##x",
            "a.%2##x",
            "a.##x",
            "a.b##",
            "a.b##1x",
            "a.b##x.c##x",
            "a.b#c",
            "a.b*",
            "a.{x}",
            "a.%FF##x",
            "a b",
            "a.b###x",
        ] {
            assert!(parse_wire_id(id).is_err(), "{id:?} should be refused");
        }
        let long = "a".repeat(MAX_WIRE_ID_BYTES + 1);
        assert_eq!(
            parse_wire_id(&long),
            Err(ChannelError::TooLong {
                len: MAX_WIRE_ID_BYTES + 1
            })
        );
        let many = vec!["a"; MAX_SEGMENTS + 1].join(".");
        assert_eq!(parse_wire_id(&many), Err(ChannelError::TooManySegments));
    }

    #[test]
    fn template_errors_name_the_problem() {
        assert_eq!(
            Template::parse("a.{x}.{x}"),
            Err(ChannelError::DuplicateParam {
                position: 3,
                name: "x".into()
            })
        );
        assert!(matches!(
            Template::parse("a.{1x}"),
            Err(ChannelError::BadParamName { .. })
        ));
        assert!(matches!(
            Template::parse("a.b c"),
            Err(ChannelError::BadStaticSegment { position: 2, .. })
        ));
        let t = Template::parse("chat.{roomId}").unwrap();
        let err = t.render(&[("room", "x")]).unwrap_err();
        assert_eq!(err.to_string(), "unexpected parameter \"room\"; expected {roomId}");
        let err = t.render::<&str, &str>(&[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing value for parameter \"roomId\"; expected {roomId}"
        );
        assert_eq!(
            t.render(&[("roomId", "")]),
            Err(ChannelError::EmptyValue { name: "roomId".into() })
        );
    }

    #[test]
    fn errors_say_which_segment() {
        let at = |e: ChannelError| (e.position(), e.segment().map(str::to_owned));
        let some = |p: usize, s: &str| (Some(p), Some(s.to_owned()));
        assert_eq!(at(parse_wire_id("a..b").unwrap_err()), (Some(2), None));
        assert_eq!(at(parse_wire_id("a.b*").unwrap_err()), some(2, "b*"));
        assert_eq!(at(parse_wire_id("a.v##1x").unwrap_err()), some(2, "1x"));
        assert_eq!(at(parse_wire_id("a.v##x.w##x").unwrap_err()), some(3, "x"));
        assert_eq!(at(parse_wire_id("a.b.%2e##x").unwrap_err()), some(3, "x"));
        assert_eq!(at(parse_wire_id("a.%FF##x").unwrap_err()), some(2, "x"));
        assert_eq!(at(Template::parse("a.b c").unwrap_err()), some(2, "b c"));
        assert_eq!(at(Template::parse("{1x}").unwrap_err()), some(1, "1x"));
        assert_eq!(at(Template::parse("{x}.{x}").unwrap_err()), some(2, "x"));
        let t = Template::parse("chat.{roomId}").unwrap();
        assert_eq!(
            at(t.render::<&str, &str>(&[]).unwrap_err()),
            (None, Some("roomId".into()))
        );
        assert_eq!(at(t.render(&[("room", "x")]).unwrap_err()), (None, Some("room".into())));
        assert_eq!(
            at(t.render(&[("roomId", "")]).unwrap_err()),
            (None, Some("roomId".into()))
        );
        for whole in [
            parse_wire_id("").unwrap_err(),
            parse_wire_id(&"a".repeat(MAX_WIRE_ID_BYTES + 1)).unwrap_err(),
            parse_wire_id(&vec!["a"; MAX_SEGMENTS + 1].join(".")).unwrap_err(),
            Template::parse(&"a".repeat(MAX_TEMPLATE_BYTES + 1)).unwrap_err(),
            t.render(&[("roomId", "x".repeat(MAX_WIRE_ID_BYTES))]).unwrap_err(),
            ChannelError::BadParamNameText,
            ChannelError::NotText,
        ] {
            assert_eq!(at(whole.clone()), (None, None), "{whole:?}");
        }
    }

    #[test]
    fn huge_inputs_fail_fast() {
        let dots = ".".repeat(1_000_000);
        assert!(Template::parse(&dots).is_err());
        assert!(Template::parse(&"a.".repeat(500_000)).is_err());
        assert!(parse_wire_id(&dots).is_err());
    }

    /// xorshift64*: reproducible pseudo-random cases without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    /// Ids near the grammar's edges: built from the characters and pieces that matter to it.
    fn candidate(rng: &mut Rng) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"a",
            b"Z",
            b"0",
            b"_",
            b"-",
            b"~",
            b".",
            b"#",
            b"##",
            b"%",
            b"%2E",
            b"%41",
            b"%2e",
            b"%C3%A9",
            b"%C3",
            b"%A9",
            b"%FF",
            b"%E2%82%AC",
            b"%F0%9F%98%80",
            b"%ED%A0%80",
            b"%00",
            b"%7E",
            b"%25",
            b"{",
            b"}",
            b"*",
            b" ",
            b"\xc3\xa9",
            b"x",
            b"roomId",
            b"1x",
            b"chat",
            b"%2",
        ];
        let mut id = Vec::new();
        for _ in 0..rng.below(24) {
            id.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
        id
    }

    #[test]
    fn the_explanation_agrees_with_the_verdict() {
        let mut rng = Rng(0x5eed_0f50_c8ed);
        let mut accepted = 0;
        for _ in 0..300_000 {
            let id = candidate(&mut rng);
            let slow = scan_wire_id(&id, |_, _| {}).is_ok();
            assert_eq!(is_wire_id(&id), slow, "{:?}", String::from_utf8_lossy(&id));
            accepted += usize::from(slow);
        }
        assert!(
            accepted > 1_000,
            "too few valid candidates ({accepted}) to mean anything"
        );
        for id in [
            "a".repeat(MAX_WIRE_ID_BYTES),
            "a".repeat(MAX_WIRE_ID_BYTES + 1),
            vec!["a"; MAX_SEGMENTS].join("."),
            vec!["a"; MAX_SEGMENTS + 1].join("."),
            "a".repeat(MAX_NAME_LEN),
            "a".repeat(MAX_NAME_LEN + 1),
            format!("v##{}", "n".repeat(MAX_NAME_LEN)),
            format!("v##{}", "n".repeat(MAX_NAME_LEN + 1)),
            "a.b##x.c##x".into(),
            "a.b##x.c##y".into(),
            "%C3%A9##x".into(),
            "%C3##x".into(),
        ] {
            assert_eq!(
                is_wire_id(id.as_bytes()),
                scan_wire_id(id.as_bytes(), |_, _| {}).is_ok(),
                "{id:?}"
            );
        }
    }
}
