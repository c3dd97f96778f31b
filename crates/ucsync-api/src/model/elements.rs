//! The bodies of `/elements`: an element to add or change, parsed into the
//! store's types with the field at fault named, and an element as shown
//! (never its password).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ucsync_core::{ElementKind, ElementName, ElementState, JobState, SyncType};
use ucsync_store as store;
use utoipa::ToSchema;

use super::paging::page;
use super::{
    ElementKindSchema, ElementStateSchema, FieldError, JobStateSchema, JobView, SyncTypeSchema,
    non_empty, present,
};

page!(ElementPage, ElementView, "A page of elements.");

/// An element to add. `password` is write-only: no response contains it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewElementBody {
    /// 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit;
    /// not `new`, `import` or `export.csv` (addresses of the console's pages).
    #[schema(example = "cm-east", pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    #[schema(value_type = ElementKindSchema)]
    pub kind: ElementKind,
    /// A host name or IP address: no spaces or control characters.
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub host: String,
    /// Tried when `host` does not answer; not the same as `host`.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub alternate_host: Option<String>,
    #[schema(minimum = 1, maximum = 65535, example = 5022)]
    pub port: i64,
    /// No spaces or control characters.
    #[schema(
        min_length = 1,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub login: String,
    #[schema(write_only, min_length = 1)]
    pub password: String,
    /// `cm`: notify sync on.
    #[serde(default)]
    pub notify_sync: Option<bool>,
    /// `cm`: the logins that are ucsync's own (`login` always is).
    #[serde(default)]
    pub own_logins: Option<Vec<String>>,
    /// The pinned SSH host-key or certificate fingerprint; pinned at the first
    /// connection when not given.
    #[serde(default)]
    #[schema(
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub host_key: Option<String>,
    /// `ip-office` and the messaging kinds: TLS on.
    #[serde(default)]
    pub tls: Option<bool>,
    /// With `tls`: the CA certificate file the element's certificate is checked against.
    #[serde(default)]
    #[schema(
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub ca_file: Option<String>,
    /// `cm-messaging` (required), `messaging`, `modular-messaging`: the name
    /// of its CM element, which must exist.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub cm: Option<String>,
}

/// A change to an element. Absent fields stay as they are; `null` clears
/// `alternate_host`, `host_key`, `ca_file`, `cm` and `tls`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub host: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub alternate_host: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(write_only, min_length = 1)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_sync: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_logins: Option<Vec<String>>,
    /// A new fingerprint accepts the element's new host key; `null` pins
    /// again at the next connection.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub host_key: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>)]
    pub tls: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub ca_file: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    )]
    pub cm: Option<Option<String>>,
}

/// An element's settings as checked: what the store keeps, less the name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDraft {
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub settings: store::ElementSettings,
}

/// A host name or address: non-empty, no spaces or control characters.
pub(super) fn host(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            format!("{field} must not be empty: give a host name or an IP address"),
        ));
    }
    // In characters, as the document's maxLength counts.
    if value.chars().count() > 253 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            format!("{field} {value:?} is not a host name or an IP address"),
        ));
    }
    Ok(value.to_string())
}

fn port(value: i64) -> Result<u16, FieldError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            FieldError::new("port", format!("port must be from 1 to 65535, not {value}"))
        })
}

/// A login name: non-empty, no spaces or control characters.
fn login(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            format!("{field} {value:?} must not contain spaces or control characters"),
        ));
    }
    Ok(value.to_string())
}

fn password(value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new("password", "password must not be empty"));
    }
    Ok(value.to_string())
}

