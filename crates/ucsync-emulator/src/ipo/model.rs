//! The configuration an emulated IP Office holds, typed after ucsync's model
//! of the service (`docs/ip-office-config-api.yaml`), and the rules a change
//! must follow. No IO here: the HTTP layer calls in.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    Basic,
    OfficeWorker,
    Power,
    Receptionist,
    NonLicensed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub full_name: Option<String>,
    pub extension: String,
    pub profile: Profile,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub voicemail_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtensionType {
    H323,
    Sip,
    Digital,
    Analogue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub id: String,
    pub base_extension: String,
    #[serde(rename = "type")]
    pub kind: ExtensionType,
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingMode {
    Collective,
    Sequential,
    Rotary,
    LongestWaiting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuntGroup {
    pub name: String,
    pub extension: String,
    pub ring_mode: RingMode,
    pub members: Vec<String>,
    #[serde(default)]
    pub voicemail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortCode {
    pub code: String,
    pub feature: String,
    #[serde(default)]
    pub telephone_number: Option<String>,
    #[serde(default)]
    pub line_group_id: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bearer {
    #[default]
    Any,
    AnyVoice,
    AnyData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingCallRoute {
    pub line_group_id: u32,
    pub incoming_number: String,
    #[serde(default)]
    pub bearer_capability: Bearer,
    pub destination: String,
}

/// Why a change was refused, as the service answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(String),
    NotFound(String),
    Conflict(String),
}

/// One kind of object of the configuration.
pub trait Kind: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The collection's path segment.
    const PATH: &'static str;
    /// Its key, as the path carries it.
    fn key(&self) -> String;
    fn map(data: &Data) -> &BTreeMap<String, Self>;
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self>;
    /// Whether the object may stand in `data` (which does not hold it).
    fn check(&self, _data: &Data) -> Result<(), Refusal> {
        Ok(())
    }
    /// Whether removing the object would leave something pointing at it.
    fn in_use(_key: &str, _data: &Data) -> Option<String> {
        None
    }
}

fn digits(field: &str, v: &str, min: usize, max: usize) -> Result<(), Refusal> {
    if (min..=max).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Refusal::BadRequest(format!(
            "{field} must be {min} to {max} digits, not '{v}'"
        )))
    }
}

fn name(field: &str, v: &str) -> Result<(), Refusal> {
    if (1..=15).contains(&v.chars().count()) && !v.contains(['/', ':']) {
        Ok(())
    } else {
        Err(Refusal::BadRequest(format!(
            "{field} must be 1 to 15 characters without '/' or ':', not '{v}'"
        )))
    }
}

impl Kind for User {
    const PATH: &'static str = "users";
    fn key(&self) -> String {
        self.name.clone()
    }
    fn map(data: &Data) -> &BTreeMap<String, Self> {
        &data.users
    }
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self> {
        &mut data.users
    }
    fn check(&self, data: &Data) -> Result<(), Refusal> {
        name("name", &self.name)?;
        digits("extension", &self.extension, 2, 9)?;
        if let Some(code) = &self.voicemail_code {
            digits("voicemail_code", code, 0, 15)?;
        }
        if let Some(other) = data
            .users
            .values()
            .find(|u| u.extension == self.extension && u.name != self.name)
        {
            return Err(Refusal::Conflict(format!(
                "extension {} is user {}'s",
                self.extension, other.name
            )));
        }
        Ok(())
    }
    fn in_use(key: &str, data: &Data) -> Option<String> {
        data.hunt_groups
            .values()
            .find(|g| g.members.iter().any(|m| m == key))
            .map(|g| format!("user {key} is a member of hunt group {}", g.name))
    }
}

impl Kind for Extension {
    const PATH: &'static str = "extensions";
    fn key(&self) -> String {
        self.id.clone()
    }
    fn map(data: &Data) -> &BTreeMap<String, Self> {
        &data.extensions
    }
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self> {
        &mut data.extensions
    }
    fn check(&self, _data: &Data) -> Result<(), Refusal> {
        digits("id", &self.id, 1, 5)?;
        digits("base_extension", &self.base_extension, 2, 9)
    }
}

impl Kind for HuntGroup {
    const PATH: &'static str = "hunt-groups";
    fn key(&self) -> String {
        self.name.clone()
    }
    fn map(data: &Data) -> &BTreeMap<String, Self> {
        &data.hunt_groups
    }
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self> {
        &mut data.hunt_groups
    }
    fn check(&self, data: &Data) -> Result<(), Refusal> {
        name("name", &self.name)?;
        digits("extension", &self.extension, 2, 9)?;
        match self.members.iter().find(|m| !data.users.contains_key(*m)) {
            Some(m) => Err(Refusal::BadRequest(format!("member {m} is not a user"))),
            None => Ok(()),
        }
    }
}

impl Kind for ShortCode {
    const PATH: &'static str = "short-codes";
    fn key(&self) -> String {
        self.code.clone()
    }
    fn map(data: &Data) -> &BTreeMap<String, Self> {
        &data.short_codes
    }
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self> {
        &mut data.short_codes
    }
    fn check(&self, _data: &Data) -> Result<(), Refusal> {
        if self.code.is_empty() || self.feature.is_empty() {
            return Err(Refusal::BadRequest(
                "code and feature must not be empty".into(),
            ));
        }
        Ok(())
    }
}

impl Kind for IncomingCallRoute {
    const PATH: &'static str = "incoming-call-routes";
    fn key(&self) -> String {
        format!("{}:{}", self.line_group_id, self.incoming_number)
    }
    fn map(data: &Data) -> &BTreeMap<String, Self> {
        &data.incoming_call_routes
    }
    fn map_mut(data: &mut Data) -> &mut BTreeMap<String, Self> {
        &mut data.incoming_call_routes
    }
    fn check(&self, _data: &Data) -> Result<(), Refusal> {
        if !self.incoming_number.is_empty() {
            digits("incoming_number", &self.incoming_number, 1, 31)?;
        }
        Ok(())
    }
}

/// Every object, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data {
    pub users: BTreeMap<String, User>,
    pub extensions: BTreeMap<String, Extension>,
    pub hunt_groups: BTreeMap<String, HuntGroup>,
    pub short_codes: BTreeMap<String, ShortCode>,
    pub incoming_call_routes: BTreeMap<String, IncomingCallRoute>,
}

