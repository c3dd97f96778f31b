//! The REST API in-process on a loopback port, on a fresh SQLite database
//! and a real runner (the test kit's [`App`]); the CM or IP Office emulator
//! where a test needs an element that answers.

mod alarms;
mod auth;
mod browser;
mod console;
mod console_admin;
mod console_data;
mod console_elements;
mod console_jobs;
mod console_schedules;
mod console_sync;
mod elements;
mod identity;
mod import;
mod jobs;
mod keys;
mod objects;
mod plans;
mod schedules;
mod service;
mod users;
mod walk;

use serde_json::{Value, json};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_testkit::emulators::{self, cm_settings};

pub use ucsync_testkit::app::{Answer, App, answer, cm_body};
pub use ucsync_testkit::emulators::{OUTSIDE, OWN};

pub async fn emulator() -> CmEmulator {
    emulator_with(|_| {}).await
}

pub async fn emulator_with(change: impl FnOnce(&mut CmSettings)) -> CmEmulator {
    let mut settings = cm_settings();
    change(&mut settings);
    emulators::cm(settings).await
}

/// `base` with the fields of `changes` set, or removed where null.
pub fn changed(mut base: Value, changes: Value) -> Value {
    for (k, x) in changes.as_object().expect("changes are an object") {
        if x.is_null() {
            base.as_object_mut().expect("an object").remove(k);
        } else {
            base[k] = x.clone();
        }
    }
    base
}

/// Replaces what changes from run to run (times, ports, ids) for snapshots.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if x.is_null() {
                        x.clone()
                    } else if k.ends_with("_at") || k == "at" || k == "port" || k == "secret" {
                        json!(format!("[{k}]"))
                    } else {
                        redact(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        _ => v.clone(),
    }
}
