//! The emulated CM's forms, loaded from `data/cm-forms.toml`: which objects
//! exist, their fields and field ids, the columns of `list`, value rules and
//! how to generate realistic data. Kept as data so a site can correct field
//! ids from a real system's `display` output without a rebuild.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use ucsync_ossi::FieldId;
use ucsync_ossi::vocabulary::Vocabulary;

const BUILTIN: &str = include_str!("../../data/cm-forms.toml");

#[derive(Debug, Deserialize)]
struct FileModel {
    profiles: BTreeMap<String, BTreeMap<String, usize>>,
    form: Vec<FormFile>,
}

#[derive(Debug, Deserialize)]
struct FormFile {
    object: String,
    key: Option<KeySpec>,
    #[serde(default)]
    list: Vec<FieldId>,
    field: Vec<Field>,
}

/// How a form's objects are keyed.
#[derive(Debug, Clone, Deserialize)]
pub struct KeySpec {
    pub field: FieldId,
    pub kind: KeyKind,
    #[serde(default = "one")]
    pub start: u64,
    pub max: Option<u64>,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Extension,
    Number,
    Location,
}

/// One field of a form, with the rules for its values.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    pub fid: FieldId,
    pub name: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    #[serde(default)]
    pub fill: Option<f64>,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub version: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FieldKind {
    Key,
    Text {
        max: usize,
        #[serde(default, rename = "gen")]
        generate: TextGen,
        label: Option<String>,
        value: Option<String>,
    },
    Digits {
        min: usize,
        max: usize,
        value: Option<String>,
        /// Generate sequential values from here, in object order.
        start: Option<u64>,
    },
    Int {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
    Enum {
        values: Vec<String>,
        weights: Option<Vec<u32>>,
    },
    Yn {
        default: String,
    },
    Ref {
        form: String,
    },
    Port,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextGen {
    Person,
    Label,
    Const,
    #[default]
    Empty,
}

/// A form: a keyed object type (station) or a single system-wide form.
#[derive(Debug)]
pub struct Form {
    /// The object phrase's words (`["coverage", "path"]`).
    pub words: Vec<String>,
    /// The object type (`coverage-path`).
    pub object_type: String,
    pub key: Option<KeySpec>,
    pub key_index: Option<usize>,
    pub list: Vec<FieldId>,
    pub fields: Vec<Field>,
    by_fid: HashMap<FieldId, usize>,
    /// For each field that references another form: that form's index.
    pub refs: Vec<(usize, usize)>,
}

impl Form {
    pub fn field_index(&self, fid: FieldId) -> Option<usize> {
        self.by_fid.get(&fid).copied()
    }

    pub fn fids(&self) -> impl Iterator<Item = FieldId> + '_ {
        self.fields.iter().map(|f| f.fid)
    }

    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }
}

/// Every form of the emulated CM, and the object counts of each profile.
#[derive(Debug)]
pub struct Model {
    pub forms: Vec<Form>,
    by_type: HashMap<String, usize>,
    profiles: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Model {
    pub fn builtin() -> Result<Model> {
        Model::from_toml(BUILTIN).context("the built-in CM forms")
    }

    pub fn from_file(path: &Path) -> Result<Model> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Model::from_toml(&text).with_context(|| format!("forms file {}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Model> {
        let file: FileModel = toml::from_str(text)?;
        let vocab = Vocabulary::builtin();
        let mut forms: Vec<Form> = Vec::new();
        let mut by_type = HashMap::new();
        for f in file.form {
            let words: Vec<String> = f.object.split_whitespace().map(str::to_string).collect();
            ensure!(
                vocab
                    .objects()
                    .iter()
                    .any(|o| o.words() == words.as_slice()),
                "form '{}' is not an object of the SAT vocabulary",
                f.object
            );
            let object_type = words.join("-");
            let mut by_fid = HashMap::new();
            for (i, field) in f.field.iter().enumerate() {
                ensure!(
                    by_fid.insert(field.fid, i).is_none(),
                    "form '{object_type}': field id {} twice",
                    field.fid
                );
            }
            let key_index = match &f.key {
                Some(k) => {
                    let i = *by_fid.get(&k.field).with_context(|| {
                        format!("form '{object_type}': key field {} missing", k.field)
                    })?;
                    ensure!(
                        matches!(f.field[i].kind, FieldKind::Key),
                        "form '{object_type}': key field is not of kind key"
                    );
                    Some(i)
                }
                None => {
                    ensure!(
                        f.list.is_empty(),
                        "form '{object_type}' has no key, so no list"
                    );
                    None
                }
            };
            for fid in &f.list {
                ensure!(
                    by_fid.contains_key(fid),
                    "form '{object_type}': list field {fid} is not a field"
                );
            }
            let mut refs = Vec::new();
            for (i, field) in f.field.iter().enumerate() {
                if let FieldKind::Ref { form } = &field.kind {
                    let t = form.split_whitespace().collect::<Vec<_>>().join("-");
                    let target = if t == object_type {
                        forms.len()
                    } else {
                        *by_type.get(&t).with_context(|| format!("form '{object_type}': field {} refers to '{form}', which is not an earlier form", field.fid))?
                    };
                    refs.push((i, target));
                }
                if let FieldKind::Enum { values, weights } = &field.kind {
                    ensure!(
                        !values.is_empty(),
                        "form '{object_type}': enum {} has no values",
                        field.fid
                    );
                    if let Some(w) = weights {
                        ensure!(
                            w.len() == values.len(),
                            "form '{object_type}': enum {} weights do not match values",
                            field.fid
                        );
                    }
                }
            }
            if by_type.insert(object_type.clone(), forms.len()).is_some() {
                bail!("form '{object_type}' twice");
            }
            forms.push(Form {
                words,
                object_type,
                key: f.key,
                key_index,
                list: f.list,
                fields: f.field,
                by_fid,
                refs,
            });
        }
        Ok(Model {
            forms,
            by_type,
            profiles: file.profiles,
        })
    }

    pub fn form_index(&self, object_type: &str) -> Option<usize> {
        self.by_type.get(object_type).copied()
    }

    pub fn form(&self, object_type: &str) -> Option<&Form> {
        self.form_index(object_type).map(|i| &self.forms[i])
    }

    /// Object counts of a profile, by object type.
    pub fn profile(&self, name: &str) -> Result<BTreeMap<String, usize>> {
        self.profiles.get(name).cloned().with_context(|| {
            format!(
                "no profile '{name}' (known: {})",
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}
