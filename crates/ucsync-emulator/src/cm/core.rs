//! The emulated CM itself, apart from SSH: translations, command history,
//! clock, locks, and the execution of one OSSI command.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use anyhow::Result;
use chrono::{Datelike, NaiveDateTime, Timelike, Utc};
use ucsync_ossi::vocabulary::{Resolved, Vocabulary};
use ucsync_ossi::wellknown::{history as hist, time};
use ucsync_ossi::{
    ErrorKind, FieldId, OssiError, Request, encode_echo, encode_error, encode_fields, encode_record,
};

use super::data::{
    FormData, Key, Translations, Values, check_key, check_value, key_at, reverse_refs,
};
use super::model::{FieldKind, Form, KeyKind, Model};

/// One row of the command history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// On the CM's own clock.
    pub at: NaiveDateTime,
    pub port: String,
    pub login: String,
    pub action: String,
    pub object: String,
    pub qualifier: String,
}

/// Behaviour settings of the emulated CM.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub version: String,
    pub history_capacity: usize,
    /// The CM's clock minus the real clock.
    pub clock_offset: chrono::Duration,
    pub latency: Duration,
    pub state_file: Option<PathBuf>,
}

/// A command that starts this soon after the previous one ended was waiting for it.
const BACK_TO_BACK: Duration = Duration::from_millis(2);

/// Who runs a command, on which SAT port.
#[derive(Debug)]
pub struct SessionCtx {
    pub id: u64,
    pub login: String,
    pub port: String,
    /// When the session's last command ends (with `--latency-ms`).
    busy_until: Mutex<Option<Instant>>,
}

impl SessionCtx {
    pub fn new(id: u64, login: impl Into<String>, port: impl Into<String>) -> Self {
        SessionCtx {
            id,
            login: login.into(),
            port: port.into(),
            busy_until: Mutex::new(None),
        }
    }
}

/// The emulated CM.
pub struct Cm {
    model: Arc<Model>,
    data: RwLock<Translations>,
    history: Mutex<VecDeque<HistoryEntry>>,
    locks: Mutex<HashMap<(usize, Box<str>), u64>>,
    stats: Mutex<HashMap<String, u64>>,
    rev_refs: HashMap<usize, Vec<(usize, usize)>>,
    behaviour: Behaviour,
    /// Where change events go (notify sync), when set.
    notify: std::sync::OnceLock<super::notify::NotifySender>,
}

impl std::fmt::Debug for Cm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cm")
            .field("behaviour", &self.behaviour)
            .finish_non_exhaustive()
    }
}

struct LockGuard<'a> {
    cm: &'a Cm,
    key: (usize, Box<str>),
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.cm.locks.lock().expect("locks").remove(&self.key);
    }
}

type Outcome = Result<(), OssiError>;

fn err(kind: ErrorKind, field: Option<FieldId>, text: impl Into<String>) -> OssiError {
    OssiError::new(kind, field, text)
}

impl Cm {
    pub fn new(model: Arc<Model>, mut data: Translations, behaviour: Behaviour) -> Cm {
        // The version field always reports the running software, so starting a
        // saved translation with a newer --version is an upgrade.
        for (form, d) in model.forms.iter().zip(data.forms.iter_mut()) {
            if let Some(i) = form.fields.iter().position(|f| f.version) {
                match d {
                    FormData::Single(v) => v[i] = behaviour.version.as_str().into(),
                    FormData::Keyed(m) => m
                        .values_mut()
                        .for_each(|v| v[i] = behaviour.version.as_str().into()),
                }
            }
        }
        let rev_refs = reverse_refs(&model);
        Cm {
            model,
            data: RwLock::new(data),
            history: Mutex::new(VecDeque::new()),
            locks: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            rev_refs,
            behaviour,
            notify: std::sync::OnceLock::new(),
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// The CM's clock.
    pub fn now(&self) -> NaiveDateTime {
        Utc::now().naive_utc() + self.behaviour.clock_offset
    }

    /// The command history, newest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history
            .lock()
            .expect("history")
            .iter()
            .rev()
            .cloned()
            .collect()
    }

    /// How many times a command ran, by its resolved text (`display station 1001`),
    /// or by prefix when `prefix` is true (`display station`).
    pub fn command_count(&self, command: &str, prefix: bool) -> u64 {
        let stats = self.stats.lock().expect("stats");
        if prefix {
            stats
                .iter()
                .filter(|(k, _)| k.starts_with(command))
                .map(|(_, v)| v)
                .sum()
        } else {
            stats.get(command).copied().unwrap_or(0)
        }
    }

    /// Object counts by type.
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.data.read().expect("data").counts(&self.model)
    }

