//! What a verified token allows: an immutable set of exact channel ids, built once per token.
//!
//! `allows` is the only question callers ask, so template grants ("any value of `roomId`") can
//! later sit beside the exact set, checked after it, without any caller changing.

use std::hash::BuildHasher;

use super::limits::MAX_WIRE_ID_BYTES;

/// Up to this many channels a lookup scans them (comparing lengths first), which beats hashing;
/// above it, an open-addressing table keeps the lookup cost flat.
const LINEAR_MAX: usize = 8;

/// A compiled set of channel ids, stored in one buffer.
#[derive(Debug, Clone)]
pub struct ChannelSet {
    text: String,
    /// End offset of each channel in `text`, in insertion order.
    ends: Vec<u32>,
    /// Slots holding `index + 1` of a channel, or 0 when empty; unused (empty) for small sets.
    table: Vec<u32>,
    hasher: foldhash::fast::RandomState,
}

impl ChannelSet {
    /// Builds the set from channels in the token's order (duplicates are kept in the order and
    /// found once). Offsets are `u32`: callers bound the total size far below 4 GiB.
    pub fn new<'a>(channels: impl ExactSizeIterator<Item = &'a str> + Clone) -> Self {
        let total: usize = channels.clone().map(str::len).sum();
        let mut text = String::with_capacity(total);
        let mut ends = Vec::with_capacity(channels.len());
        for channel in channels {
            text.push_str(channel);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        Self::from_parts(text, ends)
    }

    /// Builds the set from channels already laid end to end in `text`, `ends` holding the end
    /// offset of each (what the verifier collects while it parses a token's `channels`).
    #[must_use]
    pub fn from_parts(text: String, ends: Vec<u32>) -> Self {
        let mut set = Self {
            text,
            ends,
            table: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
        };
        set.build_table();
        set
    }

    fn build_table(&mut self) {
        if self.ends.len() <= LINEAR_MAX {
            return;
        }
        let size = (self.ends.len() * 2).next_power_of_two();
        let mask = size - 1;
        let mut table = vec![0u32; size];
        for index in 0..self.ends.len() {
            let Some(channel) = self.get(index) else { continue };
            let mut slot = self.slot_of(channel.as_bytes(), mask);
            while let Some(&taken) = table.get(slot) {
                if taken == 0 {
                    break;
                }
                slot = (slot + 1) & mask;
            }
            if let Some(entry) = table.get_mut(slot) {
                *entry = u32::try_from(index + 1).unwrap_or(u32::MAX);
            }
        }
        self.table = table;
    }

    #[allow(clippy::cast_possible_truncation)] // the mask keeps the slot below the table size
    fn slot_of(&self, id: &[u8], mask: usize) -> usize {
        (self.hasher.hash_one(id) as usize) & mask
    }

    /// The channel at `index`, in the token's order.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = usize::try_from(*self.ends.get(index)?).ok()?;
        let start = match index.checked_sub(1) {
            Some(prev) => usize::try_from(*self.ends.get(prev)?).ok()?,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// Appends `extra` to the buffer after the channels (they are unaffected) and returns its
    /// range, for [`Self::text_at`].
    pub fn append(&mut self, extra: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(extra);
        (start, self.text.len())
    }

    /// The text at `range` of the buffer: a range [`Self::append`] returned.
    #[must_use]
    pub fn text_at(&self, (start, end): (usize, usize)) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// Number of channels, duplicates included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the set holds no channel.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The channels in the token's order.
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Whether `id` is exactly one of the channels.
    #[must_use]
    pub fn contains(&self, id: &[u8]) -> bool {
        // No wire id is longer; refusing here keeps a hostile probe from being hashed whole.
        if id.len() > MAX_WIRE_ID_BYTES {
            return false;
        }
        if self.table.is_empty() {
            return self.iter().any(|c| c.as_bytes() == id);
        }
        let mask = self.table.len() - 1;
        let mut slot = self.slot_of(id, mask);
        while let Some(&entry) = self.table.get(slot) {
            let Some(index) = (entry as usize).checked_sub(1) else {
                return false;
            };
            if self.get(index).is_some_and(|c| c.as_bytes() == id) {
                return true;
            }
            slot = (slot + 1) & mask;
        }
        false
    }
}

/// The verified content of a token. The `jti` shares the channel set's buffer (appended after
/// the channels), which saves a verify one allocation.
#[derive(Debug, Clone)]
pub struct Grants {
    /// The `sub` claim.
    pub identity: String,
    /// `floor(exp)`.
    pub expires_at: i64,
    /// `floor(iat)`.
    pub issued_at: i64,
    /// The granted channel ids.
    pub channels: ChannelSet,
    /// Where the `jti` sits in the channel set's buffer.
    jti: Option<(usize, usize)>,
}

impl Grants {
    /// Grants for `channels`, whose buffer holds the `jti` at `jti` (see [`ChannelSet::append`]).
    #[must_use]
    pub fn new(
        identity: String,
        channels: ChannelSet,
        jti: Option<(usize, usize)>,
        expires_at: i64,
        issued_at: i64,
    ) -> Self {
        Self {
            identity,
            expires_at,
            issued_at,
            channels,
            jti,
        }
    }

    /// The `jti` claim, if any.
    #[must_use]
    pub fn jti(&self) -> Option<&str> {
        self.jti.map(|range| self.channels.text_at(range))
    }

    /// Whether the token allows `id`.
    #[must_use]
    pub fn allows(&self, id: &[u8]) -> bool {
        self.channels.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_sets_answer_alike() {
        for n in [0usize, 1, 2, 8, 9, 100, 10_000] {
            let ids: Vec<String> = (0..n).map(|i| format!("room.r{i}##roomId")).collect();
            let set = ChannelSet::new(ids.iter().map(String::as_str));
            assert_eq!(set.len(), n);
            for id in &ids {
                assert!(set.contains(id.as_bytes()), "{id} missing at n={n}");
            }
            assert!(!set.contains(b"room.r-1##roomId"));
            assert!(!set.contains(b""));
            assert!(!set.contains(b"room"));
            assert_eq!(
                set.iter().collect::<Vec<_>>(),
                ids.iter().map(String::as_str).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn duplicates_are_kept_in_order_and_found() {
        let set = ChannelSet::new(["b", "a", "b", "c", "d", "e", "f", "g", "h", "i"].into_iter());
        assert_eq!(set.len(), 10);
        assert_eq!(set.get(2), Some("b"));
        assert!(set.contains(b"b"));
        assert!(set.contains(b"i"));
        assert!(!set.contains(b"j"));
    }
}
