//! The object types of ucsync's IP Office configuration model
//! (`docs/ip-office-config-api.yaml`), as data: which JSON field becomes
//! which stored field, and back. No IO: the connector reads bytes and hands
//! them here.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use ucsync_core::{Fields, Object, ObjectId};

use crate::key::KeyGrammar;

/// How a field is carried in JSON. In ucsync every field is text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// A JSON integer, stored in decimal.
    Int,
    /// A JSON boolean, stored as `true` or `false`.
    Bool,
    /// A JSON array of strings, stored joined by commas.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub secret: bool,
}

const fn req(name: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: true,
        secret: false,
    }
}

const fn opt(name: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
        secret: false,
    }
}

/// One object type of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeSpec {
    /// The type as ucsync names it (`user`, `hunt-group`, …).
    pub object_type: &'static str,
    /// Its array in `GET /configuration`.
    pub array: &'static str,
    /// Its collection's path segment.
    pub path: &'static str,
    /// The fields whose values, joined by `:`, are its key.
    pub key: &'static [&'static str],
    /// What the key is (the documented model's rules for its fields).
    pub key_grammar: KeyGrammar,
    pub fields: &'static [FieldSpec],
    /// The field search shows as its name.
    pub name: Option<&'static str>,
}

use FieldKind::*;

pub const TYPES: &[TypeSpec] = &[
    TypeSpec {
        object_type: "user",
        array: "users",
        path: "users",
        key: &["name"],
        key_grammar: KeyGrammar::Token { max: 15 },
        fields: &[
            req("name", Text),
            opt("full_name", Text),
            req("extension", Text),
            req("profile", Text),
            opt("locale", Text),
            opt("email", Text),
            FieldSpec {
                name: "voicemail_code",
                kind: Text,
                required: false,
                secret: true,
            },
        ],
        name: Some("full_name"),
    },
    TypeSpec {
        object_type: "extension",
        array: "extensions",
        path: "extensions",
        key: &["id"],
        key_grammar: KeyGrammar::Digits { min: 1, max: 5 },
        fields: &[
            req("id", Text),
            req("base_extension", Text),
            req("type", Text),
            opt("location", Text),
        ],
        name: None,
    },
    TypeSpec {
        object_type: "hunt-group",
        array: "hunt_groups",
        path: "hunt-groups",
        key: &["name"],
        key_grammar: KeyGrammar::Token { max: 15 },
        fields: &[
            req("name", Text),
            req("extension", Text),
            req("ring_mode", Text),
            req("members", List),
            opt("voicemail", Bool),
        ],
        name: Some("name"),
    },
    TypeSpec {
        object_type: "short-code",
        array: "short_codes",
        path: "short-codes",
        key: &["code"],
        key_grammar: KeyGrammar::Token { max: 64 },
        fields: &[
            req("code", Text),
            req("feature", Text),
            opt("telephone_number", Text),
            opt("line_group_id", Int),
        ],
        name: None,
    },
    TypeSpec {
        object_type: "incoming-call-route",
        array: "incoming_call_routes",
        path: "incoming-call-routes",
        key: &["line_group_id", "incoming_number"],
        key_grammar: KeyGrammar::Joined(&[
            KeyGrammar::Digits { min: 1, max: 10 },
            KeyGrammar::Digits { min: 0, max: 31 },
        ]),
        fields: &[
            req("line_group_id", Int),
            req("incoming_number", Text),
            opt("bearer_capability", Text),
            req("destination", Text),
        ],
        name: None,
    },
];

pub fn by_type(object_type: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|t| t.object_type == object_type)
}

/// What the system says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub name: String,
    pub serial: String,
    pub software_version: String,
    pub config_version: String,
}

/// A whole configuration, read at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub system: System,
    /// Objects by type, in `TYPES` order.
    pub objects: BTreeMap<&'static str, Vec<Object>>,
}