/// The system's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub serial: String,
    pub software_version: String,
}

#[derive(Serialize)]
struct SystemOut<'a> {
    #[serde(flatten)]
    identity: &'a Identity,
    config_version: &'a str,
}

#[derive(Serialize)]
struct ConfigOut<'a> {
    system: SystemOut<'a>,
    users: Vec<&'a User>,
    extensions: Vec<&'a Extension>,
    hunt_groups: Vec<&'a HuntGroup>,
    short_codes: Vec<&'a ShortCode>,
    incoming_call_routes: Vec<&'a IncomingCallRoute>,
}

/// The state file: the data and identity, as the service would list them.
#[derive(Serialize, Deserialize)]
struct StateFile {
    system: Identity,
    users: Vec<User>,
    extensions: Vec<Extension>,
    hunt_groups: Vec<HuntGroup>,
    short_codes: Vec<ShortCode>,
    incoming_call_routes: Vec<IncomingCallRoute>,
}

impl Data {
    fn out<'a>(&'a self, identity: &'a Identity, version: &'a str) -> ConfigOut<'a> {
        ConfigOut {
            system: SystemOut {
                identity,
                config_version: version,
            },
            users: self.users.values().collect(),
            extensions: self.extensions.values().collect(),
            hunt_groups: self.hunt_groups.values().collect(),
            short_codes: self.short_codes.values().collect(),
            incoming_call_routes: self.incoming_call_routes.values().collect(),
        }
    }

    /// The configuration version of this data under this identity: a hash
    /// of the content, so it changes whenever anything changes and a
    /// restarted emulator never gives old data a new meaning.
    pub fn version(&self, identity: &Identity) -> String {
        let mut h = blake3::Hasher::new();
        serde_json::to_writer(&mut h, &self.out(identity, "")).expect("serialize into a hasher");
        h.finalize().to_hex()[..20].to_string()
    }

    /// The body of `GET /configuration`.
    pub fn to_json(&self, identity: &Identity, version: &str) -> Vec<u8> {
        serde_json::to_vec(&self.out(identity, version)).expect("serialize the configuration")
    }

    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("user", self.users.len()),
            ("extension", self.extensions.len()),
            ("hunt-group", self.hunt_groups.len()),
            ("short-code", self.short_codes.len()),
            ("incoming-call-route", self.incoming_call_routes.len()),
        ])
    }

    pub fn save(&self, identity: &Identity, path: &std::path::Path) -> Result<()> {
        let state = StateFile {
            system: identity.clone(),
            users: self.users.values().cloned().collect(),
            extensions: self.extensions.values().cloned().collect(),
            hunt_groups: self.hunt_groups.values().cloned().collect(),
            short_codes: self.short_codes.values().cloned().collect(),
            incoming_call_routes: self.incoming_call_routes.values().cloned().collect(),
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    }

    pub fn load(path: &std::path::Path) -> Result<(Data, Identity)> {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let s: StateFile = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not an IP Office state file", path.display()))?;
        fn by_key<T: Kind>(v: Vec<T>) -> BTreeMap<String, T> {
            v.into_iter().map(|o| (o.key(), o)).collect()
        }
        Ok((
            Data {
                users: by_key(s.users),
                extensions: by_key(s.extensions),
                hunt_groups: by_key(s.hunt_groups),
                short_codes: by_key(s.short_codes),
                incoming_call_routes: by_key(s.incoming_call_routes),
            },
            s.system,
        ))
    }
}