    /// One object's fields, for tests and tools that look inside the emulator.
    pub fn object(&self, object_type: &str, key: Option<&str>) -> Option<Vec<(FieldId, String)>> {
        let fi = self.model.form_index(object_type)?;
        let form = &self.model.forms[fi];
        let data = self.data.read().expect("data");
        let values = match (&data.forms[fi], key) {
            (FormData::Keyed(m), Some(k)) => m.get(&Key::new(k))?,
            (FormData::Single(v), None) => v,
            _ => return None,
        };
        Some(
            form.fids()
                .zip(values.iter().map(|v| v.to_string()))
                .collect(),
        )
    }

    /// The keys of one object type, in listing order.
    pub fn keys(&self, object_type: &str) -> Vec<String> {
        let Some(fi) = self.model.form_index(object_type) else {
            return Vec::new();
        };
        self.data
            .read()
            .expect("data")
            .keyed(fi)
            .map(|m| m.keys().map(|k| k.as_str().to_string()).collect())
            .unwrap_or_default()
    }

    /// Sends change events from now on (once; later calls are ignored).
    pub fn set_notify(&self, sender: super::notify::NotifySender) {
        let _ = self.notify.set(sender);
    }

    /// Notify events handed to the socket so far.
    pub fn notify_sent(&self) -> u64 {
        self.notify.get().map_or(0, |n| n.sent())
    }

    /// Logs a row; returns its time.
    fn log(&self, ctx: &SessionCtx, action: &str, object: &str, qualifier: &str) -> NaiveDateTime {
        let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        let at = self.now();
        let entry = HistoryEntry {
            at,
            port: ctx.port.clone(),
            login: ctx.login.clone(),
            action: cut(action, hist::ACTION_LEN),
            object: cut(object, hist::OBJECT_LEN),
            qualifier: cut(qualifier, hist::QUALIFIER_LEN),
        };
        let mut h = self.history.lock().expect("history");
        if self.behaviour.history_capacity == 0 {
            return at;
        }
        while h.len() >= self.behaviour.history_capacity {
            h.pop_front();
        }
        h.push_back(entry);
        at
    }

    /// How long a command takes on this CM. A zero latency must not wait for
    /// the timer at all: a zero sleep still waits for the next timer tick.
    ///
    /// Commands of one session run one after another: a command that arrives
    /// while the previous one runs starts when it ends, so timer overshoot
    /// does not add up over a pipelined session.
    async fn pause(&self, ctx: &SessionCtx) {
        let latency = self.behaviour.latency;
        if latency.is_zero() {
            return;
        }
        let end = {
            let mut busy_until = ctx.busy_until.lock().expect("pace");
            let now = Instant::now();
            let start = match *busy_until {
                Some(prev) if now.saturating_duration_since(prev) <= BACK_TO_BACK => prev,
                _ => now,
            };
            *busy_until = Some(start + latency);
            start + latency
        };
        tokio::time::sleep_until(end).await;
    }

    /// Records a login or logoff in the history, as a CM does.
    pub fn log_session(&self, ctx: &SessionCtx, login: bool) {
        self.log(ctx, if login { "logn" } else { "logf" }, "", "");
    }

