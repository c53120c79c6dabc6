//! What a verified token allows: an immutable set of exact channel ids, built once per token.
//!
//! `allows` is the only question callers ask, so template grants ("any value of `roomId`") can
//! later sit beside the exact set, checked after it, without any caller changing.

use std::hash::BuildHasher;

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

/// The verified content of a token.
#[derive(Debug, Clone)]
pub struct Grants {
    /// The `sub` claim.
    pub identity: String,
    /// The `jti` claim, if any.
    pub jti: Option<String>,
    /// `floor(exp)`.
    pub expires_at: i64,
    /// `floor(iat)`.
    pub issued_at: i64,
    /// The granted channel ids.
    pub channels: ChannelSet,
}

impl Grants {
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
