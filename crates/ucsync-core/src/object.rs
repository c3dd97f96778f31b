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
///
/// Held as one string in which each field and value is preceded by its length
/// and a colon (`8:8003ff009:Doe, Jane…`): one allocation per object instead
/// of two per field, and exactly the bytes the content hash reads.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Fields {
    data: String,
    len: usize,
}

/// `s` preceded by its length and a colon: the framing of fields, and of
/// the type and key before them in the content hash's input.
fn frame(out: &mut impl fmt::Write, s: &str) {
    write!(out, "{}:{s}", s.len()).expect("framing into a String or a hasher");
}

/// Feeds a hasher through `fmt::Write`, so framing needs no buffer.
struct HashWriter(blake3::Hasher);

impl fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

impl Fields {
    /// Sorts by field; a later duplicate wins.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        Fields::from_sorted(pairs.iter().map(|(f, v)| (f.as_str(), v.as_str())))
    }

    fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut out = Fields::default();
        for (f, v) in pairs {
            frame(&mut out.data, f);
            frame(&mut out.data, v);
            out.len += 1;
        }
        out
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.iter()
            .take_while(|(f, _)| *f <= field)
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, field: &str, value: String) {
        let mut pairs: Vec<(&str, &str)> = self.iter().filter(|(f, _)| *f != field).collect();
        let at = pairs.partition_point(|(f, _)| *f < field);
        pairs.insert(at, (field, &value));
        *self = Fields::from_sorted(pairs.into_iter());
    }

    pub fn iter(&self) -> FieldsIter<'_> {
        FieldsIter { rest: &self.data }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The framed fields, as the content hash reads them.
    fn framed(&self) -> &[u8] {
        self.data.as_bytes()
    }
}

/// The (field, value) pairs of [`Fields`], in field order.
#[derive(Debug, Clone)]
pub struct FieldsIter<'a> {
    rest: &'a str,
}

impl<'a> FieldsIter<'a> {
    fn next_str(&mut self) -> Option<&'a str> {
        let (n, rest) = self.rest.split_once(':')?;
        let n: usize = n.parse().expect("fields are framed by Fields itself");
        let (s, rest) = rest.split_at(n);
        self.rest = rest;
        Some(s)
    }
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let f = self.next_str()?;
        let v = self.next_str().expect("every field has a value");
        Some((f, v))
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// As a list of `[field, value]` pairs.
impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<(String, String)>::deserialize(d).map(Fields::new)
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
        // Type and key framed as the fields are, so no two different objects
        // feed the same bytes.
        let mut h = HashWriter(blake3::Hasher::new_keyed(hash_key));
        frame(&mut h, &object.id.object_type);
        frame(&mut h, &object.id.key);
        h.0.update(object.fields.framed());
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.0.finalize().as_bytes()[..16]);
        ContentHash(out)
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
        let mut f = f;
        f.set("c", "x:1".into());
        f.set("a", String::new());
        f.set("0", "12:34".into());
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            [("0", "12:34"), ("a", ""), ("b", "3"), ("c", "x:1")]
        );
        assert_eq!(f.len(), 4);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"[["0","12:34"],["a",""],["b","3"],["c","x:1"]]"#);
        assert_eq!(serde_json::from_str::<Fields>(&json).unwrap(), f);
        assert_eq!(
            format!("{f:?}"),
            r#"{"0": "12:34", "a": "", "b": "3", "c": "x:1"}"#
        );
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