    /// Runs one command and returns its complete answer (echo to `t`).
    pub async fn execute(&self, ctx: &SessionCtx, req: &Request) -> String {
        let mut out = String::new();
        encode_echo(&mut out, req.raw());
        let resolved = match Vocabulary::builtin().resolve(req.text()) {
            Ok(r) => r,
            Err(e) => {
                self.pause(ctx).await;
                encode_error(&mut out, &err(e.kind(), None, e.to_string()));
                out.push_str("t\n");
                return out;
            }
        };
        *self
            .stats
            .lock()
            .expect("stats")
            .entry(
                format!(
                    "{} {} {}",
                    resolved.verb,
                    resolved.object_type(),
                    resolved.qualifier()
                )
                .trim_end()
                .to_string(),
            )
            .or_default() += 1;
        if let Err(e) = self.run(ctx, req, &resolved, &mut out).await {
            encode_error(&mut out, &e);
        }
        out.push_str("t\n");
        out
    }

    async fn run(
        &self,
        ctx: &SessionCtx,
        req: &Request,
        cmd: &Resolved,
        out: &mut String,
    ) -> Outcome {
        let fi = self.model.form_index(&cmd.object_type());
        let writes = matches!(cmd.verb.as_str(), "change" | "add" | "remove" | "duplicate");
        match (writes, fi, self.precheck(ctx, req, cmd)) {
            // A write holds its object's lock while it takes its time.
            (true, Some(fi), Ok(restricted)) => self.write(ctx, fi, req, cmd, restricted).await,
            (_, fi, pre) => {
                self.pause(ctx).await;
                pre?;
                self.read(fi, req, cmd, out)
            }
        }
    }

    /// Checks that hold for every command; returns whether the login is a
    /// restricted tti/psa login.
    fn precheck(&self, ctx: &SessionCtx, req: &Request, cmd: &Resolved) -> Result<bool, OssiError> {
        let reads = matches!(cmd.verb.as_str(), "list" | "display");
        if req.values().len() > req.fields().len()
            || (!req.values().is_empty() && req.values().len() != req.fields().len() && !reads)
        {
            return Err(err(
                ErrorKind::Malformed,
                None,
                format!(
                    "{} values for {} fields",
                    req.values().len(),
                    req.fields().len()
                ),
            ));
        }
        let restricted = ctx.login.starts_with("tti-") || ctx.login.starts_with("psa-");
        if restricted
            && !(cmd.object_type() == "station"
                && matches!(cmd.verb.as_str(), "change" | "display"))
        {
            return Err(err(
                ErrorKind::NotPermitted,
                None,
                format!("{} may only display and change stations", ctx.login),
            ));
        }
        Ok(restricted)
    }

    /// Every command that does not change a form.
    fn read(&self, fi: Option<usize>, req: &Request, cmd: &Resolved, out: &mut String) -> Outcome {
        let unavailable = || {
            err(
                ErrorKind::Other,
                None,
                format!(
                    "'{} {}' is not available on this system",
                    cmd.verb,
                    cmd.object.join(" ")
                ),
            )
        };
        match (cmd.verb.as_str(), cmd.object_type().as_str(), fi) {
            ("list", "history", _) => self.list_history(req, out),
            ("display", "time", _) => self.display_time(req, out),
            ("save", "translation", _) => self.save(),
            ("list", _, Some(fi)) if self.model.forms[fi].is_keyed() => {
                self.list(fi, req, cmd, out)
            }
            ("display", _, Some(fi)) => self.display(fi, req, cmd, out),
            _ => Err(unavailable()),
        }
    }

    fn selected(&self, req: &Request, allowed: &[FieldId]) -> Result<Vec<FieldId>, OssiError> {
        if req.fields().is_empty() {
            return Ok(allowed.to_vec());
        }
        for f in req.fields() {
            if !allowed.contains(f) {
                return Err(err(
                    ErrorKind::BadFieldId,
                    Some(*f),
                    ErrorKind::BadFieldId.text(),
                ));
            }
        }
        Ok(req.fields().to_vec())
    }