impl ElementDraft {
    /// Checks the kind-specific rules; each failure names its field.
    pub fn check(&self) -> Result<(), FieldError> {
        let s = &self.settings;
        let kind = self.kind;
        if kind != ElementKind::Cm {
            if s.notify_sync {
                return Err(FieldError::new(
                    "notify_sync",
                    format!("notify_sync applies to cm elements only, not to {kind}"),
                ));
            }
            if !s.own_logins.is_empty() {
                return Err(FieldError::new(
                    "own_logins",
                    format!("own_logins applies to cm elements only, not to {kind}"),
                ));
            }
        }
        if kind == ElementKind::Cm {
            if s.tls.is_some() {
                return Err(FieldError::new(
                    "tls",
                    "tls does not apply to cm elements, which are reached over SSH: pin their host key with host_key",
                ));
            }
            if s.ca_file.is_some() {
                return Err(FieldError::new(
                    "ca_file",
                    "ca_file does not apply to cm elements, which are reached over SSH: pin their host key with host_key",
                ));
            }
        }
        if s.ca_file.is_some() && s.tls == Some(false) {
            return Err(FieldError::new(
                "ca_file",
                "ca_file is only used with TLS: set tls to true or remove ca_file",
            ));
        }
        match (kind, &s.cm) {
            (ElementKind::CmMessaging, None) => {
                return Err(FieldError::new(
                    "cm",
                    "cm is required for a cm-messaging element: name the cm element it belongs to",
                ));
            }
            (ElementKind::Cm | ElementKind::IpOffice, Some(_)) => {
                return Err(FieldError::new(
                    "cm",
                    format!(
                        "cm applies to messaging, cm-messaging and modular-messaging elements only, not to {kind}"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(cm) = &s.cm {
            ElementName::parse(cm).map_err(|e| FieldError::new("cm", format!("cm: {e}")))?;
        }
        for (i, l) in s.own_logins.iter().enumerate() {
            login(&format!("own_logins[{i}]"), l)?;
        }
        if let Some(k) = &s.host_key {
            non_empty("host_key", k)?;
            // A CM's is its SSH host key; the others pin a certificate.
            if kind != ElementKind::Cm {
                ucsync_connect::tls::parse_fingerprint(k)
                    .map_err(|e| FieldError::new("host_key", format!("host_key: {e}")))?;
            }
        }
        if let Some(f) = &s.ca_file {
            non_empty("ca_file", f)?;
        }
        if self.alternate_host.as_deref() == Some(self.host.as_str()) {
            return Err(FieldError::new(
                "alternate_host",
                "alternate_host is the same as host: give another address or leave it out",
            ));
        }
        Ok(())
    }
}

/// Names an element may not take: the console's pages of elements are at
/// these addresses (`/elements/new`), where an element of the name could
/// not be opened.
pub const RESERVED_NAMES: [&str; 3] = ["new", "import", "export.csv"];

impl NewElementBody {
    /// The element to store, every field checked. Whether a named `cm`
    /// exists is for the caller, which has the store.
    pub fn parse(self) -> Result<store::NewElement, FieldError> {
        let name = ElementName::parse(&self.name)
            .map_err(|e| FieldError::new("name", format!("name: {e}")))?;
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(FieldError::new(
                "name",
                format!(
                    "name: '{name}' is the address of a console page ({}): choose another",
                    RESERVED_NAMES.join(", ")
                ),
            ));
        }
        let draft = ElementDraft {
            kind: self.kind,
            host: host("host", &self.host)?,
            alternate_host: self
                .alternate_host
                .as_deref()
                .map(|h| host("alternate_host", h))
                .transpose()?,
            port: port(self.port)?,
            login: login("login", &self.login)?,
            settings: store::ElementSettings {
                notify_sync: self.notify_sync.unwrap_or(false),
                own_logins: self.own_logins.unwrap_or_default(),
                host_key: self.host_key,
                // TLS unless refused: the password goes to the element.
                tls: self.tls.or((self.kind != ElementKind::Cm).then_some(true)),
                ca_file: self.ca_file,
                cm: self.cm,
            },
        };
        draft.check()?;
        Ok(store::NewElement {
            name,
            kind: draft.kind,
            host: draft.host,
            alternate_host: draft.alternate_host,
            port: draft.port,
            login: draft.login,
            password: password(&self.password)?,
            settings: draft.settings,
        })
    }
}

impl ElementPatch {
    /// The element as it would be after the patch, checked, and the update
    /// to store.
    pub fn apply(
        self,
        current: &store::Element,
    ) -> Result<(ElementDraft, store::ElementUpdate), FieldError> {
        let mut draft = ElementDraft {
            kind: current.kind,
            host: current.host.clone(),
            alternate_host: current.alternate_host.clone(),
            port: current.port,
            login: current.login.clone(),
            settings: current.settings.clone(),
        };
        let mut update = store::ElementUpdate::default();
        if let Some(h) = &self.host {
            draft.host = host("host", h)?;
            update.host = Some(draft.host.clone());
        }
        if let Some(a) = &self.alternate_host {
            draft.alternate_host = a
                .as_deref()
                .map(|h| host("alternate_host", h))
                .transpose()?;
            update.alternate_host = Some(draft.alternate_host.clone());
        }
        if let Some(p) = self.port {
            draft.port = port(p)?;
            update.port = Some(draft.port);
        }
        if let Some(l) = &self.login {
            draft.login = login("login", l)?;
            update.login = Some(draft.login.clone());
        }
        if let Some(p) = &self.password {
            update.password = Some(password(p)?);
        }
        let s = &mut draft.settings;
        if let Some(v) = self.notify_sync {
            s.notify_sync = v;
        }
        if let Some(v) = self.own_logins {
            s.own_logins = v;
        }
        if let Some(v) = self.host_key {
            s.host_key = v;
        }
        if let Some(v) = self.tls {
            s.tls = v;
        }
        if let Some(v) = self.ca_file {
            s.ca_file = v;
        }
        if let Some(v) = self.cm {
            s.cm = v;
        }
        if draft.settings != current.settings {
            update.settings = Some(draft.settings.clone());
        }
        draft.check()?;
        // The stored password is sent wherever these point: moving it asks
        // for the password again.
        let moved = [
            ("host", draft.host != current.host),
            (
                "alternate_host",
                draft.alternate_host != current.alternate_host,
            ),
            ("port", draft.port != current.port),
            ("tls", draft.settings.tls != current.settings.tls),
        ];
        if let Some((field, _)) = moved.iter().find(|(_, m)| *m)
            && self.password.is_none()
        {
            return Err(FieldError::new(
                "password",
                format!(
                    "changing {field} sends the element's password to another place: give the password again in the same request"
                ),
            ));
        }
        Ok((draft, update))
    }
}

/// An element's kind-specific settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettingsView {
    pub notify_sync: bool,
    /// The CM logins that are ucsync's own, the element's login among them.
    pub own_logins: Vec<String>,
    pub host_key: Option<String>,
    pub tls: Option<bool>,
    /// An IP Office or messaging element reached without TLS: its password
    /// crosses the network in the clear.
    #[serde(default)]
    pub plain_text: bool,
    pub ca_file: Option<String>,
    pub cm: Option<String>,
}

/// Where an element's synchronization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncStatusView {
    pub last_init_at: Option<String>,
    pub last_init_ok: Option<bool>,
    pub last_init_error: Option<String>,
    /// The element's software version at the last init.
    pub version: Option<String>,
    /// The version of ucsync's stored form at the last init.
    pub format: Option<u32>,
    pub last_sync_at: Option<String>,
    pub last_success_at: Option<String>,
    /// CM notify sync: when the last change event from the element was
    /// received (to the second; `null` when none was).
    #[serde(default)]
    #[schema(required = true)]
    pub last_notify_at: Option<String>,
    /// The newest job that ran and finished on it, of any type (`null`:
    /// none has).
    #[serde(default)]
    #[schema(required = true)]
    pub last_job: Option<LastJobView>,
}

/// A finished job, in an element's sync status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LastJobView {
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// `succeeded`, `failed` or `stopped`.
    #[schema(value_type = JobStateSchema)]
    pub state: JobState,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

fn never_synced() -> ElementState {
    ElementState::NeverSynced
}

/// An element with its sync status. Never its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElementView {
    pub name: String,
    #[schema(value_type = ElementKindSchema)]
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub settings: SettingsView,
    /// Where its synchronization stands, from its last init, its last job
    /// of any type and the job running now.
    #[serde(default = "never_synced")]
    #[schema(value_type = ElementStateSchema)]
    pub state: ElementState,
    /// Why it is in that state (`null` for `in-sync` with nothing to add).
    #[serde(default)]
    #[schema(required = true)]
    pub state_reason: Option<String>,
    pub sync: SyncStatusView,
    /// Objects synchronized from it.
    pub objects: u64,
    /// Those objects per type (`station`, `vdn`, …); types it has none of
    /// are left out.
    #[serde(default)]
    #[schema(required = true)]
    pub objects_by_type: BTreeMap<String, u64>,
    pub created_at: String,
}

impl ElementView {
    /// `objects_by_type` as the store counts it; `objects` is their sum.
    /// `running` is the job running on it now, `last` its newest finished
    /// one (`Store::last_finished_jobs`).
    pub fn new(
        e: &store::Element,
        objects_by_type: BTreeMap<String, u64>,
        running: Option<&store::Job>,
        last: Option<&store::Job>,
    ) -> ElementView {
        let status = ucsync_core::element_status(&ucsync_core::StatusFacts {
            running: running.map(|j| j.sync_type),
            last_init_ok: e.sync.last_init_ok,
            last_init_error: e.sync.last_init_error.clone(),
            last_job: last.map(|j| ucsync_core::LastJob {
                sync_type: j.sync_type,
                state: j.state,
                error: j.error.clone(),
            }),
        });
        let own_logins = if e.kind == ElementKind::Cm {
            e.own_logins()
        } else {
            e.settings.own_logins.clone()
        };
        ElementView {
            name: e.name.to_string(),
            kind: e.kind,
            host: e.host.clone(),
            alternate_host: e.alternate_host.clone(),
            port: e.port,
            login: e.login.clone(),
            settings: SettingsView {
                notify_sync: e.settings.notify_sync,
                own_logins,
                host_key: e.settings.host_key.clone(),
                tls: e.settings.tls,
                plain_text: e.kind != ElementKind::Cm && e.settings.tls != Some(true),
                ca_file: e.settings.ca_file.clone(),
                cm: e.settings.cm.clone(),
            },
            state: status.state,
            state_reason: status.reason,
            sync: SyncStatusView {
                last_init_at: e.sync.last_init_at.map(store::time_text),
                last_init_ok: e.sync.last_init_ok,
                last_init_error: e.sync.last_init_error.clone(),
                version: e.sync.version_at_init.clone(),
                format: e.sync.format_at_init,
                last_sync_at: e.sync.last_sync_at.map(store::time_text),
                last_success_at: e.sync.last_success_at.map(store::time_text),
                last_notify_at: e.sync.last_notify_at.map(store::time_text),
                last_job: last.map(|j| LastJobView {
                    id: j.id.0,
                    sync_type: j.sync_type,
                    state: j.state,
                    finished_at: j.finished_at.map(store::time_text),
                    error: j.error.clone(),
                }),
            },
            objects: objects_by_type.values().sum(),
            objects_by_type,
            created_at: store::time_text(e.created_at),
        }
    }
}

/// An element just added, with the initializing sync queued for it (`cm`
/// and `ip-office`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElementCreated {
    pub element: ElementView,
    pub job: Option<JobView>,
}

