//! The CM catalog: which object types ucsync synchronizes, as data — the
//! built-in `data/cm-catalog.toml`, and a site's file in the same form (the
//! service's `cm_catalog` setting) that corrects or adds field ids per object
//! type. Both are read by one parser that checks every rule and names the
//! line of a mistake ([`CatalogError`]).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use ucsync_ossi::FieldId;

use crate::key::KeyGrammar;

const BUILTIN: &str = include_str!("../../data/cm-catalog.toml");

/// What the built-in catalogue is called in an error.
const BUILTIN_NAME: &str = "cm-catalog.toml (built in)";

/// A catalogue file as written. Every part is optional, so that a site's
/// file gives only what it changes; the built-in one must give them all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<Spanned<VersionFile>>,
    init_forms: Option<Vec<Spanned<String>>>,
    #[serde(rename = "type", default)]
    types: Vec<TypeFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    form: Spanned<String>,
    field: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeFile {
    object: Spanned<String>,
    key: Option<Spanned<String>>,
    key_kind: Option<Spanned<KeyKind>>,
    name: Option<Spanned<String>>,
    secret: Option<Vec<Spanned<String>>>,
}

/// Where the CM reports its software version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionField {
    pub form: String,
    pub field: FieldId,
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

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Extension => "extension",
            KeyKind::Number => "number",
            KeyKind::Location => "location",
        }
    }
}

/// One synchronized object type.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// What a site's file set of this type: `key`, `key_kind`, `name`,
    /// `secret`, in that order.
    pub site: Vec<&'static str>,
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

/// The catalogue in effect: the built-in one, with a site's file applied
/// when the service is given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub version: VersionField,
    pub init_forms: Vec<Vec<String>>,
    pub types: Vec<CmType>,
    /// The site's file applied to the built-in catalogue, if any.
    pub site_file: Option<String>,
    /// What the site's file set besides types: `version`, `init_forms`.
    pub site: Vec<&'static str>,
}

/// A catalogue file that breaks a rule: the file, the line, and what is
/// wrong, as `cm-catalog.toml:12: station name field `8003ff0`: not 8 hex
/// digits`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct CatalogError {
    pub file: String,
    /// 1-based; `None` when the mistake is of the whole file.
    pub line: Option<usize>,
    pub message: String,
}