    fn list_history(&self, req: &Request, out: &mut String) -> Outcome {
        let fids = self.selected(req, &hist::ALL)?;
        let h = self.history.lock().expect("history");
        if h.is_empty() {
            return Err(err(ErrorKind::NoRecords, None, ErrorKind::NoRecords.text()));
        }
        encode_fields(out, &fids);
        for (i, e) in h.iter().rev().enumerate() {
            let date = format!("{:02}/{:02}", e.at.month(), e.at.day());
            let time = format!("{:02}:{:02}", e.at.hour(), e.at.minute());
            let values = fids.iter().map(|f| match *f {
                hist::DATE => date.as_str(),
                hist::TIME => time.as_str(),
                hist::PORT => e.port.as_str(),
                hist::LOGIN => e.login.as_str(),
                hist::ACTION => e.action.as_str(),
                hist::OBJECT => e.object.as_str(),
                _ => e.qualifier.as_str(),
            });
            encode_record(out, i > 0, values);
        }
        Ok(())
    }

    fn display_time(&self, req: &Request, out: &mut String) -> Outcome {
        let fids = self.selected(req, &time::ALL)?;
        let now = self.now();
        let v = |f: FieldId| -> String {
            match f {
                time::YEAR => now.year().to_string(),
                time::MONTH => now.month().to_string(),
                time::DAY => now.day().to_string(),
                time::HOUR => now.hour().to_string(),
                time::MINUTE => now.minute().to_string(),
                time::SECOND => now.second().to_string(),
                _ => now.weekday().to_string(),
            }
        };
        let values: Vec<String> = fids.iter().map(|f| v(*f)).collect();
        encode_fields(out, &fids);
        encode_record(out, false, values.iter().map(String::as_str));
        Ok(())
    }

    fn save(&self) -> Outcome {
        if let Some(path) = &self.behaviour.state_file {
            let data = self.data.read().expect("data").clone();
            data.save(&self.model, path)
                .map_err(|e| err(ErrorKind::Other, None, format!("save failed: {e:#}")))?;
        }
        Ok(())
    }

    fn list(&self, fi: usize, req: &Request, cmd: &Resolved, out: &mut String) -> Outcome {
        let form = &self.model.forms[fi];
        let fids = self.selected(req, &form.list)?;
        let idx: Vec<usize> = fids
            .iter()
            .map(|f| form.field_index(*f).expect("list fields are form fields"))
            .collect();
        let (start, count) = list_options(&cmd.qualifiers)?;
        let data = self.data.read().expect("data");
        let map = data.keyed(fi).expect("keyed form");
        let mut n = 0;
        let range = map.range(start.map(Key::new).unwrap_or_else(|| Key::new(""))..);
        for (_, values) in range.take(count.unwrap_or(usize::MAX)) {
            if n == 0 {
                encode_fields(out, &fids);
            }
            encode_record(out, n > 0, idx.iter().map(|i| &*values[*i]));
            n += 1;
        }
        if n == 0 {
            return Err(err(ErrorKind::NoRecords, None, ErrorKind::NoRecords.text()));
        }
        Ok(())
    }

    fn display(&self, fi: usize, req: &Request, cmd: &Resolved, out: &mut String) -> Outcome {
        let form = &self.model.forms[fi];
        let all: Vec<FieldId> = form.fids().collect();
        let fids = self.selected(req, &all)?;
        let data = self.data.read().expect("data");
        let values = match &data.forms[fi] {
            FormData::Single(v) => v,
            FormData::Keyed(m) => {
                let key = key_of(form, cmd)?;
                m.get(&Key::new(&key)).ok_or_else(|| not_assigned(form))?
            }
        };
        encode_fields(out, &fids);
        encode_record(
            out,
            false,
            fids.iter()
                .map(|f| &*values[form.field_index(*f).expect("checked")]),
        );
        Ok(())
    }

