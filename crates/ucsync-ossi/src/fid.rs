//! Field ids: 8 hex digits, the first four naming the field, the last four the instance.

use std::fmt;
use std::str::FromStr;

/// An OSSI field id such as `8005ff00`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field id {0:?} is not 8 hex digits")]
pub struct ParseFieldIdError(pub String);

impl FieldId {
    pub fn parse(s: &str) -> Result<Self, ParseFieldIdError> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseFieldIdError(s.to_string()));
        }
        u32::from_str_radix(s, 16)
            .map(FieldId)
            .map_err(|_| ParseFieldIdError(s.to_string()))
    }

    pub const fn from_u32(v: u32) -> Self {
        FieldId(v)
    }

    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// The first four hex digits: which field.
    pub const fn field(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The last four hex digits: which instance (`ff00` for a single field).
    pub const fn instance(self) -> u16 {
        self.0 as u16
    }
}

impl FromStr for FieldId {
    type Err = ParseFieldIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldId::parse(s)
    }
}

impl fmt::Display for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl serde::Serialize for FieldId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FieldId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        FieldId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_lower_case() {
        let f = FieldId::parse("8005FF00").unwrap();
        assert_eq!(f.to_string(), "8005ff00");
        assert_eq!(f.field(), 0x8005);
        assert_eq!(f.instance(), 0xff00);
        assert!(FieldId::parse("8005ff0").is_err());
        assert!(FieldId::parse("8005ff0g").is_err());
        assert!(FieldId::parse("+005ff00").is_err());
    }
}