/// How much of each object type to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub users: usize,
    pub extensions: usize,
    pub hunt_groups: usize,
    pub short_codes: usize,
    pub incoming_call_routes: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            users: 20,
            extensions: 24,
            hunt_groups: 3,
            short_codes: 8,
            incoming_call_routes: 4,
        }
    }
}

/// The most users a (Server Edition) system carries.
pub const MAX_USERS: usize = 2000;

const FIRST: &[&str] = &[
    "Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gina", "Hugo", "Ines", "Jon", "Kira", "Leo",
    "Mia", "Nils", "Olga", "Paul", "Rosa", "Sven", "Tara", "Umar", "Vera", "Walt", "Yara", "Zoe",
];
const LAST: &[&str] = &[
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fox", "Garcia", "Hill", "Ito", "Jones", "Khan",
    "Lopez", "Meyer", "Novak", "Olsen", "Patel", "Quinn", "Rossi", "Smith", "Tanaka", "Varga",
    "Weber", "Young", "Zhang",
];
const FEATURES: &[(&str, &str)] = &[
    ("*17", "voicemail-collect"),
    ("*14*N#", "follow-me-to"),
    ("*07*N#", "forward-unconditional-on"),
    ("*08", "forward-unconditional-off"),
    ("*45*N#", "acquire-call"),
    ("*30", "toggle-calls"),
    ("*70*N#", "call-waiting-on"),
    ("*9000*", "relay-on"),
];