    async fn write(
        &self,
        ctx: &SessionCtx,
        fi: usize,
        req: &Request,
        cmd: &Resolved,
        restricted: bool,
    ) -> Outcome {
        let form = &self.model.forms[fi];
        let mut key = match form.key {
            Some(_) => key_of(form, cmd)?,
            None => String::new(),
        };
        if cmd.verb == "add" && key == "next" {
            key = self.next_key(fi);
        }
        // The object is locked while the command runs, as on a CM; another
        // session changing it meanwhile is told so.
        let lk = (fi, Box::<str>::from(key.as_str()));
        let acquired = {
            let mut locks = self.locks.lock().expect("locks");
            match locks.get(&lk) {
                Some(owner) if *owner != ctx.id => false,
                _ => {
                    locks.insert(lk.clone(), ctx.id);
                    true
                }
            }
        };
        if !acquired {
            self.pause(ctx).await;
            return Err(err(
                ErrorKind::DataLocked,
                None,
                format!(
                    "{} {} has data locked by another session; please try later",
                    cmd.object.join(" "),
                    key
                ),
            ));
        }
        let _guard = LockGuard { cm: self, key: lk };
        self.pause(ctx).await;
        let moved = {
            let mut data = self.data.write().expect("data");
            match cmd.verb.as_str() {
                "change" => self.change(&mut data, fi, &key, req)?,
                "add" => {
                    self.add(&mut data, fi, &key, req)?;
                    None
                }
                "remove" => {
                    self.remove(&mut data, fi, &key)?;
                    None
                }
                _ => {
                    self.duplicate(&mut data, fi, &key, &cmd.qualifiers)?;
                    None
                }
            }
        };
        let mut typed = req.text().split_whitespace();
        let action = typed.next().unwrap_or_default().to_string();
        let object = typed.next().unwrap_or_default().to_string();
        let mut qualifier = typed.collect::<Vec<_>>().join(" ");
        if cmd.verb == "add" && qualifier.starts_with("next") {
            qualifier = key.clone();
        }
        let at = if restricted {
            // Terminal moves by the tti/psa logins are logged only when the
            // features form says so, as two rows: moved-from and moved-to port.
            match moved.filter(|_| self.tti_logging()) {
                Some((from, to)) => {
                    self.log(ctx, &action, &object, &format!("{key} {from}"));
                    self.log(ctx, &action, &object, &format!("{key} {to}"))
                }
                None => self.now(),
            }
        } else {
            self.log(ctx, &action, &object, &qualifier)
        };
        // Committed: the event goes out (a phone's change by tti/psa too,
        // logged or not), naming the object as resolved.
        if let Some(n) = self.notify.get() {
            let qualifier = if restricted || (cmd.verb == "add" && key != req_key(cmd)) {
                key.clone()
            } else {
                cmd.qualifiers.join(" ")
            };
            n.change(&ctx.login, &cmd.verb, &cmd.object.join(" "), &qualifier, at);
        }
        Ok(())
    }

    /// Whether "CTA/PSA/TTI Transactions in History Log" is on.
    fn tti_logging(&self) -> bool {
        let Some(fi) = self.model.form_index("system-parameters-features") else {
            return false;
        };
        let form = &self.model.forms[fi];
        let Some(i) = form
            .fields
            .iter()
            .position(|f| f.name.contains("CTA/PSA/TTI"))
        else {
            return false;
        };
        let data = self.data.read().expect("data");
        matches!(&data.forms[fi], FormData::Single(v) if &*v[i] == "y")
    }

    fn next_key(&self, fi: usize) -> String {
        let form = &self.model.forms[fi];
        let spec = form.key.as_ref().expect("keyed");
        let data = self.data.read().expect("data");
        let map = data.keyed(fi).expect("keyed");
        (0..)
            .map(|i| key_at(spec.kind, spec.start, i))
            .find(|k| !map.contains_key(&Key::new(k)))
            .expect("a free key")
    }

