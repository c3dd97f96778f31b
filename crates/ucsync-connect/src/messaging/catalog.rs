//! The messaging catalog: per product, where the subscribers are in the
//! directory and which LDAP attribute is stored as which field, as data.

use std::collections::BTreeMap;

use serde::Deserialize;
use ucsync_core::ElementKind;

use crate::key::KeyGrammar;

const BUILTIN: &str = include_str!("../../data/messaging-catalog.toml");

/// The OpenLDAP schema files of ucsync's model, by product.
pub const SCHEMAS: &[(&str, &str)] = &[
    ("aura", include_str!("../../data/ldap/aura.schema")),
    ("cmm", include_str!("../../data/ldap/cmm.schema")),
    ("mm", include_str!("../../data/ldap/mm.schema")),
];

/// The stored fields that link a subscriber to its station on a CM.
pub const LINK_CM: &str = "cm";
pub const LINK_STATION: &str = "station";

#[derive(Debug, Deserialize)]
struct File {
    product: Vec<Product>,
}

/// One messaging product's directory layout and mapping.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    /// `aura`, `cmm` or `mm`.
    pub product: String,
    /// The element kind that is this product.
    pub kind: ElementKind,
    pub label: String,
    /// The DN under which the subscribers are (one level).
    pub base: String,
    pub object_class: String,
    /// The attribute that is a subscriber's key (and its RDN).
    pub key: String,
    /// How many digits the key has.
    pub key_digits: KeyDigits,
    /// The attribute shown as its name by search.
    pub name: String,
    /// The attribute holding the extension of its station on the CM.
    pub station: String,
    /// LDAP attribute → stored field.
    pub fields: BTreeMap<String, String>,
}

/// The least and most digits of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct KeyDigits {
    pub min: usize,
    pub max: usize,
}

impl Product {
    /// The grammar of a subscriber's key.
    pub fn key_grammar(&self) -> KeyGrammar {
        KeyGrammar::Digits {
            min: self.key_digits.min,
            max: self.key_digits.max,
        }
    }

    /// The stored field of an attribute, whatever case the server wrote it in.
    pub fn field_of(&self, attr: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, f)| f.as_str())
    }

    /// The attribute of a stored field.
    pub fn attr_of(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, f)| *f == field)
            .map(|(a, _)| a.as_str())
    }

    /// The attributes to ask for when reading subscribers.
    pub fn attrs(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }

    /// Only this product's subscribers.
    pub fn filter(&self) -> String {
        format!("(objectClass={})", self.object_class)
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<Product>,
}

impl Catalog {
    pub fn builtin() -> Catalog {
        Catalog::from_toml(BUILTIN).expect("the built-in messaging catalog parses")
    }

    pub fn from_toml(text: &str) -> Result<Catalog, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        for p in &f.product {
            for a in [&p.key, &p.name, &p.station] {
                if p.field_of(a).is_none() {
                    return Err(format!(
                        "product {}: attribute {a} is used but not mapped to a field",
                        p.product
                    ));
                }
            }
        }
        Ok(Catalog {
            products: f.product,
        })
    }

    pub fn by_kind(&self, kind: ElementKind) -> Option<&Product> {
        self.products.iter().find(|p| p.kind == kind)
    }

    pub fn by_product(&self, product: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product == product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute names an OpenLDAP schema file defines or takes from
    /// core.schema, and its object classes.
    fn schema_names(text: &str) -> (Vec<String>, Vec<String>) {
        let (mut attrs, mut classes) = (Vec::new(), Vec::new());
        let mut last_kind = "";
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("attributetype") {
                last_kind = "a";
            } else if t.starts_with("objectclass") {
                last_kind = "o";
            } else if let Some(rest) = t.strip_prefix("NAME '") {
                let n = rest.split('\'').next().unwrap_or_default().to_string();
                if last_kind == "a" {
                    attrs.push(n)
                } else {
                    classes.push(n)
                }
            }
        }
        for core in ["cn", "sn", "givenName", "telephoneNumber"] {
            attrs.push(core.into());
        }
        (attrs, classes)
    }

    #[test]
    fn every_mapped_attribute_is_in_its_products_schema_and_no_password_is_mapped() {
        let c = Catalog::builtin();
        assert_eq!(c.products.len(), 3);
        for (product, text) in SCHEMAS {
            let p = c.by_product(product).unwrap();
            let (attrs, classes) = schema_names(text);
            assert!(classes.contains(&p.object_class), "{product}");
            for a in p.fields.keys() {
                assert!(attrs.contains(a), "{product}: {a} is not in its schema");
            }
            assert!(p.field_of("subscriberPassword").is_none());
            assert!(p.fields.values().all(|f| !f.contains("password")));
            assert!(attrs.contains(&"subscriberPassword".to_string()));
        }
    }

    #[test]
    fn each_messaging_kind_has_a_product() {
        let c = Catalog::builtin();
        for k in [
            ElementKind::Messaging,
            ElementKind::CmMessaging,
            ElementKind::ModularMessaging,
        ] {
            assert!(c.by_kind(k).is_some(), "{k}");
        }
        assert!(c.by_kind(ElementKind::Cm).is_none());
    }
}
