//! Reading JSON strictly: a struct from a JSON object only. Serde's derive
//! also fills a struct from an array, by position — `[null, null]` as an
//! element patch would clear `alternate_host`, `[1, "days"]` would be a
//! schedule's repeat — which no administrator means; request bodies and
//! the schedule's nested objects go through [`object`].

use serde::{Deserialize, Deserializer};

/// `T` read from a JSON object only (for `#[serde(deserialize_with)]`).
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct Entries<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Entries<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    d.deserialize_map(Entries(std::marker::PhantomData))
}
