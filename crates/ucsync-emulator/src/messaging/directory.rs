//! The emulated directory: one product's subscribers, generated from a seed
//! or loaded from a state file, with `modifyTimestamp` kept on the
//! emulator's own clock. No IO here besides the state file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, SubsecRound, Utc};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which messaging product the directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    Aura,
    Cmm,
    Mm,
}

impl std::str::FromStr for Product {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "aura" => Ok(Product::Aura),
            "cmm" => Ok(Product::Cmm),
            "mm" => Ok(Product::Mm),
            _ => Err(format!("unknown product '{s}'; expected aura, cmm or mm")),
        }
    }
}

/// The emulator's own model of each product's directory layout; it mirrors
/// `ucsync-connect/data/ldap/*.schema` (a test holds the two together) but
/// shares no code with the connector.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub suffix: &'static str,
    pub base: &'static str,
    pub object_class: &'static str,
    pub key: &'static str,
    /// Every attribute a subscriber may have, as the schema spells it.
    pub attrs: &'static [&'static str],
    pub label: &'static str,
}

impl Product {
    pub fn layout(self) -> Layout {
        match self {
            Product::Aura => Layout {
                suffix: "o=aura-messaging",
                base: "ou=subscribers,o=aura-messaging",
                object_class: "amSubscriber",
                key: "mailboxNumber",
                attrs: &[
                    "mailboxNumber",
                    "sn",
                    "cn",
                    "givenName",
                    "extension",
                    "classOfService",
                    "communityID",
                    "emailHandle",
                    "secondaryExtension",
                    "coveringExtension",
                    "accountCode",
                    "telephoneNumber",
                    "subscriberPassword",
                ],
                label: "Aura Messaging",
            },
            Product::Cmm => Layout {
                suffix: "o=cm-messaging",
                base: "ou=subscribers,o=cm-messaging",
                object_class: "cmmSubscriber",
                key: "extension",
                attrs: &[
                    "extension",
                    "sn",
                    "subscriberName",
                    "givenName",
                    "cn",
                    "classOfService",
                    "communityID",
                    "mwiEnabled",
                    "accountCode",
                    "emailHandle",
                    "secondaryExtension",
                    "coveringExtension",
                    "subscriberPassword",
                ],
                label: "Communication Manager Messaging",
            },
            Product::Mm => Layout {
                suffix: "o=modular-messaging",
                base: "ou=subscribers,o=modular-messaging",
                object_class: "mmSubscriber",
                key: "numericAddress",
                attrs: &[
                    "numericAddress",
                    "cn",
                    "pbxExtension",
                    "classOfService",
                    "communityID",
                    "emailHandle",
                    "telephoneNumber",
                    "secondaryExtension",
                    "coveringExtension",
                    "accountCode",
                    "subscriberPassword",
                ],
                label: "Modular Messaging",
            },
        }
    }
}

/// One subscriber entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// User attributes, by the schema's spelling; each with one or more values.
    pub attrs: BTreeMap<String, Vec<String>>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub creator: String,
    pub modifier: String,
}

impl Entry {
    /// The values of an attribute, whatever case it is asked for in.
    pub fn get(&self, attr: &str) -> Option<&Vec<String>> {
        self.attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v)
    }
}

/// Why the directory refused a change, as an LDAP result code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u8,
    pub text: String,
}

impl Refusal {
    fn new(code: u8, text: impl Into<String>) -> Refusal {
        Refusal {
            code,
            text: text.into(),
        }
    }
}

/// One attribute change of a modify.
#[derive(Debug, Clone)]
pub enum Change {
    Add(String, Vec<String>),
    Delete(String, Vec<String>),
    Replace(String, Vec<String>),
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    product: Product,
    subscribers: BTreeMap<String, Entry>,
}

/// The subscribers of one product, in key order.
#[derive(Debug)]
pub struct Directory {
    pub product: Product,
    pub layout: Layout,
    pub subscribers: BTreeMap<String, Entry>,
    /// The emulator's clock minus the real one, in seconds.
    clock_offset: AtomicI64,
}

const FIRST: &[&str] = &[
    "Jane", "John", "Maria", "Ahmed", "Wei", "Olga", "Pedro", "Aiko", "Liam", "Fatima", "Noah",
    "Ingrid", "Ravi", "Chloe", "Kofi", "Sofia",
];
const LAST: &[&str] = &[
    "Doe", "Smith", "Garcia", "Khan", "Chen", "Ivanova", "Silva", "Tanaka", "Murphy", "Haddad",
    "Brown", "Larsen", "Patel", "Martin", "Mensah", "Rossi",
];
const COS: &[&str] = &["1", "2", "3", "5", "8"];

/// The extension of the n-th generated subscriber: 7-digit from 2000000, so
/// 100,000 fit and match the stations of an emulated CM of the same numbering.
pub fn extension(n: usize) -> String {
    (2_000_000 + n).to_string()
}