    /// Applies f/d pairs to `values`; all or nothing.
    fn apply(&self, data: &Translations, fi: usize, values: &mut Values, req: &Request) -> Outcome {
        let form = &self.model.forms[fi];
        for (fid, raw) in req.fields().iter().zip(req.values()) {
            let i = form.field_index(*fid).ok_or_else(|| {
                err(
                    ErrorKind::BadFieldId,
                    Some(*fid),
                    ErrorKind::BadFieldId.text(),
                )
            })?;
            let field = &form.fields[i];
            if matches!(field.kind, FieldKind::Key) {
                if raw.trim() == &*values[i] {
                    continue;
                }
                return Err(err(
                    ErrorKind::BadValue,
                    Some(*fid),
                    format!("{} cannot be changed", field.name),
                ));
            }
            // A single space clears the field.
            let text = if raw == " " { "" } else { raw.as_str() };
            let target = form.refs.iter().find(|(f, _)| *f == i).map(|(_, t)| *t);
            check_value(field, text, |k| target.is_some_and(|t| data.exists(t, k)))
                .map_err(|m| err(ErrorKind::BadValue, Some(*fid), m))?;
            values[i] = text.into();
        }
        Ok(())
    }

    fn change(
        &self,
        data: &mut Translations,
        fi: usize,
        key: &str,
        req: &Request,
    ) -> Result<Option<(String, String)>, OssiError> {
        let form = &self.model.forms[fi];
        let mut values = match &data.forms[fi] {
            FormData::Single(v) => v.clone(),
            FormData::Keyed(m) => m
                .get(&Key::new(key))
                .ok_or_else(|| not_assigned(form))?
                .clone(),
        };
        let port = form
            .fields
            .iter()
            .position(|f| matches!(f.kind, FieldKind::Port));
        let before = port.map(|p| values[p].to_string());
        self.apply(data, fi, &mut values, req)?;
        let moved = match (port, before) {
            (Some(p), Some(b)) if *values[p] != *b => Some((b, values[p].to_string())),
            _ => None,
        };
        match &mut data.forms[fi] {
            FormData::Single(v) => *v = values,
            FormData::Keyed(m) => {
                m.insert(Key::new(key), values);
            }
        }
        Ok(moved)
    }

    fn add(&self, data: &mut Translations, fi: usize, key: &str, req: &Request) -> Outcome {
        let form = &self.model.forms[fi];
        let spec = form.key.as_ref().expect("keyed");
        let key_fid = spec.field;
        if !check_key(spec.kind, key)
            || spec
                .max
                .is_some_and(|m| key.parse::<u64>().is_ok_and(|k| k > m))
        {
            return Err(err(
                ErrorKind::BadValue,
                Some(key_fid),
                format!("'{key}' is not a valid identifier"),
            ));
        }
        if data.exists(fi, key) {
            return Err(err(
                ErrorKind::AlreadyAssigned,
                Some(key_fid),
                ErrorKind::AlreadyAssigned.text(),
            ));
        }
        let mut values: Values = form
            .fields
            .iter()
            .map(|f| default_value(&f.kind, key).into())
            .collect();
        self.apply(data, fi, &mut values, req)?;
        data.keyed_mut(fi)
            .expect("keyed")
            .insert(Key::new(key), values);
        Ok(())
    }

    fn remove(&self, data: &mut Translations, fi: usize, key: &str) -> Outcome {
        let form = &self.model.forms[fi];
        if !data.exists(fi, key) {
            return Err(not_assigned(form));
        }
        for (rf, field) in self.rev_refs.get(&fi).into_iter().flatten() {
            if let Some(m) = data.keyed(*rf) {
                if let Some((k, _)) = m
                    .iter()
                    .find(|(k, v)| &*v[*field] == key && !(*rf == fi && k.as_str() == key))
                {
                    let by = &self.model.forms[*rf];
                    return Err(err(
                        ErrorKind::InUse,
                        None,
                        format!(
                            "{} {key} is in use by {} {}",
                            form.words.join(" "),
                            by.words.join(" "),
                            k.as_str()
                        ),
                    ));
                }
            }
        }
        data.keyed_mut(fi).expect("keyed").remove(&Key::new(key));
        Ok(())
    }