/// The text being read, to turn spans into lines.
struct Source<'a> {
    name: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> CatalogError {
        CatalogError {
            file: self.name.to_string(),
            line: span.map(|s| line_of(self.text, s.start)),
            message: message.into(),
        }
    }

    fn at<T>(&self, what: &Spanned<T>, message: impl Into<String>) -> CatalogError {
        self.error(Some(what.span()), message)
    }

    /// A field id of `object_type`, in its `role` (`key`, `name`, `secret`).
    fn field(
        &self,
        object_type: &str,
        role: &str,
        v: &Spanned<String>,
    ) -> Result<FieldId, CatalogError> {
        FieldId::parse(v.get_ref()).map_err(|_| {
            self.at(
                v,
                format!(
                    "{object_type} {role} field `{}`: not 8 hex digits",
                    v.get_ref()
                ),
            )
        })
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Catalog {
    pub fn builtin() -> Catalog {
        Catalog::from_toml(BUILTIN).expect("the built-in CM catalog parses")
    }

    /// A whole catalogue, as the built-in file gives it.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        read(
            None,
            &Source {
                name: BUILTIN_NAME,
                text,
            },
        )
    }

    /// This catalogue with a site's file applied: each `[[type]]` names a
    /// type of this catalogue and replaces the field ids it gives (its
    /// `key`, `name`, the list of `secret` fields) or adds them (a `name`
    /// where there was none); `key_kind`, `version` and `init_forms`
    /// replace theirs. `file` names the file in errors.
    pub fn with_site(&self, file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let mut c = read(Some(self), &Source { name: file, text })?;
        c.site_file = Some(file.to_string());
        Ok(c)
    }

    /// The built-in catalogue with the site's file at `path` applied.
    pub fn load_site(path: &Path) -> Result<Catalog, CatalogError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError {
            file: file.clone(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        Catalog::builtin().with_site(&file, &text)
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

/// Reads a catalogue file: the whole catalogue when there is no `base`, a
/// site's changes to `base` otherwise.
fn read(base: Option<&Catalog>, src: &Source) -> Result<Catalog, CatalogError> {
    let f: File = toml::from_str(src.text).map_err(|e| src.error(e.span(), e.message().trim()))?;
    let mut site = Vec::new();
    let version = match (f.version, base) {
        (Some(v), _) => {
            site.push("version");
            version(src, &v)?
        }
        (None, Some(b)) => b.version.clone(),
        (None, None) => {
            return Err(src.error(
                None,
                "no `version`: give the form and field of the CM's software version",
            ));
        }
    };
    let init_forms = match (f.init_forms, base) {
        (Some(forms), _) => {
            site.push("init_forms");
            init_forms(src, &forms)?
        }
        (None, Some(b)) => b.init_forms.clone(),
        (None, None) => return Err(src.error(None, "no `init_forms`")),
    };
    let mut types: Vec<CmType> = base.map(|b| b.types.clone()).unwrap_or_default();
    // The line of each type given, so a second one names the first.
    let mut given: HashMap<String, usize> = HashMap::new();
    for t in f.types {
        let words: Vec<&str> = t.object.get_ref().split_whitespace().collect();
        if words.is_empty() {
            return Err(src.at(&t.object, "a type with an empty `object`"));
        }
        let object_type = words.join("-");
        let line = line_of(src.text, t.object.span().start);
        if let Some(first) = given.insert(object_type.clone(), line) {
            return Err(src.at(
                &t.object,
                format!("type `{object_type}` is given twice (first at line {first})"),
            ));
        }
        let i = match types.iter().position(|x| x.object_type == object_type) {
            Some(i) => i,
            None if base.is_none() => {
                types.push(CmType {
                    words: words.join(" "),
                    object_type,
                    key: None,
                    key_kind: None,
                    name: None,
                    secret: Vec::new(),
                    site: Vec::new(),
                });
                types.len() - 1
            }
            None => {
                let known: Vec<&str> = types.iter().map(|t| t.object_type.as_str()).collect();
                return Err(src.at(
                    &t.object,
                    format!(
                        "type `{object_type}`: not an object type ucsync synchronizes from a CM; a site's file changes the field ids of these: {}",
                        known.join(", ")
                    ),
                ));
            }
        };
        apply(src, &mut types[i], &t, base.is_some())?;
    }
    if base.is_none() {
        site.clear();
    }
    Ok(Catalog {
        version,
        init_forms,
        types,
        site_file: None,
        site,
    })
}

fn version(src: &Source, v: &Spanned<VersionFile>) -> Result<VersionField, CatalogError> {
    let v = v.get_ref();
    let form: Vec<&str> = v.form.get_ref().split_whitespace().collect();
    if form.is_empty() {
        return Err(src.at(&v.form, "version: an empty `form`"));
    }
    let field = FieldId::parse(v.field.get_ref()).map_err(|_| {
        src.at(
            &v.field,
            format!("version field `{}`: not 8 hex digits", v.field.get_ref()),
        )
    })?;
    Ok(VersionField {
        form: form.join(" "),
        field,
    })
}

fn init_forms(src: &Source, forms: &[Spanned<String>]) -> Result<Vec<Vec<String>>, CatalogError> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for f in forms {
        let words: Vec<String> = f.get_ref().split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Err(src.at(f, "init_forms: an empty form"));
        }
        if out.contains(&words) {
            return Err(src.at(f, format!("init form `{}` is given twice", words.join(" "))));
        }
        out.push(words);
    }
    Ok(out)
}

/// Applies one `[[type]]` to its type: the whole of it for the built-in
/// file, a site's changes otherwise.
fn apply(src: &Source, ty: &mut CmType, t: &TypeFile, site: bool) -> Result<(), CatalogError> {
    let name = ty.object_type.clone();
    let keyed = ty.key.is_some();
    if let Some(k) = &t.key {
        if site && keyed && k.get_ref().trim().is_empty() {
            return Err(src.at(
                k,
                format!("{name} key field ``: a {name} has a key, whose field id can be corrected but not removed"),
            ));
        }
        if site && !keyed {
            return Err(src.at(
                k,
                format!(
                    "{name} key field `{}`: {name} is a system-wide form, without a key",
                    k.get_ref()
                ),
            ));
        }
        ty.key = Some(src.field(&name, "key", k)?);
    }
    if let Some(kind) = &t.key_kind {
        if site && !keyed {
            return Err(src.at(
                kind,
                format!("{name} key_kind: {name} is a system-wide form, without a key"),
            ));
        }
        ty.key_kind = Some(*kind.get_ref());
    }
    if ty.key.is_some() != ty.key_kind.is_some() {
        return Err(src.at(
            &t.object,
            format!(
                "type {name}: give key and key_kind together, or neither for a system-wide form"
            ),
        ));
    }
    if let Some(n) = &t.name {
        ty.name = Some(src.field(&name, "name", n)?);
    }
    if let Some(secret) = &t.secret {
        ty.secret = secret
            .iter()
            .map(|s| src.field(&name, "secret", s))
            .collect::<Result<_, _>>()?;
    }
    if site {
        let given = [
            ("key", t.key.is_some()),
            ("key_kind", t.key_kind.is_some()),
            ("name", t.name.is_some()),
            ("secret", t.secret.is_some()),
        ];
        ty.site = given.iter().filter(|g| g.1).map(|g| g.0).collect();
    }
    one_role_each(src, ty, t)
}

