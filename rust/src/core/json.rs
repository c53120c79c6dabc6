//! Strict JSON for token headers and payloads (docs/spec.md §4, "Strict JSON").
//!
//! A small single-pass parser over a `&str`: RFC 8259 grammar, no duplicate member names at any
//! depth (two parsers reading different values is how python-jwt's claims were forged,
//! CVE-2022-39227), a depth limit checked as each container opens (so hostile nesting costs a few
//! bytes of work, not the whole input), numbers that must fit a double, no lone surrogates.
//!
//! Members are handed to a [`Members`] receiver as they are read, and strings without escapes are
//! borrowed from the input: a token's claims are read without building a document. A member
//! whose type is wrong for its claim does not stop the parse: it is recorded, and the claim check
//! reports it after the whole document has proved to be valid JSON, so that the error class does
//! not depend on where in the document the problem sits.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use super::limits::MAX_CHECK_DEPTH;

/// Why a document was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: Cow<'static, str>,
    line: usize,
    column: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for Error {}

/// A member value as claim checks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'de> {
    /// A string.
    Str(Cow<'de, str>),
    /// A number, as a double.
    Num(f64),
    /// `true`, `false`, `null`, an array or an object.
    Other,
}

/// Receives the members of a top-level object.
pub trait Members<'de> {
    /// Reads the value of member `key` from `parser`, which stands at it: exactly one value must
    /// be consumed, with [`Parser::value`], [`Parser::str_list`] or [`Parser::array`].
    fn member(&mut self, key: &str, parser: &mut Parser<'de>) -> Result<(), Error>;
}

/// Parses `text` as a strict JSON object, handing each member to `members`.
pub fn parse_object<'de, M: Members<'de>>(text: &'de str, max_depth: usize, members: &mut M) -> Result<(), Error> {
    let mut parser = Parser::new(text, max_depth);
    parser.skip_whitespace();
    match parser.peek() {
        Some(b'{') => parser.object(|p, key| members.member(&key, p))?,
        Some(_) => return Err(parser.error("expected a JSON object")),
        None => return Err(parser.error("EOF while parsing a value")),
    }
    parser.end()
}

/// Checks that `text` is exactly one strict JSON value of any type (surrounding whitespace
/// allowed): the rules of [`parse_object`], the outermost array or object at depth 1. Used on
/// message payloads that are spliced into frames as text, so that a payload can never carry a
/// second value or a member of the envelope around it.
///
/// `max_depth` above [`MAX_CHECK_DEPTH`] (`limits.rs`, with the default,
/// [`MAX_PAYLOAD_DEPTH`](super::limits::MAX_PAYLOAD_DEPTH)) is clamped to it (callers range-check their settings).
pub fn check_value(text: &str, max_depth: usize) -> Result<(), Error> {
    let mut parser = Parser::new(text, max_depth.min(MAX_CHECK_DEPTH));
    parser.skip_whitespace();
    parser.value()?;
    parser.end()
}

/// A list of strings as a claim sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum StrList<'de> {
    /// Every entry is a string, and there are at most the allowed number.
    List(Vec<Cow<'de, str>>),
    /// More entries than allowed.
    TooLong,
    /// An entry that is not a string.
    NotStrings,
    /// Not a list: the value it was instead.
    NotList(Value<'de>),
}

/// The reading position in one document.
pub struct Parser<'de> {
    text: &'de str,
    bytes: &'de [u8],
    pos: usize,
    /// Containers open around the position (the top-level object is 1).
    depth: usize,
    max_depth: usize,
}

/// Eight copies of a byte, for the word-at-a-time string scan.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

const HIGH_BITS: u64 = splat(0x80);

/// Marks the bytes of `word` below `n` (n ≤ 0x80) in their high bit; the lowest mark is exact.
const fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(splat(n)) & !word & HIGH_BITS
}

/// Marks the bytes of `word` equal to `b`; the lowest mark is exact.
const fn bytes_equal(word: u64, b: u8) -> u64 {
    bytes_below(word ^ splat(b), 1)
}

