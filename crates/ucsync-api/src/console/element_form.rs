//! The form of an element, to add one of a kind or to change one: its
//! inputs are the fields of the API's bodies (`NewElementBody`,
//! `ElementPatch`) that apply to the kind, and what is sent is turned into
//! those bodies' JSON and parsed by the API's own parsers, so a form and a
//! JSON body are refused for the same reasons, each beside its field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ucsync_core::ElementKind;

use super::form::FormErrors;
use crate::ApiError;
use crate::model::{ElementView, cell_value, default_port, export_row};

/// One input of the form.
pub(crate) struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `number`, `password` or `checkbox`.
    pub input: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub hint: &'static str,
}

impl Field {
    /// The input's id; its hint's and error's start with it.
    pub(crate) fn id(&self) -> String {
        format!("f-{}", self.name)
    }
}

/// What was typed in, by field (never shown again for the password).
pub(crate) type Values = BTreeMap<String, String>;

/// Whether an element of `kind` takes TLS settings (not a CM: SSH).
fn has_tls(kind: ElementKind) -> bool {
    kind != ElementKind::Cm
}

/// Whether an element of `kind` may name its CM.
fn has_cm(kind: ElementKind) -> bool {
    matches!(
        kind,
        ElementKind::Messaging | ElementKind::CmMessaging | ElementKind::ModularMessaging
    )
}

/// The fields of an element of `kind`, in the form's order: the name only
/// when it is added; the password required only then.
fn names(kind: ElementKind, adding: bool) -> Vec<&'static str> {
    let mut v = Vec::new();
    if adding {
        v.push("name");
    }
    v.extend(["host", "alternate_host", "port", "login", "password"]);
    if kind == ElementKind::Cm {
        v.extend(["notify_sync", "own_logins"]);
    }
    if has_tls(kind) {
        v.extend(["tls", "ca_file"]);
    }
    v.push("host_key");
    if has_cm(kind) {
        v.push("cm");
    }
    v
}

fn field(name: &'static str, kind: ElementKind, adding: bool) -> Field {
    let (label, input, required, hint): (&str, &str, bool, &str) = match name {
        "name" => (
            "Name",
            "text",
            true,
            "1 to 64 letters, digits, '.', '_' or '-'",
        ),
        "host" => ("Host", "text", true, "a host name or an IP address"),
        "alternate_host" => (
            "Alternate host",
            "text",
            false,
            "tried when the host does not answer",
        ),
        "port" => ("Port", "number", true, ""),
        "login" => (
            "Login",
            "text",
            true,
            if has_tls(kind) && kind != ElementKind::IpOffice {
                "the bind DN ucsync uses"
            } else {
                "the login ucsync uses"
            },
        ),
        "password" => (
            "Password",
            "password",
            adding,
            if adding {
                ""
            } else {
                "leave empty to keep it; needed again to change the host, alternate host, port or TLS"
            },
        ),
        "notify_sync" => (
            "Notify sync",
            "checkbox",
            false,
            "listen for the CM's change events",
        ),
        "own_logins" => (
            "Own logins",
            "text",
            false,
            "other CM logins that are ucsync's own, separated by spaces",
        ),
        "tls" => (
            "TLS",
            "checkbox",
            false,
            "without it the password crosses the network in the clear",
        ),
        "ca_file" => (
            "CA file",
            "text",
            false,
            "with TLS: the CA certificate the element's certificate is checked against",
        ),
        "host_key" => (
            "Host key",
            "text",
            false,
            "the SSH host-key or certificate fingerprint; pinned at the first connection when empty",
        ),
        _ => (
            "CM",
            "text",
            kind == ElementKind::CmMessaging,
            "the name of its Communication Manager element",
        ),
    };
    Field {
        name,
        label,
        input,
        value: String::new(),
        checked: false,
        required,
        hint,
    }
}

