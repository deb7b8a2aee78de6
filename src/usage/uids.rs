//! Counting repeated `uid`s in a file of any size in bounded memory.
//!
//! A set of every uid of a 10,000,000-line file would take hundreds of
//! megabytes, so the count takes two passes. The first ([`UidSieve`]) puts
//! each uid's 64-bit hash in a Bloom filter (one bit per byte of the file,
//! at most 16 MiB) and keeps the hashes the filter had already seen: every
//! repeated uid is among them, with some false positives (about 0.5% of the
//! uids of a 10,000,000-line file).
//! The second ([`UidCount`]) counts just those candidates exactly, so the
//! result is exact up to 64-bit hash collisions.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

/// Most bits of the Bloom filter: 2^27 (16 MiB).
const MAX_BITS: usize = 1 << 27;
/// Fewest bits.
const MIN_BITS: usize = 1 << 16;
/// Probes per uid.
const PROBES: u64 = 4;

/// A uid's 64-bit hash, the same in both passes (fixed keys).
fn hash(uid: &str) -> u64 {
    // `DefaultHasher::new` has fixed keys: the same hash in both passes.
    let mut h = DefaultHasher::new();
    h.write(uid.as_bytes());
    h.finish()
}

/// The first pass: which uid hashes may repeat.
pub struct UidSieve {
    /// Bits in the filter: a power of two.
    size: usize,
    bits: Vec<u64>,
    candidates: HashSet<u64>,
}

impl UidSieve {
    /// A sieve for a file of `bytes` bytes: a uid takes more than 8 bytes of
    /// its line, so one bit per byte gives each uid more than 8 bits.
    pub fn for_bytes(bytes: u64) -> Self {
        let size = usize::try_from(bytes)
            .unwrap_or(MAX_BITS)
            .clamp(MIN_BITS, MAX_BITS)
            .next_power_of_two();
        UidSieve {
            size,
            bits: Vec::new(),
            candidates: HashSet::new(),
        }
    }
}

impl UidSieve {
    /// Records one uid.
    pub fn add(&mut self, uid: &str) {
        if self.bits.is_empty() {
            // Allocated on first use: a file without uids costs nothing.
            self.bits = vec![0; self.size / 64];
        }
        let h = hash(uid);
        // Double hashing: probe i at h1 + i*h2.
        let (h1, h2) = (h, h.rotate_left(32) | 1);
        let mut seen = true;
        for i in 0..PROBES {
            let bit = (h1.wrapping_add(i.wrapping_mul(h2)) as usize) & (self.size - 1);
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            if self.bits[word] & mask == 0 {
                seen = false;
                self.bits[word] |= mask;
            }
        }
        if seen {
            self.candidates.insert(h);
        }
    }

    /// The second pass, over the same uids in any order.
    pub fn into_count(self) -> UidCount {
        UidCount {
            seen: self.candidates.into_iter().map(|h| (h, 0)).collect(),
        }
    }
}

/// The second pass: exact occurrences of the candidates.
pub struct UidCount {
    seen: HashMap<u64, u32>,
}

impl UidCount {
    /// Records one uid.
    pub fn add(&mut self, uid: &str) {
        if self.seen.is_empty() {
            return;
        }
        if let Some(n) = self.seen.get_mut(&hash(uid)) {
            *n += 1;
        }
    }

    /// How many uids repeat one recorded before them.
    pub fn repeats(&self) -> usize {
        self.seen
            .values()
            .map(|&n| n.saturating_sub(1) as usize)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeats(uids: &[String]) -> usize {
        // Small on purpose: false positives must not change the count.
        let mut sieve = UidSieve::for_bytes(1 << 16);
        uids.iter().for_each(|u| sieve.add(u));
        let mut count = sieve.into_count();
        uids.iter().for_each(|u| count.add(u));
        count.repeats()
    }

    #[test]
    fn repeats_are_counted_exactly_after_the_first() {
        let mut uids: Vec<String> = (0..200_000).map(|i| format!("u{i}")).collect();
        assert_eq!(repeats(&uids), 0);
        uids.push("u7".into());
        uids.push("u7".into());
        uids.push("u199999".into());
        assert_eq!(repeats(&uids), 3);
    }
}