fn text_of(spec: &FieldSpec, v: &Value) -> Result<String, String> {
    let bad = |want: &str| format!("field `{}` must be {want}, not {v}", spec.name);
    match (spec.kind, v) {
        (Text, Value::String(s)) => Ok(s.clone()),
        (Text, _) => Err(bad("a string")),
        (Int, Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        (Int, _) => Err(bad("an integer")),
        (Bool, Value::Bool(b)) => Ok(b.to_string()),
        (Bool, _) => Err(bad("true or false")),
        (List, Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match i.as_str() {
                    Some(s) if !s.contains(',') => out.push(s),
                    _ => return Err(bad("a list of strings without commas")),
                }
            }
            Ok(out.join(","))
        }
        (List, _) => Err(bad("a list of strings")),
    }
}

impl TypeSpec {
    /// The object a JSON object of this type stands for.
    pub fn object(&self, json: &Map<String, Value>) -> Result<Object, String> {
        let mut pairs = Vec::with_capacity(self.fields.len());
        for f in self.fields {
            let value = match json.get(f.name) {
                None | Some(Value::Null) if f.required => {
                    return Err(format!("missing field `{}`", f.name));
                }
                None | Some(Value::Null) => String::new(),
                Some(v) => text_of(f, v)?,
            };
            pairs.push((f.name.to_string(), value));
        }
        let fields = Fields::new(pairs);
        let key = self
            .key
            .iter()
            .map(|k| fields.get(k).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":");
        Ok(Object {
            id: ObjectId::new(self.object_type, key),
            fields,
        })
    }

    /// The JSON of the given fields, for a write: every field must be one of
    /// this type's; an empty value is `null` (cleared), which only an
    /// optional field may be.
    pub fn json(&self, fields: &Fields) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        for (name, value) in fields.iter() {
            let Some(spec) = self.fields.iter().find(|f| f.name == name) else {
                let known: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
                return Err(format!(
                    "{} has no field '{name}'; its fields are {}",
                    self.object_type,
                    known.join(", ")
                ));
            };
            let v = match spec.kind {
                List => Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
                // A part of a key may be empty (a route for any number).
                Text if value.is_empty() && self.key.contains(&spec.name) => {
                    Value::String(String::new())
                }
                _ if value.is_empty() && spec.required => {
                    return Err(format!(
                        "{} is required for a {}: it cannot be cleared",
                        spec.name, self.object_type
                    ));
                }
                _ if value.is_empty() => Value::Null,
                Text => Value::String(value.to_string()),
                Int => value
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| format!("{}: '{value}' is not a whole number", spec.name))?,
                Bool => match value {
                    "true" | "y" | "yes" => Value::Bool(true),
                    "false" | "n" | "no" => Value::Bool(false),
                    _ => return Err(format!("{}: '{value}' is not true or false", spec.name)),
                },
            };
            out.insert(name.to_string(), v);
        }
        Ok(out)
    }

    /// The JSON of a new object with this key: the key's fields come from the key.
    pub fn new_json(&self, key: &str, fields: &Fields) -> Result<Map<String, Value>, String> {
        let mut all = fields.clone();
        let parts: Vec<&str> = if self.key.len() == 1 {
            vec![key]
        } else {
            key.splitn(self.key.len(), ':').collect()
        };
        if parts.len() != self.key.len() {
            return Err(format!(
                "a {} key is {}, not '{key}'",
                self.object_type,
                self.key.join(":")
            ));
        }
        for (k, v) in self.key.iter().zip(parts) {
            match fields.get(k) {
                Some(given) if given != v => {
                    return Err(format!("{k} is '{given}' but the key says '{v}'"));
                }
                _ => all.set(k, v.to_string()),
            }
        }
        let out = self.json(&all)?;
        if let Some(f) = self
            .fields
            .iter()
            .find(|f| f.required && !out.contains_key(f.name))
        {
            return Err(format!(
                "{} is required for a new {}",
                f.name, self.object_type
            ));
        }
        Ok(out)
    }

    /// A change may not touch the key.
    pub fn check_change(&self, key: &str, fields: &Fields) -> Result<(), String> {
        let parts: Vec<&str> = key.splitn(self.key.len(), ':').collect();
        for (k, v) in self.key.iter().zip(parts) {
            if let Some(given) = fields.get(k)
                && given != v
            {
                return Err(format!(
                    "{k} is part of the key of {} {key} and cannot change: remove it and add it anew",
                    self.object_type
                ));
            }
        }
        Ok(())
    }
}