/// The form's inputs holding `values`, and `error` beside the input of the
/// field it names (a list item's, such as `own_logins[1]`, beside the
/// list), or above the form when the form has no such input.
pub(crate) fn inputs(
    kind: ElementKind,
    adding: bool,
    values: &Values,
    error: Option<&ApiError>,
) -> (Vec<Field>, FormErrors) {
    let names = names(kind, adding);
    let errors = error.map_or_else(FormErrors::default, |e| {
        FormErrors::of_api(e, |f| {
            let input = f.split(['[', '.']).next().unwrap_or(f);
            names.contains(&input).then_some(input)
        })
    });
    let fields = names
        .iter()
        .map(|&name| {
            let mut f = field(name, kind, adding);
            if f.input == "checkbox" {
                f.checked = values.contains_key(name);
            } else if f.input != "password" {
                f.value = values.get(name).cloned().unwrap_or_default();
            }
            f
        })
        .collect();
    (fields, errors)
}

/// The values of a new element's form before anything is typed: its
/// kind's port, TLS on.
pub(crate) fn new_values(kind: ElementKind) -> Values {
    let mut v = Values::new();
    v.insert("port".into(), default_port(kind, true).to_string());
    if has_tls(kind) {
        v.insert("tls".into(), "true".into());
    }
    v
}

/// The values of an element's form as it is.
pub(crate) fn current_values(e: &ElementView) -> Values {
    export_row(e)
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Bool(false) => return None,
                Value::String(s) => s,
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                v => v.to_string(),
            };
            Some((k, text))
        })
        .collect()
}

/// What a form sent, by field, as the JSON of the API's body: the text of
/// each input as a file's cell is read (`cell_value`), a checkbox as
/// `true` or `false`.
fn json(kind: ElementKind, adding: bool, values: &Values) -> Map<String, Value> {
    let mut body = Map::new();
    for name in names(kind, adding) {
        let f = field(name, kind, adding);
        if f.input == "checkbox" {
            body.insert(name.into(), Value::Bool(values.contains_key(name)));
        } else if let Some(v) = values.get(name).and_then(|t| cell_value(name, t.trim())) {
            body.insert(name.into(), v);
        }
    }
    body
}

/// The body of `POST /elements` a new element's form gives.
pub(crate) fn new_body(kind: ElementKind, values: &Values) -> Value {
    let mut body = json(kind, true, values);
    body.insert("kind".into(), kind.as_str().into());
    Value::Object(body)
}

/// The body of `PATCH /elements/{name}` an element's form gives: the
/// fields that differ from the element as it is (an emptied one cleared),
/// and the password when one is typed.
pub(crate) fn patch_body(e: &ElementView, values: &Values) -> Value {
    let now = json(e.kind, false, &current_values(e));
    let sent = json(e.kind, false, values);
    let mut patch = Map::new();
    for name in names(e.kind, false) {
        match (now.get(name), sent.get(name)) {
            (a, b) if a == b => {}
            (_, Some(v)) => {
                patch.insert(name.into(), v.clone());
            }
            (Some(_), None) => {
                let cleared = if name == "own_logins" {
                    Value::Array(Vec::new())
                } else {
                    Value::Null
                };
                patch.insert(name.into(), cleared);
            }
            (None, None) => {}
        }
    }
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_cms_form_gives_the_body_of_post_elements() {
        let body = new_body(
            ElementKind::Cm,
            &values(&[
                ("name", "cm1"),
                ("host", " 127.0.0.1 "),
                ("alternate_host", ""),
                ("port", "5022"),
                ("login", "ucsync"),
                ("password", "pw"),
                ("own_logins", "init craft"),
                ("host_key", ""),
            ]),
        );
        assert_eq!(
            body,
            serde_json::json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": 5022,
                "login": "ucsync", "password": "pw", "own_logins": ["init", "craft"],
                "notify_sync": false})
        );
    }

    #[test]
    fn an_unchecked_tls_box_is_tls_off_and_a_bad_port_goes_as_text() {
        let body = new_body(
            ElementKind::Messaging,
            &values(&[("name", "mm1"), ("port", "x")]),
        );
        assert_eq!(body["tls"], false);
        assert_eq!(body["port"], "x");
        assert!(body.get("notify_sync").is_none());
    }
}