    fn duplicate(&self, data: &mut Translations, fi: usize, key: &str, q: &[String]) -> Outcome {
        let form = &self.model.forms[fi];
        let spec = form.key.as_ref().expect("keyed");
        let mut start = None;
        let mut count = 1u64;
        let mut it = q.iter().skip(1);
        while let Some(w) = it.next() {
            let v = it.next().and_then(|v| v.parse::<u64>().ok());
            if "start".starts_with(w.as_str()) && !w.is_empty() {
                start = v;
            } else if "count".starts_with(w.as_str()) && !w.is_empty() {
                count = v
                    .filter(|c| (1..=100).contains(c))
                    .ok_or_else(|| err(ErrorKind::BadValue, None, "count must be 1 to 100"))?;
            } else {
                return Err(err(
                    ErrorKind::Malformed,
                    None,
                    format!("unexpected '{w}': use duplicate <object> <id> start <id> count <n>"),
                ));
            }
        }
        let start =
            start.ok_or_else(|| err(ErrorKind::Malformed, None, "duplicate needs start <id>"))?;
        if spec.kind == KeyKind::Location {
            return Err(err(ErrorKind::Other, None, "boards cannot be duplicated"));
        }
        let source = data
            .keyed(fi)
            .expect("keyed")
            .get(&Key::new(key))
            .ok_or_else(|| not_assigned(form))?
            .clone();
        let ki = form.key_index.expect("keyed");
        let mut new = Vec::new();
        for n in 0..count {
            let k = (start + n).to_string();
            if !check_key(spec.kind, &k) || spec.max.is_some_and(|m| start + n > m) {
                return Err(err(
                    ErrorKind::BadValue,
                    Some(spec.field),
                    format!("'{k}' is not a valid identifier"),
                ));
            }
            if data.exists(fi, &k) {
                return Err(err(
                    ErrorKind::AlreadyAssigned,
                    Some(spec.field),
                    format!("{k}: {}", ErrorKind::AlreadyAssigned.text()),
                ));
            }
            let mut v = source.clone();
            v[ki] = k.as_str().into();
            for (i, f) in form.fields.iter().enumerate() {
                if matches!(f.kind, FieldKind::Port) {
                    v[i] = "X".into();
                } else if f.secret {
                    v[i] = "".into();
                }
            }
            new.push((Key::new(&k), v));
        }
        data.keyed_mut(fi).expect("keyed").extend(new);
        Ok(())
    }
}

/// The first qualifier of a command as typed (`next` for `add station next`).
fn req_key(cmd: &Resolved) -> String {
    cmd.qualifiers.first().cloned().unwrap_or_default()
}

fn not_assigned(form: &Form) -> OssiError {
    err(
        ErrorKind::NotAssigned,
        form.key.as_ref().map(|k| k.field),
        ErrorKind::NotAssigned.text(),
    )
}

fn key_of(form: &Form, cmd: &Resolved) -> Result<String, OssiError> {
    cmd.qualifiers.first().cloned().ok_or_else(|| {
        err(
            ErrorKind::Malformed,
            form.key.as_ref().map(|k| k.field),
            format!("{} needs an identifier", cmd.object.join(" ")),
        )
    })
}

fn list_options(q: &[String]) -> Result<(Option<&str>, Option<usize>), OssiError> {
    let mut start = None;
    let mut count = None;
    let mut i = 0;
    while i < q.len() {
        if q[i] == "count" {
            count = Some(
                q.get(i + 1)
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| err(ErrorKind::BadValue, None, "count needs a number"))?,
            );
            i += 2;
        } else if start.is_none() {
            start = Some(q[i].as_str());
            i += 1;
        } else {
            return Err(err(
                ErrorKind::Malformed,
                None,
                format!("unexpected '{}'", q[i]),
            ));
        }
    }
    Ok((start, count))
}

fn default_value(kind: &FieldKind, key: &str) -> String {
    match kind {
        FieldKind::Key => key.to_string(),
        FieldKind::Enum { values, .. } => values[0].clone(),
        FieldKind::Yn { default } => default.clone(),
        FieldKind::Int { min, default, .. } => default.unwrap_or(*min).to_string(),
        FieldKind::Port => "X".to_string(),
        FieldKind::Text { .. } | FieldKind::Digits { .. } | FieldKind::Ref { .. } => String::new(),
    }
}
