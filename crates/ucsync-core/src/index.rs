//! The identities and content hashes of an element's stored objects: what a
//! diff compares against.

use std::collections::BTreeMap;

use crate::object::{ContentHash, ObjectId};

/// A 128-bit digest of an object's identity (type and key): the index of
/// stored objects holds these instead of the strings.
pub fn key_digest(object_type: &str, key: &str) -> u128 {
    // One-shot hashing of a small stack buffer: the streaming hasher's set-up
    // costs more than hashing a few dozen bytes.
    let mut buf = [0u8; 128];
    let n = object_type.len() + 1 + key.len();
    let hash = if n <= buf.len() {
        buf[..object_type.len()].copy_from_slice(object_type.as_bytes());
        buf[object_type.len() + 1..n].copy_from_slice(key.as_bytes());
        blake3::hash(&buf[..n])
    } else {
        let mut h = blake3::Hasher::new();
        h.update(object_type.as_bytes());
        h.update(&[0]);
        h.update(key.as_bytes());
        h.finalize()
    };
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.as_bytes()[..16]);
    u128::from_le_bytes(out)
}

/// One stored object: 40 bytes, with no allocation of its own.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The identity digest, as two halves so the entry is 8-byte aligned.
    digest: [u64; 2],
    hash: ContentHash,
    object_type: u16,
    /// Taken by [`HashIndex::remove`]; taken entries stay in place.
    taken: bool,
}

impl Entry {
    fn digest(&self) -> u128 {
        u128::from(self.digest[0]) | (u128::from(self.digest[1]) << 64)
    }
}

/// The identities and content hashes of stored objects. It keeps a digest
/// per object, not its key, so a million objects cost about 44 MB and no
/// allocation each; the keys of what is left at the end (the deletions) are
/// read back from the store by their digests.
///
/// The entries are one array sorted by digest, with a directory of where each
/// digest prefix starts: loading is appending and one sort, a lookup touches
/// the directory and the entry, and removing marks the entry in place.
#[derive(Debug, Clone, Default)]
pub struct HashIndex {
    entries: Vec<Entry>,
    /// `dir[p]..dir[p + 1]`: the entries whose digest starts with prefix `p`.
    dir: Vec<u32>,
    prefix_bits: u32,
    types: Vec<String>,
    live: usize,
}

/// Collects stored objects in any order; [`HashIndexBuilder::build`] sorts them.
#[derive(Debug, Default)]
pub struct HashIndexBuilder {
    entries: Vec<Entry>,
    types: Vec<String>,
}

impl HashIndexBuilder {
    pub fn push(&mut self, object_type: &str, key: &str, hash: ContentHash) {
        self.push_digest(object_type, key_digest(object_type, key), hash);
    }

    /// An object by its identity digest (see [`key_digest`]).
    pub fn push_digest(&mut self, object_type: &str, digest: u128, hash: ContentHash) {
        let object_type = self.type_index(object_type);
        self.entries.push(Entry {
            digest: [digest as u64, (digest >> 64) as u64],
            hash,
            object_type,
            taken: false,
        });
    }

    /// Adds what another builder collected, after what this one has.
    pub fn append(&mut self, other: HashIndexBuilder) {
        if self.entries.is_empty() && self.types.is_empty() {
            *self = other;
            return;
        }
        let map: Vec<u16> = other.types.iter().map(|t| self.type_index(t)).collect();
        self.entries.extend(other.entries.into_iter().map(|mut e| {
            e.object_type = map[usize::from(e.object_type)];
            e
        }));
    }

    fn type_index(&mut self, object_type: &str) -> u16 {
        // Rows mostly come grouped by type: the last type is checked first.
        let t = match self.types.iter().rposition(|t| t == object_type) {
            Some(i) => i,
            None => {
                self.types.push(object_type.to_string());
                self.types.len() - 1
            }
        };
        u16::try_from(t).expect("fewer than 65,536 object types")
    }

