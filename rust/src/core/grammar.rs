//! The channel-id grammar (docs/spec.md §1): the one place that decides which bytes make a
//! static segment, a parameter name, an escaped value and a wire id. Rendering, parsing, signing
//! and verifying all ask it, so an id is accepted at issue time exactly when it is at check time.
//!
//! [`is_wire_id`] is the verdict, in one pass over the bytes and without allocating (a token
//! carries up to 10,000 ids, each checked on every verify). `channel.rs` explains a refusal in
//! words, but never overrules it.

use super::limits::{MAX_NAME_LEN, MAX_SEGMENTS, MAX_WIRE_ID_BYTES};

/// Byte classes of the wire-id grammar (docs/spec.md §1.3), one table lookup per byte.
const STATIC: u8 = 1; // [A-Za-z0-9_-]: static segments
const UNRESERVED: u8 = 2; // [A-Za-z0-9_~-]: kept as they are by the escape
const NAME_START: u8 = 4; // [A-Za-z_]
const NAME: u8 = 8; // [A-Za-z0-9_]
const HEX: u8 = 16; // [0-9A-F]

#[allow(clippy::indexing_slicing)] // evaluated at compile time: a bad index fails the build
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation)] // b < 256
        let c = b as u8;
        let (upper, lower, digit) = (c.is_ascii_uppercase(), c.is_ascii_lowercase(), c.is_ascii_digit());
        let alnum = upper || lower || digit;
        let mut class = 0;
        if alnum || c == b'_' || c == b'-' {
            class |= STATIC | UNRESERVED;
        }
        if c == b'~' {
            class |= UNRESERVED;
        }
        if upper || lower || c == b'_' {
            class |= NAME_START;
        }
        if alnum || c == b'_' {
            class |= NAME;
        }
        if digit || (c >= b'A' && c <= b'F') {
            class |= HEX;
        }
        t[b] = class;
        b += 1;
    }
    t
};

fn class(b: u8) -> u8 {
    CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

fn hex_value(b: u8) -> u8 {
    if b.is_ascii_digit() {
        b - b'0'
    } else {
        b.wrapping_sub(b'A' - 10)
    }
}

/// A parameter name: `[A-Za-z_][A-Za-z0-9_]{0,63}`.
#[must_use]
pub fn is_param_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((&first, rest)) => {
            name.len() <= MAX_NAME_LEN && class(first) & NAME_START != 0 && rest.iter().all(|&b| class(b) & NAME != 0)
        }
        None => false,
    }
}

/// Whether `escaped` is the canonical escape of a non-empty UTF-8 value (docs/spec.md §1.3, 3).
#[must_use]
pub fn is_canonical_escape(escaped: &[u8]) -> bool {
    if escaped.is_empty() {
        return false;
    }
    let mut non_ascii = false;
    let mut rest = escaped;
    while let Some((&b, tail)) = rest.split_first() {
        if class(b) & UNRESERVED != 0 {
            rest = tail;
        } else if let [b'%', hi, lo, tail @ ..] = rest {
            if class(*hi) & class(*lo) & HEX == 0 {
                return false;
            }
            let byte = (hex_value(*hi) << 4) | hex_value(*lo);
            if class(byte) & UNRESERVED != 0 {
                return false; // a needless escape
            }
            non_ascii |= byte >= 0x80;
            rest = tail;
        } else {
            return false;
        }
    }
    // Decoded ASCII is always UTF-8; only values with escaped high bytes need decoding to check.
    !non_ascii || {
        let mut decoded = [0u8; MAX_WIRE_ID_BYTES];
        let mut len = 0;
        let mut rest = escaped;
        while let Some((&b, tail)) = rest.split_first() {
            let (byte, tail) = match rest {
                [b'%', hi, lo, tail @ ..] => ((hex_value(*hi) << 4) | hex_value(*lo), tail),
                _ => (b, tail),
            };
            if let Some(slot) = decoded.get_mut(len) {
                *slot = byte;
                len += 1;
            }
            rest = tail;
        }
        std::str::from_utf8(decoded.get(..len).unwrap_or_default()).is_ok()
    }
}

/// Whether `id` is a canonical wire id (docs/spec.md §1.3).
#[must_use]
pub fn is_wire_id(id: &[u8]) -> bool {
    if id.is_empty() || id.len() > MAX_WIRE_ID_BYTES {
        return false;
    }
    let mut names = Names::default();
    let mut segments = 0;
    let mut start = 0;
    let mut other = None; // the first byte outside [A-Za-z0-9_-] in this segment
    for (i, &b) in id.iter().enumerate() {
        if class(b) & STATIC != 0 {
            continue;
        }
        if b == b'.' {
            segments += 1;
            let segment = id.get(start..i).unwrap_or_default();
            if segments == MAX_SEGMENTS || !segment_ok(segment, other.map(|o| o - start), &mut names) {
                return false;
            }
            start = i + 1;
            other = None;
        } else if other.is_none() {
            other = Some(i);
        }
    }
    segment_ok(
        id.get(start..).unwrap_or_default(),
        other.map(|o| o - start),
        &mut names,
    )
}

/// Parameter names seen so far in one id (at most one per segment), as ranges of the id.
#[derive(Default)]
struct Names<'a> {
    names: [Option<&'a [u8]>; MAX_SEGMENTS],
    len: usize,
}

/// Checks one segment; `other` is the offset of its first byte outside [A-Za-z0-9_-], if any
/// (without one, it can only be a static segment).
fn segment_ok<'a>(segment: &'a [u8], other: Option<usize>, names: &mut Names<'a>) -> bool {
    let Some(other) = other else {
        return !segment.is_empty() && segment.len() <= MAX_NAME_LEN;
    };
    // A parameter segment splits at its first `##`, which cannot come before the first byte
    // outside [A-Za-z0-9_-] (`#` is one).
    let mut from = other;
    let sep = loop {
        let Some(hash) = segment
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'#'))
        else {
            return false; // not static, and not a parameter
        };
        let at = from + hash;
        if segment.get(at + 1) == Some(&b'#') {
            break at;
        }
        from = at + 1;
    };
    let (escaped, name) = (
        segment.get(..sep).unwrap_or_default(),
        segment.get(sep + 2..).unwrap_or_default(),
    );
    if !is_param_name(name) {
        return false;
    }
    let seen = names.names.get(..names.len).unwrap_or_default();
    if seen.contains(&Some(name)) {
        return false;
    }
    if let Some(slot) = names.names.get_mut(names.len) {
        *slot = Some(name);
        names.len += 1;
    }
    is_canonical_escape(escaped)
}

/// A byte an escaped value keeps as it is: `[A-Za-z0-9_~-]`.
#[must_use]
pub fn is_unreserved(b: u8) -> bool {
    class(b) & UNRESERVED != 0
}

/// A static segment: `[A-Za-z0-9_-]{1,64}`.
#[must_use]
pub fn is_static_segment(segment: &[u8]) -> bool {
    !segment.is_empty() && segment.len() <= MAX_NAME_LEN && segment.iter().all(|&b| class(b) & STATIC != 0)
}