impl<'de> Parser<'de> {
    fn new(text: &'de str, max_depth: usize) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            max_depth,
        }
    }

    /// After the top-level value: only whitespace may follow.
    fn end(&mut self) -> Result<(), Error> {
        self.skip_whitespace();
        if self.pos < self.bytes.len() {
            return Err(self.error("trailing characters"));
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[cold]
    #[allow(clippy::naive_bytecount)] // an error path, over one token segment
    fn error(&self, message: impl Into<Cow<'static, str>>) -> Error {
        let before = self.bytes.get(..self.pos).unwrap_or(self.bytes);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        Error {
            message: message.into(),
            line,
            column,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` (after whitespace), or fails with `message`.
    fn expect(&mut self, b: u8, message: &'static str) -> Result<(), Error> {
        self.skip_whitespace();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.error(format!("JSON nested deeper than {}", self.max_depth)));
        }
        self.pos += 1; // the opening bracket
        Ok(())
    }

    /// Reads the object the parser stands at, handing each member's name to `each`, which must
    /// consume the member's value.
    fn object(&mut self, mut each: impl FnMut(&mut Self, Cow<'de, str>) -> Result<(), Error>) -> Result<(), Error> {
        self.enter()?;
        let mut seen = Seen::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a member name"));
                }
                let key = self.string()?;
                if !seen.insert(&key) {
                    return Err(self.error(format!("duplicate member name {:?}", Truncated(&key))));
                }
                self.expect(b':', "expected ':'")?;
                self.skip_whitespace();
                each(self, key)?;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}'")),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Reads the array the parser stands at (it must stand at `[`), handing each element to
    /// `each`, which must consume it.
    pub fn array(&mut self, mut each: impl FnMut(&mut Self) -> Result<(), Error>) -> Result<(), Error> {
        if self.peek() != Some(b'[') {
            return Err(self.error("expected an array"));
        }
        self.enter()?;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                each(self)?;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ']'")),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Whether the parser stands at an array.
    #[must_use]
    pub fn at_array(&self) -> bool {
        self.peek() == Some(b'[')
    }

    /// The document's length: an upper bound on the length of all its strings, unescaped.
    #[must_use]
    pub fn document_len(&self) -> usize {
        self.bytes.len()
    }

    /// Reads any value (containers are validated, then reported as [`Value::Other`]).
    pub fn value(&mut self) -> Result<Value<'de>, Error> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Num),
            Some(b'{') => self.object(|p, _| p.value().map(drop)).map(|()| Value::Other),
            Some(b'[') => self.array(|p| p.value().map(drop)).map(|()| Value::Other),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(_) => Err(self.error("expected value")),
            None => Err(self.error("EOF while parsing a value")),
        }
    }

    /// Reads a list of at most `max` strings. Past `max`, entries are still validated but no
    /// longer stored, so an oversized list costs no memory.
    pub fn str_list(&mut self, max: usize) -> Result<StrList<'de>, Error> {
        if !self.at_array() {
            return self.value().map(StrList::NotList);
        }
        let mut items = Vec::new();
        let mut result = None;
        self.array(|p| {
            match p.value()? {
                Value::Str(s) if result.is_none() && items.len() < max => items.push(s),
                Value::Str(_) if result.is_none() => result = Some(StrList::TooLong),
                Value::Str(_) => {}
                _ => result = Some(StrList::NotStrings),
            }
            Ok(())
        })?;
        Ok(result.unwrap_or(StrList::List(items)))
    }

    fn literal(&mut self, word: &'static str) -> Result<Value<'de>, Error> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(Value::Other)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as the nearest double; out of range
    /// (`1e400`) is an error, as NaN and infinities cannot be written.
    fn number(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
            integer = false;
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        // Integers of up to 15 digits are exact in a double: the common case (times) needs no
        // float parsing. Everything else goes through the standard library's conversion, which
        // is correctly rounded (docs/spec.md §4: the nearest double), unlike serde_json's default.
        let digits = text.strip_prefix('-').unwrap_or(text);
        if integer && digits.len() <= 15 {
            let magnitude = digits.bytes().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            #[allow(clippy::cast_precision_loss)] // below 10^15 < 2^53: exact
            let magnitude = magnitude as f64;
            return Ok(if digits.len() == text.len() {
                magnitude
            } else {
                -magnitude
            });
        }
        // The grammar was checked above, and Rust's float syntax accepts all of JSON's.
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error("number out of range")),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads the string the parser stands at (at its opening quote).
    fn string(&mut self) -> Result<Cow<'de, str>, Error> {
        self.pos += 1;
        let start = self.pos;
        // Find the first byte that is a quote, a backslash or a control character, eight at a time.
        loop {
            if let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                let marks = bytes_equal(word, b'"') | bytes_equal(word, b'\\') | bytes_below(word, 0x20);
                if marks == 0 {
                    self.pos += 8;
                    continue;
                }
                self.pos += (marks.trailing_zeros() / 8) as usize;
            }
            match self.peek() {
                Some(b'"') => {
                    let s = self.text.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => {
                    let mut owned = String::from(self.text.get(start..self.pos).unwrap_or_default());
                    return self.escaped_string(&mut owned).map(|()| Cow::Owned(owned));
                }
                Some(0..0x20) => return Err(self.error("control character found while parsing a string")),
                Some(_) => self.pos += 1,
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// The rest of a string with escapes, from a backslash to the closing quote.
    fn escaped_string(&mut self, out: &mut String) -> Result<(), Error> {
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(start..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.error("control character found while parsing a string")),
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// The character of a `\u` escape, after the `\u`; a surrogate pair takes two escapes.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| char::from(b).to_digit(16));
            let Some(digit) = digit else {
                return Err(self.error("invalid escape"));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }
}

/// A whole JSON value, for showing a document (`decode::decode_unverified`); verification never
/// builds one. Object members keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number written without fraction or exponent that fits an `i64`.
    Int(i64),
    /// Any other number, as the nearest double (what a verifier compares).
    Float(f64),
    /// A string, unescaped.
    Str(String),
    /// An array.
    Array(Vec<Tree>),
    /// An object's members, in document order (names are unique: duplicates are refused).
    Object(Vec<(String, Tree)>),
}

/// A top-level object's members as owned trees, in document order (what token inspection
/// shows); read by [`parse_object`], so under exactly its rules.
impl<'de> Members<'de> for Vec<(String, Tree)> {
    fn member(&mut self, key: &str, parser: &mut Parser<'de>) -> Result<(), Error> {
        let value = parser.tree()?;
        self.push((key.to_owned(), value));
        Ok(())
    }
}

impl Parser<'_> {
    fn object_tree(&mut self) -> Result<Vec<(String, Tree)>, Error> {
        let mut members = Vec::new();
        self.object(|p, key| {
            let value = p.tree()?;
            members.push((key.into_owned(), value));
            Ok(())
        })?;
        Ok(members)
    }

    /// Reads any value as a [`Tree`], with the checks of [`Parser::value`].
    fn tree(&mut self) -> Result<Tree, Error> {
        match self.peek() {
            Some(b'{') => self.object_tree().map(Tree::Object),
            Some(b'[') => {
                let mut items = Vec::new();
                self.array(|p| {
                    items.push(p.tree()?);
                    Ok(())
                })?;
                Ok(Tree::Array(items))
            }
            Some(b'"') => self.string().map(|s| Tree::Str(s.into_owned())),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                let value = self.number()?;
                let text = self.text.get(start..self.pos).unwrap_or_default();
                let integral = !text.contains(['.', 'e', 'E']);
                Ok(match text.parse::<i64>() {
                    Ok(int) if integral => Tree::Int(int),
                    _ => Tree::Float(value),
                })
            }
            Some(b't') => self.literal("true").map(|_| Tree::Bool(true)),
            Some(b'f') => self.literal("false").map(|_| Tree::Bool(false)),
            Some(b'n') => self.literal("null").map(|_| Tree::Null),
            Some(_) => Err(self.error("expected value")),
            None => Err(self.error("EOF while parsing a value")),
        }
    }
}

/// Member names seen in one object: a linear scan of fingerprints for the handful of names (all
/// borrowed from the input) real tokens carry; a hash set (with a keyed hasher, since the names
/// may come from an attacker) past that, or once a name needed unescaping.
struct Seen<'de> {
    /// [`fingerprint`] of each name in `small`.
    fingerprints: [u64; SEEN_SMALL],
    small: [&'de str; SEEN_SMALL],
    len: usize,
    large: Option<HashSet<Cow<'de, str>>>,
}

/// Member names kept in [`Seen`]'s arrays before it switches to a hash set.
const SEEN_SMALL: usize = 16;

/// The length (mod 256) and first seven bytes of a name: equal fingerprints mean equal names for
/// names of up to seven bytes (`sub`, `exp`, `alg`, `kid`, …), so those never need a comparison.
fn fingerprint(name: &str) -> u64 {
    // Built in a register: a byte array copied into a word would stall on store forwarding.
    let bytes = name.as_bytes();
    let mut word = (bytes.len() & 0xff) as u64;
    for (i, &b) in bytes.iter().take(7).enumerate() {
        word |= u64::from(b) << (8 * (i + 1));
    }
    word
}

impl<'de> Seen<'de> {
    fn new() -> Self {
        Self {
            fingerprints: [0; SEEN_SMALL],
            small: [""; SEEN_SMALL],
            len: 0,
            large: None,
        }
    }

    /// Records `key`; false when it was already there.
    #[allow(clippy::ptr_arg)] // whether the name is borrowed decides where it is kept
    fn insert(&mut self, key: &Cow<'de, str>) -> bool {
        if let Some(large) = &mut self.large {
            return large.insert(key.clone());
        }
        let fp = fingerprint(key);
        let fingerprints = self.fingerprints.get(..self.len).unwrap_or_default();
        for (i, &seen) in fingerprints.iter().enumerate() {
            if seen == fp && (key.len() <= 7 || self.small.get(i).is_some_and(|k| *k == key.as_ref())) {
                return false;
            }
        }
        if let (Cow::Borrowed(name), Some(f), Some(slot)) =
            (key, self.fingerprints.get_mut(self.len), self.small.get_mut(self.len))
        {
            *f = fp;
            *slot = name;
            self.len += 1;
            return true;
        }
        let seen = self.small.get(..self.len).unwrap_or_default();
        let mut large: HashSet<Cow<'de, str>> = seen.iter().map(|&k| Cow::Borrowed(k)).collect();
        let inserted = large.insert(key.clone());
        self.large = Some(large);
        inserted
    }
}

struct Truncated<'a>(&'a str);

impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.0.char_indices().nth(40).map_or(self.0.len(), |(i, _)| i);
        f.write_str(self.0.get(..cut).unwrap_or_default())
    }
}

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::limits::MAX_PAYLOAD_DEPTH;

    #[derive(Default)]
    struct Collect(Vec<(String, Value<'static>)>);

    impl<'de> Members<'de> for Collect {
        fn member(&mut self, key: &str, parser: &mut Parser<'de>) -> Result<(), Error> {
            let v = match parser.value()? {
                Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
                Value::Num(n) => Value::Num(n),
                Value::Other => Value::Other,
            };
            self.0.push((key.to_owned(), v));
            Ok(())
        }
    }

    fn parse(text: &str, depth: usize) -> Result<Vec<(String, Value<'static>)>, Error> {
        let mut collect = Collect::default();
        parse_object(text, depth, &mut collect).map(|()| collect.0)
    }

    fn parse_tree(text: &str, depth: usize) -> Result<Vec<(String, Tree)>, Error> {
        let mut members = Vec::new();
        parse_object(text, depth, &mut members).map(|()| members)
    }

    #[test]
    fn the_tree_reader_accepts_and_refuses_what_the_member_reader_does() {
        let docs = [
            r#"{"a":1,"b":[true,false,null,{"c":"\u00e9"}],"d":-0.5e-3}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"o":{"k":1,"k":1}}"#,
            r#"{"a":[[[[[[[[1]]]]]]]]}"#,
            r#"{"a":[[[[[[1]]]]]]}"#,
            r#"{"n":1e400}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"a":tru}"#,
            r#"{"a":1} x"#,
            "[1]",
            "",
            "{\"a\":\"\u{1}\"}",
            r#"{"a":01}"#,
        ];
        for doc in docs {
            assert_eq!(parse_tree(doc, 8).map(drop), parse(doc, 8).map(drop), "{doc}");
        }
        assert_eq!(
            parse_tree(r#"{"i":9007199254740993,"f":2.0,"big":1e20}"#, 8).unwrap(),
            vec![
                ("i".into(), Tree::Int(9_007_199_254_740_993)),
                ("f".into(), Tree::Float(2.0)),
                ("big".into(), Tree::Float(1e20)),
            ]
        );
    }

    #[test]
    fn accepts_plain_objects() {
        let got = parse(
            " {\"a\":\"x\",\"b\":1.5,\"c\":[1,{\"d\":null}],\"e\":\"\\u00e9\\ud83d\\ude00\\n\"}\n ",
            8,
        )
        .unwrap();
        assert_eq!(got[0], ("a".into(), Value::Str("x".into())));
        assert_eq!(got[1], ("b".into(), Value::Num(1.5)));
        assert_eq!(got[2], ("c".into(), Value::Other));
        assert_eq!(got[3], ("e".into(), Value::Str("é😀\n".into())));
        assert_eq!(parse("{}", 8).unwrap(), vec![]);
        assert_eq!(parse("{\"a\":[]}", 8).unwrap()[0].1, Value::Other);
    }

    #[test]
    fn numbers_are_read_as_the_nearest_double() {
        for (text, want) in [
            ("0", 0.0),
            ("-0", -0.0),
            ("1700000000", 1_700_000_000.0),
            ("-17", -17.0),
            ("1.5", 1.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("25e-1", 2.5),
            ("253402300799.5", 253_402_300_799.5),
            ("123456789012345678901234567890", 1.234_567_890_123_456_8e29),
            ("0.1", 0.1),
            ("1e-400", 0.0),
            ("9007199254740993", 9_007_199_254_740_992.0),
            // serde_json's default parser is one ulp off on these two; the bits are CPython's.
            ("1699999997.0001001", f64::from_bits(0x41d9_54fc_3f40_01a4)),
            ("2.2250738585072011e-308", f64::from_bits(0x000f_ffff_ffff_ffff)),
        ] {
            let got = parse(&format!("{{\"n\":{text}}}"), 8).unwrap();
            assert_eq!(got[0].1, Value::Num(want), "{text}");
            if let Value::Num(v) = got[0].1 {
                assert_eq!(v.is_sign_negative(), want.is_sign_negative(), "{text}");
            }
        }
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"x":{"a":1,"a":2}}"#,
            r#"{"x":[{"a":1,"a":2}]}"#,
            r#"{"a":NaN}"#,
            r#"{"a":Infinity}"#,
            r#"{"a":-Infinity}"#,
            r#"{"a":1e400}"#,
            r#"{"a":-1e400}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\udc00x"}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\u12G4"}"#,
            "\u{feff}{}",
            "[]",
            "1",
            "",
            " ",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{,}",
            "{\"a\" 1}",
            "{a:1}",
            "{'a':1}",
            r#"{"a":1} x"#,
            r#"{"a":1}}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":True}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"x\ny\"}",
            "{\"a\":\"x\ty\"}",
            "{\"a\":\"unterminated}",
            "{\"a\":\"a\\\"}",
        ] {
            assert!(parse(bad, 8).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn depth_counts_the_top_level_object_as_one() {
        assert!(parse(r#"{"a":[[[[[[[1]]]]]]]}"#, 8).is_ok());
        assert!(parse(r#"{"a":[[[[[[[[1]]]]]]]]}"#, 8).is_err());
        assert!(parse(r#"{"a":[1]}"#, 2).is_ok());
        assert!(parse(r#"{"a":[[1]]}"#, 2).is_err());
        assert!(parse(r#"{"a":{"b":1}}"#, 2).is_ok());
        assert!(parse(r#"{"a":{"b":{}}}"#, 2).is_err());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep, 8).unwrap_err();
        assert_eq!(err.to_string(), "JSON nested deeper than 8 at line 1 column 13");
    }

    #[test]
    fn errors_say_where() {
        let err = parse("{\"a\":1,\n \"a\":2}", 8).unwrap_err();
        assert_eq!(err.to_string(), "duplicate member name \"a\" at line 2 column 5");
    }

    #[test]
    fn long_names_sharing_a_prefix_are_told_apart() {
        assert!(parse(r#"{"channels":1,"channelz":2,"channel":3,"channelsx":4}"#, 8).is_ok());
        assert!(parse(r#"{"channels":1,"channelz":2,"channels":3}"#, 8).is_err());
        assert!(parse(r#"{"a":1,"b":{"a":1},"c":[{"a":1}]}"#, 8).is_ok());
        assert!(parse(r#"{"\u0063hannels":1,"channels":2}"#, 8).is_err());
    }

    #[test]
    fn many_members_are_checked_for_duplicates_too() {
        let mut text = String::from("{");
        for i in 0..100 {
            use std::fmt::Write as _;
            let _ = write!(text, "\"k{i}\":{i},");
        }
        let ok = format!("{text}\"k100\":0}}");
        assert!(parse(&ok, 8).is_ok());
        text.push_str("\"k7\":0}");
        assert!(parse(&text, 8).is_err());
    }

    #[test]
    fn check_value_accepts_exactly_one_value_of_any_type() {
        for good in [
            "0",
            "-1.5e3",
            "123456789012345678901234567890",
            "\"hi\"",
            "\"\\u00e9\\ud83d\\ude00\"",
            "true",
            "false",
            "null",
            "[]",
            "{}",
            " \n\t{\"a\":[1,{\"b\":null}],\"c\":\"x\"}\r\n ",
            "[{\"a\":1},{\"a\":1}]",
        ] {
            assert_eq!(check_value(good, MAX_PAYLOAD_DEPTH), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn check_value_refuses_a_second_value_or_an_envelope_member() {
        for bad in [
            // The payload text that would retarget a message whose frame is built by splicing.
            r#""hi","channel":"notification.alice##userId""#,
            r#"1,"persist":true"#,
            r#"{"a":1}}"#,
            r#"{"a":1},{"a":2}"#,
            "1 2",
            "[1]]",
            r#""a""b""#,
            "",
            " ",
            "\u{feff}1",
            r#"{"a":1,"a":2}"#,
            r#"[{"a":1,"\u0061":2}]"#,
            "NaN",
            "-Infinity",
            r#"{"a":Infinity}"#,
            "1e400",
            "[-1e400]",
            r#""\ud800""#,
            r#""\udc00""#,
            "\"\u{1}\"",
            "01",
            "tru",
            "'a'",
            "[1,]",
            "{\"a\":1,}",
            "/* comment */ 1",
        ] {
            assert!(
                check_value(bad, MAX_PAYLOAD_DEPTH).is_err(),
                "{bad:?} should be refused"
            );
        }
        let err = check_value(r#""hi","channel":"x""#, MAX_PAYLOAD_DEPTH).unwrap_err();
        assert_eq!(err.to_string(), "trailing characters at line 1 column 5");
    }

    #[test]
    fn check_value_depth_counts_the_outermost_container_as_one() {
        let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(check_value("1", 1), Ok(()));
        assert_eq!(check_value(&nest(1), 1), Ok(()));
        assert!(check_value(&nest(2), 1).is_err());
        assert_eq!(check_value(&nest(MAX_PAYLOAD_DEPTH), MAX_PAYLOAD_DEPTH), Ok(()));
        let err = check_value(&nest(MAX_PAYLOAD_DEPTH + 1), MAX_PAYLOAD_DEPTH).unwrap_err();
        assert_eq!(err.to_string(), "JSON nested deeper than 64 at line 1 column 65");
        // The ceiling holds whatever is asked: hostile nesting never grows the stack past it.
        assert_eq!(check_value(&nest(MAX_CHECK_DEPTH), usize::MAX), Ok(()));
        assert!(check_value(&nest(MAX_CHECK_DEPTH + 1), usize::MAX).is_err());
        let deep = "[".repeat(1_000_000);
        assert!(check_value(&deep, MAX_PAYLOAD_DEPTH).is_err());
        let objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_PAYLOAD_DEPTH),
            "}".repeat(MAX_PAYLOAD_DEPTH)
        );
        assert_eq!(check_value(&objects, MAX_PAYLOAD_DEPTH), Ok(()));
    }

    #[test]
    fn check_value_at_the_ceiling_fits_a_small_thread_stack() {
        // The deepest nesting ever accepted, objects (the larger frames) and arrays mixed, on a
        // 512 KiB stack: an unoptimised build needs about 256 KiB, a release build under 100.
        let text = format!(
            "{}1{}",
            "[{\"a\":".repeat(MAX_CHECK_DEPTH / 2),
            "}]".repeat(MAX_CHECK_DEPTH / 2)
        );
        let worker = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || check_value(&text, MAX_CHECK_DEPTH))
            .unwrap();
        assert_eq!(worker.join().unwrap(), Ok(()));
    }

    #[test]
    fn word_scan_finds_the_first_mark() {
        for len in 0..40 {
            for mark in ['"', '\\', '\u{1}', '\u{1f}'] {
                let body: String = "aé".chars().cycle().take(len).collect();
                let text = format!("{{\"k\":\"{body}{mark}\"}}");
                // a stray quote, a bad escape, a control character: each is found wherever it is
                assert!(parse(&text, 8).is_err(), "{text:?}");
                let clean = format!("{{\"k\":\"{body}\"}}");
                assert_eq!(parse(&clean, 8).unwrap()[0].1, Value::Str(body.clone().into()));
            }
        }
    }
}
