//! The key indexes the tiers probe: a small Fx-style hasher, and [`Index`], which maps a key's
//! fingerprint to a chain of record indices (in the records' sorted order) without a list per
//! key. Also the slot helpers for the `usize` tables the tiers keep, where [`NONE`] means
//! "no record".
//!
//! Depends on: std only.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::MAX_KEY_CHAIN;

/// "No record" in an index table.
pub(super) const NONE: usize = usize::MAX;

// ---------------------------------------------------------------------------------------------
// Hashing: a small Fx-style hasher (deterministic, fast on short strings). Inputs come from our
// own ledger and from acquirers' files, not from the public.

#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Multiplication leaves the low bits (the bucket index) weak: mix the high bits down.
        let mut z = self.hash;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub(super) type FxSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

pub(super) fn fx_map<K, V>(capacity: usize) -> FxMap<K, V> {
    FxMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// Hashes a key once; the index stores only this fingerprint, so building and probing never
/// touch the records' strings. Lines whose keys merely share a fingerprint share a chain; every
/// use checks the real key on the candidates it takes.
fn fingerprint<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// Passes an already mixed fingerprint through.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Key fingerprint → chain of record indices in sorted order, without a list per key.
pub(super) struct Index<K: ?Sized> {
    head: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    next: Vec<usize>,
    key: std::marker::PhantomData<fn(&K)>,
}

impl<K: Hash + ?Sized> Index<K> {
    pub(super) fn new(records: usize, capacity: usize) -> Self {
        Index {
            head: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            next: vec![NONE; records],
            key: std::marker::PhantomData,
        }
    }

    /// Room for `additional` more keys (an index built from a million lines would otherwise
    /// grow and rehash some twenty times).
    pub(super) fn reserve(&mut self, additional: usize) {
        self.head.reserve(additional);
    }

    /// Insert records in reverse sorted order so chains come out in sorted order.
    pub(super) fn push_front(&mut self, key: &K, record: usize) {
        let prev = self.head.insert(fingerprint(key), record).unwrap_or(NONE);
        if let Some(slot) = self.next.get_mut(record) {
            *slot = prev;
        }
    }

    /// Candidates for `key` (callers check the real key).
    pub(super) fn chain(&self, key: &K) -> Chain<'_> {
        Chain {
            next: &self.next,
            cur: if self.head.is_empty() {
                NONE
            } else {
                self.head.get(&fingerprint(key)).copied().unwrap_or(NONE)
            },
            left: MAX_KEY_CHAIN,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head.is_empty()
    }
}

pub(super) struct Chain<'a> {
    next: &'a [usize],
    cur: usize,
    left: usize,
}

impl Iterator for Chain<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.cur == NONE || self.left == 0 {
            return None;
        }
        let here = self.cur;
        self.left -= 1;
        self.cur = self.next.get(here).copied().unwrap_or(NONE);
        Some(here)
    }
}

// ---------------------------------------------------------------------------------------------
// Slot helpers: reads and writes that never panic on a bad index.

pub(super) fn get<T>(items: &[T], i: usize) -> Option<&T> {
    items.get(i)
}

pub(super) fn at(items: &[usize], i: usize) -> usize {
    items.get(i).copied().unwrap_or(NONE)
}

pub(super) fn set(items: &mut [usize], i: usize, value: usize) {
    if let Some(slot) = items.get_mut(i) {
        *slot = value;
    }
}