/// What a connection check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    pub element: String,
    /// The element's software version.
    pub version: String,
    /// Its SSH host-key (or certificate) fingerprint.
    pub fingerprint: Option<String>,
    /// The address that answered: `host`, or `alternate_host` when `host` did not.
    pub host: String,
    /// Whether `fingerprint` is the pinned one (`null`: none is pinned yet).
    pub pinned: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element() -> NewElementBody {
        serde_json::from_value(serde_json::json!({
            "name": "cm1", "kind": "cm", "host": "127.0.0.11", "port": 5022,
            "login": "ucsync", "password": "secret"
        }))
        .unwrap()
    }

    #[test]
    fn element_fields_are_checked() {
        let check = |patch: serde_json::Value, field: &str| {
            let mut v = serde_json::to_value(element()).unwrap();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            let body: NewElementBody = serde_json::from_value(v).unwrap();
            let err = body.parse().unwrap_err();
            assert_eq!(err.field, field, "{err}");
        };
        assert!(element().parse().is_ok());
        check(serde_json::json!({"name": "-x"}), "name");
        check(serde_json::json!({"host": ""}), "host");
        check(serde_json::json!({"host": "a b"}), "host");
        check(
            serde_json::json!({"alternate_host": "127.0.0.11"}),
            "alternate_host",
        );
        check(serde_json::json!({"port": 0}), "port");
        check(serde_json::json!({"port": 65536}), "port");
        check(serde_json::json!({"login": ""}), "login");
        check(serde_json::json!({"password": ""}), "password");
        check(serde_json::json!({"tls": true}), "tls");
        check(serde_json::json!({"cm": "cm0"}), "cm");
        check(serde_json::json!({"kind": "cm-messaging"}), "cm");
        check(
            serde_json::json!({"kind": "messaging", "notify_sync": true}),
            "notify_sync",
        );
        check(
            serde_json::json!({"own_logins": ["a", ""]}),
            "own_logins[1]",
        );
    }

    #[test]
    fn patch_clears_with_null_and_keeps_when_absent() {
        let p: ElementPatch =
            serde_json::from_value(serde_json::json!({"alternate_host": null})).unwrap();
        assert_eq!(p.alternate_host, Some(None));
        let p: ElementPatch = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(p.alternate_host, None);
    }
}
