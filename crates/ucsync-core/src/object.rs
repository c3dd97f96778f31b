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
            // Each string preceded by its length, so no two different objects
            // feed the same bytes; lengths as LEB128, mostly one byte, since
            // the hash's cost grows with its input.
            let mut put = |s: &str| {
                let mut n = s.len();
                while n >= 0x80 {
                    buf.push((n as u8) | 0x80);
                    n >>= 7;
                }
                buf.push(n as u8);
                buf.extend_from_slice(s.as_bytes());
            };
            put(&object.id.object_type);
            put(&object.id.key);
            for (f, v) in object.fields.iter() {
                put(f);
                put(v);
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
        let long = |n: usize| ContentHash::of(&k, &obj(&[("x", &"a".repeat(n))]));
        assert_ne!(long(200), long(201), "lengths over one byte of LEB128");
        assert_ne!(
            a,
            ContentHash::of(&[8u8; 32], &obj(&[("x", "1"), ("y", "2")])),
            "keyed"
        );
    }
}
