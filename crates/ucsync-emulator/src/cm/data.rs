//! The emulated CM's translations: every object of every form, in memory,
//! plus their deterministic generation from a seed and their save file.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, ensure};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use serde::{Deserialize, Serialize};
use ucsync_ossi::FieldId;
use ucsync_ossi::wellknown::station;

use super::model::{Field, FieldKind, Form, KeyKind, Model, TextGen};

/// An object key, ordered the way a CM lists them: numerically for digit
/// strings (shorter first), then by text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(pub Box<str>);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Key {
    pub fn new(s: &str) -> Key {
        Key(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One object's values, in the order of its form's fields.
pub(super) type Values = Vec<Box<str>>;

/// The objects of one form.
#[derive(Debug, Clone)]
pub enum FormData {
    Keyed(BTreeMap<Key, Values>),
    Single(Values),
}

/// All translations of the CM.
#[derive(Debug, Clone)]
pub struct Translations {
    pub forms: Vec<FormData>,
}

impl Translations {
    pub fn keyed(&self, form: usize) -> Option<&BTreeMap<Key, Values>> {
        match &self.forms[form] {
            FormData::Keyed(m) => Some(m),
            FormData::Single(_) => None,
        }
    }

    pub fn keyed_mut(&mut self, form: usize) -> Option<&mut BTreeMap<Key, Values>> {
        match &mut self.forms[form] {
            FormData::Keyed(m) => Some(m),
            FormData::Single(_) => None,
        }
    }

    pub fn exists(&self, form: usize, key: &str) -> bool {
        self.keyed(form)
            .is_some_and(|m| m.contains_key(&Key::new(key)))
    }

    /// How many objects of each keyed type there are.
    pub fn counts(&self, model: &Model) -> BTreeMap<String, usize> {
        model
            .forms
            .iter()
            .zip(&self.forms)
            .filter_map(|(f, d)| match d {
                FormData::Keyed(m) => Some((f.object_type.clone(), m.len())),
                FormData::Single(_) => None,
            })
            .collect()
    }

    /// Generates realistic data for the given counts; the same seed gives the same data.
    pub fn generate(
        model: &Model,
        counts: &BTreeMap<String, usize>,
        seed: u64,
        version: &str,
    ) -> Result<Translations> {
        for t in counts.keys() {
            let f = model
                .form(t)
                .with_context(|| format!("no object type '{t}'"))?;
            ensure!(f.is_keyed(), "'{t}' is a single form and has no count");
        }
        let mut g = Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            sip_port: 0,
            board_port: 0,
            index: 0,
            keys: Vec::new(),
            current: Vec::new(),
        };
        let mut forms: Vec<FormData> = Vec::with_capacity(model.forms.len());
        for form in &model.forms {
            let data = match &form.key {
                None => FormData::Single(g.object(form, None, version)),
                Some(spec) => {
                    let n = counts.get(&form.object_type).copied().unwrap_or(0);
                    if let Some(max) = spec.max {
                        ensure!(
                            spec.start + n as u64 <= max + 1,
                            "{} {}s do not fit under the maximum {max}",
                            n,
                            form.object_type
                        );
                    }
                    let mut map = BTreeMap::new();
                    for i in 0..n {
                        let key = key_at(spec.kind, spec.start, i as u64);
                        g.index = i as u64;
                        let values = g.object(form, Some(&key), version);
                        g.current.push(key.as_str().into());
                        map.insert(Key::new(&key), values);
                    }
                    FormData::Keyed(map)
                }
            };
            g.keys.push(std::mem::take(&mut g.current));
            forms.push(data);
        }
        Ok(Translations { forms })
    }

    /// Writes the translations (what `save translation` does).
    pub fn save(&self, model: &Model, path: &Path) -> Result<()> {
        let mut file = SaveFile {
            format: 1,
            forms: BTreeMap::new(),
        };
        for (form, data) in model.forms.iter().zip(&self.forms) {
            let fields = form.fids().collect();
            let objects = match data {
                FormData::Keyed(m) => m.values().cloned().collect(),
                FormData::Single(v) => vec![v.clone()],
            };
            file.forms
                .insert(form.object_type.clone(), SavedForm { fields, objects });
        }
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec(&file)?;
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Reads saved translations; fields the forms no longer have are dropped
    /// and new fields start empty.
    pub fn load(model: &Model, path: &Path) -> Result<Translations> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: SaveFile = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a saved translation", path.display()))?;
        ensure!(
            file.format == 1,
            "{}: unknown save format {}",
            path.display(),
            file.format
        );
        let mut forms = Vec::new();
        for form in &model.forms {
            let saved = file.forms.get(&form.object_type);
            let remap = |v: &Values, fields: &[FieldId]| -> Values {
                form.fields
                    .iter()
                    .map(|f| {
                        fields
                            .iter()
                            .position(|x| *x == f.fid)
                            .and_then(|i| v.get(i).cloned())
                            .unwrap_or_default()
                    })
                    .collect()
            };
            let data = match (&form.key, saved) {
                (Some(_), Some(s)) => {
                    let ki = form.key_index.expect("keyed form has a key field");
                    FormData::Keyed(
                        s.objects
                            .iter()
                            .map(|v| {
                                let v = remap(v, &s.fields);
                                (Key(v[ki].clone()), v)
                            })
                            .collect(),
                    )
                }
                (Some(_), None) => FormData::Keyed(BTreeMap::new()),
                (None, Some(s)) if !s.objects.is_empty() => {
                    FormData::Single(remap(&s.objects[0], &s.fields))
                }
                (None, _) => FormData::Single(vec![Box::from(""); form.fields.len()]),
            };
            forms.push(data);
        }
        Ok(Translations { forms })
    }
}

#[derive(Serialize, Deserialize)]
struct SaveFile {
    format: u32,
    forms: BTreeMap<String, SavedForm>,
}

#[derive(Serialize, Deserialize)]
struct SavedForm {
    fields: Vec<FieldId>,
    objects: Vec<Values>,
}

/// The key of the i-th generated object.
pub(super) fn key_at(kind: KeyKind, start: u64, i: u64) -> String {
    match kind {
        KeyKind::Extension | KeyKind::Number => (start + i).to_string(),
        KeyKind::Location => {
            let i = i + start.saturating_sub(1);
            let cabinet = i / 100 + 1;
            let carrier = (b'A' + ((i / 20) % 5) as u8) as char;
            let slot = i % 20 + 1;
            format!("{cabinet:02}{carrier}{slot:02}")
        }
    }
}

const FIRST: &[&str] = &[
    "Adam", "Alice", "Amir", "Ana", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Daniel", "Divya",
    "Elena", "Emma", "Farah", "Felix", "Grace", "Hannah", "Hiro", "Ines", "Ivan", "Jack", "Jana",
    "Jose", "Julia", "Kai", "Karen", "Lars", "Leila", "Liam", "Lucia", "Maria", "Mark", "Mei",
    "Mohammed", "Nadia", "Noah", "Olga", "Omar", "Paul", "Priya", "Rafael", "Rosa", "Sam", "Sara",
    "Sofia", "Tariq", "Tom", "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe", "Ravi", "Nora",
    "Eric", "Ingrid",
];
const LAST: &[&str] = &[
    "Adams",
    "Ahmed",
    "Andersen",
    "Baker",
    "Becker",
    "Brown",
    "Carpenter",
    "Chen",
    "Costa",
    "Da Silva",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Green",
    "Hall",
    "Hansen",
    "Ito",
    "Jansen",
    "Johnson",
    "Kim",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Miller",
    "Moreau",
    "Muller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Patel",
    "Perez",
    "Petrov",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Thomas",
    "Torres",
    "Van Dijk",
    "Wagner",
    "Walker",
    "Wang",
    "Weber",
    "White",
    "Wilson",
    "Yamamoto",
    "Young",
    "Zhang",
];

struct Generator {
    rng: ChaCha8Rng,
    sip_port: u32,
    board_port: u32,
    /// The position of the object being generated within its form.
    index: u64,
    /// The keys of each form generated so far, for references.
    keys: Vec<Vec<Box<str>>>,
    /// The keys of the form being generated, for references to itself.
    current: Vec<Box<str>>,
}

impl Generator {
    fn object(&mut self, form: &Form, key: Option<&str>, version: &str) -> Values {
        let mut values: Values = Vec::with_capacity(form.fields.len());
        for field in &form.fields {
            let v = self.value(form, field, key, version);
            values.push(v.into());
        }
        // A port goes with the set type: SIP sets register, others sit on a board.
        if let (Some(pi), Some(ti)) = (
            form.field_index(station::PORT),
            form.field_index(station::TYPE),
        ) {
            if matches!(form.fields[pi].kind, FieldKind::Port) {
                values[pi] = self.port(&values[ti]).into();
            }
        }
        values
    }

    fn port(&mut self, set_type: &str) -> String {
        if set_type.contains("SIP") {
            self.sip_port += 1;
            format!("S{:05}", self.sip_port)
        } else if self.rng.random_bool(0.05) {
            "X".to_string()
        } else {
            let i = self.board_port;
            self.board_port += 1;
            let port = i % 24 + 1;
            let slot = (i / 24) % 20 + 1;
            let carrier = (b'A' + ((i / 480) % 5) as u8) as char;
            let cabinet = i / 2400 + 1;
            format!("{cabinet:02}{carrier}{slot:02}{port:02}")
        }
    }

    fn value(&mut self, form: &Form, field: &Field, key: Option<&str>, version: &str) -> String {
        if field.version {
            return version.to_string();
        }
        if matches!(field.kind, FieldKind::Key) {
            return key.unwrap_or_default().to_string();
        }
        if let Some(p) = field.fill {
            if !self.rng.random_bool(p.clamp(0.0, 1.0)) {
                return String::new();
            }
        }
        match &field.kind {
            FieldKind::Key => unreachable!("handled above"),
            FieldKind::Text {
                max,
                generate,
                label,
                value,
            } => {
                let s = match generate {
                    TextGen::Person => {
                        let last = LAST[self.rng.random_range(0..LAST.len())];
                        let first = FIRST[self.rng.random_range(0..FIRST.len())];
                        format!("{last}, {first}")
                    }
                    TextGen::Label => label
                        .as_deref()
                        .unwrap_or("{n}")
                        .replace("{n}", key.unwrap_or("1")),
                    TextGen::Const => value.clone().unwrap_or_default(),
                    TextGen::Empty => String::new(),
                };
                s.chars().take(*max).collect()
            }
            FieldKind::Digits {
                max, value, start, ..
            } => match (value, start) {
                (Some(v), _) => v.clone(),
                (None, Some(s)) => (s + self.index).to_string(),
                (None, None) => (0..*max)
                    .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
                    .collect(),
            },
            FieldKind::Int { min, max, default } => match default {
                Some(d) => d.to_string(),
                None => self.rng.random_range(*min..=*max).to_string(),
            },
            FieldKind::Enum { values, weights } => match weights {
                Some(w) => {
                    let total: u32 = w.iter().sum();
                    let mut pick = self.rng.random_range(0..total.max(1));
                    let mut chosen = &values[0];
                    for (v, wt) in values.iter().zip(w) {
                        if pick < *wt {
                            chosen = v;
                            break;
                        }
                        pick -= wt;
                    }
                    chosen.clone()
                }
                None => values[0].clone(),
            },
            FieldKind::Yn { default } => default.clone(),
            FieldKind::Ref { .. } => {
                let fi = form.field_index(field.fid).expect("field of its form");
                let target = form.refs.iter().find(|(i, _)| *i == fi).map(|(_, t)| *t);
                let keys = match target {
                    Some(t) if t < self.keys.len() => &self.keys[t],
                    _ => &self.current,
                };
                if keys.is_empty() {
                    String::new()
                } else {
                    keys[self.rng.random_range(0..keys.len())].to_string()
                }
            }
            FieldKind::Port => "X".to_string(),
        }
    }
}

/// Whether `text` is a valid value for `field`; `Err` says why not.
pub(super) fn check_value(
    field: &Field,
    text: &str,
    exists: impl Fn(&str) -> bool,
) -> Result<(), String> {
    if text.is_empty() {
        return match &field.kind {
            FieldKind::Text { .. } | FieldKind::Digits { .. } | FieldKind::Ref { .. } => Ok(()),
            FieldKind::Enum { values, .. } if values.iter().any(String::is_empty) => Ok(()),
            _ => Err(format!("{} cannot be blank", field.name)),
        };
    }
    match &field.kind {
        FieldKind::Key => Err(format!("{} cannot be changed", field.name)),
        FieldKind::Text { max, .. } => {
            let n = text.chars().count();
            if n > *max {
                Err(format!("{} is at most {max} characters", field.name))
            } else {
                Ok(())
            }
        }
        FieldKind::Digits { min, max, .. } => {
            if text.bytes().all(|b| b.is_ascii_digit()) && (*min..=*max).contains(&text.len()) {
                Ok(())
            } else {
                Err(format!("{} must be {min} to {max} digits", field.name))
            }
        }
        FieldKind::Int { min, max, .. } => match text.parse::<i64>() {
            Ok(v) if (*min..=*max).contains(&v) => Ok(()),
            _ => Err(format!(
                "{} must be a number from {min} to {max}",
                field.name
            )),
        },
        FieldKind::Enum { values, .. } => {
            if values.iter().any(|v| v == text) {
                Ok(())
            } else {
                Err(format!(
                    "{} must be one of {}",
                    field.name,
                    values
                        .iter()
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        FieldKind::Yn { .. } => {
            if text == "y" || text == "n" {
                Ok(())
            } else {
                Err(format!("{} must be y or n", field.name))
            }
        }
        FieldKind::Ref { form } => {
            if exists(text) {
                Ok(())
            } else {
                Err(format!("{} {text} is not assigned", form))
            }
        }
        FieldKind::Port => {
            let b = text.as_bytes();
            let sip = b.len() == 6 && b[0] == b'S' && b[1..].iter().all(u8::is_ascii_digit);
            let board = b.len() == 7
                && b[..2].iter().all(u8::is_ascii_digit)
                && (b'A'..=b'E').contains(&b[2])
                && b[3..].iter().all(u8::is_ascii_digit);
            if text == "X" || text == "IP" || sip || board {
                Ok(())
            } else {
                Err(format!(
                    "{} must be X, IP, S00001 or a board port like 01A0101",
                    field.name
                ))
            }
        }
    }
}

/// Whether `key` is a valid key for the form.
pub(super) fn check_key(kind: KeyKind, key: &str) -> bool {
    let b = key.as_bytes();
    match kind {
        KeyKind::Extension => (1..=13).contains(&b.len()) && b.iter().all(u8::is_ascii_digit),
        KeyKind::Number => {
            (1..=5).contains(&b.len())
                && b.iter().all(u8::is_ascii_digit)
                && key.parse::<u64>().is_ok_and(|n| n > 0)
        }
        KeyKind::Location => {
            b.len() == 5
                && b[..2].iter().all(u8::is_ascii_digit)
                && (b'A'..=b'E').contains(&b[2])
                && b[3..].iter().all(u8::is_ascii_digit)
        }
    }
}

/// The fields that hold references, per form: (form, field) -> target form.
pub(super) fn reverse_refs(model: &Model) -> HashMap<usize, Vec<(usize, usize)>> {
    let mut out: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
    for (fi, form) in model.forms.iter().enumerate() {
        for (field, target) in &form.refs {
            out.entry(*target).or_default().push((fi, *field));
        }
    }
    out
}
