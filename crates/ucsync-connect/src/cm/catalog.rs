//! The CM catalog: which object types ucsync synchronizes, as data.

use serde::Deserialize;
use ucsync_ossi::FieldId;

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
    name: Option<FieldId>,
    #[serde(default)]
    secret: Vec<FieldId>,
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
    pub name: Option<FieldId>,
    pub secret: Vec<FieldId>,
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
                let words: Vec<&str> = t.object.split_whitespace().collect();
                CmType {
                    object_type: words.join("-"),
                    words: words.join(" "),
                    key: t.key,
                    name: t.name,
                    secret: t.secret,
                }
            })
            .collect();
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
