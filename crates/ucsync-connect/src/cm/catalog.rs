//! The CM catalog: which object types ucsync synchronizes, as data.

use serde::Deserialize;
use ucsync_ossi::FieldId;

use crate::key::KeyGrammar;

const BUILTIN: &str = include_str!("../../data/cm-catalog.toml");

#[derive(Debug, Deserialize)]
struct File {
    version: VersionField,
    init_forms: Vec<String>,
    #[serde(rename = "type")]
    types: Vec<TypeFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionField {
    pub form: String,
    pub field: FieldId,
}

#[derive(Debug, Deserialize)]
struct TypeFile {
    object: String,
    key: Option<FieldId>,
    key_kind: Option<KeyKind>,
    name: Option<FieldId>,
    #[serde(default)]
    secret: Vec<FieldId>,
}

/// What a keyed type's key is, by the CM's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// An extension: 1 to 13 digits.
    Extension,
    /// A number of 1 to 5 digits, not zero.
    Number,
    /// A board location (`01A05`, `001V2`).
    Location,
}

/// One synchronized object type.
#[derive(Debug, Clone)]
pub struct CmType {
    /// The SAT object words (`coverage path`).
    pub words: String,
    /// The stored object type (`coverage-path`).
    pub object_type: String,
    /// The key field; `None` for a single system-wide form.
    pub key: Option<FieldId>,
    /// What the key is; `None` exactly when the type has no key.
    pub key_kind: Option<KeyKind>,
    pub name: Option<FieldId>,
    pub secret: Vec<FieldId>,
}

impl CmType {
    /// The grammar of this type's key.
    pub fn key_grammar(&self) -> KeyGrammar {
        match self.key_kind {
            None => KeyGrammar::Empty,
            Some(KeyKind::Extension) => KeyGrammar::Digits { min: 1, max: 13 },
            Some(KeyKind::Number) => KeyGrammar::Number { digits: 5 },
            Some(KeyKind::Location) => KeyGrammar::Location,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub version: VersionField,
    pub init_forms: Vec<Vec<String>>,
    pub types: Vec<CmType>,
}

impl Catalog {
    pub fn builtin() -> Catalog {
        Catalog::from_toml(BUILTIN).expect("the built-in CM catalog parses")
    }

    pub fn from_toml(text: &str) -> Result<Catalog, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let types = f
            .types
            .into_iter()
            .map(|t| {
                if t.key.is_some() != t.key_kind.is_some() {
                    return Err(format!(
                        "type {}: give key and key_kind together, or neither for a system-wide form",
                        t.object
                    ));
                }
                let words: Vec<&str> = t.object.split_whitespace().collect();
                Ok(CmType {
                    object_type: words.join("-"),
                    words: words.join(" "),
                    key: t.key,
                    key_kind: t.key_kind,
                    name: t.name,
                    secret: t.secret,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Catalog {
            version: f.version,
            init_forms: f
                .init_forms
                .iter()
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .collect(),
            types,
        })
    }

    pub fn by_type(&self, object_type: &str) -> Option<&CmType> {
        self.types.iter().find(|t| t.object_type == object_type)
    }

    /// The form a resolved object phrase names, when it needs an init.
    pub fn needs_init(&self, words: &[String]) -> Option<String> {
        self.init_forms
            .iter()
            .find(|f| words.len() >= f.len() && words[..f.len()] == f[..])
            .map(|_| words.join(" "))
    }
}