fn str_field(o: &Map<String, Value>, field: &str) -> Result<String, String> {
    match o.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("field `{field}` must be a string, not {other}")),
        None => Err(format!("missing field `{field}`")),
    }
}

/// The system object of `GET /system` or of the configuration.
pub fn system(v: &Value) -> Result<System, String> {
    let o = v
        .as_object()
        .ok_or("the system is not a JSON object".to_string())?;
    Ok(System {
        name: str_field(o, "name")?,
        serial: str_field(o, "serial")?,
        software_version: str_field(o, "software_version")?,
        config_version: str_field(o, "config_version")?,
    })
}

/// Why a configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// Not JSON at all.
    Json(String),
    /// JSON, but not the model.
    Model(String),
}

/// Reads a whole configuration from the body of `GET /configuration`.
pub fn parse_configuration(body: &[u8]) -> Result<Snapshot, ModelError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ModelError::Json(e.to_string()))?;
    let top = v
        .as_object()
        .ok_or_else(|| ModelError::Model("the configuration is not a JSON object".into()))?;
    let system = system(
        top.get("system")
            .ok_or_else(|| ModelError::Model("missing field `system`".into()))?,
    )
    .map_err(|e| ModelError::Model(format!("system: {e}")))?;
    let mut objects = BTreeMap::new();
    for t in TYPES {
        let items = match top.get(t.array) {
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ModelError::Model(format!("`{}` is not a list", t.array)));
            }
            None => return Err(ModelError::Model(format!("missing field `{}`", t.array))),
        };
        let mut seen = HashSet::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let obj = item
                .as_object()
                .ok_or_else(|| "not a JSON object".to_string())
                .and_then(|o| t.object(o))
                .map_err(|e| ModelError::Model(format!("{}[{i}]: {e}", t.array)))?;
            if !seen.insert(obj.id.key.clone()) {
                return Err(ModelError::Model(format!(
                    "{}[{i}]: {} '{}' is listed twice",
                    t.array, t.object_type, obj.id.key
                )));
            }
            out.push(obj);
        }
        objects.insert(t.object_type, out);
    }
    Ok(Snapshot { system, objects })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    fn config(users: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "system": {"name": "ipo1", "serial": "00e0", "software_version": "11.1", "config_version": "v1"},
            "users": users,
            "extensions": [{"id": "8001", "base_extension": "2001", "type": "sip"}],
            "hunt_groups": [{"name": "Sales", "extension": "7001", "ring_mode": "rotary", "members": ["JSmith", "AB"], "voicemail": true}],
            "short_codes": [{"code": "*17", "feature": "voicemail-collect", "telephone_number": null, "line_group_id": null}],
            "incoming_call_routes": [{"line_group_id": 0, "incoming_number": "", "destination": "Sales"}],
        }))
        .unwrap()
    }

    #[test]
    fn a_configuration_becomes_objects() {
        let s = parse_configuration(&config(json!([
            {"name": "JSmith", "full_name": "Jane Smith", "extension": "2001", "profile": "power", "voicemail_code": "1234", "unknown": 1}
        ])))
        .unwrap();
        assert_eq!(s.system.software_version, "11.1");
        let user = &s.objects["user"][0];
        assert_eq!(user.id, ObjectId::new("user", "JSmith"));
        assert_eq!(
            user.fields.iter().collect::<Vec<_>>(),
            [
                ("email", ""),
                ("extension", "2001"),
                ("full_name", "Jane Smith"),
                ("locale", ""),
                ("name", "JSmith"),
                ("profile", "power"),
                ("voicemail_code", "1234"),
            ]
        );
        let g = &s.objects["hunt-group"][0];
        assert_eq!(g.fields.get("members"), Some("JSmith,AB"));
        assert_eq!(g.fields.get("voicemail"), Some("true"));
        let r = &s.objects["incoming-call-route"][0];
        assert_eq!(r.id.key, "0:");
        assert_eq!(r.fields.get("line_group_id"), Some("0"));
    }

    #[test]
    fn what_does_not_match_the_model_is_named() {
        let check = |body: &[u8], expect: &str| match parse_configuration(body) {
            Err(ModelError::Model(m)) | Err(ModelError::Json(m)) => {
                assert!(m.contains(expect), "{m:?} should contain {expect:?}")
            }
            Ok(_) => panic!("{expect}: accepted"),
        };
        check(
            &config(json!([{"name": "A", "profile": "basic"}])),
            "users[0]: missing field `extension`",
        );
        check(
            &config(json!([{"name": "A", "extension": 2001, "profile": "basic"}])),
            "users[0]: field `extension` must be a string",
        );
        check(
            &config(json!([
                {"name": "A", "extension": "1", "profile": "basic"},
                {"name": "A", "extension": "2", "profile": "basic"}
            ])),
            "users[1]: user 'A' is listed twice",
        );
        check(&config(json!({})), "`users` is not a list");
        check(b"{\"system\": {}}", "system: missing field `name`");
        check(b"{\"system\": ", "EOF");
        check(b"[]", "not a JSON object");
    }

    #[test]
    fn writes_become_json() {
        let user = by_type("user").unwrap();
        let new = user
            .new_json(
                "AB",
                &fields(&[("extension", "2099"), ("profile", "basic"), ("email", "")]),
            )
            .unwrap();
        assert_eq!(
            Value::Object(new),
            json!({"name": "AB", "extension": "2099", "profile": "basic", "email": null})
        );
        assert_eq!(
            user.new_json("AB", &fields(&[("profile", "basic")]))
                .unwrap_err(),
            "extension is required for a new user"
        );
        assert!(
            user.json(&fields(&[("colour", "red")]))
                .unwrap_err()
                .contains("user has no field 'colour'")
        );
        assert_eq!(
            user.json(&fields(&[("extension", "")])).unwrap_err(),
            "extension is required for a user: it cannot be cleared"
        );
        assert!(
            user.check_change("AB", &fields(&[("name", "CD")]))
                .unwrap_err()
                .contains("cannot change")
        );
        let group = by_type("hunt-group").unwrap();
        assert_eq!(
            Value::Object(
                group
                    .json(&fields(&[("members", "A, B"), ("voicemail", "false")]))
                    .unwrap()
            ),
            json!({"members": ["A", "B"], "voicemail": false})
        );
        let route = by_type("incoming-call-route").unwrap();
        assert_eq!(
            Value::Object(
                route
                    .new_json("2:5550100", &fields(&[("destination", "Sales")]))
                    .unwrap()
            ),
            json!({"line_group_id": 2, "incoming_number": "5550100", "destination": "Sales"})
        );
        assert!(
            route
                .new_json("x:1", &fields(&[("destination", "S")]))
                .unwrap_err()
                .contains("not a whole number")
        );
    }

    #[test]
    fn a_read_object_written_back_is_the_same_json() {
        let s = parse_configuration(&config(json!([
            {"name": "JSmith", "full_name": "Jane Smith", "extension": "2001", "profile": "power"}
        ])))
        .unwrap();
        for t in TYPES {
            for obj in &s.objects[t.object_type] {
                let json = t.new_json(&obj.id.key, &obj.fields).unwrap();
                assert_eq!(&t.object(&json).unwrap(), obj, "{}", t.object_type);
            }
        }
    }
}