impl Directory {
    pub fn now(&self) -> DateTime<Utc> {
        (Utc::now() + chrono::Duration::seconds(self.clock_offset.load(Ordering::SeqCst)))
            .trunc_subsecs(0)
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::SeqCst);
    }

    /// `count` subscribers, the same for the same seed.
    pub fn generate(product: Product, count: usize, seed: u64, clock_offset: i64) -> Directory {
        let mut d = Directory {
            product,
            layout: product.layout(),
            subscribers: BTreeMap::new(),
            clock_offset: AtomicI64::new(clock_offset),
        };
        let now = d.now();
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
        for n in 0..count {
            let ext = extension(n);
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let cos = COS[rng.random_range(0..COS.len())].to_string();
            let pin: u32 = rng.random_range(100_000..999_999);
            let email = format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), n);
            let mut a: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut put = |k: &str, v: String| {
                a.insert(k.to_string(), vec![v]);
            };
            match product {
                Product::Aura => {
                    put("mailboxNumber", ext.clone());
                    put("extension", ext.clone());
                    put("sn", last.into());
                    put("givenName", first.into());
                    put("cn", format!("{first} {last}"));
                    put("telephoneNumber", format!("+1 303 538 {:04}", n % 10_000));
                }
                Product::Cmm => {
                    put("extension", ext.clone());
                    put("sn", last.into());
                    put("givenName", first.into());
                    put("cn", format!("{first} {last}"));
                    put("subscriberName", format!("{last},{first}"));
                    put(
                        "mwiEnabled",
                        if rng.random_bool(0.8) {
                            "TRUE"
                        } else {
                            "FALSE"
                        }
                        .into(),
                    );
                }
                Product::Mm => {
                    put("numericAddress", ext.clone());
                    put("pbxExtension", ext.clone());
                    put("cn", format!("{first} {last}"));
                    put("telephoneNumber", format!("+1 303 538 {:04}", n % 10_000));
                }
            }
            put("classOfService", cos);
            put("communityID", "1".into());
            put("emailHandle", email);
            if rng.random_bool(0.3) {
                put("coveringExtension", extension((n + 1) % count.max(1)));
            }
            if rng.random_bool(0.2) {
                put("accountCode", rng.random_range(1000..9999u32).to_string());
            }
            put("subscriberPassword", pin.to_string());
            d.subscribers.insert(
                ext,
                Entry {
                    attrs: a,
                    created: now,
                    modified: now,
                    creator: "cn=admin".into(),
                    modifier: "cn=admin".into(),
                },
            );
        }
        d
    }

    pub fn load(path: &Path, clock_offset: i64) -> Result<Directory> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let f: StateFile = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a messaging emulator state file", path.display())
        })?;
        Ok(Directory {
            product: f.product,
            layout: f.product.layout(),
            subscribers: f.subscribers,
            clock_offset: AtomicI64::new(clock_offset),
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let f = StateFile {
            product: self.product,
            subscribers: self.subscribers.clone(),
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&f)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// The key a DN names, when it names a subscriber of this directory.
    pub fn key_of_dn(&self, dn: &str) -> Option<String> {
        let (rdn, parent) = dn.split_once(',')?;
        if normalize_dn(parent) != normalize_dn(self.layout.base) {
            return None;
        }
        let (attr, value) = rdn.split_once('=')?;
        attr.trim()
            .eq_ignore_ascii_case(self.layout.key)
            .then(|| unescape(value.trim()))
    }

    pub fn dn_of(&self, key: &str) -> String {
        format!("{}={key},{}", self.layout.key, self.layout.base)
    }

    fn attr_name(&self, asked: &str) -> Result<&'static str, Refusal> {
        self.layout
            .attrs
            .iter()
            .find(|a| a.eq_ignore_ascii_case(asked))
            .copied()
            .ok_or_else(|| {
                Refusal::new(
                    17,
                    format!(
                        "{asked}: attribute type undefined for {}",
                        self.layout.object_class
                    ),
                )
            })
    }

    pub fn add(
        &mut self,
        dn: &str,
        attrs: &[(String, Vec<String>)],
        by: &str,
    ) -> Result<(), Refusal> {
        let key = self
            .key_of_dn(dn)
            .ok_or_else(|| Refusal::new(32, format!("{dn} is not under {}", self.layout.base)))?;
        if self.subscribers.contains_key(&key) {
            return Err(Refusal::new(68, "entry already exists"));
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut has_class = false;
        for (a, vals) in attrs {
            if a.eq_ignore_ascii_case("objectClass") {
                has_class = vals
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(self.layout.object_class));
                continue;
            }
            let name = self.attr_name(a)?;
            if !vals.is_empty() {
                out.insert(name.to_string(), vals.clone());
            }
        }
        if !has_class {
            return Err(Refusal::new(
                65,
                format!(
                    "a subscriber needs objectClass {}",
                    self.layout.object_class
                ),
            ));
        }
        match out.get(self.layout.key) {
            Some(v) if v.len() == 1 && v[0] == key => {}
            None => {
                out.insert(self.layout.key.to_string(), vec![key.clone()]);
            }
            Some(_) => return Err(Refusal::new(64, "the RDN value differs from the entry's")),
        }
        let now = self.now();
        self.subscribers.insert(
            key,
            Entry {
                attrs: out,
                created: now,
                modified: now,
                creator: by.to_string(),
                modifier: by.to_string(),
            },
        );
        Ok(())
    }

    pub fn modify(&mut self, dn: &str, changes: &[Change], by: &str) -> Result<(), Refusal> {
        let key = self
            .key_of_dn(dn)
            .ok_or_else(|| Refusal::new(32, "no such object"))?;
        let mut names = Vec::new();
        for c in changes {
            let (Change::Add(a, _) | Change::Delete(a, _) | Change::Replace(a, _)) = c;
            let name = self.attr_name(a)?;
            if name == self.layout.key {
                return Err(Refusal::new(
                    67,
                    "the key attribute is the RDN: not allowed to change it",
                ));
            }
            names.push(name);
        }
        let now = self.now();
        let entry = self
            .subscribers
            .get_mut(&key)
            .ok_or_else(|| Refusal::new(32, "no such object"))?;
        let mut attrs = entry.attrs.clone();
        for (c, name) in changes.iter().zip(names) {
            match c {
                Change::Add(_, vals) => attrs
                    .entry(name.to_string())
                    .or_default()
                    .extend(vals.iter().cloned()),
                Change::Replace(_, vals) if vals.is_empty() => {
                    attrs.remove(name);
                }
                Change::Replace(_, vals) => {
                    attrs.insert(name.to_string(), vals.clone());
                }
                Change::Delete(_, vals) if vals.is_empty() => {
                    attrs.remove(name);
                }
                Change::Delete(_, vals) => {
                    if let Some(have) = attrs.get_mut(name) {
                        have.retain(|v| !vals.contains(v));
                        if have.is_empty() {
                            attrs.remove(name);
                        }
                    }
                }
            }
        }
        entry.attrs = attrs;
        entry.modified = now;
        entry.modifier = by.to_string();
        Ok(())
    }

    pub fn delete(&mut self, dn: &str) -> Result<(), Refusal> {
        let key = self
            .key_of_dn(dn)
            .ok_or_else(|| Refusal::new(32, "no such object"))?;
        self.subscribers
            .remove(&key)
            .map(|_| ())
            .ok_or_else(|| Refusal::new(32, "no such object"))
    }
}

