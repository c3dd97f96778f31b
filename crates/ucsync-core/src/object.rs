//! Synchronized objects and their content hash.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which object: its type (`station`, `vdn`, `user`, …) and key within it.
/// Single system-wide forms have an empty key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    pub object_type: String,
    pub key: String,
}

impl ObjectId {
    pub fn new(object_type: impl Into<String>, key: impl Into<String>) -> Self {
        ObjectId {
            object_type: object_type.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.object_type)
        } else {
            write!(f, "{} {}", self.object_type, self.key)
        }
    }
}

/// An object's fields: (field, value) pairs in field order, each field once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Sorts by field; a later duplicate wins.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        Fields(pairs)
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(f, _)| f.as_str().cmp(field))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn set(&mut self, field: &str, value: String) {
        match self.0.binary_search_by(|(f, _)| f.as_str().cmp(field)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (field.to_string(), value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, v)| (f.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

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

/// The identities and content hashes of stored objects: what a diff compares
/// against. It keeps a digest per object, not its key, so a million objects
/// cost tens of megabytes and no allocation each; the keys of what is left
/// at the end (the deletions) are read back from the store by their digests.
#[derive(Debug, Clone, Default)]
pub struct HashIndex {
    map: std::collections::HashMap<u128, (ContentHash, u16), foldhash::fast::RandomState>,
    types: Vec<String>,
}

impl HashIndex {
    pub fn with_capacity(n: usize) -> HashIndex {
        HashIndex {
            map: std::collections::HashMap::with_capacity_and_hasher(n, Default::default()),
            types: Vec::new(),
        }
    }

    fn type_index(&mut self, object_type: &str) -> u16 {
        match self.types.iter().position(|t| t == object_type) {
            Some(i) => i as u16,
            None => {
                self.types.push(object_type.to_string());
                (self.types.len() - 1) as u16
            }
        }
    }

    pub fn insert(&mut self, object_type: &str, key: &str, hash: ContentHash) {
        let t = self.type_index(object_type);
        self.map.insert(key_digest(object_type, key), (hash, t));
    }

    pub fn get(&self, id: &ObjectId) -> Option<ContentHash> {
        self.map
            .get(&key_digest(&id.object_type, &id.key))
            .map(|(h, _)| *h)
    }

    pub fn remove(&mut self, id: &ObjectId) -> Option<ContentHash> {
        self.map
            .remove(&key_digest(&id.object_type, &id.key))
            .map(|(h, _)| h)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many objects of each type.
    pub fn type_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let mut per = vec![0u64; self.types.len()];
        for (_, t) in self.map.values() {
            per[*t as usize] += 1;
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
        let Some(t) = self.types.iter().position(|x| x == object_type) else {
            return HashIndex::default();
        };
        let map = self
            .map
            .iter()
            .filter(|(_, (_, x))| *x as usize == t)
            .map(|(d, (h, _))| (*d, (*h, 0)))
            .collect();
        HashIndex {
            map,
            types: vec![object_type.to_string()],
        }
    }

    /// The digests it holds, to find their objects' keys in the store.
    pub fn digests(&self) -> Vec<u128> {
        self.map.keys().copied().collect()
    }

    pub fn contains_digest(&self, d: u128) -> bool {
        self.map.contains_key(&d)
    }
}

impl FromIterator<(ObjectId, ContentHash)> for HashIndex {
    fn from_iter<I: IntoIterator<Item = (ObjectId, ContentHash)>>(iter: I) -> Self {
        let mut idx = HashIndex::default();
        for (id, h) in iter {
            idx.insert(&id.object_type, &id.key, h);
        }
        idx
    }
}

/// One synchronized object with its plaintext fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub id: ObjectId,
    pub fields: Fields,
}

/// A keyed hash of an object's plaintext: equal content gives an equal hash
/// even when secrets are stored encrypted with fresh nonces, and the hash
/// reveals nothing about a secret to whoever reads the database without the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 16]);

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

impl ContentHash {
    /// The hash of `object` under the installation's hash key.
    pub fn of(hash_key: &[u8; 32], object: &Object) -> ContentHash {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with_borrow_mut(|buf| {
            // One contiguous input: many small updates cost more than the copy.
            buf.clear();
            buf.extend_from_slice(object.id.object_type.as_bytes());
            buf.push(0);
            buf.extend_from_slice(object.id.key.as_bytes());
            buf.push(0);
            for (f, v) in object.fields.iter() {
                // Lengths first, so no two different objects feed the same bytes.
                buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
                buf.extend_from_slice(f.as_bytes());
                buf.extend_from_slice(&(v.len() as u64).to_le_bytes());
                buf.extend_from_slice(v.as_bytes());
            }
            let mut out = [0u8; 16];
            out.copy_from_slice(&blake3::keyed_hash(hash_key, buf).as_bytes()[..16]);
            ContentHash(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(fields: &[(&str, &str)]) -> Object {
        Object {
            id: ObjectId::new("station", "1001"),
            fields: Fields::new(
                fields
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn fields_are_sorted_and_unique() {
        let f = Fields::new(vec![
            ("b".into(), "1".into()),
            ("a".into(), "2".into()),
            ("b".into(), "3".into()),
        ]);
        assert_eq!(f.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
        assert_eq!(f.get("b"), Some("3"));
        assert_eq!(f.get("c"), None);
    }

    #[test]
    fn hash_depends_on_content_and_key_not_order() {
        let k = [7u8; 32];
        let a = ContentHash::of(&k, &obj(&[("x", "1"), ("y", "2")]));
        assert_eq!(a, ContentHash::of(&k, &obj(&[("y", "2"), ("x", "1")])));
        assert_ne!(a, ContentHash::of(&k, &obj(&[("x", "1"), ("y", "3")])));
        assert_ne!(
            a,
            ContentHash::of(&k, &obj(&[("x", "12"), ("y", "")])),
            "boundaries matter"
        );
        assert_ne!(
            a,
            ContentHash::of(&[8u8; 32], &obj(&[("x", "1"), ("y", "2")])),
            "keyed"
        );
    }
}