impl Data {
    /// The same data for the same seed and sizes.
    pub fn generate(sizes: Sizes, seed: u64) -> Result<Data> {
        ensure!(
            sizes.users <= MAX_USERS,
            "an IP Office carries at most {MAX_USERS} users, not {}",
            sizes.users
        );
        ensure!(
            sizes.extensions <= 3000,
            "at most 3000 extensions, not {}",
            sizes.extensions
        );
        ensure!(
            sizes.hunt_groups <= 300
                && sizes.short_codes <= 2000
                && sizes.incoming_call_routes <= 2000,
            "at most 300 hunt groups, 2000 short codes and 2000 incoming call routes"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut d = Data::default();
        for i in 0..sizes.users {
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let u = User {
                name: format!("{}{}{i}", &first[..1], &last[..last.len().min(8)]),
                full_name: Some(format!("{first} {last}")),
                extension: (2000 + i).to_string(),
                profile: match rng.random_range(0..10) {
                    0 => Profile::Power,
                    1 => Profile::Receptionist,
                    2..=4 => Profile::Basic,
                    _ => Profile::OfficeWorker,
                },
                locale: Some(["enu", "eng", "deu", "fra"][rng.random_range(0..4)].into()),
                email: rng
                    .random_bool(0.7)
                    .then(|| format!("{}.{}@example.com", first, last).to_lowercase()),
                voicemail_code: rng
                    .random_bool(0.8)
                    .then(|| format!("{:04}", rng.random_range(0..10000))),
            };
            d.users.insert(u.key(), u);
        }
        for i in 0..sizes.extensions {
            let e = Extension {
                id: (8001 + i).to_string(),
                base_extension: (2000 + i).to_string(),
                kind: match rng.random_range(0..6) {
                    0 => ExtensionType::Digital,
                    1 => ExtensionType::Analogue,
                    2 | 3 => ExtensionType::Sip,
                    _ => ExtensionType::H323,
                },
                location: rng
                    .random_bool(0.5)
                    .then(|| format!("Floor {}", rng.random_range(1..6))),
            };
            d.extensions.insert(e.key(), e);
        }
        let names: Vec<String> = d.users.keys().cloned().collect();
        for i in 0..sizes.hunt_groups {
            let n = if names.is_empty() {
                0
            } else {
                rng.random_range(1..=names.len().min(8))
            };
            let mut members: Vec<String> = Vec::new();
            while members.len() < n {
                let m = &names[rng.random_range(0..names.len())];
                if !members.contains(m) {
                    members.push(m.clone());
                }
            }
            let g = HuntGroup {
                name: format!("Group{}", i + 1),
                extension: (7000 + i).to_string(),
                ring_mode: match rng.random_range(0..4) {
                    0 => RingMode::Collective,
                    1 => RingMode::Sequential,
                    2 => RingMode::Rotary,
                    _ => RingMode::LongestWaiting,
                },
                members,
                voicemail: rng.random_bool(0.5),
            };
            d.hunt_groups.insert(g.key(), g);
        }
        for i in 0..sizes.short_codes {
            let s = match FEATURES.get(i) {
                Some((code, feature)) => ShortCode {
                    code: code.to_string(),
                    feature: feature.to_string(),
                    telephone_number: None,
                    line_group_id: None,
                },
                None => ShortCode {
                    code: format!("{}N", 600 + i),
                    feature: "dial".into(),
                    telephone_number: Some(format!("9{}N", rng.random_range(100..1000))),
                    line_group_id: Some(rng.random_range(0..3)),
                },
            };
            d.short_codes.insert(s.key(), s);
        }
        for i in 0..sizes.incoming_call_routes {
            let r = IncomingCallRoute {
                line_group_id: (i % 3) as u32,
                incoming_number: if i < 3 {
                    String::new()
                } else {
                    format!("55501{:02}", i)
                },
                bearer_capability: if i % 5 == 4 {
                    Bearer::AnyVoice
                } else {
                    Bearer::Any
                },
                destination: match (names.len(), d.hunt_groups.keys().next()) {
                    (_, Some(g)) if i % 2 == 0 => g.clone(),
                    (n, _) if n > 0 => names[rng.random_range(0..n)].clone(),
                    _ => "*17".into(),
                },
            };
            d.incoming_call_routes.insert(r.key(), r);
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            name: "ipo1".into(),
            serial: "00e007000001".into(),
            software_version: "11.1".into(),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_data_and_version() {
        let sizes = Sizes {
            users: 2000,
            extensions: 2000,
            ..Sizes::default()
        };
        let a = Data::generate(sizes, 7).unwrap();
        let b = Data::generate(sizes, 7).unwrap();
        let c = Data::generate(sizes, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.users.len(), 2000);
        assert_eq!(a.extensions.len(), 2000);
        assert_eq!(a.version(&identity()), b.version(&identity()));
        assert_ne!(a.version(&identity()), c.version(&identity()));
        for g in a.hunt_groups.values() {
            g.check(&a).unwrap();
        }
        for u in a.users.values() {
            u.check(&a).unwrap();
        }
    }

    #[test]
    fn more_than_2000_users_is_refused() {
        let e = Data::generate(
            Sizes {
                users: 2001,
                ..Sizes::default()
            },
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("at most 2000 users"), "{e}");
    }

    #[test]
    fn the_version_follows_every_change_and_the_identity() {
        let mut d = Data::generate(Sizes::default(), 1).unwrap();
        let id = identity();
        let v0 = d.version(&id);
        let u = d.users.values_mut().next().unwrap();
        u.full_name = Some("Someone Else".into());
        let v1 = d.version(&id);
        assert_ne!(v0, v1);
        let upgraded = Identity {
            software_version: "11.2".into(),
            ..identity()
        };
        assert_ne!(d.version(&upgraded), v1);
    }

    #[test]
    fn state_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ipo.json");
        let d = Data::generate(Sizes::default(), 3).unwrap();
        d.save(&identity(), &p).unwrap();
        let (back, id) = Data::load(&p).unwrap();
        assert_eq!((back, id), (d, identity()));
    }
}
