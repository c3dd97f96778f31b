//! The body of `GET /catalog`: the catalogues in effect — what ucsync reads
//! from each element kind, as the service's connectors and key checks see it.

use serde::{Deserialize, Serialize};
use ucsync_connect::Catalogs;
use ucsync_connect::cm::catalog::{CmType, KeyKind};
use utoipa::ToSchema;

/// The catalogues in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogView {
    pub cm: CmCatalogView,
}

/// The CM catalogue: the built-in one, with the site's file (the
/// `cm_catalog` setting) applied when the service was given one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CmCatalogView {
    /// The site's file applied to the built-in catalogue, as the setting
    /// names it; `null` for the built-in catalogue alone.
    pub site_file: Option<String>,
    /// The form and field where the CM reports its software version.
    pub version: CmVersionView,
    /// Forms whose change in the CM's history needs an initializing sync.
    pub init_forms: Vec<String>,
    /// Whether the site's file set `version` and `init_forms`.
    pub site: Vec<String>,
    /// The object types ucsync synchronizes, in the order it reads them.
    pub types: Vec<CmTypeView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CmVersionView {
    /// SAT object words (`system-parameters customer-options`).
    pub form: String,
    /// A field id: 8 hex digits.
    pub field: String,
}

/// What a CM type's key is: `extension` (1 to 13 digits), `number` (1 to 5
/// digits, not zero), `location` (a board location, `01A05` or `001V2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CmKeyKind {
    Extension,
    Number,
    Location,
}

impl From<KeyKind> for CmKeyKind {
    fn from(k: KeyKind) -> Self {
        match k {
            KeyKind::Extension => CmKeyKind::Extension,
            KeyKind::Number => CmKeyKind::Number,
            KeyKind::Location => CmKeyKind::Location,
        }
    }
}

impl CmKeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CmKeyKind::Extension => "extension",
            CmKeyKind::Number => "number",
            CmKeyKind::Location => "location",
        }
    }
}

/// One CM object type and its field ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CmTypeView {
    /// The stored object type (`coverage-path`).
    pub object_type: String,
    /// Its SAT object words (`coverage path`).
    pub words: String,
    /// The key field; `null` for a single system-wide form.
    pub key: Option<String>,
    pub key_kind: Option<CmKeyKind>,
    /// The field shown as an object's name.
    pub name: Option<String>,
    /// Fields stored encrypted, never logged, never answered.
    pub secret: Vec<String>,
    /// What the site's file set of this type: `key`, `key_kind`, `name`, `secret`.
    pub site: Vec<String>,
}

impl From<&CmType> for CmTypeView {
    fn from(t: &CmType) -> Self {
        CmTypeView {
            object_type: t.object_type.clone(),
            words: t.words.clone(),
            key: t.key.map(|f| f.to_string()),
            key_kind: t.key_kind.map(CmKeyKind::from),
            name: t.name.map(|f| f.to_string()),
            secret: t.secret.iter().map(|f| f.to_string()).collect(),
            site: t.site.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl From<&Catalogs> for CatalogView {
    fn from(c: &Catalogs) -> Self {
        let cm = &c.cm;
        CatalogView {
            cm: CmCatalogView {
                site_file: cm.site_file.clone(),
                version: CmVersionView {
                    form: cm.version.form.clone(),
                    field: cm.version.field.to_string(),
                },
                init_forms: cm.init_forms.iter().map(|f| f.join(" ")).collect(),
                site: cm.site.iter().map(|s| s.to_string()).collect(),
                types: cm.types.iter().map(CmTypeView::from).collect(),
            },
        }
    }
}