    pub fn build(mut self) -> HashIndex {
        // Stores hand the entries over in digest order: then there is nothing to sort.
        if !self.entries.is_sorted_by_key(Entry::digest) {
            self.entries.sort_unstable_by_key(Entry::digest);
        }
        // A later duplicate of an identity wins, as with inserting into a map.
        self.entries.dedup_by(|later, earlier| {
            if later.digest == earlier.digest {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        let n = self.entries.len();
        // About one entry per prefix, with at most 16 M prefixes (64 MB).
        let prefix_bits = (usize::BITS - n.leading_zeros()).min(24);
        let mut dir = vec![0u32; (1usize << prefix_bits) + 1];
        for e in &self.entries {
            dir[prefix(e.digest(), prefix_bits) + 1] += 1;
        }
        for i in 1..dir.len() {
            dir[i] += dir[i - 1];
        }
        HashIndex {
            live: n,
            entries: self.entries,
            dir,
            prefix_bits,
            types: self.types,
        }
    }
}

fn prefix(digest: u128, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (digest >> (128 - bits)) as usize
    }
}

impl HashIndex {
    fn find(&self, digest: u128) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let p = prefix(digest, self.prefix_bits);
        let (lo, hi) = (self.dir[p] as usize, self.dir[p + 1] as usize);
        let half = [digest as u64, (digest >> 64) as u64];
        self.entries[lo..hi]
            .iter()
            .position(|e| e.digest == half && !e.taken)
            .map(|i| lo + i)
    }

    /// Brings the entries of these digests into the cache, all at once: each
    /// lookup is a miss or two in a table of tens of megabytes, and issued
    /// together the misses overlap instead of following one another.
    pub fn prefetch(&self, digests: impl IntoIterator<Item = u128>) {
        if self.entries.is_empty() {
            return;
        }
        // Independent loads without branches: the processor keeps many in flight.
        let starts: Vec<u32> = digests
            .into_iter()
            .map(|d| self.dir[prefix(d, self.prefix_bits)])
            .collect();
        let last = self.entries.len() - 1;
        let touched = starts.iter().fold(0u64, |acc, s| {
            acc ^ self.entries[(*s as usize).min(last)].digest[0]
        });
        std::hint::black_box(touched);
    }

    pub fn get(&self, id: &ObjectId) -> Option<ContentHash> {
        self.find(key_digest(&id.object_type, &id.key))
            .map(|i| self.entries[i].hash)
    }

    /// Takes an object out by its identity digest; what is never taken is
    /// what was not seen.
    pub fn remove_digest(&mut self, digest: u128) -> Option<ContentHash> {
        let i = self.find(digest)?;
        self.entries[i].taken = true;
        self.live -= 1;
        Some(self.entries[i].hash)
    }

    pub fn contains_digest(&self, digest: u128) -> bool {
        self.find(digest).is_some()
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn live_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.taken)
    }

    /// How many objects of each type.
    pub fn type_counts(&self) -> BTreeMap<String, u64> {
        let mut per = vec![0u64; self.types.len()];
        for e in self.live_entries() {
            per[usize::from(e.object_type)] += 1;
        }
        self.types
            .iter()
            .cloned()
            .zip(per)
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Only the objects of one type.
    pub fn of_type(&self, object_type: &str) -> HashIndex {
        let mut b = HashIndexBuilder::default();
        if let Some(t) = self.types.iter().position(|x| x == object_type) {
            for e in self
                .live_entries()
                .filter(|e| usize::from(e.object_type) == t)
            {
                b.push_digest(object_type, e.digest(), e.hash);
            }
        }
        b.build()
    }

    /// The digests it holds, to find their objects' keys in the store.
    pub fn digests(&self) -> Vec<u128> {
        self.live_entries().map(Entry::digest).collect()
    }
}

impl FromIterator<(ObjectId, ContentHash)> for HashIndex {
    fn from_iter<I: IntoIterator<Item = (ObjectId, ContentHash)>>(iter: I) -> Self {
        let mut b = HashIndexBuilder::default();
        for (id, h) in iter {
            b.push(&id.object_type, &id.key, h);
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> ContentHash {
        ContentHash([b; 16])
    }

    #[test]
    fn finds_takes_and_counts() {
        let idx: HashIndex = (0..1000u32)
            .map(|i| {
                let t = if i % 3 == 0 { "vdn" } else { "station" };
                (ObjectId::new(t, i.to_string()), h((i % 251) as u8))
            })
            .collect();
        assert_eq!(idx.len(), 1000);
        assert_eq!(idx.type_counts()["vdn"], 334);
        let mut idx = idx;
        assert_eq!(idx.get(&ObjectId::new("vdn", "3")), Some(h(3)));
        assert_eq!(
            idx.get(&ObjectId::new("station", "3")),
            None,
            "type matters"
        );
        let vdn3 = key_digest("vdn", "3");
        assert_eq!(idx.remove_digest(vdn3), Some(h(3)));
        assert_eq!(idx.remove_digest(vdn3), None, "taken once");
        assert_eq!(idx.get(&ObjectId::new("vdn", "3")), None);
        assert_eq!(idx.len(), 999);
        assert_eq!(idx.type_counts()["vdn"], 333);
        assert_eq!(idx.digests().len(), 999);
        let vdns = idx.of_type("vdn");
        assert_eq!(vdns.len(), 333);
        assert_eq!(vdns.get(&ObjectId::new("vdn", "6")), Some(h(6)));
        assert_eq!(vdns.get(&ObjectId::new("station", "1")), None);
        assert!(idx.of_type("hunt-group").is_empty());
    }

    #[test]
    fn later_duplicate_wins_and_empty_index_answers() {
        let id = ObjectId::new("station", "1001");
        let idx: HashIndex = [(id.clone(), h(1)), (id.clone(), h(2))]
            .into_iter()
            .collect();
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.get(&id), Some(h(2)));
        let empty = HashIndex::default();
        assert!(empty.is_empty());
        assert_eq!(empty.get(&id), None);
        let built = HashIndexBuilder::default().build();
        assert_eq!(built.get(&id), None);
        assert!(built.type_counts().is_empty());
    }
}