/// A field id has one role in a type: its key, its name, or one of its
/// secrets (a secret key or name would be stored or shown in clear).
fn one_role_each(src: &Source, ty: &CmType, t: &TypeFile) -> Result<(), CatalogError> {
    let mut roles: Vec<(&str, FieldId, Option<Range<usize>>)> = Vec::new();
    if let Some(k) = ty.key {
        roles.push(("key", k, t.key.as_ref().map(Spanned::span)));
    }
    if let Some(n) = ty.name {
        roles.push(("name", n, t.name.as_ref().map(Spanned::span)));
    }
    for (i, s) in ty.secret.iter().enumerate() {
        let span = t.secret.as_ref().and_then(|s| s.get(i)).map(Spanned::span);
        roles.push(("secret", *s, span));
    }
    for (j, later) in roles.iter().enumerate() {
        let Some(earlier) = roles[..j].iter().find(|r| r.1 == later.1) else {
            continue;
        };
        // Said of the one this file gave (what a base gave is sound).
        let (this, other) = if later.2.is_some() {
            (later, earlier)
        } else {
            (earlier, later)
        };
        let article = if other.0 == "secret" { "a" } else { "the" };
        return Err(src.error(
            this.2.clone(),
            format!(
                "{} {} field `{}`: already {article} {} field; a field id has one role in a type",
                ty.object_type, this.0, this.1, other.0
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::builtin().with_site("site.toml", text)
    }

    #[track_caller]
    fn refused(text: &str, expected: &str) {
        let e = site(text).expect_err(text);
        assert_eq!(e.to_string(), expected, "{text}");
    }

    #[test]
    fn the_builtin_catalogue_reads_and_an_empty_site_file_changes_nothing() {
        let b = Catalog::builtin();
        let station = b.by_type("station").unwrap();
        assert_eq!(station.key, FieldId::parse("8005ff00").ok());
        assert_eq!(station.key_kind, Some(KeyKind::Extension));
        assert_eq!(b.by_type("coverage-path").unwrap().words, "coverage path");
        assert!(b.types.iter().all(|t| t.site.is_empty()));
        let empty = site("").unwrap();
        assert_eq!(empty.site_file.as_deref(), Some("site.toml"));
        assert_eq!(
            Catalog {
                site_file: None,
                ..empty
            },
            b
        );
        // A whole copy of the built-in file is as good as no change.
        let copy = site(BUILTIN).unwrap();
        assert_eq!(copy.types.len(), b.types.len());
        for (c, t) in copy.types.iter().zip(&b.types) {
            assert_eq!(
                (c.key, c.key_kind, c.name, &c.secret),
                (t.key, t.key_kind, t.name, &t.secret)
            );
        }
    }

    #[test]
    fn a_site_replaces_and_adds_field_ids_of_a_type_and_keeps_the_rest() {
        let c = site(
            "# a site's corrections\n\
             [[type]]\n\
             object = \"station\"\n\
             name = \"8a03ff00\"\n\
             \n\
             [[type]]\n\
             object = \"signaling-group\"\n\
             name = \"6302FF00\"\n\
             secret = [\"6309ff00\"]\n\
             \n\
             [[type]]\n\
             object = \"coverage path\"\n\
             key = \"7202ff00\"\n",
        )
        .unwrap();
        let station = c.by_type("station").unwrap();
        assert_eq!(station.name, FieldId::parse("8a03ff00").ok());
        assert_eq!(station.key, FieldId::parse("8005ff00").ok(), "kept");
        assert_eq!(station.secret, [FieldId::parse("0016ff00").unwrap()]);
        assert_eq!(station.site, ["name"]);
        let sg = c.by_type("signaling-group").unwrap();
        assert_eq!(sg.name.map(|f| f.to_string()).as_deref(), Some("6302ff00"));
        assert_eq!(sg.site, ["name", "secret"]);
        let cp = c.by_type("coverage-path").unwrap();
        assert_eq!(cp.key, FieldId::parse("7202ff00").ok());
        assert_eq!(cp.key_kind, Some(KeyKind::Number));
        assert_eq!(c.by_type("vdn"), Catalog::builtin().by_type("vdn"));
        assert!(c.site.is_empty());

        let c = site(
            "version = { form = \"system-parameters customer-options\", field = \"a902ff00\" }\n\
             init_forms = [\"dialplan\"]\n",
        )
        .unwrap();
        assert_eq!(c.version.field.to_string(), "a902ff00");
        assert_eq!(c.init_forms, [vec!["dialplan".to_string()]]);
        assert_eq!(c.site, ["version", "init_forms"]);
    }

    #[test]
    fn a_bad_field_id_is_named_with_its_line() {
        refused(
            "\n[[type]]\nobject = \"station\"\nname = \"8003ff0\"\n",
            "site.toml:4: station name field `8003ff0`: not 8 hex digits",
        );
        refused(
            "[[type]]\nobject = \"station\"\nsecret = [\"0016ff00\",\n  \"0016fg00\"]\n",
            "site.toml:4: station secret field `0016fg00`: not 8 hex digits",
        );
        refused(
            "[[type]]\nobject = \"vdn\"\nkey = \"8005 ff00\"\n",
            "site.toml:3: vdn key field `8005 ff00`: not 8 hex digits",
        );
        refused(
            "version = { form = \"system-parameters customer-options\", field = \"a9\" }\n",
            "site.toml:1: version field `a9`: not 8 hex digits",
        );
    }

    #[test]
    fn unknown_types_and_types_given_twice_are_refused() {
        let e = site("[[type]]\nobject = \"stations\"\nname = \"8003ff00\"\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("site.toml", Some(2)));
        assert!(
            e.message.starts_with(
                "type `stations`: not an object type ucsync synchronizes from a CM; a site's file changes the field ids of these: ip-network-region,"
            ),
            "{e}"
        );
        refused(
            "[[type]]\nobject = \"station\"\n[[type]]\nobject = \"hunt-group\"\n[[type]]\nobject = \"station\"\nname = \"8003ff00\"\n",
            "site.toml:6: type `station` is given twice (first at line 2)",
        );
        refused(
            "[[type]]\nobject = \"  \"\n",
            "site.toml:2: a type with an empty `object`",
        );
    }

    #[test]
    fn a_field_id_has_one_role_in_a_type() {
        refused(
            "[[type]]\nobject = \"station\"\nname = \"8005ff00\"\n",
            "site.toml:3: station name field `8005ff00`: already the key field; a field id has one role in a type",
        );
        refused(
            "[[type]]\nobject = \"agent-loginID\"\nsecret = [\"7606ff00\", \"7606ff00\"]\n",
            "site.toml:3: agent-loginID secret field `7606ff00`: already a secret field; a field id has one role in a type",
        );
        // The base's secret, and the name the site gives it.
        refused(
            "[[type]]\nobject = \"station\"\n\nname = \"0016ff00\"\n",
            "site.toml:4: station name field `0016ff00`: already a secret field; a field id has one role in a type",
        );
    }

    #[test]
    fn a_key_is_corrected_never_removed_nor_added_to_a_system_wide_form() {
        refused(
            "[[type]]\nobject = \"station\"\nkey = \"\"\n",
            "site.toml:3: station key field ``: a station has a key, whose field id can be corrected but not removed",
        );
        refused(
            "[[type]]\nobject = \"system-parameters features\"\nkey = \"a701ff00\"\n",
            "site.toml:3: system-parameters-features key field `a701ff00`: system-parameters-features is a system-wide form, without a key",
        );
        refused(
            "[[type]]\nobject = \"dialplan analysis\"\nkey_kind = \"number\"\n",
            "site.toml:3: dialplan-analysis key_kind: dialplan-analysis is a system-wide form, without a key",
        );
        let c = site("[[type]]\nobject = \"board\"\nkey_kind = \"number\"\n").unwrap();
        assert_eq!(c.by_type("board").unwrap().key_kind, Some(KeyKind::Number));
    }

    #[test]
    fn what_is_not_toml_or_not_of_the_catalogue_is_named_with_its_line() {
        let e = site("[[type]]\nobject = \"station\"\nnmae = \"8003ff00\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("unknown field `nmae`"), "{e}");
        let e = site("[[type]]\nobject = \"board\"\nkey_kind = \"slot\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("slot"), "{e}");
        let e = site("[[type]\nobject = \"station\"\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        refused(
            "init_forms = [\"dialplan\", \"cabinet\", \" dialplan \"]\n",
            "site.toml:1: init form `dialplan` is given twice",
        );
        let e = Catalog::load_site(Path::new("/nonexistent/cm-catalog.toml")).unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.to_string()
                .starts_with("/nonexistent/cm-catalog.toml: cannot read it:"),
            "{e}"
        );
    }

    #[test]
    fn the_whole_catalogue_needs_its_parts() {
        let e = Catalog::from_toml("init_forms = []\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cm-catalog.toml (built in): no `version`: give the form and field of the CM's software version"
        );
        let e = Catalog::from_toml(
            "version = { form = \"x\", field = \"a901ff00\" }\ninit_forms = []\n[[type]]\nobject = \"trunk-group\"\nkey = \"6e01ff00\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cm-catalog.toml (built in):4: type trunk-group: give key and key_kind together, or neither for a system-wide form"
        );
    }
}