/// A DN for comparing: no spaces around separators, lower case.
pub(super) fn normalize_dn(dn: &str) -> String {
    if dn.trim().is_empty() {
        return String::new();
    }
    dn.split(',')
        .map(|rdn| {
            let (a, v) = rdn.split_once('=').unwrap_or((rdn, ""));
            format!("{}={}", a.trim(), v.trim())
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The product a state file holds.
pub(super) fn check_state(path: &Path, product: Product) -> Result<()> {
    if path.exists() {
        let d = Directory::load(path, 0)?;
        if d.product != product {
            bail!(
                "{} holds a {:?} directory, not {product:?}",
                path.display(),
                d.product
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_subscribers() {
        let a = Directory::generate(Product::Cmm, 50, 7, 0);
        let b = Directory::generate(Product::Cmm, 50, 7, 0);
        let c = Directory::generate(Product::Cmm, 50, 8, 0);
        let attrs = |d: &Directory| {
            d.subscribers
                .values()
                .map(|e| e.attrs.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(attrs(&a), attrs(&b));
        assert_ne!(attrs(&a), attrs(&c));
        assert_eq!(a.subscribers.len(), 50);
    }

    #[test]
    fn add_modify_delete_keep_timestamps_and_refuse_what_ldap_refuses() {
        let mut d = Directory::generate(Product::Mm, 3, 1, 0);
        let dn = "numericAddress=555,ou=subscribers,o=modular-messaging";
        let attrs = vec![
            ("objectClass".to_string(), vec!["mmSubscriber".to_string()]),
            ("cn".to_string(), vec!["New One".to_string()]),
        ];
        d.add(dn, &attrs, "cn=admin").unwrap();
        assert_eq!(d.add(dn, &attrs, "cn=admin").unwrap_err().code, 68);
        d.set_clock_offset(3600);
        d.modify(
            dn,
            &[Change::Replace("CN".into(), vec!["Renamed".into()])],
            "cn=x",
        )
        .unwrap();
        let e = &d.subscribers["555"];
        assert_eq!(e.get("cn").unwrap(), &vec!["Renamed".to_string()]);
        assert!(e.modified > e.created);
        assert_eq!(e.modifier, "cn=x");
        let bad = d.modify(
            dn,
            &[Change::Replace("numericAddress".into(), vec!["1".into()])],
            "x",
        );
        assert_eq!(bad.unwrap_err().code, 67);
        let unknown = d.modify(dn, &[Change::Replace("mail".into(), vec!["x".into()])], "x");
        assert_eq!(unknown.unwrap_err().code, 17);
        d.delete(dn).unwrap();
        assert_eq!(d.delete(dn).unwrap_err().code, 32);
    }
}
