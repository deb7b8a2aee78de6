//! The uids of the stored measurements, in memory, for de-duplication
//! without a uid index on disk: a B-tree index on random uids dirties a
//! random page per insert, which at millions of rows made every commit
//! write megabytes. The database keeps `measurement_uids(n, h)`, appended
//! in arrival order (sequential pages); this index is built from it on
//! first use, so starting (and `plan --local`) does not pay for it.
//!
//! A hit is only a candidate: the caller compares the stored row's real
//! uid, so a hash collision never drops a distinct measurement, and an
//! entry of a rolled-back change (its row never stored, or its number
//! reused) is harmless.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Entries kept in the hash map before they move into the sorted vector
/// (its table is allocated once: about 4 MB).
const RECENT_MAX: usize = 1 << 18;

/// The keys are already hashes: use them as they are (no SipHash).
#[derive(Debug, Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only i64 keys are hashed; this is for completeness.
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = v as u64;
    }
}

type Recent = HashMap<i64, i64, BuildHasherDefault<Identity>>;

/// The 64-bit FNV-1a hash of a uid, as stored in `measurement_uids.h`.
/// Fixed (not std's randomly keyed hasher): it is persisted.
pub(crate) fn hash(uid: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Row numbers of the stored measurements by uid hash.
#[derive(Debug)]
pub(crate) struct Uids {
    /// Sorted by hash; a hash may repeat (a collision).
    base: Vec<(i64, i64)>,
    /// Recent entries; a second row of one hash goes to `overflow`.
    recent: Recent,
    overflow: Vec<(i64, i64)>,
}

impl Uids {
    /// An index of these `(hash, n)` entries (any order).
    pub(crate) fn from_entries(mut base: Vec<(i64, i64)>) -> Uids {
        base.sort_unstable();
        Uids {
            base,
            recent: Recent::with_capacity_and_hasher(RECENT_MAX, Default::default()),
            overflow: Vec::new(),
        }
    }

    /// Every row number stored with this hash (candidates to compare).
    pub(crate) fn candidates(&self, h: i64) -> impl Iterator<Item = i64> + '_ {
        let start = self.base.partition_point(|&(k, _)| k < h);
        let from_base = self.base[start..]
            .iter()
            .take_while(move |&&(k, _)| k == h)
            .map(|&(_, n)| n);
        let from_recent = self.recent.get(&h).copied();
        let from_overflow = self
            .overflow
            .iter()
            .filter(move |&&(k, _)| k == h)
            .map(|&(_, n)| n);
        from_base.chain(from_recent).chain(from_overflow)
    }

    /// Records that row `n` holds a uid of hash `h`.
    pub(crate) fn insert(&mut self, h: i64, n: i64) {
        if let Some(&old) = self.recent.get(&h)
            && old != n
        {
            self.overflow.push((h, n));
        } else {
            self.recent.insert(h, n);
        }
        if self.recent.len() >= RECENT_MAX {
            self.fold();
        }
    }

    /// Moves the recent entries into the sorted vector: a merge from the
    /// back, in place (no second copy of the vector).
    fn fold(&mut self) {
        let mut tail: Vec<(i64, i64)> = self.recent.drain().collect();
        tail.append(&mut self.overflow);
        tail.sort_unstable();
        let old = self.base.len();
        self.base.reserve_exact(tail.len());
        self.base.resize(old + tail.len(), (0, 0));
        let (mut i, mut j, mut k) = (old, tail.len(), old + tail.len());
        while j > 0 {
            if i > 0 && self.base[i - 1] > tail[j - 1] {
                self.base[k - 1] = self.base[i - 1];
                i -= 1;
            } else {
                self.base[k - 1] = tail[j - 1];
                j -= 1;
            }
            k -= 1;
        }
    }
}

impl Default for Uids {
    fn default() -> Self {
        Uids::from_entries(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_base_recent_and_collisions_across_folds() {
        let mut u = Uids::from_entries(vec![(5, 1), (3, 2), (5, 3)]);
        u.insert(4, 10);
        u.insert(4, 11); // same hash, another row: a collision
        u.insert(5, 12);
        let mut c: Vec<i64> = u.candidates(5).collect();
        c.sort_unstable();
        assert_eq!(c, [1, 3, 12]);
        let mut c: Vec<i64> = u.candidates(4).collect();
        c.sort_unstable();
        assert_eq!(c, [10, 11]);
        u.fold();
        assert!(u.base.windows(2).all(|w| w[0] <= w[1]), "{:?}", u.base);
        let mut c: Vec<i64> = u.candidates(5).collect();
        c.sort_unstable();
        assert_eq!(c, [1, 3, 12]);
        assert_eq!(u.candidates(9).count(), 0);
        assert_eq!(hash("a"), hash("a"));
        assert_ne!(hash("a"), hash("b"));
    }
}
